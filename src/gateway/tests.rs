//! The client against the in-process fake gateway.

use super::fake::{FakeGateway, FakeScript};
use super::{GatewayClient, GatewayConfig, GatewayResender};
use crate::clock::TokioClock;
use crate::error::EngineError;
use crate::events::{Event, RecordingSink};
use crate::jitter::Jitter;
use crate::resender::{ResendRequest, Resender};
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "tok-SECRET-4242";

fn client_for(
    url: String,
    tweak: impl FnOnce(&mut GatewayConfig),
) -> (GatewayClient, RecordingSink) {
    let mut cfg = GatewayConfig {
        url,
        token: Some(TOKEN.into()),
        ..Default::default()
    };
    tweak(&mut cfg);
    let rec = RecordingSink::default();
    let client = GatewayClient::new(
        cfg,
        Arc::new(TokioClock::starting_at(1_700_000_000_000)),
        Jitter::seeded(3),
        rec.sink(),
    )
    .unwrap();
    (client, rec)
}

async fn fake(script: FakeScript) -> FakeGateway {
    FakeGateway::start(script).await.unwrap()
}

/// The `field` param of every `method` request the fake gateway got, in order.
fn requested(gw: &FakeGateway, method: &str, field: &str) -> Vec<String> {
    gw.record()
        .requests
        .iter()
        .filter(|(_, m, _)| m == method)
        .map(|(_, _, p)| p[field].as_str().unwrap_or_default().to_string())
        .collect()
}

fn disconnects(rec: &RecordingSink) -> Vec<(Option<u16>, bool)> {
    rec.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::GatewayDisconnected { code, terminal, .. } => Some((code, terminal)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn handshake_then_chat_send_is_acked() {
    let gw = fake(FakeScript {
        token: Some(TOKEN.into()),
        ..Default::default()
    })
    .await;
    let (client, rec) = client_for(gw.url(), |_| {});
    let ack = client
        .chat_send("agent:main:s1", "hello", "idem-1")
        .await
        .unwrap();
    assert_eq!(ack.status, "started");
    assert_eq!(ack.run_id.as_deref(), Some("idem-1"));

    let r = gw.record();
    let connect = &r.connects[0];
    assert_eq!(connect["client"]["id"], "gateway-client");
    assert_eq!(connect["client"]["mode"], "backend");
    assert_eq!(connect["role"], "operator");
    assert_eq!(connect["auth"]["token"], TOKEN);
    assert!(connect.get("device").is_none());
    let (_, method, params) = &r.requests[0];
    assert_eq!(method, "chat.send");
    assert_eq!(
        params,
        &serde_json::json!({"sessionKey":"agent:main:s1","message":"hello","idempotencyKey":"idem-1"})
    );
    assert!(rec
        .events()
        .contains(&Event::GatewayConnected { url: gw.url() }));
}

#[tokio::test]
async fn one_connection_serves_many_sends_including_concurrent_ones() {
    let gw = fake(FakeScript::default()).await;
    let (client, _) = client_for(gw.url(), |_| {});
    for i in 0..10 {
        let ack = client.chat_send("s", "m", &format!("k{i}")).await.unwrap();
        assert_eq!(ack.status, "started");
    }
    let sends = (10..30).map(|i| {
        let client = client.clone();
        async move { client.chat_send("s", "m", &format!("k{i}")).await }
    });
    for r in futures_util::future::join_all(sends).await {
        assert_eq!(r.unwrap().status, "started");
    }
    let r = gw.record();
    assert_eq!(r.accepts, 1);
    assert_eq!(r.requests.len(), 30);
}

#[tokio::test]
async fn prepare_opens_the_connection_without_a_request_and_the_resend_reuses_it() {
    let gw = fake(FakeScript::default()).await;
    let (client, _) = client_for(gw.url(), |_| {});
    let resender = GatewayResender::new(client);
    resender.prepare().await;
    resender.prepare().await;
    let r = gw.record();
    assert_eq!((r.accepts, r.connects.len()), (1, 1), "one handshake");
    assert!(r.requests.is_empty(), "prepare sends no request");
    resender
        .resend(ResendRequest {
            session_key: "agent:main:s1".into(),
            message: "continue".into(),
            idempotency_key: "resume:s1:2".into(),
            attempts: 2,
            meta: serde_json::Value::Null,
            last_failed_at_ms: 0,
        })
        .await
        .unwrap();
    let r = gw.record();
    assert_eq!(r.accepts, 1, "the resend used the prepared connection");
    assert!(!r.requests.is_empty());
}

#[tokio::test]
async fn repeated_idempotency_key_answers_in_flight_then_ok() {
    let gw = fake(FakeScript::default()).await;
    let (client, _) = client_for(gw.url(), |_| {});
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(client.chat_send("s", "m", "same").await.unwrap().status);
    }
    assert_eq!(statuses, ["started", "in_flight", "ok"]);
}

// Tests that exchange frames over real sockets run on real time: with a paused clock tokio
// auto-advances to the next timer even while socket I/O is pending, which would fire request
// timeouts spuriously. They use short delays and assert lower bounds (a sleep never ends early)
// plus which path was taken (startup retries report no disconnect events; backoff does).

#[tokio::test]
async fn starting_gateway_is_retried_after_its_retry_after_not_surfaced() {
    let gw = fake(FakeScript {
        startup_rejections: 2,
        startup_retry_after_ms: 300,
        ..Default::default()
    })
    .await;
    let (client, rec) = client_for(gw.url(), |_| {});
    assert_eq!(
        client.chat_send("s", "m", "k").await.unwrap().status,
        "started"
    );
    let r = gw.record();
    assert_eq!(r.accepts, 3);
    for w in r.connect_times.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= Duration::from_millis(300),
            "retried after {gap:?}, before retryAfterMs"
        );
    }
    assert!(
        disconnects(&rec).is_empty(),
        "startup retries are not disconnects: {:?}",
        rec.events()
    );
    assert!(client.auth_failure().is_none());
}

