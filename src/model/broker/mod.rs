//! The broker: partition replicas, the client APIs (Produce, Fetch, ListOffsets, Metadata), the
//! follower side of replication, and the broker's life with the controller (registration,
//! heartbeats, metadata, AlterPartition).
//!
//! Each hosted partition has a [`PartitionLog`] mirrored to one disk file (`<topic>-<p>.log`, one
//! batch per entry), a leader epoch cache (`<topic>-<p>.epochs`), and a share of the high-watermark
//! checkpoint (`replication-offset-checkpoint`, written every
//! `replica.high.watermark.checkpoint.interval.ms`). Appends land in the page cache; an fsync is
//! issued only as `flush.messages`/`flush.ms` ask (Kafka's default is never: durability comes from
//! replication), and a crash loses whatever was not synced.
//!
//! The broker learns what it leads and follows from the controller's metadata, asynchronously: a
//! deposed leader that cannot hear the controller goes on acting as leader (reference B.5).
//!
//! Sub-protocols: [`produce`] (appends, delayed produce), [`fetch`] (serving consumers and
//! followers, delayed fetch), [`replication`] (the follower's fetcher, truncation, ISR changes).

pub mod epochs;
pub mod fetch;
pub mod log;
pub mod partition;
pub mod partitions;
pub mod produce;
pub mod replication;

use std::collections::BTreeMap;

use serde::Serialize;

use super::actor::{Ctx, DiskDone, DiskImage};
use super::config::{BugSwitches, BrokerSettings, ClusterLayout};
use super::ids::{BrokerId, NodeId, Offset, TopicPartition};
use super::metadata::MetadataImage;
use super::node::{DiskEntry, KafkaNode, NodeTimer};
use super::group::protocol::*;
use super::protocol::*;
use super::time::SimDuration;
pub use epochs::EpochCache;
pub use log::PartitionLog;
pub use partition::{Partition, RemoteReplica};
pub use partitions::{Partitions, Touched};

