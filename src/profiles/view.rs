//! A read-only view of one profile for stats and listings.

use super::profile::{Availability, ProfileStats};
use serde::Serialize;

/// Whether a profile is usable at the time of the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileStatus {
    /// Can be picked.
    Ready,
    /// Cooling down.
    Cooldown,
    /// Disabled.
    Disabled,
}

/// One profile as listed by [`super::ProfileStore::list`]. Serialises as the stored record's
/// camelCase fields plus `profileId`, `status` and `availableAtMs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    /// The profile id.
    pub profile_id: String,
    /// Usable now, cooling down, or disabled.
    pub status: ProfileStatus,
    /// When it becomes usable again (epoch ms); `None` when ready.
    pub available_at_ms: Option<i64>,
    /// The stored record.
    #[serde(flatten)]
    pub stats: ProfileStats,
}

impl ProfileView {
    /// The view of `stats` at `now_ms`.
    pub fn new(profile_id: &str, stats: &ProfileStats, now_ms: i64) -> Self {
        let (status, available_at_ms) = match stats.availability(now_ms) {
            Availability::Ready => (ProfileStatus::Ready, None),
            Availability::CoolingDown(t) => (ProfileStatus::Cooldown, Some(t)),
            Availability::Disabled(t) => (ProfileStatus::Disabled, Some(t)),
        };
        Self {
            profile_id: profile_id.to_owned(),
            status,
            available_at_ms,
            stats: stats.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_the_clock_and_serialises_flat() {
        let mut s = ProfileStats::new("openai");
        s.cooldown_until_ms = Some(100);
        let v = ProfileView::new("p1", &s, 50);
        assert_eq!(
            (v.status, v.available_at_ms),
            (ProfileStatus::Cooldown, Some(100))
        );
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["profileId"], "p1");
        assert_eq!(json["provider"], "openai");
        assert_eq!(json["status"], "cooldown");
        assert_eq!(ProfileView::new("p1", &s, 100).status, ProfileStatus::Ready);
    }
}
