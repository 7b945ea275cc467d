//! Serving Fetch requests, from consumers and from followers, and the delayed fetch (Kafka's fetch
//! purgatory).
//!
//! - Consumers read below the high watermark (`read_uncommitted`); followers read to the LEO.
//! - A fetch naming a leader epoch older than the leader's gets FENCED_LEADER_EPOCH, a newer one
//!   UNKNOWN_LEADER_EPOCH (KIP-320).
//! - A follower's fetch carries the epoch of its last batch. If the leader's log does not have
//!   that epoch ending at or after the fetch offset, the follower diverged: the answer is the
//!   diverging epoch and its end offset, with no records (KAFKA-10554), and the follower truncates.
//! - A follower's fetch offset is its LEO: the leader records it, may add the follower to the ISR,
//!   and may advance the HW.

use super::{Broker, BrokerCtx, BrokerTimer};
use crate::model::ids::{BrokerId, LeaderEpoch, NodeId, Offset, TopicPartition};
use crate::model::node::NodeTimer;
use crate::model::protocol::*;
use crate::model::time::SimDuration;

#[derive(Clone, Debug)]
pub(crate) struct PendingFetch {
    from: NodeId,
    request: FetchRequest,
}

/// With the KAFKA-9835 bug switch: how long a consumer read of the log's last segment takes,
/// between `FileRecords.slice`'s two `sizeInBytes()` calls. The broker handles requests on several
/// threads: an append it handles in this time lands inside the slice.
pub const SLICE_TIME: SimDuration = SimDuration::from_micros(20);

/// A fetch answer whose reads end at the log end as it will be when the slice completes
/// (KAFKA-9835): the answer, and for each such partition its index, fetch offset and byte limit.
#[derive(Clone, Debug)]
pub(crate) struct PendingSlice {
    to: NodeId,
    response: FetchResponse,
    open: Vec<(usize, Offset, u64)>,
}

