//! Async access to the blocking [`ParkedQueue`]: every call runs on tokio's blocking pool so a
//! fsync never stalls the runtime's worker threads.

use crate::error::{EngineError, EngineResult};
use crate::state::{ParkedEntry, ParkedQueue, QueueChange};
use std::sync::Arc;

/// A cheap clonable async front for a [`ParkedQueue`].
#[derive(Clone)]
pub(crate) struct StoreCalls(pub(crate) Arc<dyn ParkedQueue>);

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> EngineResult<T> + Send + 'static,
) -> EngineResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        EngineError::io(
            "park queue",
            std::io::Error::other(format!("queue call did not complete: {e}")),
        )
    })?
}

impl StoreCalls {
    pub(crate) async fn all_entries(&self) -> EngineResult<Vec<ParkedEntry>> {
        let q = self.0.clone();
        blocking(move || q.all_entries()).await
    }

    pub(crate) async fn unparked_entries(&self) -> EngineResult<Vec<ParkedEntry>> {
        let q = self.0.clone();
        blocking(move || q.unparked_entries()).await
    }

    pub(crate) async fn due_entries(&self, now_ms: i64) -> EngineResult<Vec<ParkedEntry>> {
        let q = self.0.clone();
        blocking(move || q.due_entries(now_ms)).await
    }

    pub(crate) async fn next_due_ms(&self, skip_groups: Vec<String>) -> EngineResult<Option<i64>> {
        let q = self.0.clone();
        blocking(move || q.next_due_ms(&skip_groups)).await
    }

    pub(crate) async fn apply(&self, changes: Vec<QueueChange>, now_ms: i64) -> EngineResult<()> {
        let q = self.0.clone();
        blocking(move || q.apply(&changes, now_ms)).await
    }
}
