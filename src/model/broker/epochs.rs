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
    /// start of the next epoch, or `log_end` for the latest). When every epoch is above (retention
    /// removed the older ones), `requested` itself ending where the first known epoch starts, so a
    /// follower replicates from the leader's log start. `None` when the cache is empty.
    pub fn end_offset_for(&self, requested: LeaderEpoch, log_end: Offset) -> Option<(LeaderEpoch, Offset)> {
        let Some(i) = self.entries.iter().rposition(|(e, _)| *e <= requested) else {
            return self.entries.first().map(|(_, start)| (requested, *start));
        };
        let end = self.entries.get(i + 1).map_or(log_end, |(_, start)| *start);
        Some((self.entries[i].0, end))
    }

    /// After retention moved the log start to `offset`: epochs that ended before it go, and the
    /// epoch in force there now starts at it.
    pub fn truncate_from_start(&mut self, offset: Offset) -> bool {
        let Some(i) = self.entries.iter().rposition(|(_, start)| *start <= offset) else { return false };
        let changed = i > 0 || self.entries[i].1 != offset;
        self.entries.drain(..i);
        self.entries[0].1 = offset;
        changed
    }

    /// After the log is truncated to `offset`: drop epochs that start at or after it.
    pub fn truncate_from_end(&mut self, offset: Offset) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(_, start)| *start < offset);
        before != self.entries.len()
    }
}

/// The leader's divergence check for a follower's fetch (KAFKA-10554): `Some((epoch, end))` when
/// the leader's log does not hold the follower's last fetched epoch up to its fetch offset. The
/// answer is the largest epoch the leader has at or below the follower's, and where it ends
/// (KIP-279), or `(-1, -1)` when the leader has none.
pub fn divergence(leader: &EpochCache, leader_leo: Offset, fetch_offset: Offset, last_fetched_epoch: LeaderEpoch) -> Option<(LeaderEpoch, Offset)> {
    match leader.end_offset_for(last_fetched_epoch, leader_leo) {
        Some((e, end)) if e == last_fetched_epoch && end >= fetch_offset => None,
        Some((e, end)) => Some((e, end)),
        None => Some((LeaderEpoch(-1), Offset(-1))),
    }
}

/// The leader's answer before KIP-279 (OffsetsForLeaderEpoch v0, Kafka 0.11 to 1.1): the end
/// offset of the requested epoch only, i.e. the leader's LEO when it is the leader's latest epoch,
/// else the start offset of the first epoch *after* it, whether or not the leader ever had the
/// requested epoch; `-1` (UNDEFINED_EPOCH_OFFSET) when no epoch follows or the requested one is
/// older than the leader's first. Returned in the shape of [`divergence`], with the epoch
/// `-1` because v0 carries none, and `None` when the follower would not truncate (its fetch
/// offset, its LEO, is at or below the answer).
pub fn divergence_before_kip_279(leader: &EpochCache, leader_leo: Offset, fetch_offset: Offset, requested: LeaderEpoch) -> Option<(LeaderEpoch, Offset)> {
    let entries = leader.entries();
    let end = if leader.latest_epoch() == Some(requested) {
        leader_leo
    } else {
        match (entries.first(), entries.iter().find(|(e, _)| *e > requested)) {
            (Some((first, _)), Some((_, start))) if requested >= *first => *start,
            _ => Offset(-1),
        }
    };
    (end == Offset(-1) || end < fetch_offset).then_some((LeaderEpoch(-1), end))
}

