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
    pub topic: String,
    /// `None`: every partition of the topic.
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
    /// Which positions a commit carries.
    pub commit_style: CommitStyle,
}

/// What a group member's commits carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitStyle {
    /// Java's auto-commit inside `poll()`: the positions of records whose processing finished
    /// (records returned by the previous poll).
    #[default]
    Auto,
    /// The unsafe style (sarama's `MarkMessage` before handling the message): offsets are marked
    /// as soon as records are delivered, and the background auto-commit commits them, processed
    /// or not (reference D-13).
    MarkBeforeProcess,
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
    /// `max.poll.interval.ms` (300000), sent as the rebalance timeout.
    pub rebalance_timeout_ms: u64,
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
    /// The application finished processing the records of the last poll.
    ProcessingDone,
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
    ListOffsets(NodeId),
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
    /// Metadata must be refreshed at the next poll.
    metadata_wanted: bool,
    /// The topic's partition count, from metadata.
    pub(crate) partition_count: Option<i32>,
    /// Group membership, when the consumer is in a group.
    pub membership: Option<super::consumer_group::Membership>,
    /// Per partition, the offset after the last processed record.
    pub processed: BTreeMap<TopicPartition, Offset>,
    /// Records of the last poll being processed: (partition, offset after them, count).
    in_processing: Vec<(TopicPartition, Offset, usize)>,
}

type CCtx<'a> = Ctx<'a, KafkaNode>;

impl Consumer {
    pub fn new(config: ConsumerConfig) -> Self {
        Consumer {
            known_brokers: config.bootstrap.clone(),
            config,
            leaders: BTreeMap::new(),
            next_bootstrap: 0,
            positions: BTreeMap::new(),
            pending: BTreeMap::new(),
            next_correlation: 0,
            metadata_wanted: false,
            partition_count: None,
            membership: None,
            processed: BTreeMap::new(),
            in_processing: Vec::new(),
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
        let topic = self.config.topic.clone();
        ctx.explain(|| format!("consumer starts: assign() on {topic}; first it asks for metadata"));
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
        }
    }

