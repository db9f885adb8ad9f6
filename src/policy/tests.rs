//! Behaviour tests of the policy table.

use super::*;
use crate::backoff::BackoffSchedule;
use crate::clock::{Clock, ManualClock, TokioClock};
use crate::events::{Event, RecordingSink};
use crate::jitter::Jitter;
use crate::reason::Reason;
use crate::window::{Window, DEFAULT_RESET_MARGIN_MS};

const T0: i64 = 1_795_000_000_000;

fn table(cfg: PolicyConfig) -> (PolicyTable, RecordingSink) {
    let rec = RecordingSink::default();
    let t = PolicyTable::new(cfg, Jitter::seeded(1), rec.sink()).unwrap();
    (t, rec)
}

fn alerts(rec: &RecordingSink) -> usize {
    rec.events()
        .iter()
        .filter(|e| matches!(e, Event::Alert { .. }))
        .count()
}

#[test]
fn rate_limit_backs_off_along_the_schedule_with_jitter_and_never_stops() {
    let (mut t, rec) = table(PolicyConfig::default());
    let f = Failure::new(Reason::RateLimit, "429 too many requests");
    let steps = [
        30_000, 60_000, 300_000, 900_000, 3_600_000, 3_600_000, 3_600_000,
    ];
    for (i, step) in steps.iter().enumerate() {
        let d = t.record_failure("s1", &f, T0);
        assert_eq!(d.action, Action::Retry);
        assert_eq!(d.consecutive_errors, i as u32 + 1);
        let wait = d.next_attempt_at_ms.unwrap() - T0;
        let lo = (*step as f64 * 0.9) as i64;
        let hi = (*step as f64 * 1.1) as i64;
        assert!((lo..=hi).contains(&wait), "step {i}: {wait}");
        assert_eq!(d.cooldown_until_ms, d.next_attempt_at_ms);
        assert_eq!(d.disabled_until_ms, None);
        assert!(!d.alert);
    }
    for _ in 0..50 {
        assert_eq!(t.record_failure("s1", &f, T0).action, Action::Retry);
    }
    assert_eq!(alerts(&rec), 0);
}

#[test]
fn provider_hint_wins_and_is_never_undercut() {
    let (mut t, _) = table(PolicyConfig::default());
    let mut f = Failure::new(Reason::RateLimit, "429");
    f.retry_after_ms = Some(6_000);
    for _ in 0..20 {
        let d = t.record_failure("k", &f, T0);
        let next = d.next_attempt_at_ms.unwrap();
        assert!((T0 + 6_000..=T0 + 6_600).contains(&next), "{next}");
    }
    // a reset time later than the retry-after wins
    f.reset_at_ms = Some(T0 + 120_000);
    let d = t.record_failure("k2", &f, T0);
    assert!(d.next_attempt_at_ms.unwrap() >= T0 + 120_000);
    // a stale hint (in the past) falls back to the schedule
    let mut stale = Failure::new(Reason::RateLimit, "429");
    stale.reset_at_ms = Some(T0 - 5_000);
    let d = t.record_failure("k3", &stale, T0);
    let wait = d.next_attempt_at_ms.unwrap() - T0;
    assert!((27_000..=33_000).contains(&wait), "{wait}");
}

#[test]
fn hint_ignored_when_policy_says_so() {
    let mut cfg = PolicyConfig::default().with_jitter_ratio(0.0);
    cfg.policy_mut(Reason::Timeout).honour_hint = false;
    let (mut t, _) = table(cfg);
    let mut f = Failure::new(Reason::Timeout, "timed out");
    f.retry_after_ms = Some(500_000);
    let d = t.record_failure("k", &f, T0);
    assert_eq!(d.next_attempt_at_ms, Some(T0 + 30_000));
}

#[test]
fn billing_disables_at_once_alerts_once_per_window_and_doubles() {
    let (mut t, rec) = table(PolicyConfig::default());
    let f = Failure::new(Reason::Billing, "insufficient credit");
    let d = t.record_failure("p", &f, T0);
    assert_eq!(d.action, Action::Disable);
    assert!(d.alert);
    assert_eq!(d.disabled_until_ms, Some(T0 + 600_000));
    assert_eq!(d.next_attempt_at_ms, Some(T0 + 600_000));
    assert_eq!(d.cooldown_until_ms, None);
    assert_eq!(
        rec.events()[0],
        Event::Alert {
            key: "p".into(),
            reason: Reason::Billing,
            consecutive_errors: 1,
            message: "insufficient credit".into()
        }
    );
    let s = t.state("p", T0 + 1).unwrap();
    assert!(s.disabled && !s.cooling_down);
    assert!(!t.is_ready("p", T0 + 1));
    assert!(!t.state("p", T0 + 600_000).unwrap().disabled);

    // retried after the disable, fails again within the hour: doubled, no second alert
    let d = t.record_failure("p", &f, T0 + 600_000);
    assert_eq!(d.disabled_until_ms, Some(T0 + 600_000 + 1_200_000));
    assert!(!d.alert);
    assert_eq!(alerts(&rec), 1);
    // an hour after the first alert: alerts again
    let d = t.record_failure("p", &f, T0 + 3_600_000);
    assert!(d.alert);
    assert_eq!(d.disabled_until_ms, Some(T0 + 3_600_000 + 2_400_000));
    assert_eq!(alerts(&rec), 2);
}

