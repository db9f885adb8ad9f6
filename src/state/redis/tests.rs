//! The Redis coordinator against a real `redis-server` (see `test_server.rs`).

use super::test_server::TestRedis;
use super::{RedisConfig, RedisCoordinator};
use crate::clock::SystemClock;
use crate::events::{Event, RecordingSink};
use crate::state::coordination::{Coordinator, GroupOutcome, ProbeClaim};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn cfg(url: &str) -> RedisConfig {
    RedisConfig {
        url: url.to_string(),
        key_prefix: "test:".into(),
        lease_ttl_ms: 600,
        poll_ms: 50,
        timeout_ms: 500,
        ..RedisConfig::default()
    }
}

fn coordinator(url: &str, rec: &RecordingSink) -> RedisCoordinator {
    RedisCoordinator::start(cfg(url), Arc::new(SystemClock), rec.sink()).unwrap()
}

type Heard = Arc<Mutex<Vec<(String, GroupOutcome)>>>;

fn listen(c: &RedisCoordinator) -> Heard {
    let heard: Heard = Arc::default();
    let h = heard.clone();
    c.listen(Arc::new(move |g: &str, o| {
        h.lock().unwrap().push((g.to_string(), o))
    }));
    heard
}

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..400 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn now() -> i64 {
    crate::clock::Clock::now_ms(&SystemClock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_claim_wins_and_its_outcome_reaches_the_others() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let rec = RecordingSink::default();
    let engines: Vec<_> = (0..3).map(|_| coordinator(&redis.url(), &rec)).collect();
    let heard: Vec<Heard> = engines.iter().map(listen).collect();
    // Let the subscriptions come up before anything is published.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = now();
    let mut claims = Vec::new();
    for e in &engines {
        claims.push(e.claim_probe("openai", t - 1_000, t).await);
    }
    let winners: Vec<usize> = (0..3).filter(|i| claims[*i] == ProbeClaim::Mine).collect();
    assert_eq!(winners.len(), 1, "{claims:?}");
    for c in &claims {
        if let ProbeClaim::Elsewhere { reclaim_at_ms } = c {
            assert!(*reclaim_at_ms > t);
        }
    }
    // The winner's claim again is still its own (renewed); another group is independent.
    let w = winners[0];
    assert_eq!(
        engines[w].claim_probe("openai", t - 1_000, t).await,
        ProbeClaim::Mine
    );
    assert_eq!(
        engines[(w + 1) % 3].claim_probe("anthropic", t, t).await,
        ProbeClaim::Mine
    );
    let ok = GroupOutcome::Ok { at_ms: t + 5 };
    engines[w].finish_probe("openai", ok).await;
    for (i, h) in heard.iter().enumerate() {
        if i == w {
            continue;
        }
        until("the outcome message", || !h.lock().unwrap().is_empty()).await;
        assert_eq!(h.lock().unwrap()[0], ("openai".to_string(), ok));
    }
    assert!(
        heard[w].lock().unwrap().is_empty(),
        "own messages are skipped"
    );
    // A late claimer whose entries were parked before the outcome learns it without probing;
    // one parked after it must probe (the outcome is stale for it).
    let late = engines[(w + 1) % 3].claim_probe("openai", t, t + 10).await;
    assert_eq!(late, ProbeClaim::Known(ok));
    let fresh = engines[(w + 2) % 3]
        .claim_probe("openai", t + 6, t + 10)
        .await;
    assert_eq!(fresh, ProbeClaim::Mine);
    // A failed outcome is news until its retry time.
    let failed = GroupOutcome::Failed {
        at_ms: t + 20,
        retry_at_ms: t + 60_000,
    };
    engines[(w + 2) % 3].finish_probe("openai", failed).await;
    assert_eq!(
        engines[w].claim_probe("openai", t + 6, t + 30).await,
        ProbeClaim::Known(failed)
    );
    assert_eq!(
        engines[w].claim_probe("openai", t + 6, t + 60_001).await,
        ProbeClaim::Mine
    );
    assert!(rec.events().is_empty(), "{:?}", rec.events());
    for e in &engines {
        e.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holder_is_replaced_within_the_lease_ttl() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let rec = RecordingSink::default();
    let holder = coordinator(&redis.url(), &rec);
    let other = coordinator(&redis.url(), &rec);
    let t = now();
    assert_eq!(holder.claim_probe("g", t, t).await, ProbeClaim::Mine);
    // While the holder lives it renews: after two TTLs the lease is still its own.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let t2 = now();
    assert!(matches!(
        other.claim_probe("g", t, t2).await,
        ProbeClaim::Elsewhere { .. }
    ));
    // The holder dies without finishing (its renewals stop with it).
    holder.close().await;
    drop(holder);
    let died = std::time::Instant::now();
    loop {
        let t3 = now();
        match other.claim_probe("g", t, t3).await {
            ProbeClaim::Mine => break,
            ProbeClaim::Elsewhere { reclaim_at_ms } => {
                assert!(reclaim_at_ms - t3 <= 600);
                tokio::time::sleep(Duration::from_millis((reclaim_at_ms - t3).max(1) as u64)).await;
            }
            known => panic!("unexpected {known:?}"),
        }
        assert!(died.elapsed() < Duration::from_secs(5), "no takeover");
    }
    other.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_means_local_decisions_then_catch_up() {
    let Some(mut redis) = TestRedis::start() else {
        return;
    };
    let rec = RecordingSink::default();
    let a = coordinator(&redis.url(), &rec);
    let b_rec = RecordingSink::default();
    let b = coordinator(&redis.url(), &b_rec);
    let heard = listen(&b);
    let t = now();
    assert_eq!(a.claim_probe("g", t, t).await, ProbeClaim::Mine);
    redis.stop();
    // Both decide alone while Redis is away.
    assert_eq!(a.claim_probe("h", t, t).await, ProbeClaim::Mine);
    assert_eq!(b.claim_probe("h", t, t).await, ProbeClaim::Mine);
    assert!(a.is_degraded());
    let ok = GroupOutcome::Ok { at_ms: t + 1 };
    a.finish_probe("g", ok).await;
    let degraded = |r: &RecordingSink| {
        r.events()
            .iter()
            .filter(|e| matches!(e, Event::StateDegraded { .. }))
            .count()
    };
    assert_eq!(degraded(&rec), 1, "{:?}", rec.events());
    redis.restart();
    // The next call (the subscriber's reconnect) ends the spell and publishes the backlog.
    until("recovery", || {
        rec.events()
            .iter()
            .any(|e| matches!(e, Event::StateRecovered { caught_up: 1, .. }))
    })
    .await;
    // The backlog is recorded in Redis for later claimers, whether or not b was subscribed in
    // time to hear the message.
    let later = b.claim_probe("g", t, t + 2).await;
    assert_eq!(later, ProbeClaim::Known(ok));
    let _ = heard;
    for e in rec.events().iter().chain(b_rec.events().iter()) {
        let text = serde_json::to_string(e).unwrap();
        assert!(
            !text.contains("redis.sock") || text.contains("redis+unix"),
            "{text}"
        );
    }
    a.close().await;
    b.close().await;
}
