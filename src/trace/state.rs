//! The cluster's state after each step, as far as the trace shows it.
//!
//! [`StateFold`] walks a run's steps in order and keeps what a reader would want on a panel beside
//! the explained line: per partition its leader, leader epoch and ISR (from the metadata images
//! the controller publishes), and per replica its log end offset and high watermark; per consumer
//! group its coordinator and the coordinator's state, the generation, its leader, members and
//! assignment, and the offsets committed; per consumer its group, generation, partitions and
//! position in each.
//!
//! A trace does not carry a node's whole state, only what each step did. The fold reads:
//!
//! - metadata images (UpdateMetadata, BrokerHeartbeat answers): leader, epochs, ISR, replicas;
//! - the brokers' explanations: a leader's append (`leader b1 appended … at offsets A..B`), a high
//!   watermark that advanced, a new leader's epoch start and HW, and every truncation;
//! - a follower's FetchRequest (its fetch offset is its log end offset) and the FetchResponse it
//!   gets (contiguous batches extend the log, the HW becomes min(leader's HW, LEO));
//! - the consumers' observations: joined, assigned, revoked, position set, polled, committed;
//! - a JoinGroup answer to the group's leader: the leader and the members.
//!
//! What the trace does not tell stays `None` (shown as "unknown"): a broker's log after a restart
//! until it says, a group's state before its coordinator explains a transition.

use std::collections::BTreeMap;

use serde_json::Value;

use super::step::{Body, Step, Wire};
use crate::model::protocol::{ErrorCode, Msg};

/// One replica of a partition, on one broker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replica {
    /// Log end offset.
    pub leo: Option<i64>,
    pub hw: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionView {
    /// `Some(None)`: the metadata says no leader; `None`: no metadata seen yet.
    pub leader: Option<Option<String>>,
    pub leader_epoch: Option<i32>,
    pub isr: Option<Vec<String>>,
    pub replicas_assigned: Vec<String>,
    /// By broker name.
    pub replicas: BTreeMap<String, Replica>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupView {
    /// The broker that explained a state change of this group last.
    pub coordinator: Option<String>,
    /// `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable`, `Dead`.
    pub state: Option<String>,
    pub generation: Option<i32>,
    /// The generation's leader, by node name.
    pub leader: Option<String>,
    /// Members of the generation, by node name (from the leader's JoinGroup answer).
    pub members: Vec<String>,
    /// Node name → its partitions in the current generation.
    pub assignment: BTreeMap<String, Vec<String>>,
    /// Partition → the last offset committed with NONE.
    pub committed: BTreeMap<String, i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerView {
    pub group: Option<String>,
    pub member_id: Option<String>,
    pub generation: Option<i32>,
    pub assigned: Vec<String>,
    /// Partition → the offset of the next record it will read.
    pub positions: BTreeMap<String, i64>,
    /// `stopped` or `killed` while the node is down.
    pub down: Option<String>,
}

/// The state after a step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterState {
    pub partitions: BTreeMap<String, PartitionView>,
    pub groups: BTreeMap<String, GroupView>,
    pub consumers: BTreeMap<String, ConsumerView>,
}

/// The separator of a cell's key: panel, row, column.
pub const SEP: char = '\u{1f}';

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "unknown".to_string(), ToString::to_string)
}

fn list(v: &[String]) -> String {
    format!("[{}]", v.join(", "))
}

