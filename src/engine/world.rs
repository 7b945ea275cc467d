//! The engine: one queue, one clock, one chooser, and the nodes that host actors.
//!
//! A run is a pure function of the actors' code, the world's configuration and the seed. The loop
//! pops the earliest event (asking the chooser when several are due at once), advances virtual
//! time to it, hands it to one actor, and applies that actor's effects: messages go through the
//! network model, disk operations through the node's disk model, timers into the queue,
//! observations into the history. Every step is hashed into the trace digest.

use std::collections::BTreeMap;
use std::hash::Hasher;

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::chooser::{fork, Choice, Chooser};
use super::digest::{StableHashMap, StableHasher};
use super::disk::{Disk, DiskConfig};
use super::event::{HistoryEntry, SendFate, TraceEvent, TraceKind, TraceSink};
use super::net::{ArriveOutcome, DropReason, LinkConfig, MessageRule, NetConfig, Network, SendOutcome};
use super::queue::EventQueue;
use crate::model::{Actor, Ctx, DiskDone, DiskImage, DiskOp, Effect, Message, NodeId, SimDuration, SimTime};

/// Limits that end a run with a verdict instead of a hang.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_steps: u64,
    pub max_time: SimTime,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_steps: 5_000_000, max_time: SimTime(600_000_000) }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunEnd {
    /// The harness's stop condition held (the workload finished).
    Completed,
    /// Nothing was left to happen.
    Idle,
    /// The step limit was reached first.
    StepLimit,
    /// Virtual time reached its limit first.
    TimeLimit,
}

/// How a node goes down in a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CrashKind {
    /// Power loss: unsynced data is lost (or, with `torn_tail`, a chosen prefix of it survives).
    PowerLoss,
    /// Power loss in the middle of a write: the unsynced appends survive but the last is torn.
    TornWrite,
    /// `kill -9`: the OS writes the page cache back.
    Kill,
}

/// A fault or control action, applied at a virtual time. `C` is the actors' command type.
#[derive(Clone, Debug, PartialEq)]
pub enum Control<C> {
    /// Boot a node for the first time.
    Start(NodeId),
    /// A machine crash (power loss): the node's volatile state and unsynced disk data are lost; its
    /// connections break.
    Crash(NodeId),
    /// A machine crash that tears the last write of each file: unsynced appends were written back
    /// except the last, which is half written (see [`super::disk::Disk::crash_torn`]).
    CrashTorn(NodeId),
    /// A process kill (`kill -9`): volatile state is lost but the page cache survives, since the
    /// operating system still holds it and writes it back; its connections break.
    Kill(NodeId),
    /// Rebuild a crashed or stopped node from its durable disk image.
    Restart(NodeId),
    /// A graceful stop: the actor's `on_shutdown` runs, the disk is flushed.
    Stop(NodeId),
    /// A process pause (GC): nothing is delivered and no timer fires until `Resume`.
    Pause(NodeId),
    Resume(NodeId),
    Isolate(NodeId),
    Split(Vec<Vec<NodeId>>),
    BlockOneWay { from: NodeId, to: NodeId },
    Block(NodeId, NodeId),
    /// Remove every partition (clogs stay).
    Heal,
    /// End of a safety phase: remove every partition and clog, resume paused nodes, restart nodes
    /// that are down.
    HealAll,
    Clog { from: NodeId, to: NodeId },
    ClogNode(NodeId),
    UnclogAll,
    BreakConnection(NodeId, NodeId),
    AddRule(MessageRule),
    SetLink { from: NodeId, to: NodeId, link: LinkConfig },
    /// A latency spike: every message to or from `node` takes `extra` longer (zero ends it).
    Slow { node: NodeId, extra: SimDuration },
    /// Clock skew: the node's wall clock is set `offset_ms` away from virtual time (0 puts it
    /// right again). Virtual time, timers and durations are not affected.
    Skew { node: NodeId, offset_ms: i64 },
    /// A call into the actor at `node` ([`Actor::on_command`]). A node that has not started yet
    /// starts first (the application must run to make the call); a paused node takes it when it
    /// resumes; a node that is down runs nothing to call, so the command is recorded and goes
    /// nowhere.
    Command { node: NodeId, command: C },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeStatus {
    NotStarted,
    Up,
    Paused,
    Down,
}

/// Builds an actor from what survived on its disk: at first boot an empty image.
pub type Factory<A> = Box<dyn Fn(&DiskImage<<A as Actor>::Entry>) -> A>;

struct Node<A: Actor> {
    name: String,
    actor: Option<A>,
    factory: Factory<A>,
    status: NodeStatus,
    /// Bumped at every crash or stop, so that timers and disk completions of an earlier life are
    /// recognised as stale.
    incarnation: u32,
    /// Each set timer and the token of its latest setting. Only looked up, never iterated, so a
    /// hash map (with the fixed [`StableHasher`]) keeps runs deterministic; it is several times
    /// cheaper than ordering timer enums with names in them.
    timers: TimerMap<A::Timer>,
    disk: Disk<A::Entry>,
    rng: ChaCha8Rng,
    /// Events that came due while the node was paused, in order.
    held: Vec<Ev<A>>,
    /// How far the machine's wall clock is from virtual time; survives restarts (it is the
    /// machine's clock, not the process's).
    clock_offset_ms: i64,
}

enum Ev<A: Actor> {
    /// `digest`: the message's stable hash, taken once when it was sent.
    Deliver { from: NodeId, to: NodeId, conn: u64, msg: Box<A::Msg>, digest: u64 },
    Timer { node: NodeId, incarnation: u32, token: u64, timer: A::Timer },
    Disk { node: NodeId, incarnation: u32, sync: super::disk::SyncToken },
    Disconnect { node: NodeId, incarnation: u32, peer: NodeId },
    Control { control: Control<A::Command>, label: String },
}

impl<A: Actor> Ev<A> {
    fn node(&self) -> Option<NodeId> {
        match self {
            Ev::Deliver { to, .. } => Some(*to),
            Ev::Timer { node, .. } | Ev::Disk { node, .. } | Ev::Disconnect { node, .. } => Some(*node),
            Ev::Control { .. } => None,
        }
    }
}

/// The buffers one run leaves for the next ([`World::spare`], [`World::reuse`]).
pub struct Spare<A: Actor> {
    history: Vec<HistoryEntry<A::Obs>>,
}

impl<A: Actor> Default for Spare<A> {
    fn default() -> Self {
        Spare { history: Vec::new() }
    }
}

/// Counters of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    pub steps: u64,
    pub trace_events: u64,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub messages_dropped: u64,
}

