//! One established gateway connection: a writer task, a reader task that routes `res` frames to
//! waiting requests by id, and the bookkeeping that fails every waiting request when the socket
//! drops.

use super::frames::{InboundFrame, RequestFrame, ResponseFrame};
use super::handshake::WsStream;
use super::redact::Scrubber;
use crate::events::{Event, EventSink};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// How one request on a connection ended.
#[derive(Debug)]
pub(crate) enum CallOutcome {
    /// The gateway answered (ok or error).
    Answered(ResponseFrame),
    /// The socket dropped (or was already dropped) before the answer; the text says why.
    Dropped(String),
    /// No answer within the timeout; the connection stays usable.
    TimedOut,
}

#[derive(Default)]
struct Routing {
    pending: HashMap<String, oneshot::Sender<ResponseFrame>>,
    /// Set once the reader has stopped: no request can be routed any more.
    closed: bool,
    /// Why the connection ended or is ending (secret-free).
    reason: Option<String>,
}

/// A live connection after a successful handshake.
pub(crate) struct Connection {
    out: mpsc::UnboundedSender<Message>,
    routing: Arc<Mutex<Routing>>,
    /// False once the gateway announced shutdown or the socket dropped: use a new connection.
    usable: Arc<AtomicBool>,
    /// Set when we close it ourselves, so no disconnect event is reported.
    closed_by_us: Arc<AtomicBool>,
    /// Set once the gateway sent `event shutdown` (it stops or restarts).
    shutdown_announced: Arc<AtomicBool>,
    reader: JoinHandle<()>,
}

impl Connection {
    /// Start the reader and writer tasks over an authenticated socket.
    pub(crate) fn spawn(ws: WsStream, events: EventSink, scrubber: Scrubber) -> Arc<Self> {
        let (mut sink, mut stream) = ws.split();
        let (out, mut rx) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                let is_close = matches!(msg, Message::Close(_));
                if sink.send(msg).await.is_err() || is_close {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let routing = Arc::new(Mutex::new(Routing::default()));
        let usable = Arc::new(AtomicBool::new(true));
        let closed_by_us = Arc::new(AtomicBool::new(false));
        let shutdown_announced = Arc::new(AtomicBool::new(false));
        let reader = {
            let routing = routing.clone();
            let usable = usable.clone();
            let closed_by_us = closed_by_us.clone();
            let shutdown_announced = shutdown_announced.clone();
            tokio::spawn(async move {
                let mut close_code = None;
                let mut why = "gateway connection dropped".to_owned();
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(Message::Text(text)) => match InboundFrame::parse(text.as_str()) {
                            Some(InboundFrame::Response(res)) => {
                                let waiter = lock(&routing).pending.remove(&res.id);
                                if let Some(tx) = waiter {
                                    let _ = tx.send(res);
                                }
                            }
                            Some(InboundFrame::Event(e)) if e.event == "shutdown" => {
                                shutdown_announced.store(true, Ordering::SeqCst);
                                usable.store(false, Ordering::SeqCst);
                                lock(&routing).reason = Some("gateway is shutting down".into());
                            }
                            _ => {}
                        },
                        Ok(Message::Close(frame)) => {
                            if let Some(f) = frame {
                                close_code = Some(u16::from(f.code));
                                why = scrubber.scrub(&format!(
                                    "gateway closed the connection ({} {})",
                                    u16::from(f.code),
                                    f.reason
                                ));
                            } else {
                                why = "gateway closed the connection".into();
                            }
                            break;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            why = scrubber.scrub(&format!("gateway connection failed: {e}"));
                            break;
                        }
                    }
                }
                usable.store(false, Ordering::SeqCst);
                let message = {
                    let mut r = lock(&routing);
                    r.closed = true;
                    r.pending.clear();
                    let message = match r.reason.take() {
                        Some(first) => format!("{first}; {why}"),
                        None => why,
                    };
                    r.reason = Some(message.clone());
                    message
                };
                if !closed_by_us.load(Ordering::SeqCst) {
                    events(Event::GatewayDisconnected {
                        code: close_code,
                        message,
                        terminal: false,
                    });
                }
            })
        };
        Arc::new(Self {
            out,
            routing,
            usable,
            closed_by_us,
            shutdown_announced,
            reader,
        })
    }

    /// Whether new requests may use this connection.
    pub(crate) fn is_usable(&self) -> bool {
        self.usable.load(Ordering::SeqCst) && !self.reader.is_finished()
    }

    /// Whether the gateway announced a shutdown on this connection (`event shutdown`): it
    /// stops or restarts, so a reconnect should poll briefly rather than back off far.
    pub(crate) fn shutdown_announced(&self) -> bool {
        self.shutdown_announced.load(Ordering::SeqCst)
    }

    /// Send `method` and wait up to `timeout` for its response.
    pub(crate) async fn call(
        &self,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> CallOutcome {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        {
            let mut r = lock(&self.routing);
            if r.closed {
                return CallOutcome::Dropped(self.drop_reason(&r));
            }
            r.pending.insert(id.clone(), tx);
        }
        let text = RequestFrame::new(&id, method, params).to_text();
        if self.out.send(Message::text(text)).is_err() {
            let r = &mut lock(&self.routing);
            r.pending.remove(&id);
            return CallOutcome::Dropped(self.drop_reason(r));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(res)) => CallOutcome::Answered(res),
            Ok(Err(_)) => CallOutcome::Dropped(self.drop_reason(&lock(&self.routing))),
            Err(_) => {
                lock(&self.routing).pending.remove(&id);
                CallOutcome::TimedOut
            }
        }
    }

    fn drop_reason(&self, r: &Routing) -> String {
        r.reason
            .clone()
            .unwrap_or_else(|| "gateway connection dropped".into())
    }

    /// Close the connection without reporting a disconnect event.
    pub(crate) fn close(&self) {
        self.closed_by_us.store(true, Ordering::SeqCst);
        self.usable.store(false, Ordering::SeqCst);
        let _ = self.out.send(Message::Close(None));
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !self.reader.is_finished() {
            self.close();
            self.reader.abort();
        }
    }
}

fn lock(m: &Mutex<Routing>) -> std::sync::MutexGuard<'_, Routing> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
