//! [`RedisCoordinator`]: the fleet's probe leases and group outcomes in Redis.
//!
//! - `claim_probe` runs the `CLAIM` script: an outcome that is news wins, else `SET NX PX`
//!   takes the lease. A lease this engine holds is renewed every third of its TTL until
//!   `finish_probe`, so a holder that dies (kill -9) is replaced within one TTL.
//! - `finish_probe` runs `FINISH`: record, give the lease back, `PUBLISH`.
//! - A background task keeps a pub/sub subscription to the outcomes channel and hands other
//!   engines' messages to the listener; while Redis is unreachable it retries every `poll_ms`.
//! - Any failed or slow call (over `timeout_ms`) makes the engine decide locally
//!   ([`ProbeClaim::Mine`]) and report `state_degraded`; outcomes learned meanwhile are published
//!   when Redis answers again (`state-recovered`).
//!
//! Clocks: leases expire inside Redis (`PX`), so who probes never depends on the engines'
//! clocks. Outcome times are the prober's wall clock and are only compared with other wall
//! clock times (when an entry was parked, when a window resets), so a skew of `s` ms between
//! hosts can delay or advance a release by at most `s` ms; keep hosts NTP-synchronised.

use super::config::RedisConfig;
use super::decision_message::{parse_record, table_name, DecisionMessage};
use super::health::Health;
use super::message::{fields, parse, OutcomeMessage};
use super::profiles::RedisProfiles;
use super::scripts::{CLAIM, FINISH, RENEW, SHARE};
use crate::clock::SharedClock;
use crate::error::{EngineError, EngineResult};
use crate::events::EventSink;
use crate::state::coordination::DecisionListener;
use crate::state::coordination::{
    BoxFuture, Coordinator, GroupOutcome, OutcomeListener, ProbeClaim,
};
use crate::state::ProfileUsageStore;
use crate::state::{DecisionChange, DecisionState, DecisionTable};
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The Redis backend of [`Coordinator`]. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct RedisCoordinator {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: RedisConfig,
    /// This engine's id in leases and messages: random per engine instance.
    id: String,
    client: redis::Client,
    conn: ConnectionManager,
    clock: SharedClock,
    health: Arc<Health>,
    listener: Mutex<Option<OutcomeListener>>,
    decision_listener: Mutex<Option<DecisionListener>>,
    renewals: Mutex<HashMap<String, JoinHandle<()>>>,
    subscriber: Mutex<Option<JoinHandle<()>>>,
    /// The runtime `start` ran on (the recovery backlog is sent from there).
    rt: tokio::runtime::Handle,
    /// Decision changes, shared one after the other in the order they were made (so a later
    /// record never loses to an earlier one); sendable from any thread, e.g. the JS thread.
    share_tx: tokio::sync::mpsc::UnboundedSender<DecisionChange>,
}

