//! The producer client: a workload that calls `send()` at a rate, the record accumulator that
//! batches by `batch.size` and `linger.ms`, the sender that drains ready batches to partition
//! leaders with at most `max.in.flight.requests.per.connection` requests per broker, and retries
//! with `retry.backoff.ms` until `delivery.timeout.ms`.
//!
//! Without idempotence a retried batch can be appended twice (the first attempt was appended but
//! its response was lost) and, with more than one request in flight, out of order: Kafka's
//! documented behaviour, which the checkers report rather than hide.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::actor::Ctx;
use super::ids::{NodeId, Offset, RecordId, TopicPartition};
use super::node::{KafkaNode, NodeTimer};
use super::observe::Observation;
use super::partitioner::{PartitionChooser, Partitioner};
use super::protocol::*;
use super::time::{SimDuration, SimTime};

/// Which record keys the workload uses.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeySpace {
    /// Null keys.
    None,
    /// `key-0` .. `key-(n-1)`, cycling.
    Cycle(u32),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProducerConfig {
    /// This producer's number: records it produces are `p<index>#<seq>`.
    pub index: u32,
    pub name: String,
    pub bootstrap: Vec<NodeId>,
    pub topic: String,
    pub acks: Acks,
    pub linger_ms: u64,
    pub batch_size: u64,
    pub partitioner: Partitioner,
    /// With the manual partitioner: the partition every record goes to.
    pub manual_partition: Option<i32>,
    pub request_timeout_ms: u64,
    pub delivery_timeout_ms: u64,
    pub retry_backoff_ms: u64,
    pub retries: u32,
    pub max_in_flight: u32,
    /// `enable.idempotence`: batches carry a producer id and sequence numbers, and the broker
    /// drops a retried batch it already has.
    pub enable_idempotence: bool,
    /// How many records the workload sends.
    pub messages: u32,
    /// Records per second; 0 sends them all at once.
    pub rate_per_sec: u32,
    pub keys: KeySpace,
    pub record_bytes: u32,
    /// `metadata.max.age.ms` (300000): metadata older than this is refreshed, which is how the
    /// producer learns that a topic gained partitions.
    pub metadata_max_age_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ProducerTimer {
    /// The workload's next `send()`.
    NextRecord,
    /// Look again for batches that became ready (linger expired, backoff over).
    Drain,
    RequestTimeout(u64),
    MetadataTimeout(u64),
    /// Ask for metadata again after `retry.backoff.ms`.
    MetadataRefresh,
}

#[derive(Clone, Debug)]
struct ProducerBatch {
    partition: i32,
    /// With idempotence: the sequence of its first record, fixed at its first send.
    base_sequence: Option<i32>,
    /// The producer epoch (here: the producer id's generation) `base_sequence` belongs to.
    epoch: u32,
    records: Vec<Record>,
    bytes: u64,
    created_at: SimTime,
    attempts: u32,
    retry_at: SimTime,
}

#[derive(Clone, Debug)]
struct InFlight {
    node: NodeId,
    batches: Vec<ProducerBatch>,
}

#[derive(Clone, Debug)]
pub struct Producer {
    pub config: ProducerConfig,
    /// Leader node per partition, from the last metadata response.
    leaders: Vec<Option<NodeId>>,
    known_brokers: Vec<NodeId>,
    metadata_in_flight: Option<(u64, NodeId)>,
    next_bootstrap: usize,
    partition_chooser: PartitionChooser,
    next_seq: u32,
    resolved: u32,
    accumulator: BTreeMap<i32, VecDeque<ProducerBatch>>,
    in_flight: BTreeMap<u64, InFlight>,
    next_correlation: u64,
    /// With idempotence: the next sequence number per partition.
    next_sequence: BTreeMap<i32, i32>,
    /// With idempotence: the last sequence acknowledged per partition in this epoch (Java's
    /// `lastAckedSequence`).
    last_acked_sequence: BTreeMap<i32, i32>,
    /// With idempotence: bumped when the broker lost track of the sequence (KIP-360), and for
    /// each new `KafkaProducer` after a `close()`.
    epoch: u32,
    /// When the last metadata answer arrived (`metadata.max.age.ms` counts from there).
    metadata_at: SimTime,
    /// The application stopped producing and called `close()`.
    closed: bool,
}

type PCtx<'a> = Ctx<'a, KafkaNode>;

impl Producer {
    pub fn new(config: ProducerConfig) -> Self {
        let partition_chooser = PartitionChooser::new(config.partitioner, config.batch_size as usize);
        Producer {
            known_brokers: config.bootstrap.clone(),
            config,
            leaders: Vec::new(),
            metadata_in_flight: None,
            next_bootstrap: 0,
            partition_chooser,
            next_seq: 0,
            resolved: 0,
            accumulator: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            next_correlation: 0,
            next_sequence: BTreeMap::new(),
            last_acked_sequence: BTreeMap::new(),
            epoch: 0,
            metadata_at: SimTime::ZERO,
            closed: false,
        }
    }

    /// Every record of the workload was sent and has its final outcome; after a `close()`, every
    /// record sent before it has.
    pub fn is_done(&self) -> bool {
        self.resolved >= if self.closed { self.next_seq } else { self.config.messages }
    }

    /// Whether the application closed this producer (and has not started a new one).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The application stops calling `send()` and calls `close()`, which sends what is
    /// accumulated at once (linger no longer waits) and returns when every request in flight has
    /// its answer, retries included: Java's `close()` without a timeout. A new `KafkaProducer`
    /// (StartProducer) goes on with the records not sent yet, under a new producer id.
    pub fn on_command(&mut self, ctx: &mut PCtx<'_>, command: super::command::Command) {
        use super::command::Command;
        match command {
            Command::CloseProducer if !self.closed => {
                self.closed = true;
                ctx.mark("producer.close");
                ctx.cancel_timer(NodeTimer::Producer(ProducerTimer::NextRecord));
                let (sent, queued, in_flight) = (self.next_seq, self.accumulator.values().map(VecDeque::len).sum::<usize>(), self.in_flight.len());
                ctx.explain(|| {
                    format!("the application stops producing after {sent} records and calls close(): {queued} accumulated batch(es) go out now, and close() returns once the {in_flight} request(s) in flight and those are answered")
                });
                self.drain(ctx);
            }
            Command::StartProducer if self.closed => {
                self.closed = false;
                self.epoch += 1;
                self.next_sequence.clear();
                self.last_acked_sequence.clear();
                self.leaders.clear();
                ctx.mark("producer.start_again");
                let (next, left) = (self.next_seq, self.config.messages.saturating_sub(self.next_seq));
                ctx.explain(|| format!("a new KafkaProducer (a new producer id): {left} records to go from record #{next}; first it asks for metadata"));
                self.request_metadata(ctx);
            }
            Command::CloseProducer | Command::StartProducer => {
                let state = if self.closed { "closed" } else { "producing" };
                ctx.explain(|| format!("the producer is already {state}: nothing to do"));
            }
            other => ctx.explain(|| format!("a producer takes no {other:?} call")),
        }
    }
    pub fn sent(&self) -> u32 {
        self.next_seq
    }

    pub fn on_start(&mut self, ctx: &mut PCtx<'_>) {
        let n = self.config.messages;
        let topic = self.config.topic.clone();
        ctx.explain(|| format!("producer starts: {n} records to {topic}; first it asks for metadata"));
        self.request_metadata(ctx);
    }

    pub fn on_message(&mut self, ctx: &mut PCtx<'_>, from: NodeId, msg: Msg) {
        match msg {
            Msg::MetadataResponse(resp) => self.on_metadata(ctx, resp),
            Msg::ProduceResponse(resp) => self.on_produce_response(ctx, from, resp),
            _ => {}
        }
    }

    pub fn on_timer(&mut self, ctx: &mut PCtx<'_>, timer: ProducerTimer) {
        match timer {
            ProducerTimer::NextRecord => self.send_next_record(ctx),
            ProducerTimer::Drain => self.drain(ctx),
            ProducerTimer::RequestTimeout(corr) => {
                if let Some(req) = self.in_flight.remove(&corr) {
                    ctx.mark("producer.request_timeout");
                    ctx.explain(|| format!("no ProduceResponse within request.timeout.ms: retrying {} batches", req.batches.len()));
                    self.retry_all(ctx, req.batches, ErrorCode::RequestTimedOut);
                    self.request_metadata(ctx);
                }
            }
            ProducerTimer::MetadataRefresh => self.request_metadata(ctx),
            ProducerTimer::MetadataTimeout(corr) => {
                if self.metadata_in_flight.is_some_and(|(c, _)| c == corr) {
                    self.metadata_in_flight = None;
                    self.request_metadata(ctx);
                }
            }
        }
    }

    pub fn on_disconnect(&mut self, ctx: &mut PCtx<'_>, peer: NodeId) {
        let lost: Vec<u64> = self.in_flight.iter().filter(|(_, r)| r.node == peer).map(|(c, _)| *c).collect();
        for corr in &lost {
            let req = self.in_flight.remove(corr).expect("listed");
            ctx.cancel_timer(NodeTimer::Producer(ProducerTimer::RequestTimeout(*corr)));
            self.retry_all(ctx, req.batches, ErrorCode::NetworkException);
        }
        if !lost.is_empty() {
            ctx.explain(|| format!("connection to {peer} broke with {} requests in flight: they will be retried", lost.len()));
        }
        if let Some((corr, node)) = self.metadata_in_flight {
            if node == peer {
                self.metadata_in_flight = None;
                ctx.cancel_timer(NodeTimer::Producer(ProducerTimer::MetadataTimeout(corr)));
            }
        }
        self.refresh_metadata_later(ctx);
    }

    fn request_metadata(&mut self, ctx: &mut PCtx<'_>) {
        if self.metadata_in_flight.is_some() || self.known_brokers.is_empty() {
            return;
        }
        let node = self.known_brokers[self.next_bootstrap % self.known_brokers.len()];
        self.next_bootstrap += 1;
        let corr = self.correlation();
        self.metadata_in_flight = Some((corr, node));
        let topics = vec![self.config.topic.clone()];
        ctx.send(node, Msg::MetadataRequest(MetadataRequest { correlation_id: corr, topics }));
        ctx.set_timer(NodeTimer::Producer(ProducerTimer::MetadataTimeout(corr)), SimDuration::from_millis(self.config.request_timeout_ms));
    }

    fn on_metadata(&mut self, ctx: &mut PCtx<'_>, resp: MetadataResponse) {
        if self.metadata_in_flight.is_none_or(|(c, _)| c != resp.correlation_id) {
            return;
        }
        self.metadata_in_flight = None;
        ctx.cancel_timer(NodeTimer::Producer(ProducerTimer::MetadataTimeout(resp.correlation_id)));
        let Some(topic) = resp.topics.iter().find(|t| t.name == self.config.topic && t.error_code == ErrorCode::None) else {
            ctx.explain(|| "the topic is not known yet: metadata again after retry.backoff.ms".into());
            return self.refresh_metadata_later(ctx);
        };
        let first = self.leaders.is_empty();
        let before = self.leaders.len();
        self.metadata_at = ctx.now();
        self.leaders = topic
            .partitions
            .iter()
            .map(|p| p.leader.and_then(|b| resp.brokers.iter().find(|(id, _)| *id == b).map(|(_, n)| *n)))
            .collect();
        if !resp.brokers.is_empty() {
            self.known_brokers = resp.brokers.iter().map(|(_, n)| *n).collect();
        }
        let n = self.leaders.len();
        let led = self.leaders.iter().filter(|l| l.is_some()).count();
        ctx.explain(|| format!("metadata: {n} partitions, {led} of them with a leader"));
        if !first && n != before {
            ctx.mark("producer.partitions_changed");
            ctx.explain(|| format!("{topic} now has {n} partitions (it had {before}): from now on records are partitioned over all {n}", topic = self.config.topic));
        }
        if first && !self.closed {
            ctx.set_timer(NodeTimer::Producer(ProducerTimer::NextRecord), SimDuration::ZERO);
        }
        self.drain(ctx);
    }

    /// `metadata.max.age.ms`: metadata that old is refreshed before the next record is
    /// partitioned. (Java's sender also wakes up for it when idle; an idle producer partitions
    /// nothing, so asking at the next `send()` changes no outcome.)
    fn refresh_if_stale(&mut self, ctx: &mut PCtx<'_>) {
        let age = ctx.now().saturating_since(self.metadata_at);
        if !self.leaders.is_empty() && self.metadata_in_flight.is_none() && age >= SimDuration::from_millis(self.config.metadata_max_age_ms) {
            let ms = self.config.metadata_max_age_ms;
            ctx.explain(|| format!("the metadata is older than metadata.max.age.ms ({ms} ms): asks for it again"));
            self.request_metadata(ctx);
        }
    }

    fn refresh_metadata_later(&mut self, ctx: &mut PCtx<'_>) {
        let backoff = SimDuration::from_millis(self.config.retry_backoff_ms);
        ctx.set_timer(NodeTimer::Producer(ProducerTimer::MetadataRefresh), backoff);
    }

    fn send_next_record(&mut self, ctx: &mut PCtx<'_>) {
        if self.next_seq >= self.config.messages || self.closed {
            return;
        }
        self.refresh_if_stale(ctx);
        let seq = self.next_seq;
        self.next_seq += 1;
        let id = RecordId { producer: self.config.index, seq };
        let key = match self.config.keys {
            KeySpace::None => None,
            KeySpace::Cycle(n) => Some(format!("key-{}", seq % n.max(1))),
        };
        let num_partitions = self.leaders.len() as i32;
        let size = self.config.record_bytes;
        let partition = self.partition_chooser.partition(
            key.as_deref().map(str::as_bytes),
            self.config.manual_partition,
            num_partitions,
            size as usize,
            ctx.rng(),
        );
        let tp = TopicPartition::new(self.config.topic.clone(), partition);
        ctx.observe(Observation::ProduceInvoked { record: id, partition: tp.clone(), key: key.clone() });
        ctx.explain(|| format!("send() record {id} {} → {tp}", key.as_deref().map_or("without a key".to_string(), |k| format!("key {k}"))));
        self.accumulate(ctx.now(), partition, Record { id, key, size, value: None });
        if self.next_seq < self.config.messages && self.config.rate_per_sec > 0 {
            let gap = SimDuration::from_micros(1_000_000 / u64::from(self.config.rate_per_sec));
            ctx.set_timer(NodeTimer::Producer(ProducerTimer::NextRecord), gap);
        } else if self.next_seq < self.config.messages {
            ctx.set_timer(NodeTimer::Producer(ProducerTimer::NextRecord), SimDuration::ZERO);
        }
        self.drain(ctx);
    }

    fn accumulate(&mut self, now: SimTime, partition: i32, record: Record) {
        let bytes = u64::from(record.size);
        let queue = self.accumulator.entry(partition).or_default();
        match queue.back_mut() {
            Some(b) if b.attempts == 0 && b.bytes + bytes <= self.config.batch_size => {
                b.bytes += bytes;
                b.records.push(record);
            }
            _ => queue.push_back(ProducerBatch {
                partition,
                base_sequence: None,
                epoch: 0,
                records: vec![record],
                bytes,
                created_at: now,
                attempts: 0,
                retry_at: now,
            }),
        }
    }

    /// A batch is ready when it is full (or not the last of its partition), when `linger.ms` has
    /// passed since it was opened, or when all records have been sent (nothing more will fill it).
    fn ready_at(&self, batch: &ProducerBatch, is_last: bool) -> SimTime {
        let full = !is_last || batch.bytes >= self.config.batch_size || self.next_seq >= self.config.messages || self.closed;
        let linger_done = if full { batch.created_at } else { batch.created_at + SimDuration::from_millis(self.config.linger_ms) };
        linger_done.max(batch.retry_at)
    }

    /// Sends every ready batch whose leader is known, one batch per partition per request, within
    /// the in-flight limit; then sleeps until the next batch becomes ready.
    fn drain(&mut self, ctx: &mut PCtx<'_>) {
        let now = ctx.now();
        let mut per_node: BTreeMap<NodeId, Vec<ProducerBatch>> = BTreeMap::new();
        let mut next_wake: Option<SimTime> = None;
        let muted: Vec<i32> = if self.config.max_in_flight == 1 {
            self.in_flight.values().flat_map(|r| r.batches.iter().map(|b| b.partition)).collect()
        } else {
            Vec::new()
        };
        let partitions: Vec<i32> = self.accumulator.keys().copied().collect();
        let mut missing_leader = false;
        for p in partitions {
            let queue = &self.accumulator[&p];
            let Some(front) = queue.front() else { continue };
            let ready = self.ready_at(front, queue.len() == 1);
            let leader = self.leaders.get(p as usize).copied().flatten();
            if ready > now {
                next_wake = Some(next_wake.map_or(ready, |w| w.min(ready)));
                continue;
            }
            let Some(node) = leader else {
                missing_leader = true;
                continue;
            };
            let in_flight_to_node = self.in_flight.values().filter(|r| r.node == node).count() as u32;
            if muted.contains(&p) || in_flight_to_node >= self.config.max_in_flight {
                continue;
            }
            let batch = self.accumulator.get_mut(&p).expect("listed").pop_front().expect("front exists");
            per_node.entry(node).or_default().push(batch);
        }
        self.accumulator.retain(|_, q| !q.is_empty());
        if missing_leader && self.metadata_in_flight.is_none() {
            self.refresh_metadata_later(ctx);
        }
        for (node, batches) in per_node {
            self.send_produce(ctx, node, batches);
        }
        if let Some(at) = next_wake {
            ctx.set_timer(NodeTimer::Producer(ProducerTimer::Drain), at.saturating_since(now));
        }
    }

    fn send_produce(&mut self, ctx: &mut PCtx<'_>, node: NodeId, mut batches: Vec<ProducerBatch>) {
        let corr = self.correlation();
        for b in batches.iter_mut() {
            b.attempts += 1;
            if self.config.enable_idempotence && (b.base_sequence.is_none() || b.epoch != self.epoch) {
                let next = self.next_sequence.entry(b.partition).or_insert(0);
                b.base_sequence = Some(*next);
                b.epoch = self.epoch;
                *next += b.records.len() as i32;
            }
        }
        let producer_id = self.producer_id();
        let topic_data = batches
            .iter()
            .map(|b| PartitionRecords {
                partition: TopicPartition::new(self.config.topic.clone(), b.partition),
                records: b.records.clone(),
                producer: b.base_sequence.map(|base_sequence| ProducerSequence { producer_id, base_sequence }),
            })
            .collect();
        let acks = self.config.acks;
        let req = ProduceRequest { correlation_id: corr, acks, timeout_ms: self.config.request_timeout_ms, topic_data };
        ctx.send(node, Msg::ProduceRequest(req));
        if acks == Acks::None {
            // acks=0: the send is the acknowledgement; the offset is unknown.
            for b in batches {
                let tp = TopicPartition::new(self.config.topic.clone(), b.partition);
                for r in b.records {
                    ctx.observe(Observation::ProduceAcked { record: r.id, partition: tp.clone(), offset: None, acks });
                    self.resolved += 1;
                }
            }
            return;
        }
        ctx.set_timer(NodeTimer::Producer(ProducerTimer::RequestTimeout(corr)), SimDuration::from_millis(self.config.request_timeout_ms));
        self.in_flight.insert(corr, InFlight { node, batches });
    }

    fn on_produce_response(&mut self, ctx: &mut PCtx<'_>, _from: NodeId, resp: ProduceResponse) {
        let Some(req) = self.in_flight.remove(&resp.correlation_id) else { return };
        ctx.cancel_timer(NodeTimer::Producer(ProducerTimer::RequestTimeout(resp.correlation_id)));
        let mut refresh = false;
        for batch in req.batches {
            let tp = TopicPartition::new(self.config.topic.clone(), batch.partition);
            let part = resp.responses.iter().find(|r| r.partition == tp);
            let error = part.map_or(ErrorCode::NetworkException, |r| r.error_code);
            match (error, part.and_then(|r| r.base_offset)) {
                (ErrorCode::None, Some(base)) => {
                    let acks = self.config.acks;
                    for (i, r) in batch.records.iter().enumerate() {
                        let offset = Offset(base.0 + i as i64);
                        ctx.observe(Observation::ProduceAcked { record: r.id, partition: tp.clone(), offset: Some(offset), acks });
                    }
                    self.resolved += batch.records.len() as u32;
                    if let (Some(seq), true) = (batch.base_sequence, batch.epoch == self.epoch) {
                        let last = seq + batch.records.len() as i32 - 1;
                        let acked = self.last_acked_sequence.entry(batch.partition).or_insert(last);
                        *acked = (*acked).max(last);
                    }
                    let n = batch.records.len();
                    ctx.explain(|| format!("{tp}: {n} record(s) acknowledged from offset {base}"));
                }
                (ErrorCode::OutOfOrderSequenceNumber, _) if batch.epoch == self.epoch && self.oldest_in_flight(&batch) && self.is_next_sequence(&batch) => {
                    // KIP-360 (Kafka 2.5+): the broker lost the batches before this one (a leader
                    // lost its unflushed tail); the idempotent producer bumps its epoch and
                    // starts its sequences again, then retries.
                    self.epoch += 1;
                    self.next_sequence.clear();
                    self.last_acked_sequence.clear();
                    ctx.mark("producer.epoch_bump");
                    let e = self.epoch;
                    ctx.explain(|| format!("{tp}: OUT_OF_ORDER_SEQUENCE_NUMBER for its oldest batch: bumps the producer epoch to {e} and resets its sequence numbers"));
                    self.retry(ctx, batch, ErrorCode::OutOfOrderSequenceNumber);
                }
                (error, _) => {
                    refresh |= matches!(error, ErrorCode::NotLeaderOrFollower | ErrorCode::UnknownTopicOrPartition);
                    self.retry(ctx, batch, error);
                }
            }
        }
        if refresh {
            self.request_metadata(ctx);
        }
        self.drain(ctx);
    }

    fn retry_all(&mut self, ctx: &mut PCtx<'_>, batches: Vec<ProducerBatch>, error: ErrorCode) {
        for b in batches {
            self.retry(ctx, b, error);
        }
        self.drain(ctx);
    }

    /// Puts a failed batch back at the front of its partition's queue after `retry.backoff.ms`, or
    /// fails its records when retries or `delivery.timeout.ms` are exhausted.
    fn retry(&mut self, ctx: &mut PCtx<'_>, mut batch: ProducerBatch, error: ErrorCode) {
        let now = ctx.now();
        let expired = now.saturating_since(batch.created_at) >= SimDuration::from_millis(self.config.delivery_timeout_ms);
        let tp = TopicPartition::new(self.config.topic.clone(), batch.partition);
        if !error.is_retriable() || batch.attempts > self.config.retries || expired {
            ctx.mark("producer.batch_failed");
            for r in &batch.records {
                ctx.observe(Observation::ProduceFailed { record: r.id, partition: tp.clone(), error });
            }
            self.resolved += batch.records.len() as u32;
            ctx.explain(|| format!("{tp}: batch failed for good with {error}"));
            return;
        }
        ctx.mark("producer.retry");
        ctx.explain(|| format!("{tp}: {error}, retrying after retry.backoff.ms"));
        batch.retry_at = now + SimDuration::from_millis(self.config.retry_backoff_ms);
        let queue = self.accumulator.entry(batch.partition).or_default();
        match batch.base_sequence {
            // Idempotent: back in sequence order, so that the broker sees no gap.
            Some(seq) => {
                let at = queue.iter().position(|b| b.base_sequence.is_none_or(|s| s > seq)).unwrap_or(queue.len());
                queue.insert(at, batch);
            }
            // Kafka's reenqueue puts a failed batch first: with several in flight, order can flip.
            None => queue.push_front(batch),
        }
    }

    /// Whether no batch of the same partition with an earlier sequence is still in flight or
    /// queued: this batch's gap is not explained by one of ours.
    fn oldest_in_flight(&self, batch: &ProducerBatch) -> bool {
        let earlier = |b: &ProducerBatch| b.partition == batch.partition && b.epoch == batch.epoch && b.base_sequence < batch.base_sequence && b.base_sequence.is_some();
        !self.in_flight.values().flat_map(|f| f.batches.iter()).any(earlier) && !self.accumulator.get(&batch.partition).is_some_and(|q| q.iter().any(earlier))
    }

    /// Java's `isNextSequence`: the batch directly follows the last one acknowledged for its
    /// partition (or is the first). An OUT_OF_ORDER_SEQUENCE_NUMBER for the next sequence means
    /// the broker lost what came before (KIP-360: bump the epoch). For an earlier sequence, a later
    /// batch got in first (sent to a new leader while this one was still in flight to the old
    /// one, which the new leader accepts from a producer it does not know yet): the batch is
    /// retried as it is and fails when `delivery.timeout.ms` runs out, never appended behind the
    /// later one.
    fn is_next_sequence(&self, batch: &ProducerBatch) -> bool {
        batch.base_sequence == Some(self.last_acked_sequence.get(&batch.partition).map_or(0, |s| s + 1))
    }

    /// The idempotent producer's id and epoch. Kafka hands the id out with InitProducerId and
    /// bumps the epoch; here each (producer, epoch) pair gets its own id, which is all the
    /// broker's duplicate check needs.
    fn producer_id(&self) -> u64 {
        1_000 + u64::from(self.config.index) + 1_000_000 * u64::from(self.epoch)
    }

    fn correlation(&mut self) -> u64 {
        self.next_correlation += 1;
        self.next_correlation
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::actor::Effect;

    fn idempotent() -> Producer {
        let config = ProducerConfig {
            index: 0,
            name: "p1".into(),
            bootstrap: vec![NodeId(0)],
            topic: "t".into(),
            acks: Acks::All,
            linger_ms: 5,
            batch_size: 16_384,
            partitioner: Partitioner::Murmur2,
            manual_partition: None,
            request_timeout_ms: 30_000,
            metadata_max_age_ms: 300_000,
            delivery_timeout_ms: 120_000,
            retry_backoff_ms: 100,
            retries: u32::MAX,
            max_in_flight: 5,
            enable_idempotence: true,
            messages: 10,
            rate_per_sec: 0,
            keys: KeySpace::None,
            record_bytes: 100,
        };
        Producer::new(config)
    }

    /// Batch sequence 0 of t-0 (records p0#0..=4) in flight as request 1; the broker answers
    /// OUT_OF_ORDER_SEQUENCE_NUMBER.
    fn out_of_order(p: &mut Producer) -> Vec<Effect<KafkaNode>> {
        let records = (0..5).map(|seq| Record { id: RecordId { producer: 0, seq }, key: None, size: 100, value: None }).collect();
        let batch = ProducerBatch { partition: 0, base_sequence: Some(0), epoch: 0, records, bytes: 500, created_at: SimTime(0), attempts: 1, retry_at: SimTime(0) };
        p.in_flight.insert(1, InFlight { node: NodeId(1), batches: vec![batch] });
        let error = PartitionProduceResponse { partition: TopicPartition::new("t", 0), error_code: ErrorCode::OutOfOrderSequenceNumber, base_offset: None, log_start_offset: Offset(0) };
        let resp = ProduceResponse { correlation_id: 1, responses: vec![error] };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut out = Vec::new();
        let mut ctx = Ctx::new(SimTime(1_000), NodeId(5), &mut rng, &mut out, None);
        p.on_produce_response(&mut ctx, NodeId(1), resp);
        out
    }

    #[test]
    fn out_of_order_for_the_next_sequence_bumps_the_epoch() {
        // Nothing acknowledged yet: sequence 0 is the next one, so the broker lost what came
        // before it (KIP-360).
        let mut p = idempotent();
        let fx = out_of_order(&mut p);
        assert_eq!(p.epoch, 1);
        assert!(fx.iter().any(|e| matches!(e, Effect::Mark("producer.epoch_bump"))));
    }

    #[test]
    fn out_of_order_behind_a_later_acknowledged_batch_is_retried_as_it_is() {
        // Sequences 5..=9 were acknowledged (sent to a new leader while 0..=4 was in flight to the
        // old one): 0 is not the next sequence, the epoch stays, the batch keeps its sequence.
        let mut p = idempotent();
        p.last_acked_sequence.insert(0, 9);
        let fx = out_of_order(&mut p);
        assert_eq!(p.epoch, 0);
        assert!(!fx.iter().any(|e| matches!(e, Effect::Mark("producer.epoch_bump"))));
        let queued = &p.accumulator[&0];
        assert_eq!((queued.len(), queued[0].base_sequence, queued[0].epoch), (1, Some(0), 0));
    }
}
