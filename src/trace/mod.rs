//! Traces: JSON Lines output with a schema header, in-memory collection, and digests.
//!
//! A trace file starts with one header line (`{"schema":"kafkasim-trace","version":1,…}`) naming
//! the scenario, the seed and the nodes, followed by one JSON object per trace event in sequence
//! order. The digest is the engine's: a stable hash of every event, identical on every machine and
//! build profile; it is printed as 16 hex digits.

pub mod facts;
pub mod phrases;
pub mod state;
pub mod step;
pub mod stepper;
pub mod text;
pub mod view;
pub mod words;

use std::io::Write;

use serde::Serialize;

use crate::engine::{TraceEvent, TraceSink, TRACE_SCHEMA_VERSION};
use crate::model::KafkaNode;

/// The first line of a trace file.
#[derive(Serialize)]
pub struct TraceHeader<'a> {
    pub schema: &'static str,
    pub version: u32,
    pub scenario: &'a str,
    pub seed: u64,
    /// Node names by node id.
    pub nodes: &'a [String],
}

impl<'a> TraceHeader<'a> {
    pub fn new(scenario: &'a str, seed: u64, nodes: &'a [String]) -> Self {
        TraceHeader { schema: "kafkasim-trace", version: TRACE_SCHEMA_VERSION, scenario, seed, nodes }
    }
}

/// Formats a digest as Kafka-agnostic 16 hex digits.
pub fn format_digest(digest: u64) -> String {
    format!("{digest:016x}")
}

/// Writes each event as one JSON line.
pub struct JsonLines<W: Write> {
    out: W,
    error: Option<std::io::Error>,
}

impl<W: Write> JsonLines<W> {
    pub fn new(mut out: W, header: &TraceHeader<'_>) -> std::io::Result<Self> {
        serde_json::to_writer(&mut out, header)?;
        out.write_all(b"\n")?;
        Ok(JsonLines { out, error: None })
    }
}

impl<W: Write> TraceSink<KafkaNode> for JsonLines<W> {
    fn event(&mut self, ev: &TraceEvent<'_, KafkaNode>) {
        if self.error.is_some() {
            return;
        }
        let result = serde_json::to_writer(&mut self.out, ev).map_err(std::io::Error::from).and_then(|_| self.out.write_all(b"\n"));
        if let Err(e) = result {
            self.error = Some(e);
        }
    }
}

impl<W: Write> Drop for JsonLines<W> {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// Keeps every event as a JSON value (for tests, divergence reports and snapshots).
#[derive(Default)]
pub struct Collect {
    pub events: std::rc::Rc<std::cell::RefCell<Vec<serde_json::Value>>>,
}

impl TraceSink<KafkaNode> for Collect {
    fn event(&mut self, ev: &TraceEvent<'_, KafkaNode>) {
        let value = serde_json::to_value(ev).expect("trace events serialize");
        self.events.borrow_mut().push(value);
    }
}
