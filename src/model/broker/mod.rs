//! The broker: partition replicas and the Produce, Fetch, ListOffsets and Metadata APIs.
//!
//! Each partition this broker hosts has a [`PartitionLog`] mirrored to one disk file
//! (`<topic>-<partition>.log`, one batch per entry). Appends land in the page cache; an fsync is
//! issued only as `flush.messages`/`flush.ms` ask (Kafka's default is never: durability comes from
//! replication), and a crash loses whatever was not synced. With `flush.messages` reached, the
//! append is complete only once the fsync has finished, as in Kafka where the flush runs inside the
//! append, before the high watermark moves and the producer is answered.
//!
//! Produce requests that cannot be answered at once (waiting for a flush, or for the high watermark
//! under `acks=all`) are parked as delayed produces with their `timeout_ms`; fetches that find no
//! data are parked as delayed fetches for `max_wait_ms` (Kafka's purgatories).

pub mod log;

use std::collections::BTreeMap;

use serde::Serialize;

use super::actor::{Ctx, DiskDone, DiskImage};
use super::config::{ClusterLayout, TopicConfig};
use super::ids::{BrokerId, LeaderEpoch, NodeId, Offset, TopicPartition};
use super::node::{KafkaNode, NodeTimer};
use super::protocol::*;
pub use log::PartitionLog;

/// What a broker writes to disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LogEntry {
    Batch(RecordBatch),
}

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
}

/// One hosted partition replica.
#[derive(Clone, Debug, Serialize)]
pub struct Partition {
    #[serde(skip)]
    pub topic: TopicConfig,
    pub log: PartitionLog,
    pub leader_epoch: LeaderEpoch,
    pub is_leader: bool,
    /// Records appended since the last fsync was issued.
    pub unflushed_records: u64,
    /// When the oldest unflushed record was appended (for `flush.ms`).
    pub unflushed_since_us: Option<u64>,
    /// Batches known durable.
    pub synced_batches: usize,
    pub syncs_in_flight: u32,
    /// The end of what is appended *and* flushed where `flush.messages` demanded it.
    pub complete_offset: Offset,
}

impl Partition {
    fn file(tp: &TopicPartition) -> String {
        format!("{tp}.log")
    }
}

#[derive(Clone, Debug)]
struct PendingProduce {
    from: NodeId,
    correlation_id: u64,
    acks: Acks,
    /// Per partition: the response so far, and the offset that must be reached to answer it.
    parts: Vec<(PartitionProduceResponse, Option<Offset>)>,
}

#[derive(Clone, Debug)]
struct PendingFetch {
    from: NodeId,
    request: FetchRequest,
}

#[derive(Clone, Debug)]
pub struct Broker {
    pub config: BrokerConfig,
    pub partitions: BTreeMap<TopicPartition, Partition>,
    pending_produces: BTreeMap<u64, PendingProduce>,
    pending_fetches: BTreeMap<u64, PendingFetch>,
    next_pending: u64,
}

type BrokerCtx<'a> = Ctx<'a, KafkaNode>;

impl Broker {
    /// Rebuilds the broker from its disk: each hosted partition's log is recovered from the batches
    /// that survived, and (a single replica being its own ISR) its HW is its recovered LEO.
    pub fn recover(config: BrokerConfig, disk: &DiskImage<LogEntry>) -> Self {
        let mut partitions = BTreeMap::new();
        for topic in &config.layout.topics {
            for p in 0..topic.partitions {
                let replicas = config.layout.replicas(topic, p);
                if !replicas.contains(&config.broker_id) {
                    continue;
                }
                let tp = TopicPartition::new(topic.name.clone(), p);
                let batches: Vec<RecordBatch> = disk
                    .file(&Partition::file(&tp))
                    .iter()
                    .map(|LogEntry::Batch(b)| b.clone())
                    .collect();
                let synced_batches = batches.len();
                let mut log = PartitionLog::recover(batches);
                let leo = log.log_end_offset();
                log.advance_high_watermark(leo);
                let partition = Partition {
                    topic: topic.clone(),
                    log,
                    leader_epoch: LeaderEpoch(0),
                    is_leader: replicas[0] == config.broker_id,
                    unflushed_records: 0,
                    unflushed_since_us: None,
                    synced_batches,
                    syncs_in_flight: 0,
                    complete_offset: leo,
                };
                partitions.insert(tp, partition);
            }
        }
        Broker { config, partitions, pending_produces: BTreeMap::new(), pending_fetches: BTreeMap::new(), next_pending: 0 }
    }

