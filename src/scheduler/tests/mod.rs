//! Scheduler tests on paused time.
