//! **`producer-order`**: one producer's records to one partition are in the partition's final
//! committed log in the order the producer sent them (`send()`; Kafka's design docs: "messages
//! sent by a producer to a particular topic partition will be appended in the order they are
//! sent"). Each record counts at its first offset (a retried duplicate further on is
//! `duplicate-append`'s business). Jepsen's `nonmonotonic-send` is the same check on values sent
//! by one process.
//!
//! Kafka promises this only when a retry cannot overtake: with `enable.idempotence` (the broker
//! rejects out-of-sequence batches, up to 5 in flight), with
//! `max.in.flight.requests.per.connection = 1`, or without retries (ProducerConfig's RETRIES_DOC).
//! So the checker judges the producers whose configuration promises it, and every producer when
//! the scenario demands it (`send_order = "required"`): without idempotence a batch that failed
//! with a retriable error goes back to the front of its queue, behind nothing, and is appended
//! after batches sent after it (reference D-18).
//!
//! The report names the partition and the first pair out of order, with the offsets; the
//! evidence is the acknowledgement of each of the two records, if they had one.

use std::collections::{BTreeMap, BTreeSet};

use super::{CheckInput, Violation};
use crate::model::{Offset, RecordId, TopicPartition};

pub const NAME: &str = "producer-order";

/// Judges the producers numbered in `judged` (a record `p<n>#<seq>` belongs to producer `n`).
pub fn check(input: &CheckInput<'_>, judged: &BTreeSet<u32>) -> Vec<Violation> {
    let acked_at = super::first_acks(input.history);
    let mut out = Vec::new();
    for (tp, log) in input.final_logs {
        // Per producer: its records at their first offsets, in log order.
        let mut seen: BTreeSet<RecordId> = BTreeSet::new();
        let mut per_producer: BTreeMap<u32, Vec<(Offset, RecordId)>> = BTreeMap::new();
        for (o, r) in &log.records {
            if judged.contains(&r.producer) && seen.insert(*r) {
                per_producer.entry(r.producer).or_default().push((*o, *r));
            }
        }
        for records in per_producer.values() {
            if let Some(v) = first_inversion(tp, records, &acked_at) {
                out.push(v);
            }
        }
    }
    out
}

/// The first record in log order that was sent before a record already earlier in the log.
fn first_inversion(tp: &TopicPartition, records: &[(Offset, RecordId)], acked_at: &BTreeMap<RecordId, u64>) -> Option<Violation> {
    // The record with the highest send sequence so far, and where it is.
    let mut newest: Option<(Offset, RecordId)> = None;
    let mut inversions = 0usize;
    let mut first = None;
    for &(o, r) in records {
        match newest {
            Some((no, n)) if r.seq < n.seq => {
                inversions += 1;
                first.get_or_insert((o, r, no, n));
            }
            _ => newest = Some((o, r)),
        }
    }
    let (o, r, no, n) = first?;
    Some(Violation {
        kind: NAME.into(),
        summary: format!(
            "{tp}: {inversions} record(s) of producer p{} appended after records it sent later; the first, {r} at offset {o}, comes after {n} (sent after it) at offset {no}",
            r.producer
        ),
        evidence: [acked_at.get(&n), acked_at.get(&r)].into_iter().flatten().copied().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::FinalLog;

    fn r(producer: u32, seq: u32) -> RecordId {
        RecordId { producer, seq }
    }

    fn run(records: &[RecordId], judged: &[u32]) -> Vec<Violation> {
        let log = FinalLog { records: records.iter().enumerate().map(|(i, r)| (Offset(i as i64), *r)).collect(), ..Default::default() };
        let logs = BTreeMap::from([(TopicPartition::new("payments", 0), log)]);
        let input = CheckInput { history: &[], final_logs: &logs, faults: &[], marks: &[], node_names: &[], subscriptions: &BTreeMap::new() };
        check(&input, &judged.iter().copied().collect())
    }

    #[test]
    fn order_kept_or_interleaved_with_another_producer_holds() {
        assert!(run(&[r(0, 0), r(1, 0), r(0, 1), r(1, 1), r(0, 2)], &[0, 1]).is_empty());
        // A retried duplicate further on is not a reordering.
        assert!(run(&[r(0, 0), r(0, 1), r(0, 0), r(0, 2)], &[0]).is_empty());
    }

    #[test]
    fn a_retried_batch_behind_a_later_one_fires_for_judged_producers_only() {
        // p0 sent 0..=3; the batch of 0 and 1 was retried after the batch of 2 and 3.
        let log = [r(0, 2), r(0, 3), r(0, 0), r(0, 1), r(1, 0)];
        let v = run(&log, &[0, 1]);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind, NAME);
        assert!(v[0].summary.contains("payments-0: 2 record(s) of producer p0 appended after records it sent later; the first, p0#0 at offset 2, comes after p0#3 (sent after it) at offset 1"), "{}", v[0].summary);
        assert!(run(&log, &[1]).is_empty(), "p0 made no promise");
    }
}
