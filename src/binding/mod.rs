//! The `#[napi]` layer. Only this module imports napi; it converts arguments, calls
//! [`crate::engine::Engine`] and turns `EngineError`s into JS errors with `err.code`.

mod args;
mod convert;
mod errors;
mod event_sink;
mod input;
mod js;
mod js_resender;
mod options;
mod retry_engine;
