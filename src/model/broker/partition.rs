//! One partition replica on one broker: its log, its leader epoch cache, what the metadata says
//! about it, and, while it leads, what it knows of each follower (Kafka's `Partition` and
//! `Replica`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::epochs::EpochCache;
use super::log::PartitionLog;
use crate::model::config::TopicConfig;
use crate::model::ids::{BrokerId, LeaderEpoch, Offset, TopicPartition};
use crate::model::metadata::PartitionState;
use crate::model::time::{SimDuration, SimTime};

/// What the leader knows of one follower.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RemoteReplica {
    /// Its LEO, from its last fetch offset; unknown until it fetches from this leader.
    pub log_end_offset: Option<Offset>,
    /// The latest time it was known to be caught up with the leader's LEO.
    pub last_caught_up: SimTime,
    /// The leader's LEO and the time at its previous fetch (Kafka's `lastFetchLeaderLogEndOffset`).
    pub last_fetch_leader_leo: Offset,
    pub last_fetch_time: SimTime,
}

#[derive(Clone, Debug, Serialize)]
pub struct Partition {
    #[serde(skip)]
    pub topic: TopicConfig,
    pub tp: TopicPartition,
    pub log: PartitionLog,
    pub epochs: EpochCache,
    /// The partition as the latest metadata this broker applied describes it.
    pub state: Option<PartitionState>,
    /// Followers, while this replica leads.
    pub remote: BTreeMap<BrokerId, RemoteReplica>,
    /// The ISR of an AlterPartition in flight (KIP-497's "maximal ISR" counts it for the HW).
    pub pending_isr: Option<Vec<BrokerId>>,
    /// Records appended since the last fsync was issued.
    pub unflushed_records: u64,
    pub unflushed_since: Option<SimTime>,
    pub syncs_in_flight: u32,
    /// The end of what is appended *and* flushed where `flush.messages` demanded it: the leader's
    /// own LEO for the HW rule.
    pub complete_offset: Offset,
    /// With the KIP-279 bug switch: a follower that has yet to learn where its log ends on the
    /// leader (Kafka's fetch state `Truncating`); its next fetch carries its latest epoch, the
    /// OffsetsForLeaderEpoch question, and later ones none.
    pub truncating: bool,
}

impl Partition {
    pub fn new(topic: TopicConfig, tp: TopicPartition, log: PartitionLog, epochs: EpochCache) -> Self {
        let complete_offset = log.log_end_offset();
        Partition {
            topic,
            tp,
            log,
            epochs,
            state: None,
            remote: BTreeMap::new(),
            pending_isr: None,
            unflushed_records: 0,
            unflushed_since: None,
            syncs_in_flight: 0,
            complete_offset,
            truncating: false,
        }
    }

    pub fn log_file(&self) -> String {
        format!("{}.log", self.tp)
    }
    pub fn epochs_file(&self) -> String {
        format!("{}.epochs", self.tp)
    }

    pub fn leader(&self) -> Option<BrokerId> {
        self.state.as_ref().and_then(|s| s.leader)
    }
    pub fn is_leader(&self, me: BrokerId) -> bool {
        self.leader() == Some(me)
    }
    pub fn leader_epoch(&self) -> LeaderEpoch {
        self.state.as_ref().map_or(LeaderEpoch(-1), |s| s.leader_epoch)
    }
    pub fn isr(&self) -> &[BrokerId] {
        self.state.as_ref().map_or(&[], |s| s.isr.as_slice())
    }

    /// The committed ISR plus any in-flight expansion.
    pub fn maximal_isr(&self) -> Vec<BrokerId> {
        let mut isr = self.isr().to_vec();
        for b in self.pending_isr.iter().flatten() {
            if !isr.contains(b) {
                isr.push(*b);
            }
        }
        isr
    }

