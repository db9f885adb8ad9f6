//! The scheduler task: one loop that sleeps until the next thing to do (a due entry, a
//! release start, a confirmation deadline), a command, or a finished resend. There is no poll
//! interval, and only this loop plans batches, so two batches never overlap.

use super::config::SchedulerConfig;
use super::handle::{Command, Resolutions};
use super::plan::plan_batch;
use super::probe::GroupTable;
use super::release::GroupReleases;
use super::store_calls::StoreCalls;
use crate::clock::SharedClock;
use crate::error::EngineResult;
use crate::events::{Event, EventSink};
use crate::jitter::Jitter;
use crate::resender::{ResendOutcome, ResendRequest, Resender};
use crate::state::coordination::{Coordinator, ProbeClaim};
use crate::state::{EntryStatus, LeaseStore, ParkedEntry, QueueChange, RESENDER_LEASE};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::{Id, JoinSet};

/// Where a held entry is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Stage {
    /// Waiting for a concurrency slot or its release start time.
    Queued,
    /// The resend is in flight.
    Sending,
    /// Acked; waiting for `resolved`/`failed` until the deadline (resolve mode).
    Awaiting { deadline_ms: i64 },
}

/// A `failed` that arrived while the resend was still in flight (a `resolved` waits in
/// [`Resolutions`] instead).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Early {
    Failed(Option<i64>, String),
}

/// What a resend task returns: `None` when it did not send because the session was resolved
/// before the send started.
pub(super) type SendResult = Option<EngineResult<ResendOutcome>>;

/// An entry the scheduler is working on.
#[derive(Debug)]
pub(super) struct Held {
    pub(super) entry: ParkedEntry,
    pub(super) probe: bool,
    pub(super) stage: Stage,
    pub(super) early: Option<Early>,
    /// The idempotency key of its resend (empty until sent).
    pub(super) idempotency_key: String,
    /// The run id the resend's ack reported, if any.
    pub(super) run_id: Option<String>,
    /// Whether its resend was accepted.
    pub(super) acked: bool,
}

/// Most finished resends handled as one burst (one durable write, then their events): bounds
/// how long the events of a burst hold up the JS thread.
const MAX_BURST: usize = 256;

/// How often a scheduler without the resender lease tries to take it (ms): a standby takes
/// over within this long of the holder's death (the OS drops a dead process's `flock`).
pub const LEASE_RETRY_MS: i64 = 100;

/// How often the lease holder re-reads the next due time, to see entries that other engines
/// on the same state dir parked (their `notify` does not reach this process) (ms).
pub const PEER_CHECK_MS: i64 = 1_000;

/// How long before the next due time the lease holder asks the resender to get ready
/// ([`Resender::prepare`]: the gateway resender opens its connection), so that the due send
/// does not pay for the connect (ms).
pub const PREPARE_AHEAD_MS: i64 = 2_000;

/// The one-resender-per-state-dir lease a scheduler must hold to plan and send.
pub struct ResendLease {
    /// Where the lease lives (a `flock` file in the state dir, or a shared store).
    pub store: Arc<dyn LeaseStore>,
    /// This engine's id, shown by `stats()` of every engine on the dir.
    pub holder: String,
}

impl std::fmt::Debug for ResendLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResendLease")
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

