//! Helpers shared by the property tests (`*/fuzz_tests.rs`). Test builds only.

use proptest::prelude::*;
use serde_json::{Map, Value};

/// 256 cases (or `PROPTEST_CASES`), with shrinking bounded by `max_shrink_iters` so a failure
/// reports quickly.
pub(crate) fn proptest_config(max_shrink_iters: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        max_shrink_iters,
        ..ProptestConfig::default()
    }
}

/// `cases` cases, shrinking bounded as in [`proptest_config`], for cheap properties that need
/// many samples to reach their rare inputs.
pub(crate) fn proptest_cases(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..proptest_config(512)
    }
}

/// Texts glued from up to `max` of `pieces` (fragments of the shapes a pattern matches, their
/// near misses and filler), for checking a hand-written scan against its pattern.
pub(crate) fn texts_from(pieces: Vec<&'static str>, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(pieces), 0..max).prop_map(|p| p.concat())
}

/// JSON trees up to 4 levels deep built from `leaf` values: arrays of fewer than `max_array`
/// items and objects of up to 5 members with keys from `key()`; about `desired_size` nodes.
pub(crate) fn json_tree<K: Strategy<Value = String> + 'static>(
    leaf: impl Strategy<Value = Value> + 'static,
    key: fn() -> K,
    desired_size: u32,
    max_array: usize,
) -> impl Strategy<Value = Value> {
    leaf.prop_recursive(4, desired_size, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..max_array).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}
