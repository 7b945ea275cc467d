//! The controller: broker liveness, leader election and ISR changes, as KRaft's active controller
//! decides them (reference B.5), with its decisions in a durable metadata log.
//!
//! Simplification (documented in docs/architecture.md): one controller, not a Raft quorum. It is a
//! crashable actor: while it is down nothing is elected, no broker is fenced and no ISR changes;
//! on restart it recovers the metadata image from the last durable entry of its log and gives every
//! broker a fresh session. Every change is appended and fsynced before it is published (persist
//! before send), so no broker ever sees a decision that a controller crash could take back.
//!
//! - Brokers register (a restart registers again, with a new broker epoch) and heartbeat every
//!   `broker.heartbeat.interval.ms`. A broker silent for `broker.session.timeout.ms` is fenced:
//!   it leaves every ISR (unless it is the last member) and loses every leadership.
//! - A registration after a restart fences the broker's previous incarnation (KRaft registers a
//!   new incarnation fenced): its leaderships move and it leaves every ISR where it is not the last
//!   replica standing (reference D-7: the last one stays, which is KIP-966's problem). With the
//!   KIP-101 bug switch the ZooKeeper-era behaviour applies instead: ISR memberships stay.
//! - AlterPartition from a leader is applied when its leader epoch and partition epoch are current
//!   and every new ISR member is active.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use super::actor::{Ctx, DiskDone, DiskImage};
use super::command::Command;
use super::config::ClusterLayout;
use super::ids::{BrokerId, LeaderEpoch, NodeId, TopicPartition};
use super::metadata::{BrokerRegistration, MetadataImage, PartitionState};
use super::node::{DiskEntry, KafkaNode, NodeTimer};
use super::protocol::*;
use super::time::{SimDuration, SimTime};

