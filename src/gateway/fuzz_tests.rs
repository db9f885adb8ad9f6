//! Property tests (fuzzing with `proptest`) of gateway frame handling: parsing arbitrary text
//! or JSON as an inbound frame never panics, well-formed frames with arbitrary field values
//! parse to what they say, and classifying arbitrary connect errors and closes never panics nor
//! lets a credential through.
//!
//! Each property runs 256 cases by default; set the `PROPTEST_CASES` environment variable
//! (e.g. `PROPTEST_CASES=20000 cargo test --lib gateway::fuzz_tests`) for a longer fuzzing run.

use super::frames::{ErrorShape, InboundFrame};
use super::handshake::{classify_close, classify_connect_error, ConnectFailure};
use super::redact::Scrubber;
use crate::test_support::{json_tree, proptest_config};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Frame keys mixed with arbitrary ones.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "type",
            "id",
            "ok",
            "payload",
            "error",
            "event",
            "code",
            "message",
            "details",
            "retryable",
            "retryAfterMs",
            "reason",
            "nonce",
            "ts",
            "seq",
            "protocol",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z]{0,8}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "res",
            "event",
            "req",
            "UNAVAILABLE",
            "startup-sidecars"
        ])
        .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ]
}

/// Arbitrary JSON values a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    json_tree(scalar(), key, 48, 5)
}

/// An error shape with arbitrary values.
fn error_shape() -> impl Strategy<Value = ErrorShape> {
    (
        prop_oneof![
            prop::sample::select(vec![
                "UNAVAILABLE",
                "UNAUTHORIZED",
                "FORBIDDEN",
                "INVALID_REQUEST"
            ])
            .prop_map(str::to_owned),
            any::<String>(),
        ],
        any::<String>(),
        prop::option::of(prop_oneof![
            json_value(),
            prop::sample::select(vec![
                "AUTH_TOKEN_MISMATCH",
                "DEVICE_NOT_PAIRED",
                "PAIRING_REQUIRED",
                "PROTOCOL_MISMATCH",
            ])
            .prop_map(|c| json!({"code": c})),
            Just(json!({"reason": "startup-sidecars"})),
        ]),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<u64>()),
    )
        .prop_map(
            |(code, message, details, retryable, retry_after_ms)| ErrorShape {
                code,
                message,
                details,
                retryable,
                retry_after_ms,
            },
        )
}

/// The text a connect failure would report, if any.
fn failure_text(f: &ConnectFailure) -> String {
    format!("{f:?}")
}

proptest! {
    #![proptest_config(proptest_config(512))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = InboundFrame::parse(&text);
    }

    #[test]
    fn arbitrary_json_never_panics(v in json_value()) {
        let _ = InboundFrame::parse(&v.to_string());
    }

    #[test]
    fn frame_shaped_json_never_panics(
        kind in prop_oneof![Just(json!("res")), Just(json!("event")), scalar()],
        fields in prop::collection::vec((key(), json_value()), 0..6),
    ) {
        let mut map: Map<String, Value> = fields.into_iter().collect();
        map.insert("type".into(), kind);
        let text = Value::Object(map).to_string();
        let _ = InboundFrame::parse(&text);
        // cut anywhere on a char boundary: a truncated frame is no frame, never a panic
        for cut in (0..text.len()).filter(|i| text.is_char_boundary(*i)).step_by(7) {
            prop_assert_eq!(InboundFrame::parse(&text[..cut]), None);
        }
    }

    #[test]
    fn responses_parse_to_what_they_say(
        id in any::<String>(),
        ok in any::<bool>(),
        payload in prop::option::of(json_value()),
        error in prop::option::of(error_shape()),
        extra in json_value(),
    ) {
        let mut frame = json!({"type": "res", "id": id, "ok": ok, "extra": extra});
        if let Some(p) = &payload {
            frame["payload"] = p.clone();
        }
        if let Some(e) = &error {
            frame["error"] = serde_json::to_value(e).unwrap();
        }
        let parsed = InboundFrame::parse(&frame.to_string());
        let Some(InboundFrame::Response(res)) = parsed else {
            return Err(TestCaseError::fail(format!("not a response: {parsed:?}")));
        };
        prop_assert_eq!(res.id, id);
        prop_assert_eq!(res.ok, ok);
        // JSON `null` payloads read back as absent
        prop_assert_eq!(res.payload, payload.filter(|p| !p.is_null()));
        prop_assert_eq!(res.error.map(|e| e.code), error.map(|e| e.code));
    }

    #[test]
    fn events_parse_to_what_they_say(event in any::<String>(), payload in json_value()) {
        let frame = json!({"type": "event", "event": event, "payload": payload, "seq": 3});
        let parsed = InboundFrame::parse(&frame.to_string());
        let Some(InboundFrame::Event(ev)) = parsed else {
            return Err(TestCaseError::fail(format!("not an event: {parsed:?}")));
        };
        prop_assert_eq!(ev.event, event);
        prop_assert_eq!(ev.payload, Some(payload).filter(|p| !p.is_null()));
    }

    #[test]
    fn connect_errors_classify_without_leaking_credentials(
        mut error in error_shape(),
        token in "[A-Za-z0-9]{16,32}",
        password in "[A-Za-z0-9]{12,24}",
        at in any::<prop::sample::Index>(),
    ) {
        // the gateway echoes a credential somewhere in its message
        let cut = at.index(error.message.len() + 1);
        let cut = (0..=cut).rev().find(|i| error.message.is_char_boundary(*i)).unwrap_or(0);
        error.message.insert_str(cut, &format!(" {token} / {password} "));
        let scrubber = Scrubber::new([&token, &password]);
        let text = failure_text(&classify_connect_error(&error, &scrubber));
        prop_assert!(!text.contains(&token), "token leaked: {text}");
        prop_assert!(!text.contains(&password), "password leaked: {text}");
    }

    #[test]
    fn closes_classify_without_panicking(
        code in prop::option::of(any::<u16>()),
        reason in any::<String>(),
        waiting_for in any::<String>(),
    ) {
        let failure = classify_close(code, &reason, &waiting_for);
        if code == Some(super::handshake::CLOSE_POLICY) {
            prop_assert!(matches!(failure, ConnectFailure::Auth { .. }), "{failure:?}");
        }
    }
}
