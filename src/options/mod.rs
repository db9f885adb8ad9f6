//! The one normalisation point: JS-style options (camelCase JSON) → [`EngineConfig`], with every
//! mistake reported as `E_INVALID_OPTION` naming the dotted field.

mod policy;
mod reader;
mod scheduler;
mod state;
mod stores;

pub use reader::{kind, OptionReader};
pub use stores::QueueSettings;

use crate::classify::{ClassifierConfig, CustomPattern};
use crate::engine::EngineConfig;
use crate::error::{EngineError, EngineResult};
use crate::reason::Reason;
use serde_json::Value;
use std::path::PathBuf;

/// Top-level option names (functions `onEvent`/`resend` are taken by the binding).
pub const TOP_LEVEL: [&str; 14] = [
    "stateDir",
    "seed",
    "budgetWindow",
    "patterns",
    "policy",
    "breaker",
    "messageGuard",
    "queue",
    "scheduler",
    "gateway",
    "profiles",
    "state",
    "onEvent",
    "resend",
];

/// Parse and validate options. `None`/`null` gives every default; `scheduler.confirm`
/// defaults to `"ack"` here (see [`parse_engine_options`] for the JS class's default).
pub fn parse_options(value: Option<&Value>) -> EngineResult<EngineConfig> {
    parse_config(value, false)
}

fn parse_config(value: Option<&Value>, gateway_resender: bool) -> EngineResult<EngineConfig> {
    let root = OptionReader::new("", value)?;
    root.deny_unknown(&TOP_LEVEL)?;
    let mut cfg = EngineConfig::default();
    if let Some(dir) = root.string("stateDir")? {
        cfg.state_dir = PathBuf::from(dir);
    }
    if let Some(seed) = root.int("seed", 0, i64::MAX)? {
        cfg.seed = Some(seed as u64);
    }
    cfg.classifier = read_patterns(&root)?;
    let mut p = String::new();
    cfg.policy = policy::read_policy(&root.object("policy", &mut p)?)?;
    if let Some(w) = root.string("budgetWindow")? {
        let window = policy::parse_window(&root, "budgetWindow", &w)?;
        let quota = cfg.policy.policy(Reason::Quota);
        if quota.budget_window.is_none() {
            cfg.policy = cfg
                .policy
                .with_policy(Reason::Quota, quota.with_budget_window(Some(window)));
        }
    }
    let mut p = String::new();
    cfg.breaker = policy::read_breaker(&root.object("breaker", &mut p)?, cfg.breaker)?;
    let mut p = String::new();
    cfg.message_guard = policy::read_breaker(
        &root.object("messageGuard", &mut p)?,
        policy::message_guard_defaults(),
    )?;
    let mut p = String::new();
    cfg.queue = stores::read_queue(&root.object("queue", &mut p)?)?;
    let mut p = String::new();
    cfg.scheduler =
        scheduler::read_scheduler(&root.object("scheduler", &mut p)?, gateway_resender)?;
    cfg.scheduler.max_attempts = cfg.queue.max_attempts;
    let mut p = String::new();
    cfg.gateway = stores::read_gateway(&root.object("gateway", &mut p)?, &cfg.state_dir)?;
    let mut p = String::new();
    cfg.profiles = stores::read_profiles(&root.object("profiles", &mut p)?)?;
    let mut p = String::new();
    cfg.state = state::read_state(&root.object("state", &mut p)?)?;
    Ok(cfg)
}

/// [`parse_options`] for an engine as the JS class builds it: one that resends through a
/// `resend` callback when `resend_callback`, else through its built-in gateway resender. There
/// `scheduler.confirm` defaults to `"run"` (the engine asks the gateway how each resend's run
/// ended, so a probe releases its group only on its own run's success and a resend whose run
/// fails is parked again); with a callback, which the engine cannot ask, to `"ack"`.
pub fn parse_engine_options(
    value: Option<&Value>,
    resend_callback: bool,
) -> EngineResult<EngineConfig> {
    parse_config(value, !resend_callback)
}

/// Most custom patterns accepted.
pub const MAX_PATTERNS: usize = 256;
/// Longest custom pattern accepted, in characters (compiled size is limited separately).
pub const MAX_PATTERN_CHARS: usize = 4096;

