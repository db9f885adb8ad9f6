//! Throughput of the durable auth-profile store: every pick and mark is a full transaction
//! (lock, re-read, apply, atomic write with fsync, unlock).
//!
//! `cargo run --release --example profiles_bench [ops] [dir]` — default 2000 ops per phase in a
//! temporary directory. Use a `dir` on the disk you care about (tmpfs makes fsync free).

use openclaw_retry_engine::events::null_sink;
use openclaw_retry_engine::profiles::{Outcome, ProfileConfig, ProfileStore};
use openclaw_retry_engine::reason::Reason;
use std::path::PathBuf;
use std::time::Instant;

const T0: i64 = 1_800_000_000_000;
const PROFILES: usize = 8;

fn main() {
    let mut args = std::env::args().skip(1);
    let ops: usize = args
        .next()
        .map(|s| s.parse().expect("ops must be a positive integer"))
        .unwrap_or(2_000);
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let (store, _) = ProfileStore::open(&dir, ProfileConfig::default(), null_sink(), T0)
        .expect("open the store");
    for i in 0..PROFILES {
        store
            .register(&format!("bench:{i}"), "bench", T0)
            .expect("register");
    }

    let start = Instant::now();
    let mut ids = Vec::with_capacity(ops);
    for i in 0..ops {
        let r = store.pick("bench", None, T0 + i as i64).expect("pick");
        ids.push(r.profile_id.expect("no profile cools down in this bench"));
    }
    let picks_s = ops as f64 / start.elapsed().as_secs_f64();

    let outcomes = [
        Outcome::success(),
        Outcome::failure(Reason::Overloaded),
        Outcome::failure(Reason::Timeout),
    ];
    let start = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        store
            .mark(id, &outcomes[i % outcomes.len()], T0 + (ops + i) as i64)
            .expect("mark");
    }
    let marks_s = ops as f64 / start.elapsed().as_secs_f64();

    let views = store.list(Some("bench"), T0).expect("list");
    let uses: u64 = views.iter().map(|v| v.stats.use_count).sum();
    assert_eq!(uses as usize, ops, "every pick counted");
    println!(
        "profiles_bench: {ops} ops, {PROFILES} profiles, dir {}",
        dir.display()
    );
    println!("picks/s (durable): {picks_s:.0}");
    println!("marks/s (durable): {marks_s:.0}");
}