impl std::fmt::Debug for RedisCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCoordinator")
            .field("cfg", &self.inner.cfg)
            .field("id", &self.inner.id)
            .field("health", &self.inner.health)
            .finish_non_exhaustive()
    }
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RedisCoordinator {
    /// Set up the client and start the subscriber task (call inside a tokio runtime). Does not
    /// wait for Redis: an unreachable Redis only means degraded mode. Fails only on a bad URL.
    pub fn start(cfg: RedisConfig, clock: SharedClock, events: EventSink) -> EngineResult<Self> {
        cfg.validate()?;
        let bad_url = |e: redis::RedisError| {
            EngineError::option("state.redis.url", cfg.scrub(&e.to_string()))
        };
        let client = redis::Client::open(cfg.url.as_str()).map_err(bad_url)?;
        let timeout = Some(Duration::from_millis(cfg.timeout_ms as u64));
        let mcfg = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(cfg.poll_ms as u64));
        let conn =
            ConnectionManager::new_lazy_with_config(client.clone(), mcfg).map_err(bad_url)?;
        let id = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let (share_tx, share_rx) = tokio::sync::mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            cfg,
            id,
            client,
            conn,
            clock,
            health: Arc::new(Health::new(events)),
            listener: Mutex::new(None),
            decision_listener: Mutex::new(None),
            renewals: Mutex::new(HashMap::new()),
            subscriber: Mutex::new(None),
            rt: tokio::runtime::Handle::current(),
            share_tx,
        });
        tokio::spawn(share_loop(Arc::downgrade(&inner), share_rx));
        let task = tokio::spawn(subscribe_loop(Arc::downgrade(&inner)));
        *locked(&inner.subscriber) = Some(task);
        Ok(Self { inner })
    }

    /// This engine's id as written into leases and messages.
    pub fn engine_id(&self) -> &str {
        &self.inner.id
    }

    /// Auth-profile usage in the same Redis, sharing this coordinator's health (one
    /// `state-degraded` per outage); `local` is the fallback while Redis is away.
    pub fn profiles(&self, local: Arc<dyn ProfileUsageStore>) -> RedisProfiles {
        RedisProfiles::new(
            self.inner.cfg.clone(),
            self.inner.client.clone(),
            local,
            self.inner.health.clone(),
            self.inner.clock.clone(),
        )
    }

    /// Whether the last Redis call failed (the engine is deciding locally).
    pub fn is_degraded(&self) -> bool {
        self.inner.health.is_degraded()
    }
}

impl Inner {
    fn key(&self, kind: &str, group: &str) -> String {
        format!("{}{kind}:{group}", self.cfg.key_prefix)
    }

    fn channel(&self) -> String {
        format!("{}outcomes", self.cfg.key_prefix)
    }

    fn decisions_channel(&self) -> String {
        format!("{}decisions", self.cfg.key_prefix)
    }

    fn decisions_key(&self, table: DecisionTable) -> String {
        format!("{}decisions:{}", self.cfg.key_prefix, table_name(table))
    }

    /// Write one decision change and announce it. `false` when Redis could not be reached.
    async fn share(self: &Arc<Self>, change: &DecisionChange) -> bool {
        let message =
            serde_json::to_string(&DecisionMessage::new(&self.id, change)).unwrap_or_default();
        let record = super::decision_message::record_json(&change.record);
        let record = if record.is_null() {
            String::new()
        } else {
            record.to_string()
        };
        let mut conn = self.conn.clone();
        let mut inv = SHARE.prepare_invoke();
        inv.key(self.decisions_key(change.table))
            .arg(&change.key)
            .arg(record)
            .arg(self.cfg.outcome_ttl_ms)
            .arg(self.decisions_channel())
            .arg(message);
        let done: Option<i64> = self.call(inv.invoke_async(&mut conn)).await;
        done.is_some()
    }

    fn deliver_decision(&self, payload: &str) {
        let Ok(msg) = serde_json::from_str::<DecisionMessage>(payload) else {
            return;
        };
        if msg.by == self.id {
            return;
        }
        let Some(change) = msg.into_change() else {
            return;
        };
        let listener = locked(&self.decision_listener).clone();
        if let Some(listener) = listener {
            listener(change);
        }
    }

