//! A real `redis-server` for tests: started on a unix socket in a temp dir (no TCP port, no
//! persistence), killed when dropped. `REDIS_SERVER` names the binary (default `redis-server`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server` owned by a test.
pub(crate) struct TestRedis {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl TestRedis {
    /// Start one, or `None` (with a loud banner) when `redis-server` is not installed and
    /// `REDIS_TESTS_REQUIRED` is unset; CI sets it, so there a missing server fails the test.
    pub(crate) fn start() -> Option<TestRedis> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut r = TestRedis { dir, child: None };
        if !r.spawn() {
            assert!(
                std::env::var_os("REDIS_TESTS_REQUIRED").is_none(),
                "redis-server is required (REDIS_TESTS_REQUIRED is set) but could not start"
            );
            eprintln!(
                "\n!!!! SKIPPED: redis-server not installed (apt-get install redis-server) !!!!\n"
            );
            return None;
        }
        Some(r)
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// `redis+unix://…/redis.sock`.
    pub(crate) fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    fn spawn(&mut self) -> bool {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let _ = std::fs::remove_file(self.socket());
        let child = Command::new(bin)
            .args(["--port", "0", "--unixsocket"])
            .arg(self.socket())
            .args([
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else { return false };
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(self.socket()).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Kill the server (SIGKILL, as a crash or a partition would look).
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start it again on the same socket (empty: no persistence).
    pub(crate) fn restart(&mut self) {
        self.stop();
        assert!(self.spawn(), "redis-server did not restart");
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
