//! How the scheduler task reacts to outcomes: a resend's ack or error, `resolved`, `failed`,
//! and confirmation deadlines. Probe success releases the group; probe failure re-parks it.

use super::config::ProbeConfirm;
use super::handle::Resolution;
use super::probe::reprobe_backoff_ms;
use super::runner::{status_change, Early, Runner, SendResult, Stage};
use crate::events::Event;
use crate::resender::{NotDue, ResendOutcome};
use crate::state::coordination::GroupOutcome;
use crate::state::{EntryStatus, ParkedEntry, QueueChange};

impl Runner {
    /// A resend finished (`None`: not sent, the session was resolved first).
    pub(super) async fn on_sent(&mut self, key: String, result: SendResult) {
        let Some(held) = self.held.get_mut(&key) else {
            self.resolutions.take(&key);
            return;
        };
        let (probe, group, attempt) = (
            held.probe,
            held.entry.group.clone(),
            held.entry.attempts + 1,
        );
        if !probe {
            self.groups.release_done(&group);
        }
        if let Some(Ok(ResendOutcome::Sent { run_id })) = &result {
            held.run_id = run_id.clone();
            held.acked = true;
            if !probe {
                self.release.pace(&group).accepted();
            }
            self.emit(Event::Resent {
                session_key: key.clone(),
                attempts: attempt,
                probe,
            });
        }
        let now = self.now();
        // Resolve wins: whatever the send answered, a resolved entry is never re-parked.
        if let Some(resolution) = self.resolutions.take(&key) {
            return self.settle_resolved(key, resolution, now).await;
        }
        match result {
            Some(Ok(ResendOutcome::Sent { .. })) => self.on_ack(key, probe, now).await,
            Some(Ok(ResendOutcome::Superseded { why })) => self.superseded(key, why).await,
            Some(Ok(ResendOutcome::StillRunning { .. })) => self.still_running(key, now).await,
            Some(Ok(ResendOutcome::NotDue(not_due))) => self.not_due(key, not_due, now).await,
            Some(Err(e)) => {
                let error = e.to_string();
                self.emit(Event::ResendFailed {
                    session_key: key.clone(),
                    message: error.clone(),
                });
                if probe {
                    self.probe_failed(key, None, error, now).await;
                } else {
                    self.release_refused(key, None, error, now).await;
                }
            }
            // Not sent and its resolution already taken: drop it like a resolved entry.
            None => {
                let quiet = Resolution {
                    run_id: None,
                    quiet: true,
                };
                self.settle_resolved(key, quiet, now).await
            }
        }
    }

    async fn on_ack(&mut self, key: String, probe: bool, now: i64) {
        let timeout = match self.cfg.confirm {
            ProbeConfirm::Ack if probe => {
                if let Some(held) = self.held.remove(&key) {
                    self.probe_succeeded(key, held.entry.group, now).await;
                }
                return;
            }
            ProbeConfirm::Ack => return self.entry_succeeded(key).await,
            ProbeConfirm::Resolve { timeout_ms } | ProbeConfirm::Run { timeout_ms } if probe => {
                timeout_ms
            }
            ProbeConfirm::Resolve { .. } | ProbeConfirm::Run { .. } => self.cfg.await_timeout_ms,
        };
        let Some(held) = self.held.get_mut(&key) else {
            return;
        };
        held.stage = Stage::Awaiting {
            deadline_ms: now + timeout,
        };
        let early = held.early.take();
        if !probe {
            self.persist(vec![status_change(&key, EntryStatus::AwaitingResult)])
                .await;
        }
        if let Some(Early::Failed(at, error)) = early {
            self.on_failed(key, at, error).await;
        }
    }

    /// `resolved(key)` / `forget(key)` from the engine. A resend in flight settles it when it
    /// returns; every other stage settles now.
    pub(super) async fn on_resolved(&mut self, key: String) {
        if self
            .held
            .get(&key)
            .is_some_and(|h| h.stage == Stage::Sending)
        {
            return;
        }
        let Some(resolution) = self.resolutions.take(&key) else {
            return;
        };
        let now = self.now();
        self.settle_resolved(key, resolution, now).await;
    }

