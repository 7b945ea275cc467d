//! Scenario files: parsing (with `file:line:col` errors), validation, and building a world.
//!
//! A scenario names a cluster, its topics, the clients and their workload, a fault timeline, run
//! limits, and what the run must end with. [`Scenario::load`] reads and validates one;
//! [`Scenario::build`] turns it into a ready-to-run [`World`] for one seed.

mod explicit;
pub mod format;
mod nemesis;
mod triggers;
pub mod values;

use std::ops::Range;
use std::path::Path;

use thiserror::Error;

pub use explicit::Draw;
pub use format::*;

use crate::engine::disk::DiskConfig;
use crate::engine::net::{Latency, LinkConfig, MessageRule, NetConfig, RuleAction};
use crate::engine::{Control, Limits, RandomChooser, World};
use crate::model::broker::{Broker, BrokerConfig};
use crate::model::config::{BrokerSettings, BugSwitches, ClusterLayout, TopicConfig};
use crate::model::controller::{Controller, ControllerConfig};
use crate::model::group::protocol::CONSUMER_OFFSETS;
use crate::model::consumer::{Consumer, ConsumerConfig, GroupSettings, StartPosition};
use crate::model::partitioner::Partitioner;
use crate::model::producer::{KeySpace, Producer, ProducerConfig};
use crate::model::protocol::MESSAGE_KINDS;
use crate::model::{BrokerId, Command, KafkaNode, NodeId, SimDuration, SimTime};
use values::{Keys, Start};

/// The names of the violations a scenario may expect, besides `pass`.
/// The controller's node name.
pub const CONTROLLER: &str = "controller";

/// A fault as the engine applies it to Kafka's nodes.
type ScenarioControl = Control<Command>;

pub const VERDICT_NAMES: &[&str] =
    &["pass", "lost-write", "exclusive-ownership", "group-isolation", "at-least-once", "cooperative-handoff", "exactly-once", "duplicate-append", "producer-order", "liveness", "commit-fencing", "commit-after-process", "offset-resumption", "committed-offset-monotonic", "committed-offset-durable", "log-matching", "hw-monotonic", "epoch-monotonic", "single-leader", "read-above-hw", "reads-committed", "time-limit", "step-limit", "panic"];

#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("{file}: {source}")]
    Io { file: String, source: std::io::Error },
    /// A parse or validation error at a place in the file.
    #[error("{file}:{line}:{column}: {message}")]
    At { file: String, line: usize, column: usize, message: String },
}

/// A parsed and validated scenario.
#[derive(Debug)]
pub struct Scenario {
    /// Where it came from, as given (used in reproduce lines).
    pub path: String,
    pub name: String,
    pub file: ScenarioFile,
    /// Run the `[nemesis]` even when the file says `enabled = false` (`--nemesis`).
    pub force_nemesis: bool,
}

/// Who is who in a built world.
#[derive(Clone, Debug, Default)]
pub struct Roles {
    pub brokers: Vec<NodeId>,
    pub controller: NodeId,
    pub producers: Vec<NodeId>,
    pub consumers: Vec<NodeId>,
    pub layout: ClusterLayout,
}

