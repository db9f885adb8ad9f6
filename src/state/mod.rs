//! The state seam: everything the engine keeps between calls and across restarts, behind
//! small traits (in the spirit of tower's `Policy`/`Budget` and the `object_store` crate), one
//! type per concept end to end, and backends that all pass one shared test suite.
//!
//! | what | type | trait | stays local? |
//! |---|---|---|---|
//! | parked sessions | [`ParkedEntry`] / [`EntryStatus`] | [`ParkedQueue`] | yes: each engine's own durable journal |
//! | policy, breaker and guard state per key | [`DecisionState`] / [`DecisionChange`] | [`DecisionStore`] | no: shareable |
//! | auth-profile usage | [`ProfileUsage`] | [`ProfileUsageStore`] | no: shareable |
//! | leases (e.g. one probe per group) | — | [`LeaseStore`] | no: shareable |
//! | who probes a group, what the fleet learned of its window | [`coordination::GroupOutcome`] | [`coordination::Coordinator`] | no: shared through [`redis`] |
//!
//! Backends: [`file`] (the embedded default: one local state directory, fsync'd journals and
//! snapshots, lock files for several processes) and [`memory`] (tests, hosts without a disk).
//! A shared backend (several gateways on one provider account) implements the coordination
//! traits — decisions, profile usage, leases — while the parked queue stays in the local file
//! backend; the scheduler and the policy code never change per backend. [`redis`] is that
//! shared backend ([`StateConfig`], option `state.redis`).

mod config;
pub mod coordination;
pub mod decisions;
mod entry;
pub mod file;
pub mod lease;
pub mod memory;
pub mod parked;
pub mod profiles;
mod recovery;
pub mod redis;
pub mod write_hold;

#[cfg(test)]
pub(crate) mod conformance;

pub use config::StateConfig;
pub use decisions::{
    DecisionChange, DecisionRecord, DecisionState, DecisionStore, DecisionTable, LoadedDecisions,
};
pub use entry::{sort_entries, EntryStatus, ParkedEntry, QueueOp};
pub use lease::{LeaseStore, RESENDER_LEASE};
pub use parked::{ParkedQueue, QueueChange, Submitted};
pub use profiles::{ProfileUsage, ProfileUsageStore};
pub use recovery::{ImportReport, OpenReport, RecoveryReport};
pub use write_hold::WriteHold;
