//! Trace events as owned values, read back from a run's sink or from a saved `.jsonl` file.
//!
//! A [`Step`] is one trace event with its message decoded into the model's [`Msg`], so that the
//! text renderer and the semantic diff work the same on a live run ([`StepSink`]) and on a file
//! ([`load_jsonl`]). Everything else (timers, observations, disk completions) stays JSON: the
//! renderer reads the few fields it needs. A message whose `api` this build does not know (a trace
//! from another build) is kept raw and still rendered by name.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use serde_json::Value;

use crate::engine::{SendFate, TraceEvent, TraceKind, TraceSink};
use crate::model::protocol::Msg;
use crate::model::KafkaNode;

/// One trace event, owned.
#[derive(Clone, Debug)]
pub struct Step {
    pub seq: u64,
    /// Virtual time in microseconds.
    pub at_us: u64,
    pub node: Option<u32>,
    /// The model's or the engine's own words, when it gave any.
    pub explanation: String,
    pub body: Body,
}

#[derive(Clone, Debug)]
pub enum Body {
    Start { restart: bool },
    Deliver { from: u32, msg: Wire },
    Send { to: u32, msg: Wire, fate: Fate },
    Drop { from: u32, to: u32, msg_kind: String, reason: String },
    Timer { timer: Value },
    Disk { done: Value },
    Disconnect { peer: u32 },
    SetTimer { timer: Value, due_us: u64 },
    CancelTimer { timer: Value },
    DiskOp { op: String, file: String, len: u64 },
    Observe { obs: Value },
    Mark { name: String },
    Fault { fault: String },
    Trigger { label: String },
    Lifecycle { change: String },
}

/// A message: decoded, or kept raw when this build does not know its `api`.
#[derive(Clone, Debug)]
pub enum Wire {
    Known(Box<Msg>),
    Unknown { api: String, raw: Value },
}

impl Wire {
    /// The message's `api` (`JoinGroupRequest`).
    pub fn api(&self) -> String {
        match self {
            Wire::Known(m) => crate::model::Message::kind(m.as_ref()).to_string(),
            Wire::Unknown { api, .. } => api.clone(),
        }
    }
}

/// What the network did with a sent message.
#[derive(Clone, Debug)]
pub enum Fate {
    InFlight { at_us: u64, dup_at_us: Option<u64> },
    Held,
    Dropped { reason: String },
}

/// Every event kind of the trace schema, in the schema's spelling.
pub const KINDS: &[&str] = &[
    "start", "deliver", "send", "drop", "timer", "disk", "disk_op", "set_timer", "cancel_timer", "observe", "mark", "fault", "trigger", "lifecycle", "disconnect",
];

impl Step {
    /// The event's `kind` in the trace schema's spelling.
    pub fn kind(&self) -> &'static str {
        match &self.body {
            Body::Start { .. } => "start",
            Body::Deliver { .. } => "deliver",
            Body::Send { .. } => "send",
            Body::Drop { .. } => "drop",
            Body::Timer { .. } => "timer",
            Body::Disk { .. } => "disk",
            Body::Disconnect { .. } => "disconnect",
            Body::SetTimer { .. } => "set_timer",
            Body::CancelTimer { .. } => "cancel_timer",
            Body::DiskOp { .. } => "disk_op",
            Body::Observe { .. } => "observe",
            Body::Mark { .. } => "mark",
            Body::Fault { .. } => "fault",
            Body::Trigger { .. } => "trigger",
            Body::Lifecycle { .. } => "lifecycle",
        }
    }

    /// The message this step carries, if any.
    pub fn wire(&self) -> Option<&Wire> {
        match &self.body {
            Body::Deliver { msg, .. } | Body::Send { msg, .. } => Some(msg),
            _ => None,
        }
    }

    /// Reads one event of the JSON schema; the error names the missing or malformed field.
    pub fn from_value(v: &Value) -> Result<Step, String> {
        let kind = str_field(v, "kind")?;
        let body = match kind.as_str() {
            "start" => Body::Start { restart: v.get("restart").and_then(Value::as_bool).ok_or("field `restart` missing")? },
            "deliver" => Body::Deliver { from: u32_field(v, "from")?, msg: wire(v)? },
            "send" => Body::Send { to: u32_field(v, "to")?, msg: wire(v)?, fate: fate(v)? },
            "drop" => Body::Drop { from: u32_field(v, "from")?, to: u32_field(v, "to")?, msg_kind: str_field(v, "msg_kind")?, reason: str_field(v, "reason")? },
            "timer" => Body::Timer { timer: field(v, "timer")?.clone() },
            "disk" => Body::Disk { done: field(v, "done")?.clone() },
            "disconnect" => Body::Disconnect { peer: u32_field(v, "peer")? },
            "set_timer" => Body::SetTimer { timer: field(v, "timer")?.clone(), due_us: u64_field(v, "due")? },
            "cancel_timer" => Body::CancelTimer { timer: field(v, "timer")?.clone() },
            "disk_op" => Body::DiskOp { op: str_field(v, "op")?, file: str_field(v, "file")?, len: u64_field(v, "len")? },
            "observe" => Body::Observe { obs: field(v, "obs")?.clone() },
            "mark" => Body::Mark { name: str_field(v, "name")? },
            "fault" => Body::Fault { fault: str_field(v, "fault")? },
            "trigger" => Body::Trigger { label: str_field(v, "label")? },
            "lifecycle" => Body::Lifecycle { change: str_field(v, "change")? },
            other => return Err(format!("unknown event kind {other:?} (expected one of {})", KINDS.join(", "))),
        };
        Ok(Step {
            seq: u64_field(v, "seq")?,
            at_us: u64_field(v, "at")?,
            node: v.get("node").and_then(Value::as_u64).map(|n| n as u32),
            explanation: v.get("explanation").and_then(Value::as_str).unwrap_or("").to_string(),
            body,
        })
    }
}

