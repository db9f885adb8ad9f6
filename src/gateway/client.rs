//! The gateway client: one lazily opened, reused connection; requests correlated by id with a
//! per-request timeout; reconnect within a budget; terminal, fail-fast auth errors.

use super::config::GatewayConfig;
use super::connection::{CallOutcome, Connection};
use super::connector::{ConnectError, Connector};
use super::device::DeviceIdentity;
use super::failed_run::{judge_failed_run, FailedRun, FAILED_RUN_WAIT_MS};
use super::reconnect::{startup_retry_delay_ms, ReconnectSchedule};
use super::redact::Scrubber;
use super::run_wait::{failed_message_time, failed_run_input};
use super::session_check::{judge_history, PendingResend, SessionVerdict, HISTORY_LIMIT};
use crate::clock::SharedClock;
use crate::error::{EngineError, EngineResult};
use crate::events::EventSink;
use crate::jitter::Jitter;
use crate::resender::{FinalFailureCheck, NotDue};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// What [`GatewayClient::compare_and_send`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckedSend {
    /// The session still ended in the failed turn; `chat.send` was acknowledged.
    Sent(ChatAck),
    /// Not sent: the failed run is still running (the gateway retries it).
    StillRunning(String),
    /// Not sent: the session moved on.
    MovedOn(String),
    /// Not sent: the failed run ended after it was parked, on a failure whose retry time the
    /// caller's [`FinalFailureCheck`] says is still ahead.
    NotDue(NotDue),
}

/// The gateway's acknowledgement of `chat.send`. Serialised as `{runId, status}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatAck {
    /// The run id (`runId`), when the gateway reports one.
    pub run_id: Option<String>,
    /// `started` for a new run; `in_flight` or `ok` when the idempotency key was seen before.
    pub status: String,
}

/// A WebSocket client of the OpenClaw gateway (protocol v4). Cheap to clone; clones share the
/// connection. Never puts the token or password into an error, an event or `Debug` output.
#[derive(Clone)]
pub struct GatewayClient {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: RwLock<GatewayConfig>,
    clock: SharedClock,
    events: EventSink,
    /// Survives connect series; reset only when a request is answered.
    schedule: Mutex<ReconnectSchedule>,
    conn: tokio::sync::Mutex<Option<Arc<Connection>>>,
    /// Set after the gateway rejected the credentials; calls fail fast until reset.
    auth_failure: Mutex<Option<String>>,
    identity: Mutex<Option<DeviceIdentity>>,
    closed: AtomicBool,
}

/// How one call failed before it could be mapped to an engine error.
enum CallFailure {
    /// The connection dropped before the answer; a resend may be safe.
    Dropped(String),
    /// The gateway answered `UNAVAILABLE` (or `retryable: true`), e.g. `chat.send unavailable
    /// during gateway restart` while it drains for a restart: the request was not run.
    Retryable {
        /// Secret-free `CODE: message` text.
        message: String,
        /// The gateway's `retryAfterMs`, if any.
        retry_after_ms: Option<u64>,
    },
    Engine(EngineError),
}

