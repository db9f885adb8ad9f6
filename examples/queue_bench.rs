//! Durable park-queue throughput and memory at 1k, 100k and 1M entries.
//!
//! `cargo run --release --example queue_bench [-- <entries>...]`. Each size runs in a fresh
//! child process (so RSS is per size) in a temporary directory under `$QUEUE_BENCH_DIR`
//! (default: the system temp dir; use a real disk, not tmpfs, for meaningful fsync figures).
//! Printed per size: group-commit fill rate (batches of 1000 puts, one fsync each), single
//! durable `put` rate (one fsync each, updates of parked keys), compaction time and snapshot
//! size, reopen time, and VmRSS after filling and after reopening.

use openclaw_retry_engine::queue::{ParkedEntry, QueueConfig, QueueOp, QueueStore};
use openclaw_retry_engine::reason::Reason;
use std::time::Instant;

const BATCH: usize = 1_000;
const SINGLE_PUTS: usize = 500;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, n] = args.as_slice() {
        if flag == "--child" {
            run(n.parse().expect("entry count"));
            return;
        }
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![1_000, 100_000, 1_000_000]
    } else {
        args.iter().map(|a| a.parse().expect("entry count")).collect()
    };
    for n in sizes {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--child", &n.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "bench for {n} entries failed");
    }
}

fn entry(i: usize, now: i64) -> ParkedEntry {
    let mut e = ParkedEntry::new(
        format!("agent:main:telegram:direct:{i}"),
        Reason::RateLimit,
        now,
        now + 60_000 + (i as i64 % 3_600) * 1_000,
        "429 Too Many Requests: Rate limit reached for requests per min (RPM)",
    );
    e.group = "openai".to_string();
    e
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn run(n: usize) {
    let base = match std::env::var_os("QUEUE_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .unwrap();
    let now = 1_800_000_000_000;
    let mut cfg = QueueConfig::new(base.path().join("queue"));
    cfg.max_entries = n;
    let (mut q, _) = QueueStore::open(cfg.clone(), now).unwrap();

    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        q.apply((i..end).map(|j| QueueOp::Put(entry(j, now))).collect())
            .unwrap();
        i = end;
    }
    let fill = start.elapsed();
    let rss_filled = vm_rss_kib();

    let singles = SINGLE_PUTS.min(n);
    let start = Instant::now();
    for j in 0..singles {
        let mut e = entry(j * (n / singles), now);
        e.attempts = 2;
        q.put(e).unwrap();
    }
    let single = start.elapsed();

    let start = Instant::now();
    q.compact().unwrap();
    let compact = start.elapsed();
    let snapshot_bytes = std::fs::metadata(&q.files().snapshot).unwrap().len();
    drop(q);

    let rss_before_open = vm_rss_kib();
    let start = Instant::now();
    let (mut q, _) = QueueStore::open(cfg, now).unwrap();
    let reopen = start.elapsed();
    assert_eq!(q.all().unwrap().len(), n);
    println!(
        "{n:>9} entries | group commit ({BATCH}/fsync): {:>9.0} puts/s ({:.2}s) | single put: \
         {:>6.0} puts/s ({singles} puts) | compact {:.2}s, snapshot {:.1} MiB | reopen {:.2}s | \
         VmRSS {:.1} MiB filled, {:.1} MiB after reopen (was {:.1} before)",
        n as f64 / fill.as_secs_f64(),
        fill.as_secs_f64(),
        singles as f64 / single.as_secs_f64(),
        compact.as_secs_f64(),
        snapshot_bytes as f64 / 1_048_576.0,
        reopen.as_secs_f64(),
        rss_filled as f64 / 1024.0,
        vm_rss_kib() as f64 / 1024.0,
        rss_before_open as f64 / 1024.0,
    );
}
