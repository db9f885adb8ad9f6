//! Property tests (fuzzing with `proptest`): the classifier never panics on arbitrary strings,
//! arbitrary JSON values or arbitrary header maps, never reports a negative `retry_after_ms`,
//! and never takes ordinary chat text for a surfaced error. The duration parsers never panic
//! and read back the Go durations they are given.
//!
//! Each property runs 256 cases by default; set the `PROPTEST_CASES` environment variable
//! (e.g. `PROPTEST_CASES=20000 cargo test --lib fuzz_tests`) for a longer fuzzing run.

use super::durations::{
    parse_epoch_seconds, parse_go_duration, parse_http_date, parse_human_duration, parse_millis,
    parse_rfc3339, parse_seconds,
};
use super::*;
use crate::test_support::{json_tree, proptest_config};
use proptest::prelude::*;
use serde_json::{json, Map};

const NOW: i64 = 1_800_000_000_000;

fn classifier() -> Classifier {
    Classifier::new(ClassifierConfig {
        budget_window_ms: Some(3_600_000),
        ..ClassifierConfig::default()
    })
    .unwrap()
}

/// Keys the classifier looks at, mixed with arbitrary ones, so random objects reach its paths.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "status",
            "statusCode",
            "code",
            "headers",
            "body",
            "data",
            "error",
            "message",
            "type",
            "kind",
            "text",
            "event",
            "messages",
            "success",
            "role",
            "content",
            "errorMessage",
            "errorBody",
            "stopReason",
            "details",
            "retryDelay",
            "retry-after",
            "cause",
            "response",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z_-]{0,12}",
    ]
}

/// Text fragments that trigger patterns and hints, mixed with arbitrary strings.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::sample::select(vec![
            "429 Too Many Requests",
            "rate limit exceeded, try again in 1.5s",
            "Please retry in 6m0s",
            "overloaded_error",
            "quota exceeded|1800003600",
            "RESOURCE_EXHAUSTED",
            "context length exceeded",
            "invalid api key",
            "chat_text",
            "agent_end",
            "error",
            "assistant",
            "{\"error\":{\"message\":\"rate limited\",\"code\":429}}",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "2026-11-22T21:00:00Z",
            "⚠️ LLM request failed (rate limited, HTTP 429)",
        ])
        .prop_map(str::to_owned),
        "[0-9.hms ]{0,12}",
    ]
}

/// Arbitrary JSON values up to a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u16>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    json_tree(leaf, key, 64, 6)
}

/// Header names the classifier reads, mixed with arbitrary ones, in random letter case.
fn header_name() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec![
        "retry-after",
        "retry-after-ms",
        "x-ratelimit-reset",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "ratelimit-reset",
        "anthropic-ratelimit-unified-status",
        "anthropic-ratelimit-unified-reset",
        "anthropic-ratelimit-unified-5h-reset",
        "anthropic-ratelimit-requests-reset",
        "anthropic-ratelimit-tokens-reset",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-input-tokens-reset",
    ]);
    prop_oneof![
        (known, any::<bool>()).prop_map(|(k, upper)| if upper {
            k.to_ascii_uppercase()
        } else {
            k.to_owned()
        }),
        "[a-zA-Z-]{0,24}",
    ]
}

/// Header values: numbers (negative, huge, fractional), dates, durations and arbitrary text.
fn header_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::String),
        any::<i64>().prop_map(|n| Value::String(n.to_string())),
        any::<f64>().prop_map(|n| Value::String(n.to_string())),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[0-9]{1,3}(h[0-9]{1,2})?(m[0-9]{1,2})?(\\.[0-9]{1,3})?(s|ms)".prop_map(Value::String),
        Just(Value::String("rejected".into())),
        Just(Value::String("Wed, 21 Oct 2015 07:28:00 GMT".into())),
        Just(Value::String("2026-11-22T21:00:00Z".into())),
        prop::collection::vec(any::<String>().prop_map(Value::String), 0..3).prop_map(Value::Array),
        Just(Value::Null),
    ]
}

fn header_map() -> impl Strategy<Value = Value> {
    prop::collection::vec((header_name(), header_value()), 0..8)
        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
}

/// The invariants every classification keeps.
fn check(c: &Classification) -> Result<(), TestCaseError> {
    if let Some(ms) = c.retry_after_ms {
        prop_assert!(ms >= 0, "negative retry_after_ms {ms} in {c:?}");
    }
    prop_assert_eq!(c.retry_after_ms.is_some(), c.reset_at_ms.is_some());
    prop_assert!(!c.retryable || c.reason.is_some());
    prop_assert!(c.message.chars().count() <= 500, "message too long");
    if c.reason.is_none() {
        prop_assert!(c.message.is_empty());
    }
    Ok(())
}

/// Receive times: realistic, zero, arbitrary and the extremes (where hint arithmetic overflows).
fn now_ms() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(NOW),
        Just(0),
        any::<i64>(),
        Just(i64::MAX),
        Just(i64::MIN),
    ]
}

/// Words that cannot start a surfaced error line.
fn ordinary_opening() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "Sure",
        "Thanks",
        "Here you go",
        "Okay",
        "I think",
        "The answer is",
        "Good morning",
        "Done",
    ])
}

