//! The built-in reason patterns, checked in a fixed order on the collected failure text.
//!
//! Order matters: the specific, non-retryable causes come first (context overflow, unknown model,
//! billing, revoked/disabled accounts, bad keys) so that a 429 that says `insufficient_quota` is
//! billing, and long windows (quota) come before short ones (rate limit). All regexes come from
//! the `regex` crate (linear time) and are compiled once.

use crate::reason::Reason;
use regex::Regex;
use std::sync::LazyLock;

/// Google's quota errors (`RESOURCE_EXHAUSTED`, `Quota exceeded for metric`, `QuotaFailure`):
/// a per-day quota is `quota`, anything else is `rate_limit`, even when the text says "exceeded
/// your current quota ... billing".
static GOOGLE_QUOTA: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"RESOURCE_EXHAUSTED|quota exceeded for metric|google\.rpc\.QuotaFailure|generativelanguage\.googleapis",
    )
});
static GOOGLE_LONG_WINDOW: LazyLock<Regex> =
    LazyLock::new(|| re(r"PerDay|per[ _-]?day|daily|PerWeek|PerMonth"));

/// Ordered `(reason, pattern)` table; the first match wins.
static RULES: LazyLock<Vec<(Reason, Regex)>> = LazyLock::new(|| {
    RULE_SOURCES
        .iter()
        .map(|(reason, src)| (*reason, re(src)))
        .collect()
});

const RULE_SOURCES: &[(Reason, &str)] = &[
    (
        Reason::ContextOverflow,
        r"context[_ ]length[_ ]exceeded|maximum context length|context (?:window|length|limit) (?:is |has been |was )?(?:exceeded|too small)|exceeds? (?:the )?(?:model'?s? )?(?:maximum )?context (?:window|length|limit)|prompt is too long|input is too long|reduce the length of the (?:messages|prompt|input)|exceed context limit|request_too_large|prompt (?:is )?too large|context[_ ]overflow|exceeds the maximum number of tokens|too many input tokens|maximum (?:prompt|input) length",
    ),
    (
        Reason::ModelNotFound,
        r"model_not_found|no such model|unknown model|model[^\n]{0,100}?(?:does not exist|doesn't exist|not found|could not be found|was not found)|invalid model(?: id| name)?\b|is not a valid model|model identifier is invalid|not_found_error[\s\S]{0,120}?\bmodel\b|\bmodel\b[\s\S]{0,120}?not_found_error",
    ),
    (
        Reason::Billing,
        r"insufficient_quota|billing_hard_limit|billing_not_active|billing[_ ]error|credit balance|insufficient (?:credits?|funds|balance)|(?:requires|purchase|buy|add) (?:more )?credits|out of credits|payment[ _]required|payment (?:method|failed|issue|is required)|exceeded your current quota,? please check your plan|plans? (?:&|and) billing|account\b[^.\n]{0,40}?\bis not active",
    ),
    (
        Reason::AuthPermanent,
        r"account_deactivated|account (?:has been |was |is )?(?:disabled|deactivated|suspended|banned|terminated)|organi[sz]ation (?:has been |was |is )?(?:disabled|deactivated|suspended|banned|restricted)|key (?:has been |was )?(?:revoked|disabled|deactivated)|\brevoked\b|access (?:has been )?terminated|access_terminated|permission[_ ]?error|permission[_ ]?denied|not allowed to (?:access|use)|does not have (?:access|permission)|AccessDeniedException|unsupported_country|region (?:is )?not supported|country, region, or territory",
    ),
    (
        Reason::Auth,
        r"invalid_api_key|invalid api[ -]?key|incorrect api[ -]?key|api[ -]?key not valid|invalid x-api-key|authentication[ _]?error|authentication (?:failed|required)|unauthori[sz]ed|UNAUTHENTICATED|invalid (?:auth(?:entication)?|bearer|access) token|invalid_token|token (?:has )?expired|expired token|missing (?:api[ -]?key|authentication|credentials)|no api[ -]?key|api[ -]?key (?:is )?(?:missing|required|invalid)|invalid credentials|could not validate credentials|UnrecognizedClientException|security token included in the request is invalid|ExpiredTokenException",
    ),
    (
        Reason::Quota,
        r"usage limit|BudgetExceeded|ExceededBudget|budget (?:has been |was )?exceeded|exceeded (?:your |the )?budget|spend(?:ing)? (?:limit|threshold|cap)|(?:per|a)[ _-](?:day|week|month)\b|\bdaily\b|\bweekly\b|\bmonthly\b|PerDay|PerWeek|PerMonth|\bRPD\b|\bTPD\b|5-hour|five-hour|\b5h (?:window|limit)|(?:7|seven)-day (?:window|limit)|weekly limit",
    ),
    (
        Reason::RateLimit,
        r"rate[ _-]?limit|too[ _-]?many[ _-]?requests|throttl|exceeded your current quota|quota exceeded|exceeded (?:the |your )?quota|(?:tokens|requests) per (?:min|minute|second|sec)\b|\b(?:TPM|RPM|TPS|RPS)\b|slow down|concurrency limit|too many concurrent|resource has been exhausted",
    ),
    (
        Reason::Overloaded,
        r"overloaded|over capacity|at capacity|capacity (?:exceeded|constraints)|high demand|server is busy|ModelNotReadyException",
    ),
    (
        Reason::ServerError,
        r"internal[ _]?server[ _]?error|the server had an error|internal error|bad[ _]?gateway|service[ _]?unavailable|gateway[ _-]?time-?out|api_error|server_error|server error|upstream (?:connect )?error|upstream request timeout|(?-i:\bINTERNAL\b|\bUNAVAILABLE\b)|InternalServerException|ModelStreamErrorException",
    ),
    (
        Reason::Timeout,
        r"\btimed? ?out\b|\btime-?outs?\b|time-?out[ _]?(?:error|exception)|ETIMEDOUT|ESOCKETTIMEDOUT|UND_ERR_\w*TIMEOUT|deadline[ _]exceeded|request took too long",
    ),
    (
        Reason::Network,
        r"ECONNRESET|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EPIPE|ECONNABORTED|ENETUNREACH|EHOSTUNREACH|ENETDOWN|socket hang up|fetch failed|network (?:error|failure|is unreachable)|connection (?:reset|refused|closed|error|aborted|failure|lost)|APIConnectionError|getaddrinfo|UND_ERR_SOCKET|other side closed|premature close|TypeError: terminated",
    ),
    (
        Reason::Format,
        r"ValidationException|invalid_request_error|invalid[ _]request|bad[ _]?request|malformed|INVALID_ARGUMENT|unprocessable|invalid (?:parameter|value|argument|schema|json|type|role)|validation (?:error|failed)|missing required|must be (?:a|an|one of|less|greater|at)\b|unsupported (?:parameter|value)|not supported|unexpected (?:field|parameter)|extra inputs are not permitted|invalid_type|SerializationException",
    ),
];

