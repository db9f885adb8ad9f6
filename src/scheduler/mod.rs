//! The storm-free resume scheduler (DESIGN.md §5).
//!
//! It sleeps until the next parked entry is due (`tokio::time::sleep_until`, woken early by
//! [`SchedulerHandle::notify`]; no poll interval). When entries fall due it resends **one
//! probe** per provider/budget group (the group's oldest entry) and marks it `Probing`:
//!
//! * probe confirmed (by the resender's ack in [`ProbeConfirm::Ack`] mode, by
//!   [`SchedulerHandle::resolved`] in [`ProbeConfirm::Resolve`] mode) → `ProbeOk`, the probe
//!   leaves the queue (`Resolved`), and the group's other due entries are released at once up
//!   to `max_concurrent`, then at the group's adaptive rate ([`pace::ReleasePace`]: additive
//!   increase per accepted resend, halved by a refused one, when the rest of the group goes
//!   back to the failure's retry time), plus an optional random delay in
//!   `[0, release_spread_ms]` (default 0), with at most `max_concurrent` resends in flight
//!   over all groups. Entries of that group that fall due while it is still releasing join
//!   the release without another probe. In resolve mode a probe counts as good only on
//!   evidence that our own resend succeeded (`resolved(key, runId)` with its run id).
//! * probe failed (resend error, `failed(..)`, or no `resolved` within the probe timeout) →
//!   `ProbeFailed`; the probe counts an attempt and every parked entry of the group due before
//!   the next window is moved to it: the failure's retry time if it is in the future, else
//!   now + `reprobe_backoff_ms` doubling per consecutive failed probe of the group, capped at
//!   `max_reprobe_backoff_ms` (1 h). A successful probe resets the doubling.
//!
//! Released entries: in `Ack` mode an ack removes the entry and emits `Resent` then
//! `Resolved` (the ack is the only success signal there is). In `Resolve` mode an ack emits
//! `Resent` and the entry waits as `AwaitingResult` until `resolved` (removed, `Resolved`),
//! `failed` or `await_timeout_ms` (an attempt; re-parked at the given retry time or after
//! `reprobe_backoff_ms`, and probed again when due). A resend error emits `ResendFailed` and
//! counts as an attempt. `attempts` counts the original send, so a session is sent at most
//! `max_attempts` times in total; reaching it removes the entry with `Abandoned`.
//!
//! Each resend carries `idempotency_key = "resume:<sessionKey>:<attempt>"`, so a resend that
//! is repeated after a crash or shutdown runs once on the gateway.
//!
//! Restart: entries found `Probing`/`Released`/`AwaitingResult` at spawn are parked again and
//! due at once. Queue calls are blocking ([`ParkedQueue`]) and run on tokio's blocking pool.
//! Store errors are retried after `store_retry_ms`; writes are kept in order until they land.

mod config;
mod fleet;
mod handle;
mod outcome;
pub mod pace;
mod plan;
mod probe;
mod release;
mod runner;
mod store_calls;

#[cfg(test)]
mod tests;

pub use config::{ProbeConfirm, SchedulerConfig};
pub use handle::SchedulerHandle;
pub use plan::{plan_batch, BatchPlan};
pub use probe::{reprobe_backoff_ms, GroupPhase, GroupTable};
pub use release::{GroupReleases, ReleaseQueue};
pub use runner::{ResendLease, LEASE_RETRY_MS, PREPARE_AHEAD_MS};

/// What every scheduler needs: the queue, the resender, its config, clock, jitter and events.
pub type SchedulerParts = (
    Arc<dyn ParkedQueue>,
    Arc<dyn Resender>,
    SchedulerConfig,
    SharedClock,
    Jitter,
    EventSink,
);

use crate::clock::SharedClock;
use crate::error::EngineResult;
use crate::events::EventSink;
use crate::jitter::Jitter;
use crate::resender::Resender;
use crate::state::coordination::{Coordinator, Solo};
use crate::state::ParkedQueue;
use std::sync::Arc;

/// Entry point: [`Scheduler::spawn`].
#[derive(Debug)]
pub struct Scheduler;

impl Scheduler {
    /// Validate `cfg` and start the scheduler task on the current tokio runtime (must be
    /// called inside one). The task runs until [`SchedulerHandle::shutdown`] or until the
    /// handle is dropped.
    pub fn spawn(
        queue: Arc<dyn ParkedQueue>,
        resender: Arc<dyn Resender>,
        cfg: SchedulerConfig,
        clock: SharedClock,
        jitter: Jitter,
        events: EventSink,
    ) -> EngineResult<SchedulerHandle> {
        let solo: Arc<dyn Coordinator> = Arc::new(Solo);
        Self::spawn_coordinated(queue, resender, cfg, clock, jitter, events, solo)
    }

    /// [`Scheduler::spawn`] for an engine of a fleet: `coordinator` decides which engine probes
    /// each group, and the outcomes it hears from the others release or re-park this engine's
    /// entries (see `fleet.rs`).
    pub fn spawn_coordinated(
        queue: Arc<dyn ParkedQueue>,
        resender: Arc<dyn Resender>,
        cfg: SchedulerConfig,
        clock: SharedClock,
        jitter: Jitter,
        events: EventSink,
        coordinator: Arc<dyn Coordinator>,
    ) -> EngineResult<SchedulerHandle> {
        let parts = (queue, resender, cfg, clock, jitter, events);
        Self::spawn_leased(parts, coordinator, None)
    }

    /// [`Scheduler::spawn_coordinated`] that plans and sends only while it holds `lease`
    /// (one resender per state dir): until then it tries again every
    /// [`LEASE_RETRY_MS`](runner::LEASE_RETRY_MS) and leaves the queue alone; interrupted work
    /// is recovered when the lease is taken, not before.
    pub fn spawn_leased(
        parts: SchedulerParts,
        coordinator: Arc<dyn Coordinator>,
        lease: Option<ResendLease>,
    ) -> EngineResult<SchedulerHandle> {
        let (queue, resender, cfg, clock, jitter, events) = parts;
        cfg.validate()?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let resolutions = handle::Resolutions::default();
        let outcomes = tx.clone();
        coordinator.listen(Arc::new(move |group: &str, outcome| {
            let _ = outcomes.send(handle::Command::GroupOutcome {
                group: group.to_string(),
                outcome,
            });
        }));
        let notify_queued = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let runner = runner::Runner {
            notify_queued: notify_queued.clone(),
            resolutions: resolutions.clone(),
            store: store_calls::StoreCalls(queue),
            resender,
            cfg,
            clock,
            jitter,
            events,
            rx,
            groups: GroupTable::default(),
            held: Default::default(),
            probe_wait: Default::default(),
            release: Default::default(),
            inflight: tokio::task::JoinSet::new(),
            inflight_keys: Default::default(),
            next_due: None,
            dirty: true,
            pending: Vec::new(),
            deferring: false,
            outbox: Vec::new(),
            store_retry_at: None,
            coordinator,
            watching: Default::default(),
            prepared_for: None,
            preparing: None,
            lease,
            lease_held: false,
            lease_retry_at: None,
            peer_check_at: 0,
        };
        let join = tokio::spawn(runner.run());
        Ok(SchedulerHandle {
            tx,
            notify_queued,
            resolutions,
            join: std::sync::Mutex::new(Some(join)),
        })
    }
}
