//! Injectable randomness for jitter. Seed it in tests for repeatable schedules.

use std::sync::{Arc, Mutex};

/// A thread-safe, seedable random source used for jitter.
#[derive(Debug, Clone)]
pub struct Jitter {
    rng: Arc<Mutex<fastrand::Rng>>,
}

impl Default for Jitter {
    /// Seeded from the OS (non-repeatable).
    fn default() -> Self {
        Self {
            rng: Arc::new(Mutex::new(fastrand::Rng::new())),
        }
    }
}

impl Jitter {
    /// A repeatable source: the same seed gives the same sequence.
    pub fn seeded(seed: u64) -> Self {
        Self {
            rng: Arc::new(Mutex::new(fastrand::Rng::with_seed(seed))),
        }
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&self) -> f64 {
        self.rng.lock().unwrap_or_else(|e| e.into_inner()).f64()
    }

    /// `base_ms` spread by `±ratio` (e.g. `0.2` → 80%..120%), never below 0.
    pub fn spread(&self, base_ms: i64, ratio: f64) -> i64 {
        if base_ms <= 0 || ratio <= 0.0 {
            return base_ms.max(0);
        }
        let factor = 1.0 + ratio * (2.0 * self.unit() - 1.0);
        ((base_ms as f64) * factor).round().max(0.0) as i64
    }

    /// A uniform integer in `[0, max_ms]`.
    pub fn up_to(&self, max_ms: i64) -> i64 {
        if max_ms <= 0 {
            return 0;
        }
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .i64(0..=max_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_repeatable_and_bounded() {
        let a = Jitter::seeded(42);
        let b = Jitter::seeded(42);
        for _ in 0..100 {
            let x = a.spread(1_000, 0.2);
            assert_eq!(x, b.spread(1_000, 0.2));
            assert!((800..=1_200).contains(&x));
            let y = a.up_to(50);
            assert_eq!(y, b.up_to(50));
            assert!((0..=50).contains(&y));
        }
        assert_eq!(a.spread(0, 0.5), 0);
        assert_eq!(a.spread(100, 0.0), 100);
    }
}
