//! `start()` and `close()`: opening the durable stores and running the scheduler.

use super::Engine;
use crate::error::{EngineError, EngineResult};
use crate::events::Event;
use crate::profiles::ProfileStore;
use crate::scheduler::{Scheduler, SchedulerHandle};
use crate::state::coordination::Coordinator;
use crate::state::file::{FileParked, QueueConfig, QueueStore};
use crate::state::ParkedQueue;
use std::sync::Arc;

/// What `start()` brought up.
pub(crate) struct Running {
    pub store: Arc<dyn ParkedQueue>,
    pub scheduler: SchedulerHandle,
    pub profiles: Arc<ProfileStore>,
    pub coordinator: Arc<dyn Coordinator>,
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
    /// Open the state directory (queue, profiles), import an old queue once, report recovered
    /// files, and start the scheduler. Idempotent while running; fails after `close()`.
    pub async fn start(&self) -> EngineResult<()> {
        let mut life = self.life.lock().await;
        match &*life {
            Life::Running(_) => return Ok(()),
            Life::Closed => return Err(EngineError::Closed),
            Life::Idle => {}
        }
        let now = self.clock.now_ms();
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
        let store: Arc<dyn ParkedQueue> = Arc::new(FileParked::new(store));
        let coordinator = shared.coordinator;
        if self.cfg.state.redis.is_some() {
            let loaded = coordinator.load_decisions().await;
            self.fleet.link(coordinator.clone(), loaded);
        }
        let scheduler = Scheduler::spawn_coordinated(
            store.clone(),
            self.resender.clone(),
            self.cfg.scheduler.clone(),
            self.clock.clone(),
            self.jitter.clone(),
            self.events.clone(),
            coordinator.clone(),
        )?;
        *life = Life::Running(Arc::new(Running {
            store,
            scheduler,
            profiles: Arc::new(profiles),
            coordinator,
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