#[tokio::test]
async fn startup_retry_after_is_clamped_to_at_least_100_ms() {
    let gw = fake(FakeScript {
        startup_rejections: 1,
        startup_retry_after_ms: 1,
        ..Default::default()
    })
    .await;
    let (client, rec) = client_for(gw.url(), |_| {});
    client.chat_send("s", "m", "k").await.unwrap();
    let t = gw.record().connect_times;
    assert!(
        t[1] - t[0] >= Duration::from_millis(100),
        "{:?}",
        t[1] - t[0]
    );
    assert!(disconnects(&rec).is_empty());
}

#[tokio::test]
async fn startup_that_outlasts_the_budget_is_unavailable_not_terminal() {
    let gw = fake(FakeScript {
        startup_rejections: usize::MAX,
        startup_retry_after_ms: 200,
        ..Default::default()
    })
    .await;
    let (client, _) = client_for(gw.url(), |c| c.connect_budget_ms = 500);
    let e = client.chat_send("s", "m", "k").await.unwrap_err();
    assert!(matches!(e, EngineError::GatewayUnavailable(_)), "{e}");
    assert!(e.to_string().contains("still starting"), "{e}");
    assert!(client.auth_failure().is_none());
    // Attempts at 0 and >= 200 ms; one at >= 400 ms only if the budget allows; never more.
    let accepts = gw.record().accepts;
    assert!((2..=3).contains(&accepts), "{accepts}");
}