impl Scenario {
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { file: shown.clone(), source })?;
        Scenario::parse(&shown, &text)
    }

    /// Parses and validates scenario text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let parsed: ScenarioFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            at(file, text, span, e.message().trim_end().to_string())
        })?;
        let name = parsed.name.clone().unwrap_or_else(|| {
            Path::new(file).file_stem().map_or_else(|| file.to_string(), |s| s.to_string_lossy().into_owned())
        });
        let scenario = Scenario { path: file.to_string(), name, file: parsed, force_nemesis: false };
        scenario.validate().map_err(|(span, message)| at(file, text, span, message))?;
        Ok(scenario)
    }

    pub fn expected(&self) -> &str {
        self.file.expect.get_ref()
    }

    /// The producers (by index) whose per-partition send order `producer-order` judges: those
    /// whose configuration promises it (idempotence, one request in flight, or no retries), or
    /// every producer when the scenario demands it (`send_order = "required"`).
    pub fn order_judged_producers(&self) -> std::collections::BTreeSet<u32> {
        let f = &self.file;
        let required = f.send_order == format::SendOrder::Required;
        (0..f.producers.len() as u32)
            .filter(|&i| {
                let p = producer_config(i, &f.producers[i as usize], &[]);
                required || p.enable_idempotence || p.max_in_flight == 1 || p.retries == 0
            })
            .collect()
    }

    /// Whether the scenario demands exactly-once processing.
    pub fn exactly_once(&self) -> bool {
        self.file.processing == format::Processing::ExactlyOnce
    }

    pub fn default_seed(&self) -> u64 {
        self.file.run.seed
    }

    pub fn limits(&self) -> Limits {
        let max_time = SimTime::ZERO + self.file.run.max_time.0;
        let max_time = self.liveness_deadline().map_or(max_time, |d| d.min(max_time));
        Limits { max_steps: self.file.run.max_steps, max_time }
    }

    /// The random nemesis of this run, if it has one: the file's `[nemesis]`, unless it says
    /// `enabled = false` and the run was not asked for it (`--nemesis`).
    pub fn nemesis(&self) -> Option<&NemesisSection> {
        self.file.nemesis.as_ref().filter(|n| n.enabled || self.force_nemesis)
    }

    /// The flags a reproduce command needs besides the seed.
    pub fn reproduce_flags(&self) -> &'static str {
        if self.force_nemesis && self.file.nemesis.as_ref().is_some_and(|n| !n.enabled) {
            " --nemesis"
        } else {
            ""
        }
    }

    /// When the last scheduled fault (or its undo) fires: a run is not complete before it.
    pub fn last_fault_at(&self) -> SimTime {
        let scripted = self.file.faults.iter().filter_map(|f| f.at.map(|at| SimTime::ZERO + at.0 + f.duration.map_or(SimDuration::ZERO, |d| d.0)));
        let nemesis = self.nemesis().map(|n| SimTime::ZERO + n.until.0);
        scripted.chain(nemesis).max().unwrap_or(SimTime::ZERO)
    }

    /// With a `[liveness]` bound: the time by which the run must have completed (the end of the
    /// safety phase plus the bound).
    pub fn liveness_deadline(&self) -> Option<SimTime> {
        self.file.liveness.as_ref().map(|l| self.last_fault_at() + l.within.0)
    }

    /// Coverage marks the scenario requires (`sometimes`).
    pub fn sometimes(&self) -> Vec<String> {
        self.file.sometimes.iter().map(|m| m.get_ref().clone()).collect()
    }

    /// Node names in id order: brokers `b0…`, the controller, then producers, then consumers.
    pub fn node_names(&self) -> Vec<String> {
        let f = &self.file;
        (0..*f.cluster.brokers.get_ref())
            .map(|i| format!("b{i}"))
            .chain(std::iter::once(CONTROLLER.to_string()))
            .chain(f.producers.iter().map(|p| p.name.get_ref().clone()))
            .chain(f.consumers.iter().map(|c| c.name.get_ref().clone()))
            .collect()
    }

    fn node_id(&self, name: &str) -> Option<NodeId> {
        self.node_names().iter().position(|n| n == name).map(|i| NodeId(i as u32))
    }

    fn validate(&self) -> Result<(), (Range<usize>, String)> {
        let f = &self.file;
        let expect = &f.expect;
        if !VERDICT_NAMES.contains(&expect.get_ref().as_str()) {
            return Err((expect.span(), format!("unknown expectation '{}', expected one of {}", expect.get_ref(), VERDICT_NAMES.join(", "))));
        }
        let brokers = *f.cluster.brokers.get_ref();
        if brokers == 0 {
            return Err((f.cluster.brokers.span(), "a cluster needs at least one broker".into()));
        }
        let names = self.node_names();
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                let span = self.name_span(n).unwrap_or(0..0);
                return Err((span, format!("the name '{n}' is used twice (brokers are named b0, b1, …, and there is a '{CONTROLLER}')")));
            }
        }
        for t in &f.topics {
            if *t.partitions.get_ref() < 1 {
                return Err((t.partitions.span(), "a topic needs at least one partition".into()));
            }
            let rf = *t.replication_factor.get_ref();
            if rf < 1 || rf as u32 > brokers {
                return Err((t.replication_factor.span(), format!("replication.factor must be between 1 and the number of brokers ({brokers})")));
            }
            let min_isr = *t.min_insync_replicas.get_ref();
            if min_isr < 1 || min_isr > rf {
                return Err((t.min_insync_replicas.span(), format!("min.insync.replicas must be between 1 and replication.factor ({rf})")));
            }
            if *t.segment_bytes.get_ref() == 0 {
                return Err((t.segment_bytes.span(), "segment.bytes must be at least 1".into()));
            }
            if let Some(fm) = &t.flush_messages {
                if *fm.get_ref() == 0 {
                    return Err((fm.span(), "flush.messages must be at least 1".into()));
                }
            }
        }
        let topic_partitions = |name: &Spanned<String>| -> Result<i32, (Range<usize>, String)> {
            f.topics.iter().find(|t| t.name.get_ref() == name.get_ref()).map(|t| *t.partitions.get_ref()).ok_or_else(|| {
                let known: Vec<&str> = f.topics.iter().map(|t| t.name.get_ref().as_str()).collect();
                (name.span(), format!("unknown topic '{}', expected one of: {}", name.get_ref(), known.join(", ")))
            })
        };
        for p in &f.producers {
            let n = topic_partitions(&p.topic)?;
            if *p.max_in_flight.get_ref() == 0 {
                return Err((p.max_in_flight.span(), "max.in.flight.requests.per.connection must be at least 1".into()));
            }
            if *p.enable_idempotence.get_ref() && (p.acks.is_some_and(|a| a != crate::model::protocol::Acks::All) || *p.max_in_flight.get_ref() > 5) {
                return Err((p.enable_idempotence.span(), "enable.idempotence needs acks = \"all\" and max.in.flight.requests.per.connection <= 5".into()));
            }
            match (&p.partitioner.unwrap_or_default(), &p.partition) {
                (Partitioner::Manual, None) => {
                    return Err((p.name.span(), "partitioner = \"manual\" needs `partition = N`".into()));
                }
                (_, Some(part)) if *part.get_ref() < 0 || *part.get_ref() >= n => {
                    return Err((part.span(), format!("partition must be between 0 and {}", n - 1)));
                }
                _ => {}
            }
        }
        if *f.cluster.offsets_topic_partitions.get_ref() < 1 {
            return Err((f.cluster.offsets_topic_partitions.span(), "offsets.topic.num.partitions must be at least 1".into()));
        }
        for c in &f.consumers {
            let topics = match (&c.topic, &c.topics) {
                (Some(t), None) => vec![t.clone()],
                (None, Some(ts)) if !ts.get_ref().is_empty() => ts.get_ref().iter().map(|t| Spanned::new(ts.span(), t.clone())).collect(),
                (None, Some(ts)) => return Err((ts.span(), "`topics` needs at least one topic".into())),
                _ => return Err((c.name.span(), "a consumer needs exactly one of `topic = \"<topic>\"` or `topics = [\"<topic>\", …]`".into())),
            };
            let counts = topics.iter().map(&topic_partitions).collect::<Result<Vec<i32>, _>>()?;
            let n = counts[0];
            if let (Some(ps), Some(ts)) = (&c.partitions, &c.topics) {
                if ts.get_ref().len() > 1 {
                    return Err((ps.span(), "`partitions` (assign()) goes with a single `topic`".into()));
                }
            }
            let strategies = c.assignment_strategy.get_ref();
            if let Some(bad) = strategies.iter().find(|s| !["range", "roundrobin", "sticky", "cooperative-sticky"].contains(&s.as_str())) {
                return Err((c.assignment_strategy.span(), format!("unknown assignor '{bad}', expected some of: range, roundrobin, sticky, cooperative-sticky")));
            }
            if c.client == crate::model::consumer::Client::Sarama && strategies.iter().any(|s| s == "cooperative-sticky") {
                return Err((c.assignment_strategy.span(), "sarama's cooperative-sticky (v1.60.1+) is not simulated: use the Java client for cooperative rebalancing".into()));
            }
            if strategies.is_empty() {
                return Err((c.assignment_strategy.span(), "partition.assignment.strategy needs at least one assignor".into()));
            }
            if c.group_id.is_none() && c.commit.is_some_and(|s| s != crate::model::consumer::CommitStyle::Auto) {
                return Err((c.name.span(), "commit needs a group.id to commit to".into()));
            }
            if let Some(ps) = &c.partitions {
                if let Some(bad) = ps.get_ref().iter().find(|p| **p < 0 || **p >= n) {
                    return Err((ps.span(), format!("partition {bad} does not exist: the topic has partitions 0..{}", n - 1)));
                }
            }
        }
        for fault in &f.faults {
            self.validate_fault(fault)?;
        }
        if let Some(n) = &f.nemesis {
            nemesis::validate(self, n)?;
        }
        for m in &f.sometimes {
            if !crate::model::marks::ALL.contains(&m.get_ref().as_str()) {
                return Err((m.span(), format!("unknown coverage mark '{}'; `kafkasim marks` lists them", m.get_ref())));
            }
        }
        Ok(())
    }

    fn is_producer(&self, name: &str) -> bool {
        self.file.producers.iter().any(|p| p.name.get_ref() == name)
    }

    fn name_span(&self, name: &str) -> Option<Range<usize>> {
        let f = &self.file;
        f.producers.iter().map(|p| &p.name).chain(f.consumers.iter().map(|c| &c.name)).find(|n| n.get_ref() == name).map(|n| n.span())
    }

    fn validate_fault(&self, fault: &FaultSection) -> Result<(), (Range<usize>, String)> {
        let node_ref = |s: &Option<Spanned<String>>, what: &str| -> Result<(), (Range<usize>, String)> {
            match s {
                None => Err((fault.action.span(), format!("this fault needs `{what} = \"<node>\"`"))),
                Some(name) if self.node_id(name.get_ref()).is_none() => {
                    Err((name.span(), format!("unknown node '{}', expected one of: {}", name.get_ref(), self.node_names().join(", "))))
                }
                Some(_) => Ok(()),
            }
        };
        let optional = |s: &Option<Spanned<String>>, what: &str| if s.is_some() { node_ref(s, what) } else { Ok(()) };
        match (&fault.at, &fault.when) {
            (Some(_), None) => {
                if fault.after.is_some() {
                    return Err((fault.action.span(), "`after` goes with `when`, not `at`".into()));
                }
            }
            (None, Some(when)) => triggers::validate(self, when)?,
            _ => return Err((fault.action.span(), "a fault needs exactly one of `at = \"<time>\"` or `when = { … }`".into())),
        }
        use FaultAction::*;
        if *fault.torn_tail.get_ref() && *fault.action.get_ref() != Crash {
            return Err((fault.torn_tail.span(), "`torn_tail` goes with `action = \"crash\"`".into()));
        }
        match *fault.action.get_ref() {
            Crash | Kill | Restart | Stop | Start | Pause | Resume | Isolate => node_ref(&fault.node, "node"),
            OneWay | Disconnect => node_ref(&fault.from, "from").and(node_ref(&fault.to, "to")),
            Clog | Unclog => {
                if fault.node.is_some() {
                    node_ref(&fault.node, "node")
                } else if *fault.action.get_ref() == Unclog {
                    Ok(())
                } else {
                    node_ref(&fault.from, "from").and(node_ref(&fault.to, "to"))
                }
            }
            Partition => {
                let Some(groups) = &fault.groups else {
                    return Err((fault.action.span(), "a partition needs `groups = [[\"b0\"], [\"p1\", \"c1\"]]`".into()));
                };
                for name in groups.get_ref().iter().flatten() {
                    if self.node_id(name).is_none() {
                        return Err((groups.span(), format!("unknown node '{name}', expected one of: {}", self.node_names().join(", "))));
                    }
                }
                Ok(())
            }
            Heal | HealAll => Ok(()),
            Skew => {
                node_ref(&fault.node, "node")?;
                if fault.offset.is_none() {
                    return Err((fault.action.span(), "a skew needs `offset = \"+30s\"` (ahead) or `offset = \"-5s\"` (behind)".into()));
                }
                Ok(())
            }
            AddPartitions => {
                let Some(topic) = &fault.topic else {
                    return Err((fault.action.span(), "add-partitions needs `topic = \"<topic>\"` and `count = <new total>`".into()));
                };
                let Some(t) = self.file.topics.iter().find(|t| t.name.get_ref() == topic.get_ref()) else {
                    let known: Vec<&str> = self.file.topics.iter().map(|t| t.name.get_ref().as_str()).collect();
                    return Err((topic.span(), format!("unknown topic '{}', expected one of: {}", topic.get_ref(), known.join(", "))));
                };
                if fault.count.span() == (0..0) {
                    return Err((fault.action.span(), "add-partitions needs `count = <new total>` (like kafka-topics --alter --partitions)".into()));
                }
                let (current, requested) = (*t.partitions.get_ref(), *fault.count.get_ref() as i32);
                if requested <= current {
                    return Err((fault.count.span(), crate::model::controller::invalid_partitions(current, requested)));
                }
                Ok(())
            }
            Subscribe => {
                node_ref(&fault.node, "node")?;
                let node = fault.node.as_ref().expect("checked");
                let consumer = self.file.consumers.iter().find(|c| c.name.get_ref() == node.get_ref());
                if !consumer.is_some_and(|c| c.group_id.is_some() && c.partitions.is_none()) {
                    return Err((node.span(), format!("'{}' is not a consumer with a group.id: only a group member subscribe()s", node.get_ref())));
                }
                let Some(topics) = &fault.topics else {
                    return Err((fault.action.span(), "subscribe needs `topics = [\"<topic>\", …]`".into()));
                };
                if topics.get_ref().is_empty() {
                    return Err((topics.span(), "subscribe needs at least one topic (an empty subscription is unsubscribe())".into()));
                }
                if let Some(bad) = topics.get_ref().iter().find(|t| !self.file.topics.iter().any(|k| k.name.get_ref() == *t)) {
                    let known: Vec<&str> = self.file.topics.iter().map(|t| t.name.get_ref().as_str()).collect();
                    return Err((topics.span(), format!("unknown topic '{bad}', expected some of: {}", known.join(", "))));
                }
                Ok(())
            }
            Slow => {
                node_ref(&fault.node, "node")?;
                if fault.latency.is_none() {
                    return Err((fault.action.span(), "a slow node needs `latency = \"<duration>\"` (the extra latency of its messages)".into()));
                }
                Ok(())
            }
            Drop | Delay => {
                optional(&fault.from, "from")?;
                optional(&fault.to, "to")?;
                if let Some(kind) = &fault.kind {
                    if !MESSAGE_KINDS.contains(&kind.get_ref().as_str()) {
                        return Err((kind.span(), format!("unknown message kind '{}', expected one of: {}", kind.get_ref(), MESSAGE_KINDS.join(", "))));
                    }
                }
                if fault.reorder && *fault.action.get_ref() != Delay {
                    return Err((fault.action.span(), "`reorder` goes with `action = \"delay\"`".into()));
                }
                if *fault.action.get_ref() == Delay && fault.delay.is_none() {
                    return Err((fault.action.span(), "a delay needs `delay = \"<duration>\"`".into()));
                }
                Ok(())
            }
        }
    }

    /// The cluster layout: brokers `b0…` on nodes 0…, the controller after them, and the topics.
    pub fn layout(&self) -> ClusterLayout {
        let f = &self.file;
        let c = &f.cluster;
        let brokers = *c.brokers.get_ref();
        let mut topics: Vec<TopicConfig> = f.topics.iter().map(topic_config).collect();
        if f.consumers.iter().any(|c| c.group_id.is_some()) {
            // `offsets.topic.replication.factor` is 3; a smaller cluster gets what it can hold.
            let mut offsets = TopicConfig::new(CONSUMER_OFFSETS, *c.offsets_topic_partitions.get_ref());
            offsets.replication_factor = brokers.min(3) as i16;
            topics.push(offsets);
        }
        ClusterLayout {
            brokers: (0..brokers).map(|i| (BrokerId(i as i32), NodeId(i))).collect(),
            topics,
            offsets_topic_partitions: *c.offsets_topic_partitions.get_ref(),
            controller: NodeId(brokers),
            settings: BrokerSettings {
                heartbeat_interval_ms: c.heartbeat_interval_ms,
                session_timeout_ms: c.session_timeout_ms,
                replica_lag_time_max_ms: c.replica_lag_time_max_ms,
                replica_fetch_wait_max_ms: c.replica_fetch_wait_max_ms,
                replica_fetch_backoff_ms: c.replica_fetch_backoff_ms,
                replica_fetch_max_bytes: c.replica_fetch_max_bytes,
                hw_checkpoint_interval_ms: c.hw_checkpoint_interval_ms,
                retention_check_interval_ms: c.retention_check_interval_ms.max(1),
                offsets_retention_ms: c.offsets_retention_minutes.saturating_mul(60_000),
                offsets_retention_check_interval_ms: c.offsets_retention_check_interval_ms.max(1),
            },
            bugs: BugSwitches {
                kip_101: f.bugs.kip_101,
                kafka_7128: f.bugs.kafka_7128,
                kafka_15583: f.bugs.kafka_15583,
                unfenced_commits: f.bugs.unfenced_commits,
                kafka_7026: f.bugs.kafka_7026,
                kafka_14639: f.bugs.kafka_14639,
                kip_279: f.bugs.kip_279,
                kafka_14704: f.bugs.kafka_14704,
                kafka_9835: f.bugs.kafka_9835,
                kip_320: f.bugs.kip_320,
                kafka_13636: f.bugs.kafka_13636,
                reset_on_load_in_progress: f.bugs.reset_on_load_in_progress,
            },
        }
    }

    /// Builds the world for one seed: nodes, network, disks, and the fault timeline.
    pub fn build(&self, seed: u64) -> (World<KafkaNode>, Roles) {
        let f = &self.file;
        let latency = if f.network.latency.min == f.network.latency.max {
            Latency::Constant(f.network.latency.min)
        } else {
            Latency::Uniform { min: f.network.latency.min, max: f.network.latency.max }
        };
        let net = NetConfig {
            default_link: LinkConfig { latency, loss: f.network.loss, duplicate: f.network.duplicate },
            ..NetConfig::default()
        };
        let disk = DiskConfig { fsync_latency: f.disk.fsync_latency.0, torn_tail: f.disk.torn_tail };
        let mut world = World::new(seed, Box::new(RandomChooser::new(seed)), net, disk);
        let layout = self.layout();
        let mut roles = Roles { layout: layout.clone(), ..Roles::default() };
        let bootstrap: Vec<NodeId> = layout.brokers.iter().map(|(_, n)| *n).collect();
        for (broker, _) in &layout.brokers {
            let config = BrokerConfig { broker_id: *broker, layout: layout.clone() };
            let id = world.add_node(format!("b{}", broker.0), Box::new(move |disk| KafkaNode::Broker(Broker::recover(config.clone(), disk))));
            roles.brokers.push(id);
        }
        let config = ControllerConfig { layout: layout.clone(), broker_session_timeout_ms: layout.settings.session_timeout_ms };
        let id = world.add_node(CONTROLLER, Box::new(move |disk| KafkaNode::Controller(Controller::recover(config.clone(), disk))));
        roles.controller = id;
        // The controller first, so that the brokers find it when they register.
        world.schedule(SimTime::ZERO, Control::Start(id), format!("start {CONTROLLER}"));
        for (&id, (broker, _)) in roles.brokers.iter().zip(&layout.brokers) {
            world.schedule(SimTime::ZERO, Control::Start(id), format!("start b{}", broker.0));
        }
        for (index, p) in f.producers.iter().enumerate() {
            let config = producer_config(index as u32, p, &bootstrap);
            let id = world.add_node(p.name.get_ref().clone(), Box::new(move |_| KafkaNode::Producer(Producer::new(config.clone()))));
            let at = SimTime::ZERO + p.start_at.map_or(SimDuration::ZERO, |d| d.0);
            world.schedule(at, Control::Start(id), format!("start {}", p.name.get_ref()));
            roles.producers.push(id);
        }
        for c in &f.consumers {
            let config = consumer_config(c, &bootstrap, &layout.bugs);
            let id = world.add_node(c.name.get_ref().clone(), Box::new(move |_| KafkaNode::Consumer(Box::new(Consumer::new(config.clone())))));
            let at = SimTime::ZERO + c.start_at.map_or(SimDuration::ZERO, |d| d.0);
            world.schedule(at, Control::Start(id), format!("start {}", c.name.get_ref()));
            roles.consumers.push(id);
        }
        for fault in &f.faults {
            self.schedule_fault(&mut world, &roles, fault);
        }
        if let Some(n) = self.nemesis() {
            for (at, control, label) in nemesis::timeline(self, n, seed) {
                world.schedule(at, control, label);
            }
        }
        (world, roles)
    }

    fn schedule_fault(&self, world: &mut World<KafkaNode>, roles: &Roles, fault: &FaultSection) {
        let id = |s: &Option<Spanned<String>>| s.as_ref().and_then(|n| self.node_id(n.get_ref()));
        let name = |s: &Option<Spanned<String>>| s.as_ref().map_or(String::new(), |n| n.get_ref().clone());
        let (node, from, to) = (id(&fault.node), id(&fault.from), id(&fault.to));
        let (nn, fromn, ton) = (name(&fault.node), name(&fault.from), name(&fault.to));
        use FaultAction::*;
        let (control, label, undo): (ScenarioControl, String, Option<(ScenarioControl, String)>) = match *fault.action.get_ref() {
            Crash if *fault.torn_tail.get_ref() => {
                (Control::CrashTorn(node.unwrap()), format!("crash {nn} (torn tail)"), Some((Control::Restart(node.unwrap()), format!("restart {nn}"))))
            }
            Crash => (Control::Crash(node.unwrap()), format!("crash {nn}"), Some((Control::Restart(node.unwrap()), format!("restart {nn}")))),
            Kill => (Control::Kill(node.unwrap()), format!("kill {nn}"), Some((Control::Restart(node.unwrap()), format!("restart {nn}")))),
            Restart => (Control::Restart(node.unwrap()), format!("restart {nn}"), None),
            // A producer stops as its application would: no more send(), then close(); it starts
            // again with a new KafkaProducer for the records it has not sent.
            Stop if self.is_producer(&nn) => (
                Control::Command { node: node.unwrap(), command: Command::CloseProducer },
                format!("stop {nn}: the application stops producing and calls close()"),
                Some((Control::Command { node: node.unwrap(), command: Command::StartProducer }, format!("start {nn}: a new KafkaProducer produces the records not sent yet"))),
            ),
            Start if self.is_producer(&nn) => (Control::Command { node: node.unwrap(), command: Command::StartProducer }, format!("start {nn}"), None),
            Stop => (Control::Stop(node.unwrap()), format!("stop {nn}"), Some((Control::Restart(node.unwrap()), format!("restart {nn}")))),
            Start => (Control::Start(node.unwrap()), format!("start {nn}"), None),
            AddPartitions => {
                let topic = fault.topic.as_ref().expect("validated").get_ref().clone();
                let count = *fault.count.get_ref() as i32;
                let label = format!("add-partitions: kafka-topics --alter --topic {topic} --partitions {count} (CreatePartitions to the controller)");
                (Control::Command { node: roles.controller, command: Command::CreatePartitions { topic, count } }, label, None)
            }
            Subscribe => {
                let topics = fault.topics.as_ref().expect("validated").get_ref().clone();
                let label = format!("subscribe: {nn} calls subscribe({})", topics.join(", "));
                (Control::Command { node: node.unwrap(), command: Command::Subscribe { topics } }, label, None)
            }
            Pause => (Control::Pause(node.unwrap()), format!("pause {nn}"), Some((Control::Resume(node.unwrap()), format!("resume {nn}")))),
            Resume => (Control::Resume(node.unwrap()), format!("resume {nn}"), None),
            Isolate => (Control::Isolate(node.unwrap()), format!("isolate {nn}"), Some((Control::Heal, "heal".into()))),
            Partition => {
                let groups = fault.groups.as_ref().expect("validated").get_ref();
                let ids = groups.iter().map(|g| g.iter().filter_map(|n| self.node_id(n)).collect()).collect();
                (Control::Split(ids), format!("partition {groups:?}"), Some((Control::Heal, "heal".into())))
            }
            OneWay => (
                Control::BlockOneWay { from: from.unwrap(), to: to.unwrap() },
                format!("one-way partition {fromn} -> {ton}"),
                Some((Control::Heal, "heal".into())),
            ),
            Heal => (Control::Heal, "heal".into(), None),
            HealAll => (Control::HealAll, "heal everything".into(), None),
            Clog => {
                let (c, l) = match node {
                    Some(n) => (Control::ClogNode(n), format!("clog {nn}")),
                    None => (Control::Clog { from: from.unwrap(), to: to.unwrap() }, format!("clog {fromn} -> {ton}")),
                };
                (c, l, Some((Control::UnclogAll, "unclog".into())))
            }
            Unclog => (Control::UnclogAll, "unclog".into(), None),
            Slow => {
                let (n, extra) = (node.unwrap(), fault.latency.expect("validated").0);
                (
                    Control::Slow { node: n, extra },
                    format!("slow {nn}: +{:.3}s latency", extra.as_secs_f64()),
                    Some((Control::Slow { node: n, extra: SimDuration::ZERO }, format!("{nn} back to normal latency"))),
                )
            }
            Skew => {
                let (n, ms) = (node.unwrap(), fault.offset.expect("validated").0);
                (
                    Control::Skew { node: n, offset_ms: ms },
                    format!("skew {nn}: wall clock {}{:.3}s", if ms < 0 { "-" } else { "+" }, ms.unsigned_abs() as f64 / 1000.0),
                    Some((Control::Skew { node: n, offset_ms: 0 }, format!("{nn}'s wall clock set right"))),
                )
            }
            Disconnect => (Control::BreakConnection(from.unwrap(), to.unwrap()), format!("disconnect {fromn} <-> {ton}"), None),
            Drop | Delay => {
                let action = match fault.delay {
                    Some(d) if *fault.action.get_ref() == Delay && fault.reorder => RuleAction::DelayOutOfOrder(d.0),
                    Some(d) if *fault.action.get_ref() == Delay => RuleAction::Delay(d.0),
                    _ => RuleAction::Drop,
                };
                let kind = fault.kind.as_ref().map(|k| k.get_ref().clone());
                let count = *fault.count.get_ref();
                let mut label = format!("{:?} next {} {} {fromn}->{ton}", fault.action.get_ref(), count, kind.as_deref().unwrap_or("message")).to_lowercase();
                if fault.reorder {
                    label.push_str(" (out of order)");
                }
                (Control::AddRule(MessageRule { kind, from, to, action, remaining: count }), label, None)
            }
        };
        let mut then = vec![(SimDuration::ZERO, control, label)];
        if let (Some(d), Some((undo, label))) = (fault.duration, undo) {
            then.push((d.0, undo, label));
        }
        match (&fault.at, &fault.when) {
            (Some(at), _) => {
                for (delay, control, label) in then {
                    world.schedule(SimTime::ZERO + at.0 + delay, control, label);
                }
            }
            (None, Some(when)) => {
                let after = fault.after.map_or(SimDuration::ZERO, |d| d.0);
                let description = triggers::describe(when.get_ref());
                let then = then.into_iter().map(|(d, c, l)| (after + d, c, format!("{l} (when {description})"))).collect();
                let condition = triggers::condition(self, roles, when.get_ref());
                world.add_trigger(crate::engine::Trigger { label: description, condition, then });
            }
            (None, None) => unreachable!("validated"),
        }
    }
}

