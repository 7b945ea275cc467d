//! The network model: TCP-like ordered connections over links with latency, loss and
//! duplication, partitions of any shape, clogging, and message rules.
//!
//! A pure data structure owned by the engine: it decides what happens to each message and keeps
//! the messages held on clogged links, but never sees actors. Connections are per directed link
//! `(from, to)`. Each has a generation, bumped when it breaks (a crash, a disconnect): a message
//! that arrives tagged with an older generation is dropped. Arrivals on one link are strictly
//! increasing, so a delayed message holds back the ones behind it, as on a TCP stream.
//!
//! A partition drops messages, checked when they are sent and again when they arrive; a clog
//! holds them until it is removed and then releases them in order. Nobody is told about a
//! partition while it lasts: as in a real network, peers find out through their own timeouts.
//! When it heals, every connection that lost a message to it is reset and both ends see the
//! disconnect. (A real TCP stream would either retransmit the lost segments once the network
//! heals or give up and end the connection; the model takes the second branch, so that no request
//! is left waiting forever for an answer that was silently dropped.)

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::chooser::{Choice, Chooser};
use crate::model::{NodeId, SimDuration, SimTime};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Latency {
    Constant(SimDuration),
    Uniform { min: SimDuration, max: SimDuration },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkConfig {
    pub latency: Latency,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Latency::Uniform { min: SimDuration::from_millis(1), max: SimDuration::from_millis(3) },
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetConfig {
    pub default_link: LinkConfig,
    /// Per directed link overrides.
    pub links: BTreeMap<(NodeId, NodeId), LinkConfig>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    Partitioned,
    Lost,
    Rule,
    ConnectionBroken,
    NodeDown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Deliver at `at` (and again at `dup_at` when duplicated), tagged with the connection
    /// generation.
    Deliver { at: SimTime, dup_at: Option<SimTime>, conn: u64 },
    /// The link is clogged: the caller hands the message to [`Network::hold`].
    Held { conn: u64 },
    Dropped(DropReason),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArriveOutcome {
    Deliver,
    /// The link is clogged now: the caller hands the message to [`Network::hold`].
    Held,
    Dropped(DropReason),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleAction {
    Drop,
    Delay(SimDuration),
    /// Delay without holding back the messages sent after it on the connection: they may
    /// overtake it (as a request sent later over another connection, or built earlier and sent
    /// later by a racing client thread, does).
    DelayOutOfOrder(SimDuration),
}

/// Matches messages by kind, source and destination (each optional) and drops or delays the next
/// `remaining` of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRule {
    pub kind: Option<String>,
    pub from: Option<NodeId>,
    pub to: Option<NodeId>,
    pub action: RuleAction,
    pub remaining: u32,
}

impl MessageRule {
    fn matches(&self, from: NodeId, to: NodeId, kind: &str) -> bool {
        self.remaining > 0
            && self.kind.as_deref().is_none_or(|k| k == kind)
            && self.from.is_none_or(|f| f == from)
            && self.to.is_none_or(|t| t == to)
    }
}

/// A message released by an unclog.
pub struct Release<P> {
    pub from: NodeId,
    pub to: NodeId,
    pub at: SimTime,
    pub conn: u64,
    pub payload: P,
}

#[derive(Clone, Debug, Default)]
struct Link {
    /// The link has been opened (a message went over it, or it was broken on purpose): only such
    /// links are broken again when a node goes down.
    present: bool,
    generation: u64,
    last_arrival: Option<SimTime>,
    used: bool,
}

/// Every directed link's state, indexed `[from][to]`: a message looks its link up in two array
/// steps (node ids are dense), and iterating visits links in `(from, to)` order.
#[derive(Default)]
struct Links {
    rows: Vec<Vec<Link>>,
}

impl Links {
    fn get(&self, from: NodeId, to: NodeId) -> Option<&Link> {
        self.rows.get(from.0 as usize).and_then(|r| r.get(to.0 as usize)).filter(|l| l.present)
    }

    /// The link, opened if it was not.
    fn open(&mut self, from: NodeId, to: NodeId) -> &mut Link {
        let (f, t) = (from.0 as usize, to.0 as usize);
        if self.rows.len() <= f {
            self.rows.resize_with(f + 1, Vec::new);
        }
        let row = &mut self.rows[f];
        if row.len() <= t {
            row.resize_with(t + 1, Link::default);
        }
        let link = &mut row[t];
        link.present = true;
        link
    }

    /// Every opened link, in `(from, to)` order.
    fn iter_mut(&mut self) -> impl Iterator<Item = ((NodeId, NodeId), &mut Link)> {
        self.rows.iter_mut().enumerate().flat_map(|(f, row)| {
            row.iter_mut().enumerate().filter(|(_, l)| l.present).map(move |(t, l)| ((NodeId(f as u32), NodeId(t as u32)), l))
        })
    }
}

pub struct Network<P> {
    config: NetConfig,
    links: Links,
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// Links on which a partition dropped a message: reset when the partition heals.
    lossy: BTreeSet<(NodeId, NodeId)>,
    clogged: BTreeSet<(NodeId, NodeId)>,
    /// Held messages per clogged link, with their connection generation, in order.
    held: BTreeMap<(NodeId, NodeId), VecDeque<(u64, P)>>,
    rules: Vec<MessageRule>,
    rule_hits: Vec<u32>,
    /// Extra latency of every message to or from a node (latency spikes).
    slow: BTreeMap<NodeId, SimDuration>,
}

impl<P> Network<P> {
    pub fn new(config: NetConfig) -> Self {
        Network {
            config,
            links: Links::default(),
            blocked: BTreeSet::new(),
            lossy: BTreeSet::new(),
            clogged: BTreeSet::new(),
            held: BTreeMap::new(),
            rules: Vec::new(),
            rule_hits: Vec::new(),
            slow: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &NetConfig {
        &self.config
    }

    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: LinkConfig) {
        self.config.links.insert((from, to), link);
    }

    fn link_config(&self, from: NodeId, to: NodeId) -> &LinkConfig {
        self.config.links.get(&(from, to)).unwrap_or(&self.config.default_link)
    }

    /// Decides what happens to a message of `kind` sent now.
    pub fn send(&mut self, now: SimTime, from: NodeId, to: NodeId, kind: &str, chooser: &mut dyn Chooser) -> SendOutcome {
        let link = self.links.open(from, to);
        link.used = true;
        let conn = link.generation;
        let mut extra = SimDuration::ZERO;
        let mut in_order = true;
        if let Some(i) = self.rules.iter().position(|r| r.matches(from, to, kind)) {
            self.rules[i].remaining -= 1;
            self.rule_hits[i] += 1;
            match self.rules[i].action {
                RuleAction::Drop => return SendOutcome::Dropped(DropReason::Rule),
                RuleAction::Delay(d) => extra = d,
                RuleAction::DelayOutOfOrder(d) => {
                    extra = d;
                    in_order = false;
                }
            }
        }
        if !self.blocked.is_empty() && self.blocked.contains(&(from, to)) {
            self.lossy.insert((from, to));
            return SendOutcome::Dropped(DropReason::Partitioned);
        }
        // A message sent on a clogged link goes in flight like any other and is held when it
        // arrives, behind the messages sent before it: holding it at once would let it overtake
        // them (the connection's order is the order of arrivals).
        let cfg = self.link_config(from, to).clone();
        if chooser.chance(Choice::Loss { from, to }, cfg.loss) {
            return SendOutcome::Dropped(DropReason::Lost);
        }
        let at = self.schedule(now, from, to, &cfg, extra, in_order, chooser);
        let dup_at = chooser.chance(Choice::Duplicate { from, to }, cfg.duplicate).then(|| self.schedule(now, from, to, &cfg, extra, in_order, chooser));
        SendOutcome::Deliver { at, dup_at, conn }
    }

    /// Every message to or from `node` takes `extra` longer from now on (zero: back to normal).
    /// Messages already in flight keep their arrival times.
    pub fn slow(&mut self, node: NodeId, extra: SimDuration) {
        if extra == SimDuration::ZERO {
            self.slow.remove(&node);
        } else {
            self.slow.insert(node, extra);
        }
    }

    /// Ends every latency spike.
    pub fn clear_slow(&mut self) {
        self.slow.clear();
    }

    /// Keeps a message on a clogged link until it is unclogged.
    pub fn hold(&mut self, from: NodeId, to: NodeId, conn: u64, payload: P) {
        self.held.entry((from, to)).or_default().push_back((conn, payload));
    }

    /// The arrival time of a new message on a link: its latency draw, but strictly after the
    /// previous arrival on the same link (unless it is delayed out of order: then it neither
    /// waits for the others nor holds them back).
    fn schedule(
        &mut self,
        now: SimTime,
        from: NodeId,
        to: NodeId,
        cfg: &LinkConfig,
        extra: SimDuration,
        in_order: bool,
        chooser: &mut dyn Chooser,
    ) -> SimTime {
        let latency = match cfg.latency {
            Latency::Constant(d) => d,
            Latency::Uniform { min, max } => chooser.duration(Choice::Latency { from, to }, min, max),
        };
        let spike = if self.slow.is_empty() {
            SimDuration::ZERO
        } else {
            [from, to].iter().filter_map(|n| self.slow.get(n)).fold(SimDuration::ZERO, |a, b| a + *b)
        };
        let link = self.links.open(from, to);
        let mut at = now + latency + extra + spike;
        if !in_order {
            return at;
        }
        if let Some(last) = link.last_arrival {
            at = at.max(last + SimDuration(1));
        }
        link.last_arrival = Some(at);
        at
    }

    /// Decides what happens to a message arriving now.
    pub fn arrive(&mut self, from: NodeId, to: NodeId, conn: u64) -> ArriveOutcome {
        let generation = self.links.get(from, to).map_or(0, |l| l.generation);
        if generation != conn {
            return ArriveOutcome::Dropped(DropReason::ConnectionBroken);
        }
        if !self.blocked.is_empty() && self.blocked.contains(&(from, to)) {
            self.lossy.insert((from, to));
            return ArriveOutcome::Dropped(DropReason::Partitioned);
        }
        if !self.clogged.is_empty() && self.clogged.contains(&(from, to)) {
            return ArriveOutcome::Held;
        }
        ArriveOutcome::Deliver
    }

    /// The shortest latency of a link.
    pub fn min_latency(&self, from: NodeId, to: NodeId) -> SimDuration {
        match self.link_config(from, to).latency {
            Latency::Constant(d) | Latency::Uniform { min: d, .. } => d,
        }
    }

    /// The time of the last arrival scheduled on a link, if any.
    pub fn last_arrival(&self, from: NodeId, to: NodeId) -> Option<SimTime> {
        self.links.get(from, to).and_then(|l| l.last_arrival)
    }

    pub fn isolate(&mut self, node: NodeId, all: &[NodeId]) {
        for &other in all.iter().filter(|&&o| o != node) {
            self.block(node, other);
        }
    }

    /// Blocks both directions between nodes of different groups; nodes in no group are untouched.
    pub fn split(&mut self, groups: &[Vec<NodeId>]) {
        for (i, a) in groups.iter().enumerate() {
            for b in &groups[i + 1..] {
                for &x in a {
                    for &y in b {
                        self.block(x, y);
                    }
                }
            }
        }
    }

    pub fn block_one_way(&mut self, from: NodeId, to: NodeId) {
        self.blocked.insert((from, to));
    }

    pub fn block(&mut self, a: NodeId, b: NodeId) {
        self.blocked.insert((a, b));
        self.blocked.insert((b, a));
    }

    /// Removes every partition. Returns the pairs of nodes (each once, lower id first) whose
    /// connection lost a message to a partition: the caller resets them.
    pub fn heal(&mut self) -> Vec<(NodeId, NodeId)> {
        self.blocked.clear();
        let pairs: BTreeSet<(NodeId, NodeId)> = std::mem::take(&mut self.lossy).into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect();
        pairs.into_iter().collect()
    }

    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.blocked.contains(&(from, to))
    }

    pub fn clog(&mut self, from: NodeId, to: NodeId) {
        self.clogged.insert((from, to));
    }

    pub fn clog_node(&mut self, node: NodeId, all: &[NodeId]) {
        for &other in all.iter().filter(|&&o| o != node) {
            self.clogged.insert((node, other));
            self.clogged.insert((other, node));
        }
    }

    pub fn unclog(&mut self, from: NodeId, to: NodeId, now: SimTime, chooser: &mut dyn Chooser) -> Vec<Release<P>> {
        self.clogged.remove(&(from, to));
        self.release(from, to, now, chooser)
    }

    pub fn unclog_all(&mut self, now: SimTime, chooser: &mut dyn Chooser) -> Vec<Release<P>> {
        let links: Vec<(NodeId, NodeId)> = self.clogged.iter().copied().collect();
        self.clogged.clear();
        links.into_iter().flat_map(|(f, t)| self.release(f, t, now, chooser)).collect()
    }

    /// Releases a link's held messages in order, each with a fresh latency; those whose connection
    /// broke while they were held are discarded.
    fn release(&mut self, from: NodeId, to: NodeId, now: SimTime, chooser: &mut dyn Chooser) -> Vec<Release<P>> {
        let Some(queue) = self.held.remove(&(from, to)) else { return Vec::new() };
        let cfg = self.link_config(from, to).clone();
        let generation = self.links.get(from, to).map_or(0, |l| l.generation);
        let mut out = Vec::new();
        for (conn, payload) in queue {
            if conn != generation {
                continue;
            }
            let at = self.schedule(now, from, to, &cfg, SimDuration::ZERO, true, chooser);
            out.push(Release { from, to, at, conn, payload });
        }
        out
    }

    /// Breaks every connection of `node`, both directions, and discards messages held for them.
    /// Returns the peers it had a connection with, sorted.
    pub fn break_connections(&mut self, node: NodeId) -> Vec<NodeId> {
        let mut peers = BTreeSet::new();
        for ((from, to), link) in self.links.iter_mut() {
            if from == node || to == node {
                link.generation += 1;
                link.last_arrival = None;
                if link.used {
                    peers.insert(if from == node { to } else { from });
                }
            }
        }
        self.held.retain(|&(from, to), _| from != node && to != node);
        peers.remove(&node);
        peers.into_iter().collect()
    }

    /// Breaks the connection between `a` and `b`, both directions.
    pub fn break_link(&mut self, a: NodeId, b: NodeId) {
        for key in [(a, b), (b, a)] {
            let link = self.links.open(key.0, key.1);
            link.generation += 1;
            link.last_arrival = None;
            self.held.remove(&key);
        }
    }

    /// A graceful stop of `node`: messages to it are dropped, what it already sent still arrives.
    /// Returns the peers it had a connection with, sorted.
    pub fn break_incoming(&mut self, node: NodeId) -> Vec<NodeId> {
        let mut peers = BTreeSet::new();
        for ((from, to), link) in self.links.iter_mut() {
            if to == node {
                link.generation += 1;
                link.last_arrival = None;
            }
            if link.used && (from == node || to == node) {
                peers.insert(if from == node { to } else { from });
            }
        }
        self.held.retain(|&(_, to), _| to != node);
        peers.remove(&node);
        peers.into_iter().collect()
    }

    pub fn add_rule(&mut self, rule: MessageRule) -> usize {
        self.rules.push(rule);
        self.rule_hits.push(0);
        self.rules.len() - 1
    }

    /// How many messages rule `rule` has matched so far.
    pub fn rule_hits(&self, rule: usize) -> u32 {
        self.rule_hits.get(rule).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::chooser::RandomChooser;

    /// Always the minimum latency, never a loss or a duplicate unless the probability is 1; counts
    /// the questions it is asked.
    #[derive(Default)]
    struct Min {
        asked: u32,
    }
    impl Chooser for Min {
        fn pick(&mut self, _: Choice, _: usize) -> usize {
            self.asked += 1;
            0
        }
        fn duration(&mut self, _: Choice, min: SimDuration, _: SimDuration) -> SimDuration {
            self.asked += 1;
            min
        }
        fn chance(&mut self, _: Choice, p: f64) -> bool {
            if p > 0.0 {
                self.asked += 1;
            }
            p >= 1.0
        }
    }

    const A: NodeId = NodeId(0);
    const B: NodeId = NodeId(1);
    const C: NodeId = NodeId(2);
    const D: NodeId = NodeId(3);
    const E: NodeId = NodeId(4);

    fn net() -> Network<u32> {
        let link = LinkConfig { latency: Latency::Constant(SimDuration::from_millis(1)), loss: 0.0, duplicate: 0.0 };
        Network::new(NetConfig { default_link: link, links: BTreeMap::new() })
    }

    fn arrives(n: &mut Network<u32>, from: NodeId, to: NodeId) -> bool {
        matches!(n.send(SimTime::ZERO, from, to, "FetchRequest", &mut Min::default()), SendOutcome::Deliver { .. })
    }

    fn arrival(n: &mut Network<u32>, now: u64, from: NodeId, to: NodeId) -> SimTime {
        match n.send(SimTime(now), from, to, "FetchRequest", &mut Min::default()) {
            SendOutcome::Deliver { at, .. } => at,
            _ => panic!("not delivered"),
        }
    }

    #[test]
    fn a_slow_node_adds_its_latency_both_ways_until_it_ends() {
        let mut n = net();
        n.slow(B, SimDuration::from_millis(200));
        assert_eq!(arrival(&mut n, 0, A, B), SimTime(201_000), "1 ms link + 200 ms spike");
        assert_eq!(arrival(&mut n, 0, B, C), SimTime(201_000));
        assert_eq!(arrival(&mut n, 0, A, C), SimTime(1_000), "other links are not slowed");
        n.slow(B, SimDuration::ZERO);
        assert_eq!(arrival(&mut n, 300_000, A, B), SimTime(301_000));
        n.slow(C, SimDuration::from_millis(5));
        n.clear_slow();
        assert_eq!(arrival(&mut n, 400_000, A, C), SimTime(401_000));
    }

    #[test]
    fn a_symmetric_partition_drops_both_ways_until_healed() {
        let mut n = net();
        n.block(A, B);
        assert!(!arrives(&mut n, A, B));
        assert!(!arrives(&mut n, B, A));
        assert!(arrives(&mut n, A, C));
        n.heal();
        assert!(arrives(&mut n, A, B) && arrives(&mut n, B, A));
    }

    #[test]
    fn a_split_blocks_exactly_the_links_between_groups() {
        let mut n = net();
        let groups = vec![vec![A, B], vec![C], vec![D]];
        n.split(&groups);
        let group_of = |x: NodeId| groups.iter().position(|g| g.contains(&x));
        for from in [A, B, C, D, E] {
            for to in [A, B, C, D, E] {
                let cross = match (group_of(from), group_of(to)) {
                    (Some(g), Some(h)) => g != h,
                    _ => false, // E is in no group: untouched
                };
                assert_eq!(n.is_blocked(from, to), cross, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn isolate_cuts_one_node_from_all_others() {
        let mut n = net();
        n.isolate(C, &[A, B, C, D]);
        for other in [A, B, D] {
            assert!(n.is_blocked(C, other) && n.is_blocked(other, C));
        }
        assert!(!n.is_blocked(A, B));
    }

    #[test]
    fn a_one_way_partition_blocks_one_direction() {
        let mut n = net();
        n.block_one_way(A, B);
        assert!(!arrives(&mut n, A, B));
        assert!(arrives(&mut n, B, A));
    }

    #[test]
    fn a_message_in_flight_when_the_partition_starts_is_dropped_on_arrival() {
        let mut n = net();
        let SendOutcome::Deliver { conn, .. } = n.send(SimTime::ZERO, A, B, "ProduceRequest", &mut Min::default()) else {
            panic!("delivered")
        };
        n.block(A, B);
        assert_eq!(n.arrive(A, B, conn), ArriveOutcome::Dropped(DropReason::Partitioned));
    }

    #[test]
    fn connections_are_ordered() {
        let mut n: Network<u32> = Network::new(NetConfig::default());
        let mut chooser = RandomChooser::new(42);
        let mut last = SimTime::ZERO;
        for i in 0..200u64 {
            let now = SimTime(i * 100); // sends faster than the latency spread
            let SendOutcome::Deliver { at, .. } = n.send(now, A, B, "FetchRequest", &mut chooser) else { panic!() };
            assert!(at > last, "arrival {i} at {:?} not after {:?}", at, last);
            last = at;
        }
    }

    #[test]
    fn a_delay_rule_holds_back_its_link_but_no_other() {
        let mut n = net();
        n.add_rule(MessageRule { kind: Some("ProduceRequest".into()), from: None, to: Some(B), action: RuleAction::Delay(SimDuration::from_secs(1)), remaining: 1 });
        let at = |o: SendOutcome| match o {
            SendOutcome::Deliver { at, .. } => at,
            other => panic!("{other:?}"),
        };
        let mut c = Min::default();
        let first = at(n.send(SimTime::ZERO, A, B, "ProduceRequest", &mut c));
        let second = at(n.send(SimTime::ZERO, A, B, "FetchRequest", &mut c));
        let other = at(n.send(SimTime::ZERO, A, C, "ProduceRequest", &mut c));
        assert_eq!(first, SimTime(1_001_000));
        assert_eq!(second, SimTime(1_001_001), "head-of-line blocked behind the delayed message");
        assert_eq!(other, SimTime(1_000));
        assert_eq!(n.rule_hits(0), 1);
    }

    #[test]
    fn a_drop_rule_takes_the_next_matching_message_only() {
        let mut n = net();
        let rule = n.add_rule(MessageRule { kind: Some("SyncGroupResponse".into()), from: Some(A), to: None, action: RuleAction::Drop, remaining: 1 });
        let mut c = Min::default();
        assert!(matches!(n.send(SimTime::ZERO, A, B, "FetchResponse", &mut c), SendOutcome::Deliver { .. }), "other kinds pass");
        assert_eq!(n.send(SimTime::ZERO, A, B, "SyncGroupResponse", &mut c), SendOutcome::Dropped(DropReason::Rule));
        assert!(matches!(n.send(SimTime::ZERO, A, B, "SyncGroupResponse", &mut c), SendOutcome::Deliver { .. }));
        assert_eq!(n.rule_hits(rule), 1);
    }

    #[test]
    fn a_clog_holds_and_unclog_releases_in_order() {
        let mut n = net();
        let mut c = Min::default();
        // One message is already in flight when the link clogs; two more are sent while it is
        // clogged. Each is held when it arrives, so the first stays first.
        let SendOutcome::Deliver { conn, .. } = n.send(SimTime::ZERO, A, B, "ProduceRequest", &mut c) else { panic!() };
        n.clog(A, B);
        for _ in 1..3 {
            let SendOutcome::Deliver { conn: same, .. } = n.send(SimTime(10), A, B, "ProduceRequest", &mut c) else { panic!() };
            assert_eq!(same, conn);
        }
        for i in 0..3 {
            assert_eq!(n.arrive(A, B, conn), ArriveOutcome::Held);
            n.hold(A, B, conn, i);
        }
        assert!(arrives(&mut n, B, A), "a clog is one-way unless both directions are clogged");
        let released = n.unclog_all(SimTime(5_000), &mut c);
        let order: Vec<u32> = released.iter().map(|r| r.payload).collect();
        assert_eq!(order, vec![0, 1, 2]);
        assert!(released.windows(2).all(|w| w[0].at < w[1].at));
        assert!(released[0].at >= SimTime(6_000));
        assert!(arrives(&mut n, A, B));
    }

    #[test]
    fn breaking_a_nodes_connections_drops_what_is_in_flight_and_names_the_peers() {
        let mut n = net();
        let mut c = Min::default();
        let SendOutcome::Deliver { conn, .. } = n.send(SimTime::ZERO, A, B, "ProduceRequest", &mut c) else { panic!() };
        let SendOutcome::Deliver { conn: back, .. } = n.send(SimTime::ZERO, C, A, "FetchResponse", &mut c) else { panic!() };
        assert_eq!(n.break_connections(A), vec![B, C]);
        assert_eq!(n.arrive(A, B, conn), ArriveOutcome::Dropped(DropReason::ConnectionBroken));
        assert_eq!(n.arrive(C, A, back), ArriveOutcome::Dropped(DropReason::ConnectionBroken));
        let SendOutcome::Deliver { conn: fresh, .. } = n.send(SimTime::ZERO, A, B, "ProduceRequest", &mut c) else { panic!() };
        assert_eq!(n.arrive(A, B, fresh), ArriveOutcome::Deliver, "a new connection works");
    }

    #[test]
    fn a_graceful_stop_drops_only_incoming_messages() {
        let mut n = net();
        let mut c = Min::default();
        let SendOutcome::Deliver { conn: out, .. } = n.send(SimTime::ZERO, A, B, "LeaveGroupRequest", &mut c) else { panic!() };
        let SendOutcome::Deliver { conn: inc, .. } = n.send(SimTime::ZERO, B, A, "FetchResponse", &mut c) else { panic!() };
        assert_eq!(n.break_incoming(A), vec![B]);
        assert_eq!(n.arrive(A, B, out), ArriveOutcome::Deliver);
        assert_eq!(n.arrive(B, A, inc), ArriveOutcome::Dropped(DropReason::ConnectionBroken));
    }

    #[test]
    fn loss_and_duplication() {
        let mut n = net();
        let mut c = Min::default();
        n.set_link(A, B, LinkConfig { latency: Latency::Constant(SimDuration::from_millis(1)), loss: 1.0, duplicate: 0.0 });
        assert_eq!(n.send(SimTime::ZERO, A, B, "ProduceRequest", &mut c), SendOutcome::Dropped(DropReason::Lost));
        let asked = c.asked;
        assert!(matches!(n.send(SimTime::ZERO, A, C, "ProduceRequest", &mut c), SendOutcome::Deliver { .. }));
        assert_eq!(c.asked, asked, "zero probabilities and constant latency ask the chooser nothing");
        n.set_link(A, D, LinkConfig { latency: Latency::Constant(SimDuration::from_millis(1)), loss: 0.0, duplicate: 1.0 });
        let SendOutcome::Deliver { at, dup_at, .. } = n.send(SimTime::ZERO, A, D, "ProduceRequest", &mut c) else { panic!() };
        let dup_at = dup_at.expect("duplicated");
        assert!(at < dup_at);
    }
}
