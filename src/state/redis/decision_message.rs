//! Decision records on the wire: the `decisions` channel message and the per-table hash values.

use crate::breaker::BreakerRecord;
use crate::policy::KeyRecord;
use crate::state::{DecisionChange, DecisionRecord, DecisionTable};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{"by", "table", "key", "record"}`; `record` is `null` when the key is gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct DecisionMessage {
    pub by: String,
    pub table: DecisionTable,
    pub key: String,
    pub record: Value,
}

/// The hash name part of a table (`decisions:<name>`).
pub(super) fn table_name(table: DecisionTable) -> &'static str {
    match table {
        DecisionTable::Policy => "policy",
        DecisionTable::Breaker => "breaker",
        DecisionTable::Guard => "guard",
    }
}

/// A record as JSON (`null` for none).
pub(super) fn record_json(record: &Option<DecisionRecord>) -> Value {
    match record {
        Some(DecisionRecord::Policy(r)) => serde_json::to_value(r).unwrap_or(Value::Null),
        Some(DecisionRecord::Breaker(r)) => serde_json::to_value(r).unwrap_or(Value::Null),
        None => Value::Null,
    }
}

/// Read a record of `table` back (the table says which kind it is). `Err` for a record that
/// does not parse (skipped by the caller, never applied half-read).
pub(super) fn parse_record(table: DecisionTable, v: Value) -> Result<Option<DecisionRecord>, ()> {
    if v.is_null() {
        return Ok(None);
    }
    match table {
        DecisionTable::Policy => serde_json::from_value::<KeyRecord>(v)
            .map(|r| Some(DecisionRecord::Policy(r)))
            .map_err(|_| ()),
        DecisionTable::Breaker | DecisionTable::Guard => serde_json::from_value::<BreakerRecord>(v)
            .map(|r| Some(DecisionRecord::Breaker(r)))
            .map_err(|_| ()),
    }
}

impl DecisionMessage {
    pub(super) fn new(by: &str, change: &DecisionChange) -> Self {
        Self {
            by: by.to_string(),
            table: change.table,
            key: change.key.clone(),
            record: record_json(&change.record),
        }
    }

    pub(super) fn into_change(self) -> Option<DecisionChange> {
        let record = parse_record(self.table, self.record).ok()?;
        Some(DecisionChange {
            table: self.table,
            key: self.key,
            record,
        })
    }
}
