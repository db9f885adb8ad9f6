//! Reconnect delays: capped exponential backoff (1 s ×2 → 30 s) plus jitter, and the clamped
//! startup retry delay the gateway asks for while its sidecars start.

use crate::jitter::Jitter;

/// First reconnect delay (ms).
pub const BACKOFF_BASE_MS: u64 = 1_000;
/// Largest reconnect delay before jitter (ms).
pub const BACKOFF_CAP_MS: u64 = 30_000;
/// Jitter added on top of each backoff step, as a fraction of the step (0.2 → up to +20%).
pub const BACKOFF_JITTER_RATIO: f64 = 0.2;
/// Smallest startup retry delay (ms), as in OpenClaw's own client.
pub const STARTUP_RETRY_MIN_MS: u64 = 100;
/// Largest startup retry delay (ms), as in OpenClaw's own client.
pub const STARTUP_RETRY_MAX_MS: u64 = 2_000;
/// Largest reconnect delay before jitter (ms) after the gateway announced a shutdown: it is
/// most likely restarting (~16-35 s on a small VM), so poll every 2 s instead of backing off
/// towards 30 s and coming back up to 16 s after it is ready.
pub const RESTART_BACKOFF_CAP_MS: u64 = 2_000;
/// Startup retry delay when the gateway gives none (ms).
pub const STARTUP_RETRY_DEFAULT_MS: u64 = 500;

/// Reconnect backoff state for one connect attempt series: 1 s, 2 s, 4 s … capped at 30 s,
/// each plus up to 20% jitter (OpenClaw's client uses the same steps without jitter).
#[derive(Debug, Clone)]
pub struct Backoff {
    next_ms: u64,
    cap_ms: u64,
    jitter: Jitter,
}

impl Backoff {
    /// A fresh schedule starting at [`BACKOFF_BASE_MS`].
    pub fn new(jitter: Jitter) -> Self {
        Self::capped(jitter, BACKOFF_CAP_MS)
    }

    /// A schedule starting at [`BACKOFF_BASE_MS`] (or `cap_ms`, if smaller) that doubles up
    /// to `cap_ms` instead of [`BACKOFF_CAP_MS`].
    pub fn capped(jitter: Jitter, cap_ms: u64) -> Self {
        let cap_ms = cap_ms.max(1);
        Self {
            next_ms: BACKOFF_BASE_MS.min(cap_ms),
            cap_ms,
            jitter,
        }
    }

    /// The next delay (ms), advancing the schedule.
    pub fn next_delay_ms(&mut self) -> u64 {
        let step = self.next_ms;
        self.next_ms = (step * 2).min(self.cap_ms);
        let extra = (step as f64 * BACKOFF_JITTER_RATIO) as i64;
        step + self.jitter.up_to(extra) as u64
    }
}

/// The reconnect schedule of one client, shared by all its connect series: it keeps doubling
/// however a connection fails — refused, timed out, or a handshake that succeeds and a socket
/// that then dies before answering — and is reset only when a request got an answer
/// ([`ReconnectSchedule::healthy`]). Default: the 1 s ×2 → 30 s [`Backoff`].
#[derive(Debug, Clone)]
pub struct ReconnectSchedule {
    backoff: Backoff,
    jitter: Jitter,
    restarting: bool,
    owed: bool,
}

impl ReconnectSchedule {
    /// A fresh schedule (nothing owed, 1 s first step).
    pub fn new(jitter: Jitter) -> Self {
        Self {
            backoff: Backoff::new(jitter.clone()),
            jitter,
            restarting: false,
            owed: false,
        }
    }

    /// A request was answered: the connection is healthy, the schedule starts over.
    pub fn healthy(&mut self) {
        self.backoff = Backoff::new(self.jitter.clone());
        self.restarting = false;
        self.owed = false;
    }

    /// A connection ended (or a request on it was dropped): the next connect waits one step.
    pub fn dropped(&mut self) {
        self.owed = true;
    }

    /// The gateway announced a restart: steps are capped at [`RESTART_BACKOFF_CAP_MS`] until
    /// the next healthy answer (it is likely back within seconds).
    pub fn restart_expected(&mut self) {
        if !self.restarting {
            self.restarting = true;
            self.backoff = Backoff::capped(self.jitter.clone(), RESTART_BACKOFF_CAP_MS);
        }
    }

    /// The wait owed before the next connect attempt, if a connection died since the last
    /// healthy answer (advances the schedule).
    pub fn take_owed_delay_ms(&mut self) -> Option<u64> {
        std::mem::take(&mut self.owed).then(|| self.backoff.next_delay_ms())
    }

    /// The wait after a failed connect attempt (advances the schedule).
    pub fn next_delay_ms(&mut self) -> u64 {
        self.backoff.next_delay_ms()
    }
}

/// The startup retry delay: the gateway's `retryAfterMs` (default 500) clamped to 100..2000 ms.
pub fn startup_retry_delay_ms(retry_after_ms: Option<u64>) -> u64 {
    retry_after_ms
        .unwrap_or(STARTUP_RETRY_DEFAULT_MS)
        .clamp(STARTUP_RETRY_MIN_MS, STARTUP_RETRY_MAX_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_one_second_to_a_thirty_second_cap_plus_bounded_jitter() {
        let mut b = Backoff::new(Jitter::seeded(7));
        let steps = [1_000u64, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000];
        for step in steps {
            let d = b.next_delay_ms();
            assert!(d >= step && d <= step + step / 5, "{d} not in {step}+20%");
        }
    }

    #[test]
    fn a_capped_schedule_stops_doubling_at_its_cap() {
        let mut b = Backoff::capped(Jitter::seeded(7), RESTART_BACKOFF_CAP_MS);
        for step in [1_000u64, 2_000, 2_000, 2_000] {
            let d = b.next_delay_ms();
            assert!(d >= step && d <= step + step / 5, "{d} not in {step}+20%");
        }
    }

    #[test]
    fn jitter_spreads_clients_apart() {
        let a: Vec<u64> = {
            let mut b = Backoff::new(Jitter::seeded(1));
            (0..5).map(|_| b.next_delay_ms()).collect()
        };
        let c: Vec<u64> = {
            let mut b = Backoff::new(Jitter::seeded(2));
            (0..5).map(|_| b.next_delay_ms()).collect()
        };
        assert_ne!(a, c);
    }

    #[test]
    fn the_schedule_survives_connections_that_die_until_an_answer_resets_it() {
        let mut s = ReconnectSchedule::new(Jitter::seeded(5));
        assert_eq!(s.take_owed_delay_ms(), None, "nothing owed at first");
        let mut waits = Vec::new();
        for _ in 0..4 {
            s.dropped();
            waits.push(s.take_owed_delay_ms().unwrap());
        }
        for (d, step) in waits.iter().zip([1_000u64, 2_000, 4_000, 8_000]) {
            assert!(*d >= step && *d <= step + step / 5, "{waits:?}");
        }
        assert_eq!(s.take_owed_delay_ms(), None, "owed once per drop");
        s.healthy();
        s.dropped();
        assert!(
            s.take_owed_delay_ms().unwrap() < 2_000,
            "reset after an answer"
        );
        s.restart_expected();
        for _ in 0..5 {
            assert!(s.next_delay_ms() <= 2_400);
        }
    }

    #[test]
    fn startup_delay_is_clamped() {
        assert_eq!(startup_retry_delay_ms(Some(500)), 500);
        assert_eq!(startup_retry_delay_ms(Some(5)), 100);
        assert_eq!(startup_retry_delay_ms(Some(60_000)), 2_000);
        assert_eq!(startup_retry_delay_ms(None), 500);
    }
}