#[tokio::test]
async fn wrong_token_is_terminal_reported_once_and_fails_fast() {
    let gw = fake(FakeScript {
        token: Some("the-right-one".into()),
        ..Default::default()
    })
    .await;
    let (client, rec) = client_for(gw.url(), |c| c.password = Some("pw-SECRET-77".into()));
    let first = client.chat_send("s", "m", "k").await.unwrap_err();
    assert!(matches!(first, EngineError::GatewayAuth(_)), "{first}");
    assert!(first.to_string().contains("AUTH_TOKEN_MISMATCH"), "{first}");
    for _ in 0..5 {
        let again = client.chat_send("s", "m", "k").await.unwrap_err();
        assert!(matches!(again, EngineError::GatewayAuth(_)), "{again}");
        let again = client
            .request("cron.list", serde_json::json!({}))
            .await
            .unwrap_err();
        assert_eq!(again.code(), "E_GATEWAY_AUTH");
    }
    assert_eq!(
        gw.record().accepts,
        1,
        "no reconnect after a terminal auth failure"
    );
    assert_eq!(disconnects(&rec), vec![(None, true)]);

    // Nothing reported carries a credential.
    let mut reported = format!("{first} {first:?} {client:?}");
    for e in rec.events() {
        reported.push_str(&serde_json::to_string(&e).unwrap());
        reported.push_str(&format!("{e:?}"));
    }
    for secret in [TOKEN, "pw-SECRET-77"] {
        assert!(!reported.contains(secret), "{secret} leaked: {reported}");
    }

    client.reset_auth();
    assert_eq!(
        client.chat_send("s", "m", "k").await.unwrap_err().code(),
        "E_GATEWAY_AUTH"
    );
    assert_eq!(gw.record().accepts, 2);

    let mut fixed = GatewayConfig {
        url: gw.url(),
        token: Some("the-right-one".into()),
        ..Default::default()
    };
    client.set_config(fixed.clone()).await.unwrap();
    assert_eq!(
        client.chat_send("s", "m", "k2").await.unwrap().status,
        "started"
    );
    fixed.url = "http://x".into();
    assert_eq!(
        client.set_config(fixed).await.unwrap_err().code(),
        "E_INVALID_OPTION"
    );
}

#[tokio::test]
async fn shutdown_mid_batch_reconnects_and_resends_with_the_same_key() {
    let gw = fake(FakeScript {
        shutdown_on_request: Some(3),
        ..Default::default()
    })
    .await;
    let (client, rec) = client_for(gw.url(), |_| {});
    for i in 1..=5 {
        let ack = client.chat_send("s", "m", &format!("k{i}")).await.unwrap();
        assert_eq!(ack.status, "started", "k{i}");
    }
    let r = gw.record();
    assert_eq!(r.accepts, 2);
    let k3: Vec<usize> = r
        .requests
        .iter()
        .filter(|(_, _, p)| p["idempotencyKey"] == "k3")
        .map(|(conn, _, _)| *conn)
        .collect();
    assert_eq!(k3, [1, 2], "k3 resent once, on the new connection");
    assert_eq!(r.requests.len(), 6);
    assert_eq!(disconnects(&rec), vec![(Some(1012), false)]);
}

#[tokio::test]
async fn a_gateway_that_drops_every_request_sees_backed_off_reconnects_not_a_storm() {
    let gw = fake(FakeScript {
        close_on_every_request: true,
        ..Default::default()
    })
    .await;
    // Each handshake succeeds and each request is dropped: the schedule must not reset on
    // the handshake, so within a 10 s budget the client connects at ~0, 1, 3, 7 s.
    let (client, _) = client_for(gw.url(), |c| c.connect_budget_ms = 10_000);
    let e = client.chat_send("s", "m", "k").await.unwrap_err();
    assert!(matches!(e, EngineError::GatewayUnavailable(_)), "{e}");
    let r = gw.record();
    assert!((2..=5).contains(&r.accepts), "{} connections", r.accepts);
    assert_eq!(r.requests.len(), r.accepts, "one send per connection");
    assert!(r
        .requests
        .iter()
        .all(|(_, _, p)| p["idempotencyKey"] == "k"));
    // The next call keeps backing off (the next step is past its budget) instead of
    // starting over at once; a generic request is never resent.
    let before = gw.record().accepts;
    client
        .request("cron.list", serde_json::json!({}))
        .await
        .unwrap_err();
    let r = gw.record();
    assert!(r.accepts <= before + 1, "{} connections", r.accepts);
    assert_eq!(r.requests.len(), r.accepts);
}

#[tokio::test]
async fn shutdown_during_a_generic_request_fails_it_retryably_then_recovers() {
    let gw = fake(FakeScript {
        shutdown_on_request: Some(2),
        ..Default::default()
    })
    .await;
    let (client, _) = client_for(gw.url(), |_| {});
    let params = serde_json::json!({"limit": 1});
    assert_eq!(
        client.request("cron.list", params.clone()).await.unwrap(),
        serde_json::json!({"method":"cron.list","params":params})
    );
    let e = client
        .request("cron.list", params.clone())
        .await
        .unwrap_err();
    assert!(matches!(e, EngineError::GatewayUnavailable(_)), "{e}");
    assert!(e.to_string().contains("shutting down"), "{e}");
    client.request("cron.list", params).await.unwrap();
    assert_eq!(gw.record().accepts, 2);
}