    /// A held entry's session succeeded (or was unparked): it leaves the queue, is never sent
    /// again, and a probe releases its group only on evidence that our resend succeeded.
    async fn settle_resolved(&mut self, key: String, resolution: Resolution, now: i64) {
        let Some(held) = self.held.remove(&key) else {
            return;
        };
        let group = held.entry.group.clone();
        if held.stage == Stage::Queued {
            self.probe_wait.retain(|k| k != &key);
            self.release.remove(&key);
            if !held.probe {
                self.groups.release_done(&group);
            }
        }
        let ours = match self.cfg.confirm {
            ProbeConfirm::Ack => held.acked,
            ProbeConfirm::Resolve { .. } | ProbeConfirm::Run { .. } => {
                held.acked
                    && resolution.run_id.as_ref().is_some_and(|run| {
                        Some(run) == held.run_id.as_ref() || *run == held.idempotency_key
                    })
            }
        };
        if held.probe && ours && !resolution.quiet {
            return self.probe_succeeded(key, group, now).await;
        }
        if held.probe {
            self.groups.probe_cancelled(&group);
        }
        self.persist(vec![QueueChange::Remove {
            session_key: key.clone(),
        }])
        .await;
        if !resolution.quiet {
            self.emit(Event::Resolved { session_key: key });
        }
    }

    /// The gateway showed that the session moved on since it failed: drop it unsent.
    async fn superseded(&mut self, key: String, why: String) {
        let Some(held) = self.held.remove(&key) else {
            return;
        };
        if held.probe {
            self.groups.probe_cancelled(&held.entry.group);
        }
        self.persist(vec![QueueChange::Remove {
            session_key: key.clone(),
        }])
        .await;
        self.emit(Event::Superseded {
            session_key: key,
            why,
        });
    }

    /// The failed run is still running (the gateway retries it): nothing was sent; the entry
    /// waits and is checked again after `still_running_recheck_ms`, with no attempt counted.
    /// The run's own success resolves it; its final failure re-parks it through `park`.
    async fn still_running(&mut self, key: String, now: i64) {
        let Some(held) = self.held.remove(&key) else {
            return;
        };
        if held.probe {
            self.groups.probe_cancelled(&held.entry.group);
        }
        let recheck = now + self.cfg.still_running_recheck_ms;
        self.persist(vec![QueueChange::SetStatus {
            session_key: key,
            status: EntryStatus::Parked,
            retry_at_ms: Some(recheck.max(held.entry.retry_at_ms)),
        }])
        .await;
    }

    /// The failed run ended after the entry was parked (the gateway retried it), on a final
    /// failure whose retry time is still ahead: nothing was sent; the entry waits for that time
    /// with that error, no attempt counted (the attempts were the gateway's, not ours).
    async fn not_due(&mut self, key: String, not_due: NotDue, now: i64) {
        let Some(held) = self.held.remove(&key) else {
            return;
        };
        if held.probe {
            self.groups.probe_cancelled(&held.entry.group);
        }
        let retry_at_ms = not_due.retry_at_ms.max(now);
        self.persist(vec![QueueChange::RecordFailure {
            session_key: key.clone(),
            attempts: held.entry.attempts,
            error: not_due.error,
            retry_at_ms,
        }])
        .await;
        self.emit(Event::Parked {
            session_key: key,
            reason: held.entry.reason,
            attempts: held.entry.attempts,
            retry_at_ms,
        });
    }

    /// `failed(key, retry_at, error)` from the engine: the session failed again.
    pub(super) async fn on_failed(&mut self, key: String, retry_at: Option<i64>, error: String) {
        let Some(held) = self.held.get_mut(&key) else {
            return;
        };
        let now = self.clock.now_ms();
        match held.stage {
            Stage::Sending => held.early = Some(Early::Failed(retry_at, error)),
            // Not sent yet: it failed without our resend (say, the gateway's own retry ended).
            // It goes back to wait for `retry_at`, unsent; a probe leaves without a verdict.
            Stage::Queued => {
                let (probe, group) = (held.probe, held.entry.group.clone());
                self.probe_wait.retain(|k| k != &key);
                self.release.remove(&key);
                if probe {
                    self.groups.probe_cancelled(&group);
                } else {
                    self.groups.release_done(&group);
                }
                self.entry_failed(key, retry_at, error, now).await
            }
            Stage::Awaiting { .. } if held.probe => {
                self.probe_failed(key, retry_at, error, now).await
            }
            Stage::Awaiting { .. } => self.release_refused(key, retry_at, error, now).await,
        }
    }

