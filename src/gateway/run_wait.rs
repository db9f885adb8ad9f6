//! [`GatewayClient::await_run`]: how a run that a resend started ended, asked of the gateway.
//!
//! OpenClaw 2026.9.6 (`__test__/e2e/PROTOCOL-NOTES.md`): `agent.wait {runId, timeoutMs}` holds
//! the request until the run ends or `timeoutMs` passes, then answers `{runId, status, endedAt?,
//! error?}` with `status` `ok` | `error` | `timeout` | `pending`. A failed run's `error` is the
//! provider's text as the gateway relays it (e.g. `⚠️ You exceeded your current quota … Please
//! try again in 15.250s.; Retry-After: 16 seconds`); its assistant message in `chat.history`
//! (`__openclaw.runId`, `stopReason:"error"`) carries the `timestamp` the model call started.

use super::client::GatewayClient;
use super::session_check::HISTORY_LIMIT;
use crate::error::{EngineError, EngineResult};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::Instant;

/// Longest single `agent.wait` (ms); a longer wait asks again.
const WAIT_SLICE_MS: u64 = 30_000;

/// How much longer than its `timeoutMs` an `agent.wait` may take to be answered (ms).
const ANSWER_GRACE_MS: u64 = 15_000;

/// Pause before asking again after the connection dropped (ms); reconnects back off on their own.
const RETRY_PAUSE_MS: u64 = 1_000;

/// How a run ended, as the gateway tells it.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    /// The run succeeded (`status: "ok"`).
    Succeeded,
    /// The run failed. `agent_end` is the failure as the engine's `park()` reads it: see
    /// [`failed_run_input`].
    Failed {
        /// `{runId, messages:[{role:"assistant", stopReason:"error", errorMessage, timestamp?}]}`.
        agent_end: Value,
    },
    /// Not ended within the wait: still running, or the gateway no longer knows the run (a
    /// restart forgets acked runs that had not started).
    NotEnded,
    /// The gateway cannot say: it refused `agent.wait` (an older or partial gateway, a
    /// missing scope) or answered it without a known `status`. `reason` is secret-free.
    CannotSay {
        /// What the gateway answered.
        reason: String,
    },
}

impl GatewayClient {
    /// Wait up to `max_wait_ms` for run `run_id` (started in `session_key`) to end. Survives
    /// dropped connections (asks again on the next one); a refused `agent.wait` or an answer
    /// without a known `status` is [`RunEnd::CannotSay`]; other errors (the client was closed,
    /// the credentials were rejected) are returned.
    pub async fn await_run(
        &self,
        session_key: &str,
        run_id: &str,
        max_wait_ms: u64,
    ) -> EngineResult<RunEnd> {
        let deadline = Instant::now() + Duration::from_millis(max_wait_ms);
        loop {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_millis() as u64;
            if left == 0 {
                return Ok(RunEnd::NotEnded);
            }
            let slice = left.min(WAIT_SLICE_MS);
            let params = json!({"runId": run_id, "timeoutMs": slice});
            let asked = Instant::now();
            let answer = match self
                .request_within("agent.wait", &params, slice + ANSWER_GRACE_MS)
                .await
            {
                Ok(answer) => answer,
                Err(EngineError::GatewayUnavailable(_)) => {
                    tokio::time::sleep(Duration::from_millis(RETRY_PAUSE_MS.min(left))).await;
                    continue;
                }
                Err(EngineError::GatewayRequest { code, message, .. }) => {
                    return Ok(RunEnd::CannotSay {
                        reason: format!("agent.wait refused: {code}: {message}"),
                    })
                }
                Err(e) => return Err(e),
            };
            if let Some(error) = run_error(&answer) {
                let started_at = self.failed_message_time(session_key, run_id).await;
                return Ok(RunEnd::Failed {
                    agent_end: failed_run_input(run_id, &error, started_at),
                });
            }
            match answer["status"].as_str() {
                Some("ok") => return Ok(RunEnd::Succeeded),
                Some("timeout" | "pending") => {}
                other => {
                    return Ok(RunEnd::CannotSay {
                        reason: format!("agent.wait answered status {other:?}"),
                    })
                }
            }
            // A gateway that answers before the wait is over is not asked again at once.
            if asked.elapsed() < Duration::from_millis(slice) {
                tokio::time::sleep(Duration::from_millis(RETRY_PAUSE_MS)).await;
            }
        }
    }

    /// The `timestamp` of run `run_id`'s failed assistant message in `chat.history`, if found.
    async fn failed_message_time(&self, session_key: &str, run_id: &str) -> Option<i64> {
        let params = json!({"sessionKey": session_key, "limit": HISTORY_LIMIT});
        let history = self.request("chat.history", params).await.ok()?;
        failed_message_time(&history, run_id)
    }
}