pub const HW_CHECKPOINT: &str = "replication-offset-checkpoint";

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct BrokerConfig {
    pub broker_id: BrokerId,
    pub layout: ClusterLayout,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum BrokerTimer {
    /// A delayed fetch reached its `max_wait_ms`.
    FetchExpiry(u64),
    /// A delayed produce reached its `timeout_ms`.
    ProduceExpiry(u64),
    /// The log flusher's periodic check for `flush.ms`.
    FlushTick,
    /// Time to heartbeat the controller (or to retry registration).
    Heartbeat,
    /// The ISR expiration check (every `replica.lag.time.max.ms` / 2).
    IsrCheck,
    /// Write the high-watermark checkpoint.
    HwCheckpoint,
    /// Fetch from leaders again after `replica.fetch.backoff.ms`.
    ReplicaFetchBackoff,
    /// A replica fetch got no response in time.
    ReplicaFetchTimeout(u64),
    /// Apply `retention.ms` and `retention.bytes`.
    RetentionCheck,
    /// Expire committed offsets (`offsets.retention.check.interval.ms`).
    OffsetsRetentionCheck,
    /// A timer of a consumer group this broker coordinates.
    Group(String, crate::model::group::GroupTimer),
    /// Loading a `__consumer_offsets` partition is done.
    GroupsLoaded(TopicPartition),
    /// A consumer read's slice completes (the KAFKA-9835 bug switch).
    FetchSlice(u64),
    /// The fetcher truncates the diverged partitions of its last answer (the KAFKA-14704 bug
    /// switch).
    TruncateDiverged,
}

#[derive(Clone, Debug)]
pub struct Broker {
    pub config: BrokerConfig,
    pub partitions: Partitions,
    /// The latest metadata applied.
    pub metadata: MetadataImage,
    pub broker_epoch: Option<u64>,
    pending_produces: BTreeMap<u64, produce::PendingProduce>,
    pending_fetches: BTreeMap<u64, fetch::PendingFetch>,
    pending_slices: BTreeMap<u64, fetch::PendingSlice>,
    /// Diverged partitions the fetcher has yet to truncate (the KAFKA-14704 bug switch).
    diverged: BTreeMap<TopicPartition, (crate::model::ids::LeaderEpoch, Offset)>,
    /// Replica fetches in flight, by leader node: correlation id.
    replica_fetches: BTreeMap<NodeId, u64>,
    /// AlterPartition requests in flight: correlation id → partition.
    alter_partitions: BTreeMap<u64, TopicPartition>,
    next_id: u64,
    /// Consumer groups this broker coordinates, through the `__consumer_offsets` partitions it
    /// leads.
    pub groups: BTreeMap<String, crate::model::group::Group>,
    /// `__consumer_offsets` partitions this broker leads and is still loading: their groups'
    /// requests are answered COORDINATOR_LOAD_IN_PROGRESS.
    pub loading: std::collections::BTreeSet<TopicPartition>,
    /// Log files recovery found torn: the file and how many valid batches precede the torn one.
    torn_logs: Vec<(String, usize)>,
    /// Whether the offset expiry task runs: from the first time this broker (in this life)
    /// coordinates groups. Kafka starts it with every broker; without groups it finds nothing.
    offsets_expiry_running: bool,
}

pub(crate) type BrokerCtx<'a> = Ctx<'a, KafkaNode>;

impl Broker {
    /// Rebuilds the broker from its disk: each hosted partition's log and epoch cache from what
    /// survived, its HW from the checkpoint (never above the recovered LEO).
    pub fn recover(config: BrokerConfig, disk: &DiskImage<DiskEntry>) -> Self {
        let checkpoint: BTreeMap<TopicPartition, Offset> = disk
            .file(HW_CHECKPOINT)
            .iter()
            .filter_map(|e| if let DiskEntry::HighWatermark(tp, o) = e { Some((tp.clone(), *o)) } else { None })
            .collect();
        let mut partitions = BTreeMap::new();
        let mut torn_logs = Vec::new();
        for topic in &config.layout.topics {
            // The topic's partitions at creation, and any added later (CreatePartitions) that
            // left a log on this disk; one added without a log yet comes back with the metadata.
            let added = disk.files.keys().filter_map(|f| added_partition(f, topic));
            for p in (0..topic.partitions).filter(|p| config.layout.replicas(topic, *p).contains(&config.broker_id)).chain(added) {
                let tp = TopicPartition::new(topic.name.clone(), p);
                let (part, torn) = recover_partition(topic.clone(), tp.clone(), disk, checkpoint.get(&tp).copied());
                if let Some(valid) = torn {
                    torn_logs.push((part.log_file(), valid));
                }
                partitions.insert(tp, part);
            }
        }
        Broker {
            config,
            partitions: Partitions::from(partitions),
            metadata: MetadataImage::default(),
            broker_epoch: None,
            pending_produces: BTreeMap::new(),
            pending_fetches: BTreeMap::new(),
            pending_slices: BTreeMap::new(),
            diverged: BTreeMap::new(),
            replica_fetches: BTreeMap::new(),
            alter_partitions: BTreeMap::new(),
            next_id: 0,
            groups: BTreeMap::new(),
            loading: Default::default(),
            torn_logs,
            offsets_expiry_running: false,
        }
    }

    pub fn id(&self) -> BrokerId {
        self.config.broker_id
    }
    pub(crate) fn settings(&self) -> &BrokerSettings {
        &self.config.layout.settings
    }
    pub(crate) fn bugs(&self) -> &BugSwitches {
        &self.config.layout.bugs
    }
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn on_start(&mut self, ctx: &mut BrokerCtx<'_>) {
        let id = self.id();
        let n = self.partitions.len();
        ctx.explain(|| format!("broker {id} started with {n} partition replica(s) recovered from its disk; it registers with the controller"));
        for (file, valid) in std::mem::take(&mut self.torn_logs) {
            // LogSegment.recover: the batch whose CRC fails and everything after it go.
            ctx.truncate(file.clone(), valid);
            ctx.mark("broker.recovery.torn_batch");
            ctx.explain(|| format!("{file}: recovery found a half-written batch after {valid} valid ones: truncated there"));
        }
        self.register(ctx);
        if self.partitions.values().any(|p| p.topic.flush_ms.is_some()) {
            ctx.set_timer(NodeTimer::Broker(BrokerTimer::FlushTick), FLUSH_CHECK_INTERVAL);
        }
        let s = self.settings().clone();
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::IsrCheck), SimDuration::from_millis(s.replica_lag_time_max_ms / 2));
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::HwCheckpoint), SimDuration::from_millis(s.hw_checkpoint_interval_ms));
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::RetentionCheck), SimDuration::from_millis(s.retention_check_interval_ms));
    }

    pub fn on_message(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, msg: Msg) {
        match msg {
            Msg::ProduceRequest(req) => self.on_produce(ctx, from, req),
            Msg::FetchRequest(req) => self.on_fetch(ctx, from, req),
            Msg::FetchResponse(resp) => self.on_replica_fetch_response(ctx, from, resp),
            Msg::ListOffsetsRequest(req) => self.on_list_offsets(ctx, from, req),
            Msg::MetadataRequest(req) => self.on_metadata_request(ctx, from, req),
            Msg::BrokerRegistrationResponse(resp) => self.on_registration(ctx, resp),
            Msg::BrokerHeartbeatResponse(resp) => {
                if let Some(image) = resp.metadata {
                    self.apply_metadata(ctx, image);
                }
            }
            Msg::UpdateMetadataRequest(req) => self.apply_metadata(ctx, req.metadata),
            Msg::AlterPartitionResponse(resp) => self.on_alter_partition_response(ctx, resp),
            Msg::FindCoordinatorRequest(r) => self.on_find_coordinator(ctx, from, r),
            other => self.on_group_request(ctx, from, other),
        }
    }

    pub fn on_timer(&mut self, ctx: &mut BrokerCtx<'_>, timer: BrokerTimer) {
        match timer {
            BrokerTimer::FetchExpiry(id) => self.expire_fetch(ctx, id),
            BrokerTimer::ProduceExpiry(id) => self.expire_produce(ctx, id),
            BrokerTimer::FetchSlice(id) => self.complete_slice(ctx, id),
            BrokerTimer::TruncateDiverged => self.truncate_diverged(ctx),
            BrokerTimer::FlushTick => self.flush_by_age(ctx),
            BrokerTimer::Heartbeat => self.heartbeat(ctx),
            BrokerTimer::IsrCheck => self.shrink_isrs(ctx),
            BrokerTimer::HwCheckpoint => self.checkpoint_high_watermarks(ctx),
            BrokerTimer::ReplicaFetchBackoff => self.fetch_from_leaders(ctx),
            BrokerTimer::RetentionCheck => self.apply_retention(ctx),
            BrokerTimer::OffsetsRetentionCheck => self.expire_offsets(ctx),
            BrokerTimer::GroupsLoaded(tp) => self.groups_loaded(ctx, &tp),
            BrokerTimer::Group(group, timer) => {
                if let Some(g) = self.groups.get_mut(&group) {
                    g.on_timer(ctx, timer);
                }
            }
            BrokerTimer::ReplicaFetchTimeout(corr) => {
                if let Some(node) = self.replica_fetches.iter().find(|(_, c)| **c == corr).map(|(n, _)| *n) {
                    self.replica_fetches.remove(&node);
                    self.fetch_from_leaders(ctx);
                }
            }
        }
    }

    pub fn on_disconnect(&mut self, ctx: &mut BrokerCtx<'_>, peer: NodeId) {
        if let Some(corr) = self.replica_fetches.remove(&peer) {
            ctx.cancel_timer(NodeTimer::Broker(BrokerTimer::ReplicaFetchTimeout(corr)));
            let backoff = SimDuration::from_millis(self.settings().replica_fetch_backoff_ms);
            ctx.set_timer(NodeTimer::Broker(BrokerTimer::ReplicaFetchBackoff), backoff);
        }
        if peer == self.config.layout.controller {
            if self.broker_epoch.is_none() {
                // Not registered yet: try again soon rather than at the next heartbeat.
                ctx.set_timer(NodeTimer::Broker(BrokerTimer::Heartbeat), SimDuration::from_millis(100));
            }
            self.alter_partitions.clear();
            for p in self.partitions.values_mut() {
                p.pending_isr = None;
            }
        }
    }

    pub fn on_disk(&mut self, ctx: &mut BrokerCtx<'_>, done: DiskDone) {
        let DiskDone::Synced { file, len } = done;
        let Some(part) = self.partitions.values_mut().find(|p| p.log_file() == file) else { return };
        let tp = part.tp.clone();
        part.syncs_in_flight = part.syncs_in_flight.saturating_sub(1);
        let durable_end = part.log.batches().get(len.wrapping_sub(1)).map_or(part.log.log_start_offset(), |b| b.next_offset());
        part.complete_offset = if part.syncs_in_flight == 0 { part.log.log_end_offset() } else { part.complete_offset.max(durable_end) };
        ctx.explain(|| format!("fsync of {tp} done: {len} batches durable, up to offset {durable_end}"));
        self.partition_progressed(ctx, &tp);
    }

    /// How this broker's groups are configured (bug switches included).
    pub(crate) fn group_config(&self) -> crate::model::group::GroupConfig {
        crate::model::group::GroupConfig { unfenced_commits: self.bugs().unfenced_commits, kafka_13636: self.bugs().kafka_13636, ..Default::default() }
    }

    /// FindCoordinator: the leader of the group's `__consumer_offsets` partition, as this broker's
    /// metadata says.
    fn on_find_coordinator(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, req: FindCoordinatorRequest) {
        let tp = self.config.layout.coordinator_partition(&req.key);
        let node = self.metadata.partitions.get(&tp).and_then(|s| s.leader).and_then(|b| self.metadata.node_of(b));
        let error_code = if node.is_some() { ErrorCode::None } else { ErrorCode::CoordinatorNotAvailable };
        ctx.send(from, Msg::FindCoordinatorResponse(FindCoordinatorResponse { correlation_id: req.correlation_id, error_code, node }));
    }

    /// A group request: handled by the group if this broker leads the group's
    /// `__consumer_offsets` partition (and has loaded it), else NOT_COORDINATOR (or
    /// COORDINATOR_LOAD_IN_PROGRESS).
    fn on_group_request(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, msg: Msg) {
        let Some(group_id) = group_of(&msg) else {
            return ctx.explain(|| format!("ignored unexpected {}", super::actor::Message::kind(&msg)));
        };
        let me = self.id();
        let tp = self.config.layout.coordinator_partition(&group_id);
        if !self.partitions.get(&tp).is_some_and(|p| p.is_leader(me)) {
            ctx.mark("group.not_coordinator");
            return ctx.send(from, group_error(&msg, ErrorCode::NotCoordinator));
        }
        if self.loading.contains(&tp) {
            ctx.mark("group.load_in_progress");
            return ctx.send(from, group_error(&msg, ErrorCode::CoordinatorLoadInProgress));
        }
        let config = self.group_config();
        let group = self.groups.entry(group_id.clone()).or_insert_with(|| crate::model::group::Group::new(group_id, config));
        match msg {
            Msg::JoinGroupRequest(r) => group.on_join(ctx, from, r),
            Msg::SyncGroupRequest(r) => {
                group.on_sync(ctx, from, r);
                if let Some(value) = group.take_metadata_to_write() {
                    self.write_group_metadata(ctx, value);
                }
            }
            Msg::HeartbeatRequest(r) => group.on_heartbeat(ctx, from, r),
            Msg::LeaveGroupRequest(r) => group.on_leave(ctx, from, r),
            Msg::OffsetCommitRequest(r) => {
                if group.check_commit(ctx, from, &r) == ErrorCode::None {
                    self.write_offset_commit(ctx, from, r);
                }
            }
            Msg::OffsetFetchRequest(r) => group.on_offset_fetch(ctx, from, r),
            _ => unreachable!("group_of names only group requests"),
        }
    }

    fn register(&mut self, ctx: &mut BrokerCtx<'_>) {
        let corr = self.next_id();
        let controller = self.config.layout.controller;
        ctx.send(controller, Msg::BrokerRegistrationRequest(BrokerRegistrationRequest { correlation_id: corr, broker_id: self.id() }));
        // Heartbeat timer doubles as the registration retry.
        let interval = SimDuration::from_millis(self.settings().heartbeat_interval_ms);
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::Heartbeat), interval);
    }

    fn on_registration(&mut self, ctx: &mut BrokerCtx<'_>, resp: BrokerRegistrationResponse) {
        if resp.error_code == ErrorCode::None {
            self.broker_epoch = Some(resp.broker_epoch);
            let e = resp.broker_epoch;
            ctx.explain(|| format!("registered with the controller, broker epoch {e}"));
        }
    }

    fn heartbeat(&mut self, ctx: &mut BrokerCtx<'_>) {
        let Some(broker_epoch) = self.broker_epoch else { return self.register(ctx) };
        let corr = self.next_id();
        let req = BrokerHeartbeatRequest { correlation_id: corr, broker_id: self.id(), broker_epoch, metadata_version: self.metadata.version };
        ctx.send(self.config.layout.controller, Msg::BrokerHeartbeatRequest(req));
        let interval = SimDuration::from_millis(self.settings().heartbeat_interval_ms);
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::Heartbeat), interval);
    }

    /// Applies a newer metadata image: each hosted partition whose state changed becomes leader,
    /// follower, or leaderless accordingly.
    fn apply_metadata(&mut self, ctx: &mut BrokerCtx<'_>, image: MetadataImage) {
        if image.version <= self.metadata.version {
            return;
        }
        let me = self.id();
        // Partitions added to a topic (CreatePartitions) that this broker is a replica of: an
        // empty log, made leader or follower below like the others.
        for (tp, state) in &image.partitions {
            if state.replicas.contains(&me) && !self.partitions.contains_key(tp) {
                let Some(topic) = self.config.layout.topic(&tp.topic).cloned() else { continue };
                ctx.explain(|| format!("{tp} is a new partition of {}: creates its empty log", tp.topic));
                self.partitions.insert(tp.clone(), recover_partition(topic, tp.clone(), &DiskImage::default(), None).0);
            }
        }
        let tps: Vec<TopicPartition> = self.partitions.keys().cloned().collect();
        for tp in tps {
            let Some(new) = image.partitions.get(&tp).cloned() else { continue };
            let old = self.partitions[&tp].state.clone();
            if old.as_ref() == Some(&new) {
                continue;
            }
            let was_leader = old.as_ref().is_some_and(|s| s.leader == Some(me));
            let epoch_changed = old.as_ref().is_none_or(|s| s.leader_epoch != new.leader_epoch);
            let part = self.partitions.get_mut(&tp).expect("listed");
            if old.as_ref().is_some_and(|s| s.partition_epoch > new.partition_epoch || s.leader_epoch > new.leader_epoch) {
                continue; // older than what an AlterPartition response already told us
            }
            part.state = Some(new.clone());
            if new.leader == Some(me) && (epoch_changed || !was_leader) {
                self.become_leader(ctx, &tp);
            } else if new.leader != Some(me) && (epoch_changed || was_leader) {
                self.become_follower(ctx, &tp, was_leader);
            }
        }
        self.metadata = image;
        self.fetch_from_leaders(ctx);
    }

    fn on_list_offsets(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, req: ListOffsetsRequest) {
        let me = self.id();
        let partitions = req
            .partitions
            .into_iter()
            .map(|(tp, spec)| {
                let (error_code, offset) = match self.partitions.get(&tp) {
                    None => (ErrorCode::UnknownTopicOrPartition, Offset(-1)),
                    Some(p) if !p.is_leader(me) => (ErrorCode::NotLeaderOrFollower, Offset(-1)),
                    Some(p) => match spec {
                        OffsetSpec::Earliest => (ErrorCode::None, p.log.log_start_offset()),
                        OffsetSpec::Latest => (ErrorCode::None, p.log.high_watermark()),
                    },
                };
                ListOffsetsPartition { partition: tp, error_code, offset }
            })
            .collect();
        ctx.send(from, Msg::ListOffsetsResponse(ListOffsetsResponse { correlation_id: req.correlation_id, partitions }));
    }

    /// Answers a client's Metadata request from this broker's (possibly stale) image.
    fn on_metadata_request(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, req: MetadataRequest) {
        let image = &self.metadata;
        let topics = req
            .topics
            .iter()
            .map(|name| {
                let partitions: Vec<PartitionMetadata> = image
                    .partitions
                    .iter()
                    .filter(|(tp, _)| tp.topic == *name)
                    .map(|(tp, s)| PartitionMetadata {
                        partition: tp.partition,
                        error_code: if s.leader.is_some() { ErrorCode::None } else { ErrorCode::NotLeaderOrFollower },
                        leader: s.leader,
                        leader_epoch: s.leader_epoch,
                        replicas: s.replicas.clone(),
                        isr: s.isr.clone(),
                    })
                    .collect();
                let error_code = if partitions.is_empty() { ErrorCode::UnknownTopicOrPartition } else { ErrorCode::None };
                TopicMetadata { name: name.clone(), error_code, partitions }
            })
            .collect();
        let brokers = image.brokers.iter().filter(|(_, r)| !r.fenced).map(|(b, r)| (*b, r.node)).collect();
        ctx.send(from, Msg::MetadataResponse(MetadataResponse { correlation_id: req.correlation_id, brokers, topics }));
    }

    /// `flush.ms`: fsync every partition whose oldest unflushed record is older than its limit.
    fn flush_by_age(&mut self, ctx: &mut BrokerCtx<'_>) {
        let now = ctx.now();
        for part in self.partitions.values_mut() {
            let (Some(limit_ms), Some(since)) = (part.topic.flush_ms, part.unflushed_since) else { continue };
            if now.saturating_since(since) >= SimDuration::from_millis(limit_ms) {
                ctx.fsync(part.log_file());
                part.syncs_in_flight += 1;
                part.unflushed_records = 0;
                part.unflushed_since = None;
                ctx.mark("broker.flush.ms");
            }
        }
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::FlushTick), FLUSH_CHECK_INTERVAL);
    }

    /// Retention: deletes the oldest segments older than `retention.ms`, or beyond
    /// `retention.bytes`, never the active segment nor anything at or above the HW. The log start
    /// offset moves to the first remaining segment; fetches below it get OFFSET_OUT_OF_RANGE.
    fn apply_retention(&mut self, ctx: &mut BrokerCtx<'_>) {
        // Segment ages are measured on this broker's wall clock (clock skew moves them).
        let now_ms = ctx.wall_clock_ms();
        for part in self.partitions.values_mut() {
            let topic = &part.topic;
            let segments = part.log.segments(topic.segment_bytes);
            let mut total: u64 = segments.iter().map(|s| s.2).sum();
            let mut new_start = None;
            for (i, seg) in segments.iter().enumerate().take(segments.len().saturating_sub(1)) {
                let next = &segments[i + 1];
                let next_base = part.log.batches()[next.0].base_offset;
                let expired = topic.retention_ms.is_some_and(|ms| now_ms.saturating_sub(seg.3) > ms);
                let too_big = topic.retention_bytes.is_some_and(|max| total.saturating_sub(seg.2) >= max);
                if !(expired || too_big) || next_base > part.log.high_watermark() {
                    break;
                }
                total -= seg.2;
                new_start = Some(next_base);
            }
            let Some(start) = new_start else { continue };
            let n = part.log.delete_before(start);
            let entries = part.log.batches().iter().cloned().map(DiskEntry::Batch).collect();
            ctx.rewrite(part.log_file(), entries);
            ctx.fsync(part.log_file());
            part.syncs_in_flight += 1;
            if part.epochs.truncate_from_start(start) {
                Broker::persist_epochs(ctx, part);
            }
            ctx.mark("broker.retention.delete");
            let tp = part.tp.clone();
            ctx.explain(|| format!("{tp}: retention deleted {n} batches; the log now starts at {start}"));
        }
        let interval = SimDuration::from_millis(self.settings().retention_check_interval_ms);
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::RetentionCheck), interval);
    }

    /// Starts the offset expiry task, unless it runs already.
    pub(crate) fn start_offsets_expiry(&mut self, ctx: &mut BrokerCtx<'_>) {
        if !std::mem::replace(&mut self.offsets_expiry_running, true) {
            let interval = SimDuration::from_millis(self.settings().offsets_retention_check_interval_ms);
            ctx.set_timer(NodeTimer::Broker(BrokerTimer::OffsetsRetentionCheck), interval);
        }
    }

    /// The offset expiry task: every group this broker coordinates (and has loaded) drops the
    /// offsets that expired (see [`crate::model::group::expiry`]); their tombstones are written
    /// to `__consumer_offsets` so that a new coordinator does not load them again.
    fn expire_offsets(&mut self, ctx: &mut BrokerCtx<'_>) {
        let me = self.id();
        let retention_ms = self.settings().offsets_retention_ms;
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for name in names {
            let tp = self.config.layout.coordinator_partition(&name);
            if self.loading.contains(&tp) || !self.partitions.get(&tp).is_some_and(|p| p.is_leader(me)) {
                continue;
            }
            let pending = self.pending_commits(&name);
            let group = self.groups.get_mut(&name).expect("listed");
            let expired = group.remove_expired_offsets(ctx, retention_ms, &pending);
            if !expired.is_empty() {
                self.write_offset_tombstones(ctx, &name, &expired);
            }
        }
        let interval = SimDuration::from_millis(self.settings().offsets_retention_check_interval_ms);
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::OffsetsRetentionCheck), interval);
    }

    /// Writes every hosted partition's HW to the checkpoint file, fsynced.
    fn checkpoint_high_watermarks(&mut self, ctx: &mut BrokerCtx<'_>) {
        let entries = self.partitions.values().map(|p| DiskEntry::HighWatermark(p.tp.clone(), p.log.high_watermark())).collect();
        ctx.rewrite(HW_CHECKPOINT, entries);
        ctx.fsync(HW_CHECKPOINT);
        let interval = SimDuration::from_millis(self.settings().hw_checkpoint_interval_ms);
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::HwCheckpoint), interval);
    }

    /// Writes a partition's epoch cache (a checkpoint file, rewritten and fsynced).
    pub(crate) fn persist_epochs(ctx: &mut BrokerCtx<'_>, part: &Partition) {
        let entries = part.epochs.entries().iter().map(|(e, o)| DiskEntry::Epoch(*e, *o)).collect();
        ctx.rewrite(part.epochs_file(), entries);
        ctx.fsync(part.epochs_file());
    }
}

