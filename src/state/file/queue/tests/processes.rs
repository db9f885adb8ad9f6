//! Real second processes: this test binary re-executed as a writer (`writer_process`, selected
//! by environment variables), run concurrently with the parent, and SIGKILLed mid-loop.

use super::*;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const DIR_VAR: &str = "QUEUE_TEST_CHILD_DIR";
const PREFIX_VAR: &str = "QUEUE_TEST_CHILD_PREFIX";
const COUNT_VAR: &str = "QUEUE_TEST_CHILD_COUNT";

fn child_config(dir: &Path) -> QueueConfig {
    let mut cfg = config(dir);
    cfg.compact_min_records = 40;
    cfg.max_entries = 1_000_000;
    cfg
}

/// Entry point of the child writer, not a test of its own: it does nothing unless started by
/// [`spawn_writer`]. Puts `<prefix>-<i>` for i in 0..count (forever when count is 0), printing
/// `ACK <key>` after each put returned, then `DONE`.
#[test]
#[ignore = "child process entry point, run by the other tests in this file"]
fn writer_process() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let prefix = std::env::var(PREFIX_VAR).unwrap();
    let count: u64 = std::env::var(COUNT_VAR).unwrap().parse().unwrap();
    let (mut q, _) = QueueStore::open(child_config(Path::new(&dir)), 0).unwrap();
    let mut i = 0;
    while count == 0 || i < count {
        let key = format!("{prefix}-{i}");
        let mut e = entry(&key, i as i64);
        e.meta = serde_json::json!({ "writer": prefix });
        q.put(e).unwrap();
        println!("ACK {key}");
        if i % 7 == 3 {
            // an update of an earlier key, so compactions carry real history
            q.put(entry(&format!("{prefix}-{}", i / 2), -1)).unwrap();
        }
        if i % 50 == 49 {
            q.compact().unwrap();
        }
        i += 1;
    }
    println!("DONE");
}

fn spawn_writer(dir: &Path, prefix: &str, count: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "state::file::queue::tests::processes::writer_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_VAR, dir)
        .env(PREFIX_VAR, prefix)
        .env(COUNT_VAR, count.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn acked_keys(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        // libtest prints "test <name> ... " without a newline before the first line of output
        .filter_map(|l| l.find("ACK ").map(|at| l[at + 4..].to_string()))
        .collect()
}

#[test]
fn a_second_process_writing_concurrently_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_writer(dir.path(), "child", 300);
    let (mut q, _) = QueueStore::open(child_config(dir.path()), 0).unwrap();
    for i in 0..300 {
        q.put(entry(&format!("parent-{i}"), i)).unwrap();
    }
    let out = BufReader::new(child.stdout.take().unwrap());
    let lines: Vec<String> = out.lines().map(Result::unwrap).collect();
    assert!(child.wait().unwrap().success());
    assert!(lines.iter().any(|l| l == "DONE"), "child did not finish");
    let child_keys = acked_keys(&lines);
    assert_eq!(child_keys.len(), 300);
    // the parent's store sees the child's writes without reopening
    let seen: HashSet<String> = keys(&mut q).into_iter().collect();
    assert_eq!(seen.len(), 600);
    drop(q);
    let (mut q, report) = QueueStore::open(child_config(dir.path()), 0).unwrap();
    assert!(report.recoveries.is_empty());
    let reopened: HashSet<String> = keys(&mut q).into_iter().collect();
    assert_eq!(reopened, seen);
    for k in child_keys {
        assert!(reopened.contains(&k), "{k} lost");
    }
}

#[test]
fn every_acknowledged_put_survives_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3 {
        let prefix = format!("round{round}");
        let mut child = spawn_writer(dir.path(), &prefix, 0);
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        let mut line = String::new();
        // kill at a different point each round, somewhere inside the loop
        let kill_after = 60 + round * 37;
        while acked_keys(&lines).len() < kill_after {
            line.clear();
            assert_ne!(out.read_line(&mut line).unwrap(), 0, "child exited early");
            lines.push(line.trim_end().to_string());
        }
        child.kill().unwrap(); // SIGKILL
                               // acknowledgements already in the pipe count too
        lines.extend(out.lines().map(Result::unwrap));
        child.wait().unwrap();
        let acked = acked_keys(&lines);
        assert!(acked.len() >= kill_after);
        let (mut q, _) = QueueStore::open(child_config(dir.path()), 0).unwrap();
        let present: HashSet<String> = keys(&mut q).into_iter().collect();
        for k in &acked {
            assert!(present.contains(k), "acknowledged {k} lost after SIGKILL");
        }
    }
}
