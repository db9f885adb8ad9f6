//! [`WriteHold`]: asks a store's background writer to wait, a little, before it starts its
//! next round, so that writes about to be submitted together are written and fsynced together.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The holds on one writer (see [`Holds::wait_released`]).
#[derive(Debug, Default)]
pub struct Holds {
    count: Mutex<usize>,
    released: Condvar,
}

impl Holds {
    fn count(&self) -> MutexGuard<'_, usize> {
        self.count.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A hold, released when dropped.
    pub fn hold(self: &Arc<Self>) -> WriteHold {
        *self.count() += 1;
        WriteHold {
            holds: self.clone(),
            on_release: None,
        }
    }

    /// Wait until no hold is left, or `at_most` has passed (a hold only ever delays a round,
    /// it can never stop one).
    pub fn wait_released(&self, at_most: Duration) {
        let deadline = Instant::now() + at_most;
        let mut count = self.count();
        while *count > 0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            count = match self.released.wait_timeout(count, left) {
                Ok((c, _)) => c,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

/// Run when a hold is released, before the round may start.
type OnRelease = Box<dyn FnOnce() + Send>;

/// A hold on a writer's next round; dropping it lets the round start.
pub struct WriteHold {
    holds: Arc<Holds>,
    on_release: Option<OnRelease>,
}

impl WriteHold {
    /// Also run `f` when released (before the round may start).
    pub fn on_release(mut self, f: impl FnOnce() + Send + 'static) -> Self {
        self.on_release = Some(Box::new(f));
        self
    }
}

impl std::fmt::Debug for WriteHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHold").finish_non_exhaustive()
    }
}

impl Drop for WriteHold {
    fn drop(&mut self) {
        if let Some(f) = self.on_release.take() {
            f();
        }
        let mut count = self.holds.count();
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.holds.released.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_ends_when_the_last_hold_goes_or_at_the_limit() {
        let holds = Arc::new(Holds::default());
        holds.wait_released(Duration::from_secs(5)); // none held: at once
        let (a, b) = (holds.hold(), holds.hold());
        let t = Instant::now();
        holds.wait_released(Duration::from_millis(20));
        assert!(
            t.elapsed() >= Duration::from_millis(20),
            "held: waits out the limit"
        );
        drop(a);
        let waiter = {
            let holds = holds.clone();
            std::thread::spawn(move || holds.wait_released(Duration::from_secs(30)))
        };
        std::thread::sleep(Duration::from_millis(10));
        drop(b);
        waiter.join().unwrap(); // ends with the last hold, long before 30 s
        assert_eq!(*holds.count(), 0);
    }
}
