//! Delivering engine events to the JS `onEvent` callback through a threadsafe function.

use crate::events::{Event, EventSink};
use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// The JS callback `(event) => void` as a strong threadsafe function.
pub type EventCallback = ThreadsafeFunction<Value, (), Value, Status, false>;

/// Holds the callback until `close()` releases it (a strong callback keeps Node alive).
#[derive(Clone, Default)]
pub struct JsEventSink {
    callback: Arc<Mutex<Option<Arc<EventCallback>>>>,
}

impl JsEventSink {
    /// Wrap a JS function.
    pub fn from_function(f: Function<'_, Value, ()>) -> napi::Result<Self> {
        let tsfn = f
            .build_threadsafe_function::<Value>()
            .callee_handled::<false>()
            .build()?;
        Ok(Self {
            callback: Arc::new(Mutex::new(Some(Arc::new(tsfn)))),
        })
    }

    /// The engine-side sink: serialise the event and queue a non-blocking call.
    pub fn sink(&self) -> EventSink {
        let callback = self.callback.clone();
        Arc::new(move |event: Event| {
            let guard = callback.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(cb) = guard.as_ref() {
                if let Ok(value) = serde_json::to_value(&event) {
                    cb.call(value, ThreadsafeFunctionCallMode::NonBlocking);
                }
            }
        })
    }

    /// Drop the callback so Node may exit; later events are discarded.
    pub fn release(&self) {
        self.callback
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}
