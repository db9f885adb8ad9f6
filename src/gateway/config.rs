//! Gateway client configuration.

use crate::error::{EngineError, EngineResult};
use std::fmt;
use std::path::PathBuf;

/// How to reach and authenticate with an OpenClaw gateway.
///
/// Only plain `ws://` URLs are supported (no TLS in this build): point it at a loopback gateway
/// or at a local TLS-terminating proxy. `Debug` output redacts `token` and `password`.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Gateway WebSocket URL. Default `ws://127.0.0.1:18789`.
    pub url: String,
    /// Shared gateway token (`auth.token`). Default none.
    pub token: Option<String>,
    /// Gateway password (`auth.password`). Default none.
    pub password: Option<String>,
    /// Path of the Ed25519 device identity file, created (0600) on first use.
    /// Default `None`: connect without a device identity.
    pub device_identity: Option<PathBuf>,
    /// `client.id` sent on connect. Default `gateway-client` (without a device identity only
    /// `gateway-client`/`backend` and `cli`/`cli` keep their scopes on loopback).
    pub client_id: String,
    /// `client.mode` sent on connect. Default `backend`.
    pub client_mode: String,
    /// Requested operator scopes. Default `["operator.read", "operator.write"]`.
    pub scopes: Vec<String>,
    /// How long one request waits for its response, in ms. Default 15 000.
    pub request_timeout_ms: u64,
    /// Overall budget for one connect, including startup retries and reconnect backoff, in ms.
    /// Default 30 000.
    pub connect_budget_ms: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            url: "ws://127.0.0.1:18789".into(),
            token: None,
            password: None,
            device_identity: None,
            client_id: "gateway-client".into(),
            client_mode: "backend".into(),
            scopes: vec!["operator.read".into(), "operator.write".into()],
            request_timeout_ms: 15_000,
            connect_budget_ms: 30_000,
        }
    }
}

impl fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "[redacted]");
        f.debug_struct("GatewayConfig")
            .field("url", &super::redact::display_url(&self.url))
            .field("token", &redact(&self.token))
            .field("password", &redact(&self.password))
            .field("device_identity", &self.device_identity)
            .field("client_id", &self.client_id)
            .field("client_mode", &self.client_mode)
            .field("scopes", &self.scopes)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("connect_budget_ms", &self.connect_budget_ms)
            .finish()
    }
}

impl GatewayConfig {
    /// Check every field; the error names the field and says what to fix.
    pub fn validate(&self) -> EngineResult<()> {
        let url = self.url.trim();
        if url.starts_with("wss://") {
            return Err(EngineError::option(
                "gateway.url",
                "wss:// is not supported by this build; use ws:// to a loopback gateway or a local TLS-terminating proxy",
            ));
        }
        if !url.starts_with("ws://") || url.len() <= "ws://".len() {
            return Err(EngineError::option(
                "gateway.url",
                "expected a ws:// URL such as ws://127.0.0.1:18789",
            ));
        }
        for (field, value) in [
            ("gateway.clientId", &self.client_id),
            ("gateway.clientMode", &self.client_mode),
        ] {
            if value.trim().is_empty() {
                return Err(EngineError::option(field, "must not be empty"));
            }
            if value.contains('|') {
                return Err(EngineError::option(field, "must not contain `|`"));
            }
        }
        if self
            .scopes
            .iter()
            .any(|s| s.trim().is_empty() || s.contains(',') || s.contains('|'))
        {
            return Err(EngineError::option(
                "gateway.scopes",
                "every scope must be a non-empty name without `,` or `|`, e.g. operator.write",
            ));
        }
        if self.request_timeout_ms == 0 {
            return Err(EngineError::option(
                "gateway.requestTimeoutMs",
                "expected an integer >= 1 (default 15000)",
            ));
        }
        if self.connect_budget_ms == 0 {
            return Err(EngineError::option(
                "gateway.connectBudgetMs",
                "expected an integer >= 1 (default 30000)",
            ));
        }
        for (field, value) in [
            ("gateway.token", &self.token),
            ("gateway.password", &self.password),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(EngineError::option(
                    field,
                    "must not be empty; leave it unset instead",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_real_gateway() {
        let c = GatewayConfig::default();
        assert_eq!(c.url, "ws://127.0.0.1:18789");
        assert_eq!(c.client_id, "gateway-client");
        assert_eq!(c.client_mode, "backend");
        assert_eq!(c.scopes, ["operator.read", "operator.write"]);
        assert_eq!(
            (c.request_timeout_ms, c.connect_budget_ms),
            (15_000, 30_000)
        );
        c.validate().unwrap();
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = GatewayConfig {
            url: "ws://user:urlsecret@127.0.0.1:1/?token=querysecret".into(),
            token: Some("tok-SECRET-1".into()),
            password: Some("pw-SECRET-2".into()),
            ..Default::default()
        };
        let d = format!("{c:?}");
        for secret in ["tok-SECRET-1", "pw-SECRET-2", "urlsecret", "querysecret"] {
            assert!(!d.contains(secret), "{secret} leaked in {d}");
        }
        assert!(d.contains("[redacted]"));
    }

    #[test]
    fn rejects_bad_values_naming_the_field() {
        let bad = [
            (
                GatewayConfig {
                    url: "wss://h".into(),
                    ..Default::default()
                },
                "gateway.url",
            ),
            (
                GatewayConfig {
                    url: "http://h".into(),
                    ..Default::default()
                },
                "gateway.url",
            ),
            (
                GatewayConfig {
                    client_id: " ".into(),
                    ..Default::default()
                },
                "gateway.clientId",
            ),
            (
                GatewayConfig {
                    scopes: vec!["a,b".into()],
                    ..Default::default()
                },
                "gateway.scopes",
            ),
            (
                GatewayConfig {
                    request_timeout_ms: 0,
                    ..Default::default()
                },
                "gateway.requestTimeoutMs",
            ),
            (
                GatewayConfig {
                    token: Some("".into()),
                    ..Default::default()
                },
                "gateway.token",
            ),
        ];
        for (cfg, field) in bad {
            let e = cfg.validate().unwrap_err();
            assert_eq!(e.code(), "E_INVALID_OPTION");
            assert!(e.to_string().contains(field), "{e}");
        }
    }
}