#[tokio::test]
async fn request_without_answer_times_out_and_the_connection_stays_usable() {
    let gw = fake(FakeScript {
        silent_methods: vec!["cron.slow".into()],
        ..Default::default()
    })
    .await;
    let (client, _) = client_for(gw.url(), |c| c.request_timeout_ms = 300);
    let e = client
        .request("cron.slow", serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(e, EngineError::GatewayTimeout(_)), "{e}");
    assert!(e.to_string().contains("300 ms"), "{e}");
    client
        .request("cron.list", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(gw.record().accepts, 1);
}

// Paused time is safe here: a refused loopback connect fails without waiting on socket I/O.
#[tokio::test(start_paused = true)]
async fn unreachable_gateway_backs_off_within_the_budget_then_is_unavailable() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (client, rec) = client_for(format!("ws://{addr}"), |_| {});
    let start = tokio::time::Instant::now();
    let e = client.chat_send("s", "m", "k").await.unwrap_err();
    assert!(matches!(e, EngineError::GatewayUnavailable(_)), "{e}");
    assert!(e.to_string().contains("30000 ms connect budget"), "{e}");
    assert!(start.elapsed() <= Duration::from_secs(30));
    // Attempts at ~0, 1, 3, 7, 15 s (plus jitter); the next step would pass 30 s.
    let d = disconnects(&rec);
    assert_eq!(d.len(), 5, "{d:?}");
    assert!(d.iter().all(|(_, terminal)| !terminal));
    assert!(client.auth_failure().is_none());
}

#[tokio::test]
async fn device_identity_is_created_0600_and_its_signature_is_accepted() {
    use std::os::unix::fs::PermissionsExt;
    let gw = fake(FakeScript {
        verify_device: true,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identity/device.json");
    let (client, _) = client_for(gw.url(), |c| c.device_identity = Some(path.clone()));
    client.chat_send("s", "m", "k").await.unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let connect = &gw.record().connects[0];
    assert_eq!(connect["device"]["id"], file["deviceId"]);
    assert_eq!(connect["device"]["signedAt"], 1_700_000_000_000i64);
    let file_text = std::fs::read_to_string(&path).unwrap();
    assert!(!file_text.contains(TOKEN));

    let (again, _) = client_for(gw.url(), |c| c.device_identity = Some(path.clone()));
    again.chat_send("s", "m", "k2").await.unwrap();
    assert_eq!(gw.record().connects[1]["device"]["id"], file["deviceId"]);
}

#[tokio::test]
async fn resender_sends_the_parked_session_through_chat_send() {
    let gw = fake(FakeScript::default()).await;
    let (client, _) = client_for(gw.url(), |_| {});
    let resender = GatewayResender::new(client);
    resender
        .resend(ResendRequest {
            session_key: "agent:main:x".into(),
            message: "continue".into(),
            idempotency_key: "park-x-2".into(),
            attempts: 2,
            meta: serde_json::Value::Null,
            last_failed_at_ms: 0,
        })
        .await
        .unwrap();
    let r = gw.record();
    let (conn, method, params) = r.requests[0].clone();
    assert_eq!(
        (conn, method.as_str()),
        (1, "chat.history"),
        "compare first"
    );
    assert_eq!(params["sessionKey"], "agent:main:x");
    let (conn, method, params) = r.requests[1].clone();
    assert_eq!(
        (conn, method.as_str()),
        (1, "chat.send"),
        "then send, same connection"
    );
    assert_eq!(params["sessionKey"], "agent:main:x");
    assert_eq!(params["message"], "continue");
    assert_eq!(params["idempotencyKey"], "park-x-2");
}

#[tokio::test]
async fn resender_does_not_send_into_a_session_that_moved_on_or_is_still_running() {
    use crate::resender::ResendOutcome;
    let failed = serde_json::json!([
        {"role":"user","idempotencyKey":"run-1:user"},
        {"role":"assistant","stopReason":"error","idempotencyKey":"run-1:terminal-error"},
    ]);
    let mut moved = failed.clone();
    moved
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"role":"user","idempotencyKey":"by-hand:user"}));
    let mut histories = std::collections::HashMap::new();
    histories.insert(
        "agent:main:moved".to_string(),
        serde_json::json!({"messages": moved, "sessionInfo": {"status":"done"}}),
    );
    histories.insert(
        "agent:main:retrying".to_string(),
        serde_json::json!({"messages": failed, "sessionInfo": {"status":"running","hasActiveRun":true},
            "inFlightRun": {"runId": "run-1"}}),
    );
    histories.insert(
        "agent:main:failed".to_string(),
        serde_json::json!({"messages": failed, "sessionInfo": {"status":"failed"}}),
    );
    let gw = fake(FakeScript {
        histories,
        ..Default::default()
    })
    .await;
    let (client, _) = client_for(gw.url(), |_| {});
    let resender = GatewayResender::new(client);
    let req = |key: &str| ResendRequest {
        session_key: format!("agent:main:{key}"),
        message: "continue".into(),
        idempotency_key: format!("resume:agent:main:{key}:2"),
        attempts: 2,
        meta: serde_json::json!({"runId": "run-1"}),
        last_failed_at_ms: 0,
    };
    let out = resender.resend(req("moved")).await.unwrap();
    assert!(
        matches!(out, ResendOutcome::Superseded { ref why } if why.contains("user message")),
        "{out:?}"
    );
    let out = resender.resend(req("retrying")).await.unwrap();
    assert!(matches!(out, ResendOutcome::StillRunning { .. }), "{out:?}");
    let out = resender.resend(req("failed")).await.unwrap();
    assert_eq!(
        out,
        ResendOutcome::Sent {
            run_id: Some("resume:agent:main:failed:2".into())
        }
    );
    assert_eq!(
        requested(&gw, "chat.send", "sessionKey"),
        ["agent:main:failed"]
    );
}

