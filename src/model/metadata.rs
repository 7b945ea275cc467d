//! The cluster metadata the controller owns and every broker caches: broker registrations and,
//! per partition, its replicas, ISR, leader, leader epoch and partition epoch. The election rules
//! live here as pure functions, so that they can be tested alone.
//!
//! Kafka (KRaft) [`PartitionChangeBuilder`]: every change bumps the partition epoch; the leader
//! epoch goes up whenever a leader is set, including to none. A fenced broker is removed from the
//! ISR unless that would empty it (the "last replica standing" stays, leaderless). A new leader is
//! the first replica in assignment order that is in the ISR and active; with
//! `unclean.leader.election.enable`, failing that, the first active replica, whose ISR becomes
//! itself alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::{BrokerId, LeaderEpoch, NodeId, TopicPartition};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionState {
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
    pub leader: Option<BrokerId>,
    pub leader_epoch: LeaderEpoch,
    pub partition_epoch: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BrokerRegistration {
    pub node: NodeId,
    pub fenced: bool,
    /// Bumped at every registration (a restart), as KRaft's broker epoch.
    pub broker_epoch: u64,
}

/// The metadata image: what the controller has decided, as of `version`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MetadataImage {
    pub version: u64,
    pub brokers: BTreeMap<BrokerId, BrokerRegistration>,
    pub partitions: BTreeMap<TopicPartition, PartitionState>,
}

impl MetadataImage {
    pub fn is_active(&self, broker: BrokerId) -> bool {
        self.brokers.get(&broker).is_some_and(|b| !b.fenced)
    }

    pub fn node_of(&self, broker: BrokerId) -> Option<NodeId> {
        self.brokers.get(&broker).map(|b| b.node)
    }
}

/// The outcome of a change to one partition, before it is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Election {
    pub state: PartitionState,
    /// The new leader came from outside the ISR.
    pub unclean: bool,
}

impl PartitionState {
    /// Applies a new ISR and leader: bumps the partition epoch, and the leader epoch when the
    /// leader changes.
    fn changed(&self, isr: Vec<BrokerId>, leader: Option<BrokerId>) -> PartitionState {
        let leader_epoch = if leader != self.leader { LeaderEpoch(self.leader_epoch.0 + 1) } else { self.leader_epoch };
        PartitionState { replicas: self.replicas.clone(), isr, leader, leader_epoch, partition_epoch: self.partition_epoch + 1 }
    }

    /// Kafka's `electAnyLeader` after the ISR becomes `isr`: keep the leader if it is still in
    /// the ISR and active, else the first replica in assignment order that is; failing that, an
    /// unclean election if allowed; else no leader.
    pub fn elect(&self, isr: Vec<BrokerId>, active: impl Fn(BrokerId) -> bool, unclean_allowed: bool) -> Option<Election> {
        let clean = self
            .leader
            .filter(|l| isr.contains(l) && active(*l))
            .or_else(|| self.replicas.iter().copied().find(|r| isr.contains(r) && active(*r)));
        let (leader, isr, unclean) = match clean {
            Some(l) => (Some(l), isr, false),
            None if unclean_allowed => match self.replicas.iter().copied().find(|r| active(*r)) {
                Some(l) => (Some(l), vec![l], true),
                None => (None, isr, false),
            },
            None => (None, isr, false),
        };
        if leader == self.leader && isr == self.isr {
            return None;
        }
        Some(Election { state: self.changed(isr, leader), unclean })
    }

    /// Fencing `broker`: it leaves the ISR unless it is the last member (the ISR is never written
    /// empty), and leadership moves if it led.
    pub fn fence(&self, broker: BrokerId, active: impl Fn(BrokerId) -> bool, unclean_allowed: bool) -> Option<Election> {
        let mut isr: Vec<BrokerId> = self.isr.iter().copied().filter(|b| *b != broker).collect();
        if isr.is_empty() {
            isr = self.isr.clone();
        }
        self.elect(isr, |b| b != broker && active(b), unclean_allowed)
    }

    /// An ISR change asked for by the leader (AlterPartition), already validated.
    pub fn with_isr(&self, isr: Vec<BrokerId>) -> PartitionState {
        self.changed(isr, self.leader)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(i: i32) -> BrokerId {
        BrokerId(i)
    }

    fn state(isr: &[i32], leader: Option<i32>) -> PartitionState {
        PartitionState {
            replicas: vec![b(0), b(1), b(2)],
            isr: isr.iter().map(|i| b(*i)).collect(),
            leader: leader.map(b),
            leader_epoch: LeaderEpoch(4),
            partition_epoch: 10,
        }
    }

    #[test]
    fn fencing_the_leader_elects_the_first_isr_replica_and_bumps_both_epochs() {
        let e = state(&[0, 1, 2], Some(0)).fence(b(0), |_| true, false).unwrap();
        assert_eq!(e.state.leader, Some(b(1)));
        assert_eq!(e.state.isr, vec![b(1), b(2)]);
        assert_eq!((e.state.leader_epoch, e.state.partition_epoch), (LeaderEpoch(5), 11));
        assert!(!e.unclean);
    }

    #[test]
    fn fencing_a_follower_keeps_the_leader_and_its_epoch() {
        let e = state(&[0, 1, 2], Some(0)).fence(b(2), |_| true, false).unwrap();
        assert_eq!((e.state.leader, e.state.leader_epoch), (Some(b(0)), LeaderEpoch(4)));
        assert_eq!(e.state.isr, vec![b(0), b(1)]);
    }

    #[test]
    fn the_last_replica_standing_stays_in_the_isr_without_a_leader() {
        let e = state(&[0], Some(0)).fence(b(0), |_| true, false).unwrap();
        assert_eq!((e.state.leader, e.state.isr.clone()), (None, vec![b(0)]));
        assert_eq!(e.state.leader_epoch, LeaderEpoch(5), "setting the leader to none bumps the epoch");
        // When it comes back, it is elected again.
        let back = e.state.elect(e.state.isr.clone(), |_| true, false).unwrap();
        assert_eq!(back.state.leader, Some(b(0)));
    }

    #[test]
    fn unclean_election_takes_an_out_of_sync_replica_and_makes_it_the_isr() {
        let s = state(&[0], Some(0));
        let clean = s.fence(b(0), |_| true, false).unwrap();
        assert_eq!(clean.state.leader, None);
        let unclean = s.fence(b(0), |_| true, true).unwrap();
        assert_eq!((unclean.state.leader, unclean.state.isr.clone(), unclean.unclean), (Some(b(1)), vec![b(1)], true));
    }

    #[test]
    fn no_change_is_no_election() {
        assert!(state(&[0, 1], Some(0)).elect(vec![b(0), b(1)], |_| true, false).is_none());
    }
}
