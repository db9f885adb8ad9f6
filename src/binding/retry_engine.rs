use napi_derive::napi;

/// Keeps agent work alive through rate limits, quota windows, auth failures and gateway restarts.
#[napi]
pub struct RetryEngine {}

#[napi]
impl RetryEngine {
    /// Create an engine. Every option is optional.
    #[napi(constructor)]
    pub fn new() -> Self {
        Self {}
    }
}
