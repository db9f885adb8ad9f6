//! Engine errors with stable codes. The binding surfaces [`EngineError::code`] as `err.code`.

use thiserror::Error;

/// Every error the engine returns. The `Display` text says what went wrong and what to fix;
/// it never contains a secret.
#[derive(Debug, Error)]
pub enum EngineError {
    /// An option passed to the constructor has the wrong type or range. Code `E_INVALID_OPTION`.
    #[error("invalid option `{field}`: {message}")]
    InvalidOption {
        /// Dotted path of the option, e.g. `policy.rateLimit.maxFailures`.
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A method argument is wrong. Code `E_INVALID_INPUT`.
    #[error("invalid argument `{field}`: {message}")]
    InvalidInput {
        /// The argument's name.
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// The park queue is at its configured cap. Code `E_QUEUE_FULL`.
    #[error(
        "park queue is full ({cap} entries); raise `queue.maxEntries` or resolve parked sessions"
    )]
    QueueFull {
        /// The configured cap.
        cap: usize,
    },
    /// A method that needs `start()` was called before it. Code `E_NOT_STARTED`.
    #[error("the engine is not started; call `await engine.start()` first")]
    NotStarted,
    /// The engine was closed. Code `E_CLOSED`.
    #[error("the engine is closed; create a new RetryEngine")]
    Closed,
    /// The call's `AbortSignal` was aborted before it finished. Code `E_ABORTED`.
    #[error("the operation was aborted by its AbortSignal")]
    Aborted,
    /// A state file could not be read or written. Code `E_IO`.
    #[error("state I/O failed on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The gateway rejected the credentials (close 1008). Terminal. Code `E_GATEWAY_AUTH`.
    #[error("gateway rejected the credentials: {0}; check `gateway.token`/`gateway.password`")]
    GatewayAuth(String),
    /// The gateway could not be reached within the connect budget. Code `E_GATEWAY_UNAVAILABLE`.
    #[error("gateway unavailable: {0}")]
    GatewayUnavailable(String),
    /// A gateway request got no answer in time. Code `E_GATEWAY_TIMEOUT`.
    #[error("gateway request timed out: {0}")]
    GatewayTimeout(String),
    /// The gateway answered a request with an error. Code `E_GATEWAY_REQUEST`.
    #[error("gateway request `{method}` failed with {code}: {message}")]
    GatewayRequest {
        /// The request method, e.g. `chat.send`.
        method: String,
        /// The gateway's error code, e.g. `INVALID_REQUEST`.
        code: String,
        /// The gateway's message.
        message: String,
    },
    /// The gateway sent something that is not protocol v4. Code `E_GATEWAY_PROTOCOL`.
    #[error("gateway protocol error: {0}")]
    GatewayProtocol(String),
    /// A resend through the configured resender failed. Code `E_RESEND_FAILED`.
    #[error("resend failed: {0}")]
    ResendFailed(String),
}

/// Every `err.code` a caller can see thrown or rejected (README "Error codes"; the `ErrorCode`
/// type in index.d.ts). `E_RESEND_FAILED` is not one: resend failures are reported as
/// `resend_failed` events, never to a caller.
pub const CALLER_ERROR_CODES: &[&str] = &[
    "E_INVALID_OPTION",
    "E_INVALID_INPUT",
    "E_NOT_STARTED",
    "E_CLOSED",
    "E_ABORTED",
    "E_QUEUE_FULL",
    "E_IO",
    "E_GATEWAY_AUTH",
    "E_GATEWAY_UNAVAILABLE",
    "E_GATEWAY_TIMEOUT",
    "E_GATEWAY_REQUEST",
    "E_GATEWAY_PROTOCOL",
];

impl EngineError {
    /// The same failure again, to report one failed write to every caller it covered: an I/O
    /// error keeps its path, kind and message; any other error becomes an `E_IO` error on
    /// `park queue` carrying its message.
    pub fn copy(&self) -> EngineError {
        match self {
            EngineError::Io { path, source } => EngineError::Io {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            other => EngineError::io("park queue", std::io::Error::other(other.to_string())),
        }
    }

    /// The stable code exposed as `err.code`.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::InvalidOption { .. } => "E_INVALID_OPTION",
            EngineError::InvalidInput { .. } => "E_INVALID_INPUT",
            EngineError::QueueFull { .. } => "E_QUEUE_FULL",
            EngineError::NotStarted => "E_NOT_STARTED",
            EngineError::Closed => "E_CLOSED",
            EngineError::Aborted => "E_ABORTED",
            EngineError::Io { .. } => "E_IO",
            EngineError::GatewayAuth(_) => "E_GATEWAY_AUTH",
            EngineError::GatewayUnavailable(_) => "E_GATEWAY_UNAVAILABLE",
            EngineError::GatewayTimeout(_) => "E_GATEWAY_TIMEOUT",
            EngineError::GatewayRequest { .. } => "E_GATEWAY_REQUEST",
            EngineError::GatewayProtocol(_) => "E_GATEWAY_PROTOCOL",
            EngineError::ResendFailed(_) => "E_RESEND_FAILED",
        }
    }

    /// Shorthand for [`EngineError::InvalidOption`].
    pub fn option(field: impl Into<String>, message: impl Into<String>) -> Self {
        EngineError::InvalidOption {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`EngineError::InvalidInput`].
    pub fn input(field: impl Into<String>, message: impl Into<String>) -> Self {
        EngineError::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`EngineError::Io`].
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// Result alias for engine operations.
pub type EngineResult<T> = Result<T, EngineError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_messages_name_the_field() {
        let e = EngineError::option("policy.rateLimit.maxFailures", "expected an integer >= 1");
        assert_eq!(e.code(), "E_INVALID_OPTION");
        assert!(e.to_string().contains("policy.rateLimit.maxFailures"));
        assert_eq!(EngineError::QueueFull { cap: 3 }.code(), "E_QUEUE_FULL");
    }
}