pub(super) struct Runner {
    pub(super) store: StoreCalls,
    pub(super) resender: Arc<dyn Resender>,
    pub(super) cfg: SchedulerConfig,
    pub(super) clock: SharedClock,
    pub(super) jitter: Jitter,
    pub(super) events: EventSink,
    pub(super) rx: UnboundedReceiver<Command>,
    /// Shared with the handle: cleared when a `Notify` is taken (see `SchedulerHandle`).
    pub(super) notify_queued: Arc<std::sync::atomic::AtomicBool>,
    pub(super) resolutions: Resolutions,
    pub(super) groups: GroupTable,
    pub(super) held: HashMap<String, Held>,
    pub(super) probe_wait: VecDeque<String>,
    pub(super) release: GroupReleases,
    pub(super) inflight: JoinSet<(String, SendResult)>,
    pub(super) inflight_keys: HashMap<Id, String>,
    /// Cached earliest due time; recomputed when `dirty`.
    pub(super) next_due: Option<i64>,
    pub(super) dirty: bool,
    /// Store writes not yet applied: deferred while a burst of finished resends is handled
    /// (written together, see `deferring`), or the store failed (retried at `store_retry_at`).
    pub(super) pending: Vec<QueueChange>,
    /// Handling a burst of finished resends: writes wait in `pending` and events in `outbox`
    /// until the burst is handled, then the writes go to the store in one durable batch
    /// (one fsync for the burst) and the events follow, so no event runs ahead of its write.
    /// A store read in between writes what is pending first.
    pub(super) deferring: bool,
    pub(super) outbox: Vec<Event>,
    pub(super) store_retry_at: Option<i64>,
    /// `None`: always the resender (tests, hosts without a state dir).
    pub(super) lease: Option<ResendLease>,
    pub(super) lease_held: bool,
    pub(super) lease_retry_at: Option<i64>,
    /// When the lease holder next re-reads the queue for other engines' parks.
    pub(super) peer_check_at: i64,
    /// Who probes each group when several engines share it (`Solo` alone).
    pub(super) coordinator: Arc<dyn Coordinator>,
    /// Groups another engine is probing, with when to claim them again (`fleet.rs`).
    pub(super) watching: HashMap<String, i64>,
    /// The due time the resender was last prepared for ([`PREPARE_AHEAD_MS`]).
    pub(super) prepared_for: Option<i64>,
    /// The running [`Resender::prepare`] call, aborted at shutdown.
    pub(super) preparing: Option<tokio::task::JoinHandle<()>>,
}

enum Wake {
    Command(Option<Command>),
    Sent(Result<(Id, (String, SendResult)), tokio::task::JoinError>),
    Timer,
}

impl Runner {
    pub(super) fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(super) fn emit(&mut self, event: Event) {
        if self.deferring {
            self.outbox.push(event);
        } else {
            (self.events)(event);
        }
    }

    /// Handle finished resends: `first`, then the others already finished (up to
    /// [`MAX_BURST`] in all), with their store writes batched into one durable write, then
    /// their events.
    async fn on_finished(
        &mut self,
        first: Result<(Id, (String, SendResult)), tokio::task::JoinError>,
    ) {
        self.deferring = true;
        let mut next = Some(first);
        let mut handled = 0;
        while let Some(done) = next.take() {
            self.on_done(done).await;
            handled += 1;
            if handled < MAX_BURST {
                next = self.inflight.try_join_next_with_id();
            }
        }
        self.deferring = false;
        self.write_pending().await;
        for event in std::mem::take(&mut self.outbox) {
            (self.events)(event);
        }
    }

    async fn on_done(&mut self, done: Result<(Id, (String, SendResult)), tokio::task::JoinError>) {
        match done {
            Ok((id, (key, result))) => {
                self.inflight_keys.remove(&id);
                self.on_sent(key, result).await;
            }
            Err(join_err) => {
                if let Some(key) = self.inflight_keys.remove(&join_err.id()) {
                    let msg = format!("resender task ended abnormally: {join_err}");
                    let failed = Err(crate::error::EngineError::ResendFailed(msg));
                    self.on_sent(key, Some(failed)).await;
                }
            }
        }
    }

    /// Before a store read: write what a burst deferred, so the read sees it.
    pub(super) async fn write_deferred(&mut self) {
        if self.deferring {
            self.write_pending().await;
        }
    }

