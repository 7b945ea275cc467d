//! **`committed-offset-durable`** (reference F `CommittedOffsetDurable`, D-16). A committed
//! offset stays the group's committed offset until a later commit replaces it, or until an expiry
//! that KIP-211 documents. Judged on the coordinator-side observations: whenever a coordinator
//! deletes a group's committed offset of partition `p` by `offsets.retention.minutes`
//! (`offsets-expired`), the group then had no members, or none of its members subscribed to
//! `p`'s topic (their JoinGroup metadata). An offset expired while a member subscribes to its
//! topic is a violation: that member, and every member after it, restarts `p` from
//! `auto.offset.reset` (KAFKA-13636: the offsets of a group rejoining after it was Empty expired
//! during the rebalance).
//!
//! The report names the group, the partition, the offset, the group's state and the subscribing
//! members; the evidence is the step that wrote the offset, the expiry, and the first OffsetFetch
//! answer of the group that found no committed offset for the partition afterwards (the
//! consumer-visible effect, which `offset-resumption` judges on its own).

use std::collections::{BTreeMap, BTreeSet};

use super::{CheckInput, Violation};
use crate::model::{Observation, TopicPartition};

pub const NAME: &str = "committed-offset-durable";

/// Whether KIP-211 documents the expiry of a group's offset of `tp`: the group had no members, or
/// none of them subscribed to `tp`'s topic.
pub(crate) fn documented_expiry(members: usize, subscribed: &[String], tp: &TopicPartition) -> bool {
    members == 0 || !subscribed.iter().any(|t| *t == tp.topic)
}

pub fn check(input: &CheckInput<'_>) -> Vec<Violation> {
    let mut written: BTreeMap<(String, TopicPartition), u64> = BTreeMap::new();
    let mut reported: BTreeSet<(String, TopicPartition)> = BTreeSet::new();
    let mut out: Vec<(String, TopicPartition, u64, Violation)> = Vec::new();
    for h in input.history {
        match &h.obs {
            Observation::OffsetsWritten { group, offsets } => {
                for (tp, _) in offsets {
                    written.insert((group.clone(), tp.clone()), h.seq);
                }
            }
            Observation::OffsetsExpired { group, offsets, state, members, subscribed } => {
                for (tp, offset) in offsets {
                    let key = (group.clone(), tp.clone());
                    if documented_expiry(*members, subscribed, tp) || !reported.insert(key.clone()) {
                        continue;
                    }
                    let evidence = written.get(&key).copied().into_iter().chain([h.seq]).collect();
                    let summary = format!(
                        "group {group}: the committed offset {offset} of {tp} expired while the group was {state} with {members} member(s) subscribing to {}; KIP-211 expires a non-empty group's offsets only for topics it no longer subscribes to",
                        tp.topic
                    );
                    out.push((group.clone(), tp.clone(), h.seq, Violation { kind: NAME.into(), summary, evidence }));
                }
            }
            _ => {}
        }
    }
    // The consumer-visible effect: the group's next OffsetFetch finds nothing.
    for (group, tp, expired_at, v) in out.iter_mut() {
        let found = input.history.iter().find(|h| {
            h.seq > *expired_at && matches!(&h.obs, Observation::NoCommittedOffset { group: g, partitions, .. } if g == group && partitions.contains(tp))
        });
        if let Some(h) = found {
            v.summary.push_str(&format!("; {} then found no committed offset and started from auto.offset.reset", input.name(h.node)));
            v.evidence.push(h.seq);
        }
    }
    out.into_iter().map(|(_, _, _, v)| v).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::HistoryEntry;
    use crate::model::{NodeId, Offset, SimTime};

    fn tp() -> TopicPartition {
        TopicPartition::new("orders", 0)
    }

    fn at(seq: u64, node: u32, obs: Observation) -> HistoryEntry<Observation> {
        HistoryEntry { seq, at: SimTime(seq * 1_000), node: NodeId(node), obs }
    }

    fn expired(seq: u64, state: &str, members: usize, subscribed: &[&str]) -> HistoryEntry<Observation> {
        let obs = Observation::OffsetsExpired {
            group: "g".into(),
            offsets: vec![(tp(), Offset(37))],
            state: state.into(),
            members,
            subscribed: subscribed.iter().map(|s| s.to_string()).collect(),
        };
        at(seq, 0, obs)
    }

    fn run(history: &[HistoryEntry<Observation>]) -> Vec<Violation> {
        let logs = BTreeMap::new();
        let names = vec!["b0".to_string(), "c1".to_string()];
        check(&CheckInput { history, final_logs: &logs, faults: &[], marks: &[], node_names: &names, subscriptions: &BTreeMap::new() })
    }

    fn written(seq: u64) -> HistoryEntry<Observation> {
        at(seq, 0, Observation::OffsetsWritten { group: "g".into(), offsets: vec![(tp(), Offset(37))] })
    }

    #[test]
    fn expiry_of_an_empty_group_or_an_unsubscribed_topic_holds() {
        assert!(run(&[written(1), expired(2, "Empty", 0, &[])]).is_empty());
        assert!(run(&[written(1), expired(2, "Stable", 2, &["payments"])]).is_empty());
    }

    #[test]
    fn expiry_while_a_member_subscribes_fires_with_the_consumer_visible_effect() {
        let none = at(5, 1, Observation::NoCommittedOffset { group: "g".into(), partitions: vec![tp()], asked_at: SimTime(4_000) });
        let v = run(&[written(1), expired(4, "PreparingRebalance", 1, &["orders"]), none]);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind, NAME);
        assert_eq!(v[0].evidence, vec![1, 4, 5]);
        assert!(v[0].summary.contains("offset 37 of orders-0 expired while the group was PreparingRebalance with 1 member(s)"), "{}", v[0].summary);
        assert!(v[0].summary.contains("c1 then found no committed offset"), "{}", v[0].summary);
    }
}
