//! The follower side of replication and the leader's ISR changes.
//!
//! - **Becoming leader** (a new leader epoch names this broker): the epoch starts at the LEO in
//!   the epoch cache; every follower's state is reset (LEO unknown, ISR members caught up now), so
//!   the HW waits until each ISR member has fetched.
//! - **Becoming follower**: pending produces are answered NOT_LEADER_OR_FOLLOWER; the replica
//!   fetches from the new leader with its last fetched epoch, and truncates when the leader
//!   answers with a diverging epoch. With the KIP-101 bug switch it instead truncates at once to
//!   its own HW, which lags the leader's by a fetch round trip.
//! - **Follower fetch responses**: truncate on divergence, else append the leader's batches as
//!   they are (their leader epochs kept), then take `HW = min(leader HW, own LEO)`.
//! - **ISR**: every `replica.lag.time.max.ms / 2` the leader removes out-of-sync followers; a
//!   follower that catches up to the HW and to the start of the current epoch (KAFKA-7128) is
//!   added. Both go to the controller as AlterPartition, one at a time per partition.

use std::collections::BTreeMap;

use super::{Broker, BrokerCtx, BrokerTimer, RemoteReplica};
use crate::model::ids::{BrokerId, NodeId, Offset, TopicPartition};
use crate::model::node::{DiskEntry, NodeTimer};
use crate::model::protocol::*;
use crate::model::time::{SimDuration, SimTime};

/// With the KAFKA-14704 bug switch: how long after applying a diverging answer's high watermark
/// the fetcher truncates (the rest of the answer is processed first, then the truncation takes
/// the log's lock and rewrites the epoch checkpoint). Consumers reading from the follower in
/// between see its raised high watermark.
pub const TRUNCATION_LAG: SimDuration = SimDuration::from_millis(2);

impl Broker {
    pub(crate) fn become_leader(&mut self, ctx: &mut BrokerCtx<'_>, tp: &TopicPartition) {
        let me = self.id();
        let now = ctx.now();
        let part = self.partitions.get_mut(tp).expect("hosted");
        let epoch = part.leader_epoch();
        let leo = part.log.log_end_offset();
        if part.epochs.assign(epoch, leo) {
            Broker::persist_epochs(ctx, part);
        }
        let state = part.state.clone().expect("a leader has metadata");
        part.remote = state
            .replicas
            .iter()
            .filter(|b| **b != me)
            .map(|b| {
                let caught_up = if state.isr.contains(b) { now } else { SimTime::ZERO };
                (*b, RemoteReplica { log_end_offset: None, last_caught_up: caught_up, last_fetch_leader_leo: leo, last_fetch_time: now })
            })
            .collect();
        part.pending_isr = None;
        part.complete_offset = if part.syncs_in_flight == 0 { leo } else { part.complete_offset };
        let hw = part.log.high_watermark();
        ctx.mark("broker.become_leader");
        ctx.explain(|| format!("{tp}: became leader in epoch {epoch}; the epoch starts at offset {leo}; HW is {hw}"));
        if tp.topic == crate::model::group::protocol::CONSUMER_OFFSETS {
            // Loading reads the partition to its log end: 10 ms, plus 10 µs a record.
            let records = self.partitions[tp].log.records().count() as u64;
            let took = SimDuration::from_millis(10) + SimDuration::from_micros(10 * records);
            self.loading.insert(tp.clone());
            ctx.set_timer(NodeTimer::Broker(super::BrokerTimer::GroupsLoaded(tp.clone())), took);
            self.start_offsets_expiry(ctx);
            ctx.explain(|| format!("{tp}: loading the groups it coordinates ({records} records); meanwhile their requests get COORDINATOR_LOAD_IN_PROGRESS"));
        }
        self.partition_progressed(ctx, tp);
    }

    /// Loading finished: if this broker still leads the partition, its groups come alive.
    pub(crate) fn groups_loaded(&mut self, ctx: &mut BrokerCtx<'_>, tp: &TopicPartition) {
        if !self.loading.remove(tp) {
            return;
        }
        let me = self.id();
        if self.partitions.get(tp).is_some_and(|p| p.is_leader(me)) {
            self.load_groups(ctx, tp);
        }
    }

