//! Checkers: they read what clients observed (the history) and the final state of the cluster,
//! and report violations with the trace sequence numbers that prove them.
//!
//! Each checker's doc comment is its precise definition.

pub mod duplicates;
pub mod durable;
pub mod groups;
pub mod lost_write;
pub mod reads;
pub mod order;
pub mod replica;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::HistoryEntry;
use crate::model::{NodeId, Observation, Offset, RecordId, SimTime, TopicPartition};

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The checker's name, which is also the verdict a scenario can expect (`lost-write`).
    pub kind: String,
    /// One line, in Kafka's words.
    pub summary: String,
    /// Trace sequence numbers of the events that prove it, earliest first.
    pub evidence: Vec<u64>,
}

/// A fault or control action as it happened, for checkers that name what caused a violation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultRecord {
    pub seq: u64,
    pub at: SimTime,
    pub label: String,
}

/// The committed part of one partition's log at the end of the run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FinalLog {
    pub log_start_offset: Offset,
    pub high_watermark: Offset,
    /// Records below the high watermark, by offset.
    pub records: BTreeMap<Offset, RecordId>,
}

/// Everything a checker may read.
pub struct CheckInput<'a> {
    pub history: &'a [HistoryEntry<Observation>],
    pub final_logs: &'a BTreeMap<TopicPartition, FinalLog>,
    pub faults: &'a [FaultRecord],
    /// Coverage marks reached, in order: (trace seq, node, name). Checkers use them to point at
    /// the truncation or election behind a violation.
    pub marks: &'a [(u64, NodeId, &'static str)],
    pub node_names: &'a [String],
    /// The topics each group member subscribes to when the run ends (a member that is down: the
    /// topics it subscribes to when it comes back). A node missing here counts as subscribing to
    /// every topic.
    pub subscriptions: &'a BTreeMap<NodeId, Vec<String>>,
}

impl CheckInput<'_> {
    pub fn name(&self, node: NodeId) -> &str {
        self.node_names.get(node.0 as usize).map_or("?", String::as_str)
    }
}

/// The trace seq of each record's first acknowledgement, for evidence.
pub(crate) fn first_acks(history: &[HistoryEntry<Observation>]) -> BTreeMap<RecordId, u64> {
    let mut acked_at = BTreeMap::new();
    for h in history {
        if let Observation::ProduceAcked { record, .. } = &h.obs {
            acked_at.entry(*record).or_insert(h.seq);
        }
    }
    acked_at
}

/// Runs every checker that reads the history and the final state.
pub fn check_all(input: &CheckInput<'_>) -> Vec<Violation> {
    let mut v = lost_write::check(input);
    v.extend(replica::check_reads_below_hw(input.history));
    v.extend(reads::check(input));
    v.extend(groups::check(input));
    v.extend(durable::check(input));
    v
}

/// Findings that are not violations (at-least-once redelivery by zombies), for the report.
pub fn notes(input: &CheckInput<'_>) -> Vec<Violation> {
    groups::zombie_processing(input)
}

/// The names of every checker, for scenario validation and docs.
pub fn checker_names() -> Vec<&'static str> {
    [lost_write::NAME, groups::EXCLUSIVE_OWNERSHIP, groups::GROUP_ISOLATION, groups::COMMIT_FENCING, groups::COMMIT_AFTER_PROCESS, groups::OFFSET_RESUMPTION, groups::AT_LEAST_ONCE, groups::COOPERATIVE_HANDOFF, groups::COMMITTED_OFFSET_MONOTONIC, groups::EXACTLY_ONCE, duplicates::NAME, durable::NAME, order::NAME, reads::NAME].into_iter().chain(replica::NAMES.iter().copied()).collect()
}
