//! The actor contract: how every Kafka component talks to whatever hosts it.
//!
//! An actor is a plain struct. Its host (the engine's event loop, or any other host) calls one of
//! the `on_*` handlers per step, and the actor answers only by pushing effects into its [`Ctx`]:
//! messages to send, timers to set or cancel, disk operations, history observations, coverage
//! marks, and an explanation of what it did for the trace. Handlers never block, never read a
//! clock and never draw randomness except from `ctx.rng()`, so the same inputs give the same
//! effects on every host.
//!
//! Call order: `on_start` once at boot and once after every restart (the struct is then rebuilt
//! from the disk image that survived the crash); after that any of `on_message`, `on_timer`,
//! `on_disk`, `on_disconnect` and `on_command`, one at a time; `on_shutdown` when the node is
//! stopped gracefully.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;

use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::ids::NodeId;
use super::time::{SimDuration, SimTime};

/// A network message. `kind` names it as Kafka does ("ProduceRequest", "FetchResponse"), which is
/// what network rules and trace filters match on.
pub trait Message: Clone + Debug + Hash + Serialize {
    fn kind(&self) -> &'static str;
}

/// A Kafka component run by a host.
pub trait Actor {
    type Msg: Message;
    /// A closed enum of the actor's timers. Setting a timer that is already set replaces it.
    type Timer: Clone + Debug + Ord + Hash + Serialize;
    /// One entry of one of the actor's files on disk.
    type Entry: Clone + Debug + Hash;
    /// What a client observed, recorded in the history for the checkers.
    type Obs: Clone + Debug + Hash + Serialize;
    /// A call into the actor from outside the protocol: an operator's admin command or the
    /// application calling its client (`kafka-topics --alter`, `subscribe()`, `close()`).
    type Command: Clone + Debug + PartialEq + Hash + Serialize;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>);
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Self::Msg);
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Self::Timer);
    fn on_disk(&mut self, ctx: &mut Ctx<'_, Self>, done: DiskDone);
    /// The connection to `peer` broke (the peer crashed, or the connection was cut): requests in
    /// flight on it will get no response. Kafka clients see this as a disconnect.
    fn on_disconnect(&mut self, _ctx: &mut Ctx<'_, Self>, _peer: NodeId) {}
    /// A graceful stop: the actor may send its last messages (a consumer's LeaveGroup); the host
    /// then flushes its disk and takes it down.
    fn on_shutdown(&mut self, _ctx: &mut Ctx<'_, Self>) {}
    /// What a half-written `entry` looks like on disk after a crash tore it (a torn write). The
    /// actor's recovery must recognise it as invalid. `None` (the default): the actor has no such
    /// entry, and a torn write leaves nothing.
    fn torn(_entry: &Self::Entry) -> Option<Self::Entry> {
        None
    }
    /// The scenario calls into the actor (see [`Actor::Command`]).
    fn on_command(&mut self, _ctx: &mut Ctx<'_, Self>, _command: Self::Command) {}
}

/// A disk operation finished.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum DiskDone {
    /// `fsync(file)` completed: the first `len` entries of `file` are durable.
    Synced { file: String, len: usize },
}

/// A disk operation an actor asks for. Appends, truncations and rewrites land in the page cache at
/// once; only `Fsync` makes them durable, and its completion arrives later as [`DiskDone::Synced`].
#[derive(Clone, Debug, Hash)]
pub enum DiskOp<E> {
    Append { file: String, entry: E },
    /// Keep only the first `len` entries.
    Truncate { file: String, len: usize },
    /// Replace the whole file (a checkpoint written to a temporary file and renamed over it).
    Rewrite { file: String, entries: Vec<E> },
    Fsync { file: String },
}

/// What survived on a node's disk: each file's durable entries. An actor is rebuilt from this.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DiskImage<E> {
    pub files: BTreeMap<String, Vec<E>>,
}

impl<E> Default for DiskImage<E> {
    fn default() -> Self {
        DiskImage { files: BTreeMap::new() }
    }
}

impl<E> DiskImage<E> {
    pub fn file(&self, name: &str) -> &[E] {
        self.files.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// One effect of a handler, in the order it was produced.
pub enum Effect<A: Actor + ?Sized> {
    /// The message is boxed where it is made: it stays in that one allocation until it is
    /// delivered, instead of being copied through the effect list into the queue.
    Send { to: NodeId, msg: Box<A::Msg> },
    SetTimer { timer: A::Timer, after: SimDuration },
    CancelTimer { timer: A::Timer },
    Disk(DiskOp<A::Entry>),
    Observe(A::Obs),
    Mark(&'static str),
}

/// What a handler may use: the time, its random stream, and the effect sinks.
pub struct Ctx<'a, A: Actor + ?Sized> {
    now: SimTime,
    me: NodeId,
    rng: &'a mut ChaCha8Rng,
    out: &'a mut Vec<Effect<A>>,
    explanation: Option<&'a mut String>,
    /// How far this node's wall clock is from the scheduler's virtual time (clock skew).
    clock_offset_ms: i64,
}

impl<'a, A: Actor + ?Sized> Ctx<'a, A> {
    /// Used by hosts. `explanation` is `None` when nobody will read explanations (fast runs), so
    /// that handlers do not format text for nothing.
    pub fn new(
        now: SimTime,
        me: NodeId,
        rng: &'a mut ChaCha8Rng,
        out: &'a mut Vec<Effect<A>>,
        explanation: Option<&'a mut String>,
    ) -> Self {
        Ctx { now, me, rng, out, explanation, clock_offset_ms: 0 }
    }

    /// Used by hosts: the node's wall clock runs `offset_ms` ahead of virtual time (behind when
    /// negative).
    pub fn with_clock_offset(mut self, offset_ms: i64) -> Self {
        self.clock_offset_ms = offset_ms;
        self
    }

    /// Virtual time: what timers, timeouts and every duration are measured on (Kafka measures
    /// them on a monotonic clock).
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// This node's wall clock in milliseconds (`System.currentTimeMillis()`): virtual time shifted
    /// by the node's clock skew, never below 0. Kafka stamps record timestamps, offset commits and
    /// group state changes with it, and retention and offset expiry compare against it.
    pub fn wall_clock_ms(&self) -> u64 {
        let ms = self.now.as_millis() as i64 + self.clock_offset_ms;
        ms.max(0) as u64
    }
    pub fn me(&self) -> NodeId {
        self.me
    }
    /// The actor's own random stream, forked from the run's seed by a stable label.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        self.rng
    }
    pub fn send(&mut self, to: NodeId, msg: A::Msg) {
        self.out.push(Effect::Send { to, msg: Box::new(msg) });
    }
    pub fn set_timer(&mut self, timer: A::Timer, after: SimDuration) {
        self.out.push(Effect::SetTimer { timer, after });
    }
    pub fn cancel_timer(&mut self, timer: A::Timer) {
        self.out.push(Effect::CancelTimer { timer });
    }
    pub fn append(&mut self, file: impl Into<String>, entry: A::Entry) {
        self.out.push(Effect::Disk(DiskOp::Append { file: file.into(), entry }));
    }
    pub fn truncate(&mut self, file: impl Into<String>, len: usize) {
        self.out.push(Effect::Disk(DiskOp::Truncate { file: file.into(), len }));
    }
    pub fn rewrite(&mut self, file: impl Into<String>, entries: Vec<A::Entry>) {
        self.out.push(Effect::Disk(DiskOp::Rewrite { file: file.into(), entries }));
    }
    pub fn fsync(&mut self, file: impl Into<String>) {
        self.out.push(Effect::Disk(DiskOp::Fsync { file: file.into() }));
    }
    pub fn observe(&mut self, obs: A::Obs) {
        self.out.push(Effect::Observe(obs));
    }
    pub fn mark(&mut self, name: &'static str) {
        self.out.push(Effect::Mark(name));
    }
    /// Says, in Kafka's words, why the actor did what it did in this step. The text is built only
    /// when someone reads the trace. Several calls in one step are joined with "; ".
    pub fn explain(&mut self, text: impl FnOnce() -> String) {
        if let Some(buf) = self.explanation.as_deref_mut() {
            if !buf.is_empty() {
                buf.push_str("; ");
            }
            buf.push_str(&text());
        }
    }
    pub fn explaining(&self) -> bool {
        self.explanation.is_some()
    }
}
