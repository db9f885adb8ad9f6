//! Auth-profile rotation on the engine: pick the next usable profile, mark outcomes.

use super::lifecycle::run_blocking;
use super::{check_key, Engine};
use crate::error::{EngineError, EngineResult};
use crate::profiles::{MarkResult, Outcome, PickResult, ProfileView};
use crate::reason::Reason;
use serde_json::Value;

impl Engine {
    /// The next usable profile of `provider` (oldest `lastUsed` first, skipping cooled-down
    /// and disabled ones); `candidates` limits (and registers) the set.
    pub async fn pick_profile(
        &self,
        provider: &str,
        candidates: Option<Vec<String>>,
    ) -> EngineResult<PickResult> {
        check_key("provider", provider)?;
        let running = self.running().await?;
        let now = self.clock.now_ms();
        let provider = provider.to_string();
        run_blocking(move || running.profiles.pick(&provider, candidates.as_deref(), now)).await
    }

    /// Record the outcome of a call made with `profile_id`. `outcome` is `"success"`/`null`,
    /// an explicit `{reason, retryAfterMs?, resetAtMs?}`, or any failure input to classify.
    pub async fn mark_profile(
        &self,
        profile_id: &str,
        outcome: &Value,
    ) -> EngineResult<MarkResult> {
        check_key("profileId", profile_id)?;
        let running = self.running().await?;
        let now = self.clock.now_ms();
        let outcome = self.profile_outcome(outcome, now)?;
        let id = profile_id.to_string();
        run_blocking(move || running.profiles.mark(&id, &outcome, now)).await
    }

    /// Register a profile under a provider. Returns whether it was new.
    pub async fn register_profile(&self, profile_id: &str, provider: &str) -> EngineResult<bool> {
        check_key("profileId", profile_id)?;
        check_key("provider", provider)?;
        let running = self.running().await?;
        let now = self.clock.now_ms();
        let (id, p) = (profile_id.to_string(), provider.to_string());
        run_blocking(move || running.profiles.register(&id, &p, now)).await
    }

    /// Every profile (of `provider`, when given) with its status and usage stats.
    pub async fn profiles(&self, provider: Option<String>) -> EngineResult<Vec<ProfileView>> {
        let running = self.running().await?;
        let now = self.clock.now_ms();
        run_blocking(move || running.profiles.list(provider.as_deref(), now)).await
    }

    fn profile_outcome(&self, v: &Value, now: i64) -> EngineResult<Outcome> {
        match v {
            Value::Null => return Ok(Outcome::success()),
            Value::String(s) if s == "success" => return Ok(Outcome::success()),
            Value::Object(m) if m.get("reason").is_some_and(Value::is_string) => {
                let reason: Reason = m["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|e: String| EngineError::input("outcome.reason", e))?;
                let int = |k: &str| -> EngineResult<Option<i64>> {
                    match m.get(k) {
                        None | Some(Value::Null) => Ok(None),
                        Some(x) => x.as_i64().filter(|n| *n >= 0).map(Some).ok_or_else(|| {
                            EngineError::input(format!("outcome.{k}"), "expected an integer >= 0")
                        }),
                    }
                };
                return Ok(Outcome {
                    reason: Some(reason),
                    retry_after_ms: int("retryAfterMs")?,
                    reset_at_ms: int("resetAtMs")?,
                });
            }
            _ => {}
        }
        let c = self.classify(v, Some(now));
        Ok(Outcome {
            reason: c.reason,
            retry_after_ms: c.retry_after_ms,
            reset_at_ms: c.reset_at_ms,
        })
    }
}
