//! Produce: appending as leader, `acks`, `min.insync.replicas`, and the delayed produce
//! (Kafka's produce purgatory).
//!
//! - `acks=all` with an ISR below `min.insync.replicas` is refused before appending:
//!   NOT_ENOUGH_REPLICAS. Otherwise it completes when the HW reaches the batch's end; if the ISR
//!   has shrunk below `min.insync.replicas` by then the answer is
//!   NOT_ENOUGH_REPLICAS_AFTER_APPEND (the records are in the log and may well be committed).
//! - `acks=1` completes when the leader's own append is complete (after the fsync, when
//!   `flush.messages` asked for one).
//! - A leader that loses its leadership answers NOT_LEADER_OR_FOLLOWER to what is pending.

use super::{Broker, BrokerCtx, BrokerTimer};
use crate::model::ids::{NodeId, Offset, TopicPartition};
use crate::model::node::{DiskEntry, NodeTimer};
use crate::model::protocol::*;
use crate::model::time::SimDuration;

#[derive(Clone, Debug)]
pub(crate) struct PendingProduce {
    from: NodeId,
    correlation_id: u64,
    acks: Acks,
    /// Per partition: the response so far, and the offset that must be reached to answer it.
    parts: Vec<(PartitionProduceResponse, Option<Offset>)>,
    /// What the append was for: a client's produce, or a group coordinator's offset commit.
    purpose: Purpose,
}

#[derive(Clone, Debug)]
pub(crate) enum Purpose {
    Produce,
    /// An OffsetCommit written to `__consumer_offsets` (acks=-1): applied and answered once
    /// committed.
    OffsetCommit { group: String, offsets: Vec<(TopicPartition, Offset)>, commit_timestamp_ms: u64 },
    /// Tombstones of expired offsets: nobody waits for them.
    OffsetTombstones,
    /// A generation's group metadata: the SyncGroups are answered once it is committed.
    GroupMetadata { group: String, generation: i32 },
}

impl Broker {
    pub(crate) fn on_produce(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, req: ProduceRequest) {
        let mut parts = Vec::new();
        let mut appended = Vec::new();
        for PartitionRecords { partition: tp, records, producer } in req.topic_data {
            let (resp, need) = self.append_as_leader(ctx, &tp, records, producer, req.acks);
            if resp.error_code == ErrorCode::None {
                appended.push(tp.clone());
            }
            parts.push((resp, need));
        }
        if req.acks == Acks::None {
            ctx.explain(|| "acks=0: no response is sent".into());
        } else {
            let id = self.next_id();
            self.pending_produces.insert(id, PendingProduce { from, correlation_id: req.correlation_id, acks: req.acks, parts, purpose: Purpose::Produce });
            ctx.set_timer(NodeTimer::Broker(BrokerTimer::ProduceExpiry(id)), SimDuration::from_millis(req.timeout_ms));
        }
        // Every partition was appended before any is looked at, so a delayed fetch on a later
        // partition may already be answerable when the first one progresses: try them all.
        for tp in appended {
            self.maybe_advance_hw(ctx, &tp);
            self.try_complete_produces(ctx);
            self.try_complete_fetches(ctx);
        }
        self.try_complete_produces(ctx);
    }

    /// Appends one partition's records as leader. Returns the response so far and, when appended,
    /// the offset that completes it.
    fn append_as_leader(
        &mut self,
        ctx: &mut BrokerCtx<'_>,
        tp: &TopicPartition,
        records: Vec<Record>,
        producer: Option<ProducerSequence>,
        acks: Acks,
    ) -> (PartitionProduceResponse, Option<Offset>) {
        let me = self.id();
        let Some(part) = self.partitions.get_mut(tp) else {
            return (error_response(tp, ErrorCode::UnknownTopicOrPartition), None);
        };
        let mut resp = error_response(tp, ErrorCode::None);
        resp.log_start_offset = part.log.log_start_offset();
        if !part.is_leader(me) {
            resp.error_code = ErrorCode::NotLeaderOrFollower;
            ctx.mark("broker.produce.not_leader");
            return (resp, None);
        }
        if acks == Acks::All && part.is_under_min_isr() {
            resp.error_code = ErrorCode::NotEnoughReplicas;
            ctx.mark("broker.produce.not_enough_replicas");
            let (isr, min) = (part.isr().to_vec(), part.topic.min_insync_replicas);
            ctx.explain(|| format!("{tp}: ISR {} is below min.insync.replicas={min}: NOT_ENOUGH_REPLICAS, nothing appended", crate::model::BrokerId::list(&isr)));
            return (resp, None);
        }
        if let Some(p) = producer {
            match part.log.producer_state(p.producer_id, p.base_sequence) {
                (Some(dup), _) => {
                    // A retry of a batch that is already in the log: answer with its offset.
                    let (base, next) = (dup.base_offset, dup.next_offset());
                    ctx.mark("broker.produce.duplicate_sequence");
                    ctx.explain(|| format!("{tp}: producer {} sequence {} is already at offset {base}: not appended again", p.producer_id, p.base_sequence));
                    resp.base_offset = Some(base);
                    return (resp, Some(next));
                }
                (None, Some(expected)) if p.base_sequence != expected => {
                    resp.error_code = ErrorCode::OutOfOrderSequenceNumber;
                    ctx.mark("broker.produce.out_of_order_sequence");
                    return (resp, None);
                }
                _ => {}
            }
        }
        let n = records.len() as u64;
        let epoch = part.leader_epoch();
        let batch = part.log.append(records, epoch, ctx.wall_clock_ms(), producer).clone();
        let (base, next) = (batch.base_offset, batch.next_offset());
        ctx.append(part.log_file(), DiskEntry::Batch(batch));
        let forced = super::count_appended(ctx, part, n);
        ctx.explain(|| {
            let flush = if forced { ", flush.messages reached: fsync before it counts" } else { ", in the page cache (not fsynced)" };
            format!("leader {me} appended {n} record(s) of {tp} at offsets {base}..{} in leader epoch {epoch} (acks={acks}){flush}", next.0 - 1)
        });
        resp.base_offset = Some(base);
        (resp, Some(next))
    }

