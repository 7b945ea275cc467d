//! Fault triggers in protocol terms: validation (with `file:line:col` errors) and the conditions
//! the engine checks after every step. Each condition reads only what has happened so far: the
//! history and coverage marks (scanned incrementally, from where the last check stopped), and the
//! coordinators' and the controller's state.

use std::ops::Range;

use super::format::{GroupStateName, TriggerSection};
use super::{Roles, Scenario};
use crate::engine::{Condition, World};
use crate::model::group::GroupState;
use crate::model::{KafkaNode, Observation, Offset, TopicPartition};

type Invalid = (Range<usize>, String);

/// The kinds of trigger, for error messages.
const KINDS: &str = "one of: { group, state[, generation] }, { consumer, processed }, { producer, acked }, { partition, leader_epoch }, { partition, acked_offset[, producer] }, { mark[, node][, count] }";

/// Checks that `t` is exactly one kind of trigger, naming things that exist.
pub(super) fn validate(scenario: &Scenario, t: &toml::Spanned<TriggerSection>) -> Result<(), Invalid> {
    let span = t.span();
    let t = t.get_ref();
    let f = &scenario.file;
    let client = |name: &toml::Spanned<String>, consumers: bool| -> Result<(), Invalid> {
        let known: Vec<&String> =
            if consumers { f.consumers.iter().map(|c| c.name.get_ref()).collect() } else { f.producers.iter().map(|p| p.name.get_ref()).collect() };
        if known.contains(&name.get_ref()) {
            Ok(())
        } else {
            let what = if consumers { "consumer" } else { "producer" };
            let names: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
            Err((name.span(), format!("unknown {what} '{}', expected one of: {}", name.get_ref(), names.join(", "))))
        }
    };
    let kinds = [t.group.is_some(), t.consumer.is_some(), t.producer.is_some() && t.partition.is_none(), t.partition.is_some(), t.mark.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err((span, format!("a trigger is {KINDS}")));
    }
    if let Some(g) = &t.group {
        let groups: Vec<&String> = f.consumers.iter().filter_map(|c| c.group_id.as_ref().map(|g| g.get_ref())).collect();
        if !groups.contains(&g.get_ref()) {
            let names: Vec<&str> = groups.iter().map(|s| s.as_str()).collect();
            return Err((g.span(), format!("no consumer is in group '{}'; groups: {}", g.get_ref(), names.join(", "))));
        }
        if t.state.is_none() && t.generation.is_none() {
            return Err((span, "a group trigger needs `state` (Empty, PreparingRebalance, CompletingRebalance, Stable, Dead) and/or `generation`".into()));
        }
    }
    if let Some(c) = &t.consumer {
        client(c, true)?;
        if t.processed.is_none() {
            return Err((span, "a consumer trigger needs `processed = <records>`".into()));
        }
    }
    if let Some(p) = &t.producer {
        client(p, false)?;
        if t.partition.is_none() && t.acked.is_none() {
            return Err((span, "a producer trigger needs `acked = <records>`".into()));
        }
    }
    if let Some(p) = &t.partition {
        // `__consumer_offsets-N` too, when the scenario has groups: its leader is the coordinator.
        let offsets_topic = |tp: &TopicPartition| {
            tp.topic == crate::model::group::protocol::CONSUMER_OFFSETS
                && f.consumers.iter().any(|c| c.group_id.is_some())
                && tp.partition < *f.cluster.offsets_topic_partitions.get_ref()
        };
        let tp = parse_partition(p.get_ref())
            .filter(|tp| offsets_topic(tp) || f.topics.iter().any(|t| *t.name.get_ref() == tp.topic && tp.partition < *t.partitions.get_ref()));
        if tp.is_none() {
            return Err((p.span(), format!("unknown partition '{}': write <topic>-<partition>, e.g. orders-0", p.get_ref())));
        }
        if t.leader_epoch.is_some() == t.acked_offset.is_some() {
            return Err((span, "a partition trigger needs either `leader_epoch` or `acked_offset`".into()));
        }
    }
    if let Some(m) = &t.mark {
        if !crate::model::marks::ALL.contains(&m.get_ref().as_str()) {
            return Err((m.span(), format!("unknown coverage mark '{}'; `kafkasim marks` lists them", m.get_ref())));
        }
        if let Some(n) = &t.node {
            if scenario.node_id(n.get_ref()).is_none() {
                return Err((n.span(), format!("unknown node '{}', expected one of: {}", n.get_ref(), scenario.node_names().join(", "))));
            }
        }
    }
    Ok(())
}

fn parse_partition(s: &str) -> Option<TopicPartition> {
    let (topic, p) = s.rsplit_once('-')?;
    Some(TopicPartition::new(topic, p.parse().ok()?))
}

