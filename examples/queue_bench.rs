//! Durable park-queue throughput and memory at 1k, 100k and 1M entries.
//!
//! `cargo run --release --example queue_bench [-- <entries>...]`. Each size runs in a fresh
//! child process (so RSS is per size) in a temporary directory under `$QUEUE_BENCH_DIR`
//! (default: the system temp dir; use a real disk, not tmpfs, for meaningful fsync figures).
//! Printed per size: group-commit fill rate (batches of 1000 puts, one fsync each), single
//! durable `put` rate (one fsync each, updates of parked keys), the rate of 16 threads each
//! putting one update at a time through [`FileParked`] (its writer thread group-commits what
//! arrives during an fsync), compaction time and snapshot size, reopen time, and VmRSS after
//! filling and after reopening.

use openclaw_retry_engine::reason::Reason;
use openclaw_retry_engine::state::file::{FileParked, QueueConfig, QueueStore};
use openclaw_retry_engine::state::{ParkedEntry, ParkedQueue, QueueOp};
use std::sync::Arc;
use std::time::Instant;

const BATCH: usize = 1_000;
const SINGLE_PUTS: usize = 500;
const THREADS: usize = 16;
const PUTS_PER_THREAD: usize = 500;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, n, dir] if mode == "--fill" => return fill(n.parse().expect("count"), dir),
        [mode, n, dir] if mode == "--reopen" => return reopen(n.parse().expect("count"), dir),
        _ => {}
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![1_000, 100_000, 1_000_000]
    } else {
        args.iter()
            .map(|a| a.parse().expect("entry count"))
            .collect()
    };
    for n in sizes {
        let base = match std::env::var_os("QUEUE_BENCH_DIR") {
            Some(d) => tempfile::tempdir_in(d),
            None => tempfile::tempdir(),
        }
        .unwrap();
        let dir = base.path().join("queue").display().to_string();
        for mode in ["--fill", "--reopen"] {
            let status = std::process::Command::new(std::env::current_exe().unwrap())
                .args([mode, &n.to_string(), &dir])
                .status()
                .unwrap();
            assert!(status.success(), "{mode} for {n} entries failed");
        }
    }
}

const NOW: i64 = 1_800_000_000_000;

fn config(n: usize, dir: &str) -> QueueConfig {
    let mut cfg = QueueConfig::new(dir);
    cfg.max_entries = n;
    cfg
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

fn fill(n: usize, dir: &str) {
    let now = NOW;
    let (mut q, _) = QueueStore::open(config(n, dir), now).unwrap();

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

    let q = Arc::new(FileParked::new(q));
    let start = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let q = q.clone();
            std::thread::spawn(move || {
                for k in 0..PUTS_PER_THREAD {
                    let mut e = entry((t * PUTS_PER_THREAD + k) % n, now);
                    e.attempts = 3;
                    q.put(e).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let concurrent = start.elapsed();
    drop(q);
    println!(
        "{n:>9} entries | group commit ({BATCH} puts/fsync): {:>7.0} puts/s ({:.2} s) | single \
         put (1 fsync each): {:>5.0} puts/s ({singles} puts) | {THREADS} threads, one put at a \
         time each: {:>6.0} puts/s | compact {:.2} s -> snapshot {:.1} MiB | VmRSS after fill \
         {:.1} MiB",
        n as f64 / fill.as_secs_f64(),
        fill.as_secs_f64(),
        singles as f64 / single.as_secs_f64(),
        (THREADS * PUTS_PER_THREAD) as f64 / concurrent.as_secs_f64(),
        compact.as_secs_f64(),
        snapshot_bytes as f64 / 1_048_576.0,
        rss_filled as f64 / 1024.0,
    );
}

fn reopen(n: usize, dir: &str) {
    let before = vm_rss_kib();
    let start = Instant::now();
    let (q, _) = QueueStore::open(config(n, dir), NOW).unwrap();
    let open = start.elapsed();
    assert_eq!(q.len(), n);
    println!(
        "{n:>9} entries | reopen in a fresh process {:.2} s | VmRSS {:.1} MiB (process start \
         {:.1} MiB)",
        open.as_secs_f64(),
        vm_rss_kib() as f64 / 1024.0,
        before as f64 / 1024.0,
    );
}
