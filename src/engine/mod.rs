//! The world that hosts actors: event queue, virtual clock, seeded choices, network, disk and node
//! lifecycle. One step delivers one event to one actor.

pub mod chooser;
pub mod digest;
pub mod disk;
pub mod event;
pub mod net;
pub mod queue;
pub mod world;

pub use chooser::{Choice, Chooser, RandomChooser};
pub use event::{HistoryEntry, Profiler, SendFate, TraceEvent, TraceKind, TraceSink, TRACE_SCHEMA_VERSION};
pub use world::{Condition, Control, EngineStats, Factory, Limits, NodeStatus, RunEnd, Spare, Trigger, World};
