//! The `#[napi]` layer. Only this module imports napi.

mod retry_engine;
