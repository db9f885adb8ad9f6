//! Profile rotation over a [`ProfileUsageStore`] shared by every engine using it.
//!
//! Every operation runs as one transaction of the store (for the default file backend: take
//! `profiles.lock`, re-read `profiles.json`, apply, write back atomically), so concurrent
//! picks and marks from many processes are all counted.
//!
//! A damaged store is repaired with every readable profile kept; `open` returns the
//! [`RecoveryReport`] for the caller to report, and later operations that meet a damaged file
//! (another process broke it) report [`Event::RecoveredCorruptFile`] through the sink.

use super::config::ProfileConfig;
use super::profile::{validate_id, ProfileStats};
use super::rotation::{choose, PickResult};
use super::schedule::{apply_outcome, MarkResult, Outcome, Penalty};
use super::view::ProfileView;
use crate::error::{EngineError, EngineResult};
use crate::events::{Event, EventSink};
use crate::state::file::durable::ensure_dir;
use crate::state::file::FileProfiles;
use crate::state::{ProfileUsage, ProfileUsageStore, RecoveryReport};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// Auth-profile rotation over a usage store (default: `profiles.json` in the state directory).
/// Blocking: call from `spawn_blocking` in async code. Cheap to share behind an `Arc`.
pub struct ProfileStore {
    usage: Arc<dyn ProfileUsageStore>,
    cfg: ProfileConfig,
    events: EventSink,
}