    /// Run one Redis call with the timeout; track health. `None` when it failed.
    async fn call<T>(
        self: &Arc<Self>,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        let limit = Duration::from_millis(self.cfg.timeout_ms as u64);
        let result = match tokio::time::timeout(limit, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self
                .cfg
                .scrub(&format!("redis {}: {e}", self.cfg.redacted_url()))),
            Err(_) => Err(format!(
                "redis {}: no answer within {} ms",
                self.cfg.redacted_url(),
                self.cfg.timeout_ms
            )),
        };
        let now = self.clock.now_ms();
        match result {
            Ok(v) => {
                self.on_success(now);
                Some(v)
            }
            Err(message) => {
                self.health.failed(message, now);
                None
            }
        }
    }

    /// After a successful call: end a degraded spell by publishing its backlog.
    fn on_success(self: &Arc<Self>, now: i64) {
        if let Some(backlog) = self.health.succeeded(now) {
            let me = self.clone();
            self.rt.spawn(async move {
                let n = backlog.outcomes.len() + backlog.decisions.len();
                for (group, outcome) in backlog.outcomes {
                    me.publish(&group, outcome).await;
                }
                for change in backlog.decisions {
                    let _ = me.share_tx.send(change);
                }
                me.health.recovered(backlog.degraded_ms, n);
            });
        }
    }

    async fn publish(self: &Arc<Self>, group: &str, outcome: GroupOutcome) -> bool {
        let (name, at_ms, retry_at_ms) = fields(outcome);
        let message = serde_json::to_string(&OutcomeMessage::new(&self.id, group, outcome))
            .unwrap_or_default();
        let mut conn = self.conn.clone();
        let mut inv = FINISH.prepare_invoke();
        inv.key(self.key("lease", group))
            .key(self.key("group", group))
            .arg(&self.id)
            .arg(name)
            .arg(at_ms)
            .arg(retry_at_ms)
            .arg(self.cfg.outcome_ttl_ms)
            .arg(self.channel())
            .arg(message);
        let written: Option<i64> = self.call(inv.invoke_async(&mut conn)).await;
        written.is_some()
    }

    fn stop_renewal(&self, group: &str) {
        if let Some(task) = locked(&self.renewals).remove(group) {
            task.abort();
        }
    }

    /// Keep renewing this engine's lease of `group` until it is finished or lost.
    fn start_renewal(self: &Arc<Self>, group: &str) {
        let me = Arc::downgrade(self);
        let key = self.key("lease", group);
        let ttl = self.cfg.lease_ttl_ms;
        let every = Duration::from_millis((ttl / 3).max(1) as u64);
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(me) = me.upgrade() else { return };
                let mut conn = me.conn.clone();
                let mut inv = RENEW.prepare_invoke();
                inv.key(&key).arg(&me.id).arg(ttl);
                let renewed: Option<i64> = me.call(inv.invoke_async(&mut conn)).await;
                if renewed == Some(0) {
                    return; // lost (expired while Redis was away): the probe goes on locally
                }
            }
        });
        if let Some(old) = locked(&self.renewals).insert(group.to_string(), task) {
            old.abort();
        }
    }

    fn deliver(&self, payload: &str) {
        let Ok(msg) = serde_json::from_str::<OutcomeMessage>(payload) else {
            return;
        };
        if msg.by == self.id {
            return;
        }
        let Some(outcome) = msg.outcome() else { return };
        let listener = locked(&self.listener).clone();
        if let Some(listener) = listener {
            listener(&msg.group, outcome);
        }
    }
}

/// Share decision changes in order. While Redis is known to be away they are kept for the
/// recovery backlog instead of each waiting for a timeout.
async fn share_loop(
    weak: std::sync::Weak<Inner>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<DecisionChange>,
) {
    while let Some(change) = rx.recv().await {
        let Some(me) = weak.upgrade() else { return };
        if me.health.is_degraded() || !me.share(&change).await {
            me.health.keep_unshared(change);
        }
    }
}

/// Keep one subscription to the outcomes channel alive; reconnect every `poll_ms` while Redis
/// is away. Ends when the coordinator is dropped or closed.
async fn subscribe_loop(weak: std::sync::Weak<Inner>) {
    loop {
        let Some(me) = weak.upgrade() else { return };
        let poll = Duration::from_millis(me.cfg.poll_ms as u64);
        let (channel, decisions) = (me.channel(), me.decisions_channel());
        let client = me.client.clone();
        let connected = me
            .call(async {
                let mut ps = client.get_async_pubsub().await?;
                ps.subscribe(&[&channel, &decisions]).await?;
                Ok(ps)
            })
            .await;
        drop(me);
        if let Some(mut ps) = connected {
            let mut stream = ps.on_message();
            while let Some(msg) = stream.next().await {
                let Some(me) = weak.upgrade() else { return };
                if let Ok(payload) = msg.get_payload::<String>() {
                    if msg.get_channel_name() == decisions {
                        me.deliver_decision(&payload);
                    } else {
                        me.deliver(&payload);
                    }
                }
            }
            let Some(me) = weak.upgrade() else { return };
            let now = me.clock.now_ms();
            me.health.failed(
                format!("redis {}: subscription closed", me.cfg.redacted_url()),
                now,
            );
        }
        tokio::time::sleep(poll).await;
    }
}

