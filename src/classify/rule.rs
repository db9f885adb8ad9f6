//! One row of the classifier's rules table: what a rule matches and what it means.

use crate::reason::Reason;

/// How strongly a rule's match decides the reason. See `decide.rs` for the full precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tier {
    /// An explicit provider or API error code (`"code":1311`, `unknown_parameter`,
    /// `deactivated_workspace`): decides alone, whatever the HTTP status says (the one
    /// exception is in `decide.rs`: a rejected parameter under a 401/402/403/407/429/529).
    Code,
    /// Wording: refines the HTTP status where that status's row allows the rule's reason
    /// (`status.rs`), and decides alone when there is no status.
    Text,
    /// Generic wording (`bad request`, `invalid_request_error`, `too many tokens`): decides only
    /// when there is no HTTP status; under a status the status's default wins.
    Hint,
}

/// When a rule applies at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Always.
    Any,
    /// Only when the failure's HTTP status is this one (OpenClaw's 402-only hints, for example
    /// "upgrade your plan … limit" is billing under a 402 but a plan window elsewhere).
    Status(u16),
}

/// One rule. The table (`rules_table.rs`) is ordered: among the rules that match, the first
/// one in the table wins (after the tier: a [`Tier::Code`] match beats any text match).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    /// Stable id, returned to callers as `Classification::rule` (kebab-case).
    pub id: &'static str,
    /// The reason a match means.
    pub reason: Reason,
    /// How strongly it decides.
    pub tier: Tier,
    /// When it applies.
    pub scope: Scope,
    /// A `regex`-crate pattern, matched case-insensitively; `\b` is ASCII-only.
    pub pattern: &'static str,
    /// An extra check on the whole text for what a pattern cannot say (numbers compared);
    /// the rule matches only when it returns `true`. Default: none.
    pub check: Option<fn(&str) -> bool>,
}

/// A text rule that always applies.
pub(crate) const fn text(id: &'static str, reason: Reason, pattern: &'static str) -> Rule {
    Rule {
        id,
        reason,
        tier: Tier::Text,
        scope: Scope::Any,
        pattern,
        check: None,
    }
}

/// A code rule (decides whatever the status).
pub(crate) const fn code(id: &'static str, reason: Reason, pattern: &'static str) -> Rule {
    Rule {
        tier: Tier::Code,
        ..text(id, reason, pattern)
    }
}

/// A text rule that applies only under one HTTP status.
pub(crate) const fn under(
    status: u16,
    id: &'static str,
    reason: Reason,
    pattern: &'static str,
) -> Rule {
    Rule {
        scope: Scope::Status(status),
        ..text(id, reason, pattern)
    }
}

/// A generic-wording rule: decides only without a status.
pub(crate) const fn hint(id: &'static str, reason: Reason, pattern: &'static str) -> Rule {
    Rule {
        tier: Tier::Hint,
        ..text(id, reason, pattern)
    }
}

/// A text rule with an extra check.
pub(crate) const fn checked(
    id: &'static str,
    reason: Reason,
    pattern: &'static str,
    check: fn(&str) -> bool,
) -> Rule {
    Rule {
        check: Some(check),
        ..text(id, reason, pattern)
    }
}