impl std::fmt::Debug for GatewayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayClient")
            .field("cfg", &*read(&self.inner.cfg))
            .field("auth_failed", &lock(&self.inner.auth_failure).is_some())
            .field("closed", &self.inner.closed.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl GatewayClient {
    /// A client for `cfg` (validated here). Nothing is opened until the first call.
    pub fn new(
        cfg: GatewayConfig,
        clock: SharedClock,
        jitter: Jitter,
        events: EventSink,
    ) -> EngineResult<Self> {
        cfg.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                cfg: RwLock::new(cfg),
                clock,
                schedule: Mutex::new(ReconnectSchedule::new(jitter)),
                events,
                conn: tokio::sync::Mutex::new(None),
                auth_failure: Mutex::new(None),
                identity: Mutex::new(None),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// `chat.send {sessionKey, message, idempotencyKey}` and read the ack. If the connection
    /// drops before the ack, or the gateway answers `UNAVAILABLE` (it drains for a restart),
    /// it is sent again with the same idempotency key (the gateway runs a key once) until
    /// `connect_budget_ms` after the first attempt: after a drop at once (the reconnect backs
    /// off), after `UNAVAILABLE` once the gateway's clamped `retryAfterMs` has passed.
    pub async fn chat_send(
        &self,
        session_key: &str,
        message: &str,
        idempotency_key: &str,
    ) -> EngineResult<ChatAck> {
        if session_key.trim().is_empty() {
            return Err(EngineError::input(
                "sessionKey",
                "must be a non-empty OpenClaw session key",
            ));
        }
        if idempotency_key.trim().is_empty() {
            return Err(EngineError::input(
                "idempotencyKey",
                "must be non-empty and stable per attempt",
            ));
        }
        let params = json!({
            "sessionKey": session_key,
            "message": message,
            "idempotencyKey": idempotency_key,
        });
        self.retrying("chat.send", |conn| {
            let params = &params;
            async move {
                let payload = self.call_on(&conn, "chat.send", params).await?;
                parse_ack(&payload).map_err(CallFailure::Engine)
            }
        })
        .await
    }

    /// Compare-and-send: on one connection, read the session's `chat.history` and send
    /// `chat.send` only when the session still ends in the failed turn (see
    /// [`judge_history`]). When the entry names its failed run (and it is not this resend's),
    /// the gateway is also asked whether that run is final (`agent.wait`, see
    /// [`judge_failed_run`]): a run the gateway may still retry waits ([`CheckedSend::StillRunning`]),
    /// and a run whose last attempt started after the entry last recorded a failure is judged
    /// by `final_check` on its final failure — the failure the entry was parked on was an
    /// earlier attempt, maybe with a shorter hint. Retried like
    /// [`GatewayClient::chat_send`], checking again on the new connection.
    pub async fn compare_and_send(
        &self,
        pending: PendingResend<'_>,
        message: &str,
        final_check: Option<&FinalFailureCheck>,
    ) -> EngineResult<CheckedSend> {
        if pending.session_key.trim().is_empty() || pending.idempotency_key.trim().is_empty() {
            return Err(EngineError::input(
                "sessionKey",
                "session key and idempotency key must be non-empty",
            ));
        }
        let history = json!({"sessionKey": pending.session_key, "limit": HISTORY_LIMIT});
        let send = json!({
            "sessionKey": pending.session_key,
            "message": message,
            "idempotencyKey": pending.idempotency_key,
        });
        self.retrying("chat.send", |conn| {
            let (history, send) = (&history, &send);
            async move {
                let seen = self.call_on(&conn, "chat.history", history).await?;
                match judge_history(&seen, pending) {
                    SessionVerdict::Unchanged => {}
                    SessionVerdict::StillRunning(why) => return Ok(CheckedSend::StillRunning(why)),
                    SessionVerdict::MovedOn(why) => return Ok(CheckedSend::MovedOn(why)),
                }
                if let Some(checked) = self
                    .failed_run_verdict(&conn, &seen, pending, final_check)
                    .await?
                {
                    return Ok(checked);
                }
                let payload = self.call_on(&conn, "chat.send", send).await?;
                parse_ack(&payload)
                    .map(CheckedSend::Sent)
                    .map_err(CallFailure::Engine)
            }
        })
        .await
    }

    /// Compare-and-send's question about the failed run (see [`GatewayClient::compare_and_send`]):
    /// `Some` when it must not be sent now. A gateway that refuses `agent.wait` leaves the
    /// history to decide alone.
    async fn failed_run_verdict(
        &self,
        conn: &Connection,
        history: &Value,
        pending: PendingResend<'_>,
        final_check: Option<&FinalFailureCheck>,
    ) -> Result<Option<CheckedSend>, CallFailure> {
        let Some(failed) = pending
            .failed_run_id
            .filter(|run| *run != pending.idempotency_key)
        else {
            return Ok(None);
        };
        let params = json!({"runId": failed, "timeoutMs": FAILED_RUN_WAIT_MS});
        let answer = match self.call_on(conn, "agent.wait", &params).await {
            Ok(answer) => answer,
            Err(CallFailure::Engine(
                EngineError::GatewayRequest { .. } | EngineError::GatewayTimeout(_),
            )) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(match judge_failed_run(&answer) {
            FailedRun::Retrying => Some(CheckedSend::StillRunning(format!(
                "the failed run {failed} failed an attempt the gateway may still retry"
            ))),
            FailedRun::Failed { error, ended_at_ms } => {
                let started_at = failed_message_time(history, failed);
                let ended_at = ended_at_ms
                    .or(started_at)
                    .unwrap_or_else(|| self.inner.clock.now_ms());
                // The entry recorded a failure after the run's last attempt started (the
                // failed message's `timestamp`; OpenClaw 2026.9.6 delivers a run's `agent_end`
                // before its `endedAt`): it holds that attempt's failure already, and the due
                // time it has is its own (or an operator's `retryNow`).
                if started_at.unwrap_or(ended_at) <= pending.last_failed_at_ms {
                    return Ok(None);
                }
                let agent_end = failed_run_input(failed, &error, started_at);
                final_check
                    .and_then(|check| check(&agent_end, ended_at))
                    .map(CheckedSend::NotDue)
            }
            FailedRun::Unknown => None,
        })
    }

    /// Run `attempt` on the shared connection. If the connection drops before the answer, or
    /// the gateway answers `UNAVAILABLE` (it drains for a restart), run it again (at most once
    /// per new connection; the reconnect backs off) until `connect_budget_ms` after the first
    /// attempt: after a drop at once, after `UNAVAILABLE` once the gateway's clamped
    /// `retryAfterMs` has passed.
    async fn retrying<T, F, Fut>(&self, method: &str, mut attempt: F) -> EngineResult<T>
    where
        F: FnMut(Arc<Connection>) -> Fut,
        Fut: std::future::Future<Output = Result<T, CallFailure>>,
    {
        let budget_ms = read(&self.inner.cfg).connect_budget_ms as i64;
        let deadline = self.inner.clock.now_ms() + budget_ms;
        loop {
            let conn = self.connection().await?;
            let failure = match attempt(conn).await {
                Ok(v) => return Ok(v),
                Err(f @ CallFailure::Engine(_)) => return Err(to_engine_error(method, f)),
                Err(f) => f,
            };
            let delay_ms = match &failure {
                CallFailure::Retryable { retry_after_ms, .. } => {
                    startup_retry_delay_ms(*retry_after_ms)
                }
                _ => 0,
            };
            if self.inner.closed.load(Ordering::SeqCst)
                || self.inner.clock.now_ms() + delay_ms as i64 >= deadline
            {
                return Err(to_engine_error(method, failure));
            }
            if delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
        }
    }

    /// Open the shared connection now if it is not open (within the connect budget), so that
    /// the next request does not wait for the handshake. Sends no request.
    pub async fn warm(&self) -> EngineResult<()> {
        self.connection().await.map(|_| ())
    }

    /// Send any request (e.g. `cron.list`) and return its payload (`null` when none).
    pub async fn request(&self, method: &str, params: Value) -> EngineResult<Value> {
        if method.trim().is_empty() {
            return Err(EngineError::input(
                "method",
                "must be a gateway method such as chat.send",
            ));
        }
        self.call(method, &params)
            .await
            .map_err(|f| to_engine_error(method, f))
    }

    /// Close the connection. Later calls fail with `EngineError::Closed`; a connect in progress
    /// gives up at its next attempt.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        // A connect in progress holds the slot; it sees `closed` and discards its connection.
        if let Ok(mut slot) = self.inner.conn.try_lock() {
            if let Some(conn) = slot.take() {
                conn.close();
            }
        }
    }

    /// Forget a terminal auth failure so the next call connects again.
    pub fn reset_auth(&self) {
        *lock(&self.inner.auth_failure) = None;
    }

    /// Replace the configuration (e.g. a new token): validates it, clears a terminal auth
    /// failure and closes the current connection so the next call uses the new settings.
    pub async fn set_config(&self, cfg: GatewayConfig) -> EngineResult<()> {
        cfg.validate()?;
        let mut conn = self.inner.conn.lock().await;
        let identity_path_changed = read(&self.inner.cfg).device_identity != cfg.device_identity;
        *write(&self.inner.cfg) = cfg;
        if identity_path_changed {
            *lock(&self.inner.identity) = None;
        }
        self.reset_auth();
        if let Some(old) = conn.take() {
            old.close();
        }
        Ok(())
    }

    /// The terminal auth error, if the gateway rejected the credentials.
    pub fn auth_failure(&self) -> Option<EngineError> {
        lock(&self.inner.auth_failure)
            .clone()
            .map(EngineError::GatewayAuth)
    }

    async fn call(&self, method: &str, params: &Value) -> Result<Value, CallFailure> {
        let conn = self.connection().await.map_err(CallFailure::Engine)?;
        self.call_on(&conn, method, params).await
    }

    /// Send `method` on the shared connection and wait up to `timeout_ms` for its answer
    /// (instead of `request_timeout_ms`): for requests the gateway itself holds, such as
    /// `agent.wait`. Not retried; a dropped connection is `E_GATEWAY_UNAVAILABLE`.
    pub(crate) async fn request_within(
        &self,
        method: &str,
        params: &Value,
        timeout_ms: u64,
    ) -> EngineResult<Value> {
        let conn = self.connection().await?;
        self.call_on_within(&conn, method, params, timeout_ms)
            .await
            .map_err(|f| to_engine_error(method, f))
    }

    async fn call_on(
        &self,
        conn: &Connection,
        method: &str,
        params: &Value,
    ) -> Result<Value, CallFailure> {
        let timeout_ms = read(&self.inner.cfg).request_timeout_ms;
        self.call_on_within(conn, method, params, timeout_ms).await
    }

    async fn call_on_within(
        &self,
        conn: &Connection,
        method: &str,
        params: &Value,
        timeout_ms: u64,
    ) -> Result<Value, CallFailure> {
        let outcome = conn
            .call(method, params, Duration::from_millis(timeout_ms))
            .await;
        match &outcome {
            CallOutcome::Answered(_) => lock(&self.inner.schedule).healthy(),
            CallOutcome::Dropped(_) => lock(&self.inner.schedule).dropped(),
            CallOutcome::TimedOut => {}
        }
        match outcome {
            CallOutcome::Answered(res) if res.ok => Ok(res.payload.unwrap_or(Value::Null)),
            CallOutcome::Answered(res) => {
                let scrubber = self.scrubber();
                let (code, message) = match res.error {
                    Some(e) if e.code == "UNAVAILABLE" || e.retryable == Some(true) => {
                        return Err(CallFailure::Retryable {
                            message: scrubber.scrub(&format!("{}: {}", e.code, e.message)),
                            retry_after_ms: e.retry_after_ms,
                        })
                    }
                    Some(e) => (e.code, scrubber.scrub(&e.message)),
                    None => ("UNKNOWN".into(), "error response without details".into()),
                };
                Err(CallFailure::Engine(EngineError::GatewayRequest {
                    method: method.to_owned(),
                    code,
                    message,
                }))
            }
            CallOutcome::Dropped(why) => Err(CallFailure::Dropped(why)),
            CallOutcome::TimedOut => Err(CallFailure::Engine(EngineError::GatewayTimeout(
                format!("`{method}` got no answer within {timeout_ms} ms"),
            ))),
        }
    }

    /// The shared connection, opened (within the connect budget) when missing or dropped.
    async fn connection(&self) -> EngineResult<Arc<Connection>> {
        self.fail_fast()?;
        let mut slot = self.inner.conn.lock().await;
        self.fail_fast()?;
        if let Some(conn) = slot.as_ref().filter(|c| c.is_usable()) {
            return Ok(conn.clone());
        }
        if let Some(dead) = slot.take() {
            let mut schedule = lock(&self.inner.schedule);
            schedule.dropped();
            if dead.shutdown_announced() {
                schedule.restart_expected();
            }
        }
        let cfg = read(&self.inner.cfg).clone();
        let identity = self.identity(&cfg)?;
        let scrubber = self.scrubber();
        let connector = Connector {
            cfg: &cfg,
            identity: identity.as_ref(),
            clock: &self.inner.clock,
            events: &self.inner.events,
            scrubber: &scrubber,
            cancelled: &self.inner.closed,
            schedule: &self.inner.schedule,
        };
        match connector.connect().await {
            Ok(conn) if self.inner.closed.load(Ordering::SeqCst) => {
                conn.close();
                Err(EngineError::Closed)
            }
            Ok(conn) => {
                *slot = Some(conn.clone());
                Ok(conn)
            }
            Err(ConnectError::Auth(message)) => {
                *lock(&self.inner.auth_failure) = Some(message.clone());
                Err(EngineError::GatewayAuth(message))
            }
            Err(ConnectError::Other(e)) => Err(e),
        }
    }

    fn fail_fast(&self) -> EngineResult<()> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(EngineError::Closed);
        }
        match self.auth_failure() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn identity(&self, cfg: &GatewayConfig) -> EngineResult<Option<DeviceIdentity>> {
        let Some(path) = &cfg.device_identity else {
            return Ok(None);
        };
        let mut cached = lock(&self.inner.identity);
        if cached.is_none() {
            *cached = Some(DeviceIdentity::load_or_create(path)?);
        }
        Ok(cached.clone())
    }

    fn scrubber(&self) -> Scrubber {
        let cfg = read(&self.inner.cfg);
        Scrubber::new(
            [cfg.token.as_deref(), cfg.password.as_deref()]
                .into_iter()
                .flatten(),
        )
    }
}

/// A failed call as an engine error; drops and `UNAVAILABLE` answers are `GatewayUnavailable`
/// (retryable, `E_GATEWAY_UNAVAILABLE`).
fn to_engine_error(method: &str, failure: CallFailure) -> EngineError {
    match failure {
        CallFailure::Engine(e) => e,
        CallFailure::Dropped(why) => EngineError::GatewayUnavailable(format!(
            "connection dropped before the answer to `{method}` ({why}); retry later"
        )),
        CallFailure::Retryable { message, .. } => EngineError::GatewayUnavailable(format!(
            "the gateway did not run `{method}` ({message}); retry later"
        )),
    }
}

fn parse_ack(payload: &Value) -> EngineResult<ChatAck> {
    let status = payload
        .get("status")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            EngineError::GatewayProtocol(format!(
                "chat.send ack has no `status` (got {})",
                truncate(&payload.to_string(), 200)
            ))
        })?;
    Ok(ChatAck {
        run_id: payload
            .get("runId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        status: status.to_owned(),
    })
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_acks() {
        let a = parse_ack(&json!({"runId":"r1","status":"started"})).unwrap();
        assert_eq!(
            a,
            ChatAck {
                run_id: Some("r1".into()),
                status: "started".into()
            }
        );
        let e = parse_ack(&json!({"runId":"r1"})).unwrap_err();
        assert_eq!(e.code(), "E_GATEWAY_PROTOCOL");
    }
}
