//! [`RedisProfiles`]: auth-profile usage shared by the fleet, so a cooldown or a disable that one
//! engine learns stops every engine from picking that profile.
//!
//! The whole [`ProfileUsage`] is one JSON value under `<prefix>profiles`. A transaction is
//! Redis' optimistic check-and-set (`WATCH`, `GET`, the operation, `MULTI`/`SET`/`EXEC`, again
//! from the start when another engine wrote in between), so no engine's update is lost. The
//! operation itself is Rust code (rotation rules), which is why this is `WATCH`/`MULTI` rather
//! than a Lua script; the effect is the same single atomic step.
//!
//! When Redis cannot be reached the engine goes on with the local profile file (seeded with the
//! last usage it saw in Redis) and reports `state-degraded`; on the first transaction that
//! reaches Redis again, what was learned locally is merged in (later cooldowns and disables
//! win, counters keep their maximum), so nothing is lost either way.

use super::config::RedisConfig;
use super::health::Health;
use crate::clock::SharedClock;
use crate::error::EngineResult;
use crate::profiles::ProfileStats;
use crate::state::{ProfileUsage, ProfileUsageStore, RecoveryReport};
use redis::Commands;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The Redis backend of [`ProfileUsageStore`], with the local store as its fallback.
pub struct RedisProfiles {
    cfg: RedisConfig,
    client: redis::Client,
    conn: Mutex<Option<redis::Connection>>,
    local: Arc<dyn ProfileUsageStore>,
    health: Arc<Health>,
    clock: SharedClock,
    /// The last usage read from Redis: seeds the local store when Redis goes away.
    last_seen: Mutex<Option<ProfileUsage>>,
    /// The local store holds updates Redis has not seen yet.
    local_ahead: AtomicBool,
}

impl std::fmt::Debug for RedisProfiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProfiles")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl RedisProfiles {
    pub(super) fn new(
        cfg: RedisConfig,
        client: redis::Client,
        local: Arc<dyn ProfileUsageStore>,
        health: Arc<Health>,
        clock: SharedClock,
    ) -> Self {
        Self {
            cfg,
            client,
            conn: Mutex::new(None),
            local,
            health,
            clock,
            last_seen: Mutex::new(None),
            local_ahead: AtomicBool::new(false),
        }
    }

    fn key(&self) -> String {
        format!("{}profiles", self.cfg.key_prefix)
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let timeout = Duration::from_millis(self.cfg.timeout_ms as u64);
        let c = self.client.get_connection_with_timeout(timeout)?;
        c.set_read_timeout(Some(timeout))?;
        c.set_write_timeout(Some(timeout))?;
        Ok(c)
    }

    /// One transaction in Redis. `Ok(Err(e))` is the operation's own error.
    fn in_redis(
        &self,
        op: &mut dyn FnMut(&mut ProfileUsage) -> EngineResult<bool>,
    ) -> redis::RedisResult<EngineResult<()>> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(self.connect()?);
        }
        let con = guard.as_mut().expect("connected above");
        let key = self.key();
        let catch_up = self.local_ahead.load(Ordering::SeqCst);
        let local = if catch_up {
            Some(read_all(self.local.as_ref(), self.clock.now_ms()))
        } else {
            None
        };
        let mut op_result: EngineResult<()> = Ok(());
        let outcome = redis::transaction(con, &[&key], |con, pipe| {
            let raw: Option<String> = con.get(&key)?;
            let mut usage = raw
                .and_then(|s| serde_json::from_str::<ProfileUsage>(&s).ok())
                .unwrap_or_default();
            let mut changed = false;
            if let Some(local) = &local {
                changed |= merge_into(&mut usage, local);
            }
            match op(&mut usage) {
                Err(e) => {
                    op_result = Err(e);
                    return Ok(Some(None));
                }
                Ok(c) => changed |= c,
            }
            op_result = Ok(());
            if !changed {
                return Ok(Some(Some(usage)));
            }
            let text = serde_json::to_string(&usage).unwrap_or_default();
            let done: Option<()> = pipe.set(&key, text).ignore().query(con)?;
            Ok(done.map(|()| Some(usage)))
        });
        let seen = match outcome {
            Ok(seen) => seen,
            Err(e) => {
                *guard = None; // reconnect next time
                return Err(e);
            }
        };
        if let Some(usage) = seen {
            *self.last_seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(usage);
            if catch_up {
                self.local_ahead.store(false, Ordering::SeqCst);
            }
        }
        Ok(op_result)
    }

    /// Degraded: the transaction runs on the local store, seeded with what Redis last said.
    fn locally(
        &self,
        now_ms: i64,
        op: &mut dyn FnMut(&mut ProfileUsage) -> EngineResult<bool>,
    ) -> EngineResult<Option<RecoveryReport>> {
        // Seeded once per spell: later local changes (a success clearing a cooldown) stand.
        let seed = self
            .last_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let mut changed_any = false;
        let report = self.local.transact(now_ms, &mut |usage| {
            let mut changed = seed.as_ref().is_some_and(|s| merge_into(usage, s));
            changed |= op(usage)?;
            changed_any |= changed;
            Ok(changed)
        })?;
        if changed_any {
            self.local_ahead.store(true, Ordering::SeqCst);
        }
        Ok(report)
    }
}

