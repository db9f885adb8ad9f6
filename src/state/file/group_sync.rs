//! [`GroupSync`]: group fsync of an append-only journal. Writers append under the store's
//! mutex and get a sequence number; the fsync runs *outside* that mutex, so calls arriving
//! while one is in flight prepare and append their changes meanwhile, and the next fsync makes
//! all of them durable at once. Whoever waits first when no fsync is running leads the next
//! one; every waiter returns only once an fsync that started after its own append has
//! finished (or failed, which fails every append it covered).

use crate::error::{EngineError, EngineResult};
use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};

/// A place in the journal's sequence of appends to wait for ([`GroupSync::wait`]); `None`
/// when everything was durable already.
#[derive(Debug)]
#[must_use = "wait for the ticket before acknowledging the write"]
pub(crate) struct Ticket(Option<u64>);

/// What one fsync round covered: appends up to `covered` (inclusive), and whether it failed.
pub(crate) type Round = (u64, EngineResult<()>);

#[derive(Debug, Default)]
struct State {
    /// Every append with a sequence number up to this one is durable (or failed).
    synced: u64,
    /// An fsync is running.
    syncing: bool,
    /// Failed rounds `(after, upto, error)`: appends in `after+1..=upto` were not made
    /// durable. Kept while someone registered in that range may still look.
    failures: Vec<(u64, u64, EngineError)>,
    /// Registered waiters by sequence number (how many wait for each).
    waiting: BTreeMap<u64, usize>,
}

impl State {
    fn outcome(&self, seq: u64) -> EngineResult<()> {
        match self.failures.iter().find(|(a, b, _)| *a < seq && seq <= *b) {
            Some((_, _, e)) => Err(e.copy()),
            None => Ok(()),
        }
    }

    fn unregister(&mut self, seq: u64) {
        if let Some(n) = self.waiting.get_mut(&seq) {
            *n -= 1;
            if *n == 0 {
                self.waiting.remove(&seq);
            }
        }
        let lowest = self.waiting.keys().next().copied().unwrap_or(u64::MAX);
        self.failures.retain(|(_, upto, _)| *upto >= lowest);
    }
}

/// Group fsync bookkeeping for one journal (see the module docs). Default: nothing written.
#[derive(Debug, Default)]
pub(crate) struct GroupSync {
    state: Mutex<State>,
    done: Condvar,
}

/// Clears `syncing` even if the fsync round panics, so waiters never hang.
struct Leading<'a>(&'a GroupSync);

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state();
        s.syncing = false;
        self.0.done.notify_all();
    }
}

impl GroupSync {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Register to wait for append `seq` (call while still holding the store's mutex, right
    /// after the append or the read that saw it, so its outcome cannot be missed).
    pub(crate) fn expect(&self, seq: u64) -> Ticket {
        let mut s = self.state();
        if seq <= s.synced && s.outcome(seq).is_ok() {
            return Ticket(None);
        }
        *s.waiting.entry(seq).or_default() += 1;
        Ticket(Some(seq))
    }

    /// Block until the ticket's append is durable. When no fsync is running, this caller
    /// runs `round` (fsync everything appended so far; say up to which sequence number it
    /// covered); otherwise it waits for the running one and checks again.
    pub(crate) fn wait(
        &self,
        ticket: Ticket,
        mut round: impl FnMut() -> Round,
    ) -> EngineResult<()> {
        let Some(seq) = ticket.0 else {
            return Ok(());
        };
        let mut s = self.state();
        loop {
            if s.synced >= seq {
                let r = s.outcome(seq);
                s.unregister(seq);
                return r;
            }
            if s.syncing {
                s = self.done.wait(s).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            s.syncing = true;
            drop(s);
            let lead = Leading(self);
            let (covered, r) = round();
            s = self.state();
            if let Err(e) = r {
                let after = s.synced;
                s.failures.push((after, covered, e));
            }
            s.synced = s.synced.max(covered);
            drop(s);
            drop(lead);
            s = self.state();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    #[test]
    fn a_ticket_already_synced_does_not_wait() {
        let g = GroupSync::default();
        let t = g.expect(0);
        assert!(g.wait(t, || panic!("no round needed")).is_ok());
    }

    #[test]
    fn one_round_covers_every_append_made_before_it() {
        let g = GroupSync::default();
        let (a, b) = (g.expect(1), g.expect(2));
        let rounds = AtomicU64::new(0);
        let round = || {
            rounds.fetch_add(1, Ordering::SeqCst);
            (2, Ok(()))
        };
        g.wait(a, round).unwrap();
        g.wait(b, || panic!("covered by the first round")).unwrap();
        assert_eq!(rounds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_failed_round_fails_every_append_it_covered_and_later_ones_succeed() {
        let g = GroupSync::default();
        let (a, b) = (g.expect(1), g.expect(2));
        let fail = || {
            (
                2,
                Err(EngineError::io("j", std::io::Error::other("disk gone"))),
            )
        };
        assert!(g.wait(a, fail).is_err());
        assert!(g.wait(b, || panic!("already failed")).is_err());
        let c = g.expect(3);
        g.wait(c, || (3, Ok(()))).unwrap();
        assert!(g.state().failures.is_empty(), "nobody left to tell");
    }

    #[test]
    fn concurrent_waiters_share_rounds() {
        let g = Arc::new(GroupSync::default());
        let appended = Arc::new(AtomicU64::new(0));
        let rounds = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (g, appended, rounds) = (g.clone(), appended.clone(), rounds.clone());
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        let seq = appended.fetch_add(1, Ordering::SeqCst) + 1;
                        let t = g.expect(seq);
                        g.wait(t, || {
                            rounds.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_micros(200));
                            (appended.load(Ordering::SeqCst), Ok(()))
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(rounds.load(Ordering::SeqCst) < 800);
    }
}
