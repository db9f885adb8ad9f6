//! Establishing a connection within the connect budget: startup retries after the gateway's
//! clamped `retryAfterMs`, other failures after capped exponential backoff with jitter, and
//! auth rejections returned at once.

use super::config::GatewayConfig;
use super::connection::Connection;
use super::device::DeviceIdentity;
use super::handshake::{handshake, ConnectFailure, ConnectRequest};
use super::reconnect::{startup_retry_delay_ms, Backoff, RESTART_BACKOFF_CAP_MS};
use super::redact::{display_url, Scrubber};
use crate::clock::SharedClock;
use crate::error::EngineError;
use crate::events::{Event, EventSink};
use crate::jitter::Jitter;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Everything one connect series needs.
pub(crate) struct Connector<'a> {
    pub cfg: &'a GatewayConfig,
    pub identity: Option<&'a DeviceIdentity>,
    pub clock: &'a SharedClock,
    pub jitter: &'a Jitter,
    pub events: &'a EventSink,
    pub scrubber: &'a Scrubber,
    /// Set when the client is closed: stop before the next attempt.
    pub cancelled: &'a AtomicBool,
    /// The previous connection ended with `event shutdown` (a restart is likely): failed
    /// attempts back off only up to [`RESTART_BACKOFF_CAP_MS`] so the client is back soon
    /// after the gateway. A `connect` answered "unavailable during gateway restart" switches
    /// to that schedule too.
    pub restart_expected: bool,
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
        let mut restarting = self.restart_expected;
        let mut backoff = if restarting {
            Backoff::capped(self.jitter.clone(), RESTART_BACKOFF_CAP_MS)
        } else {
            Backoff::new(self.jitter.clone())
        };
        let mut last = String::from("no attempt made");
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
                    if !restarting {
                        restarting = true;
                        backoff = Backoff::capped(self.jitter.clone(), RESTART_BACKOFF_CAP_MS);
                    }
                    backoff.next_delay_ms()
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
                    backoff.next_delay_ms()
                }
            };
            if self.clock.now_ms() + delay_ms as i64 >= deadline {
                return Err(self.unavailable(&url, &last));
            }
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
    }

    fn unavailable(&self, url: &str, last: &str) -> ConnectError {
        ConnectError::Other(EngineError::GatewayUnavailable(format!(
            "no connection to {url} within the {} ms connect budget (last error: {last}); \
             check that the gateway is running or raise `gateway.connectBudgetMs`",
            self.cfg.connect_budget_ms
        )))
    }
}