    pub fn on_start(&mut self, ctx: &mut BrokerCtx<'_>) {
        let id = self.config.broker_id;
        let n = self.partitions.len();
        ctx.explain(|| format!("broker {id} started, hosting {n} partition replica(s) recovered from its disk"));
        if self.partitions.values().any(|p| p.topic.flush_ms.is_some()) {
            ctx.set_timer(NodeTimer::Broker(BrokerTimer::FlushTick), FLUSH_CHECK_INTERVAL);
        }
    }

    pub fn on_message(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, msg: Msg) {
        match msg {
            Msg::ProduceRequest(req) => self.on_produce(ctx, from, req),
            Msg::FetchRequest(req) => self.on_fetch(ctx, from, req),
            Msg::ListOffsetsRequest(req) => self.on_list_offsets(ctx, from, req),
            Msg::MetadataRequest(req) => self.on_metadata(ctx, from, req),
            other => ctx.explain(|| format!("ignored unexpected {}", super::actor::Message::kind(&other))),
        }
    }

    pub fn on_timer(&mut self, ctx: &mut BrokerCtx<'_>, timer: BrokerTimer) {
        match timer {
            BrokerTimer::FetchExpiry(id) => {
                if let Some(pending) = self.pending_fetches.remove(&id) {
                    ctx.explain(|| "fetch.max.wait.ms elapsed: answering the delayed fetch with what there is".into());
                    self.answer_fetch(ctx, pending.from, &pending.request);
                }
            }
            BrokerTimer::ProduceExpiry(id) => {
                if let Some(mut pending) = self.pending_produces.remove(&id) {
                    for (resp, need) in pending.parts.iter_mut() {
                        if need.is_some() {
                            resp.error_code = ErrorCode::RequestTimedOut;
                            *need = None;
                        }
                    }
                    ctx.mark("broker.produce.timed_out");
                    ctx.explain(|| "the delayed produce timed out: REQUEST_TIMED_OUT".into());
                    Self::respond_produce(ctx, pending);
                }
            }
            BrokerTimer::FlushTick => self.flush_by_age(ctx),
        }
    }

    pub fn on_disk(&mut self, ctx: &mut BrokerCtx<'_>, done: DiskDone) {
        let DiskDone::Synced { file, len } = done;
        let Some((tp, part)) = self.partitions.iter_mut().find(|(tp, _)| Partition::file(tp) == file) else {
            return;
        };
        let tp = tp.clone();
        part.syncs_in_flight = part.syncs_in_flight.saturating_sub(1);
        part.synced_batches = part.synced_batches.max(len);
        let durable_end = part.log.batches().get(len.wrapping_sub(1)).map_or(part.log.log_start_offset(), |b| b.next_offset());
        part.complete_offset = if part.syncs_in_flight == 0 {
            part.log.log_end_offset()
        } else {
            part.complete_offset.max(durable_end)
        };
        ctx.explain(|| format!("fsync of {tp} done: {len} batches durable, up to offset {durable_end}"));
        self.partition_progressed(ctx, &tp);
    }

