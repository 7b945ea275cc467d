//! The leader epoch cache (`leader-epoch-checkpoint`): for each leader epoch, the offset of its
//! first record. It answers OffsetsForLeaderEpoch (KIP-101/KIP-279) and the fetch-time divergence
//! check (KAFKA-10554).

use serde::Serialize;

use crate::model::ids::{LeaderEpoch, Offset};

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct EpochCache {
    /// (epoch, start offset), epochs strictly increasing.
    entries: Vec<(LeaderEpoch, Offset)>,
}

impl EpochCache {
    pub fn from_entries(entries: Vec<(LeaderEpoch, Offset)>) -> Self {
        EpochCache { entries }
    }

    pub fn entries(&self) -> &[(LeaderEpoch, Offset)] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<LeaderEpoch> {
        self.entries.last().map(|(e, _)| *e)
    }

    /// Records that `epoch` starts at `offset`. Returns whether the cache changed. A newer epoch
    /// than the latest is appended; an older or equal one is ignored.
    pub fn assign(&mut self, epoch: LeaderEpoch, offset: Offset) -> bool {
        match self.entries.last() {
            Some((e, _)) if *e >= epoch => false,
            _ => {
                self.entries.push((epoch, offset));
                true
            }
        }
    }

    /// The start offset of `epoch`, if the cache has it.
    pub fn start_offset(&self, epoch: LeaderEpoch) -> Option<Offset> {
        self.entries.iter().find(|(e, _)| *e == epoch).map(|(_, o)| *o)
    }

    /// Kafka's `endOffsetFor`: the largest epoch at or below `requested`, and its end offset (the
    /// start of the next epoch, or `log_end` for the latest). `None` when every epoch is above.
    pub fn end_offset_for(&self, requested: LeaderEpoch, log_end: Offset) -> Option<(LeaderEpoch, Offset)> {
        let i = self.entries.iter().rposition(|(e, _)| *e <= requested)?;
        let end = self.entries.get(i + 1).map_or(log_end, |(_, start)| *start);
        Some((self.entries[i].0, end))
    }

    /// After the log is truncated to `offset`: drop epochs that start at or after it.
    pub fn truncate_from_end(&mut self, offset: Offset) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(_, start)| *start < offset);
        before != self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> EpochCache {
        EpochCache::from_entries(vec![(LeaderEpoch(0), Offset(0)), (LeaderEpoch(2), Offset(10)), (LeaderEpoch(5), Offset(30))])
    }

    #[test]
    fn end_offset_for_answers_the_largest_epoch_at_or_below() {
        let c = cache();
        assert_eq!(c.end_offset_for(LeaderEpoch(0), Offset(40)), Some((LeaderEpoch(0), Offset(10))));
        assert_eq!(c.end_offset_for(LeaderEpoch(1), Offset(40)), Some((LeaderEpoch(0), Offset(10))), "KIP-279: the epoch it belongs to");
        assert_eq!(c.end_offset_for(LeaderEpoch(4), Offset(40)), Some((LeaderEpoch(2), Offset(30))));
        assert_eq!(c.end_offset_for(LeaderEpoch(9), Offset(40)), Some((LeaderEpoch(5), Offset(40))));
        assert_eq!(EpochCache::default().end_offset_for(LeaderEpoch(1), Offset(0)), None);
    }

    #[test]
    fn assign_and_truncate() {
        let mut c = cache();
        assert!(!c.assign(LeaderEpoch(5), Offset(33)));
        assert!(c.assign(LeaderEpoch(6), Offset(40)));
        assert!(c.truncate_from_end(Offset(30)));
        assert_eq!(c.latest_epoch(), Some(LeaderEpoch(2)));
    }
}