#[test]
fn alert_memory_survives_success_but_not_reset() {
    let (mut t, rec) = table(PolicyConfig::default());
    let f = Failure::new(Reason::Auth, "401 invalid api key");
    assert!(t.record_failure("p", &f, T0).alert);
    t.record_success("p");
    assert!(t.state("p", T0).is_none());
    assert!(t.is_ready("p", T0));
    let d = t.record_failure("p", &f, T0 + 60_000);
    assert!(!d.alert, "flapping key alerts once per window");
    assert_eq!(
        d.disabled_until_ms,
        Some(T0 + 60_000 + 600_000),
        "success reset the doubling"
    );
    // a different reason alerts on its own
    let d = t.record_failure(
        "p",
        &Failure::new(Reason::Billing, "no credit"),
        T0 + 61_000,
    );
    assert!(d.alert);
    assert!(t.reset("p"));
    assert!(!t.reset("p"));
    assert!(t.record_failure("p", &f, T0 + 62_000).alert);
    assert_eq!(alerts(&rec), 3);
}

#[test]
fn format_like_reasons_disable_until_success_or_reset() {
    for r in [
        Reason::Format,
        Reason::ContextOverflow,
        Reason::ModelNotFound,
        Reason::AuthPermanent,
    ] {
        let (mut t, _) = table(PolicyConfig::default());
        let d = t.record_failure("k", &Failure::new(r, "bad"), T0);
        assert_eq!(d.action, Action::Disable, "{r}");
        assert_eq!(d.disabled_until_ms, None);
        assert_eq!(d.next_attempt_at_ms, None);
        assert!(d.alert);
        assert!(t.state("k", T0 + 365 * 86_400_000).unwrap().disabled);
        t.record_success("k");
        assert!(t.is_ready("k", T0));
    }
}

#[test]
fn configurable_stop_threshold_counts_per_reason() {
    let mut cfg = PolicyConfig::default();
    cfg.policy_mut(Reason::Billing).stop_after = 3;
    let (mut t, _) = table(cfg);
    let billing = Failure::new(Reason::Billing, "no credit");
    assert_eq!(t.record_failure("k", &billing, T0).action, Action::Retry);
    assert_eq!(t.record_failure("k", &billing, T0).action, Action::Retry);
    // a different reason restarts the same-reason count, but not consecutiveErrors
    let d = t.record_failure("k", &Failure::new(Reason::Timeout, "t"), T0);
    assert_eq!((d.action, d.consecutive_errors), (Action::Retry, 3));
    assert_eq!(t.record_failure("k", &billing, T0).action, Action::Retry);
    assert_eq!(t.record_failure("k", &billing, T0).action, Action::Retry);
    let d = t.record_failure("k", &billing, T0);
    assert_eq!((d.action, d.consecutive_errors), (Action::Disable, 6));
    let s = t.state("k", T0).unwrap();
    assert_eq!(s.consecutive_reason_errors, 3);
    assert_eq!(s.last_error_reason, Reason::Billing);
}

#[test]
fn unknown_stops_after_ten() {
    let (mut t, rec) = table(PolicyConfig::default());
    let f = Failure::new(Reason::Unknown, "???");
    for i in 1..10 {
        let d = t.record_failure("job", &f, T0 + i);
        assert_eq!(d.action, Action::Retry, "failure {i}");
    }
    let d = t.record_failure("job", &f, T0 + 10);
    assert_eq!(d.action, Action::Disable);
    assert_eq!(d.consecutive_errors, 10);
    assert_eq!(d.disabled_until_ms, None);
    assert!(d.alert);
    assert_eq!(alerts(&rec), 1);
}

