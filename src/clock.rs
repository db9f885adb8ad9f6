//! Injectable wall clock. Engine code asks a [`Clock`] for "now" so tests can run on paused time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of the current time as Unix epoch milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// The real wall clock (default).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        // SystemTime directly: chrono's `Utc::now()` also works out the calendar date.
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        }
    }
}

/// A clock that follows tokio's time: epoch ms fixed at creation plus tokio's elapsed time.
/// Under `tokio::time::pause()` it only moves with `tokio::time::advance`, so timers and
/// "now" agree in tests.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base_epoch_ms: i64,
    base_instant: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `epoch_ms` now and then advances with tokio time.
    pub fn starting_at(epoch_ms: i64) -> Self {
        Self {
            base_epoch_ms: epoch_ms,
            base_instant: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        self.base_epoch_ms + self.base_instant.elapsed().as_millis() as i64
    }
}

/// A clock that only moves when told to (for unit tests of pure logic).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock frozen at `epoch_ms`.
    pub fn new(epoch_ms: i64) -> Self {
        Self(AtomicI64::new(epoch_ms))
    }

    /// Move the clock forward (or backward) by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Set the clock to `epoch_ms`.
    pub fn set(&self, epoch_ms: i64) {
        self.0.store(epoch_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance(500);
        assert_eq!(c.now_ms(), 1_500);
        c.set(7);
        assert_eq!(c.now_ms(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let c = TokioClock::starting_at(10_000);
        assert_eq!(c.now_ms(), 10_000);
        tokio::time::advance(std::time::Duration::from_millis(2_500)).await;
        assert_eq!(c.now_ms(), 12_500);
    }
}
