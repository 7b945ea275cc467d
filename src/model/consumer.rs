//! The standalone consumer: `assign()`ed partitions, no group. It learns the leaders from
//! metadata, sets its starting position (earliest, latest or an explicit offset, looked up with
//! ListOffsets), and fetches from each leader in a loop. A fetch answered with
//! OFFSET_OUT_OF_RANGE resets the position as `auto.offset.reset` says (`none` stops the
//! partition, as Kafka's `NoOffsetForPartitionException` would).
//!
//! Every record a fetch returns is handed to the application at once: the history records it as
//! a poll.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::SimTime;
use super::actor::Ctx;
use super::ids::{LeaderEpoch, NodeId, Offset, TopicPartition};
use super::node::{KafkaNode, NodeTimer};
use super::observe::{Observation, PositionReason};
use super::protocol::*;
use super::time::SimDuration;

/// Where a consumer starts reading a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartPosition {
    Earliest,
    Latest,
    Offset(i64),
}

/// `auto.offset.reset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetReset {
    Earliest,
    Latest,
    None,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConsumerConfig {
    pub name: String,
    pub bootstrap: Vec<NodeId>,
    /// The topics it subscribes to (a group member) or reads (`assign()`), at start.
    pub topics: Vec<String>,
    /// `None`: every partition of the topics.
    pub partitions: Option<Vec<i32>>,
    pub start: StartPosition,
    pub auto_offset_reset: OffsetReset,
    pub fetch_max_wait_ms: u64,
    pub fetch_min_bytes: u64,
    pub fetch_max_bytes: u64,
    pub request_timeout_ms: u64,
    pub retry_backoff_ms: u64,
    /// `Some`: subscribe as a member of a consumer group instead of `assign()`.
    pub group: Option<GroupSettings>,
    /// How long the application takes per record. The next poll waits for it (Java's poll loop).
    pub processing_per_record: SimDuration,
    /// What commits carry, and when.
    pub commit_style: CommitStyle,
    /// Whose behaviour the consumer follows.
    pub client: Client,
    /// `client.rack` (KIP-392): sent with every fetch (Fetch v11+), which lets a follower answer
    /// it. The consumer fetches from the replica its metadata names leader; a follower serves it
    /// only when that metadata is stale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_rack: Option<String>,
    /// Without KIP-320 (the `KIP-320` bug switch): fetches carry no `current_leader_epoch`, so a
    /// broker cannot tell the consumer that its metadata is stale.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub without_kip_320: bool,
    /// `metadata.max.age.ms` (300000).
    pub metadata_max_age_ms: u64,
}

/// Which client library the consumer (or producer) behaves like: its defaults and, for a group
/// member, how it handles a rebalance (reference A.9, A.10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Client {
    /// The Java client: a single-threaded poll loop. A rebalance, a revocation or a fencing is
    /// acted on at the next `poll()`, after the application finished the last poll's records;
    /// `max.poll.interval.ms` is enforced (the member leaves the group when processing overruns).
    #[default]
    Java,
    /// sarama: one session per generation. A rebalance ends the session: the handler finishes the
    /// message in hand and returns, marked offsets are flushed, then the member rejoins. Commits
    /// carry marked offsets only, and a rejected commit stays dirty and is retried.
    Sarama,
}

/// What a group member commits, and when (reference A.8, D-13).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitStyle {
    /// Java's auto-commit inside `poll()` (`enable.auto.commit`): every `auto.commit.interval.ms`,
    /// before a rebalance and on close, the positions of records returned by earlier polls, which
    /// the poll loop has processed.
    #[default]
    Auto,
    /// `commitSync()` of the processed positions after each poll's records (and in
    /// `onPartitionsRevoked`); the next poll waits for the answer.
    Sync,
    /// `commitAsync()` after each poll's records; the loop does not wait.
    Async,
    /// `commitSync()` of each record's offset + 1 right after processing it.
    PerMessage,
    /// sarama's `MarkMessage` after processing each message; the offset manager commits the
    /// marked offsets every `auto.commit.interval.ms` and when the session ends.
    Mark,
    /// The unsafe style: offsets are marked as soon as records are delivered, before they are
    /// processed, and committed by the background auto-commit, processed or not (D-13).
    MarkBeforeProcess,
}

impl CommitStyle {
    /// Whether commits carry the marked offsets (sarama's offset manager) rather than the
    /// processed positions.
    pub fn commits_marks(self) -> bool {
        matches!(self, CommitStyle::Mark | CommitStyle::MarkBeforeProcess)
    }