    /// A released resend failed (a 429, a refused send): the group's release rate halves and
    /// the releases of the group that have not started go back to wait for the same retry
    /// time (then probe again), instead of running into the limit one after another.
    async fn release_refused(
        &mut self,
        key: String,
        retry_at: Option<i64>,
        error: String,
        now: i64,
    ) {
        let Some(group) = self.held.get(&key).map(|h| h.entry.group.clone()) else {
            return;
        };
        self.release.pace(&group).refused(now);
        let next = retry_at
            .filter(|at| *at > now)
            .unwrap_or(now + self.cfg.reprobe_backoff_ms);
        let waiting = self.release.take_group(&group);
        let mut changes = Vec::new();
        for k in waiting {
            if self.held.remove(&k).is_none() {
                continue;
            }
            self.groups.release_done(&group);
            changes.push(QueueChange::SetStatus {
                session_key: k,
                status: EntryStatus::Parked,
                retry_at_ms: Some(next),
            });
        }
        self.persist(changes).await;
        self.entry_failed(key, Some(next), error, now).await;
    }

    /// Resolve-mode deadlines that passed count as failures.
    pub(super) async fn expire_deadlines(&mut self, now: i64) {
        let mut expired: Vec<(String, bool)> = self
            .held
            .iter()
            .filter(
                |(_, h)| matches!(h.stage, Stage::Awaiting { deadline_ms } if deadline_ms <= now),
            )
            .map(|(k, h)| (k.clone(), h.probe))
            .collect();
        expired.sort();
        for (key, probe) in expired {
            if probe {
                let error = "probe not confirmed before its timeout".to_string();
                self.probe_failed(key, None, error, now).await;
            } else {
                let error = "no result before the await timeout".to_string();
                self.entry_failed(key, None, error, now).await;
            }
        }
    }

    /// A released entry succeeded: it leaves the queue (`Resolved`).
    async fn entry_succeeded(&mut self, key: String) {
        self.held.remove(&key);
        self.persist(vec![QueueChange::Remove {
            session_key: key.clone(),
        }])
        .await;
        self.emit(Event::Resolved { session_key: key });
    }

    /// The probe succeeded (the caller already dropped it from `held`): it leaves the queue,
    /// and every parked entry of its group due within `release_ahead_ms` is released with a
    /// jittered start: the probe just proved the window has reset, so entries parked for it
    /// (their due times differ only by jitter) go now instead of each probing again.
    async fn probe_succeeded(&mut self, key: String, group: String, now: i64) {
        // On a store error nothing is released; the group goes idle and the next batch
        // probes again.
        self.write_deferred().await;
        let parked: Vec<ParkedEntry> = self.store.all_entries().await.unwrap_or_default();
        let (spent, members): (Vec<ParkedEntry>, Vec<ParkedEntry>) = parked
            .into_iter()
            .filter(|e| {
                e.status == EntryStatus::Parked && e.retry_at_ms <= now + self.cfg.release_ahead_ms
            })
            .filter(|e| e.group == group && e.session_key != key && self.settled(&e.session_key))
            .partition(|e| e.attempts >= self.cfg.max_attempts);
        self.emit(Event::ProbeOk {
            session_key: key.clone(),
            group: group.clone(),
            released: members.len(),
        });
        self.publish_outcome(&group, GroupOutcome::Ok { at_ms: now });
        let mut changes = vec![QueueChange::Remove {
            session_key: key.clone(),
        }];
        self.emit(Event::Resolved { session_key: key });
        for entry in spent {
            changes.push(QueueChange::Remove {
                session_key: entry.session_key.clone(),
            });
            self.emit(abandoned(&entry, entry.attempts, entry.last_error.clone()));
        }
        self.groups.probe_ok(&group, members.len());
        self.release
            .pace(&group)
            .probe_ok(self.cfg.max_concurrent, now);
        for entry in members {
            changes.push(status_change(&entry.session_key, EntryStatus::Released));
            self.schedule_release(entry, now);
        }
        self.persist(changes).await;
    }