/// The group a request is about, for group requests.
/// Counts `n` records just appended to `part`'s log (by the leader or a follower): when
/// `flush.messages` is reached, fsyncs, and the records count as complete only once the fsync is
/// done. Returns whether it fsynced. (Kafka flushes inside `UnifiedLog.append`, for leader and
/// follower appends alike.)
pub(crate) fn count_appended(ctx: &mut BrokerCtx<'_>, part: &mut Partition, n: u64) -> bool {
    if n == 0 {
        return false;
    }
    if part.unflushed_records == 0 {
        part.unflushed_since = Some(ctx.now());
    }
    part.unflushed_records += n;
    let forced = part.topic.flush_messages.is_some_and(|k| part.unflushed_records >= k);
    if forced {
        ctx.fsync(part.log_file());
        part.syncs_in_flight += 1;
        part.unflushed_records = 0;
        part.unflushed_since = None;
        ctx.mark("broker.flush.messages");
    } else if part.syncs_in_flight == 0 {
        part.complete_offset = part.log.log_end_offset();
    }
    forced
}

fn group_of(msg: &Msg) -> Option<String> {
    Some(match msg {
        Msg::JoinGroupRequest(r) => r.group_id.clone(),
        Msg::SyncGroupRequest(r) => r.group_id.clone(),
        Msg::HeartbeatRequest(r) => r.group_id.clone(),
        Msg::LeaveGroupRequest(r) => r.group_id.clone(),
        Msg::OffsetCommitRequest(r) => r.group_id.clone(),
        Msg::OffsetFetchRequest(r) => r.group_id.clone(),
        _ => return None,
    })
}