    /// The new coordinator of a `__consumer_offsets` partition loads its groups' committed offsets
    /// and metadata by reading the partition to its log end (reference A.1).
    fn load_groups(&mut self, ctx: &mut BrokerCtx<'_>, tp: &TopicPartition) {
        use crate::model::protocol::RecordValue;
        let values: Vec<RecordValue> = self.partitions[tp].log.records().filter_map(|(_, r)| r.value.as_deref().cloned()).collect();
        let loaded = values.len();
        let mut metadata = std::collections::BTreeMap::new();
        let group_config = self.group_config();
        for value in values {
            match value {
                RecordValue::OffsetCommit(v) => {
                    let group = self.groups.entry(v.group.clone()).or_insert_with(|| crate::model::group::Group::new(v.group.clone(), group_config));
                    group.offsets.insert(v.partition.clone(), v.offset);
                    group.commit_timestamps_ms.insert(v.partition.clone(), v.commit_timestamp_ms);
                }
                RecordValue::OffsetTombstone { group, partition } => {
                    if let Some(g) = self.groups.get_mut(&group) {
                        g.offsets.remove(&partition);
                        g.commit_timestamps_ms.remove(&partition);
                    }
                }
                RecordValue::GroupMetadata(v) => {
                    metadata.insert(v.group.clone(), v);
                }
            }
        }
        for (name, value) in metadata {
            let group = self.groups.entry(name.clone()).or_insert_with(|| crate::model::group::Group::new(name, group_config));
            group.restore(ctx, &value);
        }
        if loaded > 0 {
            ctx.mark("group.offsets_loaded");
            ctx.explain(|| format!("{tp}: loaded {loaded} committed offset record(s) of the groups it coordinates"));
        }
    }

    pub(crate) fn become_follower(&mut self, ctx: &mut BrokerCtx<'_>, tp: &TopicPartition, was_leader: bool) {
        let kip_101 = self.bugs().kip_101;
        let part = self.partitions.get_mut(tp).expect("hosted");
        part.remote.clear();
        part.pending_isr = None;
        let leader = part.leader();
        let epoch = part.leader_epoch();
        part.truncating = true;
        if kip_101 {
            let hw = part.log.high_watermark();
            if hw < part.log.log_end_offset() {
                let leo = part.log.log_end_offset();
                truncate(ctx, part, hw);
                ctx.mark("broker.truncate.to_high_watermark");
                ctx.explain(|| format!("{tp}: KIP-101 bug switch: truncated to its own HW {hw} (LEO was {leo})"));
            }
        }
        self.loading.remove(tp);
        if was_leader {
            ctx.mark("broker.resign_leadership");
            // The groups this broker coordinated through this partition are unloaded.
            let layout = &self.config.layout;
            let mut unloaded = false;
            for (_, group) in self.groups.iter_mut().filter(|(g, _)| &layout.coordinator_partition(g) == tp) {
                group.unload(ctx);
                unloaded = true;
            }
            self.groups.retain(|g, _| &layout.coordinator_partition(g) != tp);
            if unloaded {
                ctx.mark("group.unloaded");
            }
        }
        let who = leader.map_or("no leader".to_string(), |l| format!("leader {l}"));
        ctx.explain(|| format!("{tp}: follower in epoch {epoch}, {who}"));
        self.try_complete_produces(ctx);
        self.try_complete_fetches(ctx);
    }

