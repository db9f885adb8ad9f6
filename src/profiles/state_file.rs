//! The on-disk form of the usage store (`profiles.json`): versioned, pretty-printed JSON, and a
//! tolerant reader that keeps every readable profile of a damaged file.

use super::profile::{validate_id, ProfileStats};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The file format version written by this code.
pub const VERSION: u32 = 1;

/// Everything in `profiles.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreState {
    /// Format version, [`VERSION`].
    pub version: u32,
    /// Store-wide pick counter; each pick takes the next number (orders picks in one ms).
    #[serde(default)]
    pub pick_seq: u64,
    /// Profile records by profile id.
    pub profiles: BTreeMap<String, ProfileStats>,
}

impl Default for StoreState {
    fn default() -> Self {
        Self {
            version: VERSION,
            pick_seq: 0,
            profiles: BTreeMap::new(),
        }
    }
}

/// What reading the file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A well-formed file.
    Clean(StoreState),
    /// A damaged file: `state` holds the `kept` readable profiles; `dropped` could not be read.
    Damaged {
        /// The readable part.
        state: StoreState,
        /// Profiles kept.
        kept: usize,
        /// Profiles that could not be read.
        dropped: usize,
    },
    /// Written by a newer version of the engine; must not be touched.
    TooNew(u64),
}

/// Serialise for writing (pretty JSON with a trailing newline).
pub fn encode(state: &StoreState) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(state).expect("profile state always serialises");
    bytes.push(b'\n');
    bytes
}

/// Read the file's bytes, salvaging what can be read from a damaged file.
pub fn decode(bytes: &[u8]) -> Decoded {
    let damaged_empty = Decoded::Damaged {
        state: StoreState::default(),
        kept: 0,
        dropped: 0,
    };
    let Ok(serde_json::Value::Object(root)) = serde_json::from_slice::<serde_json::Value>(bytes)
    else {
        return damaged_empty;
    };
    let version = root.get("version").and_then(|v| v.as_u64());
    if let Some(v) = version.filter(|&v| v > u64::from(VERSION)) {
        return Decoded::TooNew(v);
    }
    let Some(serde_json::Value::Object(entries)) = root.get("profiles") else {
        return damaged_empty;
    };
    let mut state = StoreState::default();
    let mut dropped = 0;
    for (id, value) in entries {
        match ProfileStats::deserialize(value) {
            Ok(stats) if validate_id("profileId", id).is_ok() => {
                state.profiles.insert(id.clone(), stats);
            }
            _ => dropped += 1,
        }
    }
    let max_seq = state.profiles.values().map(|p| p.last_used_seq).max();
    let pick_seq = root.get("pickSeq").and_then(|v| v.as_u64());
    state.pick_seq = pick_seq.unwrap_or(0).max(max_seq.unwrap_or(0));
    if dropped == 0 && version.is_some() && pick_seq.is_some() {
        Decoded::Clean(state)
    } else {
        Decoded::Damaged {
            kept: state.profiles.len(),
            state,
            dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_clean_file() {
        let mut s = StoreState {
            pick_seq: 4,
            ..StoreState::default()
        };
        s.profiles.insert("a".into(), ProfileStats::new("openai"));
        let bytes = encode(&s);
        assert!(String::from_utf8(bytes.clone())
            .unwrap()
            .contains("\n  \"profiles\""));
        assert_eq!(decode(&bytes), Decoded::Clean(s));
    }

    #[test]
    fn salvages_readable_profiles() {
        let text = r#"{"version":1,"pickSeq":2,"profiles":{
            "good":{"provider":"openai","lastUsedSeq":7},
            "bad":{"provider":42},
            "":{"provider":"openai"}}}"#;
        let Decoded::Damaged {
            state,
            kept,
            dropped,
        } = decode(text.as_bytes())
        else {
            panic!("expected a damaged file")
        };
        assert_eq!((kept, dropped), (1, 2));
        assert!(state.profiles.contains_key("good"));
        assert_eq!(
            state.pick_seq, 7,
            "never reuse a sequence number seen on disk"
        );
    }

    #[test]
    fn garbage_and_truncation_are_damaged_and_newer_versions_refused() {
        for bad in [&b""[..], b"{\"version\":1,\"profi", b"[]", b"\x00\x01"] {
            assert!(
                matches!(decode(bad), Decoded::Damaged { kept: 0, .. }),
                "{bad:?}"
            );
        }
        assert_eq!(
            decode(br#"{"version":9,"profiles":{}}"#),
            Decoded::TooNew(9)
        );
    }
}
