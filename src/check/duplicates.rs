//! **`duplicate-append`**, checked when a scenario demands exactly-once (`processing =
//! "exactly-once"`): every record a producer sent is in the final committed log of its partition
//! at most once. Without idempotence a retried batch whose first attempt was appended (its
//! response was lost) is appended again (reference D-18); with `enable.idempotence` the broker
//! answers the retry with the first attempt's offset instead.

use std::collections::BTreeMap;

use super::{CheckInput, Violation};
use crate::model::{Offset, RecordId, TopicPartition};

pub const NAME: &str = "duplicate-append";

pub fn check(input: &CheckInput<'_>) -> Vec<Violation> {
    let acked_at = super::first_acks(input.history);
    let mut out = Vec::new();
    for (tp, log) in input.final_logs {
        let mut seen: BTreeMap<RecordId, Vec<Offset>> = BTreeMap::new();
        for (o, r) in &log.records {
            seen.entry(*r).or_default().push(*o);
        }
        let twice: Vec<(&RecordId, &Vec<Offset>)> = seen.iter().filter(|(_, offsets)| offsets.len() > 1).collect();
        if let Some((first, offsets)) = twice.first() {
            out.push(violation(tp, twice.len(), first, offsets, acked_at.get(first).copied()));
        }
    }
    out
}

fn violation(tp: &TopicPartition, n: usize, first: &RecordId, offsets: &[Offset], acked: Option<u64>) -> Violation {
    let at: Vec<String> = offsets.iter().map(|o| o.to_string()).collect();
    Violation {
        kind: NAME.into(),
        summary: format!("{n} record(s) appear more than once in {tp}; the first, {first}, at offsets {}", at.join(", ")),
        evidence: acked.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::FinalLog;

    #[test]
    fn a_record_at_two_offsets_is_a_duplicate() {
        let tp = TopicPartition::new("t", 0);
        let r = |seq| RecordId { producer: 0, seq };
        let once = FinalLog { records: [(Offset(0), r(0)), (Offset(1), r(1))].into_iter().collect(), ..Default::default() };
        let logs = BTreeMap::from([(tp.clone(), once)]);
        let input = CheckInput { history: &[], final_logs: &logs, faults: &[], marks: &[], node_names: &[], subscriptions: &BTreeMap::new() };
        assert!(check(&input).is_empty());
        let twice = FinalLog { records: [(Offset(0), r(0)), (Offset(1), r(1)), (Offset(2), r(0))].into_iter().collect(), ..Default::default() };
        let logs = BTreeMap::from([(tp, twice)]);
        let input = CheckInput { history: &[], final_logs: &logs, faults: &[], marks: &[], node_names: &[], subscriptions: &BTreeMap::new() };
        let v = check(&input);
        assert_eq!(v.len(), 1);
        assert!(v[0].summary.contains("1 record(s) appear more than once in t-0; the first, p0#0, at offsets 0, 2"), "{}", v[0].summary);
    }
}