fn field<'v>(v: &'v Value, name: &str) -> Result<&'v Value, String> {
    v.get(name).ok_or_else(|| format!("field `{name}` missing"))
}

fn str_field(v: &Value, name: &str) -> Result<String, String> {
    field(v, name)?.as_str().map(str::to_string).ok_or_else(|| format!("field `{name}` is not a string"))
}

fn u64_field(v: &Value, name: &str) -> Result<u64, String> {
    field(v, name)?.as_u64().ok_or_else(|| format!("field `{name}` is not a non-negative integer"))
}

fn u32_field(v: &Value, name: &str) -> Result<u32, String> {
    u64_field(v, name).map(|n| n as u32)
}

fn wire(v: &Value) -> Result<Wire, String> {
    let raw = field(v, "msg")?;
    let api = str_field(raw, "api").map_err(|e| format!("msg: {e}"))?;
    match decode(raw, &api) {
        Ok(m) => Ok(Wire::Known(Box::new(m))),
        Err(_) if !crate::model::protocol::MESSAGE_KINDS.contains(&api.as_str()) => Ok(Wire::Unknown { api, raw: raw.clone() }),
        Err(e) => Err(format!("msg {api}: {e}")),
    }
}

/// Decodes a message. `Msg` is tagged by `api`, and serde reads a tagged enum through a buffer
/// that loses the difference between a map key `"1"` and the number 1; the metadata image (a map
/// by broker id) is therefore decoded on its own.
fn decode(raw: &Value, api: &str) -> Result<Msg, serde_json::Error> {
    use crate::model::protocol::{BrokerHeartbeatResponse, UpdateMetadataRequest};
    let image = |v: &Value| serde_json::from_value::<crate::model::metadata::MetadataImage>(v.clone());
    match api {
        "UpdateMetadataRequest" => Ok(Msg::UpdateMetadataRequest(UpdateMetadataRequest { metadata: image(&raw["metadata"])? })),
        "BrokerHeartbeatResponse" => {
            let mut rest = raw.clone();
            let metadata = match rest.get_mut("metadata").map(Value::take) {
                Some(Value::Null) | None => None,
                Some(m) => Some(image(&m)?),
            };
            rest["metadata"] = Value::Null;
            let mut r: BrokerHeartbeatResponse = match serde_json::from_value(rest)? {
                Msg::BrokerHeartbeatResponse(r) => r,
                _ => unreachable!("the api tag decides the variant"),
            };
            r.metadata = metadata;
            Ok(Msg::BrokerHeartbeatResponse(r))
        }
        _ => serde_json::from_value(raw.clone()),
    }
}

fn fate(v: &Value) -> Result<Fate, String> {
    let f = field(v, "fate")?;
    match str_field(f, "fate")?.as_str() {
        "in_flight" => Ok(Fate::InFlight { at_us: u64_field(f, "at")?, dup_at_us: f.get("dup_at").and_then(Value::as_u64) }),
        "held" => Ok(Fate::Held),
        "dropped" => Ok(Fate::Dropped { reason: str_field(f, "reason")? }),
        other => Err(format!("unknown fate {other:?}")),
    }
}

/// A trace read back: the scenario, the seed, the node names, and the steps.
#[derive(Clone, Debug)]
pub struct LoadedTrace {
    pub scenario: String,
    pub seed: u64,
    pub nodes: Vec<String>,
    pub steps: Vec<Step>,
}

/// Why a trace file could not be read, with the line where it applies.
#[derive(Debug, thiserror::Error)]
pub enum TraceFileError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Bad { path: String, line: usize, message: String },
}

/// Reads a JSON Lines trace written by `kafkasim run --trace`.
pub fn load_jsonl(path: &Path) -> Result<LoadedTrace, TraceFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TraceFileError::Io { path: shown.clone(), source })?;
    parse_jsonl(&text, &shown)
}

