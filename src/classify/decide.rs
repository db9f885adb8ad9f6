//! Precedence: which of the signals in a failure decides its reason.
//!
//! 1. A user's custom pattern (`custom:<index>`).
//! 2. An explicit provider or API error code ([`Tier::Code`] rules: `unknown_parameter`,
//!    `deactivated_workspace`, `insufficient_quota`, Zhipu `"code":1311`, …) decides alone,
//!    whatever the status: a rejected parameter named `timeout` is `format`, a 400 whose body
//!    says `insufficient_quota` is `billing`. One exception: a rejected parameter under a
//!    401/402/403/407/429/529 is read by that status (step 3).
//! 3. The HTTP status (a structured `status` field, else one written in the text: `HTTP 429`,
//!    a leading `503 …`, `status code 401`), read together with the text: each status row
//!    (`status.rs`) has a default reason and lists the text reasons that refine it. So a 402
//!    saying "rate limit" is `rate_limit`, a 429 "Request too large" is `context_overflow`
//!    (not retryable), a 429 saying "daily" is `quota`, but a 503 saying "invalid api key" stays
//!    `server_error`. An HTML error page under a transport status (408, 499, 5xx) is read by its
//!    status alone; a bare leading `402` counts only with a billing or rate-limit wording.
//!    Generic wordings ([`Tier::Hint`]: `bad request`, `too many tokens`) never refine a status.
//! 4. Without a status, the first matching text rule ([`Tier::Text`] or [`Tier::Hint`], table
//!    order).
//! 5. Nothing matched: `unknown` (rule `no-match`).
//!
//! Anthropic's `anthropic-ratelimit-unified-status: rejected` header turns a 429 or an unclear
//! failure into `quota` (the subscription's 5-hour/weekly window).

use super::input::FailureView;
use super::rule::{Rule, Tier};
use super::rule_id::RuleId;
use super::rule_set::TextScan;
use super::status::{leading_status, status_in_text, status_row};
use crate::reason::Reason;
use regex::Regex;
use std::sync::LazyLock;

/// The reason, the id of the rule that decided it, and the HTTP status read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    /// The reason.
    pub reason: Reason,
    /// The deciding rule.
    pub rule: RuleId,
    /// The HTTP status of the failure (structured or written in the text), if any.
    pub status: Option<u16>,
}

impl Verdict {
    fn of((index, rule): (usize, &'static Rule), status: Option<u16>) -> Self {
        Verdict {
            reason: rule.reason,
            rule: RuleId::Table(index),
            status,
        }
    }
}

/// Where a status was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusSource {
    /// A structured field, or a status-like context in the text (`HTTP 429`, `status 503`).
    Stated,
    /// Only a number at the very start of the text (`402 …`).
    Leading,
}

/// `<!doctype html>` / `<html>` pages (proxies, CDNs) that close with `</html>`.
static HTML_PAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^\s*(?:error:?\s*)?(?:http\s*)?(?:\d{3}\s*:?\s*)?(?:<!doctype\s+html|<html)(?-u:\b).*</html>")
        .expect("html page pattern must compile")
});

fn is_transport_status(status: u16) -> bool {
    status == 408 || status == 499 || (500..600).contains(&status)
}

/// The status of `view`: structured first, else one written in the text (what `in_text`
/// finds there), else a number leading the text.
fn status_with_source(
    view: &FailureView,
    in_text: impl FnOnce() -> Option<u16>,
) -> Option<(u16, StatusSource)> {
    view.status
        .or_else(in_text)
        .map(|s| (s, StatusSource::Stated))
        .or_else(|| leading_status(&view.text).map(|s| (s, StatusSource::Leading)))
}

/// The status of `view`: structured first, else one written in the text.
pub(crate) fn status_of(view: &FailureView) -> Option<u16> {
    status_with_source(view, || status_in_text(&view.text)).map(|(s, _)| s)
}

/// The built-in verdict for `view` (custom patterns are checked by the caller). The text is
/// scanned once, for the rules and the status contexts together.
pub(crate) fn decide(view: &FailureView) -> Verdict {
    let scan = TextScan::of(&view.text);
    let stated = status_with_source(view, || scan.status());
    let matched = scan.first_match(stated.map(|(s, _)| s));
    let verdict = match matched {
        Some(m @ (_, rule)) if rule.tier == Tier::Code && !status_outranks_code(rule, stated) => {
            return Verdict::of(m, stated.map(|(s, _)| s))
        }
        _ => by_status(view, stated, matched),
    };
    let unified_rejected = view.headers.anthropic_unified_rejected()
        && verdict.status.is_none_or(|s| s == 429)
        && matches!(verdict.reason, Reason::RateLimit | Reason::Unknown);
    if unified_rejected {
        return Verdict {
            reason: Reason::Quota,
            rule: RuleId::AnthropicUnifiedRejected,
            ..verdict
        };
    }
    verdict
}

/// A rejected-parameter code ([`Reason::Format`]) under an access, payment, rate-limit or
/// overload status is read by that status: the request shape was never the reason the
/// provider gave (OpenClaw keeps those statuses' policy for validation-coded errors), while
/// under a 400/404/5xx the code still decides.
fn status_outranks_code(rule: &Rule, stated: Option<(u16, StatusSource)>) -> bool {
    rule.reason == Reason::Format
        && matches!(
            stated,
            Some((401 | 402 | 403 | 407 | 429 | 529, StatusSource::Stated))
        )
}

fn by_status(
    view: &FailureView,
    stated: Option<(u16, StatusSource)>,
    matched: Option<(usize, &'static Rule)>,
) -> Verdict {
    let text_reason = matched.map(|(_, r)| r.reason);
    // "402 items found" is not a payment error: a status only written as a bare leading 402
    // counts when the text speaks of billing or limits.
    let status = match stated {
        Some((402, StatusSource::Leading))
            if !matches!(
                text_reason,
                Some(Reason::Billing | Reason::Quota | Reason::RateLimit)
            ) =>
        {
            None
        }
        other => other.map(|(s, _)| s),
    };
    let Some((code, row)) = status.and_then(|s| status_row(s).map(|row| (s, row))) else {
        return matched.map_or_else(|| no_match(status), |rule| Verdict::of(rule, status));
    };
    let html_page = is_transport_status(code) && HTML_PAGE.is_match(&view.text);
    match matched {
        Some(m @ (_, rule))
            if !html_page && rule.tier == Tier::Text && row.refined_by.contains(&rule.reason) =>
        {
            Verdict::of(m, status)
        }
        _ => Verdict {
            reason: row.default,
            rule: RuleId::Status(code),
            status,
        },
    }
}

fn no_match(status: Option<u16>) -> Verdict {
    Verdict {
        reason: Reason::Unknown,
        rule: RuleId::NoMatch,
        status,
    }
}
