//! White-box replica invariants, checked after every step of a broker (reference section F).
//!
//! **Definitions.** For every partition:
//!
//! - `log-matching`: any two replicas hold the same record at every offset below their high
//!   watermarks. Checked incrementally: each replica's records below its HW are compared with the
//!   first record any replica committed at that offset.
//! - `hw-monotonic`: within one life of a broker (between restarts), a replica's high watermark
//!   never goes backwards.
//! - `epoch-monotonic`: within one life of a broker, the leader epoch it knows for a partition
//!   never goes backwards.
//! - `single-leader`: at most one broker ever acts as leader of a partition in one leader epoch.
//! - `read-above-hw` (checked on the history): no consumer is handed a record at or above the
//!   high watermark that came with it.
//!
//! Each violation is reported once per partition and kind, with the trace sequence number of the
//! step that broke it.

use std::collections::{BTreeMap, BTreeSet};

use super::Violation;
use crate::engine::HistoryEntry;
use crate::model::broker::Touched;
use crate::model::{BrokerId, KafkaNode, LeaderEpoch, NodeId, Observation, Offset, RecordId, TopicPartition};

#[derive(Default)]
pub struct ReplicaInvariants {
    /// The first record committed at each offset, and the broker that had it.
    committed: BTreeMap<TopicPartition, BTreeMap<Offset, (RecordId, BrokerId)>>,
    /// What was last seen of each replica, per broker, in the order of the broker's own
    /// partition map, so that the check after every step walks the two side by side instead of
    /// looking each partition up by name.
    replicas: BTreeMap<BrokerId, Vec<(TopicPartition, Seen)>>,
    /// Per partition, the broker that led each leader epoch.
    leaders: BTreeMap<TopicPartition, BTreeMap<LeaderEpoch, BrokerId>>,
    /// The broker epoch of each broker's current life.
    lives: BTreeMap<BrokerId, Option<u64>>,
    reported: BTreeSet<(&'static str, TopicPartition)>,
    violations: Vec<Violation>,
}

/// One replica as last seen in its broker's current life.
#[derive(Default)]
struct Seen {
    hw: Option<Offset>,
    epoch: Option<LeaderEpoch>,
    /// Offsets below this were already compared with the committed records.
    verified: Option<Offset>,
    /// The leader epoch in which this replica's leadership is already entered in `leaders`.
    led: Option<LeaderEpoch>,
}

impl ReplicaInvariants {
    /// Looks at the broker on `node` after it handled a step (`seq` is the next trace sequence
    /// number, so the step's own events are below it).
    pub fn after_step(&mut self, actor: Option<&KafkaNode>, node: NodeId, seq: u64, node_name: &str) {
        let Some(KafkaNode::Broker(broker)) = actor else { return };
        let _ = node;
        let me = broker.id();
        if self.lives.get(&me) != Some(&broker.broker_epoch) {
            // A new life (a restart): what it had before the crash no longer binds it.
            self.lives.insert(me, broker.broker_epoch);
            self.replicas.remove(&me);
        }
        // Only a replica the step may have changed can break an invariant: one left alone has the
        // HW, epoch, leadership and log it had when it was last looked at.
        let touched = broker.partitions.take_touched();
        let mut found: Vec<(&'static str, &TopicPartition, String)> = Vec::new();
        let replicas = self.replicas.entry(me).or_default();
        // Only an added partition (which touches all) or a new life (which starts over) can
        // unalign the two; the walk that proves it is needed only when all were touched.
        let aligned = replicas.len() == broker.partitions.len()
            && (matches!(touched, Touched::Some(_)) || replicas.iter().zip(broker.partitions.keys()).all(|((a, _), b)| a == b));
        let mut looked = Looked { me, node_name, leaders: &mut self.leaders, committed: &mut self.committed, found: &mut found };
        match touched {
            Touched::Some(mut list) if aligned => {
                list.sort_unstable();
                list.dedup();
                for tp in &list {
                    let i = replicas.binary_search_by(|(t, _)| t.cmp(tp)).expect("aligned with the broker's map");
                    let (tp, part) = broker.partitions.get_key_value(tp).expect("aligned with the broker's map");
                    looked.replica(tp, part, &mut replicas[i].1);
                }
            }
            _ => {
                if !aligned {
                    // A partition was added: line the seen replicas up with the broker's map again.
                    let mut old: BTreeMap<TopicPartition, Seen> = std::mem::take(replicas).into_iter().collect();
                    replicas.extend(broker.partitions.keys().map(|tp| (tp.clone(), old.remove(tp).unwrap_or_default())));
                }
                for ((tp, part), (_, seen)) in broker.partitions.iter().zip(replicas.iter_mut()) {
                    looked.replica(tp, part, seen);
                }
            }
        }
        for (kind, tp, summary) in found {
            self.report(kind, tp, seq, summary);
        }
    }

    fn report(&mut self, kind: &'static str, tp: &TopicPartition, seq: u64, summary: String) {
        if self.reported.insert((kind, tp.clone())) {
            self.violations.push(Violation { kind: kind.into(), summary, evidence: vec![seq.saturating_sub(1)] });
        }
    }

    pub fn into_violations(self) -> Vec<Violation> {
        self.violations
    }
}

/// One look at a broker's replicas after a step: what it found so far.
struct Looked<'a, 'b> {
    me: BrokerId,
    node_name: &'a str,
    leaders: &'a mut BTreeMap<TopicPartition, BTreeMap<LeaderEpoch, BrokerId>>,
    committed: &'a mut BTreeMap<TopicPartition, BTreeMap<Offset, (RecordId, BrokerId)>>,
    found: &'a mut Vec<(&'static str, &'b TopicPartition, String)>,
}

impl<'b> Looked<'_, 'b> {
    /// Checks one replica against what was last seen of it.
    fn replica(&mut self, tp: &'b TopicPartition, part: &crate::model::broker::Partition, seen: &mut Seen) {
        let (me, node_name) = (self.me, self.node_name);
        let hw = part.log.high_watermark();
        if let Some(prev) = seen.hw.replace(hw) {
            if hw < prev {
                self.found.push(("hw-monotonic", tp, format!("{tp}: the high watermark on {node_name} went back from {prev} to {hw}")));
            }
        }
        if let Some(state) = &part.state {
            let epoch = state.leader_epoch;
            if let Some(prev) = seen.epoch.replace(epoch) {
                if epoch < prev {
                    self.found.push(("epoch-monotonic", tp, format!("{tp}: the leader epoch on {node_name} went back from {prev} to {epoch}")));
                }
            }
            if part.is_leader(me) && seen.led != Some(epoch) {
                seen.led = Some(epoch);
                if !self.leaders.contains_key(tp) {
                    self.leaders.insert(tp.clone(), BTreeMap::new());
                }
                let by_epoch = self.leaders.get_mut(tp).expect("just inserted");
                let claimed = *by_epoch.entry(epoch).or_insert(me);
                if claimed != me {
                    self.found.push(("single-leader", tp, format!("{tp}: both {claimed} and {me} led in leader epoch {epoch}")));
                }
            }
        }
        if let Some(summary) = match_logs(self.committed, seen, me, tp, part, node_name) {
            self.found.push(("log-matching", tp, summary));
        }
    }
}

/// Compares a replica's records between what was already verified and its high watermark with
/// the first record committed at each offset; the summary of the first mismatch, if any.
fn match_logs(
    committed: &mut BTreeMap<TopicPartition, BTreeMap<Offset, (RecordId, BrokerId)>>,
    seen: &mut Seen,
    me: BrokerId,
    tp: &TopicPartition,
    part: &crate::model::broker::Partition,
    node_name: &str,
) -> Option<String> {
    let hw = part.log.high_watermark();
    let from = seen.verified.unwrap_or(part.log.log_start_offset()).max(part.log.log_start_offset());
    if hw <= from {
        return None;
    }
    if !committed.contains_key(tp) {
        committed.insert(tp.clone(), BTreeMap::new());
    }
    let committed = committed.get_mut(tp).expect("just inserted");
    let mut mismatch = None;
    for (offset, record) in part.log.records_from(from).take_while(|(o, _)| *o < hw) {
        match committed.get(&offset) {
            None => {
                committed.insert(offset, (record.id, me));
            }
            Some((id, other)) if *id != record.id && mismatch.is_none() => mismatch = Some((offset, *id, *other, record.id)),
            Some(_) => {}
        }
    }
    seen.verified = Some(hw);
    mismatch.map(|(offset, theirs, other, ours)| {
        format!("{tp}: below the high watermark, offset {offset} is {ours} on {node_name} but was committed as {theirs} on {other}")
    })
}

/// `read-above-hw`: every record a poll returned lies below the high watermark that came with it.
pub fn check_reads_below_hw(history: &[HistoryEntry<Observation>]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for h in history {
        if let Observation::Polled { partition, records, high_watermark } = &h.obs {
            if let Some((o, r)) = records.iter().find(|(o, _)| o >= high_watermark) {
                if seen.insert(partition.clone()) {
                    out.push(Violation {
                        kind: "read-above-hw".into(),
                        summary: format!("{partition}: record {r} at offset {o} was delivered with high watermark {high_watermark}"),
                        evidence: vec![h.seq],
                    });
                }
            }
        }
    }
    out
}

/// The names of the invariants this module checks.
pub const NAMES: &[&str] = &["log-matching", "hw-monotonic", "epoch-monotonic", "single-leader", "read-above-hw"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::broker::{Broker, BrokerConfig};
    use crate::model::config::{ClusterLayout, TopicConfig};
    use crate::model::metadata::PartitionState;
    use crate::model::protocol::Record;
    use crate::model::{DiskImage, SimTime};

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }

