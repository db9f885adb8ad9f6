//! The failure classifier: turns any failure (a string, an `Error`, an HTTP-like response, an
//! OpenClaw `agent_end` event, an outgoing chat message) into a [`Classification`]: a
//! [`Reason`], whether it is retryable, the HTTP status, and the provider's retry hint.
//!
//! Only the `regex` crate (linear time) is used, all patterns are compiled once, and huge inputs
//! are scanned through bounded prefixes and suffixes (the first and last 64 KiB of every
//! string, at most 512 KiB of text in all; JSON bodies over 256 KiB are not parsed), so a 10 MB body
//! classifies in milliseconds.

mod ascii;
mod classification;
mod decide;
mod durations;
mod headers;
mod hints;
mod input;
mod rule;
mod rule_id;
mod rule_set;
mod rules_table;
mod size_ceiling;
mod status;
mod summary;
mod surfaced;
mod written_reset;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;

pub use classification::Classification;
pub use rule_id::{fixed_ids, RuleId};

use crate::error::{EngineError, EngineResult};
use crate::reason::Reason;
use decide::Verdict;
use headers::Hint;
use input::{FailureView, Normalised};
use regex::{Regex, RegexBuilder};
use serde_json::Value;

/// A user-supplied pattern mapped to a reason; checked before the built-in patterns.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomPattern {
    /// A `regex`-crate regular expression, matched case-insensitively against the failure text.
    pub pattern: String,
    /// The reason a match means.
    pub reason: Reason,
}

/// Classifier options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClassifierConfig {
    /// Extra patterns, checked in order before the built-ins. Default: empty.
    pub custom_patterns: Vec<CustomPattern>,
    /// The configured long-window length in ms, used as the retry hint for `quota` when the
    /// provider gave none. Default: `None` (no fallback hint).
    pub budget_window_ms: Option<i64>,
}

/// Classifies failures. Cheap to share (`&self` only); build once with [`Classifier::new`].
#[derive(Debug, Clone)]
pub struct Classifier {
    /// Compiled custom patterns, each with its reason.
    custom: Vec<(Regex, Reason)>,
    budget_window_ms: Option<i64>,
}

/// Compiled-size limit for one custom pattern (bytes), so a config cannot blow up memory.
const CUSTOM_PATTERN_SIZE_LIMIT: usize = 1 << 20;

impl Classifier {
    /// Compiles the configuration. An invalid custom regex or a negative budget window is an
    /// [`EngineError::InvalidOption`] naming the field (`patterns[i].pattern`, as the JS option
    /// is spelled, or `classifier.budgetWindowMs`).
    pub fn new(cfg: ClassifierConfig) -> EngineResult<Self> {
        let custom = cfg
            .custom_patterns
            .iter()
            .enumerate()
            .map(|(i, p)| {
                RegexBuilder::new(&p.pattern)
                    .case_insensitive(true)
                    .size_limit(CUSTOM_PATTERN_SIZE_LIMIT)
                    .build()
                    .map(|re| (re, p.reason))
                    .map_err(|e| {
                        EngineError::option(
                            format!("patterns[{i}].pattern"),
                            format!("not a valid regular expression (Rust `regex` syntax): {e}"),
                        )
                    })
            })
            .collect::<EngineResult<Vec<_>>>()?;
        if let Some(ms) = cfg.budget_window_ms.filter(|ms| *ms < 0) {
            return Err(EngineError::option(
                "classifier.budgetWindowMs",
                format!("expected a duration in ms >= 0, got {ms}"),
            ));
        }
        Ok(Classifier {
            custom,
            budget_window_ms: cfg.budget_window_ms,
        })
    }

    /// Classifies `input` received at `now_ms` (epoch ms, used to turn hints into both relative
    /// and absolute times). Never fails: unrecognised failures are [`Reason::Unknown`], and
    /// inputs that are not failures get `reason: None`.
    ///
    /// Hints count from when the provider answered: for an OpenClaw `agent_end` event whose
    /// failed assistant message carries a `timestamp` (epoch ms, not after `now_ms`), a relative
    /// hint resets at `timestamp + hint` and `retry_after_ms` is what is left of it at `now_ms`.
    pub fn classify(&self, input: &Value, now_ms: i64) -> Classification {
        match input::normalise(input) {
            Normalised::NotFailure => Classification::not_a_failure(),
            Normalised::ChatText(text) => {
                if self.is_surfaced_error(&text) {
                    self.classify_view(&input::normalise_text(&text), now_ms)
                } else {
                    Classification::not_a_failure()
                }
            }
            Normalised::Failure(view) => self.classify_view(&view, now_ms),
        }
    }

    /// Whether `text` (an outgoing chat message) is error copy surfaced by OpenClaw or a bot,
    /// such as "⚠️ LLM request failed (rate limited, HTTP 429)…". Ordinary replies that talk
    /// about rate limits are never surfaced errors.
    pub fn is_surfaced_error(&self, text: &str) -> bool {
        surfaced::has_surfaced_shape(text)
            && self.verdict(&input::normalise_text(text)).reason != Reason::Unknown
    }

    /// The reason and deciding rule: custom patterns first, then the built-in precedence
    /// (`decide.rs`: explicit codes > status refined by text > text).
    fn verdict(&self, view: &FailureView) -> Verdict {
        let custom = self
            .custom
            .iter()
            .enumerate()
            .find(|(_, (re, _))| re.is_match(&view.text));
        if let Some((i, (_, reason))) = custom {
            return Verdict {
                reason: *reason,
                rule: RuleId::Custom(i),
                status: decide::status_of(view),
            };
        }
        decide::decide(view)
    }

    fn classify_view(&self, view: &FailureView, now_ms: i64) -> Classification {
        let Verdict {
            reason,
            rule,
            status,
        } = self.verdict(view);
        let received_ms = view
            .received_at_ms
            .filter(|t| *t <= now_ms)
            .unwrap_or(now_ms);
        let hint = hints::find_hint(view, reason, self.budget_window_ms, received_ms);
        let (retry_after_ms, reset_at_ms) = match hint {
            Some(Hint::After(ms)) => {
                let at = received_ms.saturating_add(ms);
                (Some(at.saturating_sub(now_ms).max(0)), Some(at))
            }
            Some(Hint::At(at)) => (Some(at.saturating_sub(now_ms).max(0)), Some(at)),
            None => (None, None),
        };
        let text = view.message.as_deref().unwrap_or(&view.text);
        Classification {
            reason: Some(reason),
            retryable: reason.is_retryable(),
            status,
            retry_after_ms,
            reset_at_ms,
            message: summary::summarise(status, text),
            rule: Some(rule),
            relative_hint: matches!(hint, Some(Hint::After(_))),
        }
    }
}