/// `patterns`: at most [`MAX_PATTERNS`] of at most [`MAX_PATTERN_CHARS`] characters each, both
/// checked before anything is compiled.
fn read_patterns(root: &OptionReader<'_>) -> EngineResult<ClassifierConfig> {
    let mut cfg = ClassifierConfig::default();
    let Some(v) = root.raw("patterns") else {
        return Ok(cfg);
    };
    let list = v.as_array().ok_or_else(|| {
        EngineError::option(
            "patterns",
            format!("expected an array of {{pattern, reason}}, got {}", kind(v)),
        )
    })?;
    if list.len() > MAX_PATTERNS {
        return Err(EngineError::option(
            "patterns",
            format!(
                "has {} patterns; at most {MAX_PATTERNS} are accepted",
                list.len()
            ),
        ));
    }
    for (i, item) in list.iter().enumerate() {
        let path = format!("patterns[{i}]");
        let r = OptionReader::new(&path, Some(item))?;
        r.deny_unknown(&["pattern", "reason"])?;
        let pattern = r
            .string("pattern")?
            .ok_or_else(|| EngineError::option(format!("{path}.pattern"), "is required"))?;
        let chars = pattern.chars().count();
        if chars > MAX_PATTERN_CHARS {
            return Err(EngineError::option(
                format!("{path}.pattern"),
                format!("is {chars} characters long; patterns are at most {MAX_PATTERN_CHARS}"),
            ));
        }
        let reason: Reason = r
            .string("reason")?
            .ok_or_else(|| EngineError::option(format!("{path}.reason"), "is required"))?
            .parse()
            .map_err(|e: String| EngineError::option(format!("{path}.reason"), e))?;
        cfg.custom_patterns.push(CustomPattern { pattern, reason });
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::ProbeConfirm;
    use serde_json::json;

    #[test]
    fn confirm_defaults_to_run_with_the_gateway_resender_and_to_ack_with_a_callback() {
        let confirm = |v: Value, callback: bool| {
            parse_engine_options(Some(&v), callback)
                .unwrap()
                .scheduler
                .confirm
        };
        let run = ProbeConfirm::Run {
            timeout_ms: 600_000,
        };
        assert_eq!(confirm(json!({}), false), run);
        assert_eq!(confirm(json!({"scheduler": {"confirm": null}}), false), run);
        assert_eq!(
            confirm(json!({"scheduler": {"probeTimeoutMs": 5000}}), false),
            ProbeConfirm::Run { timeout_ms: 5000 }
        );
        assert_eq!(confirm(json!({}), true), ProbeConfirm::Ack);
        assert_eq!(
            confirm(json!({"scheduler": {"confirm": "ack"}}), false),
            ProbeConfirm::Ack
        );
        assert_eq!(
            confirm(json!({"scheduler": {"confirm": "resolve"}}), true),
            ProbeConfirm::Resolve {
                timeout_ms: 600_000
            }
        );
        assert_eq!(
            parse_options(None).unwrap().scheduler.confirm,
            ProbeConfirm::Ack
        );
    }

    #[test]
    fn pattern_count_and_length_are_bounded() {
        let long = json!({"patterns": [{"pattern": "a".repeat(MAX_PATTERN_CHARS + 1), "reason": "rate_limit"}]});
        let e = parse_options(Some(&long)).unwrap_err();
        assert!(e.to_string().contains("patterns[0].pattern"), "{e}");
        let ok = json!({"patterns": [{"pattern": "a".repeat(MAX_PATTERN_CHARS), "reason": "rate_limit"}]});
        assert!(parse_options(Some(&ok)).is_ok());
        let many: Vec<_> = (0..=MAX_PATTERNS)
            .map(|i| json!({"pattern": format!("p{i}"), "reason": "rate_limit"}))
            .collect();
        let e = parse_options(Some(&json!({ "patterns": many }))).unwrap_err();
        assert_eq!(e.code(), "E_INVALID_OPTION");
        assert!(e.to_string().contains("`patterns`"), "{e}");
    }

    #[test]
    fn defaults_and_errors_name_fields() {
        let cfg = parse_options(None).unwrap();
        assert_eq!(cfg.queue.max_entries, 10_000);
        let cfg = parse_options(Some(&json!({"stateDir": "/x", "budgetWindow": "5h",
            "patterns": [{"pattern": "slow down", "reason": "rate_limit"}]})))
        .unwrap();
        assert_eq!(cfg.state_dir, PathBuf::from("/x"));
        assert!(cfg.policy.policy(Reason::Quota).budget_window.is_some());
        assert_eq!(cfg.classifier.custom_patterns.len(), 1);
        for (bad, field) in [
            (json!({"stateDir": 3}), "stateDir"),
            (json!({"nope": 1}), "nope"),
            (
                json!({"patterns": [{"pattern": "x", "reason": "zzz"}]}),
                "patterns[0].reason",
            ),
            (json!({"budgetWindow": "5q"}), "budgetWindow"),
            (json!({"queue": {"maxEntries": 0}}), "queue.maxEntries"),
            (
                json!({"scheduler": {"maxConcurrent": 0}}),
                "scheduler.maxConcurrent",
            ),
            (
                json!({"scheduler": {"confirm": "maybe"}}),
                "scheduler.confirm",
            ),
        ] {
            let e = parse_options(Some(&bad)).unwrap_err();
            assert_eq!(e.code(), "E_INVALID_OPTION");
            assert!(
                e.to_string().contains(&format!("`{field}`")),
                "{field}: {e}"
            );
        }
    }
}
