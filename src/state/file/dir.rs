//! Checking and tidying the state directory at `start()`, before any store opens it.
//!
//! - Missing: created with mode 0700 (parents too).
//! - Owned by another user, or writable by group or others: refused with `E_IO` saying how to
//!   fix it (someone else could have replaced files in it). Otherwise tightened to 0700.
//! - State files (see [`is_state_file`]): a symbolic link or a non-regular file is refused; a
//!   file owned by another user is refused; any other mode is tightened to 0600.
//! - Temp files of atomic writes (`.<name>.tmp-<pid>`) left by a process that is gone (killed
//!   during a compaction) are removed.

use super::durable::{DIR_MODE, FILE_MODE};
use crate::error::{EngineError, EngineResult};
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The state files' base names; their `*.corrupt-*` copies are state files too.
const STATE_FILES: [&str; 9] = [
    "queue.json",
    "queue.journal",
    "queue.lock",
    "queue.imported",
    "decisions.json",
    "decisions.journal",
    "decisions.lock",
    "profiles.json",
    "profiles.lock",
];

/// What [`prepare`] tidied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DirReport {
    /// State files whose mode was tightened to 0600.
    pub tightened: usize,
    /// Temp files of dead processes removed.
    pub removed_temp_files: usize,
}

/// Whether `name` is one of the engine's state files (or a kept-aside copy of one).
pub fn is_state_file(name: &str) -> bool {
    STATE_FILES.iter().any(|f| {
        name == *f
            || name
                .strip_prefix(f)
                .is_some_and(|r| r.starts_with(".corrupt-"))
    })
}

fn refuse(path: &Path, why: String) -> EngineError {
    EngineError::io(path, io::Error::new(io::ErrorKind::PermissionDenied, why))
}

/// Check, create or tighten `dir` and its state files (see the module docs).
pub fn prepare(dir: &Path) -> EngineResult<DirReport> {
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
            .map_err(|e| EngineError::io(dir, e))?;
    }
    let meta = fs::metadata(dir).map_err(|e| EngineError::io(dir, e))?;
    if !meta.is_dir() {
        return Err(refuse(dir, "is not a directory".into()));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(refuse(
            dir,
            format!(
                "the state directory belongs to uid {}, not to this user (uid {me}); use a \
                 directory of your own (stateDir) or `chown` it",
                meta.uid()
            ),
        ));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(refuse(
            dir,
            format!(
                "the state directory is writable by other users (mode {mode:o}); run \
                 `chmod 700 {}` after checking its files, or use another stateDir",
                dir.display()
            ),
        ));
    }
    if mode & 0o777 != DIR_MODE {
        fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
            .map_err(|e| EngineError::io(dir, e))?;
    }
    let mut report = DirReport::default();
    for item in fs::read_dir(dir).map_err(|e| EngineError::io(dir, e))? {
        let item = item.map_err(|e| EngineError::io(dir, e))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let path = item.path();
        if let Some(pid) = temp_file_pid(&name) {
            if pid != std::process::id() && !process_alive(pid) {
                match fs::remove_file(&path) {
                    Ok(()) => report.removed_temp_files += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(EngineError::io(&path, e)),
                }
            }
            continue;
        }
        if !is_state_file(&name) {
            continue;
        }
        let meta = fs::symlink_metadata(&path).map_err(|e| EngineError::io(&path, e))?;
        if meta.file_type().is_symlink() {
            return Err(refuse(
                &path,
                "is a symbolic link; state files must be regular files inside the state \
                 directory (remove the link)"
                    .into(),
            ));
        }
        if !meta.is_file() {
            return Err(refuse(
                &path,
                "is not a regular file; move it out of the state directory".into(),
            ));
        }
        if meta.uid() != me {
            return Err(refuse(
                &path,
                format!(
                    "belongs to uid {}, not to this user (uid {me}); `chown` or remove it",
                    meta.uid()
                ),
            ));
        }
        if meta.permissions().mode() & 0o7777 != FILE_MODE {
            fs::set_permissions(&path, fs::Permissions::from_mode(FILE_MODE))
                .map_err(|e| EngineError::io(&path, e))?;
            report.tightened += 1;
        }
    }
    Ok(report)
}

/// The pid in a temp file name `.<state file>.tmp-<pid>`.
fn temp_file_pid(name: &str) -> Option<u32> {
    let (base, pid) = name.strip_prefix('.')?.rsplit_once(".tmp-")?;
    if !is_state_file(base) {
        return None;
    }
    pid.parse().ok()
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks whether the process exists; nothing is sent.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn creates_0700_tightens_files_and_removes_dead_temp_files_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        assert_eq!(prepare(&dir).unwrap(), DirReport::default());
        assert_eq!(mode(&dir), 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        for f in [
            "queue.json",
            "profiles.json",
            "queue.json.corrupt-5",
            "notes.txt",
        ] {
            fs::write(dir.join(f), b"x").unwrap();
            fs::set_permissions(dir.join(f), fs::Permissions::from_mode(0o644)).unwrap();
        }
        // a dead process (pid far beyond pid_max) and this process
        let dead = dir.join(".queue.json.tmp-999999999");
        let mine = dir.join(format!(".queue.json.tmp-{}", std::process::id()));
        let other = dir.join(".notes.txt.tmp-999999999");
        for p in [&dead, &mine, &other] {
            fs::write(p, b"partial").unwrap();
        }
        let r = prepare(&dir).unwrap();
        assert_eq!((r.tightened, r.removed_temp_files), (3, 1));
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("queue.json")), 0o600);
        assert_eq!(mode(&dir.join("notes.txt")), 0o644, "not ours: left alone");
        assert!(!dead.exists() && mine.exists() && other.exists());
    }

    #[test]
    fn refuses_links_other_writable_dirs_and_non_files() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("s");
        prepare(&dir).unwrap();
        let outside = root.path().join("outside");
        fs::write(&outside, b"").unwrap();
        symlink(&outside, dir.join("queue.journal")).unwrap();
        let e = prepare(&dir).unwrap_err();
        assert_eq!(e.code(), "E_IO");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        fs::remove_file(dir.join("queue.journal")).unwrap();
        symlink(root.path().join("nowhere"), dir.join("queue.lock")).unwrap();
        assert!(prepare(&dir)
            .unwrap_err()
            .to_string()
            .contains("symbolic link"));
        assert!(
            !root.path().join("nowhere").exists(),
            "a dangling link creates nothing"
        );
        fs::remove_file(dir.join("queue.lock")).unwrap();
        fs::create_dir(dir.join("profiles.json")).unwrap();
        assert!(prepare(&dir)
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
        fs::remove_dir(dir.join("profiles.json")).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare(&dir).unwrap_err();
        assert!(e.to_string().contains("chmod 700"), "{e}");
        assert_eq!(mode(&dir), 0o777, "refused, not silently changed");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        prepare(&dir).unwrap();
    }

    #[test]
    fn names() {
        assert!(is_state_file("decisions.journal.corrupt-17-1"));
        assert!(!is_state_file("queue.jsonx"));
        assert_eq!(temp_file_pid(".profiles.json.tmp-42"), Some(42));
        assert_eq!(temp_file_pid(".other.tmp-42"), None);
    }
}
