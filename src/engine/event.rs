//! What the engine reports: trace events (everything that happened, in order) and history entries
//! (what clients observed, for the checkers).
//!
//! A trace event borrows from the engine's state so that a run which writes no trace pays only for
//! hashing each event into the digest, never for copying or formatting it.

use std::hash::{Hash, Hasher};

use serde::Serialize;

use super::net::DropReason;
use crate::model::{Actor, DiskDone, NodeId, SimTime};

/// The version of the trace's JSON schema. Bump it whenever a field changes meaning.
pub const TRACE_SCHEMA_VERSION: u32 = 1;

/// One thing that happened in a run.
#[derive(Serialize)]
#[serde(bound = "")]
pub struct TraceEvent<'a, A: Actor> {
    pub seq: u64,
    pub at: SimTime,
    /// The node it happened at, when there is one (a network-wide fault has none).
    pub node: Option<NodeId>,
    #[serde(flatten)]
    pub kind: TraceKind<'a, A>,
    /// Why, in Kafka's words, when the actor or the engine said so.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub explanation: &'a str,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", bound = "")]
pub enum TraceKind<'a, A: Actor> {
    /// The node booted (first start or restart) and ran `on_start`.
    Start { restart: bool },
    /// A message was delivered to the node.
    /// `digest` is the message's stable hash, taken when it was sent: the run's digest covers
    /// the message through its send, so its delivery is hashed by that number only.
    Deliver {
        from: NodeId,
        msg: &'a A::Msg,
        #[serde(skip)]
        digest: u64,
    },
    /// One of the node's timers fired.
    Timer { timer: &'a A::Timer },
    /// A disk operation completed.
    Disk { done: &'a DiskDone },
    /// The node learned that its connection to `peer` broke.
    Disconnect { peer: NodeId },
    /// The node sent a message; `fate` says what the network did with it.
    Send {
        to: NodeId,
        msg: &'a A::Msg,
        fate: SendFate,
        #[serde(skip)]
        digest: u64,
    },
    /// A message in flight was dropped on arrival (partition, broken connection, node down).
    Drop { from: NodeId, to: NodeId, msg_kind: &'a str, reason: DropReason },
    SetTimer { timer: &'a A::Timer, due: SimTime },
    CancelTimer { timer: &'a A::Timer },
    DiskOp { op: &'static str, file: &'a str, len: usize },
    Observe { obs: &'a A::Obs },
    Mark { name: &'static str },
    /// A fault or control action applied by the scenario.
    Fault { fault: &'a str },
    /// A scenario trigger's condition became true; its faults are scheduled.
    Trigger { label: &'a str },
    /// The node crashed, stopped, paused or resumed.
    Lifecycle { change: &'static str },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum SendFate {
    /// Will arrive at `at` (and again at `dup_at` when duplicated).
    InFlight { at: SimTime, dup_at: Option<SimTime> },
    /// Held on a clogged link until it is unclogged.
    Held,
    Dropped { reason: DropReason },
}

impl<A: Actor> Hash for TraceEvent<'_, A> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.seq.hash(h);
        self.at.hash(h);
        self.node.hash(h);
        self.kind.hash(h);
        // The explanation is prose for people; it is left out so that rewording it does not
        // change a run's identity.
    }
}

impl<A: Actor> Hash for TraceKind<'_, A> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        std::mem::discriminant(self).hash(h);
        match self {
            TraceKind::Start { restart } => restart.hash(h),
            TraceKind::Deliver { from, digest, .. } => (from, digest).hash(h),
            TraceKind::Timer { timer } => timer.hash(h),
            TraceKind::Disk { done } => done.hash(h),
            TraceKind::Disconnect { peer } => peer.hash(h),
            TraceKind::Send { to, fate, digest, .. } => (to, digest, fate).hash(h),
            TraceKind::Drop { from, to, msg_kind, reason } => (from, to, msg_kind, reason).hash(h),
            TraceKind::SetTimer { timer, due } => (timer, due).hash(h),
            TraceKind::CancelTimer { timer } => timer.hash(h),
            TraceKind::DiskOp { op, file, len } => (op, file, len).hash(h),
            TraceKind::Observe { obs } => obs.hash(h),
            TraceKind::Mark { name } => name.hash(h),
            TraceKind::Trigger { label } => label.hash(h),
            TraceKind::Fault { fault } => fault.hash(h),
            TraceKind::Lifecycle { change } => change.hash(h),
        }
    }
}

/// A client observation, with the trace sequence number that proves it.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryEntry<O> {
    pub seq: u64,
    pub at: SimTime,
    pub node: NodeId,
    pub obs: O,
}

/// Receives every trace event of a run, in order.
pub trait TraceSink<A: Actor> {
    fn event(&mut self, ev: &TraceEvent<'_, A>);
}

/// Told when the engine hands control to an actor's handler and when it gets it back, so that a
/// benchmark can split a run's time between the engine and the actors. The engine itself reads
/// no clock; an implementation in the command layer does.
pub trait Profiler {
    fn actor_begin(&mut self);
    fn actor_end(&mut self);
    /// The run moved on to another phase: `"observe"` (the per-step white-box checks start),
    /// `"simulate"` (they ended), `"check"` (the checkers judge the history).
    fn phase(&mut self, _name: &'static str) {}
}
