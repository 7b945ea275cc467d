//! A run explained line by line, for a person learning Kafka.
//!
//! [`Explainer`] turns each [`Step`] into a [`Line`]: virtual time, the actor (`b2 → c1` for a
//! delivery), what happened in Kafka's words ([`super::words`]) and why, when the model said so.
//! It reads the whole trace in order, because some sentences need what came before: a response is
//! described with its request (an OffsetCommit answer names the offsets it answers), a metadata
//! version with what changed since the previous one, and a JoinGroup answer with the reason the
//! coordinator gave for the rebalance.
//!
//! [`render`] then keeps the lines a reader asked for ([`TextOptions`]). By default it hides the
//! bookkeeping (timers set and cancelled, disk writes, sends whose delivery is shown); `brief`
//! also hides the steady polling of a healthy cluster (fetches with nothing new, heartbeats
//! answered NONE, timers and disk completions that did nothing worth saying, coverage marks).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::step::{Body, Fate, Step, Wire};
use super::{phrases, words};
use crate::model::metadata::MetadataImage;
use crate::model::protocol::{ErrorCode, Msg};

/// What a node is, inferred from the node order (brokers, then the controller, then clients) and
/// from what each client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Broker,
    Controller,
    Producer,
    Consumer,
}

/// Who sees a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Visibility {
    /// Shown by default and with `brief`.
    Key,
    /// Shown by default, hidden by `brief`: the steady polling of a healthy cluster.
    Routine,
    /// Shown only with `all`: bookkeeping that another line already tells.
    Bookkeeping,
}

/// One step, explained.
#[derive(Clone, Debug)]
pub struct Line {
    pub seq: u64,
    pub at_us: u64,
    pub kind: &'static str,
    /// `c1`, or `b2 → c1` for a message.
    pub actor: String,
    /// The node names this line is about (the node and its peer).
    pub actors: Vec<String>,
    /// What `--kind` matches besides the event kind: the request name without its suffix
    /// (`JoinGroup`), the observation (`polled`) or the timer (`AutoCommit`).
    pub topic: Option<String>,
    /// Groups this line is about, beyond those its text names (a response's group, from its request).
    pub groups: Vec<String>,
    pub what: String,
    pub why: String,
    pub visibility: Visibility,
    /// Part of the record flow that went well: a record sent, appended, acknowledged, fetched,
    /// polled or processed without an error (what `no_records` hides).
    pub record_flow: bool,
}

impl Line {
    /// The text after the actor: what happened, and why.
    pub fn sentence(&self) -> String {
        if self.why.is_empty() || self.why == self.what {
            self.what.clone()
        } else {
            format!("{} — {}", self.what, self.why)
        }
    }
}

/// `12.345s`: virtual seconds with three decimals (truncated, never rounded up past the event).
pub fn seconds(at_us: u64) -> String {
    format!("{}.{:03}s", at_us / 1_000_000, (at_us % 1_000_000) / 1000)
}

/// Explains steps in trace order, remembering what later sentences need.
pub struct Explainer {
    names: Vec<String>,
    roles: Vec<Role>,
    /// Requests seen, by (client node, server node, correlation id), until their response.
    requests: BTreeMap<(u32, u32, u64), Msg>,
    last_image: Option<MetadataImage>,
    /// What each metadata version changed, once described.
    image_changes: BTreeMap<u64, String>,
    /// The last reason each group's coordinator gave for a rebalance, and when.
    rebalance_reasons: BTreeMap<String, (String, u64)>,
    /// Failures already told since the last fault or start, by (node, peer, what): a client
    /// retrying a dead broker learns again at every attempt that the connection broke, and loses
    /// another request.
    failures_told: BTreeSet<(u32, u32, String)>,
    /// The last metadata each client was given, to tell a refresh that changed nothing.
    last_metadata: BTreeMap<u32, String>,
    /// When the trace ends: a message due after it was never delivered, so its send is news.
    end_us: u64,
    /// Steps that could only be described generically (a message or timer this build does not
    /// know). A trace of this build's scenarios has none.
    pub undescribed: Vec<u64>,
}