    /// `|ISR| < min(min.insync.replicas, replication factor)`.
    pub fn is_under_min_isr(&self) -> bool {
        let rf = self.state.as_ref().map_or(1, |s| s.replicas.len());
        (self.isr().len() as i16) < self.topic.min_insync_replicas.min(rf as i16)
    }

    /// The leader's HW rule: the minimum LEO over itself (what is complete) and every member of
    /// the maximal ISR; frozen while the ISR is below `min.insync.replicas` (KAFKA-15583, 3.7+)
    /// unless `allow_below_min_isr`. Returns whether the HW moved.
    pub fn maybe_advance_leader_hw(&mut self, me: BrokerId, allow_below_min_isr: bool) -> bool {
        if self.is_under_min_isr() && !allow_below_min_isr {
            return false;
        }
        let mut hw = self.complete_offset.min(self.log.log_end_offset());
        for b in self.maximal_isr() {
            if b == me {
                continue;
            }
            match self.remote.get(&b).and_then(|r| r.log_end_offset) {
                Some(leo) => hw = hw.min(leo),
                None => return false, // a member that has not fetched yet holds the HW
            }
        }
        self.log.advance_high_watermark(hw)
    }

    /// Records a follower's fetch at `fetch_offset` (its LEO), as Kafka's
    /// `Replica.updateFetchState`.
    pub fn update_follower(&mut self, follower: BrokerId, fetch_offset: Offset, now: SimTime) {
        let leader_leo = self.log.log_end_offset();
        let r = self.remote.entry(follower).or_insert(RemoteReplica {
            log_end_offset: None,
            last_caught_up: now,
            last_fetch_leader_leo: leader_leo,
            last_fetch_time: now,
        });
        if fetch_offset >= leader_leo {
            r.last_caught_up = now;
        } else if fetch_offset >= r.last_fetch_leader_leo {
            r.last_caught_up = r.last_caught_up.max(r.last_fetch_time);
        }
        r.log_end_offset = Some(fetch_offset);
        r.last_fetch_leader_leo = leader_leo;
        r.last_fetch_time = now;
    }

    /// ISR members that are out of sync: not at the leader's LEO and not caught up within
    /// `replica.lag.time.max.ms`.
    pub fn out_of_sync(&self, me: BrokerId, now: SimTime, lag: SimDuration) -> Vec<BrokerId> {
        let leo = self.log.log_end_offset();
        self.isr()
            .iter()
            .copied()
            .filter(|b| *b != me)
            .filter(|b| match self.remote.get(b) {
                Some(r) => r.log_end_offset != Some(leo) && now.saturating_since(r.last_caught_up) > lag,
                None => false,
            })
            .collect()
    }