proptest! {
    #![proptest_config(proptest_config(512))]

    #[test]
    fn arbitrary_strings_classify(s in any::<String>(), now in now_ms()) {
        check(&classifier().classify(&Value::String(s), now))?;
    }

    #[test]
    fn pattern_laden_strings_classify(parts in prop::collection::vec(text(), 0..6)) {
        check(&classifier().classify(&Value::String(parts.join(" ")), NOW))?;
    }

    #[test]
    fn arbitrary_json_classifies(v in json_value(), now in now_ms()) {
        check(&classifier().classify(&v, now))?;
    }

    #[test]
    fn arbitrary_json_bodies_as_strings_classify(v in json_value(), status in any::<u16>()) {
        let input = json!({"status": status, "body": v.to_string()});
        check(&classifier().classify(&input, NOW))?;
    }

    #[test]
    fn arbitrary_header_maps_classify(
        headers in header_map(),
        status in prop_oneof![Just(json!(429)), Just(json!(503)), any::<u16>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from), Just(Value::Null)],
        body in text(),
        now in now_ms(),
    ) {
        let input = json!({"status": status, "headers": headers, "body": body});
        check(&classifier().classify(&input, now))?;
        let nested = json!({"error": {"message": body}, "response": {"status": status, "headers": headers}});
        check(&classifier().classify(&nested, now))?;
    }

    #[test]
    fn ordinary_chat_text_is_never_a_surfaced_error(
        opening in ordinary_opening(),
        parts in prop::collection::vec(text(), 0..5),
    ) {
        let msg = format!("{opening}, {}", parts.join(" "));
        let c = classifier();
        prop_assert!(!c.is_surfaced_error(&msg), "taken for an error: {msg:?}");
        let out = c.classify(&json!({"kind": "chat_text", "text": msg}), NOW);
        prop_assert_eq!(out, Classification::not_a_failure());
    }

    #[test]
    fn chat_text_asking_a_question_is_never_a_surfaced_error(
        parts in prop::collection::vec(text(), 0..5),
    ) {
        let msg = format!("⚠️ Error: {} — what should I do?", parts.join(" "));
        prop_assert!(!classifier().is_surfaced_error(&msg), "taken for an error: {msg:?}");
    }

    #[test]
    fn duration_parsers_never_panic(s in any::<String>(), word in any::<String>()) {
        for ms in [
            parse_go_duration(&s),
            parse_human_duration(&s, Some(&word)),
            parse_human_duration(&s, None),
            parse_seconds(&s),
            parse_millis(&s),
        ]
        .into_iter()
        .flatten()
        {
            prop_assert!(ms >= 0, "negative duration {ms} from {s:?}");
        }
        let _ = (parse_http_date(&s), parse_rfc3339(&s), parse_epoch_seconds(&s));
    }

    #[test]
    fn numeric_duration_text_never_goes_negative(
        n in prop_oneof![any::<f64>().prop_map(|f| f.to_string()), any::<i64>().prop_map(|i| i.to_string()),
            "[0-9]{300,400}(\\.[0-9]{1,5})?"],
        unit in "(ns|us|µs|ms|s|m|h|d|sec|min|hours|days)?",
    ) {
        for ms in [
            parse_go_duration(&format!("{n}{unit}")),
            parse_human_duration(&format!("{n}{unit}"), None),
            parse_human_duration(&n, Some(&unit)),
            parse_seconds(&n),
            parse_millis(&n),
        ]
        .into_iter()
        .flatten()
        {
            prop_assert!(ms >= 0);
        }
    }

    #[test]
    fn go_durations_round_trip(
        h in 0u32..1_000,
        m in 0u32..60,
        s in 0u32..60,
        frac in 0u32..1_000,
        shape in 0u8..4,
    ) {
        // Go prints `XhYmZ.FFFs`, dropping leading zero units; every spelling must read back.
        let text = match shape {
            0 => format!("{h}h{m}m{s}.{frac:03}s"),
            1 => format!("{m}m{s}.{frac:03}s"),
            2 => format!("{s}.{frac:03}s"),
            _ => format!("{h}h{m}m{s}s"),
        };
        let expected = i64::from(match shape {
            0 => ((h * 60 + m) * 60 + s) * 1_000 + frac,
            1 => (m * 60 + s) * 1_000 + frac,
            2 => s * 1_000 + frac,
            _ => ((h * 60 + m) * 60 + s) * 1_000,
        });
        prop_assert_eq!(parse_go_duration(&text), Some(expected), "{}", text);
        prop_assert_eq!(parse_human_duration(&text, None), Some(expected), "{}", text);
    }

    #[test]
    fn sub_second_go_durations_round_trip(ms in 0u32..1_000_000, us in 0u32..1_000) {
        prop_assert_eq!(parse_go_duration(&format!("{ms}ms")), Some(i64::from(ms)));
        // `1500us` is 1.5 ms and rounds half away from zero.
        let micros = u64::from(ms) * 1_000 + u64::from(us);
        let expected = ((micros as f64) / 1_000.0).round() as i64;
        prop_assert_eq!(parse_go_duration(&format!("{micros}us")), Some(expected));
    }

    #[test]
    fn retry_after_seconds_round_trip(secs in 0u32..100_000_000) {
        let input = json!({"status": 429, "headers": {"retry-after": secs.to_string()}});
        let c = classifier().classify(&input, NOW);
        prop_assert_eq!(c.retry_after_ms, Some(i64::from(secs) * 1_000));
        prop_assert_eq!(c.reset_at_ms, Some(NOW + i64::from(secs) * 1_000));
    }
}