/// The NOT_COORDINATOR answer to a group request.
/// The answer to a group request that the group never saw: NOT_COORDINATOR or
/// COORDINATOR_LOAD_IN_PROGRESS.
fn group_error(msg: &Msg, e: ErrorCode) -> Msg {
    match msg {
        Msg::JoinGroupRequest(r) => Msg::JoinGroupResponse(JoinGroupResponse {
            correlation_id: r.correlation_id,
            error_code: e,
            generation_id: -1,
            protocol_name: None,
            leader: String::new(),
            member_id: r.member_id.clone(),
            members: vec![],
        }),
        Msg::SyncGroupRequest(r) => Msg::SyncGroupResponse(SyncGroupResponse { correlation_id: r.correlation_id, error_code: e, assignment: vec![] }),
        Msg::HeartbeatRequest(r) => Msg::HeartbeatResponse(HeartbeatResponse { correlation_id: r.correlation_id, error_code: e }),
        Msg::LeaveGroupRequest(r) => Msg::LeaveGroupResponse(LeaveGroupResponse { correlation_id: r.correlation_id, error_code: e }),
        Msg::OffsetCommitRequest(r) => Msg::OffsetCommitResponse(OffsetCommitResponse {
            correlation_id: r.correlation_id,
            partitions: r.offsets.iter().map(|(tp, _)| (tp.clone(), e)).collect(),
        }),
        Msg::OffsetFetchRequest(r) => Msg::OffsetFetchResponse(OffsetFetchResponse { correlation_id: r.correlation_id, error_code: e, offsets: vec![] }),
        _ => unreachable!("only group requests"),
    }
}

