//! Profile usage shared through a real Redis: the seam's suite, live sharing between engines,
//! and the local fallback with catch-up.

use super::test_server::TestRedis;
use super::{RedisConfig, RedisCoordinator, RedisProfiles};
use crate::clock::{Clock, SystemClock};
use crate::events::{null_sink, Event, RecordingSink};
use crate::profiles::{Outcome, ProfileConfig, ProfileStore};
use crate::reason::Reason;
use crate::state::file::FileProfiles;
use crate::state::ProfileUsageStore;
use std::sync::Arc;

fn cfg(url: &str) -> RedisConfig {
    RedisConfig {
        url: url.to_string(),
        key_prefix: "prof:".into(),
        timeout_ms: 300,
        poll_ms: 50,
        ..RedisConfig::default()
    }
}

fn usage(
    url: &str,
    dir: &std::path::Path,
    rec: &RecordingSink,
) -> (RedisCoordinator, RedisProfiles) {
    let c = RedisCoordinator::start(cfg(url), Arc::new(SystemClock), rec.sink()).unwrap();
    let p = c.profiles(Arc::new(FileProfiles::in_dir(dir)));
    (c, p)
}

fn store(p: RedisProfiles) -> ProfileStore {
    let usage: Arc<dyn ProfileUsageStore> = Arc::new(p);
    ProfileStore::with_backend(usage, ProfileConfig::default(), null_sink(), 0)
        .unwrap()
        .0
}

fn now() -> i64 {
    SystemClock.now_ms()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_shared_profile_usage_suite() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_c, p) = usage(&redis.url(), dir.path(), &RecordingSink::default());
    tokio::task::spawn_blocking(move || crate::state::conformance::profile_usage(&p))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooldown_learned_by_one_engine_stops_every_engine_picking_it() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rec = RecordingSink::default();
    let (_ca, pa) = usage(&redis.url(), da.path(), &rec);
    let (_cb, pb) = usage(&redis.url(), db.path(), &rec);
    let url = redis.url();
    tokio::task::spawn_blocking(move || {
        let (a, b) = (store(pa), store(pb));
        let t = now();
        let ids = vec!["k1".to_string(), "k2".to_string()];
        let first = a.pick("openai", Some(&ids), t).unwrap().profile_id.unwrap();
        // B sees A's pick (least recently used rotation is fleet-wide).
        let second = b
            .pick("openai", Some(&ids), t + 1)
            .unwrap()
            .profile_id
            .unwrap();
        assert_ne!(first, second);
        // A is rate limited on `first`: B must not pick it while it cools down.
        a.mark(&first, &Outcome::failure(Reason::RateLimit), t + 2)
            .unwrap();
        for i in 0..4 {
            let p = b.pick("openai", Some(&ids), t + 3 + i).unwrap();
            assert_eq!(p.profile_id.as_deref(), Some(second.as_str()), "pick {i}");
        }
        // A billing disable by B applies to A too: nothing usable is left.
        b.mark(&second, &Outcome::failure(Reason::Billing), t + 10)
            .unwrap();
        let none = a.pick("openai", Some(&ids), t + 11).unwrap();
        assert_eq!(none.profile_id, None);
        assert!(none.next_available_at_ms.unwrap() > t + 11);
        drop(url);
    })
    .await
    .unwrap();
    assert!(rec.events().is_empty(), "{:?}", rec.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_falls_back_to_the_local_file_and_catches_up() {
    let Some(mut redis) = TestRedis::start() else {
        return;
    };
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rec = RecordingSink::default();
    let (_ca, pa) = usage(&redis.url(), da.path(), &rec);
    let (_cb, pb) = usage(&redis.url(), db.path(), &RecordingSink::default());
    let (a, b) = tokio::task::spawn_blocking(move || (store(pa), store(pb)))
        .await
        .unwrap();
    let (a, b) = (Arc::new(a), Arc::new(b));
    let ids = vec!["k1".to_string(), "k2".to_string()];
    let t = now();
    {
        let (a, ids) = (a.clone(), ids.clone());
        tokio::task::spawn_blocking(move || {
            a.register("k1", "openai", t).unwrap();
            a.register("k2", "openai", t).unwrap();
            let _ = a.pick("openai", Some(&ids), t).unwrap();
        })
        .await
        .unwrap();
    }
    redis.stop();
    {
        let a = a.clone();
        tokio::task::spawn_blocking(move || {
            // Still works, on the local file seeded with what Redis last said.
            let listed = a.list(Some("openai"), t + 1).unwrap();
            assert_eq!(listed.len(), 2, "profiles seen in Redis are known locally");
            a.mark("k1", &Outcome::failure(Reason::Billing), t + 2)
                .unwrap();
        })
        .await
        .unwrap();
    }
    assert!(
        rec.events()
            .iter()
            .any(|e| matches!(e, Event::StateDegraded { .. })),
        "{:?}",
        rec.events()
    );
    redis.restart(); // empty: everything must come back from the engines
    let (a2, ids2) = (a.clone(), ids.clone());
    tokio::task::spawn_blocking(move || {
        // A's next transaction reaches Redis and merges what it learned meanwhile.
        let p = a2.pick("openai", Some(&ids2), t + 3).unwrap();
        assert_eq!(p.profile_id.as_deref(), Some("k2"));
        let p = b.pick("openai", Some(&ids2), t + 4).unwrap();
        assert_eq!(
            p.profile_id.as_deref(),
            Some("k2"),
            "B learned A's disable of k1"
        );
    })
    .await
    .unwrap();
}