impl std::fmt::Debug for ProfileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileStore")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl ProfileStore {
    /// Open (creating `dir` with 0700 if missing) the file-backed store in `dir`. `now_ms`
    /// names a damaged file moved aside. Returns the recovery report if the file was damaged.
    pub fn open(
        dir: &Path,
        cfg: ProfileConfig,
        events: EventSink,
        now_ms: i64,
    ) -> EngineResult<(ProfileStore, Option<RecoveryReport>)> {
        cfg.validate()?;
        ensure_dir(dir).map_err(|e| EngineError::io(dir, e))?;
        Self::with_backend(Arc::new(FileProfiles::in_dir(dir)), cfg, events, now_ms)
    }

    /// Rotation over any usage backend (e.g. a shared one). Reads it once to report damage.
    pub fn with_backend(
        usage: Arc<dyn ProfileUsageStore>,
        cfg: ProfileConfig,
        events: EventSink,
        now_ms: i64,
    ) -> EngineResult<(ProfileStore, Option<RecoveryReport>)> {
        cfg.validate()?;
        let store = ProfileStore { usage, cfg, events };
        let ((), recovery) = store.transact(now_ms, |_| Ok(((), false)))?;
        Ok((store, recovery))
    }

    /// Register `profile_id` under `provider`. Returns `true` if it was new, `false` if it was
    /// already registered under that provider. A profile id belongs to one provider:
    /// registering it under another is an `InvalidInput` error.
    pub fn register(&self, profile_id: &str, provider: &str, now_ms: i64) -> EngineResult<bool> {
        validate_id("profileId", profile_id)?;
        validate_id("provider", provider)?;
        self.run(now_ms, |state| {
            let added = ensure_registered(state, profile_id, provider)?;
            Ok((added, added))
        })
    }

    /// Pick the next usable profile of `provider` and mark it used. `candidates`: the profiles
    /// to choose from (unknown ids are registered under `provider`; must not be empty); `None`
    /// = every profile registered under `provider`.
    pub fn pick(
        &self,
        provider: &str,
        candidates: Option<&[String]>,
        now_ms: i64,
    ) -> EngineResult<PickResult> {
        validate_id("provider", provider)?;
        if let Some(list) = candidates {
            if list.is_empty() {
                return Err(EngineError::input(
                    "candidates",
                    "must list at least one profile id; pass null to use every profile of the provider",
                ));
            }
            for id in list {
                validate_id("candidates[]", id)?;
            }
        }
        self.run(now_ms, |state| {
            let mut changed = false;
            let ids: BTreeSet<String> = match candidates {
                Some(list) => {
                    for id in list {
                        changed |= ensure_registered(state, id, provider)?;
                    }
                    list.iter().cloned().collect()
                }
                None => state
                    .profiles
                    .iter()
                    .filter(|(_, p)| p.provider == provider)
                    .map(|(id, _)| id.clone())
                    .collect(),
            };
            let result = choose(
                ids.iter()
                    .filter_map(|id| state.profiles.get(id).map(|p| (id.as_str(), p))),
                now_ms,
            );
            if let Some(id) = &result.profile_id {
                state.pick_seq += 1;
                let seq = state.pick_seq;
                let p = state.profiles.get_mut(id).expect("chosen from the state");
                p.last_used_ms = Some(now_ms);
                p.last_used_seq = seq;
                p.use_count += 1;
                changed = true;
            }
            Ok((result, changed))
        })
    }

    /// Report the outcome of a request made with `profile_id`. The profile must be registered
    /// (by [`register`](Self::register) or a [`pick`](Self::pick)); an unknown id is an
    /// `InvalidInput` error, since its provider is unknown.
    pub fn mark(
        &self,
        profile_id: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> EngineResult<MarkResult> {
        validate_id("profileId", profile_id)?;
        outcome.validate()?;
        let (penalty, result) = self.run(now_ms, |state| {
            let stats = state.profiles.get_mut(profile_id).ok_or_else(|| {
                EngineError::input(
                    "profileId",
                    format!(
                        "unknown profile {profile_id:?}; register it first (registerProfile(id, provider)) or get it from pickProfile"
                    ),
                )
            })?;
            Ok((apply_outcome(stats, outcome, &self.cfg, now_ms), true))
        })?;
        let (until_ms, disabled) = match penalty {
            Penalty::None => return Ok(result),
            Penalty::Cooldown(t) => (t, false),
            Penalty::Disable(t) => (t, true),
        };
        if let Some(reason) = outcome.reason {
            (self.events)(Event::ProfileCooldown {
                profile_id: profile_id.to_owned(),
                reason,
                until_ms,
                disabled,
            });
        }
        Ok(result)
    }

    /// Every profile (of `provider`, if given) with its status at `now_ms`, sorted by id.
    pub fn list(&self, provider: Option<&str>, now_ms: i64) -> EngineResult<Vec<ProfileView>> {
        if let Some(p) = provider {
            validate_id("provider", p)?;
        }
        self.run(now_ms, |state| {
            let views = state
                .profiles
                .iter()
                .filter(|(_, p)| provider.is_none_or(|want| p.provider == want))
                .map(|(id, p)| ProfileView::new(id, p, now_ms))
                .collect();
            Ok((views, false))
        })
    }

    /// [`transact`](Self::transact), reporting a recovery through the event sink.
    fn run<R>(
        &self,
        now_ms: i64,
        op: impl FnOnce(&mut ProfileUsage) -> EngineResult<(R, bool)>,
    ) -> EngineResult<R> {
        let (out, recovery) = self.transact(now_ms, op)?;
        if let Some(info) = recovery {
            (self.events)(info.to_event());
        }
        Ok(out)
    }

    /// One transaction of the usage store: apply `op` (which says whether it changed the
    /// state) to the current usage.
    fn transact<R>(
        &self,
        now_ms: i64,
        op: impl FnOnce(&mut ProfileUsage) -> EngineResult<(R, bool)>,
    ) -> EngineResult<(R, Option<RecoveryReport>)> {
        let mut op = Some(op);
        let mut out = None;
        let recovery = self.usage.transact(now_ms, &mut |state| {
            let op = op.take().expect("a transaction runs its operation once");
            let (r, changed) = op(state)?;
            out = Some(r);
            Ok(changed)
        })?;
        let out = out.expect("the usage store ran the operation");
        Ok((out, recovery))
    }
}

/// Add `profile_id` under `provider` if missing; `true` if added. Err if it belongs to another
/// provider.
fn ensure_registered(
    state: &mut ProfileUsage,
    profile_id: &str,
    provider: &str,
) -> EngineResult<bool> {
    match state.profiles.get(profile_id) {
        Some(p) if p.provider == provider => Ok(false),
        Some(p) => Err(EngineError::input(
            "profileId",
            format!(
                "profile {profile_id:?} is registered under provider {:?}, not {provider:?}; use a distinct id per provider",
                p.provider
            ),
        )),
        None => {
            state
                .profiles
                .insert(profile_id.to_owned(), ProfileStats::new(provider));
            Ok(true)
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