/// The partition number of `file` when it is the log of a partition of `topic` beyond those it
/// was created with (`<topic>-<p>.log`, `p >= partitions`).
fn added_partition(file: &str, topic: &super::config::TopicConfig) -> Option<i32> {
    let p: i32 = file.strip_suffix(".log")?.strip_prefix(topic.name.as_str())?.strip_prefix('-')?.parse().ok()?;
    (p >= topic.partitions).then_some(p)
}

fn recover_partition(
    topic: super::config::TopicConfig,
    tp: TopicPartition,
    disk: &DiskImage<DiskEntry>,
    hw_checkpoint: Option<Offset>,
) -> (Partition, Option<usize>) {
    // Recovery reads batches up to the first invalid one (a torn write) and drops the rest.
    let file = disk.file(&format!("{tp}.log"));
    let batches: Vec<RecordBatch> = file.iter().map_while(|e| if let DiskEntry::Batch(b) = e { Some(b.clone()) } else { None }).collect();
    let torn = (batches.len() < file.len()).then_some(batches.len());
    let mut log = PartitionLog::recover(batches);
    let mut epochs = EpochCache::from_entries(
        disk.file(&format!("{tp}.epochs")).iter().filter_map(|e| if let DiskEntry::Epoch(ep, o) = e { Some((*ep, *o)) } else { None }).collect(),
    );
    // The checkpoint may be older than the log; rebuild missing epochs from the batches.
    for b in log.batches() {
        epochs.assign(b.partition_leader_epoch, b.base_offset);
    }
    epochs.truncate_from_end(log.log_end_offset().next());
    // Before KIP-101 a truncation to this HW followed when the replica became a follower (see
    // `become_follower`), which after a restart is at once.
    let hw = hw_checkpoint.unwrap_or(Offset(0)).min(log.log_end_offset());
    log.advance_high_watermark(hw);
    (Partition::new(topic, tp, log, epochs), torn)
}

