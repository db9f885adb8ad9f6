//! Durable file primitives shared by every state file: atomic writes (temp file, fsync, rename,
//! fsync the directory) with 0600 permissions, a cross-process lock file, and moving a corrupt
//! file aside instead of discarding it.
//!
//! Every open uses `O_NOFOLLOW`: a state file that is a symbolic link is refused (`ELOOP`,
//! reported as `E_IO` naming the file), so no read or write ever leaves the state directory
//! through a link planted in it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Permission bits for every state file (owner read/write only).
pub const FILE_MODE: u32 = 0o600;
/// Permission bits for the state directory (owner only).
pub const DIR_MODE: u32 = 0o700;

/// Create `dir` (and parents) if missing; a directory we create gets mode 0700.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
}

/// fsync a directory so a rename or create inside it survives a crash.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Open (creating with 0600 if missing) a file for appending; never through a symlink.
pub fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| explain_link(path, e))
}

/// Open an existing file for reading; never through a symlink (`NotFound` when missing).
pub fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| explain_link(path, e))
}

/// Read a whole file; never through a symlink (`NotFound` when missing).
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = open_read(path)?;
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut f, &mut bytes)?;
    Ok(bytes)
}

/// `O_NOFOLLOW` on a symlink fails with `ELOOP`: say what it means and how to fix it.
fn explain_link(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; state files must be regular files inside the state \
                 directory (remove the link)",
                path.display()
            ),
        )
    } else {
        e
    }
}

/// Replace `path` with `bytes` atomically and durably: write a 0600 temp file beside it, fsync
/// it, rename it over `path`, fsync the directory. A crash leaves either the old or the new file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(|e| explain_link(&tmp, e))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fsync_dir(&dir)
}

/// Move a corrupt file aside to `<path>.corrupt-<epoch ms>` (never deletes it) and fsync the
/// directory. Returns the new path.
pub fn move_aside(path: &Path, now_ms: i64) -> io::Result<PathBuf> {
    let target = aside_name(path, now_ms);
    fs::rename(path, &target)?;
    fsync_dir(&parent_dir(path))?;
    Ok(target)
}

/// Keep a copy of a corrupt file at `<path>.corrupt-<epoch ms>` while leaving `path` in place:
/// a hard link (a 0600 byte copy where the file system has no hard links), then fsync the
/// directory. The caller then replaces `path` with [`write_atomic`], so a crash never leaves a
/// moment in which neither the old nor the repaired file exists. Returns the copy's path.
pub fn link_aside(path: &Path, now_ms: i64) -> io::Result<PathBuf> {
    let target = aside_name(path, now_ms);
    if fs::hard_link(path, &target).is_err() {
        let bytes = read_file(path)?;
        let mut f = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&target)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    fsync_dir(&parent_dir(path))?;
    Ok(target)
}

fn aside_name(path: &Path, now_ms: i64) -> PathBuf {
    let mut target = PathBuf::from(format!("{}.corrupt-{now_ms}", path.display()));
    let mut n = 1;
    while target.exists() {
        target = PathBuf::from(format!("{}.corrupt-{now_ms}-{n}", path.display()));
        n += 1;
    }
    target
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// An exclusive advisory lock on a lock file, shared by every process using the same state dir.
/// Released on drop. Blocking: call it from `spawn_blocking` in async code.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
}

impl LockGuard {
    /// Block until the exclusive lock on `path` (created 0600 if missing) is held.
    pub fn acquire(path: &Path) -> io::Result<LockGuard> {
        let file = Self::open(path)?;
        file.lock()?;
        Ok(LockGuard { file })
    }

    /// Take the lock on `path` only if no one holds it: `None` when it is taken.
    pub fn try_acquire(path: &Path) -> io::Result<Option<LockGuard>> {
        let file = Self::open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(LockGuard { file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    fn open(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| explain_link(path, e))
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn atomic_write_replaces_with_0600() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        let mut s = String::new();
        File::open(&p).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "two");
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // no temp files left behind
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn move_aside_keeps_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.json");
        fs::write(&p, b"{broken").unwrap();
        let moved = move_aside(&p, 123).unwrap();
        assert!(!p.exists());
        assert_eq!(fs::read(&moved).unwrap(), b"{broken");
        fs::write(&p, b"again").unwrap();
        let moved2 = move_aside(&p, 123).unwrap();
        assert_ne!(moved, moved2);
    }

    #[test]
    fn link_aside_keeps_a_copy_and_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.journal");
        fs::write(&p, b"{broken\n").unwrap();
        let kept = link_aside(&p, 7).unwrap();
        assert!(p.exists());
        write_atomic(&p, b"repaired").unwrap();
        assert_eq!(fs::read(&kept).unwrap(), b"{broken\n");
        assert_eq!(fs::read(&p).unwrap(), b"repaired");
        assert_ne!(link_aside(&p, 7).unwrap(), kept);
    }

    #[test]
    fn lock_excludes_other_holders() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let g = LockGuard::acquire(&p).unwrap();
        let other = OpenOptions::new().read(true).write(true).open(&p).unwrap();
        assert!(other.try_lock().is_err());
        drop(g);
        assert!(other.try_lock().is_ok());
    }
}
