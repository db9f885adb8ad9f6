//! Closing with a grace period (`close({ timeoutMs })`): resends already in flight get up to
//! the bound to finish before the scheduler cancels them. Resends the scheduler starts while
//! the engine drains are held back: they wait until shutdown cancels them, so their entries
//! go back to parked (same due time, same idempotency key) without calling the resender.

use crate::resender::{ResendFuture, ResendRequest, Resender};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Shared state of the draining wrapper.
#[derive(Debug, Default)]
pub(crate) struct Drain {
    draining: AtomicBool,
    in_flight: AtomicUsize,
    idle: Notify,
}

impl Drain {
    /// Stop handing new resends to the resender and wait until the ones in flight are done,
    /// at most `grace`. Returns whether they all finished in time.
    pub(crate) async fn drain(&self, grace: Duration) -> bool {
        self.draining.store(true, Ordering::SeqCst);
        let idle = async {
            loop {
                let notified = self.idle.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.in_flight.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(grace, idle).await.is_ok()
    }

    /// Resends currently running in the resender.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}

/// Counts one resend in flight for as long as it lives.
struct InFlight<'a>(&'a Drain);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A [`Resender`] that tracks its in-flight resends for [`Drain::drain`].
pub(crate) struct DrainingResender {
    inner: Arc<dyn Resender>,
    drain: Arc<Drain>,
}

impl DrainingResender {
    /// Wrap `inner`; `drain` is the handle `close` uses.
    pub(crate) fn new(inner: Arc<dyn Resender>, drain: Arc<Drain>) -> Self {
        Self { inner, drain }
    }
}

impl Resender for DrainingResender {
    fn resend(&self, req: ResendRequest) -> ResendFuture<'_> {
        Box::pin(async move {
            if self.drain.draining.load(Ordering::SeqCst) {
                // Held back until shutdown cancels this future (the entry is parked again).
                std::future::pending::<()>().await;
            }
            self.drain.in_flight.fetch_add(1, Ordering::SeqCst);
            let _guard = InFlight(&self.drain);
            self.inner.resend(req).await
        })
    }

    fn prepare(&self) -> crate::resender::PrepareFuture<'_> {
        if self.drain.draining.load(Ordering::SeqCst) {
            return Box::pin(async {});
        }
        self.inner.prepare()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EngineResult;
    use crate::resender::ResendOutcome;
    use std::sync::Mutex;

    /// Resends that finish only when their gate is opened.
    struct Gated(Mutex<Vec<tokio::sync::oneshot::Sender<()>>>, AtomicUsize);

    impl Resender for Gated {
        fn resend(&self, _req: ResendRequest) -> ResendFuture<'_> {
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.0.lock().unwrap().push(tx);
            self.1.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                let _ = rx.await;
                EngineResult::Ok(ResendOutcome::Sent { run_id: None })
            })
        }
    }

    fn req() -> ResendRequest {
        ResendRequest {
            session_key: "s".into(),
            message: "m".into(),
            idempotency_key: "k".into(),
            attempts: 1,
            meta: serde_json::Value::Null,
            last_failed_at_ms: 0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn drain_waits_for_in_flight_then_gives_up_at_the_bound() {
        let gated = Arc::new(Gated(Mutex::new(vec![]), AtomicUsize::new(0)));
        let drain = Arc::new(Drain::default());
        let r = Arc::new(DrainingResender::new(gated.clone(), drain.clone()));
        let r1 = r.clone();
        let first = tokio::spawn(async move { r1.resend(req()).await });
        tokio::task::yield_now().await;
        assert_eq!(drain.in_flight(), 1);

        // Not finished within the bound: drain reports false and the resend is still running.
        assert!(!drain.drain(Duration::from_millis(50)).await);
        assert_eq!(drain.in_flight(), 1);

        // A resend started while draining never reaches the inner resender.
        let r2 = r.clone();
        let held = tokio::spawn(async move { r2.resend(req()).await });
        tokio::task::yield_now().await;
        assert_eq!(gated.1.load(Ordering::SeqCst), 1);
        held.abort();

        // Finishing the in-flight one lets a new drain return true.
        let waiter = {
            let drain = drain.clone();
            tokio::spawn(async move { drain.drain(Duration::from_secs(3600)).await })
        };
        tokio::task::yield_now().await;
        gated.0.lock().unwrap().pop().unwrap().send(()).unwrap();
        assert!(first.await.unwrap().is_ok());
        assert!(waiter.await.unwrap());
        assert_eq!(drain.in_flight(), 0);
    }
}