#[tokio::test]
async fn a_failed_run_the_gateway_retried_is_resent_only_once_its_final_failure_allows() {
    use crate::resender::{NotDue, ResendOutcome};
    let history = |run: &str| {
        serde_json::json!({"messages": [
            {"role":"user","idempotencyKey": format!("{run}:user")},
            {"role":"assistant","stopReason":"error","timestamp": 1_000,
             "idempotencyKey": format!("{run}:terminal-error")},
        ], "sessionInfo": {"status":"failed","hasActiveRun":false}})
    };
    let keys = ["retrying", "quota", "passed", "unknown", "seen"];
    let histories = keys
        .iter()
        .map(|k| (format!("agent:main:{k}"), history(&format!("run-{k}"))))
        .collect();
    // Answers of OpenClaw 2026.9.6's `agent.wait`: an attempt in the retry grace, final errors.
    let run_waits = [
        (
            "run-retrying".to_string(),
            serde_json::json!({"status":"timeout","pendingError":true,"error":"429 per minute"}),
        ),
        (
            "run-quota".to_string(),
            serde_json::json!({"status":"error","endedAt": 2_000,"error":"quota; Retry-After: 30 seconds"}),
        ),
        (
            "run-seen".to_string(),
            serde_json::json!({"status":"error","endedAt": 2_000,"error":"quota; Retry-After: 30 seconds"}),
        ),
        (
            "run-passed".to_string(),
            serde_json::json!({"status":"error","endedAt": 2_000,"error":"quota; Retry-After: 1 seconds"}),
        ),
    ]
    .into();
    let gw = fake(FakeScript {
        histories,
        run_waits,
        ..Default::default()
    })
    .await;
    let (client, _) = client_for(gw.url(), |_| {});
    // A check that reads the hint the way the engine does: counted from the failed message.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let check = move |agent_end: &serde_json::Value, ended_at: i64| {
        let text = agent_end["messages"][0]["errorMessage"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let started = agent_end["messages"][0]["timestamp"].as_i64();
        log.lock().unwrap().push((text.clone(), started, ended_at));
        let secs: i64 = text
            .rsplit("Retry-After: ")
            .next()?
            .split(' ')
            .next()?
            .parse()
            .ok()?;
        let at = started.unwrap_or(ended_at) + secs * 1000;
        (at > 10_000).then_some(NotDue {
            retry_at_ms: at,
            error: text,
        })
    };
    let resender = GatewayResender::new(client).with_final_check(Arc::new(check));
    let req = |key: &str| ResendRequest {
        session_key: format!("agent:main:{key}"),
        message: "continue".into(),
        idempotency_key: format!("resume:agent:main:{key}:2"),
        attempts: 1,
        meta: serde_json::json!({"runId": format!("run-{key}")}),
        last_failed_at_ms: 0,
    };
    let out = resender.resend(req("retrying")).await.unwrap();
    assert!(
        matches!(out, ResendOutcome::StillRunning { ref why } if why.contains("retry")),
        "{out:?}"
    );
    let out = resender.resend(req("quota")).await.unwrap();
    assert_eq!(
        out,
        ResendOutcome::NotDue(NotDue {
            retry_at_ms: 31_000,
            error: "quota; Retry-After: 30 seconds".into()
        })
    );
    for sent in ["passed", "unknown"] {
        let out = resender.resend(req(sent)).await.unwrap();
        assert!(matches!(out, ResendOutcome::Sent { .. }), "{sent}: {out:?}");
    }
    // An entry that recorded a failure after the run's last attempt started (1 000) holds its
    // failure already: its due time is its own (an operator's retryNow).
    let known = ResendRequest {
        last_failed_at_ms: 1_000,
        ..req("seen")
    };
    let out = resender.resend(known).await.unwrap();
    assert!(matches!(out, ResendOutcome::Sent { .. }), "seen: {out:?}");
    assert_eq!(
        requested(&gw, "chat.send", "sessionKey"),
        ["agent:main:passed", "agent:main:unknown", "agent:main:seen"]
    );
    assert_eq!(
        requested(&gw, "agent.wait", "runId"),
        [
            "run-retrying",
            "run-quota",
            "run-passed",
            "run-unknown",
            "run-seen"
        ]
    );
    // The check saw the relayed error, when the failed call started, and when the run ended.
    assert_eq!(
        seen.lock().unwrap()[0],
        (
            "quota; Retry-After: 30 seconds".to_string(),
            Some(1_000),
            2_000
        )
    );
}