    /// Whether a timer commits in the background (`enable.auto.commit`, sarama's AutoCommit).
    pub fn on_timer(self) -> bool {
        matches!(self, CommitStyle::Auto | CommitStyle::Mark | CommitStyle::MarkBeforeProcess)
    }
}

/// A group member's settings (Kafka's names in the comments).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupSettings {
    /// `group.id`
    pub group_id: String,
    /// `partition.assignment.strategy`, in preference order.
    pub assignors: Vec<String>,
    /// `session.timeout.ms` (45000)
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms` (3000)
    pub heartbeat_interval_ms: u64,
    /// The JoinGroup rebalance timeout: Java sends `max.poll.interval.ms` (300000); sarama
    /// `Consumer.Group.Rebalance.Timeout` (60 s).
    pub rebalance_timeout_ms: u64,
    /// `max.poll.interval.ms`, enforced by the Java client; `None` for sarama, which has none.
    pub max_poll_interval_ms: Option<u64>,
    /// Bugs of the group leader's assignor (the `[bugs]` switches).
    pub assignor_bugs: super::assignor::AssignorBugs,
    /// Bug switch `reset-on-load-in-progress`: an OffsetFetch answered
    /// COORDINATOR_LOAD_IN_PROGRESS counts as "no committed offset".
    pub reset_on_load_in_progress: bool,
    /// `enable.auto.commit` (true)
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (5000)
    pub auto_commit_interval_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ConsumerTimer {
    /// Send the fetches and lookups that are due (after a backoff).
    Poll,
    RequestTimeout(u64),
    /// `heartbeat.interval.ms`
    Heartbeat,
    /// `auto.commit.interval.ms`
    AutoCommit,
    /// Find the coordinator or join again after a backoff.
    Rejoin,
    /// The application finished processing the record at the head of its queue.
    ProcessingDone,
    /// `max.poll.interval.ms` passed since the last `poll()`.
    PollTimeout,
}

/// The consumer's knowledge of one assigned partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Position {
    /// Needs a ListOffsets lookup for this spec (at start, or to reset).
    Lookup(OffsetSpec, PositionReason),
    /// A ListOffsets request is in flight.
    LookingUp(OffsetSpec, PositionReason),
    At(Offset),
    /// `auto.offset.reset=none` and the position was out of range: the partition stopped.
    Stopped,
    /// A group member is asking the coordinator for the committed offset (OffsetFetch).
    FetchingCommitted,
}

#[derive(Clone, Debug)]
pub(crate) enum Pending {
    Metadata(NodeId),
    /// A ListOffsets request to a node, for these partitions.
    ListOffsets(NodeId, Vec<TopicPartition>),
    Fetch(NodeId),
    /// A group request to the coordinator (or, for FindCoordinator, a broker).
    Group(NodeId, GroupRequest),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GroupRequest {
    FindCoordinator,
    Join,
    Sync,
    Heartbeat,
    Commit,
    OffsetFetch,
    Leave,
}

#[derive(Clone, Debug)]
pub struct Consumer {
    pub config: ConsumerConfig,
    /// Each partition's leader node and leader epoch, from the last metadata.
    pub(crate) leaders: BTreeMap<TopicPartition, (NodeId, LeaderEpoch)>,
    pub(crate) known_brokers: Vec<NodeId>,
    next_bootstrap: usize,
    pub positions: BTreeMap<TopicPartition, Position>,
    pub(crate) pending: BTreeMap<u64, Pending>,
    next_correlation: u64,
    /// When the last OffsetFetch was sent (what its answer can know of commits).
    pub(crate) offset_fetch_asked_at: SimTime,
    /// Metadata must be refreshed at the next poll.
    pub(crate) metadata_wanted: bool,
    /// Each known topic's partition count, from the last metadata.
    pub partition_counts: BTreeMap<String, i32>,
    /// The topics subscribed to now (`subscribe()` can change them).
    pub subscription: Vec<String>,
    /// Topics other members of the group subscribe to, which the group leader watches too.
    pub(crate) group_topics: Vec<String>,
    /// When the last metadata answer arrived (`metadata.max.age.ms` counts from there).
    metadata_at: SimTime,
    /// Group membership, when the consumer is in a group.
    pub membership: Option<super::consumer_group::Membership>,
    /// Per partition, the offset after the last processed record.
    pub processed: BTreeMap<TopicPartition, Offset>,
    /// Records the last poll returned that the application has not processed yet, in order.
    pub(crate) queue: std::collections::VecDeque<(TopicPartition, Offset)>,
    /// Whether the record at the head of `queue` is being processed (a timer is running).
    pub(crate) processing: bool,
    /// Offsets the application marked (sarama's `MarkMessage`; mark-before-process).
    pub marked: BTreeMap<TopicPartition, Offset>,
    /// A `commitSync()` the application is blocked on: its correlation id.
    pub(crate) awaiting_commit: Option<u64>,
}

type CCtx<'a> = Ctx<'a, KafkaNode>;

impl Consumer {
    pub fn new(config: ConsumerConfig) -> Self {
        Consumer {
            known_brokers: config.bootstrap.clone(),
            subscription: config.topics.clone(),
            config,
            leaders: BTreeMap::new(),
            next_bootstrap: 0,
            positions: BTreeMap::new(),
            pending: BTreeMap::new(),
            next_correlation: 0,
            offset_fetch_asked_at: SimTime::ZERO,
            metadata_wanted: false,
            partition_counts: BTreeMap::new(),
            group_topics: Vec::new(),
            metadata_at: SimTime::ZERO,
            membership: None,
            processed: BTreeMap::new(),
            queue: Default::default(),
            processing: false,
            marked: BTreeMap::new(),
            awaiting_commit: None,
        }
    }

    /// The position of each assigned partition that has one.
    pub fn position(&self, tp: &TopicPartition) -> Option<Offset> {
        match self.positions.get(tp) {
            Some(Position::At(o)) => Some(*o),
            _ => None,
        }
    }

    /// Whether this consumer has read everything below each partition's high watermark, as
    /// `high_watermark` reports it; a group member must also hold a current assignment.
    pub fn caught_up(&self, high_watermark: impl Fn(&TopicPartition) -> Option<Offset>) -> bool {
        let positions_done = self.positions.keys().all(|tp| high_watermark(tp).is_some_and(|hw| self.position(tp).is_some_and(|p| p >= hw)));
        match &self.membership {
            Some(m) => m.is_stable() && positions_done,
            None => !self.positions.is_empty() && positions_done,
        }
    }

    pub fn on_shutdown(&mut self, ctx: &mut CCtx<'_>) {
        self.leave_group(ctx);
    }

    pub fn on_start(&mut self, ctx: &mut CCtx<'_>) {
        let topic = self.subscription.join(", ");
        let how = if self.config.group.is_some() { "subscribe()" } else { "assign()" };
        ctx.explain(|| format!("consumer starts: {how} on {topic}; first it asks for metadata"));
        self.request_metadata(ctx);
    }

    pub fn on_message(&mut self, ctx: &mut CCtx<'_>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::MetadataResponse(r) => self.on_metadata(ctx, r),
            Msg::ListOffsetsResponse(r) => self.on_list_offsets(ctx, r),
            Msg::FetchResponse(r) => self.on_fetch_response(ctx, r),
            other => self.on_group_response(ctx, other),
        }
    }

    pub fn on_timer(&mut self, ctx: &mut CCtx<'_>, timer: ConsumerTimer) {
        match timer {
            ConsumerTimer::Poll => self.poll(ctx),
            ConsumerTimer::RequestTimeout(corr) => {
                if let Some(p) = self.pending.remove(&corr) {
                    ctx.mark("consumer.request_timeout");
                    self.forget(ctx, corr, p);
                    self.metadata_wanted = true;
                    self.poll(ctx);
                }
            }
            ConsumerTimer::Heartbeat => self.heartbeat(ctx),
            ConsumerTimer::AutoCommit => self.auto_commit(ctx),
            ConsumerTimer::Rejoin => self.rejoin(ctx),
            ConsumerTimer::ProcessingDone => self.processing_done(ctx),
            ConsumerTimer::PollTimeout => self.poll_timeout(ctx),
        }
    }

    pub fn on_disconnect(&mut self, ctx: &mut CCtx<'_>, peer: NodeId) {
        let lost: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| matches!(p, Pending::Fetch(n) | Pending::ListOffsets(n, _) | Pending::Metadata(n) | Pending::Group(n, _) if *n == peer))
            .map(|(c, _)| *c)
            .collect();
        for corr in lost {
            let p = self.pending.remove(&corr).expect("listed");
            ctx.cancel_timer(NodeTimer::Consumer(ConsumerTimer::RequestTimeout(corr)));
            self.forget(ctx, corr, p);
        }
        ctx.explain(|| format!("connection to {peer} broke: metadata and fetches again after retry.backoff.ms"));
        self.metadata_wanted = true;
        self.backoff(ctx);
    }

    /// Undoes the bookkeeping of a request that will get no answer.
    fn forget(&mut self, ctx: &mut CCtx<'_>, corr: u64, pending: Pending) {
        if let Pending::Group(_, kind) = pending {
            return self.group_request_lost(ctx, corr, kind);
        }
        if let Pending::ListOffsets(_, partitions) = pending {
            // The partitions it asked about, whoever leads them now (metadata may have moved
            // them while the request was in flight).
            for tp in &partitions {
                if let Some(pos) = self.positions.get_mut(tp) {
                    if let Position::LookingUp(spec, why) = *pos {
                        *pos = Position::Lookup(spec, why);
                    }
                }
            }
        }
    }

    fn backoff(&mut self, ctx: &mut CCtx<'_>) {
        ctx.set_timer(NodeTimer::Consumer(ConsumerTimer::Poll), SimDuration::from_millis(self.config.retry_backoff_ms));
    }

    pub(crate) fn backoff_timer(&self) -> SimDuration {
        SimDuration::from_millis(self.config.retry_backoff_ms)
    }

    pub(crate) fn request(&mut self, ctx: &mut CCtx<'_>, node: NodeId, pending: Pending, msg: impl FnOnce(u64) -> Msg) {
        // A JoinGroup is parked for up to the rebalance timeout: Java waits that long plus 5 s.
        let timeout_ms = match (&pending, &self.config.group) {
            (Pending::Group(_, GroupRequest::Join), Some(g)) => self.config.request_timeout_ms.max(g.rebalance_timeout_ms + 5_000),
            _ => self.config.request_timeout_ms,
        };
        self.next_correlation += 1;
        let corr = self.next_correlation;
        self.pending.insert(corr, pending);
        ctx.send(node, msg(corr));
        ctx.set_timer(NodeTimer::Consumer(ConsumerTimer::RequestTimeout(corr)), SimDuration::from_millis(timeout_ms));
    }

    /// A broker to ask for metadata or the coordinator, rotating through the known ones.
    pub(crate) fn any_broker(&mut self) -> Option<NodeId> {
        if self.known_brokers.is_empty() {
            return None;
        }
        let node = self.known_brokers[self.next_bootstrap % self.known_brokers.len()];
        self.next_bootstrap += 1;
        Some(node)
    }

    pub(crate) fn request_metadata(&mut self, ctx: &mut CCtx<'_>) {
        if self.pending.values().any(|p| matches!(p, Pending::Metadata(_))) || self.known_brokers.is_empty() {
            return;
        }
        self.metadata_wanted = false;
        let node = self.known_brokers[self.next_bootstrap % self.known_brokers.len()];
        self.next_bootstrap += 1;
        let topics = self.metadata_topics();
        self.request(ctx, node, Pending::Metadata(node), |c| Msg::MetadataRequest(MetadataRequest { correlation_id: c, topics }));
    }

    fn on_metadata(&mut self, ctx: &mut CCtx<'_>, resp: MetadataResponse) {
        if !matches!(self.pending.remove(&resp.correlation_id), Some(Pending::Metadata(_))) {
            return;
        }
        ctx.cancel_timer(NodeTimer::Consumer(ConsumerTimer::RequestTimeout(resp.correlation_id)));
        if !resp.brokers.is_empty() {
            self.known_brokers = resp.brokers.iter().map(|(_, n)| *n).collect();
        }
        let known = |name: &String| resp.topics.iter().any(|t| t.name == *name && t.error_code == ErrorCode::None);
        if !self.subscription.iter().all(known) {
            self.metadata_wanted = true;
            return self.backoff(ctx);
        }
        self.leaders.clear();
        self.metadata_at = ctx.now();
        for topic in resp.topics.iter().filter(|t| t.error_code == ErrorCode::None) {
            self.partition_counts.insert(topic.name.clone(), topic.partitions.len() as i32);
        }
        // A member's partitions come from its group; a standalone consumer with a group id
        // starts its assigned partitions from the group's committed offsets.
        let in_group = self.config.group.is_some() && self.config.partitions.is_none();
        let standalone = self.config.group.is_some() && self.config.partitions.is_some();
        for (topic, p) in resp.topics.iter().filter(|t| t.error_code == ErrorCode::None).flat_map(|t| t.partitions.iter().map(move |p| (t, p))) {
            let tp = TopicPartition::new(topic.name.clone(), p.partition);
            let assigned = self.config.partitions.as_ref().is_none_or(|ps| ps.contains(&p.partition));
            if !assigned || !(in_group || self.subscription.contains(&topic.name)) {
                continue;
            }
            if in_group {
                // A member's positions come from its assignment, not from the metadata.
                if let Some(node) = p.leader.and_then(|b| resp.brokers.iter().find(|(id, _)| *id == b).map(|(_, n)| *n)) {
                    self.leaders.insert(tp, (node, p.leader_epoch));
                }
                continue;
            }
            if let Some(node) = p.leader.and_then(|b| resp.brokers.iter().find(|(id, _)| *id == b).map(|(_, n)| *n)) {
                self.leaders.insert(tp.clone(), (node, p.leader_epoch));
            }
            if !self.positions.contains_key(&tp) {
                let pos = match self.config.start {
                    _ if standalone => Position::FetchingCommitted,
                    StartPosition::Earliest => Position::Lookup(OffsetSpec::Earliest, PositionReason::Start),
                    StartPosition::Latest => Position::Lookup(OffsetSpec::Latest, PositionReason::Start),
                    StartPosition::Offset(o) => {
                        ctx.observe(Observation::PositionSet { partition: tp.clone(), offset: Offset(o), reason: PositionReason::Start });
                        Position::At(Offset(o))
                    }
                };
                self.positions.insert(tp, pos);
            }
        }
        if self.positions.keys().any(|tp| !self.leaders.contains_key(tp)) {
            self.metadata_wanted = true;
            return self.backoff(ctx);
        }
        if (in_group || standalone) && self.membership.is_none() {
            self.start_membership(ctx, standalone);
        }
        if in_group && self.membership.is_some() {
            self.metadata_updated(ctx);
        }
        self.poll(ctx);
    }

    /// Sends a ListOffsets for every partition that needs one and a fetch to every leader that has
    /// no fetch in flight.
    /// The application is busy with the last poll's records (or blocked on a commit).
    pub(crate) fn busy(&self) -> bool {
        !self.queue.is_empty() || self.processing || self.awaiting_commit.is_some()
    }

    pub(crate) fn poll(&mut self, ctx: &mut CCtx<'_>) {
        if self.busy() {
            return; // the application is still processing the last poll's records
        }
        if self.membership.is_some() {
            // `poll()` is where a group member acts on rebalances, and it resets the poll timer.
            if self.poll_in_group(ctx) {
                return;
            }
        }
        let age = ctx.now().saturating_since(self.metadata_at);
        let asking = self.pending.values().any(|p| matches!(p, Pending::Metadata(_)));
        if !self.partition_counts.is_empty() && age >= SimDuration::from_millis(self.config.metadata_max_age_ms) && !self.metadata_wanted && !asking {
            let ms = self.config.metadata_max_age_ms;
            ctx.explain(|| format!("the metadata is older than metadata.max.age.ms ({ms} ms): asks for it again"));
            self.metadata_wanted = true;
        }
        if self.metadata_wanted {
            self.request_metadata(ctx);
        }
        let busy: Vec<NodeId> = self
            .pending
            .values()
            .filter_map(|p| match p {
                Pending::Fetch(n) | Pending::ListOffsets(n, _) => Some(*n),
                Pending::Metadata(_) | Pending::Group(..) => None,
            })
            .collect();
        let mut lookups: BTreeMap<NodeId, Vec<(TopicPartition, OffsetSpec)>> = BTreeMap::new();
        let mut fetches: BTreeMap<NodeId, Vec<FetchPartition>> = BTreeMap::new();
        let mut leader_unknown = false;
        for (tp, pos) in self.positions.iter_mut() {
            let Some(&(node, epoch)) = self.leaders.get(tp) else {
                leader_unknown = true;
                continue;
            };
            if busy.contains(&node) {
                continue;
            }
            match *pos {
                Position::Lookup(spec, why) => {
                    lookups.entry(node).or_default().push((tp.clone(), spec));
                    *pos = Position::LookingUp(spec, why);
                }
                Position::At(offset) => fetches.entry(node).or_default().push(FetchPartition {
                    partition: tp.clone(),
                    fetch_offset: offset,
                    current_leader_epoch: (!self.config.without_kip_320).then_some(epoch),
                    last_fetched_epoch: None,
                }),
                Position::LookingUp(..) | Position::Stopped | Position::FetchingCommitted => {}
            }
        }
        for (node, partitions) in lookups {
            let asked = partitions.iter().map(|(tp, _)| tp.clone()).collect();
            self.request(ctx, node, Pending::ListOffsets(node, asked), |c| {
                Msg::ListOffsetsRequest(ListOffsetsRequest { correlation_id: c, partitions })
            });
        }
        if leader_unknown {
            // A partition whose leader the last metadata did not name: ask again after a backoff.
            self.metadata_wanted = true;
            ctx.set_timer(NodeTimer::Consumer(ConsumerTimer::Poll), SimDuration::from_millis(self.config.retry_backoff_ms));
        }
        let (wait, min, max) = (self.config.fetch_max_wait_ms, self.config.fetch_min_bytes, self.config.fetch_max_bytes);
        for (node, partitions) in fetches {
            let rack_id = self.config.client_rack.clone();
            self.request(ctx, node, Pending::Fetch(node), |c| {
                Msg::FetchRequest(FetchRequest {
                    correlation_id: c,
                    replica_id: None,
                    max_wait_ms: wait,
                    min_bytes: min,
                    max_bytes: max,
                    partitions,
                    rack_id,
                })
            });
        }
    }

    fn on_list_offsets(&mut self, ctx: &mut CCtx<'_>, resp: ListOffsetsResponse) {
        if !matches!(self.pending.remove(&resp.correlation_id), Some(Pending::ListOffsets(..))) {
            return;
        }
        ctx.cancel_timer(NodeTimer::Consumer(ConsumerTimer::RequestTimeout(resp.correlation_id)));
        let mut trouble = false;
        for p in resp.partitions {
            let Some(pos) = self.positions.get_mut(&p.partition) else { continue };
            let Position::LookingUp(spec, reason) = *pos else { continue };
            if p.error_code == ErrorCode::None {
                *pos = Position::At(p.offset);
                self.processed.insert(p.partition.clone(), p.offset);
                let (tp, o) = (p.partition.clone(), p.offset);
                ctx.explain(|| format!("{tp}: position set to {o}, the {} offset ({})", format!("{spec:?}").to_lowercase(), format!("{reason:?}").to_lowercase()));
                ctx.observe(Observation::PositionSet { partition: p.partition, offset: p.offset, reason });
            } else {
                // NOT_LEADER_OR_FOLLOWER and the like: the leader moved. Refresh the metadata
                // and try again after retry.backoff.ms (Java's OffsetFetcher does the same).
                *pos = Position::Lookup(spec, reason);
                trouble = true;
                let (tp, e) = (p.partition.clone(), p.error_code);
                ctx.mark("consumer.list_offsets_error");
                ctx.explain(|| format!("{tp}: ListOffsets failed with {e}: metadata again, then retry"));
            }
        }
        if trouble {
            self.metadata_wanted = true;
            return self.backoff(ctx);
        }
        self.poll(ctx);
    }

    fn on_fetch_response(&mut self, ctx: &mut CCtx<'_>, resp: FetchResponse) {
        if !matches!(self.pending.remove(&resp.correlation_id), Some(Pending::Fetch(_))) {
            return;
        }
        ctx.cancel_timer(NodeTimer::Consumer(ConsumerTimer::RequestTimeout(resp.correlation_id)));
        let mut trouble = false;
        for data in resp.partitions {
            let tp = data.partition.clone();
            let Some(Position::At(position)) = self.positions.get(&tp).copied() else { continue };
            match data.error_code {
                ErrorCode::None => self.deliver(ctx, &tp, position, data),
                ErrorCode::OffsetOutOfRange => self.reset(ctx, &tp, position),
                other => {
                    trouble = true;
                    ctx.mark("consumer.fetch_error");
                    ctx.explain(|| format!("{tp}: fetch failed with {other}"));
                }
            }
        }
        if trouble {
            self.metadata_wanted = true;
            self.backoff(ctx);
        }
        if !self.queue.is_empty() {
            self.start_processing(ctx);
        } else if !trouble {
            self.poll(ctx);
        }
    }

    /// Hands the fetched records at or after the position to the application.
    fn deliver(&mut self, ctx: &mut CCtx<'_>, tp: &TopicPartition, position: Offset, data: FetchPartitionData) {
        if self.membership.as_ref().is_some_and(|m| m.committed_for_rejoin) {
            // Inside onJoinPrepare: the fetch buffer is not handed over; it is fetched again.
            return;
        }
        let records: Vec<(Offset, super::ids::RecordId)> = data
            .records
            .iter()
            .flat_map(|b| b.offsets())
            .filter(|(o, _)| *o >= position)
            .map(|(o, r)| (o, r.id))
            .collect();
        let Some(&(last, _)) = records.last() else { return };
        let n = records.len();
        let hw = data.high_watermark;
        ctx.explain(|| format!("{tp}: poll returned {n} record(s), offsets {position}..{last} (high watermark {hw})"));
        ctx.observe(Observation::Polled { partition: tp.clone(), records: records.clone(), high_watermark: hw });
        self.positions.insert(tp.clone(), Position::At(last.next()));
        if self.config.commit_style == CommitStyle::MarkBeforeProcess {
            self.mark(tp, last.next());
        }
        self.queue.extend(records.into_iter().map(|(o, _)| (tp.clone(), o)));
    }

    /// Marks `offset` for the next commit; a mark only moves forward (sarama's `MarkOffset`).
    fn mark(&mut self, tp: &TopicPartition, offset: Offset) {
        let e = self.marked.entry(tp.clone()).or_insert(offset);
        *e = (*e).max(offset);
    }

    /// After a poll handed records over, the application processes them one by one, each taking
    /// `processing_per_record`; the next poll waits for them.
    fn start_processing(&mut self, ctx: &mut CCtx<'_>) {
        if let Some(ms) = self.config.group.as_ref().and_then(|g| g.max_poll_interval_ms) {
            ctx.set_timer(NodeTimer::Consumer(ConsumerTimer::PollTimeout), SimDuration::from_millis(ms));
        }
        self.process_next(ctx);
    }

    /// Processes what is due: the next record (after its processing time), or, when processing
    /// takes no time, every record of the head partition at once.
    pub(crate) fn process_next(&mut self, ctx: &mut CCtx<'_>) {
        loop {
            if self.processing || self.awaiting_commit.is_some() {
                return;
            }
            let Some((tp, from)) = self.queue.front().cloned() else {
                return self.batch_done(ctx);
            };
            let cost = self.config.processing_per_record;
            if cost > SimDuration::ZERO {
                self.processing = true;
                ctx.set_timer(NodeTimer::Consumer(ConsumerTimer::ProcessingDone), cost);
                return;
            }
            let mut through = from.next();
            self.queue.pop_front();
            if self.config.commit_style != CommitStyle::PerMessage {
                while self.queue.front().is_some_and(|(t, o)| *t == tp && *o == through) {
                    self.queue.pop_front();
                    through = through.next();
                }
            }
            self.record_processed(ctx, &tp, from, through);
        }
    }

    pub(crate) fn processing_done(&mut self, ctx: &mut CCtx<'_>) {
        if !self.processing {
            return;
        }
        self.processing = false;
        if let Some((tp, o)) = self.queue.pop_front() {
            self.record_processed(ctx, &tp, o, o.next());
        }
        self.process_next(ctx);
    }

    /// The application finished the records `from..through` of `tp`.
    fn record_processed(&mut self, ctx: &mut CCtx<'_>, tp: &TopicPartition, from: Offset, through: Offset) {
        // A partition given up meanwhile (a zombie finishing its batch) has no position to
        // commit: Java commits only the positions of assigned partitions.
        if self.positions.contains_key(tp) {
            let e = self.processed.entry(tp.clone()).or_insert(through);
            *e = (*e).max(through);
        }
        ctx.observe(Observation::Processed { partition: tp.clone(), from, through });
        match self.config.commit_style {
            CommitStyle::Mark => self.mark(tp, through),
            CommitStyle::PerMessage => self.commit_now(ctx, vec![(tp.clone(), through)], true),
            _ => {}
        }
    }

    /// Every record of the last poll is processed: commit as the style says, then poll again.
    fn batch_done(&mut self, ctx: &mut CCtx<'_>) {
        match self.config.commit_style {
            CommitStyle::Sync => self.commit_processed(ctx, true),
            CommitStyle::Async => self.commit_processed(ctx, false),
            _ => {}
        }
        if self.awaiting_commit.is_none() {
            self.poll(ctx);
        }
    }

    /// A new position from outside the poll loop (start, committed offset, reset): processing
    /// restarts from there.
    pub(crate) fn set_processed(&mut self, tp: &TopicPartition, offset: Offset) {
        self.processed.insert(tp.clone(), offset);
    }

    fn reset(&mut self, ctx: &mut CCtx<'_>, tp: &TopicPartition, position: Offset) {
        ctx.mark("consumer.offset_out_of_range");
        let policy = self.config.auto_offset_reset;
        let next = match policy {
            OffsetReset::Earliest => Position::Lookup(OffsetSpec::Earliest, PositionReason::Reset),
            OffsetReset::Latest => Position::Lookup(OffsetSpec::Latest, PositionReason::Reset),
            OffsetReset::None => Position::Stopped,
        };
        ctx.explain(|| format!("{tp}: position {position} is out of range; auto.offset.reset={}", format!("{policy:?}").to_lowercase()));
        self.positions.insert(tp.clone(), next);
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::actor::Effect;
    use crate::model::group::protocol::OffsetFetchResponse;

    const COORDINATOR: NodeId = NodeId(1);

    /// A standalone consumer (`assign()` of t-0, offsets in group "audit") that has found its
    /// coordinator and is asking it for the committed offset.
    fn asking(reset_on_load_in_progress: bool) -> Consumer {
        let group = GroupSettings {
            group_id: "audit".into(),
            assignors: vec!["range".into()],
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 3_000,
            rebalance_timeout_ms: 300_000,
            max_poll_interval_ms: Some(300_000),
            assignor_bugs: Default::default(),
            reset_on_load_in_progress,
            enable_auto_commit: true,
            auto_commit_interval_ms: 1_000,
        };
        let config = ConsumerConfig {
            name: "c3".into(),
            bootstrap: vec![NodeId(0)],
            topics: vec!["t".into()],
            partitions: Some(vec![0]),
            start: StartPosition::Latest,
            auto_offset_reset: OffsetReset::Latest,
            fetch_max_wait_ms: 500,
            fetch_min_bytes: 1,
            fetch_max_bytes: 1 << 20,
            request_timeout_ms: 30_000,
            retry_backoff_ms: 100,
            metadata_max_age_ms: 300_000,
            group: Some(group),
            processing_per_record: SimDuration::ZERO,
            commit_style: CommitStyle::Auto,
            client: Client::Java,
            client_rack: None,
            without_kip_320: false,
        };
        let mut c = Consumer::new(config);
        step(|ctx| c.start_membership(ctx, true));
        let m = c.membership.as_mut().expect("a member");
        m.coordinator = Some(COORDINATOR);
        c.positions.insert(TopicPartition::new("t", 0), Position::FetchingCommitted);
        c.pending.insert(77, Pending::Group(COORDINATOR, GroupRequest::OffsetFetch));
        c
    }

    fn step(f: impl FnOnce(&mut CCtx<'_>)) -> Vec<Effect<KafkaNode>> {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut out = Vec::new();
        let mut ctx = Ctx::new(SimTime(1_000), NodeId(9), &mut rng, &mut out, None);
        f(&mut ctx);
        out
    }

    type CCtx<'a> = Ctx<'a, KafkaNode>;

    fn load_in_progress(c: &mut Consumer) -> Vec<Effect<KafkaNode>> {
        let resp = OffsetFetchResponse { correlation_id: 77, error_code: ErrorCode::CoordinatorLoadInProgress, offsets: vec![] };
        step(|ctx| c.on_message(ctx, COORDINATOR, Msg::OffsetFetchResponse(resp)))
    }

    fn no_offset_observed(fx: &[Effect<KafkaNode>]) -> bool {
        fx.iter().any(|e| matches!(e, Effect::Observe(Observation::NoCommittedOffset { .. })))
    }

    #[test]
    fn load_in_progress_is_retried() {
        let mut c = asking(false);
        let fx = load_in_progress(&mut c);
        assert_eq!(c.positions[&TopicPartition::new("t", 0)], Position::FetchingCommitted, "still waiting for the committed offset");
        assert!(!no_offset_observed(&fx));
        assert!(fx.iter().any(|e| matches!(e, Effect::SetTimer { timer: NodeTimer::Consumer(ConsumerTimer::Rejoin), .. })), "asks again after retry.backoff.ms");
    }

    #[test]
    fn the_switch_takes_load_in_progress_for_no_committed_offset() {
        let mut c = asking(true);
        let fx = load_in_progress(&mut c);
        assert!(no_offset_observed(&fx));
        assert!(fx.iter().any(|e| matches!(e, Effect::Mark("consumer.offset_fetch.load_in_progress_as_empty"))));
        let pos = &c.positions[&TopicPartition::new("t", 0)];
        assert!(matches!(pos, Position::Lookup(OffsetSpec::Latest, _) | Position::LookingUp(OffsetSpec::Latest, _)), "auto.offset.reset=latest: {pos:?}");
    }
}
