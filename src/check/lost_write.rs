//! `lost-write`: acknowledged records that the cluster does not have, or did not deliver.
//!
//! **Definition.** For every record `r` whose produce was acknowledged with an offset `o` of
//! partition `p` (that is, `acks=1` or `acks=all`; under `acks=0` there is no offset and nothing is
//! promised):
//!
//! 1. *Kept*: unless `o` is below the final log start offset of `p` (deleted by retention, which is
//!    not a loss), the final committed log of `p` (the records below its high watermark at the
//!    end of the run) holds `r` at offset `o`. Otherwise `r` was lost: the report says what stands
//!    at `o` instead, if anything.
//! 2. *Delivered*: every standalone (`assign()`) consumer that started reading `p` at or below `o`
//!    (its first position on `p`) and read past `o` (it was handed a record of `p` at an offset greater than `o`) was
//!    at some point handed `r` at `o`. Otherwise `r` was lost to that consumer. Offsets below the
//!    final log start offset are exempt here too: retention may have deleted them before the
//!    consumer came. Members of a group share their partitions, so for them delivery is judged per
//!    group, by `group-isolation`.
//!
//! The `acks` level of each lost record is reported: under `acks=1` Kafka documents the loss as
//! possible, under `acks=all` it is a broken guarantee. A scenario that expects `lost-write`
//! passes when at least one violation is found.

use std::collections::{BTreeMap, BTreeSet};

use super::{CheckInput, Violation};
use crate::model::protocol::Acks;
use crate::model::{NodeId, Observation, Offset, RecordId, TopicPartition};

pub const NAME: &str = "lost-write";

struct Ack {
    seq: u64,
    record: RecordId,
    partition: TopicPartition,
    offset: Offset,
    acks: Acks,
}

/// What one consumer was handed from one partition.
#[derive(Default)]
struct Reads {
    /// Every (offset, record) it was handed, with the seq of the first poll that did.
    seen: BTreeMap<(Offset, RecordId), u64>,
    highest: Option<Offset>,
    /// Where it first started reading.
    first_position: Option<Offset>,
}

pub fn check(input: &CheckInput<'_>) -> Vec<Violation> {
    let mut acks = Vec::new();
    let mut reads: BTreeMap<(NodeId, TopicPartition), Reads> = BTreeMap::new();
    let group_members: BTreeSet<NodeId> =
        input.history.iter().filter(|h| matches!(h.obs, Observation::Assigned { .. })).map(|h| h.node).collect();
    for entry in input.history {
        if group_members.contains(&entry.node) {
            continue;
        }
        match &entry.obs {
            Observation::ProduceAcked { record, partition, offset: Some(offset), acks: level } => acks.push(Ack {
                seq: entry.seq,
                record: *record,
                partition: partition.clone(),
                offset: *offset,
                acks: *level,
            }),
            Observation::PositionSet { partition, offset, .. } => {
                let r = reads.entry((entry.node, partition.clone())).or_default();
                r.first_position.get_or_insert(*offset);
            }
            Observation::Polled { partition, records, .. } => {
                let r = reads.entry((entry.node, partition.clone())).or_default();
                for (offset, id) in records {
                    r.seen.entry((*offset, *id)).or_insert(entry.seq);
                    r.highest = Some(r.highest.map_or(*offset, |h| h.max(*offset)));
                }
            }
            _ => {}
        }
    }
    let mut violations = Vec::new();
    let mut reported: BTreeSet<RecordId> = BTreeSet::new();
    for ack in &acks {
        if let Some(v) = check_kept(input, ack) {
            reported.insert(ack.record);
            violations.push(v);
        }
    }
    for ack in &acks {
        if reported.contains(&ack.record) {
            continue; // already reported as missing from the log
        }
        let log_start = input.final_logs.get(&ack.partition).map_or(Offset(0), |l| l.log_start_offset);
        if ack.offset < log_start {
            continue;
        }
        for ((node, partition), r) in &reads {
            if *partition != ack.partition || r.highest.is_none_or(|h| h <= ack.offset) {
                continue;
            }
            if r.first_position.is_some_and(|start| start > ack.offset) {
                continue; // it started after this offset: it never owed this record
            }
            if !r.seen.contains_key(&(ack.offset, ack.record)) {
                let (who, rec, p, o, level) = (input.name(*node), ack.record, &ack.partition, ack.offset, ack.acks);
                let past = r.seen.range((ack.offset.next(), RecordId { producer: 0, seq: 0 })..).next().map(|(_, s)| *s);
                violations.push(Violation {
                    kind: NAME.into(),
                    summary: format!(
                        "record {rec} acknowledged at {p} offset {o} (acks={level}) was never delivered to {who}, which read past it"
                    ),
                    evidence: [Some(ack.seq), past].into_iter().flatten().collect(),
                });
            }
        }
    }
    violations
}