/// How often the log flusher looks at `flush.ms` (Kafka's `log.flush.scheduler.interval.ms`
/// defaults to never; a simulated broker that has `flush.ms` set checks every 100 ms).
const FLUSH_CHECK_INTERVAL: SimDuration = SimDuration::from_millis(100);

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::actor::Effect;
    use crate::model::config::TopicConfig;
    use crate::model::ids::{LeaderEpoch, RecordId};
    use crate::model::metadata::{BrokerRegistration, PartitionState};
    use crate::model::SimTime;

    const CLIENT: NodeId = NodeId(9);

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }

    /// Broker b0 of a 3-broker cluster, leading t-0 with the given ISR.
    fn leader(isr: &[i32], min_isr: i16, flush_messages: Option<u64>) -> Broker {
        leader_with_bugs(isr, min_isr, flush_messages, BugSwitches::default())
    }

    fn leader_with_bugs(isr: &[i32], min_isr: i16, flush_messages: Option<u64>, bugs: BugSwitches) -> Broker {
        let mut topic = TopicConfig::new("t", 1);
        topic.replication_factor = 3;
        topic.min_insync_replicas = min_isr;
        topic.flush_messages = flush_messages;
        let brokers = (0..3).map(|i| (BrokerId(i), NodeId(i as u32))).collect();
        let layout = ClusterLayout { brokers, topics: vec![topic], controller: NodeId(3), bugs, ..ClusterLayout::default() };
        let mut b = Broker::recover(BrokerConfig { broker_id: BrokerId(0), layout }, &DiskImage::default());
        b.broker_epoch = Some(1);
        let mut image = MetadataImage { version: 1, ..MetadataImage::default() };
        for i in 0..3 {
            image.brokers.insert(BrokerId(i), BrokerRegistration { node: NodeId(i as u32), fenced: false, broker_epoch: 1 });
        }
        image.partitions.insert(
            tp(),
            PartitionState {
                replicas: vec![BrokerId(0), BrokerId(1), BrokerId(2)],
                isr: isr.iter().map(|i| BrokerId(*i)).collect(),
                leader: Some(BrokerId(0)),
                leader_epoch: LeaderEpoch(0),
                partition_epoch: 0,
            },
        );
        step(|ctx| b.apply_metadata(ctx, image));
        b
    }

    fn step(f: impl FnOnce(&mut Ctx<'_, KafkaNode>)) -> Vec<Effect<KafkaNode>> {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut out = Vec::new();
        let mut ctx = Ctx::new(SimTime(1_000), NodeId(0), &mut rng, &mut out, None);
        f(&mut ctx);
        out
    }

    fn produce(n: u32, acks: Acks) -> ProduceRequest {
        let records = (0..n).map(|seq| Record { id: RecordId { producer: 0, seq }, key: None, size: 10, value: None }).collect();
        ProduceRequest {
            correlation_id: 7,
            acks,
            timeout_ms: 30_000,
            topic_data: vec![PartitionRecords { partition: tp(), records, producer: None }],
        }
    }

    fn follower_fetch(follower: i32, offset: i64) -> FetchRequest {
        FetchRequest {
            correlation_id: 8,
            replica_id: Some(BrokerId(follower)),
            max_wait_ms: 0,
            min_bytes: 1,
            max_bytes: 1 << 20,
            partitions: vec![FetchPartition {
                partition: tp(),
                fetch_offset: Offset(offset),
                current_leader_epoch: Some(LeaderEpoch(0)),
                last_fetched_epoch: Some(LeaderEpoch(0)),
            }],
            rack_id: None,
        }
    }

    fn produce_responses(effects: &[Effect<KafkaNode>]) -> Vec<&ProduceResponse> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send { to: CLIENT, msg } => match &**msg {
                    Msg::ProduceResponse(r) => Some(r),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    #[test]
    fn acks_all_is_answered_once_every_isr_member_has_fetched_past_the_batch() {
        let mut b = leader(&[0, 1, 2], 2, None);
        let fx = step(|ctx| b.on_produce(ctx, CLIENT, produce(3, Acks::All)));
        assert!(produce_responses(&fx).is_empty(), "waits for the followers");
        assert!(produce_responses(&step(|ctx| b.on_fetch(ctx, NodeId(1), follower_fetch(1, 3)))).is_empty());
        let fx = step(|ctx| b.on_fetch(ctx, NodeId(2), follower_fetch(2, 3)));
        let r = produce_responses(&fx);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].responses[0].error_code, r[0].responses[0].base_offset), (ErrorCode::None, Some(Offset(0))));
        assert_eq!(b.partitions[&tp()].log.high_watermark(), Offset(3));
    }

    #[test]
    fn acks1_is_answered_from_the_leader_alone() {
        let mut b = leader(&[0, 1, 2], 2, None);
        let r = step(|ctx| b.on_produce(ctx, CLIENT, produce(2, Acks::Leader)));
        assert_eq!(produce_responses(&r).len(), 1);
        assert_eq!(b.partitions[&tp()].log.high_watermark(), Offset(0), "but nothing is committed yet");
    }

    #[test]
    fn acks_all_below_min_isr_is_refused_before_appending() {
        let mut b = leader(&[0], 2, None);
        let fx = step(|ctx| b.on_produce(ctx, CLIENT, produce(2, Acks::All)));
        let r = produce_responses(&fx);
        assert_eq!(r[0].responses[0].error_code, ErrorCode::NotEnoughReplicas);
        assert_eq!(b.partitions[&tp()].log.log_end_offset(), Offset(0));
    }

    #[test]
    fn a_follower_fetch_with_a_stale_epoch_is_fenced() {
        let mut b = leader(&[0, 1, 2], 1, None);
        let mut req = follower_fetch(1, 0);
        req.partitions[0].current_leader_epoch = Some(LeaderEpoch(-1));
        let fx = step(|ctx| b.on_fetch(ctx, NodeId(1), req));
        let Some(Effect::Send { msg, .. }) = fx.iter().find(|e| matches!(e, Effect::Send { .. })) else { panic!() };
        let Msg::FetchResponse(r) = &**msg else { panic!() };
        assert_eq!(r.partitions[0].error_code, ErrorCode::FencedLeaderEpoch);
    }

    #[test]
    fn losing_leadership_answers_pending_produces_not_leader() {
        let mut b = leader(&[0, 1, 2], 2, None);
        step(|ctx| b.on_produce(ctx, CLIENT, produce(1, Acks::All)));
        let mut image = b.metadata.clone();
        image.version += 1;
        let s = image.partitions.get_mut(&tp()).unwrap();
        s.leader = Some(BrokerId(1));
        s.leader_epoch = LeaderEpoch(1);
        let fx = step(|ctx| b.apply_metadata(ctx, image));
        let r = produce_responses(&fx);
        assert_eq!(r[0].responses[0].error_code, ErrorCode::NotLeaderOrFollower);
    }

    #[test]
    fn flush_messages_holds_the_answer_until_the_fsync_completes() {
        let mut b = leader(&[0], 1, Some(1));
        let fx = step(|ctx| b.on_produce(ctx, CLIENT, produce(2, Acks::Leader)));
        assert!(fx.iter().any(|e| matches!(e, Effect::Disk(crate::model::DiskOp::Fsync { file }) if file == "t-0.log")));
        assert!(produce_responses(&fx).is_empty());
        let fx = step(|ctx| b.on_disk(ctx, DiskDone::Synced { file: "t-0.log".into(), len: 1 }));
        assert_eq!(produce_responses(&fx).len(), 1);
    }

    #[test]
    fn recovery_rebuilds_the_log_and_takes_the_hw_from_the_checkpoint() {
        let batch = RecordBatch {
            base_offset: Offset(0),
            partition_leader_epoch: LeaderEpoch(3),
            append_time_ms: 0,
            producer: None,
            records: (0..4).map(|seq| Record { id: RecordId { producer: 1, seq }, key: None, size: 5, value: None }).collect(),
        };
        let files = [
            ("t-0.log".to_string(), vec![DiskEntry::Batch(batch)]),
            (HW_CHECKPOINT.to_string(), vec![DiskEntry::HighWatermark(tp(), Offset(2))]),
        ];
        let layout = ClusterLayout { brokers: vec![(BrokerId(0), NodeId(0))], topics: vec![TopicConfig::new("t", 1)], ..ClusterLayout::default() };
        let b = Broker::recover(BrokerConfig { broker_id: BrokerId(0), layout }, &DiskImage { files: files.into_iter().collect() });
        let p = &b.partitions[&tp()];
        assert_eq!((p.log.log_end_offset(), p.log.high_watermark()), (Offset(4), Offset(2)));
        assert_eq!(p.epochs.latest_epoch(), Some(LeaderEpoch(3)), "the epoch cache is rebuilt from the batches");
    }

    fn consumer_fetch(offset: i64) -> FetchRequest {
        let mut req = follower_fetch(0, offset);
        req.replica_id = None;
        req.partitions[0].last_fetched_epoch = None;
        req
    }

    fn fetch_responses(effects: &[Effect<KafkaNode>]) -> Vec<&FetchResponse> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send { to: CLIENT, msg } => match &**msg {
                    Msg::FetchResponse(r) => Some(r),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    fn offsets(r: &FetchResponse) -> Vec<i64> {
        r.partitions[0].records.iter().flat_map(|b| b.offsets()).map(|(o, _)| o.0).collect()
    }

    /// KAFKA-9835: with the switch, a read whose limit (the HW) is the log end is cut only when
    /// the slice completes, and an append handled meanwhile comes with it, above the HW the answer
    /// carries. Without it the answer is immediate and stops at the HW.
    #[test]
    fn kafka_9835_a_read_at_the_log_end_takes_an_append_made_while_it_slices() {
        for bug in [false, true] {
            let mut b = leader_with_bugs(&[0, 1], 1, None, BugSwitches { kafka_9835: bug, ..BugSwitches::default() });
            step(|ctx| b.on_produce(ctx, CLIENT, produce(2, Acks::Leader)));
            step(|ctx| b.on_fetch(ctx, NodeId(1), follower_fetch(1, 2)));
            assert_eq!(b.partitions[&tp()].log.high_watermark(), Offset(2));
            let fx = step(|ctx| b.on_fetch(ctx, CLIENT, consumer_fetch(0)));
            let answered_now = fetch_responses(&fx).first().map(|r| offsets(r));
            step(|ctx| b.on_produce(ctx, CLIENT, produce(1, Acks::Leader)));
            if !bug {
                assert_eq!(answered_now, Some(vec![0, 1]));
                continue;
            }
            assert_eq!(answered_now, None, "the slice is still open");
            let id = b.pending_slices.keys().next().copied().expect("a pending slice");
            let fx = step(|ctx| b.on_timer(ctx, BrokerTimer::FetchSlice(id)));
            let r = fetch_responses(&fx);
            assert_eq!(offsets(r[0]), vec![0, 1, 2], "offset 2 was appended during the slice");
            assert_eq!(r[0].partitions[0].high_watermark, Offset(2), "the answer's HW is the one the read started with");
        }
    }

    /// KIP-279: before it, the leader answers a follower's first fetch (its OffsetsForLeaderEpoch
    /// question, epoch 1) with "the start of the first epoch after 1", here 8, and not the epoch
    /// that offset ends; the follower at 10 is told to truncate to 8. With KIP-279 the answer is
    /// (epoch 0, 8).
    #[test]
    fn kip_279_the_leader_answers_an_end_offset_without_its_epoch() {
        for bug in [false, true] {
            let mut b = leader_with_bugs(&[0, 1, 2], 1, None, BugSwitches { kip_279: bug, ..BugSwitches::default() });
            let part = b.partitions.get_mut(&tp()).unwrap();
            part.epochs = EpochCache::from_entries(vec![(LeaderEpoch(0), Offset(0)), (LeaderEpoch(2), Offset(8))]);
            for seq in 0..12 {
                part.log.append(vec![Record { id: RecordId { producer: 0, seq }, key: None, size: 1, value: None }], LeaderEpoch(if seq < 8 { 0 } else { 2 }), 0, None);
            }
            part.state.as_mut().unwrap().leader_epoch = LeaderEpoch(2);
            let mut req = follower_fetch(1, 10);
            req.partitions[0].current_leader_epoch = Some(LeaderEpoch(2));
            req.partitions[0].last_fetched_epoch = Some(LeaderEpoch(1));
            let fx = step(|ctx| b.on_fetch(ctx, NodeId(1), req));
            let Some(Effect::Send { msg, .. }) = fx.iter().find(|e| matches!(e, Effect::Send { .. })) else { panic!() };
        let Msg::FetchResponse(r) = &**msg else { panic!() };
            let expected = if bug { (LeaderEpoch(-1), Offset(8)) } else { (LeaderEpoch(0), Offset(8)) };
            assert_eq!(r.partitions[0].diverging_epoch, Some(expected));
        }
    }

    /// KAFKA-14704, and a follower serving a consumer that sends client metadata (KIP-392): the
    /// deposed leader holds offsets 0..5 of epoch 0, of which only 0..2 survive on the new leader
    /// (whose HW is 4). With the switch it takes HW 4 first and truncates only when the fetcher
    /// gets to it; a consumer reading from it meanwhile gets offsets 2 and 3, which are then gone.
    /// Without the switch it truncates at once and its HW stays where it was.
    #[test]
    fn kafka_14704_the_follower_takes_the_high_watermark_before_it_truncates() {
        for bug in [false, true] {
            let mut b = leader_with_bugs(&[0, 1, 2], 1, None, BugSwitches { kafka_14704: bug, ..BugSwitches::default() });
            step(|ctx| b.on_produce(ctx, CLIENT, produce(5, Acks::Leader)));
            let mut image = b.metadata.clone();
            image.version += 1;
            let s = image.partitions.get_mut(&tp()).unwrap();
            (s.leader, s.leader_epoch, s.isr) = (Some(BrokerId(1)), LeaderEpoch(1), vec![BrokerId(1), BrokerId(2)]);
            let fx = step(|ctx| b.apply_metadata(ctx, image));
            let corr = fx
                .iter()
                .find_map(|e| match e {
                    Effect::Send { to: NodeId(1), msg } => match &**msg {
                        Msg::FetchRequest(r) => Some(r.correlation_id),
                        _ => None,
                    },
                    _ => None,
                })
                .expect("the new follower fetches from b1");
            let answer = FetchPartitionData {
                partition: tp(),
                error_code: ErrorCode::None,
                high_watermark: Offset(4),
                log_start_offset: Offset(0),
                records: vec![],
                diverging_epoch: Some((LeaderEpoch(0), Offset(2))),
            };
            step(|ctx| b.on_replica_fetch_response(ctx, NodeId(1), FetchResponse { correlation_id: corr, partitions: vec![answer] }));
            let mut read = consumer_fetch(2);
            read.partitions[0].current_leader_epoch = None; // no KIP-320
            read.rack_id = Some("rack-a".into());
            let fx = step(|ctx| b.on_fetch(ctx, CLIENT, read.clone()));
            let in_window = offsets(fetch_responses(&fx)[0]);
            let p = &b.partitions[&tp()];
            let seen = (p.log.log_end_offset(), p.log.high_watermark());
            if !bug {
                assert_eq!(seen, (Offset(2), Offset(0)), "truncated at once; the HW waits for the next answer");
                assert!(in_window.is_empty());
                continue;
            }
            assert_eq!(seen, (Offset(5), Offset(4)), "the HW first, above the divergence at 2");
            assert_eq!(in_window, vec![2, 3], "the consumer is handed records about to be truncated");
            step(|ctx| b.on_timer(ctx, BrokerTimer::TruncateDiverged));
            let p = &b.partitions[&tp()];
            assert_eq!((p.log.log_end_offset(), p.log.high_watermark()), (Offset(2), Offset(2)));
        }
    }

    #[test]
    fn a_follower_answers_a_consumer_only_when_it_sends_client_metadata() {
        let mut b = leader(&[0, 1, 2], 1, None);
        let mut image = b.metadata.clone();
        image.version += 1;
        let s = image.partitions.get_mut(&tp()).unwrap();
        (s.leader, s.leader_epoch) = (Some(BrokerId(1)), LeaderEpoch(1));
        step(|ctx| b.apply_metadata(ctx, image));
        let mut read = consumer_fetch(0);
        read.partitions[0].current_leader_epoch = Some(LeaderEpoch(1));
        let fx = step(|ctx| b.on_fetch(ctx, CLIENT, read.clone()));
        assert_eq!(fetch_responses(&fx)[0].partitions[0].error_code, ErrorCode::NotLeaderOrFollower);
        read.rack_id = Some("rack-a".into());
        let fx = step(|ctx| b.on_fetch(ctx, CLIENT, read.clone()));
        assert_eq!(fetch_responses(&fx)[0].partitions[0].error_code, ErrorCode::None);
        read.partitions[0].current_leader_epoch = Some(LeaderEpoch(0));
        let fx = step(|ctx| b.on_fetch(ctx, CLIENT, read));
        assert_eq!(fetch_responses(&fx)[0].partitions[0].error_code, ErrorCode::FencedLeaderEpoch, "a stale epoch is fenced on a follower too");
    }

    /// A crash tore the last batch of the log: recovery keeps the valid batches before it (and
    /// their epochs) and, once started, truncates the file there (LogSegment.recover).
    #[test]
    fn recovery_truncates_a_torn_batch() {
        let batch = |base: i64, epoch: i32| RecordBatch {
            base_offset: Offset(base),
            partition_leader_epoch: LeaderEpoch(epoch),
            append_time_ms: 0,
            producer: None,
            records: vec![Record { id: RecordId { producer: 1, seq: base as u32 }, key: None, size: 5, value: None }],
        };
        let log = vec![DiskEntry::Batch(batch(0, 0)), DiskEntry::Batch(batch(1, 1)), DiskEntry::TornBatch];
        let layout = ClusterLayout { brokers: vec![(BrokerId(0), NodeId(0))], topics: vec![TopicConfig::new("t", 1)], ..ClusterLayout::default() };
        let mut b = Broker::recover(BrokerConfig { broker_id: BrokerId(0), layout }, &DiskImage { files: [("t-0.log".to_string(), log)].into_iter().collect() });
        let p = &b.partitions[&tp()];
        assert_eq!((p.log.log_end_offset(), p.epochs.latest_epoch()), (Offset(2), Some(LeaderEpoch(1))));
        let fx = step(|ctx| b.on_start(ctx));
        assert!(fx.iter().any(|e| matches!(e, Effect::Disk(crate::model::DiskOp::Truncate { file, len: 2 }) if file == "t-0.log")));
    }

    #[test]
    fn a_partition_added_to_the_topic_is_created_from_the_metadata_and_recovered_from_its_log() {
        let mut b = leader(&[0, 1, 2], 1, None);
        let mut image = b.metadata.clone();
        image.version += 1;
        let added = TopicPartition::new("t", 1);
        let state = PartitionState { replicas: vec![BrokerId(1), BrokerId(0)], isr: vec![BrokerId(1), BrokerId(0)], leader: Some(BrokerId(1)), leader_epoch: LeaderEpoch(0), partition_epoch: 0 };
        image.partitions.insert(added.clone(), state.clone());
        // A partition this broker does not host is not created.
        let elsewhere = TopicPartition::new("t", 2);
        image.partitions.insert(elsewhere.clone(), PartitionState { replicas: vec![BrokerId(2)], isr: vec![BrokerId(2)], leader: Some(BrokerId(2)), ..state });
        step(|ctx| b.apply_metadata(ctx, image));
        assert!(!b.partitions.contains_key(&elsewhere));
        let p = &b.partitions[&added];
        assert_eq!((p.log.log_end_offset(), p.state.as_ref().and_then(|s| s.leader)), (Offset(0), Some(BrokerId(1))), "an empty follower replica");
        // After a restart the layout still says one partition; the log on disk brings it back.
        let batch = RecordBatch {
            base_offset: Offset(0),
            partition_leader_epoch: LeaderEpoch(0),
            append_time_ms: 0,
            producer: None,
            records: vec![Record { id: RecordId { producer: 1, seq: 0 }, key: None, size: 5, value: None }],
        };
        let files = [("t-1.log".to_string(), vec![DiskEntry::Batch(batch)]), ("t-10.epochs".to_string(), vec![])];
        let layout = b.config.layout.clone();
        let r = Broker::recover(BrokerConfig { broker_id: BrokerId(0), layout }, &DiskImage { files: files.into_iter().collect() });
        assert_eq!(r.partitions.keys().cloned().collect::<Vec<_>>(), vec![tp(), added]);
        assert_eq!(r.partitions[&TopicPartition::new("t", 1)].log.log_end_offset(), Offset(1));
        let t = TopicConfig::new("t", 1);
        assert_eq!([added_partition("t-3.log", &t), added_partition("t-0.log", &t), added_partition("tt-3.log", &t), added_partition("t-x.log", &t)], [Some(3), None, None, None]);
    }
}
