//! [`ReleasePace`]: the adaptive release rate of one provider/budget group (AIMD).
//!
//! After a good probe the first `max_concurrent` releases start at once; the rest are spaced
//! `1000 / rate` ms apart. Every accepted resend raises the rate by `1 / rate` per second
//! (about +1/s for each second of sending: additive increase); a failed released resend (a
//! 429) halves it (multiplicative decrease), never below [`MIN_RATE_PER_S`]. So the rate
//! settles just under what the provider accepts instead of a fixed spread.

/// Releases per second a group starts with after its first good probe. Default 10.
pub const INITIAL_RATE_PER_S: f64 = 10.0;
/// The rate never drops below this (per second).
pub const MIN_RATE_PER_S: f64 = 0.5;
/// The rate never grows above this (per second).
pub const MAX_RATE_PER_S: f64 = 10_000.0;

/// The pace of one group's releases.
#[derive(Debug, Clone)]
pub struct ReleasePace {
    rate_per_s: f64,
    burst_left: usize,
    next_slot_ms: i64,
}

impl Default for ReleasePace {
    fn default() -> Self {
        Self {
            rate_per_s: INITIAL_RATE_PER_S,
            burst_left: 0,
            next_slot_ms: i64::MIN,
        }
    }
}

impl ReleasePace {
    /// The current rate (releases per second).
    pub fn rate_per_s(&self) -> f64 {
        self.rate_per_s
    }

    /// A probe just succeeded: the next `burst` releases start at once.
    pub fn probe_ok(&mut self, burst: usize, now_ms: i64) {
        self.burst_left = burst;
        self.next_slot_ms = now_ms + self.interval_ms();
    }

    fn interval_ms(&self) -> i64 {
        (1_000.0 / self.rate_per_s).ceil() as i64
    }

    /// Start a release now if the pace allows it (`Ok`), else `Err(when it may)`. Slots are
    /// taken when a send starts, so a rate change applies to every release not yet started.
    pub fn try_start(&mut self, now_ms: i64) -> Result<(), i64> {
        if self.burst_left > 0 {
            self.burst_left -= 1;
            return Ok(());
        }
        if self.next_slot_ms > now_ms {
            return Err(self.next_slot_ms);
        }
        self.next_slot_ms = now_ms + self.interval_ms();
        Ok(())
    }

    /// The earliest time [`ReleasePace::try_start`] can succeed.
    pub fn ready_at_ms(&self) -> i64 {
        if self.burst_left > 0 {
            i64::MIN
        } else {
            self.next_slot_ms
        }
    }

    /// A released resend was accepted: additive increase.
    pub fn accepted(&mut self) {
        self.rate_per_s = (self.rate_per_s + 1.0 / self.rate_per_s).min(MAX_RATE_PER_S);
    }

    /// A released resend was refused (rate limited): multiplicative decrease; the slots
    /// reserved so far are given up (the rest of the group goes back to the hint).
    pub fn refused(&mut self, now_ms: i64) {
        self.rate_per_s = (self.rate_per_s / 2.0).max(MIN_RATE_PER_S);
        self.burst_left = 0;
        self.next_slot_ms = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_spaced_slots_that_adapt() {
        let mut p = ReleasePace::default();
        p.probe_ok(3, 1_000);
        let tries: Vec<_> = (0..5).map(|_| p.try_start(1_000)).collect();
        assert_eq!(tries, [Ok(()), Ok(()), Ok(()), Err(1_100), Err(1_100)]);
        assert_eq!(p.try_start(1_100), Ok(()));
        for _ in 0..100 {
            p.accepted();
        }
        assert!(
            p.rate_per_s() > 15.0 && p.rate_per_s() < 20.0,
            "{}",
            p.rate_per_s()
        );
        let before = p.rate_per_s();
        p.refused(5_000);
        assert!((p.rate_per_s() - before / 2.0).abs() < 1e-9);
        assert_eq!(p.try_start(5_000), Ok(()));
        for _ in 0..20 {
            p.refused(5_000);
        }
        assert_eq!(p.rate_per_s(), MIN_RATE_PER_S);
    }
}