/// The error of an `agent.wait` answer for a run that ended without success: `status:"error"`,
/// or a `timeout` that carries `endedAt` (the run itself timed out, not the wait).
pub fn run_error(answer: &Value) -> Option<String> {
    let text = || answer["error"].as_str().map(str::to_owned);
    match answer["status"].as_str() {
        Some("error") => Some(text().unwrap_or_else(|| "the run failed".into())),
        Some("timeout") if answer["endedAt"].is_number() => {
            Some(text().unwrap_or_else(|| "the run timed out on the gateway".into()))
        }
        _ => None,
    }
}

/// Find run `run_id`'s failed assistant message in a `chat.history` payload; its `timestamp`.
pub fn failed_message_time(history: &Value, run_id: &str) -> Option<i64> {
    let terminal = format!("{run_id}:terminal-error");
    history["messages"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| {
            m["stopReason"].as_str() == Some("error")
                && (m["__openclaw"]["runId"].as_str() == Some(run_id)
                    || m["idempotencyKey"].as_str() == Some(terminal.as_str()))
        })
        .and_then(|m| m["timestamp"].as_i64())
}

/// The failure of run `run_id` in the shape of OpenClaw's `agent_end` hook payload, which the
/// engine's `park()` reads: the error text and, when known, when the model call started (a
/// relative retry hint counts from then).
pub fn failed_run_input(run_id: &str, error: &str, started_at_ms: Option<i64>) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": [],
        "stopReason": "error",
        "errorMessage": error,
    });
    if let Some(at) = started_at_ms {
        message["timestamp"] = json!(at);
    }
    // As OpenClaw's own `agent_end` for a turn that failed on the provider: `success: true`
    // (the run itself completed) with the error on the last assistant message.
    json!({"runId": run_id, "success": true, "messages": [message]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_or_a_run_timeout_is_a_failure_and_a_wait_timeout_is_not() {
        let quota = json!({"runId": "r", "status": "error", "endedAt": 5, "error": "⚠️ quota; Retry-After: 16 seconds"});
        assert_eq!(
            run_error(&quota).as_deref(),
            Some("⚠️ quota; Retry-After: 16 seconds")
        );
        assert_eq!(
            run_error(&json!({"status": "timeout", "endedAt": 9})).as_deref(),
            Some("the run timed out on the gateway")
        );
        for still in [
            json!({"status": "timeout"}),
            json!({"status": "pending"}),
            json!({"status": "ok"}),
            json!(null),
        ] {
            assert_eq!(run_error(&still), None, "{still}");
        }
    }

    #[test]
    fn the_failed_message_is_found_by_run_id_or_terminal_key() {
        // Shape read off OpenClaw 2026.9.6 (a quota failure of run h-1).
        let history = json!({"messages": [
            {"role": "user", "idempotencyKey": "h-1:user", "timestamp": 100},
            {"role": "assistant", "stopReason": "error", "timestamp": 236,
             "idempotencyKey": "h-1:terminal-error", "__openclaw": {"runId": "h-1"}},
            {"role": "assistant", "stopReason": "error", "timestamp": 999,
             "__openclaw": {"runId": "other"}},
        ]});
        assert_eq!(failed_message_time(&history, "h-1"), Some(236));
        let by_key = json!({"messages": [{"role": "assistant", "stopReason": "error",
            "timestamp": 7, "idempotencyKey": "r2:terminal-error"}]});
        assert_eq!(failed_message_time(&by_key, "r2"), Some(7));
        assert_eq!(failed_message_time(&history, "missing"), None);
        assert_eq!(failed_message_time(&json!({}), "h-1"), None);
    }

    #[test]
    fn the_engine_reads_the_relayed_error_as_the_quota_it_was_with_its_hint() {
        // The error text as OpenClaw 2026.9.6's `agent.wait` relayed it for a quota 429.
        let error = "⚠️ ⚠️ ⚠️ You exceeded your current quota: daily usage limit reached. \
                     Please try again in 15.250s.; Retry-After: 16 seconds";
        let classifier = crate::classify::Classifier::new(Default::default()).unwrap();
        let c = classifier.classify(&failed_run_input("r", error, Some(1_000)), 5_000);
        assert_eq!(c.reason, Some(crate::reason::Reason::Quota), "{c:?}");
        // Counted from when the model call started (1 000), the later of the two hints (16 s).
        assert_eq!(c.reset_at_ms, Some(17_000), "{c:?}");
        assert!(c.relative_hint, "{c:?}");
    }

    #[test]
    fn the_park_input_carries_the_error_and_the_start_time() {
        let v = failed_run_input("resume:k:2", "429 quota", Some(42));
        assert_eq!(v["runId"], "resume:k:2");
        assert_eq!(v["messages"][0]["errorMessage"], "429 quota");
        assert_eq!(v["messages"][0]["timestamp"], 42);
        assert!(failed_run_input("r", "x", None)["messages"][0]
            .get("timestamp")
            .is_none());
    }
}