/// The follower's answer to a diverging epoch `(epoch, leader_end)`: if it has that epoch, the
/// smaller of the two ends; otherwise the end of its own largest epoch below it (and it fetches
/// again, iterating as KIP-279 describes). Never above its LEO nor below its log start.
pub fn truncation_offset(own: &EpochCache, own_leo: Offset, own_log_start: Offset, diverging: (LeaderEpoch, Offset)) -> Offset {
    let (epoch, leader_end) = diverging;
    let to = match own.end_offset_for(epoch, own_leo) {
        Some((e, own_end)) if e == epoch => own_end.min(leader_end),
        Some((_, own_end)) => own_end,
        None => own_log_start,
    };
    to.min(own_leo).max(own_log_start)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KIP-279's case: two leader changes before the follower fetches. The follower led epoch 1
    /// (appending 10..15 that nobody else has); the new leader never saw epoch 1 and appended in
    /// epoch 2 from offset 8.
    #[test]
    fn back_to_back_leader_changes_converge_on_the_common_prefix() {
        let leader = EpochCache::from_entries(vec![(LeaderEpoch(0), Offset(0)), (LeaderEpoch(2), Offset(8))]);
        let leader_leo = Offset(20);
        let mut follower = EpochCache::from_entries(vec![(LeaderEpoch(0), Offset(0)), (LeaderEpoch(1), Offset(10))]);
        let mut leo = Offset(15);
        // First fetch: last fetched epoch 1, which the leader does not have.
        let d = divergence(&leader, leader_leo, leo, follower.latest_epoch().unwrap()).expect("diverged");
        assert_eq!(d, (LeaderEpoch(0), Offset(8)), "the largest epoch at or below 1, and its end");
        leo = truncation_offset(&follower, leo, Offset(0), d);
        assert_eq!(leo, Offset(8), "epoch 0 ends at 10 here, at 8 on the leader: the smaller");
        follower.truncate_from_end(leo);
        // Second fetch: last fetched epoch 0, consistent up to 8.
        assert_eq!(follower.latest_epoch(), Some(LeaderEpoch(0)));
        assert_eq!(divergence(&leader, leader_leo, leo, LeaderEpoch(0)), None);
    }

    #[test]
    fn a_follower_without_the_leaders_epoch_truncates_to_its_own_epoch_end_and_asks_again() {
        let follower = EpochCache::from_entries(vec![(LeaderEpoch(0), Offset(0)), (LeaderEpoch(3), Offset(5))]);
        // The leader answers epoch 2, which the follower never had: it goes back to the end of its
        // largest epoch at or below 2 (epoch 0, ending at 5).
        assert_eq!(truncation_offset(&follower, Offset(9), Offset(0), (LeaderEpoch(2), Offset(7))), Offset(5));
    }

    #[test]
    fn a_follower_in_step_with_the_leader_does_not_diverge() {
        let leader = EpochCache::from_entries(vec![(LeaderEpoch(0), Offset(0)), (LeaderEpoch(1), Offset(4))]);
        assert_eq!(divergence(&leader, Offset(9), Offset(6), LeaderEpoch(1)), None);
        assert_eq!(divergence(&leader, Offset(9), Offset(4), LeaderEpoch(0)), None);
        assert_eq!(divergence(&leader, Offset(9), Offset(5), LeaderEpoch(0)), Some((LeaderEpoch(0), Offset(4))));
    }

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
        let trimmed = EpochCache::from_entries(vec![(LeaderEpoch(3), Offset(499))]);
        assert_eq!(trimmed.end_offset_for(LeaderEpoch(0), Offset(500)), Some((LeaderEpoch(0), Offset(499))), "older than any known epoch: where the first starts");
    }

    #[test]
    fn assign_and_truncate() {
        let mut c = cache();
        assert!(!c.assign(LeaderEpoch(5), Offset(33)));
        assert!(c.assign(LeaderEpoch(6), Offset(40)));
        assert!(c.truncate_from_end(Offset(30)));
        assert_eq!(c.latest_epoch(), Some(LeaderEpoch(2)));
    }

    /// KIP-279's fast failover, before the fix: the follower led epoch 1 from offset 5 (the
    /// leader, a follower then, had epoch 0 up to 8 and never saw epoch 1) and now follows a
    /// leader whose epoch 2 starts at 8. v0 answers 8, "the start of the first epoch after 1":
    /// the follower keeps its epoch-1 records at 5..8, where the leader has epoch-0 ones.
    #[test]
    fn before_kip_279_the_answer_skips_an_epoch_the_leader_never_had() {
        let leader = EpochCache::from_entries(vec![(LeaderEpoch(0), Offset(0)), (LeaderEpoch(2), Offset(8))]);
        let follower = EpochCache::from_entries(vec![(LeaderEpoch(0), Offset(0)), (LeaderEpoch(1), Offset(5))]);
        let (follower_leo, leader_leo) = (Offset(8), Offset(12));
        assert_eq!(divergence_before_kip_279(&leader, leader_leo, follower_leo, LeaderEpoch(1)), None, "8 >= the follower's LEO: no truncation");
        assert_eq!(divergence_before_kip_279(&leader, leader_leo, Offset(10), LeaderEpoch(1)), Some((LeaderEpoch(-1), Offset(8))));
        // KIP-279 answers (0, 8), and the follower goes back to where its own epoch 0 ended.
        let d = divergence(&leader, leader_leo, follower_leo, LeaderEpoch(1)).expect("diverged");
        assert_eq!(truncation_offset(&follower, follower_leo, Offset(0), d), Offset(5));
        // The latest epoch ends at the LEO; an epoch older than the first, or none after it: -1.
        assert_eq!(divergence_before_kip_279(&leader, leader_leo, Offset(13), LeaderEpoch(2)), Some((LeaderEpoch(-1), Offset(12))));
        assert_eq!(divergence_before_kip_279(&leader, leader_leo, Offset(3), LeaderEpoch(3)), Some((LeaderEpoch(-1), Offset(-1))));
    }
}
