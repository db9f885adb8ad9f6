//! The lease seam: a named, time-limited right held by one holder at a time (e.g. "the probe
//! of group `openai`", so that only one engine of a fleet resends it). [`LeaseStore`] is
//! implemented in memory here; a file lock or a shared store (Redis `SET NX PX`) implements the
//! same trait.

use crate::error::EngineResult;

/// Named leases with an expiry.
pub trait LeaseStore: Send + Sync + 'static {
    /// Hold lease `name` for `holder` until `now_ms + ttl_ms`. `true` when `holder` holds it
    /// now (newly, or renewed because it already held it); `false` while another holder's
    /// lease has not expired.
    fn try_acquire(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64)
        -> EngineResult<bool>;
    /// Give lease `name` up if `holder` holds it (otherwise nothing happens).
    fn release(&self, name: &str, holder: &str) -> EngineResult<()>;
}
