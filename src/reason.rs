//! The failure reasons the engine knows. Names follow OpenClaw's `FailoverReason` where one exists.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why a request failed. Serialised in `snake_case` (`"rate_limit"`, `"auth_permanent"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Short-window throttling (per minute / per second); retry after the hint.
    RateLimit,
    /// A long budget window (5-hour, daily, weekly, monthly) is used up; park until it resets.
    Quota,
    /// Out of credit or a payment problem; needs a human.
    Billing,
    /// Credentials rejected; may be fixed by refreshing or rotating.
    Auth,
    /// Credentials revoked or the account is disabled; needs a human.
    AuthPermanent,
    /// The provider is overloaded (Anthropic 529, "overloaded").
    Overloaded,
    /// A 5xx from the provider or a proxy.
    ServerError,
    /// The request timed out.
    Timeout,
    /// The connection failed (reset, refused, DNS, `fetch failed`).
    Network,
    /// The request itself is malformed; retrying the same request cannot help.
    Format,
    /// The prompt does not fit the model's context window.
    ContextOverflow,
    /// The model does not exist or the key has no access to it.
    ModelNotFound,
    /// A failure that matched nothing more specific.
    Unknown,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 13] = [
        Reason::RateLimit,
        Reason::Quota,
        Reason::Billing,
        Reason::Auth,
        Reason::AuthPermanent,
        Reason::Overloaded,
        Reason::ServerError,
        Reason::Timeout,
        Reason::Network,
        Reason::Format,
        Reason::ContextOverflow,
        Reason::ModelNotFound,
        Reason::Unknown,
    ];

    /// The stable `snake_case` name of the reason.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::RateLimit => "rate_limit",
            Reason::Quota => "quota",
            Reason::Billing => "billing",
            Reason::Auth => "auth",
            Reason::AuthPermanent => "auth_permanent",
            Reason::Overloaded => "overloaded",
            Reason::ServerError => "server_error",
            Reason::Timeout => "timeout",
            Reason::Network => "network",
            Reason::Format => "format",
            Reason::ContextOverflow => "context_overflow",
            Reason::ModelNotFound => "model_not_found",
            Reason::Unknown => "unknown",
        }
    }

    /// Whether waiting and sending the same request again can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Reason::RateLimit
                | Reason::Quota
                | Reason::Overloaded
                | Reason::ServerError
                | Reason::Timeout
                | Reason::Network
                | Reason::Unknown
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Reason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reason::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
                format!("unknown reason {s:?}; expected one of {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>().unwrap(), r);
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        assert!("nope".parse::<Reason>().is_err());
    }

    #[test]
    fn retryable_split() {
        assert!(Reason::RateLimit.is_retryable());
        assert!(!Reason::Billing.is_retryable());
        assert!(!Reason::ContextOverflow.is_retryable());
    }
}