#[test]
fn quota_parks_until_explicit_reset_then_window_then_backoff() {
    let cfg = PolicyConfig::default().with_jitter_ratio(0.0);
    let (mut t, _) = table(cfg.clone());
    let mut f = Failure::new(Reason::Quota, "daily quota exceeded");
    f.reset_at_ms = Some(T0 + 7_200_000);
    let d = t.record_failure("s", &f, T0);
    assert_eq!(d.action, Action::Wait);
    assert_eq!(
        d.next_attempt_at_ms,
        Some(T0 + 7_200_000 + DEFAULT_RESET_MARGIN_MS)
    );
    assert_eq!(d.cooldown_until_ms, d.next_attempt_at_ms);

    // no hint, configured window: next UTC midnight + margin
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T15:00:00Z")
        .unwrap()
        .timestamp_millis();
    let midnight = chrono::DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .unwrap()
        .timestamp_millis();
    let mut with_window = cfg.clone();
    with_window.policy_mut(Reason::Quota).budget_window = Some(Window::parse("1d").unwrap());
    let (mut t, _) = table(with_window.clone());
    let d = t.record_failure("s", &Failure::new(Reason::Quota, "q"), now);
    assert_eq!(
        d.next_attempt_at_ms,
        Some(midnight + DEFAULT_RESET_MARGIN_MS)
    );
    // the explicit reset beats the window
    let d = t.record_failure("s", &f, T0);
    assert_eq!(
        d.next_attempt_at_ms,
        Some(T0 + 7_200_000 + DEFAULT_RESET_MARGIN_MS)
    );
    // a fixed offset moves the window
    let (mut t, _) = table(
        with_window
            .with_utc_offset_minutes(60)
            .with_reset_margin_ms(0),
    );
    let d = t.record_failure("s", &Failure::new(Reason::Quota, "q"), now);
    assert_eq!(d.next_attempt_at_ms, Some(midnight - 3_600_000));

    // neither: the backoff schedule
    let (mut t, _) = table(cfg);
    let d = t.record_failure("s", &Failure::new(Reason::Quota, "q"), T0);
    assert_eq!(
        (d.action, d.next_attempt_at_ms),
        (Action::Wait, Some(T0 + 30_000))
    );
}

#[test]
fn a_relative_hint_parks_with_the_hint_margin_an_absolute_reset_with_the_reset_margin() {
    // "Please try again in 20s" answered at T0: relative, counted from the answer, plus the
    // hint margin (default 250 ms, like the reset margin; each configurable on its own).
    let mut rel = Failure::new(Reason::Quota, "try again in 20s");
    rel.retry_after_ms = Some(20_000);
    rel.reset_at_ms = Some(T0 + 20_000);
    rel.relative_hint = true;
    let mut abs = rel.clone();
    abs.relative_hint = false;
    let (mut t, _) = table(PolicyConfig::default());
    assert_eq!(DEFAULT_HINT_MARGIN_MS, 250);
    let d = t.record_failure("rel", &rel, T0);
    assert_eq!(
        d.next_attempt_at_ms,
        Some(T0 + 20_000 + DEFAULT_HINT_MARGIN_MS)
    );
    let d = t.record_failure("abs", &abs, T0);
    assert_eq!(
        d.next_attempt_at_ms,
        Some(T0 + 20_000 + DEFAULT_RESET_MARGIN_MS)
    );
    // Both margins are configurable, and a budget window still gets the reset margin.
    let mut cfg = PolicyConfig::default()
        .with_hint_margin_ms(40)
        .with_reset_margin_ms(700);
    cfg.policy_mut(Reason::Quota).budget_window = Some(Window::parse("1d").unwrap());
    let (mut t, _) = table(cfg.clone());
    let d = t.record_failure("rel", &rel, T0);
    assert_eq!(d.next_attempt_at_ms, Some(T0 + 20_040));
    let d = t.record_failure("abs", &abs, T0);
    assert_eq!(d.next_attempt_at_ms, Some(T0 + 20_700));
    let window = Window::parse("1d").unwrap().next_reset(T0, 0);
    let d = t.record_failure("none", &Failure::new(Reason::Quota, "q"), T0);
    assert_eq!(d.next_attempt_at_ms, Some(window + 700));
    let bad = cfg.with_hint_margin_ms(-1);
    let err =
        PolicyTable::new(bad, Jitter::seeded(1), RecordingSink::default().sink()).unwrap_err();
    assert!(err.to_string().contains("policy.hintMarginMs"));
}