pub struct World<A: Actor> {
    now: SimTime,
    queue: EventQueue<Ev<A>>,
    chooser: Box<dyn Chooser>,
    /// Held messages travel with their digest (see [`Ev::Deliver`]).
    net: Network<(A::Msg, u64)>,
    disk_config: DiskConfig,
    nodes: Vec<Node<A>>,
    seed: u64,
    next_timer_token: u64,
    /// Bit `token` is set while the timer setting with that token is the latest of its timer and
    /// neither fired nor cancelled: a queued timer that was cancelled or replaced is recognised
    /// by one bit instead of a lookup of the timer in its node's map.
    live_timers: Vec<u64>,
    trace_seq: u64,
    digest: StableHasher,
    sink: Option<Box<dyn TraceSink<A>>>,
    profiler: Option<Box<dyn super::Profiler>>,
    event_hashes: Option<Vec<u64>>,
    history: Vec<HistoryEntry<A::Obs>>,
    marks: BTreeMap<&'static str, u64>,
    /// Every fault applied: (trace seq, time, label). Boots are not faults.
    faults: Vec<(u64, SimTime, String)>,
    /// Every coverage mark reached: (trace seq, node, name).
    mark_log: Vec<(u64, NodeId, &'static str)>,
    stats: EngineStats,
    effects: Vec<Effect<A>>,
    explanation: String,
    /// The node whose handler ran in the latest step.
    last_handled: Option<NodeId>,
    /// Faults waiting for a condition, checked after every step of [`World::run`].
    triggers: Vec<Trigger<A>>,
    /// Faults scheduled and not yet applied.
    controls_pending: usize,
}

fn bit(bits: &[u64], i: u64) -> bool {
    bits.get((i / 64) as usize).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

fn set_bit(bits: &mut Vec<u64>, i: u64, on: bool) {
    let w = (i / 64) as usize;
    if w >= bits.len() {
        bits.resize(w + 1, 0);
    }
    if on {
        bits[w] |= 1 << (i % 64);
    } else {
        bits[w] &= !(1 << (i % 64));
    }
}

type TimerMap<T> = StableHashMap<T, u64>;

/// A condition on the world, checked after every step.
pub type Condition<A> = Box<dyn FnMut(&World<A>) -> bool>;

/// Faults that fire when a condition first holds: each `then` entry is scheduled that long after
/// the moment the condition became true. A trigger fires once.
pub struct Trigger<A: Actor> {
    /// What the condition says, for the trace: "group g enters CompletingRebalance".
    pub label: String,
    pub condition: Condition<A>,
    pub then: Vec<(SimDuration, Control<A::Command>, String)>,
}

impl<A: Actor> World<A> {
    pub fn new(seed: u64, chooser: Box<dyn Chooser>, net: NetConfig, disk: DiskConfig) -> Self {
        World {
            now: SimTime::ZERO,
            queue: EventQueue::default(),
            chooser,
            net: Network::new(net),
            disk_config: disk,
            nodes: Vec::new(),
            seed,
            next_timer_token: 0,
            live_timers: Vec::new(),
            trace_seq: 0,
            digest: StableHasher::new(),
            sink: None,
            profiler: None,
            event_hashes: None,
            history: Vec::new(),
            marks: BTreeMap::new(),
            faults: Vec::new(),
            mark_log: Vec::new(),
            stats: EngineStats::default(),
            effects: Vec::new(),
            explanation: String::new(),
            last_handled: None,
            triggers: Vec::new(),
            controls_pending: 0,
        }
    }

    /// Adds a node (not yet started: schedule `Control::Start`). Node ids are dense, in order.
    pub fn add_node(&mut self, name: impl Into<String>, factory: Factory<A>) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(Node {
            name: name.into(),
            actor: None,
            factory,
            status: NodeStatus::NotStarted,
            incarnation: 0,
            timers: TimerMap::default(),
            disk: Disk::new(),
            rng: fork(self.seed, "node", u64::from(id.0)),
            held: Vec::new(),
            clock_offset_ms: 0,
        });
        id
    }

    /// Sends every trace event to `sink` (and asks actors for explanations).
    pub fn set_sink(&mut self, sink: Box<dyn TraceSink<A>>) {
        self.sink = Some(sink);
    }

    pub fn profiler_mut(&mut self) -> Option<&mut (dyn super::Profiler + 'static)> {
        self.profiler.as_deref_mut()
    }

    /// Times the actors' handlers (for benchmarks).
    pub fn set_profiler(&mut self, profiler: Box<dyn super::Profiler>) {
        self.profiler = Some(profiler);
    }

    /// Keeps the hash of every trace event, to locate the first divergence between two runs.
    pub fn keep_event_hashes(&mut self) {
        self.event_hashes = Some(Vec::new());
    }

    pub fn schedule(&mut self, at: SimTime, control: Control<A::Command>, label: impl Into<String>) {
        if !matches!(control, Control::Start(_)) {
            self.controls_pending += 1;
        }
        self.queue.push(at, Ev::Control { control, label: label.into() });
    }

    /// Whether a fault is scheduled and not yet applied (a run is not over before it is). Boots
    /// are not faults: a node that has not started holds the run up through the workload instead.
    pub fn faults_pending(&self) -> bool {
        self.controls_pending > 0
    }

    /// Adds a trigger: its faults are scheduled when its condition first holds.
    pub fn add_trigger(&mut self, trigger: Trigger<A>) {
        self.triggers.push(trigger);
    }

    /// Checks the waiting triggers, in the order they were added, and schedules the faults of
    /// those whose condition holds now.
    fn check_triggers(&mut self) {
        let mut waiting = std::mem::take(&mut self.triggers);
        let mut fired = Vec::new();
        waiting.retain_mut(|t| {
            if (t.condition)(self) {
                fired.push((std::mem::take(&mut t.label), std::mem::take(&mut t.then)));
                false
            } else {
                true
            }
        });
        self.triggers = waiting;
        for (label, then) in fired {
            self.record(None, TraceKind::Trigger { label: &label }, "");
            for (delay, control, fault) in then {
                self.schedule(self.now + delay, control, fault);
            }
        }
    }

    pub fn now(&self) -> SimTime {
        self.now
    }
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> {
        (0..self.nodes.len() as u32).map(NodeId)
    }
    pub fn name(&self, id: NodeId) -> &str {
        &self.nodes[id.0 as usize].name
    }
    pub fn status(&self, id: NodeId) -> NodeStatus {
        self.nodes[id.0 as usize].status
    }
    /// The live actor at `id`, if the node is up or paused.
    pub fn actor(&self, id: NodeId) -> Option<&A> {
        self.nodes[id.0 as usize].actor.as_ref()
    }
    /// The actor as it would be rebuilt from its disk now (for final-state checks of a node that
    /// is down).
    pub fn recovered(&self, id: NodeId) -> A {
        let node = &self.nodes[id.0 as usize];
        (node.factory)(&node.disk.image())
    }
    pub fn disk(&self, id: NodeId) -> &Disk<A::Entry> {
        &self.nodes[id.0 as usize].disk
    }
    pub fn history(&self) -> &[HistoryEntry<A::Obs>] {
        &self.history
    }

    /// Hands the run's largest buffer, its history (one entry per client observation), over to
    /// a later run's [`World::reuse`], so that a sweep does not grow the same vector from nothing
    /// for every seed. Call when done with the world. (Reusing the event queue's vectors too was
    /// measured and gained nothing.)
    pub fn spare(&mut self) -> Spare<A> {
        Spare { history: std::mem::take(&mut self.history) }
    }

    /// Records this run's history into the buffer of an earlier run's [`World::spare`]. Only
    /// capacity carries over: the spare's entries are dropped, this world's are kept in order.
    pub fn reuse(&mut self, spare: Spare<A>) {
        let mut history = spare.history;
        history.clear();
        history.append(&mut self.history);
        self.history = history;
    }
    pub fn marks(&self) -> &BTreeMap<&'static str, u64> {
        &self.marks
    }
    /// Every coverage mark reached so far, in order: (trace seq, node, name).
    pub fn mark_log(&self) -> &[(u64, NodeId, &'static str)] {
        &self.mark_log
    }
    /// Every fault applied so far: (trace seq, time, label).
    pub fn faults(&self) -> &[(u64, SimTime, String)] {
        &self.faults
    }
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }
    pub fn event_hashes(&self) -> Option<&[u64]> {
        self.event_hashes.as_deref()
    }
    /// The sequence number the next trace event will get.
    pub fn trace_seq(&self) -> u64 {
        self.trace_seq
    }
    /// The digest of every trace event so far.
    pub fn digest(&self) -> u64 {
        self.digest.finish()
    }
    pub fn network(&self) -> &Network<(A::Msg, u64)> {
        &self.net
    }

