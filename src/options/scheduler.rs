//! `scheduler` options.

use super::reader::OptionReader;
use crate::error::{EngineError, EngineResult};
use crate::scheduler::{ProbeConfirm, SchedulerConfig};

const DAY_MS: i64 = 86_400_000;

/// `probeTimeoutMs` when not given (ms).
const DEFAULT_PROBE_TIMEOUT_MS: i64 = 600_000;

/// Read `scheduler`. `confirm: "ack"`, `"resolve"` or `"run"` (both with `probeTimeoutMs`,
/// default 600 000); not given: `"run"` when `gateway_resender` (the engine resends through
/// its built-in gateway resender and can ask how each run ended), else `"ack"`.
pub fn read_scheduler(
    r: &OptionReader<'_>,
    gateway_resender: bool,
) -> EngineResult<SchedulerConfig> {
    r.deny_unknown(&[
        "confirm",
        "probeTimeoutMs",
        "releaseSpreadMs",
        "releaseAheadMs",
        "maxConcurrent",
        "reprobeBackoffMs",
        "maxReprobeBackoffMs",
        "awaitTimeoutMs",
        "resumeMessage",
    ])?;
    let mut c = SchedulerConfig::default();
    let probe_timeout = r
        .int("probeTimeoutMs", 1, 7 * DAY_MS)?
        .unwrap_or(DEFAULT_PROBE_TIMEOUT_MS);
    match r.string("confirm")?.as_deref() {
        None if gateway_resender => {
            c.confirm = ProbeConfirm::Run {
                timeout_ms: probe_timeout,
            }
        }
        None | Some("ack") => c.confirm = ProbeConfirm::Ack,
        Some("resolve") => {
            c.confirm = ProbeConfirm::Resolve {
                timeout_ms: probe_timeout,
            }
        }
        Some("run") => {
            c.confirm = ProbeConfirm::Run {
                timeout_ms: probe_timeout,
            }
        }
        Some(other) => {
            return Err(EngineError::option(
                r.child_path("confirm"),
                format!("expected \"ack\", \"resolve\" or \"run\", got {other:?}"),
            ))
        }
    }
    if let Some(v) = r.int("releaseSpreadMs", 0, DAY_MS)? {
        c.release_spread_ms = v;
    }
    if let Some(v) = r.int("releaseAheadMs", 0, 7 * DAY_MS)? {
        c.release_ahead_ms = v;
    }
    if let Some(v) = r.int("maxConcurrent", 1, 10_000)? {
        c.max_concurrent = v as usize;
    }
    if let Some(v) = r.int("reprobeBackoffMs", 1, 7 * DAY_MS)? {
        c.reprobe_backoff_ms = v;
    }
    if let Some(v) = r.int("maxReprobeBackoffMs", 1, 7 * DAY_MS)? {
        c.max_reprobe_backoff_ms = v;
    }
    if let Some(v) = r.int("awaitTimeoutMs", 1, 7 * DAY_MS)? {
        c.await_timeout_ms = v;
    }
    if let Some(v) = r.string("resumeMessage")? {
        c.resume_message = v;
    }
    c.validate().map_err(|e| match e {
        EngineError::InvalidOption { field, message } if !field.starts_with("scheduler") => {
            EngineError::option(format!("scheduler.{field}"), message)
        }
        other => other,
    })?;
    Ok(c)
}