    /// After a partition's log, HW or ISR moved: advance the leader's HW, answer delayed produces
    /// and fetches.
    pub(crate) fn partition_progressed(&mut self, ctx: &mut BrokerCtx<'_>, tp: &TopicPartition) {
        self.maybe_advance_hw(ctx, tp);
        self.try_complete_produces(ctx);
        // Only a delayed fetch that reads `tp` can be waiting for it (the purgatory's key).
        self.try_complete_fetches_on(ctx, Some(tp));
    }

    /// Advances the leader's high watermark of `tp` as far as its ISR allows; true when it moved.
    pub(crate) fn maybe_advance_hw(&mut self, ctx: &mut BrokerCtx<'_>, tp: &TopicPartition) -> bool {
        let me = self.id();
        let allow = self.bugs().kafka_15583;
        let Some(part) = self.partitions.get_mut(tp) else { return false };
        if part.is_leader(me) && part.maybe_advance_leader_hw(me, allow) {
            let hw = part.log.high_watermark();
            ctx.explain(|| format!("high watermark of {tp} advanced to {hw}"));
            return true;
        }
        false
    }

    pub(crate) fn try_complete_produces(&mut self, ctx: &mut BrokerCtx<'_>) {
        let me = self.id();
        let mut ready = Vec::new();
        for (id, pending) in self.pending_produces.iter_mut() {
            for (resp, need) in pending.parts.iter_mut() {
                let Some(required) = *need else { continue };
                let Some(part) = self.partitions.get(&resp.partition) else { continue };
                if !part.is_leader(me) {
                    resp.error_code = ErrorCode::NotLeaderOrFollower;
                    *need = None;
                    continue;
                }
                let reached = match pending.acks {
                    Acks::All => part.log.high_watermark(),
                    _ => part.complete_offset,
                };
                if reached >= required {
                    if pending.acks == Acks::All && part.is_under_min_isr() {
                        resp.error_code = ErrorCode::NotEnoughReplicasAfterAppend;
                    }
                    *need = None;
                }
            }
            if pending.parts.iter().all(|(_, need)| need.is_none()) {
                ready.push(*id);
            }
        }
        for id in ready {
            let pending = self.pending_produces.remove(&id).expect("listed");
            ctx.cancel_timer(NodeTimer::Broker(BrokerTimer::ProduceExpiry(id)));
            self.respond(ctx, pending);
        }
    }

    pub(crate) fn expire_produce(&mut self, ctx: &mut BrokerCtx<'_>, id: u64) {
        let Some(mut pending) = self.pending_produces.remove(&id) else { return };
        for (resp, need) in pending.parts.iter_mut() {
            if need.is_some() {
                resp.error_code = ErrorCode::RequestTimedOut;
                *need = None;
            }
        }
        ctx.mark("broker.produce.timed_out");
        ctx.explain(|| "the delayed produce timed out: REQUEST_TIMED_OUT".into());
        self.respond(ctx, pending);
    }

