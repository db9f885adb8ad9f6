//! Compare before a resend: read the session's `chat.history` and decide whether it still ends
//! in the failed turn (resend) or moved on (drop the entry as superseded).
//!
//! Shape read off OpenClaw 2026.9.6 (`__test__/e2e/PROTOCOL-NOTES.md`): `{messages:[{role,
//! stopReason?, idempotencyKey?, …}], sessionInfo:{status, hasActiveRun, activeRunIds?,
//! lastRunId?}, inFlightRun?:{runId}}`. A failed run leaves `…:user` + an assistant message with
//! `stopReason:"error"` (`<runId>:terminal-error`); a success an assistant message with another
//! `stopReason`; a run in flight `sessionInfo.hasActiveRun:true` and `inFlightRun.runId`.

use serde_json::Value;

/// How many of a session's latest messages are read from `chat.history` (its `limit`), both to
/// compare before a resend and to find a failed run's message: enough for a failed turn and
/// the gateway's own retries of it.
pub(crate) const HISTORY_LIMIT: u64 = 20;

/// What the history says about a pending resend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionVerdict {
    /// The session still ends in the failed turn (or in our own resend): send.
    Unchanged,
    /// The failed run itself is still running (the gateway retries it): wait, do not send.
    StillRunning(String),
    /// The session moved on (a later user message, a successful reply, another run in
    /// flight): do not send.
    MovedOn(String),
}

/// What we are about to send and what failed.
#[derive(Debug, Clone, Copy)]
pub struct PendingResend<'a> {
    /// The session key.
    pub session_key: &'a str,
    /// The idempotency key of this resend (the gateway uses it as the runId).
    pub idempotency_key: &'a str,
    /// The run that failed, when the parker recorded it (`meta.runId`).
    pub failed_run_id: Option<&'a str>,
    /// When the entry last recorded a failure (epoch ms): a failed run whose last attempt
    /// started later ended on a failure the entry has not seen.
    pub last_failed_at_ms: i64,
}