    fn on_produce(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, req: ProduceRequest) {
        let mut parts = Vec::new();
        let mut appended = Vec::new();
        for (tp, records) in req.topic_data {
            let (resp, need) = self.append_as_leader(ctx, &tp, records, req.acks);
            if resp.error_code == ErrorCode::None {
                appended.push(tp.clone());
            }
            parts.push((resp, need));
        }
        let pending = PendingProduce { from, correlation_id: req.correlation_id, acks: req.acks, parts };
        if req.acks == Acks::None {
            ctx.explain(|| "acks=0: appended, no response is sent".into());
            for tp in appended {
                self.partition_progressed(ctx, &tp);
            }
            return;
        }
        let id = self.next_pending;
        self.next_pending += 1;
        self.pending_produces.insert(id, pending);
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::ProduceExpiry(id)), super::SimDuration::from_millis(req.timeout_ms));
        for tp in appended {
            self.partition_progressed(ctx, &tp);
        }
        self.try_complete_produces(ctx);
    }

    /// Appends one partition's records. Returns the response so far and, when it is appended, the
    /// offset that completes it.
    fn append_as_leader(
        &mut self,
        ctx: &mut BrokerCtx<'_>,
        tp: &TopicPartition,
        records: Vec<Record>,
        acks: Acks,
    ) -> (PartitionProduceResponse, Option<Offset>) {
        let Some(part) = self.partitions.get_mut(tp) else {
            return (error_response(tp, ErrorCode::UnknownTopicOrPartition), None);
        };
        let mut resp = error_response(tp, ErrorCode::None);
        resp.log_start_offset = part.log.log_start_offset();
        if !part.is_leader {
            resp.error_code = ErrorCode::NotLeaderOrFollower;
            ctx.mark("broker.produce.not_leader");
            return (resp, None);
        }
        let n = records.len() as u64;
        let batch = part.log.append(records, part.leader_epoch).clone();
        let (base, next) = (batch.base_offset, batch.next_offset());
        ctx.append(Partition::file(tp), LogEntry::Batch(batch));
        if part.unflushed_records == 0 {
            part.unflushed_since_us = Some(ctx.now().as_micros());
        }
        part.unflushed_records += n;
        let forced = part.topic.flush_messages.is_some_and(|k| part.unflushed_records >= k);
        if forced {
            ctx.fsync(Partition::file(tp));
            part.syncs_in_flight += 1;
            part.unflushed_records = 0;
            part.unflushed_since_us = None;
            ctx.mark("broker.flush.messages");
        } else if part.syncs_in_flight == 0 {
            part.complete_offset = part.log.log_end_offset();
        }
        ctx.explain(|| {
            let flush = if forced { ", flush.messages reached: fsync before it counts" } else { ", in the page cache (not fsynced)" };
            format!("appended {n} records of {tp} at offsets {base}..{} (acks={acks}){flush}", next.0 - 1)
        });
        resp.base_offset = Some(base);
        (resp, Some(next))
    }

    /// After a partition's complete offset moved: advance its HW, answer delayed produces and
    /// fetches. With a single replica the ISR is the leader alone, so the HW is the leader's
    /// complete offset.
    fn partition_progressed(&mut self, ctx: &mut BrokerCtx<'_>, tp: &TopicPartition) {
        let Some(part) = self.partitions.get_mut(tp) else { return };
        let target = part.complete_offset;
        if part.log.advance_high_watermark(target) {
            ctx.explain(|| format!("high watermark of {tp} advanced to {target}"));
        }
        self.try_complete_produces(ctx);
        self.try_complete_fetches(ctx);
    }

    fn try_complete_produces(&mut self, ctx: &mut BrokerCtx<'_>) {
        let ready: Vec<u64> = self
            .pending_produces
            .iter_mut()
            .filter_map(|(id, pending)| {
                for (resp, need) in pending.parts.iter_mut() {
                    let Some(required) = *need else { continue };
                    let Some(part) = self.partitions.get(&resp.partition) else { continue };
                    let reached = match pending.acks {
                        Acks::All => part.log.high_watermark(),
                        _ => part.complete_offset,
                    };
                    if reached >= required {
                        *need = None;
                    }
                }
                pending.parts.iter().all(|(_, need)| need.is_none()).then_some(*id)
            })
            .collect();
        for id in ready {
            let pending = self.pending_produces.remove(&id).expect("listed");
            ctx.cancel_timer(NodeTimer::Broker(BrokerTimer::ProduceExpiry(id)));
            Self::respond_produce(ctx, pending);
        }
    }

    fn respond_produce(ctx: &mut BrokerCtx<'_>, pending: PendingProduce) {
        let responses = pending.parts.into_iter().map(|(r, _)| r).collect();
        ctx.send(pending.from, Msg::ProduceResponse(ProduceResponse { correlation_id: pending.correlation_id, responses }));
    }

    fn on_fetch(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, req: FetchRequest) {
        let (bytes, any_error) = self.fetchable(&req);
        if bytes >= req.min_bytes.max(1) || any_error || req.max_wait_ms == 0 {
            self.answer_fetch(ctx, from, &req);
            return;
        }
        let id = self.next_pending;
        self.next_pending += 1;
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::FetchExpiry(id)), super::SimDuration::from_millis(req.max_wait_ms));
        ctx.explain(|| "no new data below the high watermark: the fetch waits (delayed fetch)".into());
        self.pending_fetches.insert(id, PendingFetch { from, request: req });
    }

    /// How many bytes a fetch would return now, and whether any partition would answer an error.
    fn fetchable(&self, req: &FetchRequest) -> (u64, bool) {
        let mut bytes = 0;
        for fp in &req.partitions {
            match self.partitions.get(&fp.partition) {
                Some(part) if part.is_leader => {
                    let log = &part.log;
                    if fp.fetch_offset < log.log_start_offset() || fp.fetch_offset > log.log_end_offset() {
                        return (bytes, true);
                    }
                    bytes += log.read(fp.fetch_offset, log.high_watermark(), req.max_bytes).iter().map(|b| b.size_bytes()).sum::<u64>();
                }
                _ => return (bytes, true),
            }
        }
        (bytes, false)
    }

    fn try_complete_fetches(&mut self, ctx: &mut BrokerCtx<'_>) {
        let ready: Vec<u64> = self
            .pending_fetches
            .iter()
            .filter(|(_, p)| {
                let (bytes, err) = self.fetchable(&p.request);
                err || bytes >= p.request.min_bytes.max(1)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            let pending = self.pending_fetches.remove(&id).expect("listed");
            ctx.cancel_timer(NodeTimer::Broker(BrokerTimer::FetchExpiry(id)));
            self.answer_fetch(ctx, pending.from, &pending.request);
        }
    }

    fn answer_fetch(&self, ctx: &mut BrokerCtx<'_>, from: NodeId, req: &FetchRequest) {
        let mut partitions = Vec::new();
        for fp in &req.partitions {
            let tp = &fp.partition;
            let mut data = FetchPartitionData {
                partition: tp.clone(),
                error_code: ErrorCode::None,
                high_watermark: Offset(-1),
                log_start_offset: Offset(-1),
                records: Vec::new(),
            };
            match self.partitions.get(tp) {
                None => data.error_code = ErrorCode::UnknownTopicOrPartition,
                Some(part) if !part.is_leader => data.error_code = ErrorCode::NotLeaderOrFollower,
                Some(part) => {
                    let log = &part.log;
                    data.high_watermark = log.high_watermark();
                    data.log_start_offset = log.log_start_offset();
                    if fp.current_leader_epoch.is_some_and(|e| e < part.leader_epoch) {
                        data.error_code = ErrorCode::FencedLeaderEpoch;
                        ctx.mark("broker.fetch.fenced_leader_epoch");
                    } else if fp.fetch_offset < log.log_start_offset() || fp.fetch_offset > log.log_end_offset() {
                        data.error_code = ErrorCode::OffsetOutOfRange;
                        ctx.mark("broker.fetch.offset_out_of_range");
                        let (o, s, e) = (fp.fetch_offset, log.log_start_offset(), log.log_end_offset());
                        ctx.explain(|| format!("fetch of {tp} at {o} is outside the log [{s}, {e}]: OFFSET_OUT_OF_RANGE"));
                    } else {
                        data.records = log.read(fp.fetch_offset, log.high_watermark(), req.max_bytes);
                    }
                }
            }
            partitions.push(data);
        }
        ctx.send(from, Msg::FetchResponse(FetchResponse { correlation_id: req.correlation_id, partitions }));
    }

    fn on_list_offsets(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, req: ListOffsetsRequest) {
        let partitions = req
            .partitions
            .into_iter()
            .map(|(tp, spec)| {
                let (error_code, offset) = match self.partitions.get(&tp) {
                    None => (ErrorCode::UnknownTopicOrPartition, Offset(-1)),
                    Some(p) if !p.is_leader => (ErrorCode::NotLeaderOrFollower, Offset(-1)),
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

    fn on_metadata(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, req: MetadataRequest) {
        let layout = &self.config.layout;
        let topics = req
            .topics
            .iter()
            .map(|name| match layout.topic(name) {
                None => TopicMetadata { name: name.clone(), error_code: ErrorCode::UnknownTopicOrPartition, partitions: vec![] },
                Some(t) => TopicMetadata {
                    name: name.clone(),
                    error_code: ErrorCode::None,
                    partitions: (0..t.partitions)
                        .map(|p| {
                            let replicas = layout.replicas(t, p);
                            PartitionMetadata {
                                partition: p,
                                error_code: ErrorCode::None,
                                leader: replicas.first().copied(),
                                leader_epoch: LeaderEpoch(0),
                                isr: replicas.clone(),
                                replicas,
                            }
                        })
                        .collect(),
                },
            })
            .collect();
        let msg = MetadataResponse { correlation_id: req.correlation_id, brokers: layout.brokers.clone(), topics };
        ctx.send(from, Msg::MetadataResponse(msg));
    }

    /// `flush.ms`: fsync every partition whose oldest unflushed record is older than its limit.
    fn flush_by_age(&mut self, ctx: &mut BrokerCtx<'_>) {
        let now = ctx.now().as_micros();
        for (tp, part) in self.partitions.iter_mut() {
            let (Some(limit_ms), Some(since)) = (part.topic.flush_ms, part.unflushed_since_us) else { continue };
            if now.saturating_sub(since) >= limit_ms * 1_000 {
                ctx.fsync(Partition::file(tp));
                part.syncs_in_flight += 1;
                part.unflushed_records = 0;
                part.unflushed_since_us = None;
                ctx.mark("broker.flush.ms");
            }
        }
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::FlushTick), FLUSH_CHECK_INTERVAL);
    }
}

/// How often the log flusher looks at `flush.ms` (Kafka's `log.flush.scheduler.interval.ms`
/// defaults to never; a simulated broker that has `flush.ms` set checks every 100 ms).
const FLUSH_CHECK_INTERVAL: super::SimDuration = super::SimDuration::from_millis(100);

fn error_response(tp: &TopicPartition, error_code: ErrorCode) -> PartitionProduceResponse {
    PartitionProduceResponse { partition: tp.clone(), error_code, base_offset: None, log_start_offset: Offset(-1) }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::actor::Effect;
    use crate::model::ids::RecordId;
    use crate::model::SimTime;

    const CLIENT: NodeId = NodeId(9);

    fn broker(flush_messages: Option<u64>) -> Broker {
        let mut topic = TopicConfig::new("t", 1);
        topic.flush_messages = flush_messages;
        let layout = ClusterLayout { brokers: vec![(BrokerId(0), NodeId(0))], topics: vec![topic] };
        Broker::recover(BrokerConfig { broker_id: BrokerId(0), layout }, &DiskImage::default())
    }

    /// Runs one handler and returns its effects.
    fn step(f: impl FnOnce(&mut Ctx<'_, KafkaNode>)) -> Vec<Effect<KafkaNode>> {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut out = Vec::new();
        let mut ctx = Ctx::new(SimTime(1_000), NodeId(0), &mut rng, &mut out, None);
        f(&mut ctx);
        out
    }

    fn produce(n: u32, acks: Acks) -> ProduceRequest {
        let records = (0..n).map(|seq| Record { id: RecordId { producer: 0, seq }, key: None, size: 10 }).collect();
        ProduceRequest { correlation_id: 7, acks, timeout_ms: 30_000, topic_data: vec![(TopicPartition::new("t", 0), records)] }
    }

    fn fetch(offset: i64) -> FetchRequest {
        FetchRequest {
            correlation_id: 8,
            replica_id: None,
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 1 << 20,
            partitions: vec![FetchPartition { partition: TopicPartition::new("t", 0), fetch_offset: Offset(offset), current_leader_epoch: None }],
        }
    }

    fn responses(effects: &[Effect<KafkaNode>]) -> Vec<&Msg> {
        effects.iter().filter_map(|e| if let Effect::Send { to: CLIENT, msg } = e { Some(msg) } else { None }).collect()
    }

    #[test]
    fn acks1_without_flush_answers_at_once_from_the_page_cache() {
        let mut b = broker(None);
        let fx = step(|ctx| b.on_produce(ctx, CLIENT, produce(3, Acks::Leader)));
        assert!(fx.iter().any(|e| matches!(e, Effect::Disk(crate::model::DiskOp::Append { .. }))));
        assert!(!fx.iter().any(|e| matches!(e, Effect::Disk(crate::model::DiskOp::Fsync { .. }))));
        let r = responses(&fx);
        assert_eq!(r.len(), 1);
        let Msg::ProduceResponse(p) = r[0] else { panic!("{r:?}") };
        assert_eq!((p.correlation_id, p.responses[0].error_code, p.responses[0].base_offset), (7, ErrorCode::None, Some(Offset(0))));
        assert_eq!(b.partitions[&TopicPartition::new("t", 0)].log.high_watermark(), Offset(3));
    }

    #[test]
    fn flush_messages_holds_the_answer_and_the_high_watermark_until_the_fsync_completes() {
        let mut b = broker(Some(1));
        let fx = step(|ctx| b.on_produce(ctx, CLIENT, produce(2, Acks::Leader)));
        assert!(fx.iter().any(|e| matches!(e, Effect::Disk(crate::model::DiskOp::Fsync { file }) if file == "t-0.log")));
        assert!(responses(&fx).is_empty());
        let tp = TopicPartition::new("t", 0);
        assert_eq!(b.partitions[&tp].log.high_watermark(), Offset(0));
        let fx = step(|ctx| b.on_disk(ctx, DiskDone::Synced { file: "t-0.log".into(), len: 1 }));
        assert_eq!(responses(&fx).len(), 1);
        assert_eq!(b.partitions[&tp].log.high_watermark(), Offset(2));
    }

    #[test]
    fn a_fetch_past_the_log_end_is_out_of_range() {
        let mut b = broker(None);
        step(|ctx| b.on_produce(ctx, CLIENT, produce(2, Acks::All)));
        let fx = step(|ctx| b.on_fetch(ctx, CLIENT, fetch(5)));
        let Msg::FetchResponse(r) = responses(&fx)[0] else { panic!() };
        assert_eq!(r.partitions[0].error_code, ErrorCode::OffsetOutOfRange);
    }

    #[test]
    fn a_fetch_with_nothing_to_read_waits_for_the_next_append() {
        let mut b = broker(None);
        let fx = step(|ctx| b.on_fetch(ctx, CLIENT, fetch(0)));
        assert!(responses(&fx).is_empty());
        assert!(fx.iter().any(|e| matches!(e, Effect::SetTimer { timer: NodeTimer::Broker(BrokerTimer::FetchExpiry(_)), .. })));
        let fx = step(|ctx| b.on_produce(ctx, CLIENT, produce(2, Acks::All)));
        let fetched: Vec<i64> = responses(&fx)
            .iter()
            .filter_map(|m| if let Msg::FetchResponse(r) = m { Some(r) } else { None })
            .flat_map(|r| r.partitions[0].records.iter().flat_map(|b| b.offsets().map(|(o, _)| o.0)).collect::<Vec<_>>())
            .collect();
        assert_eq!(fetched, vec![0, 1]);
    }

    #[test]
    fn recovery_rebuilds_the_log_from_disk() {
        let batch = RecordBatch {
            base_offset: Offset(0),
            partition_leader_epoch: LeaderEpoch(0),
            records: vec![Record { id: RecordId { producer: 1, seq: 0 }, key: None, size: 5 }],
        };
        let disk = DiskImage { files: [("t-0.log".to_string(), vec![LogEntry::Batch(batch)])].into_iter().collect() };
        let layout = ClusterLayout { brokers: vec![(BrokerId(0), NodeId(0))], topics: vec![TopicConfig::new("t", 1)] };
        let b = Broker::recover(BrokerConfig { broker_id: BrokerId(0), layout }, &disk);
        let log = &b.partitions[&TopicPartition::new("t", 0)].log;
        assert_eq!((log.log_end_offset(), log.high_watermark()), (Offset(1), Offset(1)));
    }
}