impl ClusterState {
    /// The state as table cells: `panel SEP row SEP column` → text. What the viewer shows, and
    /// what it stores as differences from step to step.
    pub fn cells(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut put = |panel: &str, row: &str, col: &str, v: String| {
            out.insert(format!("{panel}{SEP}{row}{SEP}{col}"), v);
        };
        for (tp, p) in &self.partitions {
            let leader = match &p.leader {
                None => "unknown".to_string(),
                Some(None) => "none".to_string(),
                Some(Some(b)) => b.clone(),
            };
            put("partitions", tp, "leader", leader);
            put("partitions", tp, "epoch", opt(&p.leader_epoch));
            put("partitions", tp, "ISR", p.isr.as_ref().map_or_else(|| "unknown".to_string(), |v| list(v)));
            let mut brokers: Vec<&String> = p.replicas_assigned.iter().collect();
            for b in p.replicas.keys() {
                if !brokers.contains(&b) {
                    brokers.push(b);
                }
            }
            brokers.sort();
            for b in brokers {
                let r = p.replicas.get(b).cloned().unwrap_or_default();
                put("partitions", tp, &format!("{b} LEO/HW"), format!("{}/{}", opt(&r.leo), opt(&r.hw)));
            }
        }
        for (g, v) in &self.groups {
            put("groups", g, "coordinator", opt(&v.coordinator));
            put("groups", g, "state", opt(&v.state));
            put("groups", g, "generation", opt(&v.generation));
            put("groups", g, "leader", opt(&v.leader));
            put("groups", g, "members", list(&v.members));
            let a: Vec<String> = v.assignment.iter().map(|(m, tps)| format!("{m}={}", list(tps))).collect();
            put("groups", g, "assignment", a.join(" "));
            let c: Vec<String> = v.committed.iter().map(|(tp, o)| format!("{tp}={o}")).collect();
            put("groups", g, "committed", c.join(" "));
        }
        for (c, v) in &self.consumers {
            put("consumers", c, "group", opt(&v.group));
            put("consumers", c, "generation", opt(&v.generation));
            put("consumers", c, "assigned", list(&v.assigned));
            let p: Vec<String> = v.positions.iter().map(|(tp, o)| format!("{tp}@{o}")).collect();
            put("consumers", c, "positions", p.join(" "));
            if let Some(d) = &v.down {
                put("consumers", c, "down", d.clone());
            }
        }
        out
    }
}

/// Walks steps in order, keeping the [`ClusterState`].
pub struct StateFold {
    names: Vec<String>,
    state: ClusterState,
    /// Member id → the node it belongs to.
    member_nodes: BTreeMap<String, String>,
    /// What a JoinGroup answer told a node, until its `joined` observation names the group:
    /// (leader member id, members' ids).
    pending_join: BTreeMap<String, (String, Vec<String>)>,
}

impl StateFold {
    pub fn new(names: &[String]) -> StateFold {
        StateFold { names: names.to_vec(), state: ClusterState::default(), member_nodes: BTreeMap::new(), pending_join: BTreeMap::new() }
    }

    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    fn name(&self, n: u32) -> String {
        self.names.get(n as usize).cloned().unwrap_or_else(|| format!("n{n}"))
    }