    pub(super) async fn run(mut self) {
        if self.lease.is_none() {
            self.recover().await;
        }
        loop {
            self.tick().await;
            let wake = self.next_wake();
            let deadline = wake.map(|at| self.instant_for(at));
            let woke = tokio::select! {
                biased;
                cmd = self.rx.recv() => Wake::Command(cmd),
                Some(done) = self.inflight.join_next_with_id(), if !self.inflight.is_empty() => {
                    Wake::Sent(done)
                }
                _ = sleep_until_opt(deadline) => Wake::Timer,
            };
            match woke {
                Wake::Command(None) | Wake::Command(Some(Command::Shutdown)) => break,
                Wake::Command(Some(Command::Notify)) => {
                    // Cleared before the next look at the queue, so a later notify queues again.
                    self.notify_queued
                        .store(false, std::sync::atomic::Ordering::SeqCst);
                    self.dirty = true;
                }
                Wake::Command(Some(Command::GroupOutcome { group, outcome })) => {
                    self.on_fleet_outcome(group, outcome).await
                }
                Wake::Command(Some(Command::Resolved(key) | Command::Forget(key))) => {
                    self.on_resolved(key).await
                }
                Wake::Command(Some(Command::Failed {
                    key,
                    retry_at_ms,
                    error,
                })) => self.on_failed(key, retry_at_ms, error).await,
                Wake::Sent(done) => self.on_finished(done).await,
                Wake::Timer => {}
            }
        }
        self.stop().await;
    }

    /// Restart rule: entries left in Probing/Released/AwaitingResult by an earlier run are
    /// parked again and due now (their due time becomes `min(retry_at, now)`).
    async fn recover(&mut self) {
        let now = self.now();
        self.write_deferred().await;
        // Only the entries left mid-cycle are read: the queue may hold a million parked ones.
        match self.store.unparked_entries().await {
            Ok(unparked) => {
                let changes: Vec<_> = unparked
                    .into_iter()
                    .map(|e| QueueChange::SetStatus {
                        session_key: e.session_key,
                        status: EntryStatus::Parked,
                        retry_at_ms: Some(e.retry_at_ms.min(now)),
                    })
                    .collect();
                self.persist(changes).await;
            }
            Err(_) => self.store_retry_at = Some(now + self.cfg.store_retry_ms),
        }
        self.dirty = true;
    }

    /// Whether this scheduler may plan and send: it holds the resender lease (taking it now if
    /// it is free; the first time, interrupted work is recovered), or needs none.
    async fn holds_lease(&mut self, now: i64) -> bool {
        let Some(lease) = &self.lease else {
            return true;
        };
        if self.lease_held {
            return true;
        }
        let (store, holder) = (lease.store.clone(), lease.holder.clone());
        let got = tokio::task::spawn_blocking(move || {
            store.try_acquire(RESENDER_LEASE, &holder, now, LEASE_RETRY_MS)
        })
        .await;
        if matches!(got, Ok(Ok(true))) {
            self.lease_held = true;
            self.lease_retry_at = None;
            self.recover().await;
            true
        } else {
            self.lease_retry_at = Some(now + LEASE_RETRY_MS);
            false
        }
    }

    /// Everything due at `now`: store retries, deadlines, the due batch, ready sends.
    async fn tick(&mut self) {
        let now = self.now();
        if !self.holds_lease(now).await {
            return;
        }
        if self.lease.is_some() && now >= self.peer_check_at {
            self.dirty = true;
            self.peer_check_at = now + PEER_CHECK_MS;
        }
        if self.store_retry_at.is_some_and(|at| at <= now) {
            self.store_retry_at = None;
            if self.pending.is_empty() {
                self.dirty = true;
            } else {
                self.persist(Vec::new()).await;
            }
        }
        self.expire_deadlines(now).await;
        self.expire_watches(now);
        if self.store_retry_at.is_none() {
            self.refresh_next_due(now).await;
            if self.next_due.is_some_and(|at| at <= now) {
                self.run_batch(now).await;
                self.refresh_next_due(now).await;
            }
        }
        self.prepare_if_due_soon(now);
        self.start_ready_sends(now);
    }

    /// When the next due time is within [`PREPARE_AHEAD_MS`] and the resender was not prepared
    /// for it yet, prepare it in the background (the gateway connection is open by then).
    fn prepare_if_due_soon(&mut self, now: i64) {
        let Some(due) = self.next_due.filter(|at| at - now <= PREPARE_AHEAD_MS) else {
            return;
        };
        if self.prepared_for == Some(due)
            || self.preparing.as_ref().is_some_and(|t| !t.is_finished())
        {
            return;
        }
        self.prepared_for = Some(due);
        let resender = self.resender.clone();
        self.preparing = Some(tokio::spawn(async move { resender.prepare().await }));
    }