pub const METADATA_LOG: &str = "__cluster_metadata.log";

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ControllerConfig {
    pub layout: ClusterLayout,
    /// `broker.session.timeout.ms`
    pub broker_session_timeout_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ControllerTimer {
    /// Look for brokers whose session expired.
    SessionCheck,
}

/// A reply that waits until the decision it reports is durable.
#[derive(Clone, Debug)]
struct Deferred {
    version: u64,
    to: NodeId,
    msg: Msg,
}

#[derive(Clone, Debug)]
pub struct Controller {
    pub config: ControllerConfig,
    /// The latest decisions, durable or not.
    pub image: MetadataImage,
    /// The latest durable image: what brokers may see.
    pub published: MetadataImage,
    last_heartbeat: BTreeMap<BrokerId, SimTime>,
    log_len: usize,
    /// Appended images not yet durable: (log index, image).
    unsynced: VecDeque<(usize, MetadataImage)>,
    deferred: Vec<Deferred>,
}

type CtlCtx<'a> = Ctx<'a, KafkaNode>;

const SESSION_CHECK: SimDuration = SimDuration::from_millis(250);

impl Controller {
    /// Rebuilds the controller from the last durable metadata image; a fresh controller creates
    /// every topic's partitions with the first replica as leader and every replica in the ISR.
    pub fn recover(config: ControllerConfig, disk: &DiskImage<DiskEntry>) -> Self {
        let log = disk.file(METADATA_LOG);
        let image = log
            .iter()
            .rev()
            .find_map(|e| if let DiskEntry::Metadata(img) = e { Some(img.clone()) } else { None })
            .unwrap_or_default();
        Controller {
            config,
            published: image.clone(),
            image,
            last_heartbeat: BTreeMap::new(),
            log_len: log.len(),
            unsynced: VecDeque::new(),
            deferred: Vec::new(),
        }
    }

    pub fn on_start(&mut self, ctx: &mut CtlCtx<'_>) {
        if self.log_len == 0 {
            let layout = self.config.layout.clone();
            for topic in &layout.topics {
                for p in 0..topic.partitions {
                    let replicas = layout.replicas(topic, p);
                    let state = PartitionState {
                        leader: replicas.first().copied(),
                        isr: replicas.clone(),
                        replicas,
                        leader_epoch: LeaderEpoch(0),
                        partition_epoch: 0,
                    };
                    self.image.partitions.insert(TopicPartition::new(topic.name.clone(), p), state);
                }
            }
            let n = self.image.partitions.len();
            ctx.explain(|| format!("controller created {n} partitions (leader: first replica, ISR: all replicas)"));
            self.commit(ctx);
        } else {
            let v = self.image.version;
            ctx.explain(|| format!("controller recovered metadata version {v} from its log; every broker gets a fresh session"));
        }
        let now = ctx.now();
        for b in self.image.brokers.keys() {
            self.last_heartbeat.insert(*b, now);
        }
        ctx.set_timer(NodeTimer::Controller(ControllerTimer::SessionCheck), SESSION_CHECK);
    }

    pub fn on_message(&mut self, ctx: &mut CtlCtx<'_>, from: NodeId, msg: Msg) {
        match msg {
            Msg::BrokerRegistrationRequest(r) => self.on_registration(ctx, from, r),
            Msg::BrokerHeartbeatRequest(r) => self.on_heartbeat(ctx, from, r),
            Msg::AlterPartitionRequest(r) => self.on_alter_partition(ctx, from, r),
            _ => {}
        }
    }

    /// CreatePartitions (`kafka-topics --alter --partitions`, reference D-17): the topic grows to
    /// `count` partitions. Each new partition gets the layout's replica assignment, an ISR of the
    /// replicas that are active, the first of them as leader, and leader and partition epoch 0, as
    /// KRaft's `createPartitions` does; the change is published like any other.
    pub fn on_command(&mut self, ctx: &mut CtlCtx<'_>, command: Command) {
        let Command::CreatePartitions { topic, count } = command else {
            return ctx.explain(|| format!("the controller takes no {command:?} call"));
        };
        let current = self.image.partitions.keys().filter(|tp| tp.topic == topic).count() as i32;
        let Some(config) = self.config.layout.topic(&topic).cloned().filter(|_| current > 0) else {
            ctx.mark("controller.create_partitions.rejected");
            return ctx.explain(|| format!("CreatePartitions for {topic}: UNKNOWN_TOPIC_OR_PARTITION"));
        };
        if count <= current {
            ctx.mark("controller.create_partitions.rejected");
            return ctx.explain(|| invalid_partitions(current, count));
        }
        let mut created = Vec::new();
        for p in current..count {
            let replicas = self.config.layout.replicas(&config, p);
            let isr: Vec<BrokerId> = replicas.iter().copied().filter(|b| self.image.is_active(*b)).collect();
            let Some(&leader) = isr.first() else {
                ctx.mark("controller.create_partitions.rejected");
                return ctx.explain(|| format!("CreatePartitions for {topic}: INVALID_REPLICATION_FACTOR (no replica of partition {p} is active)"));
            };
            let state = PartitionState { replicas, isr, leader: Some(leader), leader_epoch: LeaderEpoch(0), partition_epoch: 0 };
            created.push((TopicPartition::new(topic.clone(), p), state));
        }
        ctx.mark("controller.create_partitions");
        ctx.explain(|| {
            let each: Vec<String> = created.iter().map(|(tp, s)| format!("{tp} (leader {}, ISR {})", s.leader.expect("set"), BrokerId::list(&s.isr))).collect();
            format!("CreatePartitions: {topic} grows from {current} to {count} partitions: {}; leader epoch 0; published once durable", each.join(", "))
        });
        self.image.partitions.extend(created);
        self.commit(ctx);
    }

    pub fn on_timer(&mut self, ctx: &mut CtlCtx<'_>, timer: ControllerTimer) {
        match timer {
            ControllerTimer::SessionCheck => {
                let now = ctx.now();
                let timeout = SimDuration::from_millis(self.config.broker_session_timeout_ms);
                let expired: Vec<BrokerId> = self
                    .image
                    .brokers
                    .iter()
                    .filter(|(b, reg)| !reg.fenced && self.last_heartbeat.get(b).is_none_or(|t| now.saturating_since(*t) > timeout))
                    .map(|(b, _)| *b)
                    .collect();
                for b in expired {
                    ctx.mark("controller.fence.session_expired");
                    ctx.explain(|| format!("broker {b} missed broker.session.timeout.ms: fenced, removed from every ISR"));
                    self.fence(ctx, b);
                    self.commit(ctx);
                }
                ctx.set_timer(NodeTimer::Controller(ControllerTimer::SessionCheck), SESSION_CHECK);
            }
        }
    }

    pub fn on_disk(&mut self, ctx: &mut CtlCtx<'_>, done: DiskDone) {
        let DiskDone::Synced { len, .. } = done;
        let mut latest = None;
        while self.unsynced.front().is_some_and(|(i, _)| *i < len) {
            latest = self.unsynced.pop_front().map(|(_, img)| img);
        }
        let Some(image) = latest else { return };
        if image.version <= self.published.version {
            return;
        }
        self.published = image;
        let v = self.published.version;
        ctx.explain(|| format!("metadata version {v} is durable: published to the brokers"));
        let targets: Vec<NodeId> = self.published.brokers.values().map(|r| r.node).collect();
        for node in targets {
            ctx.send(node, Msg::UpdateMetadataRequest(UpdateMetadataRequest { metadata: self.published.clone() }));
        }
        let (ready, waiting): (Vec<Deferred>, Vec<Deferred>) = std::mem::take(&mut self.deferred).into_iter().partition(|d| d.version <= v);
        self.deferred = waiting;
        for d in ready {
            ctx.send(d.to, d.msg);
        }
    }

    /// Appends the current image as a new version and asks for an fsync.
    fn commit(&mut self, ctx: &mut CtlCtx<'_>) {
        self.image.version += 1;
        ctx.append(METADATA_LOG, DiskEntry::Metadata(self.image.clone()));
        ctx.fsync(METADATA_LOG);
        self.unsynced.push_back((self.log_len, self.image.clone()));
        self.log_len += 1;
    }

    fn reply_when_durable(&mut self, to: NodeId, msg: Msg) {
        self.deferred.push(Deferred { version: self.image.version, to, msg });
    }

    fn unclean_allowed(&self, tp: &TopicPartition) -> bool {
        self.config.layout.topic(&tp.topic).is_some_and(|t| t.unclean_leader_election_enable)
    }

    /// Fences `broker`: out of every ISR it can leave, and out of every leadership.
    fn fence(&mut self, ctx: &mut CtlCtx<'_>, broker: BrokerId) {
        if let Some(reg) = self.image.brokers.get_mut(&broker) {
            reg.fenced = true;
        }
        let tps: Vec<TopicPartition> = self.image.partitions.keys().cloned().collect();
        for tp in tps {
            let unclean = self.unclean_allowed(&tp);
            let image = &self.image;
            let Some(e) = image.partitions[&tp].fence(broker, |b| image.is_active(b), unclean) else { continue };
            self.note_election(ctx, &tp, &e.state, e.unclean);
            self.image.partitions.insert(tp, e.state);
        }
    }

    /// Elects leaders for leaderless partitions after `broker` became active.
    fn elect_leaderless(&mut self, ctx: &mut CtlCtx<'_>) {
        let tps: Vec<TopicPartition> = self.image.partitions.iter().filter(|(_, s)| s.leader.is_none()).map(|(tp, _)| tp.clone()).collect();
        for tp in tps {
            let unclean = self.unclean_allowed(&tp);
            let image = &self.image;
            let state = &image.partitions[&tp];
            let Some(e) = state.elect(state.isr.clone(), |b| image.is_active(b), unclean) else { continue };
            self.note_election(ctx, &tp, &e.state, e.unclean);
            self.image.partitions.insert(tp, e.state);
        }
    }

    fn note_election(&self, ctx: &mut CtlCtx<'_>, tp: &TopicPartition, s: &PartitionState, unclean: bool) {
        if unclean {
            ctx.mark("controller.election.unclean");
        } else if s.leader.is_some() {
            ctx.mark("controller.election.clean");
        } else {
            ctx.mark("controller.election.no_leader");
        }
        let kind = if unclean { "UNCLEAN election" } else { "election" };
        let leader = s.leader.map_or("none".to_string(), |l| l.to_string());
        let (e, isr) = (s.leader_epoch, s.isr.clone());
        ctx.explain(|| format!("{tp}: {kind}: leader {leader}, leader epoch {e}, ISR {}", BrokerId::list(&isr)));
    }

    fn on_registration(&mut self, ctx: &mut CtlCtx<'_>, from: NodeId, req: BrokerRegistrationRequest) {
        let b = req.broker_id;
        if self.image.brokers.contains_key(&b) {
            if self.config.layout.bugs.kip_101 {
                // The ZooKeeper-era behaviour KIP-101's scenarios assume: a restarted broker keeps
                // its ISR memberships and leaderships until it lags.
                ctx.explain(|| format!("broker {b} registers again after a restart, with a new broker epoch"));
            } else {
                // KRaft: the new incarnation registers fenced, so the old one's leaderships move
                // and it leaves the ISRs (unless it is the last replica standing) before it is
                // unfenced again.
                ctx.explain(|| format!("broker {b} registers again after a restart: its previous incarnation is fenced"));
                ctx.mark("controller.fence.reregistration");
                self.fence(ctx, b);
            }
        }
        let broker_epoch = self.image.version + 1;
        self.image.brokers.insert(b, BrokerRegistration { node: from, fenced: false, broker_epoch });
        self.last_heartbeat.insert(b, ctx.now());
        self.elect_leaderless(ctx);
        self.commit(ctx);
        ctx.mark("controller.broker_registered");
        let resp = BrokerRegistrationResponse { correlation_id: req.correlation_id, error_code: ErrorCode::None, broker_epoch };
        self.reply_when_durable(from, Msg::BrokerRegistrationResponse(resp));
    }

    fn on_heartbeat(&mut self, ctx: &mut CtlCtx<'_>, from: NodeId, req: BrokerHeartbeatRequest) {
        let b = req.broker_id;
        let Some(reg) = self.image.brokers.get(&b).cloned() else {
            let resp = BrokerHeartbeatResponse { correlation_id: req.correlation_id, error_code: ErrorCode::BrokerIdNotRegistered, is_fenced: true, metadata: None };
            return ctx.send(from, Msg::BrokerHeartbeatResponse(resp));
        };
        if reg.broker_epoch != req.broker_epoch {
            let resp = BrokerHeartbeatResponse { correlation_id: req.correlation_id, error_code: ErrorCode::StaleBrokerEpoch, is_fenced: true, metadata: None };
            return ctx.send(from, Msg::BrokerHeartbeatResponse(resp));
        }
        self.last_heartbeat.insert(b, ctx.now());
        if reg.fenced {
            ctx.explain(|| format!("broker {b} heartbeats again: unfenced"));
            ctx.mark("controller.unfence");
            self.image.brokers.get_mut(&b).expect("registered").fenced = false;
            self.elect_leaderless(ctx);
            self.commit(ctx);
        }
        let metadata = (req.metadata_version < self.published.version).then(|| self.published.clone());
        let is_fenced = self.published.brokers.get(&b).is_none_or(|r| r.fenced);
        let resp = BrokerHeartbeatResponse { correlation_id: req.correlation_id, error_code: ErrorCode::None, is_fenced, metadata };
        ctx.send(from, Msg::BrokerHeartbeatResponse(resp));
    }

    fn on_alter_partition(&mut self, ctx: &mut CtlCtx<'_>, from: NodeId, req: AlterPartitionRequest) {
        let error = self.validate_alter(&req);
        let tp = req.partition.clone();
        if error != ErrorCode::None {
            ctx.mark("controller.alter_partition.rejected");
            ctx.explain(|| format!("AlterPartition for {tp} rejected: {error}"));
            let state = self.image.partitions.get(&tp).cloned();
            let resp = AlterPartitionResponse { correlation_id: req.correlation_id, partition: tp, error_code: error, state };
            return ctx.send(from, Msg::AlterPartitionResponse(resp));
        }
        let state = self.image.partitions[&tp].with_isr(req.new_isr.clone());
        let (isr, pe) = (state.isr.clone(), state.partition_epoch);
        ctx.explain(|| format!("AlterPartition: {tp} ISR is now {} (partition epoch {pe})", BrokerId::list(&isr)));
        ctx.mark("controller.alter_partition.applied");
        self.image.partitions.insert(tp.clone(), state.clone());
        self.commit(ctx);
        let resp = AlterPartitionResponse { correlation_id: req.correlation_id, partition: tp, error_code: ErrorCode::None, state: Some(state) };
        self.reply_when_durable(from, Msg::AlterPartitionResponse(resp));
    }

    fn validate_alter(&self, req: &AlterPartitionRequest) -> ErrorCode {
        match self.image.brokers.get(&req.broker_id) {
            None => return ErrorCode::BrokerIdNotRegistered,
            Some(r) if r.broker_epoch != req.broker_epoch => return ErrorCode::StaleBrokerEpoch,
            _ => {}
        }
        let Some(state) = self.image.partitions.get(&req.partition) else { return ErrorCode::UnknownTopicOrPartition };
        if state.leader != Some(req.broker_id) {
            return ErrorCode::NotLeaderOrFollower;
        }
        if req.leader_epoch != state.leader_epoch {
            return ErrorCode::FencedLeaderEpoch;
        }
        if req.partition_epoch != state.partition_epoch {
            return ErrorCode::InvalidUpdateVersion;
        }
        let added = req.new_isr.iter().filter(|b| !state.isr.contains(b));
        if added.clone().any(|b| !self.image.is_active(*b)) || req.new_isr.is_empty() {
            return ErrorCode::IneligibleReplica;
        }
        ErrorCode::None
    }
}

/// Kafka's INVALID_PARTITIONS messages for a CreatePartitions that would not grow the topic.
pub fn invalid_partitions(current: i32, requested: i32) -> String {
    if requested < current {
        format!("Topic currently has {current} partitions, which is higher than the requested {requested}.")
    } else {
        format!("Topic already has {current} partition(s).")
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::actor::Effect;
    use crate::model::config::TopicConfig;

    fn step(f: impl FnOnce(&mut CtlCtx<'_>)) -> Vec<Effect<KafkaNode>> {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut out = Vec::new();
        let mut ctx = Ctx::new(SimTime(1_000), NodeId(3), &mut rng, &mut out, None);
        f(&mut ctx);
        out
    }

    /// Three brokers, topic `t` with 2 partitions and 2 replicas; broker 2 fenced.
    fn controller() -> Controller {
        let mut topic = TopicConfig::new("t", 2);
        topic.replication_factor = 2;
        let layout = ClusterLayout { brokers: (0..3).map(|i| (BrokerId(i), NodeId(i as u32))).collect(), topics: vec![topic], controller: NodeId(3), ..ClusterLayout::default() };
        let mut c = Controller::recover(ControllerConfig { layout, broker_session_timeout_ms: 9_000 }, &DiskImage::default());
        step(|ctx| c.on_start(ctx));
        for b in 0..3 {
            c.image.brokers.insert(BrokerId(b), BrokerRegistration { node: NodeId(b as u32), fenced: b == 2, broker_epoch: 1 });
        }
        c
    }

    #[test]
    fn create_partitions_adds_replicated_partitions_at_epoch_zero_and_persists_them() {
        let mut c = controller();
        let version = c.image.version;
        let fx = step(|ctx| c.on_command(ctx, Command::CreatePartitions { topic: "t".into(), count: 4 }));
        // Partition 2: replicas [b2, b0]; b2 is fenced, so the ISR is [b0] and b0 leads.
        let p2 = &c.image.partitions[&TopicPartition::new("t", 2)];
        assert_eq!((p2.replicas.clone(), p2.isr.clone(), p2.leader), (vec![BrokerId(2), BrokerId(0)], vec![BrokerId(0)], Some(BrokerId(0))));
        let p3 = &c.image.partitions[&TopicPartition::new("t", 3)];
        assert_eq!((p3.replicas.clone(), p3.isr.clone(), p3.leader), (vec![BrokerId(0), BrokerId(1)], vec![BrokerId(0), BrokerId(1)], Some(BrokerId(0))));
        assert_eq!((p3.leader_epoch, p3.partition_epoch), (LeaderEpoch(0), 0));
        assert_eq!(c.image.version, version + 1);
        let appended = fx.iter().any(|e| matches!(e, Effect::Disk(crate::model::DiskOp::Append { entry: DiskEntry::Metadata(img), .. }) if img.partitions.len() == 4));
        assert!(appended, "the new image is written to the metadata log before it is published");
        assert!(fx.iter().any(|e| matches!(e, Effect::Mark("controller.create_partitions"))));
        assert!(!fx.iter().any(|e| matches!(e, Effect::Send { .. })), "published only once durable");
    }

    #[test]
    fn create_partitions_that_would_not_grow_the_topic_is_rejected() {
        for count in [1, 2] {
            let mut c = controller();
            let before = c.image.clone();
            let fx = step(|ctx| c.on_command(ctx, Command::CreatePartitions { topic: "t".into(), count }));
            assert_eq!(c.image, before);
            assert!(fx.iter().all(|e| matches!(e, Effect::Mark("controller.create_partitions.rejected"))), "count {count}");
        }
        let mut c = controller();
        let fx = step(|ctx| c.on_command(ctx, Command::CreatePartitions { topic: "nope".into(), count: 3 }));
        assert!(matches!(fx.as_slice(), [Effect::Mark("controller.create_partitions.rejected")]));
        assert_eq!(invalid_partitions(3, 1), "Topic currently has 3 partitions, which is higher than the requested 1.");
        assert_eq!(invalid_partitions(3, 3), "Topic already has 3 partition(s).");
    }
}