impl Coordinator for RedisCoordinator {
    fn claim_probe(&self, group: &str, since_ms: i64, now_ms: i64) -> BoxFuture<'_, ProbeClaim> {
        let me = self.inner.clone();
        let group = group.to_string();
        Box::pin(async move {
            let mut conn = me.conn.clone();
            let mut inv = CLAIM.prepare_invoke();
            inv.key(me.key("lease", &group))
                .key(me.key("group", &group))
                .arg(&me.id)
                .arg(me.cfg.lease_ttl_ms)
                .arg(since_ms)
                .arg(now_ms);
            let Some(reply) = me.call(inv.invoke_async::<Vec<String>>(&mut conn)).await else {
                return ProbeClaim::Mine; // degraded: decide alone
            };
            let num = |i: usize| {
                reply
                    .get(i)
                    .and_then(|s| s.parse::<i64>().ok())
                    .unwrap_or(0)
            };
            match reply.first().map(String::as_str) {
                Some("known") => {
                    let name = reply.get(1).map(String::as_str).unwrap_or("");
                    match parse(name, num(2), num(3)) {
                        Some(outcome) => ProbeClaim::Known(outcome),
                        None => ProbeClaim::Mine,
                    }
                }
                Some("elsewhere") => {
                    let pttl = num(1).max(0);
                    let wait = pttl.min(me.cfg.poll_ms).max(1);
                    ProbeClaim::Elsewhere {
                        reclaim_at_ms: now_ms + wait,
                    }
                }
                _ => {
                    me.start_renewal(&group);
                    ProbeClaim::Mine
                }
            }
        })
    }

    fn finish_probe(&self, group: &str, outcome: GroupOutcome) -> BoxFuture<'_, ()> {
        let me = self.inner.clone();
        let group = group.to_string();
        Box::pin(async move {
            me.stop_renewal(&group);
            if !me.publish(&group, outcome).await {
                me.health.keep_unpublished(&group, outcome);
            }
        })
    }

    fn listen(&self, listener: OutcomeListener) {
        *locked(&self.inner.listener) = Some(listener);
    }

    fn share_decision(&self, change: DecisionChange) {
        let _ = self.inner.share_tx.send(change);
    }

    fn listen_decisions(&self, listener: DecisionListener) {
        *locked(&self.inner.decision_listener) = Some(listener);
    }

    fn load_decisions(&self) -> BoxFuture<'_, Option<DecisionState>> {
        let me = self.inner.clone();
        Box::pin(async move {
            let mut state = DecisionState::default();
            for table in [
                DecisionTable::Policy,
                DecisionTable::Breaker,
                DecisionTable::Guard,
            ] {
                let mut conn = me.conn.clone();
                let key = me.decisions_key(table);
                let all: HashMap<String, String> = me
                    .call(
                        async move { redis::cmd("HGETALL").arg(key).query_async(&mut conn).await },
                    )
                    .await?;
                for (k, v) in all {
                    let Ok(json) = serde_json::from_str(&v) else {
                        continue;
                    };
                    if let Ok(record) = parse_record(table, json) {
                        state.apply(DecisionChange {
                            table,
                            key: k,
                            record,
                        });
                    }
                }
            }
            Some(state)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        let me = self.inner.clone();
        Box::pin(async move {
            if let Some(task) = locked(&me.subscriber).take() {
                task.abort();
            }
            let groups: Vec<String> = locked(&me.renewals).keys().cloned().collect();
            for g in groups {
                me.stop_renewal(&g);
            }
            *locked(&me.listener) = None;
            *locked(&me.decision_listener) = None;
        })
    }
}
