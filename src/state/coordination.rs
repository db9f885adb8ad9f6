//! The coordination seam: what several engines sharing one provider account must agree on.
//!
//! - **Who probes a group.** [`Coordinator::claim_probe`] asks for the group's probe lease; only
//!   the engine that gets [`ProbeClaim::Mine`] sends the probe.
//! - **What the fleet learned about a group's window.** [`Coordinator::finish_probe`] records and
//!   publishes the outcome ([`GroupOutcome`]); every other engine hears it through the listener
//!   given to [`Coordinator::listen`] (and, should a message be lost, from its next claim) and
//!   releases or re-parks its own entries of the group.
//!
//! - **What the fleet decided per key.** Breaker and policy records (an open breaker, a cooled
//!   down or disabled key) are shared with [`Coordinator::share_decision`] and applied by every
//!   other engine ([`Coordinator::listen_decisions`]); a starting engine loads them
//!   ([`Coordinator::load_decisions`]).
//!
//! The parked queue itself never goes through this seam: each engine's entries stay in its own
//! durable local journal. Without a shared backend ([`Solo`], the default) every claim is
//! `Mine` and nothing is published, which is exactly the single-engine behaviour.

use super::{DecisionChange, DecisionState};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, sendable future (the coordinator's calls are async: the Redis backend does I/O).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What one engine's probe of a group found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupOutcome {
    /// The probe succeeded at `at_ms` (epoch ms): the group's window has reset.
    Ok {
        /// When the probe succeeded (the prober's clock).
        at_ms: i64,
    },
    /// The probe failed at `at_ms`; the group is expected back at `retry_at_ms`.
    Failed {
        /// When the probe failed (the prober's clock).
        at_ms: i64,
        /// When the group should be probed again (epoch ms).
        retry_at_ms: i64,
    },
}

impl GroupOutcome {
    /// When the outcome was learned (epoch ms).
    pub fn at_ms(&self) -> i64 {
        match self {
            GroupOutcome::Ok { at_ms } | GroupOutcome::Failed { at_ms, .. } => *at_ms,
        }
    }
}

/// The answer to [`Coordinator::claim_probe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeClaim {
    /// This engine sends the group's probe (it holds the lease, or there is no shared state).
    Mine,
    /// Another engine is probing the group. Ask again at `reclaim_at_ms` (epoch ms, no later
    /// than when its lease would run out) unless its outcome arrives first.
    Elsewhere {
        /// When to claim again.
        reclaim_at_ms: i64,
    },
    /// The fleet already learned the group's outcome after the caller's entries were parked:
    /// act on it without probing.
    Known(GroupOutcome),
}

/// Called with `(group, outcome)` when another engine publishes a probe outcome.
pub type OutcomeListener = Arc<dyn Fn(&str, GroupOutcome) + Send + Sync>;

/// Called with another engine's change of one key's decision record.
pub type DecisionListener = Arc<dyn Fn(DecisionChange) + Send + Sync>;

/// Fleet coordination of group probes and per-key decisions. Implementations never fail: when the shared state cannot
/// be reached they answer as a lone engine would ([`ProbeClaim::Mine`]) and catch up later.
pub trait Coordinator: Send + Sync + std::fmt::Debug + 'static {
    /// Ask to probe `group` at `now_ms`. `since_ms` is when the caller's oldest reason to probe
    /// arose (its probe candidate was parked): outcomes older than that are stale.
    fn claim_probe(&self, group: &str, since_ms: i64, now_ms: i64) -> BoxFuture<'_, ProbeClaim>;

    /// The probe this engine claimed for `group` ended with `outcome`: record it, publish it to
    /// the other engines and give the lease back.
    fn finish_probe(&self, group: &str, outcome: GroupOutcome) -> BoxFuture<'_, ()>;

    /// Deliver other engines' outcomes to `listener` from now on (replaces an earlier one).
    fn listen(&self, listener: OutcomeListener);

    /// Share one change of this engine's decision state with the fleet (in the background;
    /// kept and sent later while the shared state is unreachable).
    fn share_decision(&self, change: DecisionChange);

    /// Deliver other engines' decision changes to `listener` (replaces an earlier one).
    fn listen_decisions(&self, listener: DecisionListener);

    /// Every decision record the fleet holds, for an engine that starts; `None` when there is
    /// no shared state or it cannot be reached.
    fn load_decisions(&self) -> BoxFuture<'_, Option<DecisionState>>;

    /// Stop background work (lease renewals, subscriptions). Idempotent.
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// The default coordinator of a lone engine: every claim is [`ProbeClaim::Mine`], nothing is
/// shared.
#[derive(Debug, Default, Clone, Copy)]
pub struct Solo;

impl Coordinator for Solo {
    fn claim_probe(&self, _: &str, _: i64, _: i64) -> BoxFuture<'_, ProbeClaim> {
        Box::pin(async { ProbeClaim::Mine })
    }

    fn finish_probe(&self, _: &str, _: GroupOutcome) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    fn listen(&self, _: OutcomeListener) {}

    fn share_decision(&self, _: DecisionChange) {}

    fn listen_decisions(&self, _: DecisionListener) {}

    fn load_decisions(&self) -> BoxFuture<'_, Option<DecisionState>> {
        Box::pin(async { None })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