    /// Runs until `stop` holds (checked every `check_every` of virtual time), nothing is left to
    /// happen, or a limit is reached. `on_step` is called after every step whose handler ran, with
    /// the node that ran it (white-box invariants look at that node only).
    pub fn run(
        &mut self,
        limits: Limits,
        check_every: SimDuration,
        stop: &mut dyn FnMut(&Self) -> bool,
        on_step: &mut dyn FnMut(&Self, NodeId),
    ) -> RunEnd {
        let mut next_check = self.now + check_every;
        loop {
            if self.stats.steps >= limits.max_steps {
                return RunEnd::StepLimit;
            }
            match self.queue.peek_time() {
                None => return RunEnd::Idle,
                Some(at) if at > limits.max_time => {
                    self.now = limits.max_time;
                    return RunEnd::TimeLimit;
                }
                Some(_) => {}
            }
            self.last_handled = None;
            self.step();
            if let Some(node) = self.last_handled {
                if let Some(p) = self.profiler.as_mut() {
                    p.phase("observe");
                }
                on_step(self, node);
                if let Some(p) = self.profiler.as_mut() {
                    p.phase("simulate");
                }
                if !self.triggers.is_empty() {
                    self.check_triggers();
                }
            }
            if self.now >= next_check {
                next_check = self.now + check_every;
                if stop(self) {
                    return RunEnd::Completed;
                }
            }
        }
    }

    /// Delivers one event. Returns false when the queue is empty.
    pub fn step(&mut self) -> bool {
        let chooser = &mut self.chooser;
        let Some((at, ev)) = self.queue.pop_with(|n| chooser.pick(Choice::SameInstant, n)) else {
            return false;
        };
        debug_assert!(at >= self.now, "time went backwards");
        self.now = at;
        self.stats.steps += 1;
        if let Some(node) = ev.node() {
            if self.nodes[node.0 as usize].status == NodeStatus::Paused {
                self.nodes[node.0 as usize].held.push(ev);
                return true;
            }
        }
        self.dispatch(ev);
        true
    }

