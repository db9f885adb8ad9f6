//! Establishing a connection within the connect budget: startup retries after the gateway's
//! clamped `retryAfterMs`, other failures after capped exponential backoff with jitter, and
//! auth rejections returned at once.

use super::config::GatewayConfig;
use super::connection::Connection;
use super::device::DeviceIdentity;
use super::handshake::{handshake, ConnectFailure, ConnectRequest};
use super::reconnect::{startup_retry_delay_ms, ReconnectSchedule};
use super::redact::{display_url, Scrubber};
use crate::clock::SharedClock;
use crate::error::EngineError;
use crate::events::{Event, EventSink};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything one connect series needs.
pub(crate) struct Connector<'a> {
    pub cfg: &'a GatewayConfig,
    pub identity: Option<&'a DeviceIdentity>,
    pub clock: &'a SharedClock,
    pub events: &'a EventSink,
    pub scrubber: &'a Scrubber,
    /// Set when the client is closed: stop before the next attempt.
    pub cancelled: &'a AtomicBool,
    /// The client's reconnect schedule (shared by every series, reset only by an answered
    /// request). A previous connection that ended with `event shutdown`, or a `connect`
    /// answered "unavailable during gateway restart", caps it at 2 s so the client is back
    /// soon after a restarting gateway.
    pub schedule: &'a Mutex<ReconnectSchedule>,
}

/// Why a connect series gave up.
#[derive(Debug)]
pub(crate) enum ConnectError {
    /// Credentials rejected (terminal); the text is secret-free.
    Auth(String),
    /// Anything else, already an engine error.
    Other(EngineError),
}

impl Connector<'_> {
    /// Connect, retrying within `connect_budget_ms`.
    pub(crate) async fn connect(&self) -> Result<Arc<Connection>, ConnectError> {
        let url = display_url(&self.cfg.url);
        let budget = self.cfg.connect_budget_ms as i64;
        let deadline = self.clock.now_ms() + budget;
        let mut last = String::from("no attempt made");
        // A connection died since the last answer: wait one step before connecting again, so
        // a gateway that accepts the handshake and then drops every request sees a backoff.
        let owed = self.schedule().take_owed_delay_ms();
        if let Some(wait_ms) = owed {
            if self.clock.now_ms() + wait_ms as i64 >= deadline {
                return Err(self.unavailable(&url, "the previous connection dropped"));
            }
            tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        }
        loop {
            if self.cancelled.load(Ordering::SeqCst) {
                return Err(ConnectError::Other(EngineError::Closed));
            }
            let remaining = deadline - self.clock.now_ms();
            if remaining <= 0 {
                return Err(self.unavailable(&url, &last));
            }
            let attempt_ms = remaining.min(self.cfg.request_timeout_ms as i64) as u64;
            let req = ConnectRequest {
                cfg: self.cfg,
                identity: self.identity,
                now_ms: self.clock.now_ms(),
                scrubber: self.scrubber,
            };
            let outcome = match tokio::time::timeout(
                Duration::from_millis(attempt_ms),
                handshake(&req),
            )
            .await
            {
                Ok(result) => result,
                Err(_) => Err(ConnectFailure::Transient {
                    close_code: None,
                    message: format!("handshake with {url} took longer than {attempt_ms} ms"),
                }),
            };
            let delay_ms = match outcome {
                Ok((ws, _hello)) => {
                    (self.events)(Event::GatewayConnected { url: url.clone() });
                    return Ok(Connection::spawn(
                        ws,
                        self.events.clone(),
                        self.scrubber.clone(),
                    ));
                }
                Err(ConnectFailure::Starting { retry_after_ms }) => {
                    last = format!("gateway at {url} is still starting");
                    startup_retry_delay_ms(retry_after_ms)
                }
                Err(ConnectFailure::Auth {
                    close_code,
                    message,
                }) => {
                    (self.events)(Event::GatewayDisconnected {
                        code: close_code,
                        message: message.clone(),
                        terminal: true,
                    });
                    return Err(ConnectError::Auth(message));
                }
                Err(ConnectFailure::Restarting { message }) => {
                    (self.events)(Event::GatewayDisconnected {
                        code: None,
                        message: message.clone(),
                        terminal: false,
                    });
                    last = message;
                    self.schedule().restart_expected();
                    self.schedule().next_delay_ms()
                }
                Err(ConnectFailure::Protocol(message)) => {
                    return Err(ConnectError::Other(EngineError::GatewayProtocol(message)))
                }
                Err(ConnectFailure::Transient {
                    close_code,
                    message,
                }) => {
                    (self.events)(Event::GatewayDisconnected {
                        code: close_code,
                        message: message.clone(),
                        terminal: false,
                    });
                    last = message;
                    self.schedule().next_delay_ms()
                }
            };
            if self.clock.now_ms() + delay_ms as i64 >= deadline {
                return Err(self.unavailable(&url, &last));
            }
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
    }

    fn schedule(&self) -> std::sync::MutexGuard<'_, ReconnectSchedule> {
        self.schedule.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn unavailable(&self, url: &str, last: &str) -> ConnectError {
        ConnectError::Other(EngineError::GatewayUnavailable(format!(
            "no connection to {url} within the {} ms connect budget (last error: {last}); \
             check that the gateway is running or raise `gateway.connectBudgetMs`",
            self.cfg.connect_budget_ms
        )))
    }
}
