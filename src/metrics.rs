//! `engine.metrics()`: Prometheus metrics in the OpenMetrics text format (what Prometheus
//! scrapes; serve it with `Content-Type: application/openmetrics-text; version=1.0.0;
//! charset=utf-8`). Counters and the resume-lag histogram are fed from the engine's event
//! stream ([`Metrics::tap`]); the parked-entry gauges are read from the queue when rendered.
//! Every name starts with `retry_engine_`; label values have bounded cardinality (reasons,
//! statuses, outcomes, probe groups and breaker key classes, the latter two capped at
//! [`MAX_LABEL_VALUES`] distinct values, the rest counted under `other`).

use crate::clock::SharedClock;
use crate::events::{Event, EventSink};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Most distinct values of an open-ended label (`group`, `key_class`); later ones are `other`.
pub const MAX_LABEL_VALUES: usize = 64;

/// Most parked sessions whose due time is remembered for the lag histogram (sessions removed
/// without an event, e.g. by `unpark`, are forgotten only when this many are tracked).
const MAX_TRACKED_DUE: usize = 200_000;

/// Buckets of `retry_engine_resume_lag_seconds`: 100 ms to a day.
const LAG_BUCKETS: [f64; 12] = [
    0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 43200.0, 86400.0,
];

/// Every status a parked entry can have (each gets a gauge sample, 0 included).
pub const PARKED_STATUSES: [&str; 4] = ["parked", "probing", "released", "awaiting_result"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProbeLabels {
    group: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreakerLabels {
    state: String,
    key_class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CooldownLabels {
    reason: String,
    disabled: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TerminalLabel {
    terminal: String,
}

/// Caps the distinct values of one label.
#[derive(Debug, Default)]
struct Bounded(HashSet<String>);

impl Bounded {
    fn label(&mut self, value: &str) -> String {
        if self.0.contains(value) {
            return value.to_string();
        }
        if self.0.len() < MAX_LABEL_VALUES {
            self.0.insert(value.to_string());
            return value.to_string();
        }
        "other".to_string()
    }
}

/// The class of a breaker key: its part before the first `:` (`cron:nightly` → `cron`),
/// `other` when it has none.
pub fn key_class(key: &str) -> &str {
    match key.split_once(':') {
        Some((class, _)) if !class.is_empty() => class,
        _ => "other",
    }
}

/// What the resume-lag histogram needs to remember between events.
#[derive(Debug, Default)]
struct Memory {
    /// Due time (epoch ms) of each parked session, from its last `parked` event (keys come
    /// from callers: a map seeded on its own, foldhash).
    due: HashMap<String, i64, foldhash::quality::RandomState>,
    groups: Bounded,
    key_classes: Bounded,
}

/// The engine's metrics. Cheap to update from any thread.
pub struct Metrics {
    registry: Registry,
    parks: Family<ReasonLabel, Counter>,
    rejected: Family<CodeLabel, Counter>,
    resends: Family<KindLabel, Counter>,
    resend_failures: Counter,
    probes: Family<ProbeLabels, Counter>,
    resolved: Counter,
    abandoned: Family<ReasonLabel, Counter>,
    breaker_transitions: Family<BreakerLabels, Counter>,
    alerts: Family<ReasonLabel, Counter>,
    profile_cooldowns: Family<CooldownLabels, Counter>,
    gateway_connects: Counter,
    gateway_disconnects: Family<TerminalLabel, Counter>,
    parked_entries: Family<StatusLabel, Gauge>,
    resume_lag: Histogram,
    memory: Mutex<Memory>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("retry_engine");
        let m = Self {
            parks: Family::default(),
            rejected: Family::default(),
            resends: Family::default(),
            resend_failures: Counter::default(),
            probes: Family::default(),
            resolved: Counter::default(),
            abandoned: Family::default(),
            breaker_transitions: Family::default(),
            alerts: Family::default(),
            profile_cooldowns: Family::default(),
            gateway_connects: Counter::default(),
            gateway_disconnects: Family::default(),
            parked_entries: Family::default(),
            resume_lag: Histogram::new(LAG_BUCKETS),
            memory: Mutex::new(Memory::default()),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "parks",
            "Sessions parked or re-parked, by failure reason",
            m.parks.clone(),
        );
        r.register(
            "rejected_parks",
            "Parks refused, by code",
            m.rejected.clone(),
        );
        r.register(
            "resends",
            "Resends of parked sessions, by kind (probe or release)",
            m.resends.clone(),
        );
        r.register(
            "resend_failures",
            "Resends that failed",
            m.resend_failures.clone(),
        );
        r.register(
            "probes",
            "Finished probes, by probe group and outcome (ok or failed)",
            m.probes.clone(),
        );
        r.register(
            "resolved",
            "Parked sessions that completed and left the queue",
            m.resolved.clone(),
        );
        r.register(
            "abandoned",
            "Sessions given up after too many attempts, by reason",
            m.abandoned.clone(),
        );
        r.register(
            "breaker_transitions",
            "Circuit breaker transitions, by new state and key class (key part before ':')",
            m.breaker_transitions.clone(),
        );
        r.register(
            "alerts",
            "Alerts raised (once per window), by reason",
            m.alerts.clone(),
        );
        r.register(
            "profile_cooldowns",
            "Auth profiles cooled down or disabled, by reason",
            m.profile_cooldowns.clone(),
        );
        r.register(
            "gateway_connects",
            "Gateway connections established",
            m.gateway_connects.clone(),
        );
        r.register(
            "gateway_disconnects",
            "Gateway connections lost, by whether the client gave up",
            m.gateway_disconnects.clone(),
        );
        r.register(
            "parked_entries",
            "Parked sessions now, by status",
            m.parked_entries.clone(),
        );
        r.register_with_unit(
            "resume_lag",
            "Time from a parked session's due time (set by its last park) to its resend",
            Unit::Seconds,
            m.resume_lag.clone(),
        );
        Self { registry, ..m }
    }

    /// A sink that records `event` here (at `clock`'s now), then passes it on to `next`.
    pub fn tap(self: &Arc<Self>, next: EventSink, clock: SharedClock) -> EventSink {
        let me = self.clone();
        Arc::new(move |event: Event| {
            me.record(&event, clock.now_ms());
            next(event)
        })
    }

    /// Count one event that happened at `now_ms`.
    pub fn record(&self, event: &Event, now_ms: i64) {
        let mut mem = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Parked {
                session_key,
                reason,
                retry_at_ms,
                ..
            } => {
                self.parks.get_or_create(&reason_label(reason)).inc();
                if mem.due.len() >= MAX_TRACKED_DUE && !mem.due.contains_key(session_key) {
                    mem.due.clear();
                }
                mem.due.insert(session_key.clone(), *retry_at_ms);
            }
            Event::Rejected { code, .. } => {
                self.rejected
                    .get_or_create(&CodeLabel { code: code.clone() })
                    .inc();
            }
            Event::Resent {
                session_key, probe, ..
            } => {
                let kind = if *probe { "probe" } else { "release" };
                self.resends
                    .get_or_create(&KindLabel { kind: kind.into() })
                    .inc();
                if let Some(due) = mem.due.remove(session_key) {
                    self.resume_lag
                        .observe((now_ms - due).max(0) as f64 / 1000.0);
                }
            }
            Event::ResendFailed { .. } => {
                self.resend_failures.inc();
            }
            Event::ProbeOk { group, .. } | Event::ProbeFailed { group, .. } => {
                let outcome = if matches!(event, Event::ProbeOk { .. }) {
                    "ok"
                } else {
                    "failed"
                };
                let group = mem.groups.label(group);
                self.probes
                    .get_or_create(&ProbeLabels {
                        group,
                        outcome: outcome.into(),
                    })
                    .inc();
            }
            Event::Resolved { session_key } => {
                self.resolved.inc();
                mem.due.remove(session_key);
            }
            Event::Abandoned {
                session_key,
                reason,
                ..
            } => {
                self.abandoned.get_or_create(&reason_label(reason)).inc();
                mem.due.remove(session_key);
            }
            Event::BreakerOpened { key, .. } => self.breaker(&mut mem, "open", key),
            Event::BreakerHalfOpen { key } => self.breaker(&mut mem, "half_open", key),
            Event::BreakerClosed { key } => self.breaker(&mut mem, "closed", key),
            Event::Alert { reason, .. } => {
                self.alerts.get_or_create(&reason_label(reason)).inc();
            }
            Event::ProfileCooldown {
                reason, disabled, ..
            } => {
                self.profile_cooldowns
                    .get_or_create(&CooldownLabels {
                        reason: reason.to_string(),
                        disabled: disabled.to_string(),
                    })
                    .inc();
            }
            Event::GatewayConnected { .. } => {
                self.gateway_connects.inc();
            }
            Event::GatewayDisconnected { terminal, .. } => {
                self.gateway_disconnects
                    .get_or_create(&TerminalLabel {
                        terminal: terminal.to_string(),
                    })
                    .inc();
            }
            _ => {}
        }
    }

    fn breaker(&self, mem: &mut Memory, state: &str, key: &str) {
        let key_class = mem.key_classes.label(key_class(key));
        self.breaker_transitions
            .get_or_create(&BreakerLabels {
                state: state.into(),
                key_class,
            })
            .inc();
    }

    /// The exposition, with the parked-entry gauges set from `by_status` (missing statuses
    /// are 0).
    pub fn render(&self, by_status: &BTreeMap<String, usize>) -> String {
        for status in PARKED_STATUSES {
            let n = by_status.get(status).copied().unwrap_or(0);
            self.parked_entries
                .get_or_create(&StatusLabel {
                    status: status.into(),
                })
                .set(n as i64);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

fn reason_label(reason: &crate::reason::Reason) -> ReasonLabel {
    ReasonLabel {
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn counts_events_and_measures_resume_lag() {
        let m = Metrics::new();
        m.record(
            &Event::Parked {
                session_key: "s1".into(),
                reason: Reason::Quota,
                attempts: 1,
                retry_at_ms: 10_000,
            },
            1_000,
        );
        m.record(
            &Event::Resent {
                session_key: "s1".into(),
                attempts: 2,
                probe: true,
            },
            12_500,
        );
        m.record(
            &Event::ProbeOk {
                session_key: "s1".into(),
                group: "openai".into(),
                released: 0,
            },
            12_600,
        );
        m.record(
            &Event::BreakerOpened {
                key: "cron:a".into(),
                failures: 5,
                half_open_at_ms: 0,
            },
            0,
        );
        m.record(
            &Event::BreakerClosed {
                key: "plain".into(),
            },
            0,
        );
        let mut by_status = BTreeMap::new();
        by_status.insert("parked".to_string(), 3);
        let text = m.render(&by_status);
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("# TYPE retry_engine_parks counter"), "{text}");
        assert!(
            text.contains("retry_engine_parks_total{reason=\"quota\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("retry_engine_resends_total{kind=\"probe\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("retry_engine_probes_total{group=\"openai\",outcome=\"ok\"} 1"),
            "{text}"
        );
        assert!(text.contains(
            "retry_engine_breaker_transitions_total{state=\"open\",key_class=\"cron\"} 1"
        ));
        assert!(text.contains(
            "retry_engine_breaker_transitions_total{state=\"closed\",key_class=\"other\"} 1"
        ));
        assert!(
            text.contains("retry_engine_parked_entries{status=\"parked\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("retry_engine_parked_entries{status=\"probing\"} 0"),
            "{text}"
        );
        // 2.5 s late: in the 5 s bucket, not in the 1 s one.
        assert!(
            text.contains("# TYPE retry_engine_resume_lag_seconds histogram"),
            "{text}"
        );
        assert_eq!(
            line(&text, "retry_engine_resume_lag_seconds_sum"),
            Some("retry_engine_resume_lag_seconds_sum 2.5")
        );
        assert!(
            text.contains("retry_engine_resume_lag_seconds_bucket{le=\"1.0\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("retry_engine_resume_lag_seconds_bucket{le=\"5.0\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("retry_engine_resend_failures_total 0"),
            "{text}"
        );
    }

    #[test]
    fn open_ended_labels_are_capped() {
        let m = Metrics::new();
        for i in 0..(MAX_LABEL_VALUES + 10) {
            m.record(
                &Event::ProbeFailed {
                    session_key: "s".into(),
                    group: format!("g{i}"),
                    reparked: 1,
                    retry_at_ms: 0,
                },
                0,
            );
        }
        let text = m.render(&BTreeMap::new());
        let groups = text
            .lines()
            .filter(|l| l.starts_with("retry_engine_probes_total{"))
            .count();
        assert_eq!(groups, MAX_LABEL_VALUES + 1);
        assert!(text.contains("retry_engine_probes_total{group=\"other\",outcome=\"failed\"} 10"));
        assert_eq!(key_class("agent:main:x"), "agent");
        assert_eq!(key_class(":x"), "other");
    }
}
