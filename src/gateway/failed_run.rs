//! Before a resend: has the failed run really ended? OpenClaw retries some failures itself
//! inside the run (a per-minute 429: 5–10 attempts, one `agent_end` each), so the failure an
//! entry was parked on may not be the run's last. Compare-and-send asks `agent.wait {runId,
//! timeoutMs}` about the failed run (read off OpenClaw 2026.9.6, `agent-job` in its dist): a
//! final outcome is answered at once from the gateway's cache (`status:"error"` with `endedAt`
//! and the relayed `error`); an attempt that failed and may still be retried is held for a
//! 15 s grace and answered at the wait's end as `status:"timeout", pendingError:true`; a run
//! the gateway does not know (a restart, an evicted cache) as a bare `status:"timeout"`.

use super::run_wait::run_error;
use serde_json::Value;

/// How long compare-and-send's `agent.wait` about the failed run waits (ms): a final outcome
/// is answered at once, a pending retry at the end of this.
pub const FAILED_RUN_WAIT_MS: u64 = 100;

/// What the gateway says of the failed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailedRun {
    /// An attempt failed and the gateway may still retry it, or it is still running.
    Retrying,
    /// It ended on this failure (`error` as the gateway relays it) at `ended_at_ms`.
    Failed {
        /// The relayed error text.
        error: String,
        /// When it ended (gateway epoch ms), when said.
        ended_at_ms: Option<i64>,
    },
    /// It ended some other way (`ok`), or the gateway cannot say: the history decides alone.
    Unknown,
}

/// Judge an `agent.wait` answer about the failed run.
pub fn judge_failed_run(answer: &Value) -> FailedRun {
    if answer["pendingError"] == Value::Bool(true) || answer["status"] == "pending" {
        return FailedRun::Retrying;
    }
    match run_error(answer) {
        Some(error) => FailedRun::Failed {
            error,
            ended_at_ms: answer["endedAt"].as_i64(),
        },
        None => FailedRun::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pending_error_is_a_retry_and_a_final_error_is_the_runs_end() {
        // Shapes read off OpenClaw 2026.9.6.
        let pending = json!({"runId": "r", "status": "timeout", "pendingError": true,
            "error": "429 Rate limit reached for requests per min"});
        assert_eq!(judge_failed_run(&pending), FailedRun::Retrying);
        assert_eq!(
            judge_failed_run(&json!({"runId": "r", "status": "pending", "timeoutPhase": "queue"})),
            FailedRun::Retrying
        );
        let end = json!({"runId": "r", "status": "error", "endedAt": 1_796_185_217_619_i64,
            "error": "⚠️ ⚠️ ⚠️ You exceeded your current quota; Retry-After: 30 seconds"});
        assert_eq!(
            judge_failed_run(&end),
            FailedRun::Failed {
                error: "⚠️ ⚠️ ⚠️ You exceeded your current quota; Retry-After: 30 seconds".into(),
                ended_at_ms: Some(1_796_185_217_619),
            }
        );
        for unknown in [
            json!({"runId": "r", "status": "timeout"}),
            json!({"runId": "r", "status": "ok"}),
            json!({"method": "agent.wait"}),
            json!(null),
        ] {
            assert_eq!(judge_failed_run(&unknown), FailedRun::Unknown, "{unknown}");
        }
    }
}