    /// When [`Runner::prepare_if_due_soon`] next has something to do (nothing while a prepare
    /// is still running: the due send then waits for the same connect).
    fn next_prepare_at(&self) -> Option<i64> {
        if self.preparing.as_ref().is_some_and(|t| !t.is_finished()) {
            return None;
        }
        self.next_due
            .filter(|at| self.prepared_for != Some(*at))
            .map(|at| at - PREPARE_AHEAD_MS)
    }

    async fn refresh_next_due(&mut self, now: i64) {
        if !self.dirty {
            return;
        }
        self.write_deferred().await;
        match self.store.next_due_ms(self.skip_groups()).await {
            Ok(at) => {
                self.next_due = at;
                self.dirty = false;
            }
            Err(_) => self.store_retry_at = Some(now + self.cfg.store_retry_ms),
        }
    }

    /// Plan and start one batch of due entries.
    async fn run_batch(&mut self, now: i64) {
        self.write_deferred().await;
        let due = match self.store.due_entries(now).await {
            Ok(mut due) => {
                due.retain(|e| !self.watching.contains_key(&e.group));
                due
            }
            Err(_) => {
                self.store_retry_at = Some(now + self.cfg.store_retry_ms);
                return;
            }
        };
        let plan = plan_batch(
            due,
            &self.groups,
            |k| self.held.contains_key(k),
            self.cfg.max_attempts,
        );
        let mut changes = Vec::new();
        for entry in plan.abandon {
            changes.push(QueueChange::Remove {
                session_key: entry.session_key.clone(),
            });
            self.emit(Event::Abandoned {
                session_key: entry.session_key,
                reason: entry.reason,
                attempts: entry.attempts,
                message: entry.last_error,
            });
        }
        let (mut known, mut watched) = (Vec::new(), false);
        for entry in plan.probes {
            match self.claim(&entry, now).await {
                ProbeClaim::Mine => {}
                ProbeClaim::Elsewhere { reclaim_at_ms } => {
                    self.watch(&entry.group, reclaim_at_ms);
                    watched = true;
                    continue;
                }
                ProbeClaim::Known(outcome) => {
                    known.push((entry.group, outcome));
                    continue;
                }
            }
            changes.push(status_change(&entry.session_key, EntryStatus::Probing));
            self.groups.start_probe(&entry.group, &entry.session_key);
            self.probe_wait.push_back(entry.session_key.clone());
            self.hold(entry, true);
        }
        for entry in plan.join {
            changes.push(status_change(&entry.session_key, EntryStatus::Released));
            self.groups.join_release(&entry.group, 1);
            self.schedule_release(entry, now);
        }
        let fleet_acted = watched || !known.is_empty();
        for (group, outcome) in known {
            self.on_fleet_outcome(group, outcome).await;
        }
        if changes.is_empty() && !fleet_acted {
            // Only entries the scheduler cannot act on yet are due (e.g. an entry re-parked
            // by the engine while held): look again later instead of spinning.
            self.next_due = Some(now + self.cfg.store_retry_ms);
            return;
        }
        self.persist(changes).await;
    }

    pub(super) fn hold(&mut self, entry: ParkedEntry, probe: bool) {
        let held = Held {
            entry,
            probe,
            stage: Stage::Queued,
            early: None,
            idempotency_key: String::new(),
            run_id: None,
            acked: false,
        };
        self.held.insert(held.entry.session_key.clone(), held);
    }

    /// Queue a released entry to start after a random delay in `[0, release_spread_ms]`
    /// (default 0); its group's pace decides when it actually starts.
    pub(super) fn schedule_release(&mut self, entry: ParkedEntry, now: i64) {
        let start = now + self.jitter.up_to(self.cfg.release_spread_ms);
        self.release
            .push(&entry.group, entry.session_key.clone(), start);
        self.hold(entry, false);
    }

    /// Start probes first, then released entries whose start time came, while slots are free.
    fn start_ready_sends(&mut self, now: i64) {
        while self.inflight.len() < self.cfg.max_concurrent {
            let key = match self.probe_wait.pop_front() {
                Some(k) => k,
                None => match self.release.pop_ready(now) {
                    Some(k) => k,
                    None => break,
                },
            };
            self.send(key);
        }
    }