    fn dispatch(&mut self, ev: Ev<A>) {
        match ev {
            Ev::Deliver { from, to, conn, msg, digest } => self.deliver(from, to, conn, *msg, digest),
            Ev::Timer { node, incarnation, token, timer } => {
                let n = &mut self.nodes[node.0 as usize];
                if n.incarnation != incarnation || !bit(&self.live_timers, token) {
                    return; // cancelled, replaced, or from an earlier life
                }
                set_bit(&mut self.live_timers, token, false);
                n.timers.remove(&timer);
                let seq = self.open_step(node, &TraceKind::Timer { timer: &timer });
                let kept = self.sink.is_some().then(|| timer.clone());
                self.run_handler(node, |a, ctx| a.on_timer(ctx, timer));
                if let Some(timer) = kept {
                    self.emit(seq, Some(node), TraceKind::Timer { timer: &timer });
                }
                self.apply_effects(node);
            }
            Ev::Disk { node, incarnation, sync } => {
                let n = &mut self.nodes[node.0 as usize];
                if n.incarnation != incarnation {
                    return;
                }
                let Some((file, len)) = n.disk.complete_sync(sync) else { return };
                let done = DiskDone::Synced { file, len };
                let seq = self.open_step(node, &TraceKind::Disk { done: &done });
                let kept = self.sink.is_some().then(|| done.clone());
                self.run_handler(node, |a, ctx| a.on_disk(ctx, done));
                if let Some(done) = kept {
                    self.emit(seq, Some(node), TraceKind::Disk { done: &done });
                }
                self.apply_effects(node);
            }
            Ev::Disconnect { node, incarnation, peer } => {
                if self.nodes[node.0 as usize].incarnation != incarnation
                    || self.nodes[node.0 as usize].status != NodeStatus::Up
                {
                    return;
                }
                let seq = self.open_step(node, &TraceKind::Disconnect { peer });
                self.run_handler(node, |a, ctx| a.on_disconnect(ctx, peer));
                if self.sink.is_some() {
                    self.emit(seq, Some(node), TraceKind::Disconnect { peer });
                }
                self.apply_effects(node);
            }
            Ev::Control { control, label } => {
                if !matches!(control, Control::Start(_)) {
                    self.controls_pending -= 1;
                }
                self.control(control, &label)
            }
        }
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, conn: u64, msg: A::Msg, digest: u64) {
        let outcome = if self.nodes[to.0 as usize].status == NodeStatus::Up {
            self.net.arrive(from, to, conn)
        } else {
            ArriveOutcome::Dropped(DropReason::NodeDown)
        };
        match outcome {
            ArriveOutcome::Deliver => {
                self.stats.messages_delivered += 1;
                let seq = self.open_step(to, &TraceKind::Deliver { from, msg: &msg, digest });
                let kept = self.sink.is_some().then(|| msg.clone());
                self.run_handler(to, |a, ctx| a.on_message(ctx, from, msg));
                if let Some(msg) = kept {
                    self.emit(seq, Some(to), TraceKind::Deliver { from, msg: &msg, digest });
                }
                self.apply_effects(to);
            }
            ArriveOutcome::Held => self.net.hold(from, to, conn, (msg, digest)),
            ArriveOutcome::Dropped(reason) => {
                self.stats.messages_dropped += 1;
                self.record(Some(to), TraceKind::Drop { from, to, msg_kind: msg.kind(), reason }, "");
            }
        }
    }

    /// Numbers and hashes the event that starts a step. Its trace record is emitted after the
    /// handler ran, so that it can carry the handler's explanation.
    fn open_step(&mut self, node: NodeId, kind: &TraceKind<'_, A>) -> u64 {
        let seq = self.trace_seq;
        self.trace_seq += 1;
        self.hash_event(seq, Some(node), kind);
        seq
    }

    fn hash_event(&mut self, seq: u64, node: Option<NodeId>, kind: &TraceKind<'_, A>) {
        use std::hash::Hash;
        self.stats.trace_events += 1;
        let mut h = StableHasher::new();
        seq.hash(&mut h);
        self.now.hash(&mut h);
        node.hash(&mut h);
        kind.hash(&mut h);
        let event_hash = h.finish();
        self.digest.write_u64(event_hash);
        if let Some(hashes) = self.event_hashes.as_mut() {
            hashes.push(event_hash);
        }
    }

    fn emit(&mut self, seq: u64, node: Option<NodeId>, kind: TraceKind<'_, A>) {
        if let Some(sink) = self.sink.as_mut() {
            let explanation = std::mem::take(&mut self.explanation);
            sink.event(&TraceEvent { seq, at: self.now, node, kind, explanation: &explanation });
        }
    }

    /// Numbers, hashes and emits one event that is not the start of a step.
    fn record(&mut self, node: Option<NodeId>, kind: TraceKind<'_, A>, explanation: &str) {
        let seq = self.trace_seq;
        self.trace_seq += 1;
        self.hash_event(seq, node, &kind);
        if let Some(sink) = self.sink.as_mut() {
            sink.event(&TraceEvent { seq, at: self.now, node, kind, explanation });
        }
    }

