//! SIGKILL during writes and compactions of the decision and profile stores: this test binary
//! re-executed as a writer (`kill_writer`), killed mid-loop; every acknowledged write must
//! survive, and `start()`'s directory check removes the dead writer's temp files.

use super::dir::prepare;
use super::{FileDecisions, FileProfiles};
use crate::policy::KeyRecord;
use crate::profiles::ProfileStats;
use crate::state::{
    DecisionChange, DecisionRecord, DecisionStore, DecisionTable, ProfileUsageStore,
};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const DIR_VAR: &str = "STATE_KILL_TEST_DIR";
const STORE_VAR: &str = "STATE_KILL_TEST_STORE";

fn policy(key: &str, errors: u32) -> DecisionChange {
    let mut r = KeyRecord::new(1);
    r.consecutive_errors = errors;
    DecisionChange {
        table: DecisionTable::Policy,
        key: key.into(),
        record: Some(DecisionRecord::Policy(r)),
    }
}

/// Entry point of the child writer (does nothing unless started by [`kill_mid_loop`]): writes
/// forever, printing `ACK <n>` after write n returned.
#[test]
#[ignore = "child process entry point, run by the other tests in this file"]
fn kill_writer() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let dir = Path::new(&dir);
    match std::env::var(STORE_VAR).unwrap().as_str() {
        "decisions" => {
            let s = FileDecisions::in_dir(dir).compact_after(20);
            s.load(0).unwrap();
            for i in 0.. {
                // every key is written again later, so compactions carry real history
                s.write(&[
                    policy(&format!("k{i}"), 1),
                    policy(&format!("k{}", i / 2), 2),
                ])
                .unwrap();
                println!("ACK {i}");
            }
        }
        _ => {
            let s = FileProfiles::in_dir(dir);
            for i in 0.. {
                s.transact(0, &mut |u| {
                    u.profiles
                        .insert(format!("p{i}"), ProfileStats::new("openai"));
                    Ok(true)
                })
                .unwrap();
                println!("ACK {i}");
            }
        }
    }
}

/// Run the writer for `store`, SIGKILL it after `after` acknowledgements; the acknowledged
/// numbers.
fn kill_mid_loop(dir: &Path, store: &str, after: usize) -> Vec<u64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "state::file::kill_tests::kill_writer",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_VAR, dir)
        .env(STORE_VAR, store)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let ack = |l: &str| {
        l.find("ACK ")
            .and_then(|at| l[at + 4..].trim().parse::<u64>().ok())
    };
    let mut acked = Vec::new();
    let mut line = String::new();
    while acked.len() < after {
        line.clear();
        assert_ne!(out.read_line(&mut line).unwrap(), 0, "child exited early");
        acked.extend(ack(&line));
    }
    child.kill().unwrap(); // SIGKILL
    acked.extend(out.lines().map_while(Result::ok).filter_map(|l| ack(&l)));
    child.wait().unwrap();
    acked
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

#[test]
fn acknowledged_decisions_survive_a_sigkill_during_compaction() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3 {
        let acked = kill_mid_loop(dir.path(), "decisions", 40 + round * 23);
        prepare(dir.path()).unwrap();
        assert!(
            temp_files(dir.path()).is_empty(),
            "{:?}",
            temp_files(dir.path())
        );
        let loaded = FileDecisions::in_dir(dir.path()).load(0).unwrap();
        assert!(loaded.recoveries.is_empty(), "{:?}", loaded.recoveries);
        for i in acked {
            assert!(
                loaded.state.policy.contains_key(&format!("k{i}")),
                "round {round}: acknowledged k{i} lost"
            );
        }
    }
}

#[test]
fn acknowledged_profiles_survive_a_sigkill_mid_write() {
    let dir = tempfile::tempdir().unwrap();
    let acked = kill_mid_loop(dir.path(), "profiles", 60);
    prepare(dir.path()).unwrap();
    assert!(temp_files(dir.path()).is_empty());
    let mut seen = 0;
    let recovery = FileProfiles::in_dir(dir.path())
        .transact(0, &mut |u| {
            seen = u.profiles.len();
            for i in &acked {
                assert!(u.profiles.contains_key(&format!("p{i}")), "p{i} lost");
            }
            Ok(false)
        })
        .unwrap();
    assert!(recovery.is_none());
    assert!(seen >= acked.len());
}