    /// Whether a follower outside the ISR may join it: its LEO has reached the HW and (since
    /// KAFKA-7128) the start offset of the leader's current epoch.
    pub fn may_join_isr(&self, follower: BrokerId, skip_epoch_check: bool) -> bool {
        let Some(leo) = self.remote.get(&follower).and_then(|r| r.log_end_offset) else { return false };
        if self.isr().contains(&follower) || leo < self.log.high_watermark() {
            return false;
        }
        if skip_epoch_check {
            return true;
        }
        let epoch_start = self.epochs.start_offset(self.leader_epoch()).unwrap_or(Offset(0));
        leo >= epoch_start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::RecordId;
    use crate::model::protocol::Record;

    const ME: BrokerId = BrokerId(0);

    fn leader_with(records: u32, isr: &[i32], min_isr: i16) -> Partition {
        let mut topic = TopicConfig::new("t", 1);
        topic.replication_factor = 3;
        topic.min_insync_replicas = min_isr;
        let mut log = PartitionLog::default();
        let recs = (0..records).map(|seq| Record { id: RecordId { producer: 0, seq }, key: None, size: 1, value: None }).collect();
        log.append(recs, LeaderEpoch(0), 0, None);
        let mut p = Partition::new(topic, TopicPartition::new("t", 0), log, EpochCache::from_entries(vec![(LeaderEpoch(0), Offset(0))]));
        p.state = Some(PartitionState {
            replicas: vec![BrokerId(0), BrokerId(1), BrokerId(2)],
            isr: isr.iter().map(|b| BrokerId(*b)).collect(),
            leader: Some(ME),
            leader_epoch: LeaderEpoch(0),
            partition_epoch: 0,
        });
        p
    }

    #[test]
    fn the_hw_is_the_minimum_leo_of_the_isr_and_waits_for_every_member() {
        let mut p = leader_with(10, &[0, 1, 2], 1);
        p.update_follower(BrokerId(1), Offset(7), SimTime(1));
        assert!(!p.maybe_advance_leader_hw(ME, false), "b2 has not fetched: its LEO is unknown");
        p.update_follower(BrokerId(2), Offset(4), SimTime(2));
        assert!(p.maybe_advance_leader_hw(ME, false));
        assert_eq!(p.log.high_watermark(), Offset(4));
        p.update_follower(BrokerId(2), Offset(10), SimTime(3));
        p.maybe_advance_leader_hw(ME, false);
        assert_eq!(p.log.high_watermark(), Offset(7));
    }

    #[test]
    fn a_follower_outside_the_isr_does_not_hold_the_hw() {
        let mut p = leader_with(10, &[0, 1], 1);
        p.update_follower(BrokerId(1), Offset(10), SimTime(1));
        p.update_follower(BrokerId(2), Offset(2), SimTime(1));
        p.maybe_advance_leader_hw(ME, false);
        assert_eq!(p.log.high_watermark(), Offset(10));
    }

    #[test]
    fn the_hw_is_frozen_below_min_insync_replicas_unless_the_kafka_15583_switch_is_on() {
        let mut p = leader_with(10, &[0], 2);
        assert!(p.is_under_min_isr());
        assert!(!p.maybe_advance_leader_hw(ME, false));
        assert!(p.maybe_advance_leader_hw(ME, true));
        assert_eq!(p.log.high_watermark(), Offset(10));
    }

    #[test]
    fn a_follower_that_stops_catching_up_is_out_of_sync_after_the_lag() {
        let mut p = leader_with(10, &[0, 1, 2], 1);
        let lag = SimDuration::from_secs(30);
        p.update_follower(BrokerId(1), Offset(10), SimTime(0));
        p.update_follower(BrokerId(2), Offset(3), SimTime(0));
        assert!(p.out_of_sync(ME, SimTime(29_000_000), lag).is_empty());
        assert_eq!(p.out_of_sync(ME, SimTime(31_000_000), lag), vec![BrokerId(2)]);
        // Keeping up with the leader's LEO as of its previous fetch counts as caught up then.
        p.update_follower(BrokerId(2), Offset(10), SimTime(31_000_000));
        assert!(p.out_of_sync(ME, SimTime(31_000_000), lag).is_empty());
    }

    #[test]
    fn joining_the_isr_needs_the_hw_and_the_epoch_start_kafka_7128() {
        let mut p = leader_with(10, &[0, 1], 1);
        // A new epoch started at offset 10: the leader was elected with LEO 10; HW still 6.
        p.epochs.assign(LeaderEpoch(1), Offset(10));
        p.state.as_mut().unwrap().leader_epoch = LeaderEpoch(1);
        p.log.advance_high_watermark(Offset(6));
        p.update_follower(BrokerId(2), Offset(8), SimTime(1));
        assert!(!p.may_join_isr(BrokerId(2), false), "LEO 8 >= HW 6 but below the epoch start 10");
        assert!(p.may_join_isr(BrokerId(2), true), "before KAFKA-7128 it would have joined");
        p.update_follower(BrokerId(2), Offset(10), SimTime(2));
        assert!(p.may_join_isr(BrokerId(2), false));
    }
}