impl ProfileUsageStore for RedisProfiles {
    fn transact(
        &self,
        now_ms: i64,
        op: &mut dyn FnMut(&mut ProfileUsage) -> EngineResult<bool>,
    ) -> EngineResult<Option<RecoveryReport>> {
        // A connection left over from before a Redis restart fails once: retry on a new one.
        let first = self.in_redis(op);
        let result = match first {
            Err(e) if e.is_connection_dropped() || e.is_io_error() => self.in_redis(op),
            other => other,
        };
        match result {
            Ok(result) => result.map(|()| None),
            Err(e) => {
                let message = self
                    .cfg
                    .scrub(&format!("redis {}: {e}", self.cfg.redacted_url()));
                self.health.failed(message, self.clock.now_ms());
                self.locally(now_ms, op)
            }
        }
    }
}

fn read_all(store: &dyn ProfileUsageStore, now_ms: i64) -> ProfileUsage {
    let mut out = ProfileUsage::default();
    let _ = store.transact(now_ms, &mut |u| {
        out = u.clone();
        Ok(false)
    });
    out
}

/// Merge `other` into `into`: profiles missing are added; for shared ones the later cooldown,
/// disable and last use win and counters keep their maximum. Returns whether `into` changed.
pub(super) fn merge_into(into: &mut ProfileUsage, other: &ProfileUsage) -> bool {
    let before = into.clone();
    into.pick_seq = into.pick_seq.max(other.pick_seq);
    for (id, theirs) in &other.profiles {
        match into.profiles.get_mut(id) {
            None => {
                into.profiles.insert(id.clone(), theirs.clone());
            }
            Some(ours) => merge_stats(ours, theirs),
        }
    }
    *into != before
}

fn merge_stats(ours: &mut ProfileStats, theirs: &ProfileStats) {
    if theirs.last_used_ms > ours.last_used_ms {
        ours.last_used_ms = theirs.last_used_ms;
        ours.last_used_seq = theirs.last_used_seq;
    }
    ours.use_count = ours.use_count.max(theirs.use_count);
    ours.success_count = ours.success_count.max(theirs.success_count);
    ours.failure_total = ours.failure_total.max(theirs.failure_total);
    if theirs.cooldown_until_ms > ours.cooldown_until_ms {
        ours.cooldown_until_ms = theirs.cooldown_until_ms;
        ours.consecutive_failures = ours.consecutive_failures.max(theirs.consecutive_failures);
        ours.failure_counts = theirs.failure_counts.clone();
        ours.last_reason = theirs.last_reason;
    }
    if theirs.disabled_until_ms > ours.disabled_until_ms {
        ours.disabled_until_ms = theirs.disabled_until_ms;
        ours.disabled_reason = theirs.disabled_reason;
        ours.last_reason = theirs.last_reason;
    }
}
