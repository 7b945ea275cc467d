//! `reads-committed`: consumers read only records that stay.
//!
//! **Definition.** For every record `r` that a poll handed to a consumer at offset `o` of
//! partition `p`, group member or not: unless `o` is below the final log start offset of `p`
//! (deleted by retention), and as far as the final committed log of `p` reaches (offsets below its
//! high watermark at the end of the run), that log holds `r` at `o`. A record read and later
//! truncated, and replaced by another at `o`, breaks it: the consumer processed a record that no
//! longer exists (reference F, `ReadsOnlyCommitted`; Jepsen's `:inconsistent-offsets` from one
//! reader). Offsets at or above the final high watermark are not judged: nothing says yet what
//! stands there.
//!
//! Kafka hands consumers only records below the high watermark, which are committed and survive
//! any clean election, so in a correct run this always holds. It breaks where a replica serves
//! records above the real high watermark (KAFKA-9835, which `read-above-hw` also sees, and
//! KAFKA-14704, which it cannot: that follower's own high watermark was wrong), or where committed
//! data itself is lost (an unclean election, a lost page cache), alongside `lost-write`.
//!
//! One violation per partition: the first such read, with the seq of its poll.

use std::collections::BTreeSet;

use super::{CheckInput, Violation};
use crate::model::{Observation, Offset, RecordId, TopicPartition};

pub const NAME: &str = "reads-committed";

pub fn check(input: &CheckInput<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut reported: BTreeSet<&TopicPartition> = BTreeSet::new();
    let acked: BTreeSet<(&TopicPartition, Offset, RecordId)> = input
        .history
        .iter()
        .filter_map(|h| match &h.obs {
            Observation::ProduceAcked { record, partition, offset: Some(o), .. } => Some((partition, *o, *record)),
            _ => None,
        })
        .collect();
    for h in input.history {
        let Observation::Polled { partition, records, high_watermark } = &h.obs else { continue };
        if reported.contains(partition) {
            continue;
        }
        let Some(log) = input.final_logs.get(partition) else { continue };
        let judged = records
            .iter()
            .filter(|(o, r)| *o >= log.log_start_offset && *o < log.high_watermark && !acked.contains(&(partition, *o, *r)));
        let Some((o, r, now)) = judged.filter_map(|(o, r)| log.records.get(o).filter(|kept| *kept != r).map(|kept| (o, r, kept))).next() else {
            continue;
        };
        reported.insert(partition);
        out.push(Violation {
            kind: NAME.into(),
            summary: format!(
                "{partition}: {} was handed record {r} at offset {o} (with high watermark {high_watermark}), but the final log holds {now} there",
                input.name(h.node)
            ),
            evidence: vec![h.seq],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::check::FinalLog;
    use crate::engine::HistoryEntry;
    use crate::model::protocol::Acks;
    use crate::model::{NodeId, SimTime};

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }
    fn rec(seq: u32) -> RecordId {
        RecordId { producer: 0, seq }
    }
    fn polled(seq: u64, records: &[(i64, u32)], hw: i64) -> HistoryEntry<Observation> {
        HistoryEntry {
            seq,
            at: SimTime(seq),
            node: NodeId(1),
            obs: Observation::Polled { partition: tp(), records: records.iter().map(|(o, s)| (Offset(*o), rec(*s))).collect(), high_watermark: Offset(hw) },
        }
    }
    fn judge(history: &[HistoryEntry<Observation>], start: i64, kept: &[u32]) -> Vec<Violation> {
        let log = FinalLog {
            log_start_offset: Offset(start),
            high_watermark: Offset(start + kept.len() as i64),
            records: kept.iter().enumerate().map(|(i, s)| (Offset(start + i as i64), rec(*s))).collect(),
        };
        let logs: BTreeMap<TopicPartition, FinalLog> = [(tp(), log)].into_iter().collect();
        let names = vec!["b0".to_string(), "c1".to_string()];
        check(&CheckInput { history, final_logs: &logs, faults: &[], marks: &[], node_names: &names, subscriptions: &BTreeMap::new() })
    }

    #[test]
    fn reads_of_records_that_stay_break_nothing() {
        assert!(judge(&[polled(5, &[(0, 10), (1, 11)], 2)], 0, &[10, 11, 12]).is_empty());
        // Retention took offset 0 later; an offset the final log has not committed is not judged.
        assert!(judge(&[polled(5, &[(0, 10), (1, 11), (3, 13)], 4)], 1, &[11, 12]).is_empty());
    }

    #[test]
    fn a_read_record_replaced_in_the_final_log_is_reported_once() {
        let v = judge(&[polled(5, &[(0, 10), (1, 99)], 2), polled(6, &[(2, 98)], 3)], 0, &[10, 11, 12]);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, NAME);
        assert_eq!(v[0].evidence, vec![5]);
        assert!(v[0].summary.contains("c1 was handed record p0#99 at offset 1"), "{}", v[0].summary);
        assert!(v[0].summary.contains("holds p0#11"), "{}", v[0].summary);
    }

    #[test]
    fn an_acknowledged_record_is_left_to_lost_write() {
        let acked = HistoryEntry {
            seq: 4,
            at: SimTime(4),
            node: NodeId(0),
            obs: Observation::ProduceAcked { record: rec(99), partition: tp(), offset: Some(Offset(1)), acks: Acks::All },
        };
        assert!(judge(&[acked, polled(5, &[(1, 99)], 2)], 0, &[10, 11, 12]).is_empty());
    }
}