impl Explainer {
    pub fn new(names: &[String], steps: &[Step]) -> Explainer {
        let controller = names.iter().position(|n| n == crate::scenario::CONTROLLER).unwrap_or(0);
        let mut roles: Vec<Role> = (0..names.len())
            .map(|i| match i.cmp(&controller) {
                std::cmp::Ordering::Less => Role::Broker,
                std::cmp::Ordering::Equal => Role::Controller,
                std::cmp::Ordering::Greater => Role::Consumer,
            })
            .collect();
        for s in steps {
            if let (Body::Send { msg: Wire::Known(m), .. }, Some(n)) = (&s.body, s.node) {
                if matches!(m.as_ref(), Msg::ProduceRequest(_)) && roles.get(n as usize) == Some(&Role::Consumer) {
                    roles[n as usize] = Role::Producer;
                }
            }
        }
        Explainer {
            names: names.to_vec(),
            roles,
            requests: BTreeMap::new(),
            last_image: None,
            image_changes: BTreeMap::new(),
            rebalance_reasons: BTreeMap::new(),
            failures_told: BTreeSet::new(),
            last_metadata: BTreeMap::new(),
            end_us: steps.last().map_or(0, |s| s.at_us),
            undescribed: Vec::new(),
        }
    }

    pub fn name(&self, node: u32) -> String {
        self.names.get(node as usize).cloned().unwrap_or_else(|| format!("n{node}"))
    }

    fn role(&self, node: Option<u32>) -> Option<Role> {
        node.and_then(|n| self.roles.get(n as usize).copied())
    }

    pub fn explain(&mut self, step: &Step) -> Line {
        let here = step.node.map_or_else(|| "network".to_string(), |n| self.name(n));
        let mut line = Line {
            seq: step.seq,
            at_us: step.at_us,
            kind: step.kind(),
            actor: here.clone(),
            actors: vec![here.clone()],
            topic: None,
            groups: Vec::new(),
            what: String::new(),
            why: self.node_names_in(&step.explanation),
            visibility: Visibility::Key,
            record_flow: false,
        };
        self.note_rebalance_reason(&step.explanation, step.at_us);
        if matches!(step.body, Body::Fault { .. } | Body::Start { .. } | Body::Lifecycle { .. }) {
            self.failures_told.clear();
        }
        match &step.body {
            Body::Deliver { from, msg } => {
                let peer = self.name(*from);
                line.actor = format!("{peer} → {here}");
                line.actors.push(peer);
                self.message(step, &mut line, msg, *from, step.node.unwrap_or(0), true);
            }
            Body::Send { to, msg, fate } => self.send(step, &mut line, *to, msg, fate),
            Body::Drop { from, to, msg_kind, reason } => {
                let (a, b) = (self.name(*from), self.name(*to));
                line.actor = format!("{a} → {b}");
                line.actors = vec![a, b];
                line.topic = Some(api_base(msg_kind).to_string());
                line.what = format!("{} dropped on arrival: {}", phrases::api_phrase(msg_kind), phrases::drop_reason(reason));
            }
            Body::Disconnect { peer } => {
                let p = self.name(*peer);
                line.what = format!("learns that its connection to {p} broke; requests in flight on it are failed");
                line.actors.push(p);
                if !self.failures_told.insert((step.node.unwrap_or(0), *peer, String::new())) {
                    line.visibility = Visibility::Routine;
                }
            }
            _ => self.local(step, &mut line),
        }
        line
    }

    /// A message leaving its node: shown when the network did something to it (lost, held,
    /// duplicated); otherwise its delivery tells the story.
    fn send(&mut self, step: &Step, line: &mut Line, to: u32, msg: &Wire, fate: &Fate) {
        let peer = self.name(to);
        line.actor = format!("{} → {peer}", line.actor);
        line.actors.push(peer);
        self.message(step, line, msg, step.node.unwrap_or(0), to, false);
        match fate {
            Fate::InFlight { dup_at_us: Some(dup), .. } => {
                line.what = format!("sends {} — the network duplicates it: a second copy arrives at {}", line.what, seconds(*dup));
            }
            Fate::InFlight { at_us, .. } if *at_us > self.end_us => {
                line.what = format!("sends {} — still in flight when the run ended", line.what);
            }
            Fate::InFlight { at_us, .. } => {
                line.what = format!("sends {} (arrives at {})", line.what, seconds(*at_us));
                line.visibility = Visibility::Bookkeeping;
            }
            Fate::Held => line.what = format!("sends {} — held: the link is clogged", line.what),
            Fate::Dropped { reason } => {
                line.what = format!("sends {} — lost: {}", line.what, phrases::drop_reason(reason));
                if !self.failures_told.insert((step.node.unwrap_or(0), to, msg.api())) {
                    line.visibility = Visibility::Routine;
                }
            }
        }
    }