fn topic_config(t: &TopicSection) -> TopicConfig {
    let positive = |v: i64| u64::try_from(v).ok();
    TopicConfig {
        name: t.name.get_ref().clone(),
        partitions: *t.partitions.get_ref(),
        replication_factor: *t.replication_factor.get_ref(),
        min_insync_replicas: *t.min_insync_replicas.get_ref(),
        flush_messages: t.flush_messages.as_ref().map(|s| *s.get_ref()),
        flush_ms: t.flush_ms,
        retention_ms: positive(t.retention_ms),
        retention_bytes: positive(t.retention_bytes),
        unclean_leader_election_enable: t.unclean_leader_election_enable,
        segment_bytes: *t.segment_bytes.get_ref(),
    }
}

fn producer_config(index: u32, p: &ProducerSection, bootstrap: &[NodeId]) -> ProducerConfig {
    use crate::model::consumer::Client;
    use crate::model::partitioner::Partitioner;
    let sarama = p.client == Client::Sarama;
    ProducerConfig {
        index,
        name: p.name.get_ref().clone(),
        bootstrap: bootstrap.to_vec(),
        topic: p.topic.get_ref().clone(),
        acks: p.acks.unwrap_or(if sarama { crate::model::protocol::Acks::Leader } else { crate::model::protocol::Acks::All }),
        linger_ms: p.linger_ms,
        batch_size: p.batch_size,
        partitioner: p.partitioner.unwrap_or(if sarama { Partitioner::SaramaHash } else { Partitioner::Murmur2 }),
        manual_partition: p.partition.as_ref().map(|s| *s.get_ref()),
        request_timeout_ms: p.request_timeout_ms,
        delivery_timeout_ms: p.delivery_timeout_ms,
        retry_backoff_ms: p.retry_backoff_ms,
        retries: p.retries.unwrap_or(if sarama { 3 } else { i32::MAX as u32 }),
        max_in_flight: *p.max_in_flight.get_ref() as u32,
        enable_idempotence: *p.enable_idempotence.get_ref(),
        messages: p.messages,
        rate_per_sec: p.rate,
        keys: match p.keys {
            Keys::None => KeySpace::None,
            Keys::Distinct(n) => KeySpace::Cycle(n),
        },
        record_bytes: p.record_size,
        metadata_max_age_ms: p.metadata_max_age_ms,
    }
}