/// Judge a `chat.history` payload for `pending`.
pub fn judge_history(history: &Value, pending: PendingResend<'_>) -> SessionVerdict {
    let ours = |run: &str| run == pending.idempotency_key;
    let own_resend = |idem: &str| {
        idem == format!("{}:user", pending.idempotency_key)
            || idem.starts_with(&format!("resume:{}:", pending.session_key))
    };
    let info = &history["sessionInfo"];
    let mut active: Vec<&str> = info["activeRunIds"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(run) = history["inFlightRun"]["runId"].as_str() {
        active.push(run);
    }
    if active.iter().any(|r| ours(r)) {
        return SessionVerdict::Unchanged;
    }
    if let Some(failed) = pending.failed_run_id {
        if active.contains(&failed) {
            return SessionVerdict::StillRunning(format!(
                "the failed run {failed} is still running (the gateway retries it)"
            ));
        }
    }
    let running = info["hasActiveRun"].as_bool() == Some(true)
        || info["status"].as_str() == Some("running")
        || !active.is_empty();
    if running {
        return SessionVerdict::MovedOn("another run is in flight in the session".into());
    }
    let messages = history["messages"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let idem = |m: &Value| m["idempotencyKey"].as_str().unwrap_or("").to_string();
    let last_user = messages.iter().rev().find(|m| m["role"] == "user");
    if last_user.is_some_and(|m| idem(m) == format!("{}:user", pending.idempotency_key)) {
        return SessionVerdict::Unchanged;
    }
    let Some(last) = messages.last() else {
        return SessionVerdict::Unchanged;
    };
    match last["role"].as_str() {
        Some("assistant") if last["stopReason"] == "error" => SessionVerdict::Unchanged,
        Some("assistant") => {
            SessionVerdict::MovedOn("a successful reply came after the failure".into())
        }
        Some("user") if own_resend(&idem(last)) => SessionVerdict::Unchanged,
        // The failed run's own message, its error not written yet (OpenClaw 2026.9.6 marks the
        // session `failed` ~100 ms before it appends the `<runId>:terminal-error` message): the
        // failed turn itself, not a later one. Whether the run is final is asked of the gateway
        // before sending (`GatewayClient::compare_and_send`).
        Some("user")
            if pending
                .failed_run_id
                .is_some_and(|run| idem(last) == format!("{run}:user")) =>
        {
            SessionVerdict::Unchanged
        }
        Some("user") => SessionVerdict::MovedOn("a later user message".into()),
        _ => SessionVerdict::MovedOn("the session moved on since the failure".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const P: PendingResend<'static> = PendingResend {
        session_key: "agent:main:s",
        idempotency_key: "resume:agent:main:s:2",
        failed_run_id: Some("run-1"),
        last_failed_at_ms: 0,
    };

    fn user(idem: &str) -> Value {
        json!({"role":"user","content":"hi","idempotencyKey": idem})
    }
    fn failed(run: &str) -> Value {
        json!({"role":"assistant","stopReason":"error","idempotencyKey": format!("{run}:terminal-error")})
    }
    fn reply() -> Value {
        json!({"role":"assistant","stopReason":"stop","content":[{"type":"text","text":"done"}]})
    }
    fn history(messages: Vec<Value>, info: Value) -> Value {
        json!({"messages": messages, "sessionInfo": info})
    }
    fn idle() -> Value {
        json!({"status":"failed","hasActiveRun":false,"activeRunIds":[]})
    }

    #[test]
    fn a_session_that_ends_in_the_failed_turn_is_resent() {
        let h = history(vec![user("run-1:user"), failed("run-1")], idle());
        assert_eq!(judge_history(&h, P), SessionVerdict::Unchanged);
        // An older failure of an earlier resend of ours, or no history at all: still resend.
        let h = history(
            vec![user("resume:agent:main:s:1:user"), failed("x")],
            idle(),
        );
        assert_eq!(judge_history(&h, P), SessionVerdict::Unchanged);
        assert_eq!(judge_history(&json!({}), P), SessionVerdict::Unchanged);
        // Our earlier resend whose run the gateway lost in a restart.
        let h = history(
            vec![
                user("run-1:user"),
                failed("run-1"),
                user("resume:agent:main:s:1:user"),
            ],
            idle(),
        );
        assert_eq!(judge_history(&h, P), SessionVerdict::Unchanged);
    }

    #[test]
    fn the_failed_runs_own_message_before_its_error_is_written_is_the_failed_turn() {
        // Read off OpenClaw 2026.9.6: `status:"failed"`, the run's `:user` message last.
        let h = history(vec![user("run-1:user")], idle());
        assert_eq!(judge_history(&h, P), SessionVerdict::Unchanged);
        // Another run's message last is still a later turn.
        let h = history(
            vec![user("run-1:user"), failed("run-1"), user("run-2:user")],
            idle(),
        );
        assert!(matches!(judge_history(&h, P), SessionVerdict::MovedOn(_)));
        let unknown = PendingResend {
            failed_run_id: None,
            ..P
        };
        let h = history(vec![user("run-1:user")], idle());
        assert!(matches!(
            judge_history(&h, unknown),
            SessionVerdict::MovedOn(_)
        ));
    }

    #[test]
    fn a_later_user_message_or_reply_supersedes() {
        let h = history(
            vec![user("run-1:user"), failed("run-1"), user("by-hand:user")],
            idle(),
        );
        assert!(
            matches!(judge_history(&h, P), SessionVerdict::MovedOn(w) if w.contains("user message"))
        );
        let h = history(
            vec![
                user("run-1:user"),
                failed("run-1"),
                user("by-hand:user"),
                reply(),
            ],
            json!({"status":"done","hasActiveRun":false}),
        );
        assert!(matches!(judge_history(&h, P), SessionVerdict::MovedOn(w) if w.contains("reply")));
    }

    #[test]
    fn runs_in_flight_wait_or_supersede_unless_they_are_ours() {
        let running = |run: &str| {
            let mut h = history(
                vec![
                    user("run-1:user"),
                    failed("run-1"),
                    user(&format!("{run}:user")),
                ],
                json!({"status":"running","hasActiveRun":true}),
            );
            h["inFlightRun"] = json!({"runId": run});
            h
        };
        assert_eq!(
            judge_history(&running("resume:agent:main:s:2"), P),
            SessionVerdict::Unchanged
        );
        assert!(matches!(
            judge_history(&running("run-1"), P),
            SessionVerdict::StillRunning(_)
        ));
        assert!(matches!(
            judge_history(&running("restart-rerun"), P),
            SessionVerdict::MovedOn(_)
        ));
        // Our own resend already answered: sending again is idempotent, not a supersede.
        let h = history(
            vec![failed("run-1"), user("resume:agent:main:s:2:user"), reply()],
            idle(),
        );
        assert_eq!(judge_history(&h, P), SessionVerdict::Unchanged);
    }
}