/// A readable description of the trigger, for the trace and reports.
pub(super) fn describe(t: &TriggerSection) -> String {
    let name = |s: &Option<toml::Spanned<String>>| s.as_ref().map(|n| n.get_ref().clone()).unwrap_or_default();
    if t.group.is_some() {
        let state = t.state.map(|s| format!(" enters {s:?}")).unwrap_or_default();
        let gen = t.generation.map(|g| format!(" (generation {g})")).unwrap_or_default();
        return format!("group {}{state}{gen}", name(&t.group));
    }
    if t.consumer.is_some() {
        return format!("{} has processed {} records", name(&t.consumer), t.processed.unwrap_or(0));
    }
    if let Some(e) = t.leader_epoch {
        return format!("{} has a leader in epoch {e}", name(&t.partition));
    }
    if let Some(o) = t.acked_offset {
        let by = t.producer.as_ref().map(|p| format!(" to {}", p.get_ref())).unwrap_or_default();
        return format!("{} acknowledged offset {o}{by}", name(&t.partition));
    }
    if t.producer.is_some() {
        return format!("{} has had {} records acknowledged", name(&t.producer), t.acked.unwrap_or(0));
    }
    let on = t.node.as_ref().map(|n| format!(" on {}", n.get_ref())).unwrap_or_default();
    format!("mark {}{on} reached {} time(s)", name(&t.mark), t.count.unwrap_or(1))
}

/// The condition the engine checks after every step.
pub(super) fn condition(scenario: &Scenario, roles: &Roles, t: &TriggerSection) -> Condition<KafkaNode> {
    let node = |s: &Option<toml::Spanned<String>>| s.as_ref().and_then(|n| scenario.node_id(n.get_ref()));
    if let Some(group) = t.group.as_ref().map(|g| g.get_ref().clone()) {
        let (state, generation) = (t.state.map(group_state), t.generation);
        let brokers = roles.brokers.clone();
        return Box::new(move |w| {
            brokers.iter().any(|b| match w.actor(*b) {
                Some(KafkaNode::Broker(broker)) => broker.groups.get(&group).is_some_and(|g| {
                    state.is_none_or(|s| g.state == s) && generation.is_none_or(|n| g.generation_id == n) && !broker.loading.contains(&broker.config.layout.coordinator_partition(&group))
                }),
                _ => false,
            })
        });
    }
    if let Some(consumer) = node(&t.consumer) {
        let goal = t.processed.unwrap_or(0);
        let mut seen = HistoryScan::default();
        let mut done = 0u64;
        return Box::new(move |w| {
            seen.scan(w, |h| {
                if let (true, Observation::Processed { from, through, .. }) = (h.node == consumer, &h.obs) {
                    done += (through.0 - from.0).max(0) as u64;
                }
            });
            done >= goal
        });
    }
    if let Some(p) = t.partition.as_ref().and_then(|p| parse_partition(p.get_ref())) {
        if let Some(epoch) = t.leader_epoch {
            let controller = roles.controller;
            return Box::new(move |w| match w.actor(controller) {
                Some(KafkaNode::Controller(c)) => c.image.partitions.get(&p).is_some_and(|s| s.leader_epoch.0 >= epoch && s.leader.is_some()),
                _ => false,
            });
        }
        let goal = Offset(t.acked_offset.unwrap_or(0));
        let producer = node(&t.producer);
        let mut seen = HistoryScan::default();
        let mut reached = false;
        return Box::new(move |w| {
            seen.scan(w, |h| {
                if let Observation::ProduceAcked { partition, offset: Some(o), .. } = &h.obs {
                    if *partition == p && *o >= goal && producer.is_none_or(|n| n == h.node) {
                        reached = true;
                    }
                }
            });
            reached
        });
    }
    if let Some(producer) = node(&t.producer) {
        let goal = t.acked.unwrap_or(0);
        let mut seen = HistoryScan::default();
        let mut acked = 0u64;
        return Box::new(move |w| {
            seen.scan(w, |h| {
                if h.node == producer && matches!(h.obs, Observation::ProduceAcked { .. }) {
                    acked += 1;
                }
            });
            acked >= goal
        });
    }
    let mark = crate::model::marks::ALL.iter().copied().find(|m| Some(*m) == t.mark.as_ref().map(|m| m.get_ref().as_str())).unwrap_or("");
    let on = node(&t.node);
    let goal = t.count.unwrap_or(1);
    let mut next = 0;
    let mut count = 0;
    Box::new(move |w| {
        let log = w.mark_log();
        for (_, n, name) in &log[next..] {
            if *name == mark && on.is_none_or(|o| o == *n) {
                count += 1;
            }
        }
        next = log.len();
        count >= goal
    })
}

fn group_state(s: GroupStateName) -> GroupState {
    match s {
        GroupStateName::Empty => GroupState::Empty,
        GroupStateName::PreparingRebalance => GroupState::PreparingRebalance,
        GroupStateName::CompletingRebalance => GroupState::CompletingRebalance,
        GroupStateName::Stable => GroupState::Stable,
        GroupStateName::Dead => GroupState::Dead,
    }
}

/// Reads the history from where the last scan stopped.
#[derive(Default)]
struct HistoryScan {
    next: usize,
}

impl HistoryScan {
    fn scan(&mut self, w: &World<KafkaNode>, mut each: impl FnMut(&crate::engine::HistoryEntry<Observation>)) {
        let history = w.history();
        for h in &history[self.next..] {
            each(h);
        }
        self.next = history.len();
    }
}