impl Broker {
    pub(crate) fn on_fetch(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, req: FetchRequest) {
        if let Some(follower) = req.replica_id {
            self.record_follower_fetch(ctx, follower, &req);
        }
        if req.max_wait_ms == 0 || self.fetchable(&req) {
            self.answer_fetch(ctx, from, &req);
            return;
        }
        let id = self.next_id();
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::FetchExpiry(id)), SimDuration::from_millis(req.max_wait_ms));
        self.pending_fetches.insert(id, PendingFetch { from, request: req });
    }

    /// A follower's fetch tells the leader its LEO: update what the leader knows, then the ISR and
    /// the HW may move.
    fn record_follower_fetch(&mut self, ctx: &mut BrokerCtx<'_>, follower: BrokerId, req: &FetchRequest) {
        let me = self.id();
        let now = ctx.now();
        let kip_279 = self.bugs().kip_279;
        let mut progressed = Vec::new();
        for fp in &req.partitions {
            let Some(part) = self.partitions.get_mut(&fp.partition) else { continue };
            if !part.is_leader(me) || fp.current_leader_epoch != Some(part.leader_epoch()) {
                continue;
            }
            if diverging(part, fp, kip_279).is_some() || fp.fetch_offset > part.log.log_end_offset() {
                continue;
            }
            part.update_follower(follower, fp.fetch_offset, now);
            progressed.push(fp.partition.clone());
        }
        for tp in progressed {
            self.maybe_expand_isr(ctx, &tp, follower);
            // A follower's fetch changes only what the leader knows of that follower; the one thing
            // a delayed produce or fetch can be waiting for that it moves is the high watermark.
            // As Kafka's Partition.updateFollowerFetchState, delayed requests are tried only then.
            if self.maybe_advance_hw(ctx, &tp) {
                self.try_complete_produces(ctx);
                self.try_complete_fetches_on(ctx, Some(&tp));
            }
        }
    }

    /// Whether a delayed fetch can be answered now: some partition must be answered at once (an
    /// error or a divergence), or the partitions hold `min.bytes` to return (DelayedFetch's
    /// tryComplete).
    fn fetchable(&self, req: &FetchRequest) -> bool {
        let me = self.id();
        let min_bytes = req.min_bytes.max(1);
        let mut bytes = 0;
        for fp in &req.partitions {
            let Some(part) = self.partitions.get(&fp.partition) else { return true };
            if !serves(part, me, req) || fp.current_leader_epoch.is_some_and(|e| e != part.leader_epoch()) {
                return true;
            }
            let log = &part.log;
            if fp.fetch_offset < log.log_start_offset() || fp.fetch_offset > log.log_end_offset() {
                return true;
            }
            if req.replica_id.is_some() && diverging(part, fp, self.bugs().kip_279).is_some() {
                return true;
            }
            let until = if req.replica_id.is_some() { log.log_end_offset() } else { log.high_watermark() };
            bytes += log.readable_bytes(fp.fetch_offset, until, req.max_bytes);
            if bytes >= min_bytes {
                return true;
            }
        }
        false
    }

    pub(crate) fn try_complete_fetches(&mut self, ctx: &mut BrokerCtx<'_>) {
        self.try_complete_fetches_on(ctx, None);
    }

    /// Answers the delayed fetches that can be answered now, of those that read `on` (all of them
    /// when `None`).
    pub(crate) fn try_complete_fetches_on(&mut self, ctx: &mut BrokerCtx<'_>, on: Option<&TopicPartition>) {
        let ready: Vec<u64> = self
            .pending_fetches
            .iter()
            .filter(|(_, p)| on.is_none_or(|tp| p.request.partitions.iter().any(|fp| fp.partition == *tp)))
            .filter(|(_, p)| self.fetchable(&p.request))
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            let pending = self.pending_fetches.remove(&id).expect("listed");
            ctx.cancel_timer(NodeTimer::Broker(BrokerTimer::FetchExpiry(id)));
            self.answer_fetch(ctx, pending.from, &pending.request);
        }
    }

    pub(crate) fn expire_fetch(&mut self, ctx: &mut BrokerCtx<'_>, id: u64) {
        if let Some(pending) = self.pending_fetches.remove(&id) {
            self.answer_fetch(ctx, pending.from, &pending.request);
        }
    }

    fn answer_fetch(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, req: &FetchRequest) {
        let me = self.id();
        let (kip_279, kafka_9835) = (self.bugs().kip_279, self.bugs().kafka_9835);
        let mut partitions = Vec::new();
        let mut open = Vec::new();
        for fp in &req.partitions {
            let tp = &fp.partition;
            let mut data = FetchPartitionData {
                partition: tp.clone(),
                error_code: ErrorCode::None,
                high_watermark: Offset(-1),
                log_start_offset: Offset(-1),
                records: Vec::new(),
                diverging_epoch: None,
            };
            match self.partitions.get(tp) {
                None => data.error_code = ErrorCode::UnknownTopicOrPartition,
                Some(part) if !serves(part, me, req) => data.error_code = ErrorCode::NotLeaderOrFollower,
                Some(part) => {
                    let log = &part.log;
                    data.high_watermark = log.high_watermark();
                    data.log_start_offset = log.log_start_offset();
                    let epoch = part.leader_epoch();
                    match fp.current_leader_epoch {
                        Some(e) if e < epoch => {
                            data.error_code = ErrorCode::FencedLeaderEpoch;
                            ctx.mark("broker.fetch.fenced_leader_epoch");
                        }
                        Some(e) if e > epoch => data.error_code = ErrorCode::UnknownLeaderEpoch,
                        // A follower's divergence is checked before its offset: a follower whose
                        // log runs past the leader's end learns where to truncate, not
                        // OFFSET_OUT_OF_RANGE (Partition.fetchRecords checks lastFetchedEpoch
                        // before it reads the log).
                        _ if req.replica_id.is_some() && diverging(part, fp, kip_279).is_some() => {
                            let (e, end) = diverging(part, fp, kip_279).expect("checked");
                            data.diverging_epoch = Some((e, end));
                            ctx.mark("broker.fetch.diverging_epoch");
                            let f = req.replica_id.expect("checked");
                            ctx.explain(|| format!("follower {f}'s log of {tp} diverged: epoch {e} ends at {end} here"));
                        }
                        _ if fp.fetch_offset < log.log_start_offset() || fp.fetch_offset > log.log_end_offset() => {
                            data.error_code = ErrorCode::OffsetOutOfRange;
                            ctx.mark("broker.fetch.offset_out_of_range");
                            let (o, s, e) = (fp.fetch_offset, log.log_start_offset(), log.log_end_offset());
                            ctx.explain(|| format!("fetch of {tp} at {o} is outside the log [{s}, {e}]: OFFSET_OUT_OF_RANGE"));
                        }
                        _ if req.replica_id.is_some() => data.records = log.read(fp.fetch_offset, log.log_end_offset(), req.max_bytes),
                        _ => {
                            if !part.is_leader(me) {
                                ctx.mark("broker.fetch.from_follower");
                            }
                            let (hw, leo) = (log.high_watermark(), log.log_end_offset());
                            data.records = log.read(fp.fetch_offset, hw, req.max_bytes);
                            // FileRecords.slice before KAFKA-9835: a read whose limit is the file's
                            // end asks the file's size again to cut it, after a concurrent append.
                            let to_the_end = data.records.last().is_some_and(|b| b.next_offset() == leo);
                            if kafka_9835 && hw == leo && to_the_end {
                                open.push((partitions.len(), fp.fetch_offset, req.max_bytes));
                            }
                        }
                    }
                }
            }
            partitions.push(data);
        }
        let response = FetchResponse { correlation_id: req.correlation_id, partitions };
        if open.is_empty() {
            return ctx.send(from, Msg::FetchResponse(response));
        }
        let id = self.next_id();
        self.pending_slices.insert(id, PendingSlice { to: from, response, open });
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::FetchSlice(id)), SLICE_TIME);
    }

    /// The slices of a KAFKA-9835 read complete: each open read ends at the log end as it is now,
    /// which an append may have moved past the high watermark the answer carries.
    pub(crate) fn complete_slice(&mut self, ctx: &mut BrokerCtx<'_>, id: u64) {
        let Some(PendingSlice { to, mut response, open }) = self.pending_slices.remove(&id) else { return };
        for (i, from, max_bytes) in open {
            let data = &mut response.partitions[i];
            let Some(part) = self.partitions.get(&data.partition) else { continue };
            let log = &part.log;
            data.records = log.read(from, log.log_end_offset(), max_bytes);
            let end = data.records.last().map_or(from, |b| b.next_offset());
            if end > data.high_watermark {
                let (tp, hw) = (data.partition.clone(), data.high_watermark);
                ctx.mark("broker.fetch.read_past_high_watermark");
                ctx.explain(|| format!("{tp}: KAFKA-9835 bug switch: an append landed while the read sliced the segment: it returns up to {end}, past the high watermark {hw}"));
            }
        }
        ctx.send(to, Msg::FetchResponse(response));
    }
}

/// Whether this replica answers the fetch: its leader does; a follower answers a consumer that sent
/// client metadata (Fetch v11+, KIP-392: `FetchParams.fetchOnlyLeader` is false), reading below
/// its own high watermark.
fn serves(part: &super::Partition, me: BrokerId, req: &FetchRequest) -> bool {
    part.is_leader(me) || (req.replica_id.is_none() && req.rack_id.is_some() && part.state.is_some())
}

/// The leader's divergence check for a follower's fetch (see [`super::epochs::divergence`]), or,
/// with the KIP-279 bug switch, its OffsetsForLeaderEpoch v0 answer
/// ([`super::epochs::divergence_before_kip_279`]).
fn diverging(part: &super::Partition, fp: &FetchPartition, kip_279: bool) -> Option<(LeaderEpoch, Offset)> {
    let (leo, requested) = (part.log.log_end_offset(), fp.last_fetched_epoch?);
    if kip_279 {
        return super::epochs::divergence_before_kip_279(&part.epochs, leo, fp.fetch_offset, requested);
    }
    super::epochs::divergence(&part.epochs, leo, fp.fetch_offset, requested)
}