    /// The probe failed: it counts as an attempt, and every parked entry of the group due
    /// before the next window is moved to it. The window is `retry_at` when it is in the
    /// future, else now + the doubling reprobe backoff.
    pub(super) async fn probe_failed(
        &mut self,
        key: String,
        retry_at: Option<i64>,
        error: String,
        now: i64,
    ) {
        let Some(held) = self.held.remove(&key) else {
            return;
        };
        let group = held.entry.group.clone();
        let streak = self.groups.probe_failed(&group);
        let next = retry_at.filter(|at| *at > now).unwrap_or_else(|| {
            now + reprobe_backoff_ms(
                self.cfg.reprobe_backoff_ms,
                self.cfg.max_reprobe_backoff_ms,
                streak,
            )
        });
        let mut changes = Vec::new();
        let abandon = self.record_failure(&held.entry, error, next, &mut changes);
        // On a store error only the probe moves; the others keep their due times.
        self.write_deferred().await;
        let others: Vec<ParkedEntry> = self.store.all_entries().await.unwrap_or_default();
        for e in others {
            let movable = e.group == group
                && e.session_key != key
                && e.status == EntryStatus::Parked
                && e.retry_at_ms < next
                && self.settled(&e.session_key);
            if movable {
                changes.push(QueueChange::SetStatus {
                    session_key: e.session_key,
                    status: EntryStatus::Parked,
                    retry_at_ms: Some(next),
                });
            }
        }
        let reparked = changes
            .iter()
            .filter(|c| !matches!(c, QueueChange::Remove { .. }))
            .count();
        self.publish_outcome(
            &group,
            GroupOutcome::Failed {
                at_ms: now,
                retry_at_ms: next,
            },
        );
        self.emit(Event::ProbeFailed {
            session_key: key,
            group,
            reparked,
            retry_at_ms: next,
        });
        if let Some(event) = abandon {
            self.emit(event);
        }
        self.persist(changes).await;
    }

    /// A released entry failed: it counts as an attempt and is re-parked at `retry_at` when
    /// that is in the future, else after `reprobe_backoff_ms`; its next resend is probed again.
    pub(super) async fn entry_failed(
        &mut self,
        key: String,
        retry_at: Option<i64>,
        error: String,
        now: i64,
    ) {
        let Some(held) = self.held.remove(&key) else {
            return;
        };
        let next = retry_at
            .filter(|at| *at > now)
            .unwrap_or(now + self.cfg.reprobe_backoff_ms);
        let mut changes = Vec::new();
        if let Some(event) = self.record_failure(&held.entry, error, next, &mut changes) {
            self.emit(event);
        }
        self.persist(changes).await;
    }

    /// Whether the store's copy of `key` is current: not held, and no write for it pending.
    fn settled(&self, key: &str) -> bool {
        !self.held.contains_key(key) && !self.pending.iter().any(|c| c.key() == key)
    }

    /// One more failed attempt: re-park at `next`, or remove when `max_attempts` is reached
    /// (returns the `Abandoned` event to emit).
    fn record_failure(
        &self,
        entry: &ParkedEntry,
        error: String,
        next: i64,
        changes: &mut Vec<QueueChange>,
    ) -> Option<Event> {
        let attempts = entry.attempts + 1;
        if attempts >= self.cfg.max_attempts {
            changes.push(QueueChange::Remove {
                session_key: entry.session_key.clone(),
            });
            return Some(abandoned(entry, attempts, error));
        }
        changes.push(QueueChange::RecordFailure {
            session_key: entry.session_key.clone(),
            attempts,
            error,
            retry_at_ms: next,
        });
        None
    }
}

fn abandoned(entry: &ParkedEntry, attempts: u32, message: String) -> Event {
    Event::Abandoned {
        session_key: entry.session_key.clone(),
        reason: entry.reason,
        attempts,
        message,
    }
}
