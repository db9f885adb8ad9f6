//! `stats()`: counts for UIs and `cron.list`-style listings.

use super::lifecycle::run_blocking;
use super::{locked, Engine};
use crate::breaker::BreakerState;
use crate::error::EngineResult;
use crate::policy::KeyState;
use crate::state::ParkedEntry;
use serde::Serialize;
use std::collections::BTreeMap;

/// A point-in-time view of the engine.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineStats {
    /// Whether `start()` ran and `close()` did not.
    pub running: bool,
    /// The state directory.
    pub state_dir: String,
    /// Parked sessions (0 before `start()`).
    pub parked: usize,
    /// Parked sessions by status (`parked`, `probing`, `released`, `awaiting_result`).
    pub by_status: BTreeMap<String, usize>,
    /// Parked sessions by reason.
    pub by_reason: BTreeMap<String, usize>,
    /// Parked sessions by probe group.
    pub by_group: BTreeMap<String, usize>,
    /// Earliest due time of a parked session (epoch ms).
    pub next_due_at_ms: Option<i64>,
    /// Keys with policy state (failures on record).
    pub policy_keys: usize,
    /// Keys with a breaker that is not plain closed.
    pub breakers: usize,
    /// Policy state per key (lastErrorReason, cooldownUntilMs, disabledUntilMs, ...).
    pub keys: BTreeMap<String, KeyState>,
    /// Breaker state per key.
    pub breaker_states: BTreeMap<String, BreakerState>,
}

fn count(it: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for k in it {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

fn name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Engine {
    /// Counts and per-key states for UIs.
    pub async fn stats(&self) -> EngineResult<EngineStats> {
        let now = self.clock.now_ms();
        let entries: Vec<ParkedEntry> = match self.running().await {
            Ok(r) => {
                let store = r.store.clone();
                run_blocking(move || store.all_entries()).await?
            }
            Err(_) => Vec::new(),
        };
        let keys: BTreeMap<String, KeyState> =
            locked(&self.policy).states(now).into_iter().collect();
        let breaker_states: BTreeMap<String, BreakerState> =
            locked(&self.breakers).states(now).into_iter().collect();
        Ok(EngineStats {
            running: self.is_running().await,
            state_dir: self.cfg.state_dir.display().to_string(),
            parked: entries.len(),
            by_status: count(entries.iter().map(|e| name(&e.status))),
            by_reason: count(entries.iter().map(|e| e.reason.to_string())),
            by_group: count(entries.iter().map(|e| e.group.clone())),
            next_due_at_ms: entries.iter().map(|e| e.retry_at_ms).min(),
            policy_keys: keys.len(),
            breakers: breaker_states.len(),
            keys,
            breaker_states,
        })
    }
}

impl Engine {
    /// Prometheus metrics (OpenMetrics text): event counters, the resume-lag histogram and
    /// parked entries by status (all 0 before `start()`). See [`crate::metrics`].
    pub async fn metrics(&self) -> EngineResult<String> {
        let by_status = match self.running().await {
            Ok(r) => {
                let store = r.store.clone();
                let entries = run_blocking(move || store.all_entries()).await?;
                count(entries.iter().map(|e| name(&e.status)))
            }
            Err(_) => BTreeMap::new(),
        };
        Ok(self.metrics.render(&by_status))
    }
}