    /// A step that involves one node only: a start, timer, disk event, observation, mark, fault,
    /// trigger or lifecycle change.
    fn local(&mut self, step: &Step, line: &mut Line) {
        let quiet = step.explanation.is_empty();
        let what: Option<String> = match &step.body {
            Body::Start { restart } => Some(if *restart { "restarts".into() } else { "starts".into() }),
            Body::Timer { timer } => {
                line.groups.extend(phrases::timer_group(timer));
                line.topic = Some(phrases::timer_parts(timer).0);
                line.record_flow = matches!(line.topic.as_deref(), Some("NextRecord" | "ProcessingDone" | "Drain" | "FetchExpiry"));
                if quiet {
                    line.visibility = Visibility::Routine;
                }
                phrases::timer(timer, self.role(step.node) == Some(Role::Broker))
            }
            Body::Disk { done } => {
                if quiet {
                    line.visibility = Visibility::Routine;
                }
                phrases::disk_done(done)
            }
            Body::SetTimer { timer, due_us } => {
                line.topic = Some(phrases::timer_parts(timer).0);
                line.visibility = Visibility::Bookkeeping;
                Some(format!("sets timer {} for {}", phrases::timer_name(timer), seconds(*due_us)))
            }
            Body::CancelTimer { timer } => {
                line.topic = Some(phrases::timer_parts(timer).0);
                line.visibility = Visibility::Bookkeeping;
                Some(format!("cancels timer {}", phrases::timer_name(timer)))
            }
            Body::DiskOp { op, file, len } => {
                line.visibility = Visibility::Bookkeeping;
                Some(phrases::disk_op(op, file, *len))
            }
            Body::Observe { obs } => {
                let op = obs["op"].as_str().unwrap_or("?").to_string();
                line.groups.extend(obs.get("group").and_then(Value::as_str).map(str::to_string));
                if op == "produce_invoked" {
                    line.visibility = Visibility::Routine; // the NextRecord timer says the same
                }
                line.record_flow = matches!(op.as_str(), "produce_invoked" | "produce_acked" | "polled" | "processed");
                line.topic = Some(op);
                phrases::observation(obs)
            }
            Body::Mark { name } => {
                line.visibility = Visibility::Routine;
                Some(format!("reaches coverage mark {name}"))
            }
            Body::Fault { fault } => {
                if step.at_us == 0 && fault.starts_with("start ") {
                    line.visibility = Visibility::Routine; // the node's own start line follows
                }
                Some(format!("scenario: {fault}"))
            }
            Body::Trigger { label } => Some(format!("scenario trigger fires: {label}")),
            Body::Lifecycle { change } => phrases::lifecycle(change).map(str::to_string),
            Body::Deliver { .. } | Body::Send { .. } | Body::Drop { .. } | Body::Disconnect { .. } => unreachable!("explain handles messages and connections"),
        };
        line.what = what.unwrap_or_else(|| {
            self.undescribed.push(step.seq);
            format!("{} step: {}", step.kind(), raw_body(step))
        });
    }

