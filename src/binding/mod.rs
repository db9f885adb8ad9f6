//! The `#[napi]` layer. Only this module imports napi; it converts arguments, calls
//! [`crate::engine::Engine`] and turns `EngineError`s into JS errors with `err.code`.

mod abort;
mod args;
mod breaker_calls;
mod classification_js;
mod convert;
mod errors;
mod event_sink;
mod guards;
mod input;
mod js;
mod js_resender;
mod js_values;
mod liveness;
mod options;
mod own_methods;
mod park_batch;
mod permit_js;
mod plain_json;
mod retry_engine;

pub use guards::is_retry_engine_error;