    fn member(&self, id: &str) -> String {
        self.member_nodes.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    fn replica(&mut self, tp: &str, broker: &str) -> &mut Replica {
        self.state.partitions.entry(tp.to_string()).or_default().replicas.entry(broker.to_string()).or_default()
    }

    /// Folds one step in.
    pub fn apply(&mut self, s: &Step) {
        let here = s.node.map(|n| self.name(n));
        if let Some(node) = &here {
            // "events-0: became leader in epoch 2; the epoch starts at offset 103; HW is 103":
            // a sentence without a partition is about the one before.
            let mut current: Option<String> = None;
            for sentence in s.explanation.split("; ") {
                self.explained(node, sentence, &mut current);
            }
        }
        match &s.body {
            Body::Start { restart: true } => {
                // A restarted broker recovers its log from disk: what survived is not in the trace
                // until it says.
                if let Some(node) = &here {
                    for p in self.state.partitions.values_mut() {
                        if let Some(r) = p.replicas.get_mut(node) {
                            *r = Replica::default();
                        }
                    }
                    if let Some(c) = self.state.consumers.get_mut(node) {
                        *c = ConsumerView { group: c.group.clone(), ..ConsumerView::default() };
                    }
                }
            }
            Body::Send { msg: Wire::Known(m), .. } => {
                if let (Msg::FetchRequest(r), Some(node)) = (m.as_ref(), &here) {
                    if r.replica_id.is_some() {
                        for p in &r.partitions {
                            self.replica(&p.partition.to_string(), node).leo = Some(p.fetch_offset.0);
                        }
                    }
                }
            }
            Body::Lifecycle { change } if change == "stopped" || change == "killed" => {
                // A consumer that is down owns nothing and reads nothing.
                if let Some(c) = here.as_ref().and_then(|n| self.state.consumers.get_mut(n)) {
                    *c = ConsumerView { group: c.group.clone(), down: Some(change.clone()), ..ConsumerView::default() };
                }
            }
            Body::Start { restart: false } => {
                if let Some(c) = here.as_ref().and_then(|n| self.state.consumers.get_mut(n)) {
                    c.down = None;
                }
            }
            Body::Deliver { msg: Wire::Known(m), .. } => self.delivered(here.as_deref().unwrap_or("?"), m),
            Body::Observe { obs } => {
                if let Some(node) = &here {
                    self.observed(node, obs);
                }
            }
            _ => {}
        }
    }

    fn delivered(&mut self, node: &str, m: &Msg) {
        match m {
            Msg::UpdateMetadataRequest(r) => self.image(&r.metadata),
            Msg::BrokerHeartbeatResponse(r) => {
                if let Some(i) = &r.metadata {
                    self.image(i);
                }
            }
            Msg::FetchResponse(r) => {
                // A follower's answer (a consumer's fetches do not change any replica).
                if !self.state.partitions.values().any(|p| p.replicas_assigned.iter().any(|b| b == node)) {
                    return;
                }
                for d in &r.partitions {
                    let tp = d.partition.to_string();
                    if d.error_code != ErrorCode::None || d.diverging_epoch.is_some() {
                        continue; // a truncation, if any, is explained
                    }
                    let Some(p) = self.state.partitions.get(&tp) else { continue };
                    if p.leader.as_ref().and_then(|l| l.as_deref()) == Some(node) {
                        continue;
                    }
                    let r = self.replica(&tp, node);
                    let Some(mut leo) = r.leo else { continue };
                    for b in &d.records {
                        if b.base_offset.0 == leo {
                            leo = b.next_offset().0;
                        }
                    }
                    r.leo = Some(leo);
                    let hw = d.high_watermark.0.min(leo);
                    if r.hw.is_none_or(|h| hw > h) {
                        r.hw = Some(hw);
                    }
                }
            }
            Msg::JoinGroupResponse(r) if r.error_code == ErrorCode::None && !r.member_id.is_empty() => {
                self.member_nodes.insert(r.member_id.clone(), node.to_string());
                let members = r.members.iter().map(|(id, _)| id.clone()).collect();
                self.pending_join.insert(node.to_string(), (r.leader.clone(), members));
            }
            _ => {}
        }
    }

    fn image(&mut self, image: &crate::model::metadata::MetadataImage) {
        for (tp, ps) in &image.partitions {
            let p = self.state.partitions.entry(tp.to_string()).or_default();
            p.leader = Some(ps.leader.map(|b| b.to_string()));
            p.leader_epoch = Some(ps.leader_epoch.0);
            p.isr = Some(ps.isr.iter().map(ToString::to_string).collect());
            p.replicas_assigned = ps.replicas.iter().map(ToString::to_string).collect();
        }
    }

    /// One sentence of a broker's explanation.
    fn explained(&mut self, node: &str, text: &str, current: &mut Option<String>) {
        if let Some(tp) = current.clone() {
            if let Some(o) = text.strip_prefix("the epoch starts at offset ").and_then(int) {
                self.replica(&tp, node).leo = Some(o);
                return;
            }
            if let Some(h) = text.strip_prefix("HW is ").and_then(int) {
                self.replica(&tp, node).hw = Some(h);
                return;
            }
        }
        *current = None;
        // leader b1 appended 82 record(s) of events-0 at offsets 429..510 in leader epoch 1 …
        if let Some(rest) = text.strip_prefix("leader ") {
            if let (Some((who, rest)), true) = (rest.split_once(" appended "), text.contains(" at offsets ")) {
                if let Some((tp, range)) = rest.split_once(" of ").and_then(|(_, r)| r.split_once(" at offsets ")) {
                    if let Some(last) = range.split_once("..").and_then(|(_, b)| int(b.split(' ').next().unwrap_or(""))) {
                        let who = who.to_string();
                        self.replica(tp, &who).leo = Some(last + 1);
                    }
                }
            }
            return;
        }
        // high watermark of events-0 advanced to 511
        if let Some(rest) = text.strip_prefix("high watermark of ") {
            if let Some((tp, hw)) = rest.split_once(" advanced to ").and_then(|(tp, h)| Some((tp, int(h)?))) {
                self.replica(tp, node).hw = Some(hw);
            }
            return;
        }
        // group orders-app: Empty → PreparingRebalance (generation 1)
        if let Some(rest) = text.strip_prefix("group ") {
            if let Some((g, change)) = rest.split_once(": ") {
                if let Some((_, to)) = change.split_once(" → ") {
                    let (state, generation) = match to.split_once(" (generation ") {
                        Some((st, gen)) => (st, int(gen.trim_end_matches(')'))),
                        None => (to, None),
                    };
                    if !state.contains(' ') {
                        let v = self.state.groups.entry(g.to_string()).or_default();
                        v.state = Some(state.to_string());
                        v.coordinator = Some(node.to_string());
                        if let Some(gen) = generation {
                            v.generation = Some(gen as i32);
                        }
                    }
                }
            }
            return;
        }
        let Some((tp, what)) = text.split_once(": ") else { return };
        if tp.contains(' ') {
            return;
        }
        *current = Some(tp.to_string());
        // truncations: "… truncated to its own HW 103 (LEO was 511)", "… truncated from 511 to 266",
        // "… it starts again, empty, at 40".
        if let Some(rest) = what.split_once("truncated to its own HW ").map(|(_, r)| r) {
            if let Some(to) = int(rest.split(' ').next().unwrap_or("")) {
                let r = self.replica(tp, node);
                r.leo = Some(to);
                r.hw = Some(to);
            }
        } else if let Some((_, rest)) = what.split_once("truncated from ") {
            if let Some(to) = rest.split_once(" to ").and_then(|(_, t)| int(t.rsplit(' ').next().unwrap_or(t))) {
                self.replica(tp, node).leo = Some(to);
            }
        } else if let Some((_, rest)) = what.split_once("it starts again, empty, at ") {
            if let Some(to) = int(rest) {
                let r = self.replica(tp, node);
                r.leo = Some(to);
                r.hw = Some(to);
            }
        }
    }

    fn observed(&mut self, node: &str, obs: &Value) {
        let s = |k: &str| obs[k].as_str().map(str::to_string);
        let tps = |k: &str| -> Vec<String> { obs[k].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default() };
        match obs["op"].as_str().unwrap_or("") {
            "joined" => {
                let Some(group) = s("group") else { return };
                let generation = obs["generation"].as_i64().map(|g| g as i32);
                let c = self.state.consumers.entry(node.to_string()).or_default();
                c.group = Some(group.clone());
                c.generation = generation;
                c.member_id = s("member_id");
                if let Some(id) = s("member_id") {
                    self.member_nodes.insert(id, node.to_string());
                    // A leader's answer may name members before they learned their ids.
                    let map = self.member_nodes.clone();
                    for g in self.state.groups.values_mut() {
                        for m in g.members.iter_mut().chain(g.leader.iter_mut()) {
                            if let Some(n) = map.get(m.as_str()) {
                                *m = n.clone();
                            }
                        }
                        g.members.sort();
                    }
                }
                let pending = self.pending_join.remove(node);
                let g = self.state.groups.entry(group.clone()).or_default();
                if generation.is_some() && g.generation != generation {
                    g.generation = generation;
                }
                if let Some((leader, members)) = pending {
                    let leader = self.member(&leader);
                    let members: Vec<String> = members.iter().map(|m| self.member(m)).collect();
                    let g = self.state.groups.get_mut(&group).expect("just inserted");
                    if g.leader.as_ref() != Some(&leader) || !members.is_empty() {
                        g.leader = Some(leader);
                    }
                    if !members.is_empty() {
                        let mut members = members;
                        members.sort();
                        g.members = members;
                        g.assignment.clear();
                    }
                }
            }
            "assigned" => {
                let Some(group) = s("group") else { return };
                let partitions = tps("partitions");
                let c = self.state.consumers.entry(node.to_string()).or_default();
                c.group = Some(group.clone());
                c.generation = obs["generation"].as_i64().map(|g| g as i32).or(c.generation);
                c.assigned = partitions.clone();
                c.positions.retain(|tp, _| partitions.contains(tp));
                let g = self.state.groups.entry(group).or_default();
                g.assignment.insert(node.to_string(), partitions);
            }
            "revoked" => {
                let gone = tps("partitions");
                if let Some(c) = self.state.consumers.get_mut(node) {
                    c.assigned.retain(|tp| !gone.contains(tp));
                    c.positions.retain(|tp, _| !gone.contains(tp));
                }
            }
            "position_set" => {
                if let (Some(tp), Some(o)) = (s("partition"), obs["offset"].as_i64()) {
                    self.state.consumers.entry(node.to_string()).or_default().positions.insert(tp, o);
                }
            }
            "polled" => {
                let last = obs["records"].as_array().and_then(|a| a.last()).and_then(|r| r[0].as_i64());
                if let (Some(tp), Some(last)) = (s("partition"), last) {
                    self.state.consumers.entry(node.to_string()).or_default().positions.insert(tp, last + 1);
                }
            }
            "committed" if obs["error"].as_str() == Some("NONE") => {
                let Some(group) = s("group") else { return };
                let g = self.state.groups.entry(group).or_default();
                for p in obs["offsets"].as_array().into_iter().flatten() {
                    if let (Some(tp), Some(o)) = (p[0].as_str(), p[1].as_i64()) {
                        g.committed.insert(tp.to_string(), o);
                    }
                }
            }
            _ => {}
        }
    }
}

fn int(s: &str) -> Option<i64> {
    s.trim().trim_end_matches([')', ',', '.']).parse().ok()
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;
    use crate::explore::{run_scenario, RunOptions};
    use crate::scenario::Scenario;
    use crate::trace::step::StepSink;

    /// The steps of a scenario's run (its default seed), and the node names.
    fn run(path: &str) -> (Vec<String>, Vec<Step>) {
        let scenario = Scenario::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
        let steps: Rc<RefCell<Vec<Step>>> = Rc::default();
        let options = RunOptions { sink: Some(Box::new(StepSink { steps: steps.clone() })), ..RunOptions::default() };
        run_scenario(&scenario, scenario.default_seed(), options);
        let steps = std::mem::take(&mut *steps.borrow_mut());
        (scenario.node_names(), steps)
    }

    /// The state after the step with this seq.
    fn at(names: &[String], steps: &[Step], seq: u64) -> ClusterState {
        let mut fold = StateFold::new(names);
        for s in steps.iter().take_while(|s| s.seq <= seq) {
            fold.apply(s);
        }
        fold.state().clone()
    }

    fn replica(st: &ClusterState, tp: &str, b: &str) -> (Option<i64>, Option<i64>) {
        let r = &st.partitions[tp].replicas[b];
        (r.leo, r.hw)
    }

    #[test]
    fn a_group_forms_and_its_consumers_read() {
        let (names, steps) = run("scenarios/learn/group-forms-and-assigns.toml");
        // Before anything: nothing is known.
        let st = at(&names, &steps, 0);
        assert!(st.partitions.is_empty() && st.groups.is_empty() && st.consumers.is_empty());
        // seq 310: the coordinator b0 takes the first JoinGroup with a member id.
        let g = &at(&names, &steps, 310).groups["orders-app"];
        assert_eq!((g.coordinator.as_deref(), g.state.as_deref(), g.generation), (Some("b0"), Some("PreparingRebalance"), Some(0)));
        // seq 398: b2, leader of orders-2, appends the partition's first record.
        let st = at(&names, &steps, 398);
        assert_eq!(replica(&st, "orders-2", "b2"), (Some(1), Some(0)));
        let p = &st.partitions["orders-2"];
        assert_eq!((p.leader.clone(), p.leader_epoch, p.isr.clone()), (Some(Some("b2".into())), Some(0), Some(vec!["b2".into(), "b0".into(), "b1".into()])));
        // seq 20854: c2, the first to join, leads generation 1.
        let st = at(&names, &steps, 20854);
        let g = &st.groups["orders-app"];
        assert_eq!((g.generation, g.leader.as_deref()), (Some(1), Some("c2")));
        // seq 20951: every member has its partitions (range: c1 gets two).
        let st = at(&names, &steps, 20951);
        let g = &st.groups["orders-app"];
        assert_eq!(g.members, ["c1", "c2", "c3"]);
        let a: Vec<(&str, Vec<&str>)> = g.assignment.iter().map(|(m, tps)| (m.as_str(), tps.iter().map(String::as_str).collect())).collect();
        assert_eq!(a, [("c1", vec!["orders-0", "orders-1"]), ("c2", vec!["orders-2"]), ("c3", vec!["orders-3"])]);
        assert_eq!(g.state.as_deref(), Some("Stable"));
        assert!(st.consumers["c1"].positions.is_empty());
        // seq 20990: c1 starts orders-0 at the earliest offset.
        assert_eq!(at(&names, &steps, 20990).consumers["c1"].positions.get("orders-0"), Some(&0));
        // At the end: 800 records over four partitions, every one read; the replicas agree.
        let last = steps.last().unwrap().seq;
        let st = at(&names, &steps, last);
        let pos = |c: &str, tp: &str| st.consumers[c].positions[tp];
        assert_eq!((pos("c1", "orders-0"), pos("c1", "orders-1"), pos("c2", "orders-2"), pos("c3", "orders-3")), (250, 250, 100, 200));
        for b in ["b0", "b1", "b2"] {
            assert_eq!(replica(&st, "orders-0", b), (Some(250), Some(250)));
        }
        assert_eq!(st.consumers["c2"].assigned, ["orders-2"]);
    }

    #[test]
    fn a_stopped_consumer_owns_nothing_and_the_group_moves_on() {
        let (names, steps) = run("scenarios/learn/consumer-leaves-rebalance.toml");
        let stop = steps.iter().find(|s| matches!(&s.body, Body::Lifecycle { change } if change == "stopped")).unwrap();
        let who = names[stop.node.unwrap() as usize].clone();
        let before = at(&names, &steps, stop.seq - 1);
        assert!(!before.consumers[&who].assigned.is_empty());
        let c = &at(&names, &steps, stop.seq).consumers[&who];
        assert_eq!((c.down.as_deref(), c.assigned.len(), c.positions.len()), (Some("stopped"), 0, 0));
        // At the end the others share the four partitions in a later generation, and the group
        // has committed offsets.
        let st = at(&names, &steps, steps.last().unwrap().seq);
        let g = &st.groups["orders-app"];
        assert!(g.generation.unwrap() >= 2 && g.state.as_deref() == Some("Stable"), "{g:?}");
        assert!(!g.members.contains(&who), "{g:?}");
        let mut owned: Vec<&String> = g.assignment.iter().filter(|(m, _)| **m != who).flat_map(|(_, tps)| tps).collect();
        owned.sort();
        assert_eq!(owned, ["orders-0", "orders-1", "orders-2", "orders-3"]);
        assert!(!g.committed.is_empty());
    }

    #[test]
    fn a_truncation_to_the_high_watermark_shows() {
        let (names, steps) = run("scenarios/bugs/kip-101-truncate-to-hw.toml");
        let truncation = steps.iter().find(|s| s.explanation.contains("truncated to its own HW")).expect("the bug switch truncates");
        let before = at(&names, &steps, truncation.seq - 1);
        let after = at(&names, &steps, truncation.seq);
        let b = names[truncation.node.unwrap() as usize].clone();
        // The broker restarted just before: what it recovered is not in the trace yet.
        assert_eq!(replica(&before, "events-0", &b), (None, None));
        let text = truncation.explanation.split("truncated to its own HW ").nth(1).unwrap();
        let hw: i64 = text.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(replica(&after, "events-0", &b), (Some(hw), Some(hw)));
        // The leader's log ran further: the records past the HW are gone from this replica.
        let leader = after.partitions["events-0"].leader.clone().flatten().unwrap();
        assert_ne!(leader, b);
        assert!(replica(&after, "events-0", &leader).0.unwrap() > hw, "{:?}", after.partitions["events-0"]);
    }
}
