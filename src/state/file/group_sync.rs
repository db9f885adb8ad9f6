//! [`GroupSync`]: how far an append-only journal is durable. Appends are numbered from 1;
//! the one thread that fsyncs the journal reports each round ([`GroupSync::done`]: up to
//! which append it covered, and whether it failed, which fails every append it covered), and
//! readers that saw appends not yet durable wait for them ([`GroupSync::wait`]).

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

impl GroupSync {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bookkeeping for a journal whose appends up to `synced` are durable already.
    pub(crate) fn starting_at(synced: u64) -> Self {
        let sync = GroupSync::default();
        sync.state().synced = synced;
        sync
    }

    /// Register to wait for append `seq` (call while still holding the store's mutex, right
    /// after the read that saw it, so its outcome cannot be missed).
    pub(crate) fn expect(&self, seq: u64) -> Ticket {
        let mut s = self.state();
        if seq <= s.synced && s.outcome(seq).is_ok() {
            return Ticket(None);
        }
        *s.waiting.entry(seq).or_default() += 1;
        Ticket(Some(seq))
    }

    /// Block until the ticket's append is durable (or its fsync failed).
    pub(crate) fn wait(&self, ticket: Ticket) -> EngineResult<()> {
        let Some(seq) = ticket.0 else {
            return Ok(());
        };
        let mut s = self.state();
        while s.synced < seq {
            s = self.done.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        let r = s.outcome(seq);
        s.unregister(seq);
        r
    }

    /// An fsync round covered appends up to `covered`, with `outcome`.
    pub(crate) fn done(&self, covered: u64, outcome: &EngineResult<()>) {
        let mut s = self.state();
        if let Err(e) = outcome {
            let after = s.synced;
            s.failures.push((after, covered, e.copy()));
        }
        s.synced = s.synced.max(covered);
        let lowest = s.waiting.keys().next().copied().unwrap_or(u64::MAX);
        s.failures.retain(|(_, upto, _)| *upto >= lowest);
        self.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_ticket_already_synced_does_not_wait() {
        let g = GroupSync::default();
        assert!(g.wait(g.expect(0)).is_ok());
    }

    #[test]
    fn a_round_releases_every_waiter_it_covers() {
        let g = Arc::new(GroupSync::default());
        let t = g.expect(2);
        let g2 = g.clone();
        let waiter = std::thread::spawn(move || g2.wait(t));
        g.done(1, &Ok(()));
        g.done(2, &Ok(()));
        assert!(waiter.join().unwrap().is_ok());
        assert!(g.wait(g.expect(2)).is_ok());
    }

    #[test]
    fn a_failed_round_fails_every_append_it_covered_and_later_ones_succeed() {
        let g = GroupSync::default();
        let (a, b) = (g.expect(1), g.expect(2));
        g.done(
            2,
            &Err(EngineError::io("j", std::io::Error::other("disk gone"))),
        );
        assert!(g.wait(a).is_err());
        let c = g.expect(3);
        assert!(g.wait(b).is_err());
        g.done(3, &Ok(()));
        g.wait(c).unwrap();
        assert!(g.state().failures.is_empty(), "nobody left to tell");
    }
}
