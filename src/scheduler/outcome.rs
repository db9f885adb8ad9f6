//! How the scheduler task reacts to outcomes: a resend's ack or error, `resolved`, `failed`,
//! and confirmation deadlines. Probe success releases the group; probe failure re-parks it.

use super::config::ProbeConfirm;
use super::probe::reprobe_backoff_ms;
use super::runner::{status_change, Early, Runner, Stage};
use crate::error::EngineResult;
use crate::events::Event;
use crate::state::coordination::GroupOutcome;
use crate::state::{EntryStatus, ParkedEntry, QueueChange};

impl Runner {
    /// A resend finished.
    pub(super) async fn on_sent(&mut self, key: String, result: EngineResult<()>) {
        let Some(held) = self.held.get_mut(&key) else {
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
        let now = self.now();
        let err = match result {
            Ok(()) => None,
            Err(e) => Some(e.to_string()),
        };
        let Some(error) = err else {
            self.emit(Event::Resent {
                session_key: key.clone(),
                attempts: attempt,
                probe,
            });
            return self.on_ack(key, probe, now).await;
        };
        self.emit(Event::ResendFailed {
            session_key: key.clone(),
            message: error.clone(),
        });
        if probe {
            self.probe_failed(key, None, error, now).await;
        } else {
            self.entry_failed(key, None, error, now).await;
        }
    }

    async fn on_ack(&mut self, key: String, probe: bool, now: i64) {
        let timeout = match self.cfg.confirm {
            ProbeConfirm::Ack => {
                return if probe {
                    self.probe_succeeded(key, now).await
                } else {
                    self.entry_succeeded(key).await
                };
            }
            ProbeConfirm::Resolve { timeout_ms } if probe => timeout_ms,
            ProbeConfirm::Resolve { .. } => self.cfg.await_timeout_ms,
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
        match early {
            Some(Early::Resolved) => self.on_resolved(key).await,
            Some(Early::Failed(at, error)) => self.on_failed(key, at, error).await,
            None => {}
        }
    }

    /// `resolved(key)` from the engine.
    pub(super) async fn on_resolved(&mut self, key: String) {
        let Some(held) = self.held.get_mut(&key) else {
            return;
        };
        match held.stage {
            Stage::Sending => held.early = Some(Early::Resolved),
            Stage::Queued => {}
            Stage::Awaiting { .. } if held.probe => {
                let now = self.now();
                self.probe_succeeded(key, now).await;
            }
            Stage::Awaiting { .. } => self.entry_succeeded(key).await,
        }
    }

    /// `failed(key, retry_at, error)` from the engine.
    pub(super) async fn on_failed(&mut self, key: String, retry_at: Option<i64>, error: String) {
        let Some(held) = self.held.get_mut(&key) else {
            return;
        };
        let now = self.clock.now_ms();
        match held.stage {
            Stage::Sending => held.early = Some(Early::Failed(retry_at, error)),
            Stage::Queued => {}
            Stage::Awaiting { .. } if held.probe => {
                self.probe_failed(key, retry_at, error, now).await
            }
            Stage::Awaiting { .. } => self.entry_failed(key, retry_at, error, now).await,
        }
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

    /// The probe succeeded: it leaves the queue, and every parked entry of its group due
    /// within `release_ahead_ms` is released with a jittered start: the probe just proved the
    /// window has reset, so entries parked for it (their due times differ only by jitter) go
    /// now instead of each probing again.
    async fn probe_succeeded(&mut self, key: String, now: i64) {
        let Some(held) = self.held.remove(&key) else {
            return;
        };
        let group = held.entry.group;
        // On a store error nothing is released; the group goes idle and the next batch
        // probes again.
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
