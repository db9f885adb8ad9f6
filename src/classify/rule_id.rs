//! Which rule decided a classification: the `rule` of a [`Classification`](super::Classification).

use super::rules_table::RULES;
use serde::{Serialize, Serializer};
use std::fmt;

/// The rule that decided a reason. Shown (and serialised) as its id: a table rule's id
/// (`rate-limit`, `insufficient-quota`, …), `status-<code>`, `custom:<index>`,
/// `anthropic-unified-rejected` or `no-match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleId {
    /// A built-in rule, by its place in the rules table.
    Table(usize),
    /// The status's row decided (`status-<code>`).
    Status(u16),
    /// A custom pattern, by its index in the configured list (`custom:<index>`).
    Custom(usize),
    /// Anthropic's `anthropic-ratelimit-unified-status: rejected` header made it `quota`.
    AnthropicUnifiedRejected,
    /// Nothing matched (`unknown`).
    NoMatch,
}

/// The ids that are fixed strings, in [`RuleId::fixed_index`] order: every table rule's id,
/// then `no-match`, then `anthropic-unified-rejected`.
pub fn fixed_ids() -> impl Iterator<Item = &'static str> {
    RULES
        .iter()
        .map(|r| r.id)
        .chain(["no-match", "anthropic-unified-rejected"])
}

impl RuleId {
    /// Where this id is in [`fixed_ids`]; `None` for `status-<code>` and `custom:<index>`.
    pub fn fixed_index(self) -> Option<usize> {
        match self {
            RuleId::Table(i) => Some(i),
            RuleId::NoMatch => Some(RULES.len()),
            RuleId::AnthropicUnifiedRejected => Some(RULES.len() + 1),
            RuleId::Status(_) | RuleId::Custom(_) => None,
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleId::Table(i) => f.write_str(RULES[*i].id),
            RuleId::Status(code) => write!(f, "status-{code}"),
            RuleId::Custom(i) => write!(f, "custom:{i}"),
            RuleId::AnthropicUnifiedRejected => f.write_str("anthropic-unified-rejected"),
            RuleId::NoMatch => f.write_str("no-match"),
        }
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_as_documented_and_fixed_ones_have_their_place() {
        let fixed: Vec<&str> = fixed_ids().collect();
        for id in [
            RuleId::Table(0),
            RuleId::Table(RULES.len() - 1),
            RuleId::NoMatch,
            RuleId::AnthropicUnifiedRejected,
        ] {
            assert_eq!(fixed[id.fixed_index().unwrap()], id.to_string());
        }
        assert_eq!(RuleId::Status(429).to_string(), "status-429");
        assert_eq!(RuleId::Custom(2).to_string(), "custom:2");
        assert_eq!(RuleId::Status(429).fixed_index(), None);
        assert_eq!(serde_json::to_value(RuleId::Custom(0)).unwrap(), "custom:0");
    }
}