    /// Sends one fetch to each leader of a partition this broker follows, unless one is in flight.
    pub(crate) fn fetch_from_leaders(&mut self, ctx: &mut BrokerCtx<'_>) {
        let me = self.id();
        let (kip_101, kip_279) = (self.bugs().kip_101, self.bugs().kip_279);
        let mut by_leader: BTreeMap<NodeId, Vec<FetchPartition>> = BTreeMap::new();
        for part in self.partitions.values() {
            let Some(leader) = part.leader().filter(|l| *l != me) else { continue };
            if self.diverged.contains_key(&part.tp) {
                continue; // the fetcher has not truncated yet (KAFKA-14704 bug switch)
            }
            let Some(node) = self.metadata.node_of(leader) else { continue };
            if self.replica_fetches.contains_key(&node) {
                continue;
            }
            let last_fetched_epoch = match (kip_101, kip_279) {
                (true, _) => None,
                (false, true) => part.epochs.latest_epoch().filter(|_| part.truncating),
                (false, false) => part.epochs.latest_epoch(),
            };
            by_leader.entry(node).or_default().push(FetchPartition {
                partition: part.tp.clone(),
                // What is complete: with flush.messages, a follower fsyncs what it appended
                // before its next fetch counts it.
                fetch_offset: part.complete_offset.min(part.log.log_end_offset()),
                current_leader_epoch: Some(part.leader_epoch()),
                last_fetched_epoch,
            });
        }
        let wait = self.settings().replica_fetch_wait_max_ms;
        for (node, partitions) in by_leader {
            let corr = self.next_id();
            self.replica_fetches.insert(node, corr);
            let req = FetchRequest { correlation_id: corr, replica_id: Some(me), max_wait_ms: wait, min_bytes: 1, max_bytes: self.settings().replica_fetch_max_bytes, partitions, rack_id: None };
            ctx.send(node, Msg::FetchRequest(req));
            ctx.set_timer(NodeTimer::Broker(BrokerTimer::ReplicaFetchTimeout(corr)), SimDuration::from_millis(30_000));
        }
    }

    pub(crate) fn on_replica_fetch_response(&mut self, ctx: &mut BrokerCtx<'_>, from: NodeId, resp: FetchResponse) {
        if self.replica_fetches.get(&from) != Some(&resp.correlation_id) {
            return;
        }
        self.replica_fetches.remove(&from);
        ctx.cancel_timer(NodeTimer::Broker(BrokerTimer::ReplicaFetchTimeout(resp.correlation_id)));
        let me = self.id();
        let mut trouble = false;
        for data in resp.partitions {
            let Some(part) = self.partitions.get_mut(&data.partition) else { continue };
            let leader_node = part.leader().and_then(|l| self.metadata.node_of(l));
            if part.is_leader(me) || leader_node != Some(from) {
                continue; // the metadata moved on while the fetch was in flight
            }
            let tp = data.partition.clone();
            if data.error_code == ErrorCode::OffsetOutOfRange && part.log.log_end_offset() > data.high_watermark && data.high_watermark >= part.log.log_start_offset() {
                // The follower's log runs past the leader's and the leader could not say where
                // they diverge: truncate to the leader's end and fetch again
                // (AbstractFetcherThread.handleOutOfRangeError; the leader's high watermark
                // stands in for its log end offset, which a fetch answer does not carry).
                let (leo, to) = (part.log.log_end_offset(), data.high_watermark);
                truncate(ctx, part, to);
                ctx.mark("broker.truncate.offset_out_of_range");
                ctx.explain(|| format!("{tp}: OFFSET_OUT_OF_RANGE from the leader: truncated from {leo} to its high watermark {to}"));
                continue;
            }
            if data.error_code == ErrorCode::OffsetOutOfRange && part.log.log_end_offset() < data.log_start_offset {
                // Retention on the leader removed everything the follower lacks: it drops its log
                // and starts again at the leader's log start
                // (AbstractFetcherThread.handleOutOfRangeError, truncateFullyAndStartAt).
                let (leo, to) = (part.log.log_end_offset(), data.log_start_offset);
                part.log.truncate_fully_and_start_at(to);
                ctx.rewrite(part.log_file(), Vec::new());
                part.epochs = super::epochs::EpochCache::default();
                Broker::persist_epochs(ctx, part);
                part.complete_offset = to;
                ctx.mark("broker.truncate.fully_start_at");
                ctx.explain(|| format!("{tp}: OFFSET_OUT_OF_RANGE: the leader's log starts at {to}, after this replica's end {leo}: it starts again, empty, at {to}"));
                continue;
            }
            if data.error_code != ErrorCode::None {
                trouble = true;
                let e = data.error_code;
                ctx.explain(|| format!("{tp}: replica fetch failed with {e}"));
                continue;
            }
            if self.config.layout.bugs.kip_279 && std::mem::take(&mut part.truncating) {
                if let Some((_, end)) = data.diverging_epoch {
                    // Before KIP-279: the end offset alone, taken at its word, once.
                    let (leo, hw) = (part.log.log_end_offset(), part.log.high_watermark());
                    let to = if end == Offset(-1) { hw } else { end.min(leo) };
                    truncate(ctx, part, to);
                    ctx.mark("broker.truncate.leader_epoch_end_offset");
                    ctx.explain(|| format!("{tp}: KIP-279 bug switch: the leader says its epoch ends at {end}, no epoch named: truncated from {leo} to {to}; no further epoch checks"));
                    continue;
                }
            }
            if let (Some(diverging), true) = (data.diverging_epoch, self.config.layout.bugs.kafka_14704) {
                // Before KAFKA-14704: the answer's partition data is processed first, high
                // watermark included, and the truncation comes after the whole answer.
                let (old, hw) = (part.log.high_watermark(), data.high_watermark.min(part.log.log_end_offset()));
                part.log.advance_high_watermark(hw);
                if hw > old {
                    ctx.mark("broker.fetch.high_watermark_before_truncation");
                    ctx.explain(|| format!("{tp}: KAFKA-14704 bug switch: took the leader's high watermark {hw} before truncating its diverged log"));
                }
                self.diverged.insert(tp, diverging);
                ctx.set_timer(NodeTimer::Broker(BrokerTimer::TruncateDiverged), TRUNCATION_LAG);
                continue;
            }
            if let Some((epoch, end)) = data.diverging_epoch {
                // Truncate to the end of the largest epoch both logs have (KAFKA-10554).
                let to = super::epochs::truncation_offset(&part.epochs, part.log.log_end_offset(), part.log.log_start_offset(), (epoch, end));
                let leo = part.log.log_end_offset();
                truncate(ctx, part, to);
                ctx.mark("broker.truncate.diverging_epoch");
                ctx.explain(|| format!("{tp}: leader says epoch {epoch} ends at {end}: truncated from {leo} to {to}"));
                continue;
            }
            let mut epochs_changed = false;
            let mut appended = 0;
            for batch in data.records {
                if batch.base_offset != part.log.log_end_offset() {
                    continue; // not contiguous (a stale answer): the next fetch asks again
                }
                epochs_changed |= part.epochs.assign(batch.partition_leader_epoch, batch.base_offset);
                appended += batch.next_offset().0 - batch.base_offset.0;
                part.log.append_batch(batch.clone());
                ctx.append(part.log_file(), DiskEntry::Batch(batch));
            }
            super::count_appended(ctx, part, appended as u64);
            if epochs_changed {
                Broker::persist_epochs(ctx, part);
            }
            let hw = data.high_watermark.min(part.log.log_end_offset());
            part.log.advance_high_watermark(hw);
        }
        if trouble {
            let backoff = SimDuration::from_millis(self.settings().replica_fetch_backoff_ms);
            ctx.set_timer(NodeTimer::Broker(BrokerTimer::ReplicaFetchBackoff), backoff);
        } else {
            self.fetch_from_leaders(ctx);
        }
    }