    /// Broker `id` with t-0 holding records `ids` (producer 0), HW `hw`, leader `leader` in `epoch`.
    fn broker(id: i32, ids: &[u32], hw: i64, leader: i32, epoch: i32) -> KafkaNode {
        let mut topic = TopicConfig::new("t", 1);
        topic.replication_factor = 2;
        let layout = ClusterLayout { brokers: vec![(BrokerId(0), NodeId(0)), (BrokerId(1), NodeId(1))], topics: vec![topic], ..ClusterLayout::default() };
        let mut b = Broker::recover(BrokerConfig { broker_id: BrokerId(id), layout }, &DiskImage::default());
        b.broker_epoch = Some(1);
        let part = b.partitions.get_mut(&tp()).unwrap();
        let records = ids.iter().map(|seq| Record { id: RecordId { producer: 0, seq: *seq }, key: None, size: 1, value: None }).collect();
        part.log.append(records, LeaderEpoch(epoch), 0, None);
        part.log.advance_high_watermark(Offset(hw));
        part.state = Some(PartitionState {
            replicas: vec![BrokerId(0), BrokerId(1)],
            isr: vec![BrokerId(0), BrokerId(1)],
            leader: Some(BrokerId(leader)),
            leader_epoch: LeaderEpoch(epoch),
            partition_epoch: 0,
        });
        KafkaNode::Broker(b)
    }

