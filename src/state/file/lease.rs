//! [`FileLeases`]: leases as exclusive `flock`s on `<dir>/<name>.lease` (std's `File::try_lock`,
//! `flock(2)` on Linux). The OS releases a lease when its holder's process dies, so a standby
//! takes over at its next try; the TTL is not needed and ignored. The lease file holds the
//! holder's id (for `stats()`), never a secret. One resender per state dir uses the name
//! [`RESENDER_LEASE`].

use super::durable::{ensure_dir, FILE_MODE};
use crate::error::{EngineError, EngineResult};
use crate::state::lease::LeaseStore;
pub use crate::state::lease::RESENDER_LEASE;
use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// File-lock leases in one directory.
#[derive(Debug)]
pub struct FileLeases {
    dir: PathBuf,
    /// Leases this process holds: name → (holder, open locked file).
    held: Mutex<HashMap<String, (String, File)>>,
}

impl FileLeases {
    /// Leases under `dir` (created 0700 if missing).
    pub fn new(dir: &Path) -> EngineResult<Self> {
        ensure_dir(dir).map_err(|e| EngineError::io(dir.display().to_string(), e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            held: Mutex::new(HashMap::new()),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.lease"))
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, File)>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Who holds `name` (as written by its holder), if anyone does.
    pub fn holder(&self, name: &str) -> EngineResult<Option<String>> {
        if let Some((holder, _)) = self.held().get(name) {
            return Ok(Some(holder.clone()));
        }
        let path = self.path(name);
        let io = |e| EngineError::io(path.display().to_string(), e);
        let mut file = match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        match file.try_lock() {
            // Nobody holds it (we just took it to look): give it back at once.
            Ok(()) => {
                let _ = file.unlock();
                Ok(None)
            }
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                file.read_to_string(&mut text).map_err(io)?;
                Ok(Some(text.trim().chars().take(200).collect()))
            }
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

impl LeaseStore for FileLeases {
    fn try_acquire(
        &self,
        name: &str,
        holder: &str,
        _now_ms: i64,
        _ttl_ms: i64,
    ) -> EngineResult<bool> {
        let mut held = self.held();
        if let Some((who, _)) = held.get(name) {
            return Ok(who == holder);
        }
        let path = self.path(name);
        let io = |e| EngineError::io(path.display().to_string(), e);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(false),
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(holder.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
        held.insert(name.to_string(), (holder.to_string(), file));
        Ok(true)
    }

    fn release(&self, name: &str, holder: &str) -> EngineResult<()> {
        let mut held = self.held();
        if held.get(name).is_some_and(|(who, _)| who == holder) {
            if let Some((_, file)) = held.remove(name) {
                let _ = file.unlock();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_per_directory_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let a = FileLeases::new(dir.path()).unwrap();
        let b = FileLeases::new(dir.path()).unwrap();
        assert!(a.try_acquire(RESENDER_LEASE, "engine-a", 0, 0).unwrap());
        assert!(
            a.try_acquire(RESENDER_LEASE, "engine-a", 0, 0).unwrap(),
            "renew"
        );
        assert!(!b.try_acquire(RESENDER_LEASE, "engine-b", 0, 0).unwrap());
        assert_eq!(
            b.holder(RESENDER_LEASE).unwrap().as_deref(),
            Some("engine-a")
        );
        a.release(RESENDER_LEASE, "engine-a").unwrap();
        assert_eq!(b.holder(RESENDER_LEASE).unwrap(), None);
        assert!(b.try_acquire(RESENDER_LEASE, "engine-b", 0, 0).unwrap());
        assert_eq!(
            a.holder(RESENDER_LEASE).unwrap().as_deref(),
            Some("engine-b")
        );
        drop(b); // the open file closes: the OS drops the lock, as when a process dies
        assert!(a.try_acquire(RESENDER_LEASE, "engine-a", 0, 0).unwrap());
    }

    #[test]
    fn a_lease_file_behind_a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, b"").unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("resender.lease")).unwrap();
        let a = FileLeases::new(dir.path()).unwrap();
        assert_eq!(
            a.try_acquire(RESENDER_LEASE, "x", 0, 0).unwrap_err().code(),
            "E_IO"
        );
    }

    #[test]
    fn a_second_handle_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = FileLeases::new(dir.path()).unwrap();
        assert!(a.try_acquire("probe", "h1", 0, 10).unwrap());
        assert!(!FileLeases::new(dir.path())
            .unwrap()
            .try_acquire("probe", "h2", 0, 10)
            .unwrap());
    }
}