    /// The KAFKA-14704 bug switch's late truncation: each partition whose fetch answer carried a
    /// diverging epoch truncates now, below the high watermark it already took.
    pub(crate) fn truncate_diverged(&mut self, ctx: &mut BrokerCtx<'_>) {
        let me = self.id();
        for (tp, (epoch, end)) in std::mem::take(&mut self.diverged) {
            let Some(part) = self.partitions.get_mut(&tp).filter(|p| !p.is_leader(me)) else { continue };
            let to = super::epochs::truncation_offset(&part.epochs, part.log.log_end_offset(), part.log.log_start_offset(), (epoch, end));
            let (leo, hw) = (part.log.log_end_offset(), part.log.high_watermark());
            truncate(ctx, part, to);
            ctx.mark("broker.truncate.diverging_epoch");
            ctx.explain(|| format!("{tp}: leader says epoch {epoch} ends at {end}: truncated from {leo} to {to}, below its high watermark {hw}"));
        }
        self.fetch_from_leaders(ctx);
    }

    /// Adds `follower` to the ISR (through the controller) when it may join.
    pub(crate) fn maybe_expand_isr(&mut self, ctx: &mut BrokerCtx<'_>, tp: &TopicPartition, follower: BrokerId) {
        let skip = self.bugs().kafka_7128;
        let part = &self.partitions[tp];
        if part.pending_isr.is_some() || !part.may_join_isr(follower, skip) || !self.metadata.is_active(follower) {
            return;
        }
        let mut isr = part.isr().to_vec();
        isr.push(follower);
        ctx.mark("broker.isr.expand");
        ctx.explain(|| format!("{tp}: follower {follower} caught up: asking the controller to add it to the ISR"));
        self.alter_partition(ctx, tp, isr);
    }