    /// The model names nodes by index (`n0`); the reader knows them by name (`b0`).
    fn node_names_in(&self, text: &str) -> String {
        if !text.contains('n') {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('n') {
            let (before, from_n) = rest.split_at(i);
            out.push_str(before);
            let digits: String = from_n[1..].chars().take_while(char::is_ascii_digit).collect();
            let prev_ok = !out.chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
            let next_ok = !from_n[1 + digits.len()..].chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_');
            match digits.parse::<u32>() {
                Ok(n) if prev_ok && next_ok && (n as usize) < self.names.len() => {
                    out.push_str(&self.names[n as usize]);
                    rest = &from_n[1 + digits.len()..];
                }
                _ => {
                    out.push('n');
                    rest = &from_n[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn note_rebalance_reason(&mut self, explanation: &str, at_us: u64) {
        for part in explanation.split("; ") {
            if let Some((g, reason)) = part.strip_prefix("group ").and_then(|p| p.split_once(": rebalance because ")) {
                self.rebalance_reasons.insert(g.to_string(), (reason.to_string(), at_us));
            }
        }
    }

    /// Describes a message from `src` to `dst`, sent or delivered.
    fn message(&mut self, step: &Step, line: &mut Line, wire: &Wire, src: u32, dst: u32, delivered: bool) {
        let api = wire.api();
        line.topic = Some(api_base(&api).to_string());
        let Wire::Known(msg) = wire else {
            self.undescribed.push(step.seq);
            line.what = phrases::api_phrase(&api);
            return;
        };
        let msg = msg.as_ref();
        let is_request = api.ends_with("Request");
        let mut request = None;
        if let Some(c) = correlation_id(msg) {
            if is_request {
                self.requests.insert((src, dst, c), msg.clone());
            } else if delivered {
                request = self.requests.remove(&(dst, src, c));
            } else {
                request = self.requests.get(&(dst, src, c)).cloned();
            }
        }
        let group = group_of(msg).or_else(|| request.as_ref().and_then(group_of));
        let change = self.metadata_change(msg);
        let name = |n: u32| self.name(n);
        line.what = words::describe(msg, &name, request.as_ref(), change.as_deref());
        if let Some(g) = &group {
            line.groups.push(g.clone());
            // A member's JoinGroup answer says why the group rebalanced, when the coordinator said.
            if matches!(msg, Msg::JoinGroupResponse(r) if r.error_code == ErrorCode::None) && line.why.is_empty() {
                if let Some((reason, at)) = self.rebalance_reasons.get(g) {
                    line.why = format!("rebalance because {reason} (at {})", seconds(*at));
                }
            }
        }
        // A fetch whose answer moved a group along (its assignment became durable) is not routine.
        line.record_flow = is_record_flow(msg) && !names_token(&step.explanation, "group");
        if delivered && step.explanation.is_empty() && is_routine(msg, self.role(step.node)) {
            line.visibility = Visibility::Routine;
        }
        // A metadata refresh is news only when the answer changed.
        if delivered {
            match msg {
                Msg::MetadataRequest(_) => line.visibility = line.visibility.max(Visibility::Routine),
                Msg::MetadataResponse(_) => {
                    if self.last_metadata.get(&dst).is_some_and(|last| *last == line.what) {
                        line.visibility = line.visibility.max(Visibility::Routine);
                    }
                    self.last_metadata.insert(dst, line.what.clone());
                }
                _ => {}
            }
        }
    }

    /// For a message carrying a metadata image: what changed since the previous version.
    fn metadata_change(&mut self, msg: &Msg) -> Option<String> {
        let image = match msg {
            Msg::UpdateMetadataRequest(r) => &r.metadata,
            Msg::BrokerHeartbeatResponse(r) => r.metadata.as_ref()?,
            _ => return None,
        };
        if let Some(text) = self.image_changes.get(&image.version) {
            return Some(text.clone());
        }
        let newer = self.last_image.as_ref().is_none_or(|l| l.version < image.version);
        if !newer {
            return Some("(an older version)".into());
        }
        let text = words::metadata_change(self.last_image.as_ref(), image);
        self.image_changes.insert(image.version, text.clone());
        self.last_image = Some(image.clone());
        Some(text)
    }
}

/// What this build could not put in words, as the trace has it.
fn raw_body(step: &Step) -> String {
    match &step.body {
        Body::Timer { timer } => timer.to_string(),
        Body::Disk { done } => done.to_string(),
        Body::Observe { obs } => obs.to_string(),
        Body::Lifecycle { change } => change.clone(),
        _ => String::new(),
    }
}

/// A delivery that is part of the steady state: nothing new fetched, heartbeats answered NONE.
fn is_routine(msg: &Msg, at: Option<Role>) -> bool {
    match msg {
        Msg::FetchRequest(_) | Msg::HeartbeatRequest(_) | Msg::BrokerHeartbeatRequest(_) => true,
        Msg::FetchResponse(r) => {
            let quiet = r.partitions.iter().all(|p| p.error_code == ErrorCode::None && p.diverging_epoch.is_none());
            let empty = r.partitions.iter().all(|p| p.records.is_empty());
            quiet && (empty || at == Some(Role::Broker))
        }
        Msg::HeartbeatResponse(r) => r.error_code == ErrorCode::None,
        Msg::BrokerHeartbeatResponse(r) => r.error_code == ErrorCode::None && r.metadata.is_none() && !r.is_fenced,
        _ => false,
    }
}

/// A produce or fetch that went well.
fn is_record_flow(msg: &Msg) -> bool {
    match msg {
        Msg::ProduceRequest(_) | Msg::FetchRequest(_) => true,
        Msg::ProduceResponse(r) => r.responses.iter().all(|p| p.error_code == ErrorCode::None),
        Msg::FetchResponse(r) => r.partitions.iter().all(|p| p.error_code == ErrorCode::None && p.diverging_epoch.is_none()),
        _ => false,
    }
}

fn correlation_id(msg: &Msg) -> Option<u64> {
    Some(match msg {
        Msg::ProduceRequest(m) => m.correlation_id,
        Msg::ProduceResponse(m) => m.correlation_id,
        Msg::FetchRequest(m) => m.correlation_id,
        Msg::FetchResponse(m) => m.correlation_id,
        Msg::ListOffsetsRequest(m) => m.correlation_id,
        Msg::ListOffsetsResponse(m) => m.correlation_id,
        Msg::MetadataRequest(m) => m.correlation_id,
        Msg::MetadataResponse(m) => m.correlation_id,
        Msg::BrokerRegistrationRequest(m) => m.correlation_id,
        Msg::BrokerRegistrationResponse(m) => m.correlation_id,
        Msg::BrokerHeartbeatRequest(m) => m.correlation_id,
        Msg::BrokerHeartbeatResponse(m) => m.correlation_id,
        Msg::UpdateMetadataRequest(_) => return None,
        Msg::AlterPartitionRequest(m) => m.correlation_id,
        Msg::AlterPartitionResponse(m) => m.correlation_id,
        Msg::FindCoordinatorRequest(m) => m.correlation_id,
        Msg::FindCoordinatorResponse(m) => m.correlation_id,
        Msg::JoinGroupRequest(m) => m.correlation_id,
        Msg::JoinGroupResponse(m) => m.correlation_id,
        Msg::SyncGroupRequest(m) => m.correlation_id,
        Msg::SyncGroupResponse(m) => m.correlation_id,
        Msg::HeartbeatRequest(m) => m.correlation_id,
        Msg::HeartbeatResponse(m) => m.correlation_id,
        Msg::LeaveGroupRequest(m) => m.correlation_id,
        Msg::LeaveGroupResponse(m) => m.correlation_id,
        Msg::OffsetCommitRequest(m) => m.correlation_id,
        Msg::OffsetCommitResponse(m) => m.correlation_id,
        Msg::OffsetFetchRequest(m) => m.correlation_id,
        Msg::OffsetFetchResponse(m) => m.correlation_id,
    })
}

/// The consumer group a request names.
pub fn group_of(msg: &Msg) -> Option<String> {
    match msg {
        Msg::FindCoordinatorRequest(m) => Some(m.key.clone()),
        Msg::JoinGroupRequest(m) => Some(m.group_id.clone()),
        Msg::SyncGroupRequest(m) => Some(m.group_id.clone()),
        Msg::HeartbeatRequest(m) => Some(m.group_id.clone()),
        Msg::LeaveGroupRequest(m) => Some(m.group_id.clone()),
        Msg::OffsetCommitRequest(m) => Some(m.group_id.clone()),
        Msg::OffsetFetchRequest(m) => Some(m.group_id.clone()),
        _ => None,
    }
}

/// `JoinGroupRequest` → `JoinGroup`.
pub fn api_base(api: &str) -> &str {
    api.strip_suffix("Request").or_else(|| api.strip_suffix("Response")).unwrap_or(api)
}

/// Which lines to print.
#[derive(Clone, Debug, Default)]
pub struct TextOptions {
    /// Every step, bookkeeping included.
    pub all: bool,
    /// Hide the steady polling too.
    pub brief: bool,
    /// Node names; a line matches when it is about one of them (at it, from it or to it).
    pub actors: Vec<String>,
    pub group: Option<String>,
    /// `topic-N`
    pub partition: Option<String>,
    /// Event kinds (`deliver`, `timer`…), request names (`JoinGroup`, `OffsetCommit`…),
    /// observations (`polled`, `committed`…) or timers (`AutoCommit`).
    pub kinds: Vec<String>,
    /// Hide the record flow that went well (sends, appends, acks, fetches, polls, processing).
    pub no_records: bool,
    /// The same vocabulary as `kinds`: lines of these kinds are left out.
    pub hide: Vec<String>,
    pub from_s: Option<f64>,
    pub to_s: Option<f64>,
    /// Show the `context` lines that led to this seq, and a few after.
    pub around: Option<u64>,
    pub context: usize,
    /// Prefix each line with its seq.
    pub show_seq: bool,
}

/// Lines shown after the `--around` step.
pub const AFTER_AROUND: usize = 5;

/// Whether `text` names `needle` as a whole token (`orders-1` does not match `orders-10`).
pub fn names_token(text: &str, needle: &str) -> bool {
    let is_part = |c: char| c.is_alphanumeric() || c == '-' || c == '_' || c == '.';
    text.match_indices(needle).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + needle.len()..].chars().next();
        !before.is_some_and(is_part) && !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || (c == '-' && !needle.contains('-')))
    })
}

/// The observation ops a `--kind` can name.
pub const OBSERVATIONS: &[&str] =
    &["produce_invoked", "produce_acked", "produce_failed", "polled", "processed", "position_set", "no_committed_offset", "joined", "assigned", "revoked", "commit_requested", "committed", "offsets_written", "offsets_expired"];

/// The timers a `--kind` can name.
pub const TIMERS: &[&str] = &[
    "Poll", "AutoCommit", "Rejoin", "ProcessingDone", "PollTimeout", "Heartbeat", "RequestTimeout", "NextRecord", "Drain", "MetadataTimeout", "MetadataRefresh", "FetchExpiry", "ProduceExpiry", "FetchSlice",
    "FlushTick", "IsrCheck", "HwCheckpoint", "ReplicaFetchBackoff", "ReplicaFetchTimeout", "TruncateDiverged", "RetentionCheck", "OffsetsRetentionCheck", "GroupsLoaded", "Group", "SessionCheck",
];

impl TextOptions {
    /// Whether a `--kind` value names something a line can be.
    pub fn known_kind(k: &str) -> bool {
        super::step::KINDS.contains(&k)
            || crate::model::protocol::MESSAGE_KINDS.iter().any(|m| m.eq_ignore_ascii_case(k) || api_base(m).eq_ignore_ascii_case(k))
            || OBSERVATIONS.contains(&k)
            || TIMERS.iter().any(|t| t.eq_ignore_ascii_case(k))
    }

    fn is_kind(l: &Line, k: &str) -> bool {
        let topic = l.topic.as_deref().unwrap_or("");
        k == l.kind || (!topic.is_empty() && (k.eq_ignore_ascii_case(topic) || api_base(k).eq_ignore_ascii_case(topic)))
    }

    fn keeps(&self, l: &Line) -> bool {
        // Asking for an event kind by name (`--kind set_timer`) shows it even if it is bookkeeping.
        let named = self.kinds.iter().any(|k| k == l.kind);
        let limit = if self.all || named {
            Visibility::Bookkeeping
        } else if self.brief {
            Visibility::Key
        } else {
            Visibility::Routine
        };
        if l.visibility > limit {
            return false;
        }
        if !self.actors.is_empty() && !l.actors.iter().any(|a| self.actors.contains(a)) {
            return false;
        }
        let secs = l.at_us as f64 / 1e6;
        if self.from_s.is_some_and(|f| secs < f) || self.to_s.is_some_and(|t| secs > t) {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| Self::is_kind(l, k)) {
            return false;
        }
        if self.no_records && l.record_flow {
            return false;
        }
        if self.hide.iter().any(|k| Self::is_kind(l, k)) {
            return false;
        }
        if let Some(g) = &self.group {
            if !l.groups.contains(g) && !names_token(&l.what, g) && !names_token(&l.why, g) {
                return false;
            }
        }
        if let Some(p) = &self.partition {
            if !names_token(&l.what, p) && !names_token(&l.why, p) {
                return false;
            }
        }
        true
    }
}

/// Formats one line.
pub fn format_line(l: &Line, show_seq: bool, marked: bool) -> String {
    let mut s = String::new();
    if show_seq {
        s.push_str(&format!("{}#{:<7}", if marked { "▶ " } else { "  " }, l.seq));
    }
    s.push_str(&format!("{:>9}  {:<18} {}", seconds(l.at_us), l.actor, l.sentence()));
    s
}

/// The text of a rendered trace, and how much of it is shown.
pub struct Rendered {
    pub text: String,
    pub shown: usize,
    pub total: usize,
    /// Seqs of steps described only generically.
    pub undescribed: Vec<u64>,
}

/// Explains every step and keeps the lines `opts` asks for, formatted.
pub fn render(names: &[String], steps: &[Step], opts: &TextOptions) -> Rendered {
    let mut ex = Explainer::new(names, steps);
    let lines: Vec<Line> = steps.iter().map(|s| ex.explain(s)).collect();
    let mut kept: Vec<&Line> = lines.iter().filter(|l| opts.keeps(l) || opts.around == Some(l.seq)).collect();
    if let Some(target) = opts.around {
        let at = kept.iter().rposition(|l| l.seq <= target).map_or(0, |i| i + 1);
        let start = at.saturating_sub(opts.context.max(1));
        let end = (at + AFTER_AROUND).min(kept.len());
        kept = kept[start..end].to_vec();
    }
    let show_seq = opts.show_seq || opts.around.is_some();
    Rendered {
        text: kept.iter().map(|l| format_line(l, show_seq, opts.around == Some(l.seq))).collect::<Vec<_>>().join("\n"),
        shown: kept.len(),
        total: lines.len(),
        undescribed: ex.undescribed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::step::parse_jsonl;

    fn trace(events: &[&str]) -> (Vec<String>, Vec<Step>) {
        let header = r#"{"schema":"kafkasim-trace","version":1,"scenario":"s","seed":1,"nodes":["b0","controller","c1"]}"#;
        let text = std::iter::once(header).chain(events.iter().copied()).collect::<Vec<_>>().join("\n");
        let t = parse_jsonl(&text, "t").unwrap();
        (t.nodes, t.steps)
    }

    #[test]
    fn a_commit_answer_names_the_offsets_of_its_request() {
        let (names, steps) = trace(&[
            r#"{"seq":1,"at":1000000,"node":0,"kind":"deliver","from":2,"msg":{"api":"OffsetCommitRequest","correlation_id":7,"group_id":"g","generation_id":2,"member_id":"c1-1","offsets":[["t-0",42]]}}"#,
            r#"{"seq":2,"at":1500000,"node":2,"kind":"deliver","from":0,"msg":{"api":"OffsetCommitResponse","correlation_id":7,"partitions":[["t-0","ILLEGAL_GENERATION"]]}}"#,
        ]);
        let r = render(&names, &steps, &TextOptions::default());
        let lines: Vec<&str> = r.text.lines().collect();
        assert_eq!(lines[0], "   1.000s  c1 → b0            OffsetCommit request: group g generation 2, member c1-1: t-0=42");
        assert_eq!(lines[1], "   1.500s  b0 → c1            OffsetCommit response: t-0=42 ILLEGAL_GENERATION");
        // The response is about group g though it does not name it.
        let only_g = TextOptions { group: Some("g".into()), ..Default::default() };
        assert_eq!(render(&names, &steps, &only_g).shown, 2);
        let other = TextOptions { group: Some("h".into()), ..Default::default() };
        assert_eq!(render(&names, &steps, &other).shown, 0);
        let hidden = TextOptions { hide: vec!["OffsetCommit".into()], ..Default::default() };
        assert_eq!(render(&names, &steps, &hidden).shown, 0);
    }

    #[test]
    fn a_join_answer_carries_the_coordinators_reason() {
        let (names, steps) = trace(&[
            r#"{"seq":1,"at":2000000,"node":0,"kind":"deliver","from":2,"msg":{"api":"JoinGroupRequest","correlation_id":3,"group_id":"g","session_timeout_ms":45000,"rebalance_timeout_ms":300000,"member_id":"c1-1","client_id":"c1","protocol_type":"consumer","protocols":[["range",{"topics":["t"],"owned_partitions":["t-0"],"generation_id":1}]]},"explanation":"group g: rebalance because c3-2's session expired"}"#,
            r#"{"seq":2,"at":3000000,"node":2,"kind":"deliver","from":0,"msg":{"api":"JoinGroupResponse","correlation_id":3,"error_code":"NONE","generation_id":2,"protocol_name":"range","leader":"c2-4","member_id":"c1-1","members":[]}}"#,
        ]);
        let r = render(&names, &steps, &TextOptions::default());
        let second = r.text.lines().nth(1).unwrap();
        assert!(second.ends_with("JoinGroup response: generation 2, member id c1-1, leader c2-4, protocol range — rebalance because c3-2's session expired (at 2.000s)"), "{second}");
        let first = r.text.lines().next().unwrap();
        assert!(first.contains("owns [t-0] since generation 1, session timeout 45 s, rebalance timeout 300 s"), "{first}");
    }

    #[test]
    fn bookkeeping_is_hidden_unless_all() {
        let (names, steps) = trace(&[
            r#"{"seq":0,"at":0,"node":2,"kind":"set_timer","timer":"Heartbeat","due":3000000}"#,
            r#"{"seq":1,"at":0,"node":2,"kind":"send","to":0,"msg":{"api":"MetadataRequest","correlation_id":1,"topics":["t"]},"fate":{"fate":"in_flight","at":2533,"dup_at":null}}"#,
            r#"{"seq":2,"at":0,"node":2,"kind":"send","to":1,"msg":{"api":"MetadataRequest","correlation_id":2,"topics":["t"]},"fate":{"fate":"dropped","reason":"partitioned"}}"#,
            r#"{"seq":3,"at":3000000,"node":2,"kind":"timer","timer":"Heartbeat"}"#,
        ]);
        let r = render(&names, &steps, &TextOptions::default());
        assert_eq!(r.shown, 2, "{}", r.text);
        assert!(r.text.contains("c1 → controller    sends Metadata request for topics [t] — lost: the network is partitioned between them"), "{}", r.text);
        assert_eq!(render(&names, &steps, &TextOptions { brief: true, ..Default::default() }).shown, 1);
        assert_eq!(render(&names, &steps, &TextOptions { all: true, ..Default::default() }).shown, 4);
        let around = render(&names, &steps, &TextOptions { all: true, around: Some(2), context: 2, ..Default::default() });
        assert!(around.text.lines().nth(1).unwrap().starts_with("▶ #2"), "{}", around.text);
        assert_eq!(around.shown, 3);
        let timers = TextOptions { all: true, kinds: vec!["Heartbeat".into()], ..Default::default() };
        assert_eq!(render(&names, &steps, &timers).shown, 2, "the timer set and the timer fired");
    }

    #[test]
    fn node_indexes_in_explanations_read_as_names() {
        let (names, steps) = trace(&[]);
        let ex = Explainer::new(&names, &steps);
        assert_eq!(ex.node_names_in("connection to n0 broke; n2 and n7 and fn1 and n1x"), "connection to b0 broke; c1 and n7 and fn1 and n1x");
    }

    #[test]
    fn tokens_match_whole_partition_names() {
        assert!(names_token("orders-1: 3 records", "orders-1"));
        assert!(!names_token("orders-10: 3 records", "orders-1"));
        assert!(!names_token("big-orders-1", "orders-1"));
        assert!(names_token("group g: x", "g"));
        assert!(!names_token("group g-2: x", "g"));
    }
}