#[test]
fn success_clears_the_streak_and_unknown_keys_are_not_created() {
    let (mut t, _) = table(PolicyConfig::default().with_jitter_ratio(0.0));
    t.record_success("never-failed");
    assert!(t.is_empty());
    let f = Failure::new(Reason::Network, "ECONNRESET");
    t.record_failure("k", &f, T0);
    t.record_failure("k", &f, T0);
    let s = t.state("k", T0).unwrap();
    assert_eq!(s.consecutive_errors, 2);
    assert!(s.cooling_down);
    assert_eq!(s.last_error, "ECONNRESET");
    assert!(!t.is_ready("k", T0));
    assert!(t.is_ready("k", T0 + 60_000));
    t.record_success("k");
    assert!(t.state("k", T0).is_none());
    assert_eq!(t.len(), 0, "nothing worth keeping");
    let d = t.record_failure("k", &f, T0);
    assert_eq!(d.next_attempt_at_ms, Some(T0 + 30_000), "schedule restarts");
}

#[test]
fn state_serialises_camel_case() {
    let (mut t, _) = table(PolicyConfig::default().with_jitter_ratio(0.0));
    t.record_failure("k", &Failure::new(Reason::Timeout, "timeout"), T0);
    let v = serde_json::to_value(t.state("k", T0).unwrap()).unwrap();
    assert_eq!(v["lastErrorReason"], "timeout");
    assert_eq!(v["consecutiveErrors"], 1);
    assert_eq!(v["nextAttemptAtMs"], T0 + 30_000);
    assert_eq!(v["cooldownUntilMs"], T0 + 30_000);
    assert_eq!(v["disabledUntilMs"], serde_json::Value::Null);
    assert_eq!(v["lastError"], "timeout");
    assert_eq!(t.states(T0).len(), 1);
}

#[test]
fn idle_keys_are_evicted_in_every_state_and_capped() {
    let cfg = PolicyConfig::default()
        .with_jitter_ratio(0.0)
        .with_idle_evict_ms(1_000_000)
        .with_max_keys(3);
    let (mut t, _) = table(cfg);
    t.record_failure("disabled", &Failure::new(Reason::Format, "bad"), T0);
    t.record_failure("billing", &Failure::new(Reason::Billing, "x"), T0);
    t.record_failure("backoff", &Failure::new(Reason::Timeout, "x"), T0);
    assert_eq!(t.evict_idle(T0 + 999_999), 0);
    // idle counts from the failure, or from the end of a pending cooldown/disable
    assert_eq!(t.evict_idle(T0 + 1_000_000), 1, "the indefinite disable");
    assert_eq!(
        t.evict_idle(T0 + 1_030_000),
        1,
        "the backoff, cooling down until T0+30s"
    );
    assert!(
        t.state("billing", T0 + 1_030_000).is_some(),
        "disabled until T0+10min"
    );
    assert_eq!(t.evict_idle(T0 + 1_600_000), 1);
    assert!(t.is_empty());

    for k in ["a", "b", "c", "d"] {
        t.record_failure(k, &Failure::new(Reason::Timeout, "x"), T0);
    }
    assert_eq!(t.len(), 3);
    assert!(t.state("a", T0).is_none(), "least recently used went first");
}

#[test]
fn bad_config_is_rejected() {
    let cfg = PolicyConfig::default().with_policy(
        Reason::RateLimit,
        ReasonPolicy::default_for(Reason::RateLimit).with_backoff(BackoffSchedule::default()),
    );
    assert!(PolicyTable::new(cfg, Jitter::seeded(1), crate::events::null_sink()).is_ok());
    let e = PolicyTable::new(
        PolicyConfig::default().with_max_keys(0),
        Jitter::seeded(1),
        crate::events::null_sink(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "E_INVALID_OPTION");
}

#[test]
fn works_with_a_manual_clock() {
    let clock = ManualClock::new(T0);
    let (mut t, _) = table(PolicyConfig::default().with_jitter_ratio(0.0));
    let d = t.record_failure(
        "k",
        &Failure::new(Reason::ServerError, "502"),
        clock.now_ms(),
    );
    clock.advance(29_999);
    assert!(!t.is_ready("k", clock.now_ms()));
    clock.advance(1);
    assert_eq!(d.next_attempt_at_ms, Some(clock.now_ms()));
    assert!(t.is_ready("k", clock.now_ms()));
}

#[tokio::test(start_paused = true)]
async fn follows_paused_tokio_time() {
    let clock = TokioClock::starting_at(T0);
    let (mut t, _) = table(PolicyConfig::default().with_jitter_ratio(0.0));
    let mut f = Failure::new(Reason::RateLimit, "429");
    f.retry_after_ms = Some(2_000);
    let d = t.record_failure("k", &f, clock.now_ms());
    let wait = d.next_attempt_at_ms.unwrap() - clock.now_ms();
    assert_eq!(wait, 2_000, "no jitter configured: exactly the hint");
    tokio::time::sleep(std::time::Duration::from_millis(1_999)).await;
    assert!(!t.is_ready("k", clock.now_ms()));
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    assert!(t.is_ready("k", clock.now_ms()));
}
