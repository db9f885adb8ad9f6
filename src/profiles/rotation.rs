//! Which profile to use next: a pure choice over the candidates' records at `now_ms`.
//!
//! Round robin by last use: never-used profiles first, then the least recently used
//! (`lastUsedMs`, then the store-wide pick sequence so picks within one millisecond still rotate),
//! ties by id. Profiles cooling down or disabled are skipped and listed in `skipped`.

use super::profile::{Availability, ProfileStats};
use serde::Serialize;

/// Why a candidate was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SkipReason {
    /// Cooling down after a rate limit, quota or auth failure.
    Cooldown,
    /// Disabled after a billing or permanent auth failure.
    Disabled,
}

impl SkipReason {
    /// `"cooldown"` or `"disabled"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Cooldown => "cooldown",
            SkipReason::Disabled => "disabled",
        }
    }
}

/// A candidate that could not be picked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedProfile {
    /// The profile id.
    pub profile_id: String,
    /// Why it was skipped.
    pub reason: SkipReason,
    /// When it becomes usable again (epoch ms).
    pub until_ms: i64,
}

/// The answer of a pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PickResult {
    /// The profile to use; `None` when every candidate is cooling down or disabled (or there
    /// are none).
    pub profile_id: Option<String>,
    /// When nothing was picked: the earliest time a candidate frees up; otherwise `None`.
    pub next_available_at_ms: Option<i64>,
    /// Candidates passed over, sorted by id.
    pub skipped: Vec<SkippedProfile>,
}

/// Choose among `candidates` (id, record) at `now_ms`. Does not modify anything; the store
/// marks the chosen profile as used.
pub fn choose<'a, I>(candidates: I, now_ms: i64) -> PickResult
where
    I: IntoIterator<Item = (&'a str, &'a ProfileStats)>,
{
    let mut best: Option<(&str, &ProfileStats)> = None;
    let mut skipped = Vec::new();
    for (id, stats) in candidates {
        let (reason, until_ms) = match stats.availability(now_ms) {
            Availability::Ready => {
                if best.is_none_or(|(bid, b)| order_key(id, stats) < order_key(bid, b)) {
                    best = Some((id, stats));
                }
                continue;
            }
            Availability::CoolingDown(t) => (SkipReason::Cooldown, t),
            Availability::Disabled(t) => (SkipReason::Disabled, t),
        };
        skipped.push(SkippedProfile {
            profile_id: id.to_owned(),
            reason,
            until_ms,
        });
    }
    skipped.sort_by(|a, b| a.profile_id.cmp(&b.profile_id));
    let profile_id = best.map(|(id, _)| id.to_owned());
    let next_available_at_ms = match profile_id {
        Some(_) => None,
        None => skipped.iter().map(|s| s.until_ms).min(),
    };
    PickResult {
        profile_id,
        next_available_at_ms,
        skipped,
    }
}

/// Sort key: never used first, then oldest use, then pick sequence, then id.
fn order_key<'a>(id: &'a str, s: &ProfileStats) -> (bool, i64, u64, &'a str) {
    (
        s.last_used_ms.is_some(),
        s.last_used_ms.unwrap_or(i64::MIN),
        s.last_used_seq,
        id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(at: Option<i64>, seq: u64) -> ProfileStats {
        let mut p = ProfileStats::new("x");
        p.last_used_ms = at;
        p.last_used_seq = seq;
        p
    }

    fn pick(list: &[(&str, ProfileStats)], now: i64) -> PickResult {
        choose(list.iter().map(|(id, s)| (*id, s)), now)
    }

    #[test]
    fn never_used_first_then_oldest_then_id() {
        let list = vec![
            ("c", used(Some(100), 3)),
            ("b", used(None, 0)),
            ("a", used(Some(50), 1)),
            ("d", used(None, 0)),
        ];
        assert_eq!(pick(&list, 1_000).profile_id.as_deref(), Some("b"));
        let list = vec![("c", used(Some(100), 3)), ("a", used(Some(50), 1))];
        assert_eq!(pick(&list, 1_000).profile_id.as_deref(), Some("a"));
        let list = vec![("z", used(Some(7), 0)), ("y", used(Some(7), 0))];
        assert_eq!(pick(&list, 1_000).profile_id.as_deref(), Some("y"));
        // same millisecond: the lower pick sequence was used earlier
        let list = vec![("a", used(Some(7), 9)), ("b", used(Some(7), 4))];
        assert_eq!(pick(&list, 1_000).profile_id.as_deref(), Some("b"));
    }

    #[test]
    fn skips_cooling_and_disabled_profiles() {
        let mut cooling = used(None, 0);
        cooling.cooldown_until_ms = Some(2_000);
        let mut disabled = used(None, 0);
        disabled.disabled_until_ms = Some(5_000);
        let list = vec![("a", cooling), ("b", disabled), ("c", used(Some(900), 1))];
        let r = pick(&list, 1_000);
        assert_eq!(r.profile_id.as_deref(), Some("c"));
        assert_eq!(r.next_available_at_ms, None);
        assert_eq!(
            r.skipped,
            vec![
                SkippedProfile {
                    profile_id: "a".into(),
                    reason: SkipReason::Cooldown,
                    until_ms: 2_000
                },
                SkippedProfile {
                    profile_id: "b".into(),
                    reason: SkipReason::Disabled,
                    until_ms: 5_000
                },
            ]
        );
        // once the cooldown has passed, the never-used profile wins again
        assert_eq!(pick(&list, 2_000).profile_id.as_deref(), Some("a"));
    }

    #[test]
    fn all_unavailable_gives_none_and_the_earliest_free_time() {
        let mut a = used(None, 0);
        a.cooldown_until_ms = Some(9_000);
        let mut b = used(None, 0);
        b.disabled_until_ms = Some(4_000);
        let mut c = used(None, 0);
        c.cooldown_until_ms = Some(6_000);
        let list = vec![("a", a), ("b", b), ("c", c)];
        let r = pick(&list, 1_000);
        assert_eq!(r.profile_id, None);
        assert_eq!(r.next_available_at_ms, Some(4_000));
        assert_eq!(r.skipped.len(), 3);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["skipped"][1]["reason"], "disabled");
        assert_eq!(json["nextAvailableAtMs"], 4_000);
        let empty = pick(&[], 1_000);
        assert_eq!((empty.profile_id, empty.next_available_at_ms), (None, None));
    }
}
