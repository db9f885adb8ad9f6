//! A [`Resender`] backed by a JS callback `(request) => Promise<void>`.

use crate::error::EngineError;
use crate::resender::{ResendFuture, ResendOutcome, ResendRequest, Resender};
use napi::bindgen_prelude::{Either, Function, Null, Promise};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::Status;
use serde_json::Value;
use std::sync::{Arc, Mutex};

type ResendReturn = Either<Promise<Null>, Null>;
type ResendCallback = ThreadsafeFunction<Value, ResendReturn, Value, Status, false>;

/// Calls the user's `resend(request)` callback; a rejected promise or a throw is a failed resend.
#[derive(Clone)]
pub struct JsResender {
    callback: Arc<Mutex<Option<Arc<ResendCallback>>>>,
}

impl JsResender {
    /// Wrap a JS function.
    pub fn from_function(f: Function<'_, Value, ResendReturn>) -> napi::Result<Self> {
        let tsfn = f
            .build_threadsafe_function::<Value>()
            .callee_handled::<false>()
            .build()?;
        Ok(Self {
            callback: Arc::new(Mutex::new(Some(Arc::new(tsfn)))),
        })
    }

    /// Drop the callback so Node may exit.
    pub fn release(&self) {
        self.callback
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

impl Resender for JsResender {
    fn resend(&self, req: ResendRequest) -> ResendFuture<'_> {
        let callback = self
            .callback
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Box::pin(async move {
            let cb = callback.ok_or(EngineError::Closed)?;
            let value = serde_json::to_value(&req)
                .map_err(|e| EngineError::ResendFailed(format!("could not encode request: {e}")))?;
            let returned = cb
                .call_async_catch(value)
                .await
                .map_err(|e| EngineError::ResendFailed(e.reason.clone()))?;
            if let Either::A(promise) = returned {
                promise
                    .await
                    .map_err(|e| EngineError::ResendFailed(e.reason.clone()))?;
            }
            // The callback reports no run id; a probe is then confirmed by a `resolve` whose
            // runId is the request's idempotency key (what the gateway uses as runId).
            Ok(ResendOutcome::Sent { run_id: None })
        })
    }
}