    pub fn on_disconnect(&mut self, ctx: &mut CCtx<'_>, peer: NodeId) {
        let lost: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| matches!(p, Pending::Fetch(n) | Pending::ListOffsets(n) | Pending::Metadata(n) | Pending::Group(n, _) if *n == peer))
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
        if let Pending::ListOffsets(node) = pending {
            for (tp, pos) in self.positions.iter_mut() {
                if let Position::LookingUp(spec, why) = *pos {
                    if self.leaders.get(tp).map(|(n, _)| *n) == Some(node) {
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

    fn request_metadata(&mut self, ctx: &mut CCtx<'_>) {
        if self.pending.values().any(|p| matches!(p, Pending::Metadata(_))) || self.known_brokers.is_empty() {
            return;
        }
        self.metadata_wanted = false;
        let node = self.known_brokers[self.next_bootstrap % self.known_brokers.len()];
        self.next_bootstrap += 1;
        let topics = vec![self.config.topic.clone()];
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
        let Some(topic) = resp.topics.iter().find(|t| t.name == self.config.topic && t.error_code == ErrorCode::None) else {
            self.metadata_wanted = true;
            return self.backoff(ctx);
        };
        self.leaders.clear();
        self.partition_count = Some(topic.partitions.len() as i32);
        let in_group = self.config.group.is_some();
        for p in &topic.partitions {
            let tp = TopicPartition::new(topic.name.clone(), p.partition);
            let assigned = self.config.partitions.as_ref().is_none_or(|ps| ps.contains(&p.partition));
            if !assigned {
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
        if in_group && self.membership.is_none() {
            self.start_membership(ctx);
        }
        self.poll(ctx);
    }

    /// Sends a ListOffsets for every partition that needs one and a fetch to every leader that has
    /// no fetch in flight.
    pub(crate) fn poll_now(&mut self, ctx: &mut CCtx<'_>) {
        self.poll(ctx);
    }

    fn poll(&mut self, ctx: &mut CCtx<'_>) {
        if !self.in_processing.is_empty() {
            return; // the application is still processing the last poll's records
        }
        if self.metadata_wanted {
            self.request_metadata(ctx);
        }
        let busy: Vec<NodeId> = self
            .pending
            .values()
            .filter_map(|p| match p {
                Pending::Fetch(n) | Pending::ListOffsets(n) => Some(*n),
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
                    current_leader_epoch: Some(epoch),
                    last_fetched_epoch: None,
                }),
                Position::LookingUp(..) | Position::Stopped | Position::FetchingCommitted => {}
            }
        }
        for (node, partitions) in lookups {
            self.request(ctx, node, Pending::ListOffsets(node), |c| {
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
            self.request(ctx, node, Pending::Fetch(node), |c| {
                Msg::FetchRequest(FetchRequest {
                    correlation_id: c,
                    replica_id: None,
                    max_wait_ms: wait,
                    min_bytes: min,
                    max_bytes: max,
                    partitions,
                })
            });
        }
    }

    fn on_list_offsets(&mut self, ctx: &mut CCtx<'_>, resp: ListOffsetsResponse) {
        if !matches!(self.pending.remove(&resp.correlation_id), Some(Pending::ListOffsets(_))) {
            return;
        }
        ctx.cancel_timer(NodeTimer::Consumer(ConsumerTimer::RequestTimeout(resp.correlation_id)));
        for p in resp.partitions {
            let Some(pos) = self.positions.get_mut(&p.partition) else { continue };
            let Position::LookingUp(spec, reason) = *pos else { continue };
            if p.error_code == ErrorCode::None {
                *pos = Position::At(p.offset);
                self.processed.insert(p.partition.clone(), p.offset);
                let (tp, o) = (p.partition.clone(), p.offset);
                ctx.explain(|| format!("{tp}: position set to {o} ({spec:?}, {reason:?})"));
                ctx.observe(Observation::PositionSet { partition: p.partition, offset: p.offset, reason });
            } else {
                *pos = Position::Lookup(spec, reason);
            }
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
        if self.in_processing.is_empty() {
            if !trouble {
                self.poll(ctx);
            }
        } else {
            self.start_processing(ctx);
        }
    }

    /// Hands the fetched records at or after the position to the application.
    fn deliver(&mut self, ctx: &mut CCtx<'_>, tp: &TopicPartition, position: Offset, data: FetchPartitionData) {
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
        ctx.explain(|| format!("{tp}: poll returned {n} records {position}..{last} (high watermark {hw})"));
        ctx.observe(Observation::Polled { partition: tp.clone(), records, high_watermark: hw });
        self.positions.insert(tp.clone(), Position::At(last.next()));
        self.in_processing.push((tp.clone(), last.next(), n));
    }

    /// After a poll's records were handed over: processing takes `processing_per_record` each;
    /// the next poll waits for it.
    fn start_processing(&mut self, ctx: &mut CCtx<'_>) {
        let n: usize = self.in_processing.iter().map(|(_, _, n)| n).sum();
        if n == 0 {
            return;
        }
        let cost = self.config.processing_per_record.as_micros();
        if cost == 0 {
            return self.processing_done(ctx);
        }
        ctx.set_timer(NodeTimer::Consumer(ConsumerTimer::ProcessingDone), SimDuration::from_micros(cost * n as u64));
    }

    pub(crate) fn processing_done(&mut self, ctx: &mut CCtx<'_>) {
        for (tp, through, _) in std::mem::take(&mut self.in_processing) {
            let e = self.processed.entry(tp.clone()).or_insert(through);
            *e = (*e).max(through);
            ctx.observe(Observation::Processed { partition: tp, through });
        }
        self.poll(ctx);
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
