//! Offset expiry (`offsets.retention.minutes`), with the rules of KIP-211 (Kafka 2.1) as
//! `GroupMetadata.removeExpiredOffsets` applies them every `offsets.retention.check.interval.ms`:
//!
//! - **Empty group** (it has a protocol type, no members): every offset expires once the
//!   retention has passed since the group became Empty (`currentStateTimestamp`).
//! - **Stable consumer group** whose subscribed topics are known: an offset of a topic no member
//!   subscribes to expires once the retention has passed since it was committed; offsets of
//!   subscribed topics never expire.
//! - **Group without a protocol type** (offsets only: `assign()` consumers, admin tools): each
//!   offset expires the retention after it was committed.
//! - Otherwise (a rebalance in progress) nothing expires. Before KAFKA-13636 (fixed 3.2.0) the
//!   second rule did not ask for Stable: a group that had gone Empty (subscribed topics: none)
//!   and was rejoining lost every offset committed longer than the retention ago. The bug
//!   switch `KAFKA-13636` brings that back.
//!
//! Offsets with a commit still being written are never expired. Every time here is the
//! coordinator's wall clock, so clock skew moves expiry (and a new coordinator measures from the
//! commit timestamps the old one wrote).

use std::collections::BTreeSet;

use super::coordinator::{Group, GroupState};
use crate::model::actor::Ctx;
use crate::model::ids::{Offset, TopicPartition};
use crate::model::node::KafkaNode;
use crate::model::observe::Observation;

/// What an offset's age is measured from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Since {
    /// When the group became Empty (the commit, for a group loaded without a state timestamp).
    StateChange,
    /// The commit.
    Commit,
}