fn consumer_config(c: &ConsumerSection, bootstrap: &[NodeId], bugs: &BugSwitches) -> ConsumerConfig {
    use crate::model::consumer::{Client, CommitStyle, OffsetReset};
    let sarama = c.client == Client::Sarama;
    let start = match c.start {
        Some(Start::Earliest) => StartPosition::Earliest,
        Some(Start::Latest) => StartPosition::Latest,
        Some(Start::Offset(o)) => StartPosition::Offset(o),
        None if c.auto_offset_reset == OffsetReset::Earliest => StartPosition::Earliest,
        None => StartPosition::Latest,
    };
    ConsumerConfig {
        name: c.name.get_ref().clone(),
        bootstrap: bootstrap.to_vec(),
        topics: c.topics(),
        partitions: c.partitions.as_ref().map(|p| p.get_ref().clone()),
        start,
        auto_offset_reset: c.auto_offset_reset,
        fetch_max_wait_ms: c.fetch_max_wait_ms,
        fetch_min_bytes: c.fetch_min_bytes,
        fetch_max_bytes: c.fetch_max_bytes,
        request_timeout_ms: c.request_timeout_ms,
        retry_backoff_ms: c.retry_backoff_ms,
        group: c.group_id.as_ref().map(|g| GroupSettings {
            group_id: g.get_ref().clone(),
            assignors: c.assignment_strategy.get_ref().clone(),
            session_timeout_ms: c.session_timeout_ms.unwrap_or(if sarama { 10_000 } else { 45_000 }),
            heartbeat_interval_ms: c.heartbeat_interval_ms,
            rebalance_timeout_ms: c.rebalance_timeout_ms.unwrap_or(if sarama { 60_000 } else { c.max_poll_interval_ms }),
            max_poll_interval_ms: (!sarama).then_some(c.max_poll_interval_ms),
            assignor_bugs: crate::model::assignor::AssignorBugs { kafka_7026: bugs.kafka_7026, kafka_14639: bugs.kafka_14639 },
            reset_on_load_in_progress: bugs.reset_on_load_in_progress,
            enable_auto_commit: c.enable_auto_commit,
            auto_commit_interval_ms: c.auto_commit_interval_ms.unwrap_or(if sarama { 1_000 } else { 5_000 }),
        }),
        processing_per_record: c.processing_time.map_or(SimDuration::ZERO, |d| d.0),
        commit_style: c.commit.unwrap_or(if sarama { CommitStyle::Mark } else { CommitStyle::Auto }),
        client: c.client,
        client_rack: c.client_rack.clone(),
        without_kip_320: bugs.kip_320,
        metadata_max_age_ms: c.metadata_max_age_ms,
    }
}

/// A `file:line:col: message` error for a byte span of `text`.
fn at(file: &str, text: &str, span: Range<usize>, message: String) -> ScenarioError {
    let offset = span.start.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    ScenarioError::At { file: file.to_string(), line, column, message }
}

use toml::Spanned;
