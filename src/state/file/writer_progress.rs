//! [`WriterProgress`]: how far a queue writer thread got. Writes are numbered from 1 in the
//! order they are queued; after each round the writer reports up to which write everything is
//! answered ([`WriterProgress::done`]), and a read waits for the writes queued before it
//! ([`WriterProgress::wait_for`]), so it never overtakes one and never sees one that is not
//! durable yet. (Each write learns its own outcome from its answer, not from here.)

use std::sync::{Condvar, Mutex, MutexGuard};

/// Writes answered so far (default: none).
#[derive(Debug, Default)]
pub(crate) struct WriterProgress {
    answered: Mutex<u64>,
    moved: Condvar,
}

impl WriterProgress {
    fn answered(&self) -> MutexGuard<'_, u64> {
        self.answered.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Block until write number `n` has been answered (at once for 0).
    pub(crate) fn wait_for(&self, n: u64) {
        let mut answered = self.answered();
        while *answered < n {
            answered = self.moved.wait(answered).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Every write up to number `n` has been answered.
    pub(crate) fn done(&self, n: u64) {
        let mut answered = self.answered();
        if n > *answered {
            *answered = n;
            self.moved.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_wait_returns_once_its_write_is_answered() {
        let p = Arc::new(WriterProgress::default());
        p.wait_for(0);
        let p2 = p.clone();
        let waiter = std::thread::spawn(move || p2.wait_for(2));
        p.done(1);
        p.done(2);
        waiter.join().unwrap();
        p.done(1);
        p.wait_for(2);
    }
}
