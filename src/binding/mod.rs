//! The `#[napi]` layer. Only this module imports napi; it converts arguments, calls
//! [`crate::engine::Engine`] and turns `EngineError`s into JS errors with `err.code`.

mod convert;
mod errors;
mod event_sink;
mod input;
mod js_resender;
mod options;
mod retry_engine;
