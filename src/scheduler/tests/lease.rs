//! One resender per state dir: a scheduler without the lease parks nothing away and sends
//! nothing; it takes over when the holder lets go (as the OS does when a process dies).

use super::fake::{entry, FakeResender, Reply, T0};
use crate::clock::TokioClock;
use crate::events::RecordingSink;
use crate::jitter::Jitter;
use crate::scheduler::{ResendLease, Scheduler, SchedulerConfig, SchedulerHandle};
use crate::state::coordination::Solo;
use crate::state::file::FileLeases;
use crate::state::memory::MemoryQueue;
use crate::state::EntryStatus;
use std::sync::Arc;
use std::time::Duration;

fn leased(
    queue: &Arc<MemoryQueue>,
    dir: &std::path::Path,
    holder: &str,
) -> (Arc<FakeResender>, SchedulerHandle) {
    let clock = Arc::new(TokioClock::starting_at(T0));
    let resender = Arc::new(FakeResender::new(clock.clone(), |_, _| Reply::Hang));
    let parts = (
        queue.clone() as Arc<dyn crate::state::ParkedQueue>,
        resender.clone() as Arc<dyn crate::resender::Resender>,
        SchedulerConfig::default(),
        clock as crate::clock::SharedClock,
        Jitter::seeded(1),
        RecordingSink::default().sink(),
    );
    let lease = ResendLease {
        store: Arc::new(FileLeases::new(dir).unwrap()),
        holder: holder.into(),
    };
    let handle = Scheduler::spawn_leased(parts, Arc::new(Solo), Some(lease)).unwrap();
    (resender, handle)
}

// Real time: the lease is a file lock taken on the blocking pool.
#[tokio::test]
async fn only_the_lease_holder_resends_and_a_standby_takes_over_when_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(MemoryQueue::new());
    queue.insert(entry("s", "g", -1_000, 0));
    let (a, a_handle) = leased(&queue, dir.path(), "engine-a");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (b, b_handle) = leased(&queue, dir.path(), "engine-b");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(a.keys(), vec!["s"], "the holder probes");
    assert!(b.keys().is_empty(), "the standby sends nothing");
    // The standby did not "recover" the holder's in-flight probe back to parked.
    assert_eq!(queue.entry("s").unwrap().status, EntryStatus::Probing);
    let leases = FileLeases::new(dir.path()).unwrap();
    assert_eq!(
        leases.holder("resender").unwrap().as_deref(),
        Some("engine-a")
    );
    a_handle.shutdown().await; // parks its probe again and lets the lease go
    let mut waited = 0;
    while b.keys().is_empty() && waited < 5_000 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 50;
    }
    assert_eq!(b.keys(), vec!["s"], "the standby took over and resent it");
    assert_eq!(
        leases.holder("resender").unwrap().as_deref(),
        Some("engine-b")
    );
    b_handle.shutdown().await;
}
