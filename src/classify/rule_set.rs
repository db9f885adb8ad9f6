//! The rules table compiled once into a single [`RegexSet`] pass.
//!
//! Every rule's pattern goes into one set, so a text is scanned once for all rules (the regex
//! crate's lazy DFA, linear time); the winner is the first matching rule in table order whose
//! scope and check allow it. A cheap prefilter skips the scan for texts that cannot match any
//! rule (no letter, no CJK character and no HTTP-status-like number).

use super::rule::{Rule, Scope};
use super::rules_table::RULES;
use regex::bytes::{RegexSet, RegexSetBuilder};
use std::sync::LazyLock;

/// Compiled-size limit of the whole set (bytes); the built-in table needs far less.
const SET_SIZE_LIMIT: usize = 64 << 20;
/// Lazy-DFA cache per search thread (bytes): large enough that the built-in table rarely
/// has to clear it, so long texts stay on the fast path.
const DFA_CACHE_LIMIT: usize = 16 << 20;

/// Compiled over bytes with Unicode classes off: `\w`, `\s`, `[^\n]` and case folding are
/// ASCII, which keeps the lazy DFA small and fast; CJK literals still match as their UTF-8
/// bytes.
static SET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSetBuilder::new(RULES.iter().map(|r| r.pattern))
        .case_insensitive(true)
        .unicode(false)
        .size_limit(SET_SIZE_LIMIT)
        .dfa_size_limit(DFA_CACHE_LIMIT)
        .build()
        .expect("built-in classifier rules must compile")
});

/// Whether `text` has anything a rule could match: an ASCII letter or a non-ASCII character
/// (CJK provider messages).
fn may_match(text: &str) -> bool {
    text.bytes().any(|b| b.is_ascii_alphabetic() || b >= 0x80)
}

/// The deciding rule for `text` under `status`: the first matching rule in table order.
pub(crate) fn first_match(text: &str, status: Option<u16>) -> Option<&'static Rule> {
    if !may_match(text) {
        return None;
    }
    SET.matches(text.as_bytes())
        .into_iter()
        .map(|i| &RULES[i])
        .find(|rule| {
            let in_scope = match rule.scope {
                Scope::Any => true,
                Scope::Status(s) => status == Some(s),
            };
            in_scope && rule.check.is_none_or(|check| check(text))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_compiles_and_ids_are_unique_kebab_case() {
        assert_eq!(SET.len(), RULES.len());
        let mut seen = HashSet::new();
        for rule in RULES {
            assert!(seen.insert(rule.id), "duplicate rule id {}", rule.id);
            assert!(
                rule.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                rule.id
            );
        }
    }

    #[test]
    fn first_rule_in_table_order_wins() {
        let id = |t: &str, s| first_match(t, s).map(|r| r.id);
        assert_eq!(
            id("Unsupported parameter: timeout", None),
            Some("rejected-parameter")
        );
        assert_eq!(id("request timed out", None), Some("timeout"));
        assert_eq!(
            id("upgrade your plan, limit reached", Some(402)),
            Some("402-billing-hint")
        );
        assert_ne!(
            id("upgrade your plan, limit reached", None),
            Some("402-billing-hint")
        );
        assert_eq!(id("12345 ... 678", None), None);
        assert_eq!(id("当前负载过高", None), Some("overloaded"));
    }
}