impl Group {
    /// Kafka's `computeSubscribedTopics`: for a `consumer` group, the union of the members'
    /// subscriptions in the chosen protocol (the empty set without members); `None` otherwise.
    pub(crate) fn compute_subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        if self.members.is_empty() {
            return Some(BTreeSet::new());
        }
        let name = self.protocol_name.as_ref()?;
        let topics = self.members.values().filter_map(|m| m.protocols.iter().find(|(n, _)| n == name)).flat_map(|(_, s)| s.topics.iter().cloned());
        Some(topics.collect())
    }

    /// The topics the group's members subscribe to right now, by their JoinGroup metadata (every
    /// protocol they offered): what the history records next to an expiry, whatever the
    /// coordinator's cached view.
    pub fn topics_members_subscribe(&self) -> BTreeSet<String> {
        self.members.values().flat_map(|m| m.protocols.iter().flat_map(|(_, s)| s.topics.iter().cloned())).collect()
    }

    /// Removes the offsets that have expired by the rules above, at the coordinator's wall clock,
    /// and returns them (the hosting broker writes their tombstones). `pending` are partitions
    /// with a commit still being written.
    pub fn remove_expired_offsets(&mut self, ctx: &mut Ctx<'_, KafkaNode>, retention_ms: u64, pending: &BTreeSet<TopicPartition>) -> Vec<(TopicPartition, Offset)> {
        let now_ms = ctx.wall_clock_ms();
        let no_topics = BTreeSet::new();
        let rule = match (self.protocol_type.as_deref(), self.state) {
            (Some(_), GroupState::Empty) => Some((Since::StateChange, &no_topics)),
            (Some("consumer"), state) if state == GroupState::Stable || self.config.kafka_13636 => {
                self.subscribed_topics.as_ref().map(|topics| (Since::Commit, topics))
            }
            (None, _) => Some((Since::Commit, &no_topics)),
            _ => None,
        };
        let Some((since, subscribed)) = rule else { return Vec::new() };
        let expired: Vec<(TopicPartition, Offset)> = self
            .offsets
            .iter()
            .filter(|(tp, _)| !subscribed.contains(tp.topic.as_str()) && !pending.contains(*tp))
            .filter(|(tp, _)| {
                let committed = self.commit_timestamps_ms.get(*tp).copied().unwrap_or(0);
                let base = if since == Since::StateChange { self.state_since_ms.unwrap_or(committed) } else { committed };
                now_ms.saturating_sub(base) >= retention_ms
            })
            .map(|(tp, o)| (tp.clone(), *o))
            .collect();
        if expired.is_empty() {
            return expired;
        }
        for (tp, _) in &expired {
            self.offsets.remove(tp);
            self.commit_timestamps_ms.remove(tp);
        }
        ctx.mark("group.offsets.expired");
        if !matches!(self.state, GroupState::Empty | GroupState::Stable) {
            ctx.mark("group.offsets.expired_during_rebalance");
        }
        let (g, n, state) = (self.group_id.clone(), expired.len(), self.state);
        let why = if since == Since::StateChange { "since the group became Empty" } else { "since their commit" };
        ctx.explain(|| format!("group {g} ({state:?}): {n} committed offset(s) expired, offsets.retention.minutes passed {why}"));
        ctx.observe(Observation::OffsetsExpired {
            group: self.group_id.clone(),
            offsets: expired.clone(),
            state: format!("{state:?}"),
            members: self.members.len(),
            subscribed: self.topics_members_subscribe().into_iter().collect(),
        });
        expired
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::actor::Effect;
    use crate::model::group::protocol::Subscription;
    use crate::model::group::{GroupConfig, Member};
    use crate::model::ids::NodeId;
    use crate::model::SimTime;

    const RETENTION_MS: u64 = 60_000;

    /// A group of one member subscribed to "orders", with offsets of orders-0 and audit-0
    /// committed at 5 s.
    fn group(state: GroupState, kafka_13636: bool) -> Group {
        let mut g = Group::new("billing", GroupConfig { kafka_13636, ..GroupConfig::default() });
        g.protocol_type = Some("consumer".into());
        g.protocol_name = Some("range".into());
        let sub = Subscription { topics: vec!["orders".into()], ..Subscription::default() };
        let member = Member {
            member_id: "c1-1".into(),
            client_id: "c1".into(),
            protocols: vec![("range".into(), sub)],
            session_timeout_ms: 6_000,
            rebalance_timeout_ms: 300_000,
            awaiting_join: None,
            awaiting_sync: None,
            assignment: vec![],
            is_new: true,
        };
        g.members.insert(member.member_id.clone(), member);
        g.state = state;
        for topic in ["orders", "audit"] {
            g.offsets.insert(TopicPartition::new(topic, 0), Offset(37));
            g.commit_timestamps_ms.insert(TopicPartition::new(topic, 0), 5_000);
        }
        g
    }

    /// Runs the expiry at `now_ms` of virtual time on a node whose clock is `skew_ms` off.
    fn expire(g: &mut Group, now_ms: u64, skew_ms: i64) -> (Vec<(TopicPartition, Offset)>, Vec<Effect<KafkaNode>>) {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut out = Vec::new();
        let mut ctx = Ctx::new(SimTime(now_ms * 1_000), NodeId(0), &mut rng, &mut out, None).with_clock_offset(skew_ms);
        let expired = g.remove_expired_offsets(&mut ctx, RETENTION_MS, &BTreeSet::new());
        (expired, out)
    }

    fn topics(expired: &[(TopicPartition, Offset)]) -> Vec<String> {
        expired.iter().map(|(tp, _)| tp.to_string()).collect()
    }

    #[test]
    fn kafka_13636_switch_expires_offsets_of_a_rejoining_group_from_their_commit() {
        // The group went Empty (subscribed topics: none), and c1-1 is rejoining.
        let mut g = group(GroupState::PreparingRebalance, true);
        g.subscribed_topics = Some(BTreeSet::new());
        g.state_since_ms = Some(95_000);
        let (expired, fx) = expire(&mut g, 100_000, 0);
        assert_eq!(topics(&expired), ["audit-0", "orders-0"]);
        assert!(g.offsets.is_empty());
        let obs = fx.iter().find_map(|e| if let Effect::Observe(o) = e { Some(o.clone()) } else { None }).expect("observed");
        let Observation::OffsetsExpired { state, members, subscribed, .. } = obs else { panic!("{obs:?}") };
        assert_eq!((state.as_str(), members, subscribed), ("PreparingRebalance", 1, vec!["orders".to_string()]));
        assert!(fx.iter().any(|e| matches!(e, Effect::Mark("group.offsets.expired_during_rebalance"))));
    }

    #[test]
    fn with_the_fix_nothing_expires_during_a_rebalance() {
        let mut g = group(GroupState::PreparingRebalance, false);
        g.subscribed_topics = Some(BTreeSet::new());
        let (expired, fx) = expire(&mut g, 100_000, 0);
        assert!(expired.is_empty() && fx.is_empty());
        assert_eq!(g.offsets.len(), 2);
    }

    #[test]
    fn a_stable_group_keeps_its_subscribed_topics_and_loses_the_others() {
        let mut g = group(GroupState::Stable, false);
        g.subscribed_topics = g.compute_subscribed_topics();
        assert_eq!(expire(&mut g, 64_000, 0).0, vec![], "not yet 60 s since the commit");
        assert_eq!(topics(&expire(&mut g, 65_000, 0).0), ["audit-0"]);
        assert_eq!(topics(&expire(&mut g, 900_000, 0).0), Vec::<String>::new(), "orders is subscribed");
    }

    #[test]
    fn an_empty_group_measures_from_when_it_became_empty_on_its_wall_clock() {
        let mut g = group(GroupState::Empty, false);
        g.members.clear();
        g.state_since_ms = Some(90_000);
        assert!(expire(&mut g, 100_000, 0).0.is_empty(), "empty for 10 s only");
        // The coordinator's clock jumps a minute ahead: the same instant is past the retention.
        assert_eq!(topics(&expire(&mut g, 100_000, 60_000).0), ["audit-0", "orders-0"]);
    }
}