    /// The ISR expiration check: out-of-sync followers leave the ISR.
    pub(crate) fn shrink_isrs(&mut self, ctx: &mut BrokerCtx<'_>) {
        let me = self.id();
        let now = ctx.now();
        let lag = SimDuration::from_millis(self.settings().replica_lag_time_max_ms);
        let shrinks: Vec<(TopicPartition, Vec<BrokerId>, Vec<BrokerId>)> = self
            .partitions
            .values()
            .filter(|p| p.is_leader(me) && p.pending_isr.is_none())
            .filter_map(|p| {
                let out = p.out_of_sync(me, now, lag);
                (!out.is_empty()).then(|| (p.tp.clone(), p.isr().iter().copied().filter(|b| !out.contains(b)).collect(), out))
            })
            .collect();
        for (tp, isr, out) in shrinks {
            ctx.mark("broker.isr.shrink");
            ctx.explain(|| format!("{tp}: {} not caught up within replica.lag.time.max.ms: asking the controller to shrink the ISR to {}", BrokerId::list(&out), BrokerId::list(&isr)));
            self.alter_partition(ctx, &tp, isr);
        }
        ctx.set_timer(NodeTimer::Broker(BrokerTimer::IsrCheck), SimDuration::from_micros(lag.as_micros() / 2));
    }

    fn alter_partition(&mut self, ctx: &mut BrokerCtx<'_>, tp: &TopicPartition, new_isr: Vec<BrokerId>) {
        let Some(broker_epoch) = self.broker_epoch else { return };
        let corr = self.next_id();
        let part = self.partitions.get_mut(tp).expect("hosted");
        let state = part.state.as_ref().expect("a leader has metadata");
        let req = AlterPartitionRequest {
            correlation_id: corr,
            broker_id: self.config.broker_id,
            broker_epoch,
            partition: tp.clone(),
            leader_epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
            new_isr: new_isr.clone(),
        };
        // Only an expansion counts for the HW while in flight (the maximal ISR).
        part.pending_isr = Some(new_isr);
        self.alter_partitions.insert(corr, tp.clone());
        ctx.send(self.config.layout.controller, Msg::AlterPartitionRequest(req));
    }

    pub(crate) fn on_alter_partition_response(&mut self, ctx: &mut BrokerCtx<'_>, resp: AlterPartitionResponse) {
        let Some(tp) = self.alter_partitions.remove(&resp.correlation_id) else { return };
        let Some(part) = self.partitions.get_mut(&tp) else { return };
        part.pending_isr = None;
        if let Some(state) = resp.state.filter(|_| resp.error_code == ErrorCode::None) {
            if part.state.as_ref().is_none_or(|s| state.partition_epoch > s.partition_epoch) {
                let isr = state.isr.clone();
                part.state = Some(state);
                ctx.explain(|| format!("{tp}: the controller applied the ISR {}", BrokerId::list(&isr)));
            }
        }
        self.partition_progressed(ctx, &tp);
    }
}

/// Truncates a replica's log (and its epoch cache) to `offset`, on disk too.
fn truncate(ctx: &mut BrokerCtx<'_>, part: &mut super::Partition, offset: Offset) {
    let keep = part.log.batches_below(offset);
    let straddles = part.log.batches().get(keep.wrapping_sub(1)).is_some_and(|b| b.next_offset() > offset);
    part.log.truncate_to(offset);
    let file = part.log_file();
    if straddles {
        ctx.truncate(file.clone(), keep - 1);
        let cut = part.log.batches().last().expect("the straddling batch remains").clone();
        ctx.append(file, DiskEntry::Batch(cut));
    } else {
        ctx.truncate(file, keep);
    }
    if part.epochs.truncate_from_end(offset) {
        Broker::persist_epochs(ctx, part);
    }
    part.complete_offset = part.complete_offset.min(part.log.log_end_offset());
}
