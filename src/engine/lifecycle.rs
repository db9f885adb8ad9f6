//! `start()` and `close()`: opening the durable stores and running the scheduler.

use super::decision_sync::DecisionSync;
use super::Engine;
use crate::error::{EngineError, EngineResult};
use crate::events::Event;
use crate::profiles::ProfileStore;
use crate::scheduler::{ResendLease, Scheduler, SchedulerHandle};
use crate::state::coordination::Coordinator;
use crate::state::file::{FileDecisions, FileLeases, FileParked, QueueConfig, QueueStore};
use crate::state::{DecisionStore, ParkedQueue};
use std::sync::{Arc, Mutex};

/// What `start()` brought up.
pub(crate) struct Running {
    pub store: Arc<dyn ParkedQueue>,
    pub scheduler: SchedulerHandle,
    pub profiles: Arc<ProfileStore>,
    /// The decision-state writer; taken by `close()`.
    pub decisions: Mutex<Option<DecisionSync>>,
    pub coordinator: Arc<dyn Coordinator>,
    /// The state dir's leases (the one resender per dir) and this engine's holder id.
    pub leases: Arc<FileLeases>,
    pub holder: String,
}

/// The engine's lifecycle.
pub(crate) enum Life {
    Idle,
    Running(Arc<Running>),
    Closed,
}

/// Run blocking store I/O off the async threads.
pub(crate) async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> EngineResult<T> + Send + 'static,
) -> EngineResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EngineError::Io {
            path: "(background task)".into(),
            source: std::io::Error::other(e.to_string()),
        })?
}

impl Engine {
    /// Open the state directory (queue, decisions, profiles), import an old queue once, report recovered
    /// files, and start the scheduler. Idempotent while running; fails after `close()`.
    pub async fn start(&self) -> EngineResult<()> {
        let mut life = self.life.lock().await;
        match &*life {
            Life::Running(_) => return Ok(()),
            Life::Closed => return Err(EngineError::Closed),
            Life::Idle => {}
        }
        let now = self.clock.now_ms();
        let dir = self.cfg.state_dir.clone();
        run_blocking(move || crate::state::file::dir::prepare(&dir)).await?;
        let mut qcfg = QueueConfig::new(self.cfg.state_dir.clone());
        qcfg.max_entries = self.cfg.queue.max_entries;
        qcfg.import_path = self.cfg.queue.import_path.clone();
        qcfg.compact_min_records = self.cfg.queue.compact_min_records;
        qcfg.clock = self.clock.clone();
        let (store, report) = run_blocking(move || QueueStore::open(qcfg, now)).await?;
        for r in report.recoveries {
            (self.events)(r.to_event());
        }
        if let Some(imp) = report.imported {
            (self.events)(Event::Imported {
                path: imp.source.display().to_string(),
                count: imp.imported,
            });
        }
        let shared = self.open_shared_state()?;
        let dir = self.cfg.state_dir.clone();
        let pcfg = self.cfg.profiles.clone();
        let sink = self.events.clone();
        let usage = shared.profile_usage.clone();
        let (profiles, recovered) = run_blocking(move || match usage {
            Some(usage) => ProfileStore::with_backend(usage, pcfg, sink, now),
            None => ProfileStore::open(&dir, pcfg, sink, now),
        })
        .await?;
        if let Some(r) = recovered {
            (self.events)(r.to_event());
        }
        let decision_store: Arc<dyn DecisionStore> = match &self.decision_store {
            Some(s) => s.clone(),
            None => Arc::new(FileDecisions::in_dir(&self.cfg.state_dir)),
        };
        let decisions = DecisionSync::start(
            self.tables.clone(),
            decision_store,
            self.events.clone(),
            now,
        )
        .await?;
        let store: Arc<dyn ParkedQueue> = Arc::new(FileParked::new(store));
        let coordinator = shared.coordinator;
        if self.cfg.state.redis.is_some() {
            let loaded = coordinator.load_decisions().await;
            self.fleet.link(coordinator.clone(), loaded);
        }
        let leases = Arc::new(FileLeases::new(&self.cfg.state_dir)?);
        let holder = format!(
            "pid {} engine {}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let parts = (
            store.clone(),
            self.resender.clone(),
            self.cfg.scheduler.clone(),
            self.clock.clone(),
            self.jitter.clone(),
            self.events.clone(),
        );
        let lease = ResendLease {
            store: leases.clone(),
            holder: holder.clone(),
        };
        let scheduler = Scheduler::spawn_leased(parts, coordinator.clone(), Some(lease))?;
        *life = Life::Running(Arc::new(Running {
            store,
            scheduler,
            profiles: Arc::new(profiles),
            decisions: Mutex::new(Some(decisions)),
            coordinator,
            leases,
            holder,
        }));
        Ok(())
    }

    /// Like [`Engine::close`], but first give resends already in flight up to `grace` to
    /// finish (no new resend starts meanwhile); the rest are then cancelled as `close` does.
    pub async fn close_within(&self, grace: std::time::Duration) -> EngineResult<()> {
        if !grace.is_zero() && self.is_running().await {
            self.drain.drain(grace).await;
        }
        self.close().await
    }

    /// Stop the scheduler (in-flight work goes back to `Parked`, nothing is lost), flush and
    /// close the stores and the gateway connection. Idempotent.
    pub async fn close(&self) -> EngineResult<()> {
        let mut life = self.life.lock().await;
        let previous = std::mem::replace(&mut *life, Life::Closed);
        if let Life::Running(running) = previous {
            running.scheduler.shutdown().await;
            let decisions = running
                .decisions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(d) = decisions {
                d.shutdown().await;
            }
            running.coordinator.close().await;
            self.fleet.unlink();
        }
        self.gateway.close().await;
        Ok(())
    }

    /// The running parts, or `E_NOT_STARTED` / `E_CLOSED`.
    pub(crate) async fn running(&self) -> EngineResult<Arc<Running>> {
        match &*self.life.lock().await {
            Life::Running(r) => Ok(r.clone()),
            Life::Idle => Err(EngineError::NotStarted),
            Life::Closed => Err(EngineError::Closed),
        }
    }

    /// Whether `start()` has run and `close()` has not.
    pub async fn is_running(&self) -> bool {
        matches!(&*self.life.lock().await, Life::Running(_))
    }
}