#[tokio::test]
async fn bad_input_and_closed_client_fail_without_connecting() {
    let gw = fake(FakeScript::default()).await;
    let (client, _) = client_for(gw.url(), |_| {});
    assert_eq!(
        client.chat_send(" ", "m", "k").await.unwrap_err().code(),
        "E_INVALID_INPUT"
    );
    assert_eq!(
        client.chat_send("s", "m", "").await.unwrap_err().code(),
        "E_INVALID_INPUT"
    );
    assert_eq!(gw.record().accepts, 0);
    client.chat_send("s", "m", "k").await.unwrap();
    client.close().await;
    assert_eq!(
        client.chat_send("s", "m", "k2").await.unwrap_err().code(),
        "E_CLOSED"
    );
    assert_eq!(gw.record().accepts, 1);
}

#[tokio::test]
async fn request_errors_carry_method_code_and_message() {
    let gw = fake(FakeScript::default()).await;
    let (client, _) = client_for(gw.url(), |_| {});
    let e = client
        .request("chat.send", serde_json::json!({"message": "no keys"}))
        .await
        .unwrap_err();
    match e {
        EngineError::GatewayRequest {
            method,
            code,
            message,
        } => {
            assert_eq!(method, "chat.send");
            assert_eq!(code, "INVALID_REQUEST");
            assert!(message.contains("invalid chat.send params"));
        }
        other => panic!("expected GatewayRequest, got {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn close_stops_a_connect_that_is_backing_off() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (client, rec) = client_for(format!("ws://{addr}"), |_| {});
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.chat_send("s", "m", "k").await }
    });
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    client.close().await;
    let e = pending.await.unwrap().unwrap_err();
    assert_eq!(e.code(), "E_CLOSED", "{e}");
    assert!(
        disconnects(&rec).len() < 5,
        "gave up early, not after the budget"
    );
}