    fn respond(&mut self, ctx: &mut BrokerCtx<'_>, pending: PendingProduce) {
        match pending.purpose {
            Purpose::Produce => {
                let responses = pending.parts.into_iter().map(|(r, _)| r).collect();
                ctx.send(pending.from, Msg::ProduceResponse(ProduceResponse { correlation_id: pending.correlation_id, responses }));
            }
            Purpose::GroupMetadata { group, generation } => {
                let ok = pending.parts.first().is_some_and(|(r, _)| r.error_code == ErrorCode::None);
                if let Some(g) = self.groups.get_mut(&group) {
                    g.metadata_written(ctx, generation, ok);
                }
            }
            Purpose::OffsetTombstones => {}
            Purpose::OffsetCommit { group, offsets, commit_timestamp_ms } => {
                // Storage errors reach the client as COORDINATOR_NOT_AVAILABLE (reference A.1).
                let error = match pending.parts.first().map(|(r, _)| r.error_code) {
                    Some(ErrorCode::None) => ErrorCode::None,
                    Some(ErrorCode::NotLeaderOrFollower) => ErrorCode::NotCoordinator,
                    Some(ErrorCode::RequestTimedOut) => ErrorCode::RequestTimedOut,
                    _ => ErrorCode::CoordinatorNotAvailable,
                };
                if error == ErrorCode::None {
                    if let Some(g) = self.groups.get_mut(&group) {
                        g.apply_commit(ctx, &offsets, commit_timestamp_ms);
                    }
                }
                let partitions = offsets.into_iter().map(|(tp, _)| (tp, error)).collect();
                let resp = crate::model::group::protocol::OffsetCommitResponse { correlation_id: pending.correlation_id, partitions };
                ctx.send(pending.from, Msg::OffsetCommitResponse(resp));
            }
        }
    }

    /// A valid OffsetCommit: written to the group's `__consumer_offsets` partition with acks=-1;
    /// the group's offsets change, and the member hears back, once the records are committed.
    pub(crate) fn write_offset_commit(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, req: crate::model::group::protocol::OffsetCommitRequest) {
        // `commitTimestamp`: the coordinator's wall clock when it takes the commit.
        let commit_timestamp_ms = ctx.wall_clock_ms();
        let values = req
            .offsets
            .iter()
            .map(|(partition, offset)| {
                RecordValue::OffsetCommit(OffsetCommitValue { group: req.group_id.clone(), partition: partition.clone(), offset: *offset, commit_timestamp_ms })
            })
            .collect();
        let purpose = Purpose::OffsetCommit { group: req.group_id.clone(), offsets: req.offsets, commit_timestamp_ms };
        self.write_group_records(ctx, from, req.correlation_id, &req.group_id, values, purpose);
    }

    /// Writes tombstones for a group's expired offsets.
    pub(crate) fn write_offset_tombstones(&mut self, ctx: &mut BrokerCtx<'_>, group: &str, expired: &[(TopicPartition, Offset)]) {
        let values = expired.iter().map(|(tp, _)| RecordValue::OffsetTombstone { group: group.to_string(), partition: tp.clone() }).collect();
        let me = ctx.me();
        self.write_group_records(ctx, me, 0, group, values, Purpose::OffsetTombstones);
    }

    /// The partitions of `group` with an OffsetCommit still being written.
    pub(crate) fn pending_commits(&self, group: &str) -> std::collections::BTreeSet<TopicPartition> {
        self.pending_produces
            .values()
            .filter_map(|p| match &p.purpose {
                Purpose::OffsetCommit { group: g, offsets, .. } if g == group => Some(offsets.iter().map(|(tp, _)| tp.clone())),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Writes a generation's group metadata; the group answers its SyncGroups when it is committed.
    pub(crate) fn write_group_metadata(&mut self, ctx: &mut BrokerCtx<'_>, value: GroupMetadataValue) {
        let purpose = Purpose::GroupMetadata { group: value.group.clone(), generation: value.generation };
        let group = value.group.clone();
        let me = ctx.me();
        self.write_group_records(ctx, me, 0, &group, vec![RecordValue::GroupMetadata(value)], purpose);
    }

    /// Appends records to the group's `__consumer_offsets` partition with acks=-1 and parks the
    /// answer until they are committed (or `offsets.commit.timeout.ms` passes).
    fn write_group_records(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, correlation_id: u64, group: &str, values: Vec<RecordValue>, purpose: Purpose) {
        let tp = self.config.layout.coordinator_partition(group);
        let producer = u32::MAX - self.id().0 as u32;
        let records = values
            .into_iter()
            .map(|value| {
                let seq = self.next_id() as u32;
                Record { id: crate::model::ids::RecordId { producer, seq }, key: Some(group.to_string()), size: 64, value: Some(std::sync::Arc::new(value)) }
            })
            .collect();
        let (resp, need) = self.append_as_leader(ctx, &tp, records, None, Acks::All);
        let id = self.next_id();
        let pending = PendingProduce { from, correlation_id, acks: Acks::All, parts: vec![(resp, need)], purpose };
        self.pending_produces.insert(id, pending);
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::ProduceExpiry(id)), SimDuration::from_millis(COMMIT_TIMEOUT_MS));
        self.partition_progressed(ctx, &tp);
    }
}

/// How long an offset commit may wait for `__consumer_offsets` to commit it
/// (`offsets.commit.timeout.ms`).
const COMMIT_TIMEOUT_MS: u64 = 5_000;

fn error_response(tp: &TopicPartition, error_code: ErrorCode) -> PartitionProduceResponse {
    PartitionProduceResponse { partition: tp.clone(), error_code, base_offset: None, log_start_offset: Offset(-1) }
}
