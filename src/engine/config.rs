//! The engine's whole configuration, after normalisation of the JS options.

use crate::breaker::BreakerConfig;
use crate::classify::ClassifierConfig;
use crate::gateway::GatewayConfig;
use crate::options::QueueSettings;
use crate::policy::PolicyConfig;
use crate::profiles::ProfileConfig;
use crate::scheduler::SchedulerConfig;
use std::path::PathBuf;

/// Everything a [`crate::engine::Engine`] needs. Build it with [`crate::options::parse_options`]
/// (from JS-style options) or field by field; [`Default`] gives every documented default.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where state files live (queue, profiles, device identity). Default
    /// `$OPENCLAW_STATE_DIR/retry-engine`, else `~/.openclaw/retry-engine`.
    pub state_dir: PathBuf,
    /// Seed for jitter; `None` (default) seeds from the OS.
    pub seed: Option<u64>,
    /// Classifier options (custom patterns). Default: built-in patterns only.
    pub classifier: ClassifierConfig,
    /// Reason-aware decision policy. Default: see [`PolicyConfig`].
    pub policy: PolicyConfig,
    /// Keyed circuit breakers. Default: see [`BreakerConfig`].
    pub breaker: BreakerConfig,
    /// Per-room breaker for surfaced error messages. Default threshold 1, cooldown 30 s.
    pub message_guard: BreakerConfig,
    /// Park-queue settings. Default: see [`QueueSettings`].
    pub queue: QueueSettings,
    /// Resume scheduler. Default: see [`SchedulerConfig`].
    pub scheduler: SchedulerConfig,
    /// Gateway client used as the default resender and by `sendToSession`.
    /// Default `ws://127.0.0.1:18789`, no credentials.
    pub gateway: GatewayConfig,
    /// Auth-profile rotation. Default: see [`ProfileConfig`].
    pub profiles: ProfileConfig,
    /// Shared coordination state for several engines. Default: none (a lone engine).
    pub state: crate::state::StateConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            state_dir: default_state_dir(),
            seed: None,
            classifier: ClassifierConfig::default(),
            policy: PolicyConfig::default(),
            breaker: BreakerConfig::default(),
            message_guard: crate::breaker::MessageGuard::default_config(),
            queue: QueueSettings::default(),
            scheduler: SchedulerConfig::default(),
            gateway: GatewayConfig::default(),
            profiles: ProfileConfig::default(),
            state: crate::state::StateConfig::default(),
        }
    }
}

/// `$OPENCLAW_STATE_DIR/retry-engine`, else `$HOME/.openclaw/retry-engine`, else
/// `./.openclaw/retry-engine`.
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("OPENCLAW_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("retry-engine");
    }
    let home = std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".openclaw").join("retry-engine")
}