/// Parses the text of a JSON Lines trace; `path` is only for error messages.
pub fn parse_jsonl(text: &str, path: &str) -> Result<LoadedTrace, TraceFileError> {
    let bad = |line: usize, message: String| TraceFileError::Bad { path: path.to_string(), line, message };
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, first) = lines.next().ok_or_else(|| bad(1, "empty file: expected a kafkasim trace header".into()))?;
    let header: Value = serde_json::from_str(first).map_err(|e| bad(1, format!("not JSON: {e}")))?;
    if header.get("schema").and_then(Value::as_str) != Some("kafkasim-trace") {
        return Err(bad(1, "not a kafkasim trace: the first line has no \"schema\":\"kafkasim-trace\" header".into()));
    }
    let version = header.get("version").and_then(Value::as_u64).unwrap_or(0);
    if version != u64::from(crate::engine::TRACE_SCHEMA_VERSION) {
        return Err(bad(1, format!("trace schema version {version}; this build reads version {}", crate::engine::TRACE_SCHEMA_VERSION)));
    }
    let nodes = header
        .get("nodes")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|n| n.as_str().unwrap_or("?").to_string()).collect())
        .ok_or_else(|| bad(1, "header: field `nodes` missing".into()))?;
    let mut steps = Vec::new();
    for (i, line) in lines {
        let v: Value = serde_json::from_str(line).map_err(|e| bad(i + 1, format!("not JSON: {e}")))?;
        steps.push(Step::from_value(&v).map_err(|e| bad(i + 1, e))?);
    }
    Ok(LoadedTrace {
        scenario: header.get("scenario").and_then(Value::as_str).unwrap_or("?").to_string(),
        seed: header.get("seed").and_then(Value::as_u64).unwrap_or(0),
        nodes,
        steps,
    })
}

/// A sink that keeps every event of a run as a [`Step`].
#[derive(Default)]
pub struct StepSink {
    pub steps: Rc<RefCell<Vec<Step>>>,
}

impl TraceSink<KafkaNode> for StepSink {
    fn event(&mut self, ev: &TraceEvent<'_, KafkaNode>) {
        self.steps.borrow_mut().push(Step::from_event(ev));
    }
}

impl Step {
    /// The step of a live event: messages are cloned, the rest goes through its JSON form.
    pub fn from_event(ev: &TraceEvent<'_, KafkaNode>) -> Step {
        let known = |m: &Msg| Wire::Known(Box::new(m.clone()));
        let body = match &ev.kind {
            TraceKind::Deliver { from, msg, .. } => Body::Deliver { from: from.0, msg: known(msg) },
            TraceKind::Send { to, msg, fate, .. } => Body::Send {
                to: to.0,
                msg: known(msg),
                fate: match fate {
                    SendFate::InFlight { at, dup_at } => Fate::InFlight { at_us: at.as_micros(), dup_at_us: dup_at.map(|d| d.as_micros()) },
                    SendFate::Held => Fate::Held,
                    SendFate::Dropped { reason } => Fate::Dropped { reason: serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default() },
                },
            },
            _ => {
                let value = serde_json::to_value(ev).expect("trace events serialize");
                return Step::from_value(&value).expect("the engine's own events follow the trace schema");
            }
        };
        Step { seq: ev.seq, at_us: ev.at.as_micros(), node: ev.node.map(|n| n.0), explanation: ev.explanation.to_string(), body }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"schema":"kafkasim-trace","version":1,"scenario":"s","seed":3,"nodes":["b0","c1"]}"#;

    #[test]
    fn reads_a_delivery_with_its_message() {
        let text = format!(
            "{HEADER}\n{}\n",
            r#"{"seq":5,"at":1200,"node":0,"kind":"deliver","from":1,"msg":{"api":"HeartbeatRequest","correlation_id":4,"group_id":"g","generation_id":2,"member_id":"c1-1"}}"#
        );
        let t = parse_jsonl(&text, "t.jsonl").unwrap();
        assert_eq!((t.scenario.as_str(), t.seed, t.nodes.len()), ("s", 3, 2));
        let s = &t.steps[0];
        assert_eq!((s.seq, s.at_us, s.node, s.kind()), (5, 1200, Some(0), "deliver"));
        match s.wire() {
            Some(Wire::Known(m)) => assert!(matches!(m.as_ref(), Msg::HeartbeatRequest(h) if h.generation_id == 2)),
            other => panic!("expected a decoded heartbeat, got {other:?}"),
        }
    }

    #[test]
    fn bad_lines_are_named_by_line_number() {
        let text = format!("{HEADER}\n{}\nnot json\n", r#"{"seq":0,"at":0,"node":0,"kind":"mark","name":"m"}"#);
        let e = parse_jsonl(&text, "t.jsonl").unwrap_err().to_string();
        assert!(e.starts_with("t.jsonl:3: not JSON"), "{e}");
        let e = parse_jsonl("{\"a\":1}\n", "x.jsonl").unwrap_err().to_string();
        assert!(e.contains("x.jsonl:1: not a kafkasim trace"), "{e}");
        let e = parse_jsonl(&format!("{HEADER}\n{{\"seq\":0,\"at\":0,\"kind\":\"mark\"}}\n"), "y").unwrap_err().to_string();
        assert_eq!(e, "y:2: field `name` missing");
    }
}