    fn run_handler(&mut self, id: NodeId, f: impl FnOnce(&mut A, &mut Ctx<'_, A>)) {
        self.last_handled = Some(id);
        let explaining = self.sink.is_some();
        self.explanation.clear();
        let node = &mut self.nodes[id.0 as usize];
        let actor = node.actor.as_mut().expect("handlers run only on live nodes");
        let explanation = if explaining { Some(&mut self.explanation) } else { None };
        let mut ctx = Ctx::new(self.now, id, &mut node.rng, &mut self.effects, explanation).with_clock_offset(node.clock_offset_ms);
        match self.profiler.as_mut() {
            None => f(actor, &mut ctx),
            Some(p) => {
                p.actor_begin();
                f(actor, &mut ctx);
                p.actor_end();
            }
        }
    }

    fn apply_effects(&mut self, id: NodeId) {
        let mut effects = std::mem::take(&mut self.effects);
        for effect in effects.drain(..) {
            self.apply_effect(id, effect);
        }
        self.effects = effects;
    }

    fn apply_effect(&mut self, id: NodeId, effect: Effect<A>) {
        match effect {
            Effect::Send { to, msg } => self.send(id, to, msg),
            Effect::SetTimer { timer, after } => {
                let due = self.now + after;
                let token = self.next_timer_token;
                self.next_timer_token += 1;
                let node = &mut self.nodes[id.0 as usize];
                if let Some(replaced) = node.timers.insert(timer.clone(), token) {
                    set_bit(&mut self.live_timers, replaced, false);
                }
                set_bit(&mut self.live_timers, token, true);
                let incarnation = node.incarnation;
                self.record(Some(id), TraceKind::SetTimer { timer: &timer, due }, "");
                self.queue.push(due, Ev::Timer { node: id, incarnation, token, timer });
            }
            Effect::CancelTimer { timer } => {
                if let Some(cancelled) = self.nodes[id.0 as usize].timers.remove(&timer) {
                    set_bit(&mut self.live_timers, cancelled, false);
                    self.record(Some(id), TraceKind::CancelTimer { timer: &timer }, "");
                }
            }
            Effect::Disk(op) => self.disk_op(id, op),
            Effect::Observe(obs) => {
                let seq = self.trace_seq;
                self.record(Some(id), TraceKind::Observe { obs: &obs }, "");
                self.history.push(HistoryEntry { seq, at: self.now, node: id, obs });
            }
            Effect::Mark(name) => {
                *self.marks.entry(name).or_insert(0) += 1;
                self.mark_log.push((self.trace_seq, id, name));
                self.record(Some(id), TraceKind::Mark { name }, "");
            }
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: Box<A::Msg>) {
        self.stats.messages_sent += 1;
        let outcome = if matches!(self.nodes[to.0 as usize].status, NodeStatus::Up | NodeStatus::Paused) {
            self.net.send(self.now, from, to, msg.kind(), self.chooser.as_mut())
        } else {
            SendOutcome::Dropped(DropReason::NodeDown)
        };
        let fate = match &outcome {
            SendOutcome::Deliver { at, dup_at, .. } => SendFate::InFlight { at: *at, dup_at: *dup_at },
            SendOutcome::Held { .. } => SendFate::Held,
            SendOutcome::Dropped(reason) => SendFate::Dropped { reason: *reason },
        };
        let digest = super::digest::stable_hash(&*msg);
        self.record(Some(from), TraceKind::Send { to, msg: &msg, fate, digest }, "");
        match outcome {
            SendOutcome::Deliver { at, dup_at, conn } => {
                if let Some(dup) = dup_at {
                    self.queue.push(dup, Ev::Deliver { from, to, conn, msg: msg.clone(), digest });
                }
                self.queue.push(at, Ev::Deliver { from, to, conn, msg, digest });
            }
            SendOutcome::Held { conn } => self.net.hold(from, to, conn, (*msg, digest)),
            SendOutcome::Dropped(DropReason::NodeDown) => {
                // No process listens there: the connection is refused, which the sender sees one
                // network hop later.
                self.stats.messages_dropped += 1;
                let incarnation = self.nodes[from.0 as usize].incarnation;
                let at = self.now + self.net.min_latency(from, to);
                self.queue.push(at, Ev::Disconnect { node: from, incarnation, peer: to });
            }
            SendOutcome::Dropped(_) => self.stats.messages_dropped += 1,
        }
    }

    fn disk_op(&mut self, id: NodeId, op: DiskOp<A::Entry>) {
        let (name, file, len) = match &op {
            DiskOp::Append { file, .. } => ("append", file.clone(), 1),
            DiskOp::Truncate { file, len } => ("truncate", file.clone(), *len),
            DiskOp::Rewrite { file, entries } => ("rewrite", file.clone(), entries.len()),
            DiskOp::Fsync { file } => ("fsync", file.clone(), 0),
        };
        let node = &mut self.nodes[id.0 as usize];
        let incarnation = node.incarnation;
        if let Some(sync) = node.disk.apply(op) {
            let due = self.now + self.disk_config.fsync_latency;
            self.queue.push(due, Ev::Disk { node: id, incarnation, sync });
        }
        self.record(Some(id), TraceKind::DiskOp { op: name, file: &file, len }, "");
    }

    fn control(&mut self, control: Control<A::Command>, label: &str) {
        let node = match &control {
            Control::Start(n) | Control::Crash(n) | Control::CrashTorn(n) | Control::Kill(n) | Control::Restart(n) | Control::Stop(n) | Control::Pause(n)
            | Control::Resume(n) | Control::Skew { node: n, .. } => Some(*n),
            Control::Command { node, .. } => Some(*node),
            _ => None,
        };
        if let Control::Command { node, command } = control {
            return self.command(node, command, label);
        }
        if !matches!(control, Control::Start(_)) {
            self.faults.push((self.trace_seq, self.now, label.to_string()));
        }
        self.record(node, TraceKind::Fault { fault: label }, "");
        match control {
            Control::Start(n) => self.boot(n, false),
            Control::Restart(n) => self.boot(n, true),
            Control::Crash(n) => self.crash(n, CrashKind::PowerLoss),
            Control::CrashTorn(n) => self.crash(n, CrashKind::TornWrite),
            Control::Kill(n) => self.crash(n, CrashKind::Kill),
            Control::Stop(n) => self.stop(n),
            Control::Pause(n) => {
                if self.nodes[n.0 as usize].status == NodeStatus::Up {
                    self.nodes[n.0 as usize].status = NodeStatus::Paused;
                    self.record(Some(n), TraceKind::Lifecycle { change: "paused" }, "");
                }
            }
            Control::Resume(n) => self.resume(n),
            Control::Isolate(n) => {
                let all: Vec<NodeId> = self.node_ids().collect();
                self.net.isolate(n, &all);
            }
            Control::Split(groups) => self.net.split(&groups),
            Control::BlockOneWay { from, to } => self.net.block_one_way(from, to),
            Control::Block(a, b) => self.net.block(a, b),
            Control::Heal => self.heal(),
            Control::HealAll => {
                self.heal();
                self.net.clear_slow();
                for r in self.net.unclog_all(self.now, self.chooser.as_mut()) {
                    self.queue.push(r.at, Ev::Deliver { from: r.from, to: r.to, conn: r.conn, msg: Box::new(r.payload.0), digest: r.payload.1 });
                }
                let ids: Vec<NodeId> = self.node_ids().collect();
                for n in ids {
                    match self.nodes[n.0 as usize].status {
                        NodeStatus::Paused => self.resume(n),
                        NodeStatus::Down => self.boot(n, true),
                        NodeStatus::Up | NodeStatus::NotStarted => {}
                    }
                }
            }
            Control::Clog { from, to } => self.net.clog(from, to),
            Control::ClogNode(n) => {
                let all: Vec<NodeId> = self.node_ids().collect();
                self.net.clog_node(n, &all);
            }
            Control::UnclogAll => {
                for r in self.net.unclog_all(self.now, self.chooser.as_mut()) {
                    self.queue.push(r.at, Ev::Deliver { from: r.from, to: r.to, conn: r.conn, msg: Box::new(r.payload.0), digest: r.payload.1 });
                }
            }
            Control::BreakConnection(a, b) => {
                self.net.break_link(a, b);
                self.notify_disconnect(a, b);
                self.notify_disconnect(b, a);
            }
            Control::AddRule(rule) => {
                self.net.add_rule(rule);
            }
            Control::SetLink { from, to, link } => self.net.set_link(from, to, link),
            Control::Slow { node, extra } => self.net.slow(node, extra),
            Control::Skew { node, offset_ms } => self.nodes[node.0 as usize].clock_offset_ms = offset_ms,
            Control::Command { .. } => unreachable!("commands are handed over above"),
        }
    }

    /// Hands a command to a running actor; the fault's trace line carries its explanation.
    fn command(&mut self, id: NodeId, command: A::Command, label: &str) {
        match self.nodes[id.0 as usize].status {
            NodeStatus::Paused => {
                // Taken when the node resumes, like everything else that came due meanwhile.
                self.controls_pending += 1;
                let control = Control::Command { node: id, command };
                self.nodes[id.0 as usize].held.push(Ev::Control { control, label: label.to_string() });
            }
            NodeStatus::NotStarted => {
                self.boot(id, false);
                self.command(id, command, label);
            }
            NodeStatus::Up => {
                self.faults.push((self.trace_seq, self.now, label.to_string()));
                let seq = self.open_step(id, &TraceKind::Fault { fault: label });
                self.run_handler(id, |a, ctx| a.on_command(ctx, command));
                if self.sink.is_some() {
                    self.emit(seq, Some(id), TraceKind::Fault { fault: label });
                }
                self.apply_effects(id);
            }
            NodeStatus::Down => {
                self.faults.push((self.trace_seq, self.now, label.to_string()));
                self.record(Some(id), TraceKind::Fault { fault: label }, "the node is not running: nothing takes the call");
            }
        }
    }

    /// Removes every partition and resets the connections that lost messages to one.
    fn heal(&mut self) {
        for (a, b) in self.net.heal() {
            self.net.break_link(a, b);
            self.notify_disconnect(a, b);
            self.notify_disconnect(b, a);
        }
    }

    fn notify_disconnect(&mut self, node: NodeId, peer: NodeId) {
        let n = &self.nodes[node.0 as usize];
        if matches!(n.status, NodeStatus::Up | NodeStatus::Paused) {
            let incarnation = n.incarnation;
            self.queue.push(self.now, Ev::Disconnect { node, incarnation, peer });
        }
    }

    fn boot(&mut self, id: NodeId, restart: bool) {
        let node = &mut self.nodes[id.0 as usize];
        if matches!(node.status, NodeStatus::Up | NodeStatus::Paused) {
            return; // already running: restarting a live node is a no-op, as in Kafka
        }
        node.actor = Some((node.factory)(&node.disk.image()));
        node.status = NodeStatus::Up;
        let seq = self.open_step(id, &TraceKind::Start { restart });
        self.run_handler(id, |a, ctx| a.on_start(ctx));
        if self.sink.is_some() {
            self.emit(seq, Some(id), TraceKind::Start { restart });
        }
        self.apply_effects(id);
    }

    /// Ends a node's life: volatile state, timers and held events are gone, and its connections
    /// break.
    fn take_down(&mut self, id: NodeId, change: &'static str) {
        let node = &mut self.nodes[id.0 as usize];
        node.actor = None;
        node.status = NodeStatus::Down;
        node.incarnation += 1;
        node.timers.clear();
        // A held command dies with the process that would have taken it.
        let held_controls = node.held.iter().filter(|e| matches!(e, Ev::Control { .. })).count();
        node.held.clear();
        self.controls_pending -= held_controls;
        self.record(Some(id), TraceKind::Lifecycle { change }, "");
    }

    fn crash(&mut self, id: NodeId, kind: CrashKind) {
        if !matches!(self.nodes[id.0 as usize].status, NodeStatus::Up | NodeStatus::Paused) {
            return;
        }
        let node = &mut self.nodes[id.0 as usize];
        match kind {
            CrashKind::Kill => node.disk.sync_all(),
            CrashKind::PowerLoss => node.disk.crash(&self.disk_config, id, self.chooser.as_mut()),
            CrashKind::TornWrite => node.disk.crash_torn(A::torn),
        }
        let change = match kind {
            CrashKind::PowerLoss => "crashed",
            CrashKind::TornWrite => "crashed mid-write",
            CrashKind::Kill => "killed",
        };
        self.take_down(id, change);
        for peer in self.net.break_connections(id) {
            self.notify_disconnect(peer, id);
        }
    }

    fn stop(&mut self, id: NodeId) {
        if self.nodes[id.0 as usize].status != NodeStatus::Up {
            return;
        }
        let seq = self.open_step(id, &TraceKind::Lifecycle { change: "stopping" });
        self.run_handler(id, |a, ctx| a.on_shutdown(ctx));
        if self.sink.is_some() {
            self.emit(seq, Some(id), TraceKind::Lifecycle { change: "stopping" });
        }
        self.apply_effects(id);
        self.nodes[id.0 as usize].disk.sync_all();
        self.take_down(id, "stopped");
        // What the node sent before it stopped still arrives (data before FIN); peers learn of the
        // closed connection after that.
        let peers = self.net.break_incoming(id);
        for peer in peers {
            let after = self.net.last_arrival(id, peer).map_or(self.now, |t| t + SimDuration(1)).max(self.now);
            let n = &self.nodes[peer.0 as usize];
            if matches!(n.status, NodeStatus::Up | NodeStatus::Paused) {
                let incarnation = n.incarnation;
                self.queue.push(after, Ev::Disconnect { node: peer, incarnation, peer: id });
            }
        }
    }

    fn resume(&mut self, id: NodeId) {
        if self.nodes[id.0 as usize].status != NodeStatus::Paused {
            return;
        }
        let node = &mut self.nodes[id.0 as usize];
        node.status = NodeStatus::Up;
        let held = std::mem::take(&mut node.held);
        self.record(Some(id), TraceKind::Lifecycle { change: "resumed" }, "");
        // Everything that came due during the pause arrives at once, in the order it came due; one
        // microsecond apart so that a connection's order survives same-instant choices.
        for (i, ev) in held.into_iter().enumerate() {
            self.queue.push(self.now + SimDuration(i as u64), ev);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::chooser::RandomChooser;
    use crate::model::{Message, SimDuration};
    use serde::Serialize;

    /// A toy actor: pings its peer every 10 ms, answers pings, logs each pong to disk and fsyncs
    /// every second pong.
    #[derive(Default)]
    struct Pinger {
        peer: u32,
        pongs_on_disk_at_boot: usize,
        pongs: u32,
    }

    #[derive(Clone, Debug, Hash, Serialize)]
    enum Ping {
        Ping(u32),
        Pong(u32),
    }
    impl Message for Ping {
        fn kind(&self) -> &'static str {
            match self {
                Ping::Ping(_) => "Ping",
                Ping::Pong(_) => "Pong",
            }
        }
    }

    #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
    enum Seen {
        Booted { pongs_on_disk: usize },
        Pong(u32),
        Disconnected(u32),
        Tick,
    }

    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
    enum T {
        Tick,
    }

    impl Actor for Pinger {
        type Msg = Ping;
        type Timer = T;
        type Entry = u32;
        type Obs = Seen;
        type Command = u32;
        fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
            ctx.observe(Seen::Booted { pongs_on_disk: self.pongs_on_disk_at_boot });
            ctx.set_timer(T::Tick, SimDuration::from_millis(10));
        }
        fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Ping) {
            match msg {
                Ping::Ping(n) => ctx.send(from, Ping::Pong(n)),
                Ping::Pong(n) => {
                    ctx.observe(Seen::Pong(n));
                    ctx.append("pongs", n);
                    self.pongs += 1;
                    if self.pongs % 2 == 0 {
                        ctx.fsync("pongs");
                    }
                }
            }
        }
        fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: T) {
            ctx.observe(Seen::Tick);
            // The ping carries the sender's wall clock (the same as virtual time unless skewed).
            let n = ctx.wall_clock_ms() as u32;
            ctx.send(NodeId(self.peer), Ping::Ping(n));
            ctx.set_timer(T::Tick, SimDuration::from_millis(10));
        }
        fn on_disk(&mut self, _: &mut Ctx<'_, Self>, _: DiskDone) {}
        fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
            ctx.observe(Seen::Disconnected(peer.0));
        }
        fn on_command(&mut self, ctx: &mut Ctx<'_, Self>, n: u32) {
            ctx.observe(Seen::Pong(1_000 + n));
        }
    }