#[tokio::test]
async fn chat_send_answered_unavailable_while_draining_is_resent_with_the_same_key() {
    // The real gateway answers `chat.send` with UNAVAILABLE (retryable, retryAfterMs 1000)
    // between SIGTERM and its `shutdown` event; the run did not start, so resending is safe.
    let gw = fake(FakeScript {
        draining_chat_sends: 2,
        startup_retry_after_ms: 150,
        ..Default::default()
    })
    .await;
    let (client, rec) = client_for(gw.url(), |_| {});
    let ack = client.chat_send("s", "m", "k-drain").await.unwrap();
    assert_eq!(ack.status, "started");
    let r = gw.record();
    let sends: Vec<&serde_json::Value> = r
        .requests
        .iter()
        .filter(|(_, m, _)| m == "chat.send")
        .map(|(_, _, p)| p)
        .collect();
    assert_eq!(sends.len(), 3, "two UNAVAILABLE answers, then the ack");
    assert!(sends.iter().all(|p| p["idempotencyKey"] == "k-drain"));
    assert_eq!(r.accepts, 1, "the connection itself stayed usable");
    assert!(disconnects(&rec).is_empty());
}

#[tokio::test]
async fn unavailable_answers_are_retryable_errors_not_request_errors() {
    let gw = fake(FakeScript {
        draining_chat_sends: 100,
        startup_retry_after_ms: 100,
        ..Default::default()
    })
    .await;
    let (client, _) = client_for(gw.url(), |c| c.connect_budget_ms = 350);
    let e = client.chat_send("s", "m", "k").await.unwrap_err();
    assert_eq!(e.code(), "E_GATEWAY_UNAVAILABLE", "{e}");
    assert!(e.to_string().contains("gateway restart"), "{e}");
    let tries = gw
        .record()
        .requests
        .iter()
        .filter(|(_, m, _)| m == "chat.send")
        .count();
    assert!(
        (1..=4).contains(&tries),
        "{tries} tries: each waits >= 100 ms within a 350 ms budget"
    );
    let e = client
        .request(
            "chat.send",
            serde_json::json!({"sessionKey":"s","message":"m","idempotencyKey":"k2"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "E_GATEWAY_UNAVAILABLE", "{e}");
    assert!(!e.to_string().contains(TOKEN));
}

#[tokio::test]
async fn await_run_reads_success_and_failure_with_the_failed_message_time() {
    use super::RunEnd;
    let history = serde_json::json!({"messages": [
        {"role": "user", "idempotencyKey": "resume:k:2:user"},
        {"role": "assistant", "stopReason": "error", "timestamp": 1_700_000_000_250_i64,
         "idempotencyKey": "resume:k:2:terminal-error", "__openclaw": {"runId": "resume:k:2"}},
    ]});
    let gw = fake(FakeScript {
        run_waits: [
            (
                "ok-run".to_string(),
                serde_json::json!({"runId": "ok-run", "status": "ok"}),
            ),
            (
                "resume:k:2".to_string(),
                serde_json::json!({"runId": "resume:k:2", "status": "error", "endedAt": 1,
                    "error": "429 quota; Retry-After: 16 seconds"}),
            ),
        ]
        .into(),
        histories: [("agent:main:k".to_string(), history)].into(),
        ..Default::default()
    })
    .await;
    let (client, _) = client_for(gw.url(), |_| {});
    assert_eq!(
        client
            .await_run("agent:main:k", "ok-run", 5_000)
            .await
            .unwrap(),
        RunEnd::Succeeded
    );
    let RunEnd::Failed { agent_end } = client
        .await_run("agent:main:k", "resume:k:2", 5_000)
        .await
        .unwrap()
    else {
        panic!("a failed run")
    };
    assert_eq!(
        agent_end["messages"][0]["errorMessage"],
        "429 quota; Retry-After: 16 seconds"
    );
    assert_eq!(agent_end["messages"][0]["timestamp"], 1_700_000_000_250_i64);
    assert_eq!(
        requested(&gw, "agent.wait", "runId"),
        ["ok-run", "resume:k:2"],
        "one agent.wait per run"
    );
}

#[tokio::test]
async fn a_gateway_that_cannot_say_how_a_run_ended_is_asked_once() {
    use super::RunEnd;
    // The default fake answers an unknown method with `{method, params}`: no `status`.
    let gw = fake(FakeScript::default()).await;
    let (client, _) = client_for(gw.url(), |_| {});
    let end = client.await_run("agent:main:k", "r1", 5_000).await.unwrap();
    assert!(matches!(end, RunEnd::CannotSay { .. }), "{end:?}");
    assert_eq!(
        requested(&gw, "agent.wait", "runId"),
        ["r1"],
        "no busy loop against a gateway that cannot say"
    );
}