fn check_kept(input: &CheckInput<'_>, ack: &Ack) -> Option<Violation> {
    let log = input.final_logs.get(&ack.partition);
    if log.is_some_and(|l| ack.offset < l.log_start_offset) {
        return None; // removed by retention, not lost
    }
    let found = log.and_then(|l| l.records.get(&ack.offset)).copied();
    if found == Some(ack.record) {
        return None;
    }
    let instead = match (found, log) {
        (Some(other), _) => format!("offset {} now holds {other}", ack.offset),
        (None, Some(l)) => format!("the committed log now ends at offset {}", l.high_watermark),
        (None, None) => "the partition has no log".into(),
    };
    let after: Vec<&super::FaultRecord> = input.faults.iter().filter(|f| f.seq > ack.seq).collect();
    let mut cause = match after.first() {
        Some(f) => format!("; faults after the ack: {} (seq {})", after.iter().map(|f| f.label.as_str()).collect::<Vec<_>>().join(", "), f.seq),
        None => String::new(),
    };
    // The first truncation and the first election after the ack: where the record went.
    let mut evidence: Vec<u64> = std::iter::once(ack.seq).chain(after.iter().map(|f| f.seq)).collect();
    for prefix in ["broker.truncate.", "controller.election."] {
        if let Some((seq, node, name)) = input.marks.iter().find(|(seq, _, name)| *seq > ack.seq && name.starts_with(prefix)) {
            cause.push_str(&format!("; then {} at {} (seq {seq})", name.trim_start_matches("broker.").trim_start_matches("controller."), input.name(*node)));
            evidence.push(*seq);
        }
    }
    evidence.sort_unstable();
    Some(Violation {
        kind: NAME.into(),
        summary: format!(
            "record {} acknowledged at {} offset {} (acks={}) is missing: {instead}{cause}",
            ack.record, ack.partition, ack.offset, ack.acks
        ),
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{FaultRecord, FinalLog};
    use crate::engine::HistoryEntry;
    use crate::model::SimTime;

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }
    fn rid(seq: u32) -> RecordId {
        RecordId { producer: 0, seq }
    }
    fn acked(seq: u64, r: u32, o: i64) -> HistoryEntry<Observation> {
        HistoryEntry {
            seq,
            at: SimTime(seq),
            node: NodeId(1),
            obs: Observation::ProduceAcked { record: rid(r), partition: tp(), offset: Some(Offset(o)), acks: Acks::Leader },
        }
    }
    fn polled(seq: u64, recs: &[(i64, u32)]) -> HistoryEntry<Observation> {
        HistoryEntry {
            seq,
            at: SimTime(seq),
            node: NodeId(2),
            obs: Observation::Polled {
                partition: tp(),
                records: recs.iter().map(|(o, r)| (Offset(*o), rid(*r))).collect(),
                high_watermark: Offset(9),
            },
        }
    }
    fn log(recs: &[(i64, u32)]) -> BTreeMap<TopicPartition, FinalLog> {
        let records: BTreeMap<Offset, RecordId> = recs.iter().map(|(o, r)| (Offset(*o), rid(*r))).collect();
        let hw = Offset(recs.len() as i64);
        BTreeMap::from([(tp(), FinalLog { log_start_offset: Offset(0), high_watermark: hw, records })])
    }
    fn run(history: &[HistoryEntry<Observation>], logs: &BTreeMap<TopicPartition, FinalLog>) -> Vec<Violation> {
        let names = vec!["b0".to_string(), "p1".into(), "c1".into()];
        let faults = vec![FaultRecord { seq: 5, at: SimTime(5), label: "crash b0".into() }];
        check(&CheckInput { history, final_logs: logs, faults: &faults, marks: &[], node_names: &names, subscriptions: &BTreeMap::new() })
    }

    #[test]
    fn kept_and_delivered_is_fine() {
        let h = vec![acked(1, 0, 0), acked(2, 1, 1), polled(3, &[(0, 0), (1, 1)])];
        assert!(run(&h, &log(&[(0, 0), (1, 1)])).is_empty());
    }

    #[test]
    fn an_overwritten_offset_is_a_lost_write() {
        let h = vec![acked(1, 0, 0), acked(2, 1, 1), acked(7, 2, 1)];
        let v = run(&h, &log(&[(0, 0), (1, 2)]));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, "lost-write");
        assert!(v[0].summary.contains("p0#1"), "{}", v[0].summary);
        assert!(v[0].summary.contains("offset 1 now holds p0#2"), "{}", v[0].summary);
        assert_eq!(v[0].evidence, vec![2, 5]);
    }

    #[test]
    fn a_consumer_that_skipped_an_acked_record_is_a_lost_write() {
        let h = vec![acked(1, 0, 0), acked(2, 1, 1), acked(3, 2, 2), polled(4, &[(0, 0), (2, 2)])];
        let v = run(&h, &log(&[(0, 0), (1, 1), (2, 2)]));
        assert_eq!(v.len(), 1);
        assert!(v[0].summary.contains("never delivered to c1"), "{}", v[0].summary);
    }

    #[test]
    fn a_consumer_that_stopped_before_the_offset_owes_nothing() {
        let h = vec![acked(1, 0, 0), acked(2, 1, 1), polled(4, &[(0, 0)])];
        assert!(run(&h, &log(&[(0, 0), (1, 1)])).is_empty());
    }

    #[test]
    fn a_consumer_that_started_later_owes_nothing_before_its_start() {
        let mut h = vec![acked(1, 0, 0), acked(2, 1, 1)];
        h.push(HistoryEntry {
            seq: 3,
            at: SimTime(3),
            node: NodeId(2),
            obs: Observation::PositionSet { partition: tp(), offset: Offset(1), reason: crate::model::observe::PositionReason::Start },
        });
        h.push(polled(4, &[(1, 1)]));
        assert!(run(&h, &log(&[(0, 0), (1, 1)])).is_empty());
    }

    #[test]
    fn retention_is_not_loss() {
        let h = vec![acked(1, 0, 0), acked(2, 1, 1)];
        let mut logs = log(&[(0, 0), (1, 1)]);
        let l = logs.get_mut(&tp()).unwrap();
        l.log_start_offset = Offset(1);
        l.records.remove(&Offset(0));
        assert!(run(&h, &logs).is_empty());
    }
}