    fn send(&mut self, key: String) {
        let Some(held) = self.held.get_mut(&key) else {
            return;
        };
        held.stage = Stage::Sending;
        let e = &held.entry;
        let attempt = e.attempts + 1;
        let message = e
            .meta
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or(&self.cfg.resume_message)
            .to_string();
        let req = ResendRequest {
            session_key: key.clone(),
            message,
            idempotency_key: format!("resume:{key}:{attempt}"),
            attempts: attempt,
            meta: e.meta.clone(),
            last_failed_at_ms: e.last_failed_at_ms,
        };
        held.idempotency_key = req.idempotency_key.clone();
        let resender = self.resender.clone();
        let resolutions = self.resolutions.clone();
        let task_key = key.clone();
        let handle = self.inflight.spawn(async move {
            // Resolve wins: a resolution acknowledged before this point is never resent.
            if resolutions.contains(&task_key) {
                return (task_key, None);
            }
            let result = resender.resend(req).await;
            (task_key, Some(result))
        });
        self.inflight_keys.insert(handle.id(), key);
    }

    fn next_wake(&self) -> Option<i64> {
        let mut wake: Option<i64> = None;
        let mut consider = |at: Option<i64>| {
            if let Some(at) = at {
                wake = Some(wake.map_or(at, |w| w.min(at)));
            }
        };
        if self.lease_retry_at.is_some() {
            return self.lease_retry_at;
        }
        if self.lease.is_some() {
            consider(Some(self.peer_check_at));
        }
        if self.store_retry_at.is_some() {
            consider(self.store_retry_at);
        } else {
            consider(self.next_due);
            consider(self.next_prepare_at());
        }
        consider(self.next_reclaim());
        if self.inflight.len() < self.cfg.max_concurrent {
            consider(self.release.next_start_ms());
        }
        for held in self.held.values() {
            if let Stage::Awaiting { deadline_ms } = held.stage {
                consider(Some(deadline_ms));
            }
        }
        wake
    }

    fn instant_for(&self, at_ms: i64) -> tokio::time::Instant {
        let wait = (at_ms - self.now()).max(0) as u64;
        tokio::time::Instant::now() + Duration::from_millis(wait)
    }

    /// Write `changes` (after any earlier writes that failed). On failure they stay pending and
    /// are retried after `store_retry_ms`; planning waits until they are written.
    pub(super) async fn persist(&mut self, changes: Vec<QueueChange>) {
        self.pending.extend(changes);
        self.dirty = true;
        if !self.deferring {
            self.write_pending().await;
        }
    }

    /// Write what is pending, unless a failed write waits for `store_retry_at`.
    async fn write_pending(&mut self) {
        if self.pending.is_empty() || self.store_retry_at.is_some() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let now = self.now();
        if self.store.apply(batch.clone(), now).await.is_err() {
            self.pending = batch;
            self.store_retry_at = Some(now + self.cfg.store_retry_ms);
        }
    }

    /// Shutdown: cancel in-flight resends and park every held entry again (same due time).
    /// A resend that had already finished is recorded first, never dropped: an acknowledged
    /// resend is removed (not parked again and sent a second time after a restart), a failed
    /// one counts its attempt.
    async fn stop(&mut self) {
        if let Some(task) = self.preparing.take() {
            task.abort();
        }
        self.inflight.abort_all();
        while let Some(done) = self.inflight.join_next_with_id().await {
            // A cancelled resend never finished: its entry is parked again below, uncounted.
            if !matches!(&done, Err(e) if e.is_cancelled()) {
                self.on_done(done).await;
            }
        }
        self.release.drain();
        self.probe_wait.clear();
        let changes: Vec<_> = self
            .held
            .drain()
            .map(|(key, _)| status_change(&key, EntryStatus::Parked))
            .collect();
        self.store_retry_at = None;
        self.persist(changes).await;
        if let (Some(lease), true) = (&self.lease, self.lease_held) {
            let _ = lease.store.release(RESENDER_LEASE, &lease.holder);
        }
    }
}

pub(super) fn status_change(key: &str, status: EntryStatus) -> QueueChange {
    QueueChange::SetStatus {
        session_key: key.to_string(),
        status,
        retry_at_ms: None,
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