    fn world(seed: u64) -> World<Pinger> {
        let net = NetConfig::default();
        let mut w = World::new(seed, Box::new(RandomChooser::new(seed)), net, DiskConfig::default());
        for (i, peer) in [(0u32, 1u32), (1, 0)] {
            let id = w.add_node(
                format!("n{i}"),
                Box::new(move |disk: &DiskImage<u32>| Pinger { peer, pongs_on_disk_at_boot: disk.file("pongs").len(), pongs: 0 }),
            );
            w.schedule(SimTime::ZERO, Control::Start(id), format!("start n{i}"));
        }
        w
    }

    fn limits(ms: u64) -> Limits {
        Limits { max_steps: 1_000_000, max_time: SimTime(ms * 1_000) }
    }

    fn observed(w: &World<Pinger>, node: u32) -> Vec<Seen> {
        w.history().iter().filter(|h| h.node == NodeId(node)).map(|h| h.obs.clone()).collect()
    }

    /// Sets, resets and cancels timers: a reset timer fires once, at its latest time; a cancelled
    /// one never; one set again after it fired fires again.
    struct Timers;

    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
    enum Tm {
        Reset,
        Cancelled,
        Again,
    }

    impl Actor for Timers {
        type Msg = Ping;
        type Timer = Tm;
        type Entry = u32;
        type Obs = (Tm, u64);
        type Command = u32;
        fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
            ctx.set_timer(Tm::Reset, SimDuration::from_millis(10));
            ctx.set_timer(Tm::Cancelled, SimDuration::from_millis(10));
            ctx.set_timer(Tm::Again, SimDuration::from_millis(5));
            ctx.set_timer(Tm::Reset, SimDuration::from_millis(30));
            ctx.cancel_timer(Tm::Cancelled);
        }
        fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: Ping) {}
        fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, t: Tm) {
            let ms = ctx.now().0 / 1_000;
            if t == Tm::Again && ms < 20 {
                ctx.set_timer(Tm::Again, SimDuration::from_millis(20));
            }
            ctx.observe((t, ms));
        }
        fn on_disk(&mut self, _: &mut Ctx<'_, Self>, _: DiskDone) {}
        fn on_command(&mut self, _: &mut Ctx<'_, Self>, _: u32) {}
    }

    #[test]
    fn a_reset_timer_fires_once_at_its_latest_time_and_a_cancelled_one_never() {
        let mut w: World<Timers> = World::new(1, Box::new(RandomChooser::new(1)), NetConfig::default(), DiskConfig::default());
        let id = w.add_node("t", Box::new(|_: &DiskImage<u32>| Timers));
        w.schedule(SimTime::ZERO, Control::Start(id), "start t");
        w.run(limits(1_000), SimDuration::from_millis(10), &mut |_| false, &mut |_, _| {});
        let fired: Vec<(Tm, u64)> = w.history().iter().map(|h| h.obs.clone()).collect();
        assert_eq!(fired, vec![(Tm::Again, 5), (Tm::Again, 25), (Tm::Reset, 30)]);
    }

    #[test]
    fn same_seed_same_run_other_seed_other_run() {
        let run = |seed| {
            let mut w = world(seed);
            assert_eq!(w.run(limits(500), SimDuration::from_millis(10), &mut |_| false, &mut |_, _| {}), RunEnd::TimeLimit);
            (w.digest(), w.history().iter().map(|h| (h.seq, h.at, h.obs.clone())).collect::<Vec<_>>())
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1).0, run(2).0);
    }

    #[test]
    fn limits_end_the_run() {
        let mut w = world(1);
        assert_eq!(w.run(Limits { max_steps: 50, max_time: SimTime::MAX }, SimDuration::from_millis(10), &mut |_| false, &mut |_, _| {}), RunEnd::StepLimit);
        assert_eq!(w.stats().steps, 50);
        let mut w = world(1);
        assert_eq!(w.run(limits(100), SimDuration::from_millis(10), &mut |_| false, &mut |_, _| {}), RunEnd::TimeLimit);
        assert_eq!(w.now(), SimTime(100_000));
        let mut w = world(1);
        let end = w.run(limits(1_000), SimDuration::from_millis(10), &mut |w| w.now() >= SimTime(200_000), &mut |_, _| {});
        assert_eq!(end, RunEnd::Completed);
        let mut idle: World<Pinger> = World::new(1, Box::new(RandomChooser::new(1)), NetConfig::default(), DiskConfig::default());
        assert_eq!(idle.run(limits(1_000), SimDuration::from_millis(10), &mut |_| false, &mut |_, _| {}), RunEnd::Idle);
    }

    #[test]
    fn a_crash_rebuilds_the_actor_from_durable_disk_and_peers_see_the_disconnect() {
        let mut w = world(3);
        w.schedule(SimTime(205_000), Control::Crash(NodeId(0)), "crash n0");
        w.schedule(SimTime(300_000), Control::Restart(NodeId(0)), "restart n0");
        w.run(limits(400), SimDuration::from_millis(10), &mut |_| false, &mut |_, _| {});
        let seen = observed(&w, 0);
        let boots: Vec<usize> = seen.iter().filter_map(|o| if let Seen::Booted { pongs_on_disk } = o { Some(*pongs_on_disk) } else { None }).collect();
        assert_eq!(boots.len(), 2);
        // Only fsynced pongs survive: every second pong's fsync covers everything before it.
        assert!(boots[1] > 0 && boots[1] % 2 == 0, "durable prefix ends at an fsync: {}", boots[1]);
        assert!((boots[1] as i64 - 20).abs() <= 2, "about 20 pongs in 205 ms: {}", boots[1]);
        assert!(observed(&w, 1).contains(&Seen::Disconnected(0)));
        assert_eq!(w.faults().len(), 2);
    }

    #[test]
    fn a_paused_node_fires_no_timer_until_resumed() {
        let mut w = world(5);
        w.schedule(SimTime(100_000), Control::Pause(NodeId(0)), "pause n0");
        w.schedule(SimTime(300_000), Control::Resume(NodeId(0)), "resume n0");
        let mut ticks_during_pause = None;
        w.run(limits(400), SimDuration::from_millis(10), &mut |w| {
            if w.now() >= SimTime(290_000) && ticks_during_pause.is_none() {
                let ticks = w.history().iter().filter(|h| h.node == NodeId(0) && h.obs == Seen::Tick && h.at > SimTime(101_000));
                ticks_during_pause = Some(ticks.count());
            }
            false
        }, &mut |_, _| {});
        assert_eq!(ticks_during_pause, Some(0));
        let after = w.history().iter().filter(|h| h.node == NodeId(0) && h.obs == Seen::Tick && h.at >= SimTime(300_000)).count();
        assert!(after >= 9, "ticking again after the resume: {after}");
    }

    #[test]
    fn a_skewed_clock_moves_the_wall_clock_only() {
        let mut w = world(7);
        w.schedule(SimTime(100_000), Control::Skew { node: NodeId(0), offset_ms: 60_000 }, "skew n0 +60s");
        w.schedule(SimTime(200_000), Control::Skew { node: NodeId(0), offset_ms: 0 }, "n0's clock set right");
        w.run(limits(300), SimDuration::from_millis(10), &mut |_| false, &mut |_, _| {});
        // n0 still ticks every 10 ms of virtual time...
        let ticks = w.history().iter().filter(|h| h.node == NodeId(0) && h.obs == Seen::Tick).count();
        assert!((28..=30).contains(&ticks), "{ticks}");
        // ...but while skewed its pings (echoed back as pongs) carry a wall clock a minute ahead.
        let pongs: Vec<(SimTime, u32)> = w.history().iter().filter_map(|h| if let Seen::Pong(n) = h.obs { (h.node == NodeId(0)).then_some((h.at, n)) } else { None }).collect();
        assert!(pongs.iter().filter(|(at, _)| *at > SimTime(110_000) && *at < SimTime(200_000)).all(|(at, n)| u64::from(*n) >= at.as_millis() + 59_980), "{pongs:?}");
        assert!(pongs.iter().filter(|(at, _)| *at > SimTime(210_000)).all(|(at, n)| u64::from(*n) <= at.as_millis()), "{pongs:?}");
        assert!(pongs.iter().any(|(at, _)| *at > SimTime(210_000)));
    }

    #[test]
    fn a_command_reaches_a_running_actor_waits_out_a_pause_and_is_lost_on_a_down_node() {
        let mut w = world(11);
        let cmd = |n| Control::Command { node: NodeId(0), command: n };
        w.schedule(SimTime(50_000), cmd(1), "call 1");
        w.schedule(SimTime(100_000), Control::Pause(NodeId(0)), "pause n0");
        w.schedule(SimTime(150_000), cmd(2), "call 2");
        w.schedule(SimTime(200_000), Control::Resume(NodeId(0)), "resume n0");
        w.schedule(SimTime(250_000), Control::Crash(NodeId(0)), "crash n0");
        w.schedule(SimTime(300_000), cmd(3), "call 3");
        let late = w.add_node("n2", Box::new(|_: &DiskImage<u32>| Pinger { peer: 0, pongs_on_disk_at_boot: 0, pongs: 0 }));
        w.schedule(SimTime(320_000), Control::Command { node: late, command: 4 }, "call 4");
        w.run(limits(400), SimDuration::from_millis(10), &mut |_| false, &mut |_, _| {});
        let calls: Vec<(SimTime, u32)> =
            w.history().iter().filter_map(|h| if let Seen::Pong(n @ 1_000..) = h.obs { Some((h.at, n - 1_000)) } else { None }).collect();
        assert_eq!(calls.iter().map(|c| c.1).collect::<Vec<_>>(), vec![1, 2, 4]);
        assert_eq!((calls[0].0, calls[2].0), (SimTime(50_000), SimTime(320_000)));
        // Held through the pause: taken among the events that came due, as the node resumes.
        assert!(calls[1].0 >= SimTime(200_000) && calls[1].0 < SimTime(200_100), "{calls:?}");
        assert_eq!(w.status(late), NodeStatus::Up, "a call to a node not started yet starts it");
        assert!(w.faults().iter().any(|(_, at, l)| *at == SimTime(300_000) && l == "call 3"), "recorded though nobody took it");
        assert!(!w.faults_pending());
    }

    #[test]
    fn a_partition_stops_traffic_and_heal_restores_it() {
        let mut w = world(9);
        w.schedule(SimTime(100_000), Control::Isolate(NodeId(1)), "isolate n1");
        w.schedule(SimTime(300_000), Control::Heal, "heal");
        w.run(limits(500), SimDuration::from_millis(10), &mut |_| false, &mut |_, _| {});
        let pongs_at: Vec<SimTime> = w.history().iter().filter(|h| matches!(h.obs, Seen::Pong(_))).map(|h| h.at).collect();
        assert!(pongs_at.iter().any(|t| *t < SimTime(100_000)));
        assert!(!pongs_at.iter().any(|t| *t > SimTime(110_000) && *t < SimTime(300_000)));
        assert!(pongs_at.iter().any(|t| *t > SimTime(310_000)));
    }
}
