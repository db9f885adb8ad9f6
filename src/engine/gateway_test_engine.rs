//! Test helper: a started, shared engine that resends through a (fake) gateway.

use super::{Engine, EngineConfig};
use crate::clock::SharedClock;
use crate::events::EventSink;
use crate::scheduler::ProbeConfirm;
use std::path::Path;
use std::sync::Arc;

/// A started engine on `state_dir` (seed 1) resending through the gateway at `url`, its probes
/// confirmed by `confirm`.
pub(crate) async fn start_on_gateway(
    state_dir: &Path,
    url: String,
    confirm: ProbeConfirm,
    clock: SharedClock,
    events: EventSink,
) -> Arc<Engine> {
    let mut cfg = EngineConfig {
        state_dir: state_dir.to_path_buf(),
        seed: Some(1),
        ..EngineConfig::default()
    };
    cfg.gateway.url = url;
    cfg.scheduler.confirm = confirm;
    let engine = Engine::new(cfg, clock, events, None).unwrap().into_shared();
    engine.start().await.unwrap();
    engine
}
