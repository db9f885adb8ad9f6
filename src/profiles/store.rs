//! The durable usage store shared by every process using the same state directory.
//!
//! Every operation runs as one transaction: take `profiles.lock` ([`LockGuard`]), re-read
//! `profiles.json`, apply the operation to what is on disk, write it back with
//! [`write_atomic`] (0600), release the lock. No process ever writes a stale copy, so
//! concurrent picks and marks from many processes are all counted.
//!
//! A damaged file is moved aside ([`move_aside`]) and its readable profiles are kept; `open`
//! returns a [`RecoveryInfo`] for the caller to report, and later operations that meet a damaged
//! file (another process broke it) report [`Event::RecoveredCorruptFile`] through the sink.

use super::config::ProfileConfig;
use super::profile::{validate_id, ProfileStats};
use super::rotation::{choose, PickResult};
use super::schedule::{apply_outcome, MarkResult, Outcome, Penalty};
use super::state_file::{decode, encode, Decoded, StoreState};
use super::view::ProfileView;
use crate::durable::{ensure_dir, move_aside, write_atomic, LockGuard};
use crate::error::{EngineError, EngineResult};
use crate::events::{Event, EventSink};
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

/// Name of the usage file inside the state directory.
pub const FILE_NAME: &str = "profiles.json";
/// Name of the lock file inside the state directory.
pub const LOCK_NAME: &str = "profiles.lock";

/// A damaged `profiles.json` that was moved aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryInfo {
    /// The damaged file.
    pub path: PathBuf,
    /// Where it now lives.
    pub moved_to: PathBuf,
    /// Profiles kept from it.
    pub kept: usize,
    /// Profiles that could not be read.
    pub dropped: usize,
}

impl RecoveryInfo {
    /// The matching [`Event::RecoveredCorruptFile`].
    pub fn to_event(&self) -> Event {
        Event::RecoveredCorruptFile {
            path: self.path.display().to_string(),
            moved_to: self.moved_to.display().to_string(),
            kept: self.kept,
            dropped: self.dropped,
        }
    }
}

/// Auth-profile rotation backed by `profiles.json`. Blocking: call from `spawn_blocking` in
/// async code. Cheap to share behind an `Arc`; holds no open files between calls.
pub struct ProfileStore {
    path: PathBuf,
    lock_path: PathBuf,
    cfg: ProfileConfig,
    events: EventSink,
}

impl std::fmt::Debug for ProfileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileStore")
            .field("path", &self.path)
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl ProfileStore {
    /// Open (creating `dir` with 0700 if missing) the store in `dir`. `now_ms` names a damaged
    /// file moved aside. Returns the recovery report if the file was damaged.
    pub fn open(
        dir: &Path,
        cfg: ProfileConfig,
        events: EventSink,
        now_ms: i64,
    ) -> EngineResult<(ProfileStore, Option<RecoveryInfo>)> {
        cfg.validate()?;
        ensure_dir(dir).map_err(|e| EngineError::io(dir, e))?;
        let store = ProfileStore {
            path: dir.join(FILE_NAME),
            lock_path: dir.join(LOCK_NAME),
            cfg,
            events,
        };
        let ((), recovery) = store.transact(now_ms, |_| Ok(((), false)))?;
        Ok((store, recovery))
    }

    /// The path of `profiles.json`.
    pub fn path(&self) -> &Path {
        &self.path
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
        op: impl FnOnce(&mut StoreState) -> EngineResult<(R, bool)>,
    ) -> EngineResult<R> {
        let (out, recovery) = self.transact(now_ms, op)?;
        if let Some(info) = recovery {
            (self.events)(info.to_event());
        }
        Ok(out)
    }

    /// Lock, re-read, apply `op` (which says whether it changed the state), write if changed,
    /// unlock.
    fn transact<R>(
        &self,
        now_ms: i64,
        op: impl FnOnce(&mut StoreState) -> EngineResult<(R, bool)>,
    ) -> EngineResult<(R, Option<RecoveryInfo>)> {
        let _lock =
            LockGuard::acquire(&self.lock_path).map_err(|e| EngineError::io(&self.lock_path, e))?;
        let (mut state, recovery) = self.load(now_ms)?;
        let (out, changed) = op(&mut state)?;
        if changed {
            self.save(&state)?;
        }
        Ok((out, recovery))
    }

    /// Read the file (missing = empty). A damaged file is moved aside and its readable part
    /// written back at once, so nothing salvaged is lost if the operation then fails.
    fn load(&self, now_ms: i64) -> EngineResult<(StoreState, Option<RecoveryInfo>)> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok((StoreState::default(), None))
            }
            Err(e) => return Err(EngineError::io(&self.path, e)),
        };
        match decode(&bytes) {
            Decoded::Clean(state) => Ok((state, None)),
            Decoded::TooNew(v) => Err(EngineError::io(
                &self.path,
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "written by a newer engine (format version {v}); upgrade openclaw-retry-engine or use another state directory"
                    ),
                ),
            )),
            Decoded::Damaged {
                state,
                kept,
                dropped,
            } => {
                let moved_to =
                    move_aside(&self.path, now_ms).map_err(|e| EngineError::io(&self.path, e))?;
                self.save(&state)?;
                let info = RecoveryInfo {
                    path: self.path.clone(),
                    moved_to,
                    kept,
                    dropped,
                };
                Ok((state, Some(info)))
            }
        }
    }

    fn save(&self, state: &StoreState) -> EngineResult<()> {
        write_atomic(&self.path, &encode(state)).map_err(|e| EngineError::io(&self.path, e))
    }
}

/// Add `profile_id` under `provider` if missing; `true` if added. Err if it belongs to another
/// provider.
fn ensure_registered(
    state: &mut StoreState,
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