/// Compiles a built-in pattern case-insensitively. Panics only on a bug in the table above,
/// which the unit tests would catch.
///
/// Word boundaries are ASCII-only (`(?-u:\b)`): Unicode word boundaries make the regex engine
/// fall back from its DFA to a much slower engine on non-ASCII text.
fn re(src: &str) -> Regex {
    let src = src.replace(r"\b", r"(?-u:\b)");
    Regex::new(&format!("(?i){src}")).expect("built-in classifier pattern must compile")
}

/// The first built-in reason whose pattern matches `text`.
pub(crate) fn match_builtin(text: &str) -> Option<Reason> {
    if text.is_empty() {
        return None;
    }
    let early = [Reason::ContextOverflow, Reason::ModelNotFound];
    for (reason, regex) in RULES.iter().filter(|(r, _)| early.contains(r)) {
        if regex.is_match(text) {
            return Some(*reason);
        }
    }
    if GOOGLE_QUOTA.is_match(text) {
        return Some(if GOOGLE_LONG_WINDOW.is_match(text) {
            Reason::Quota
        } else {
            Reason::RateLimit
        });
    }
    RULES
        .iter()
        .filter(|(r, _)| !early.contains(r))
        .find(|(_, regex)| regex.is_match(text))
        .map(|(reason, _)| *reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_patterns_compile() {
        assert_eq!(RULES.len(), RULE_SOURCES.len());
        assert!(GOOGLE_QUOTA.is_match("RESOURCE_EXHAUSTED"));
    }

    #[test]
    fn one_example_per_reason() {
        let cases = [
            ("Error: context_length_exceeded", Reason::ContextOverflow),
            ("The model `x` does not exist", Reason::ModelNotFound),
            ("Your credit balance is too low", Reason::Billing),
            ("Your account has been deactivated", Reason::AuthPermanent),
            ("invalid x-api-key", Reason::Auth),
            ("You have reached your daily limit", Reason::Quota),
            ("429 Too Many Requests", Reason::RateLimit),
            ("Overloaded", Reason::Overloaded),
            ("502 Bad Gateway", Reason::ServerError),
            ("Request timed out.", Reason::Timeout),
            ("connect ECONNREFUSED 127.0.0.1:443", Reason::Network),
            ("ValidationException: bad field", Reason::Format),
        ];
        for (text, want) in cases {
            assert_eq!(match_builtin(text), Some(want), "{text}");
        }
        assert_eq!(match_builtin("something odd happened"), None);
        assert_eq!(match_builtin(""), None);
    }

    #[test]
    fn google_quota_split() {
        assert_eq!(
            match_builtin("RESOURCE_EXHAUSTED quotaId GenerateRequestsPerDayPerProjectPerModel"),
            Some(Reason::Quota)
        );
        assert_eq!(
            match_builtin(
                "You exceeded your current quota, please check your plan and billing details.\nRESOURCE_EXHAUSTED PerMinute"
            ),
            Some(Reason::RateLimit)
        );
    }
}