    fn kinds(inv: ReplicaInvariants) -> Vec<String> {
        inv.into_violations().into_iter().map(|v| v.kind).collect()
    }

    #[test]
    fn consistent_replicas_break_nothing() {
        let mut inv = ReplicaInvariants::default();
        inv.after_step(Some(&broker(0, &[1, 2], 2, 0, 0)), NodeId(0), 5, "b0");
        inv.after_step(Some(&broker(1, &[1, 2], 1, 0, 0)), NodeId(1), 6, "b1");
        inv.after_step(Some(&broker(0, &[1, 2, 3], 3, 0, 0)), NodeId(0), 7, "b0");
        assert!(kinds(inv).is_empty());
    }

    #[test]
    fn different_committed_records_break_log_matching() {
        let mut inv = ReplicaInvariants::default();
        inv.after_step(Some(&broker(0, &[1, 2], 2, 0, 0)), NodeId(0), 5, "b0");
        inv.after_step(Some(&broker(1, &[1, 9], 2, 0, 0)), NodeId(1), 6, "b1");
        assert_eq!(kinds(inv), vec!["log-matching"]);
    }

    #[test]
    fn a_high_watermark_going_back_breaks_hw_monotonic() {
        let mut inv = ReplicaInvariants::default();
        inv.after_step(Some(&broker(0, &[1, 2], 2, 0, 0)), NodeId(0), 5, "b0");
        inv.after_step(Some(&broker(0, &[1, 2], 1, 0, 0)), NodeId(0), 6, "b0");
        assert_eq!(kinds(inv), vec!["hw-monotonic"]);
    }

    #[test]
    fn a_leader_epoch_going_back_breaks_epoch_monotonic() {
        let mut inv = ReplicaInvariants::default();
        inv.after_step(Some(&broker(1, &[1], 0, 0, 3)), NodeId(1), 5, "b1");
        inv.after_step(Some(&broker(1, &[1], 0, 0, 2)), NodeId(1), 6, "b1");
        assert_eq!(kinds(inv), vec!["epoch-monotonic"]);
    }

    #[test]
    fn two_leaders_in_one_epoch_break_single_leader() {
        let mut inv = ReplicaInvariants::default();
        inv.after_step(Some(&broker(0, &[1], 0, 0, 4)), NodeId(0), 5, "b0");
        inv.after_step(Some(&broker(1, &[1], 0, 1, 4)), NodeId(1), 6, "b1");
        assert_eq!(kinds(inv), vec!["single-leader"]);
    }

    #[test]
    fn a_record_polled_at_the_high_watermark_is_read_above_hw() {
        let polled = |offsets: &[i64], hw: i64| HistoryEntry {
            seq: 9,
            at: SimTime(9),
            node: NodeId(3),
            obs: Observation::Polled {
                partition: tp(),
                records: offsets.iter().map(|o| (Offset(*o), RecordId { producer: 0, seq: *o as u32 })).collect(),
                high_watermark: Offset(hw),
            },
        };
        assert!(check_reads_below_hw(&[polled(&[0, 1], 2)]).is_empty());
        let v = check_reads_below_hw(&[polled(&[0, 1, 2], 2)]);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, "read-above-hw");
    }
}
