//! Kafka's protocol messages in Kafka's words: one phrase per request or response naming the
//! fields that matter to a person learning Kafka (error code, generation, member id, leader,
//! assignment, offsets, acks, high watermark), never the whole struct.
//!
//! A response does not repeat its request's content (an OffsetCommit response lists partitions and
//! error codes, not offsets); the caller passes the matching request, when it saw one, so that the
//! phrase can name the offsets, records or group the answer is about.

use std::collections::BTreeMap;

use crate::model::group::protocol::*;
use crate::model::metadata::{MetadataImage, PartitionState};
use crate::model::protocol::*;
use crate::model::{BrokerId, TopicPartition};

/// `[orders-0, orders-1]`
pub fn partitions(tps: &[TopicPartition]) -> String {
    format!("[{}]", tps.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
}

/// `[b0, b1]`
pub fn brokers(ids: &[BrokerId]) -> String {
    format!("[{}]", ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
}

fn leader(l: Option<BrokerId>) -> String {
    l.map_or("none".into(), |b| b.to_string())
}

/// `orders-0=189, orders-1=200`
pub fn offsets(offsets: &[(TopicPartition, crate::model::Offset)]) -> String {
    offsets.iter().map(|(tp, o)| format!("{tp}={o}")).collect::<Vec<_>>().join(", ")
}

/// `1 record`, `3 records`
pub fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `p0#3` or `p0#3..p0#9 (7)`: the records' workload ids, compactly.
fn record_ids(records: &[Record]) -> String {
    match records {
        [] => String::new(),
        [r] => r.id.to_string(),
        [a, b] => format!("{}, {}", a.id, b.id),
        [a, .., z] => format!("{}…{}", a.id, z.id),
    }
}

/// An offset range `a..b`, or `a` alone.
fn range(first: i64, last: i64) -> String {
    if first == last {
        format!("offset {first}")
    } else {
        format!("offsets {first}..{last}")
    }
}

fn ms(ms: u64) -> String {
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// The member id as Kafka prints it, `""` for a new member.
fn member(id: &str) -> String {
    if id.is_empty() {
        "\"\" (new member)".into()
    } else {
        id.to_string()
    }
}

/// The phrase for one message. `node_name` names simulation nodes (a coordinator's node);
/// `request` is the request a response answers, when known; `meta_change` describes what a
/// metadata image changed (computed by the caller, which remembers earlier images).
pub fn describe(msg: &Msg, node_name: &dyn Fn(u32) -> String, request: Option<&Msg>, meta_change: Option<&str>) -> String {
    match msg {
        Msg::ProduceRequest(r) => produce_request(r),
        Msg::ProduceResponse(r) => produce_response(r, request),
        Msg::FetchRequest(r) => fetch_request(r),
        Msg::FetchResponse(r) => fetch_response(r),
        Msg::ListOffsetsRequest(r) => {
            let parts: Vec<String> = r.partitions.iter().map(|(tp, spec)| format!("{tp} {}", spec_name(*spec))).collect();
            format!("ListOffsets request: {}", parts.join(", "))
        }
        Msg::ListOffsetsResponse(r) => {
            let parts: Vec<String> = r
                .partitions
                .iter()
                .map(|p| if p.error_code == ErrorCode::None { format!("{} offset {}", p.partition, p.offset) } else { format!("{} {}", p.partition, p.error_code) })
                .collect();
            format!("ListOffsets response: {}", parts.join(", "))
        }
        Msg::MetadataRequest(r) => format!("Metadata request for topics [{}]", r.topics.join(", ")),
        Msg::MetadataResponse(r) => metadata_response(r),
        Msg::BrokerRegistrationRequest(r) => format!("BrokerRegistration request: broker {} registers with the controller", r.broker_id),
        Msg::BrokerRegistrationResponse(r) => {
            if r.error_code == ErrorCode::None {
                format!("BrokerRegistration response: registered, broker epoch {}", r.broker_epoch)
            } else {
                format!("BrokerRegistration response: {}", r.error_code)
            }
        }
        Msg::BrokerHeartbeatRequest(r) => format!("BrokerHeartbeat request: broker {} (broker epoch {}) has applied metadata version {}", r.broker_id, r.broker_epoch, r.metadata_version),
        Msg::BrokerHeartbeatResponse(r) => {
            let mut s = format!("BrokerHeartbeat response: {}", r.error_code);
            if r.is_fenced {
                s.push_str(", broker is fenced");
            }
            if let Some(m) = &r.metadata {
                s.push_str(&format!(", with metadata version {}", m.version));
                if let Some(c) = meta_change {
                    s.push_str(&format!(": {c}"));
                }
            }
            s
        }
        Msg::UpdateMetadataRequest(r) => format!("metadata version {}: {}", r.metadata.version, meta_change.unwrap_or("(unchanged)")),
        Msg::AlterPartitionRequest(r) => format!(
            "AlterPartition request: leader {} asks for {} ISR {} (leader epoch {}, partition epoch {})",
            r.broker_id,
            r.partition,
            brokers(&r.new_isr),
            r.leader_epoch,
            r.partition_epoch
        ),
        Msg::AlterPartitionResponse(r) => match (&r.state, r.error_code) {
            (Some(s), ErrorCode::None) => format!("AlterPartition response: {} ISR is now {} (partition epoch {})", r.partition, brokers(&s.isr), s.partition_epoch),
            _ => format!("AlterPartition response: {} {}", r.partition, r.error_code),
        },
        Msg::FindCoordinatorRequest(r) => format!("FindCoordinator request: who coordinates group {}?", r.key),
        Msg::FindCoordinatorResponse(r) => match (r.error_code, r.node) {
            (ErrorCode::None, Some(n)) => format!("FindCoordinator response: the coordinator is {}", node_name(n.0)),
            (e, _) => format!("FindCoordinator response: {e}"),
        },
        Msg::JoinGroupRequest(r) => join_request(r),
        Msg::JoinGroupResponse(r) => join_response(r),
        Msg::SyncGroupRequest(r) => {
            if r.assignments.is_empty() {
                format!("SyncGroup request: group {} generation {}, member {} waits for its assignment", r.group_id, r.generation_id, r.member_id)
            } else {
                let a: Vec<String> = r.assignments.iter().map(|(m, tps)| format!("{m}={}", partitions(tps))).collect();
                format!("SyncGroup request from the leader: group {} generation {}, member {} assigns {}", r.group_id, r.generation_id, r.member_id, a.join(" "))
            }
        }
        Msg::SyncGroupResponse(r) => {
            if r.error_code == ErrorCode::None {
                format!("SyncGroup response: assignment {}", partitions(&r.assignment))
            } else {
                format!("SyncGroup response: {}", r.error_code)
            }
        }
        Msg::HeartbeatRequest(r) => format!("Heartbeat request: group {} generation {}, member {}", r.group_id, r.generation_id, r.member_id),
        Msg::HeartbeatResponse(r) => format!("Heartbeat response: {}", r.error_code),
        Msg::LeaveGroupRequest(r) => format!("LeaveGroup request: group {}, member {} leaves", r.group_id, r.member_id),
        Msg::LeaveGroupResponse(r) => format!("LeaveGroup response: {}", r.error_code),
        Msg::OffsetCommitRequest(r) => {
            let gen = if r.generation_id < 0 { "generation -1 (outside the group protocol)".to_string() } else { format!("generation {}", r.generation_id) };
            format!("OffsetCommit request: group {} {gen}, member {}: {}", r.group_id, member(&r.member_id), offsets(&r.offsets))
        }
        Msg::OffsetCommitResponse(r) => offset_commit_response(r, request),
        Msg::OffsetFetchRequest(r) => format!("OffsetFetch request: group {}, committed offsets of {}", r.group_id, partitions(&r.partitions)),
        Msg::OffsetFetchResponse(r) => {
            if r.error_code != ErrorCode::None {
                return format!("OffsetFetch response: {}", r.error_code);
            }
            let parts: Vec<String> = r.offsets.iter().map(|(tp, o)| if o.0 < 0 { format!("{tp} none committed (-1)") } else { format!("{tp} committed {o}") }).collect();
            format!("OffsetFetch response: {}", parts.join(", "))
        }
    }
}

fn spec_name(spec: OffsetSpec) -> &'static str {
    match spec {
        OffsetSpec::Earliest => "earliest (-2)",
        OffsetSpec::Latest => "latest (-1)",
    }
}

fn produce_request(r: &ProduceRequest) -> String {
    let parts: Vec<String> = r
        .topic_data
        .iter()
        .map(|p| {
            let mut s = format!("{} ← {} {}", p.partition, count(p.records.len(), "record"), record_ids(&p.records));
            if let Some(ps) = p.producer {
                s.push_str(&format!(" (producer id {}, sequence {})", ps.producer_id, ps.base_sequence));
            }
            s
        })
        .collect();
    format!("Produce request acks={}: {}", r.acks, parts.join("; "))
}

fn produce_response(r: &ProduceResponse, request: Option<&Msg>) -> String {
    let sent: BTreeMap<&TopicPartition, usize> = match request {
        Some(Msg::ProduceRequest(q)) => q.topic_data.iter().map(|p| (&p.partition, p.records.len())).collect(),
        _ => BTreeMap::new(),
    };
    let parts: Vec<String> = r
        .responses
        .iter()
        .map(|p| match (p.error_code, p.base_offset, sent.get(&p.partition)) {
            (ErrorCode::None, Some(base), Some(&n)) if n > 0 => format!("{} NONE, base offset {base} ({} at {})", p.partition, count(n, "record"), range(base.0, base.0 + n as i64 - 1)),
            (ErrorCode::None, Some(base), _) => format!("{} NONE, base offset {base}", p.partition),
            (ErrorCode::None, None, _) => format!("{} NONE (no offset)", p.partition),
            (e, _, _) => format!("{} {e}", p.partition),
        })
        .collect();
    format!("Produce response: {}", parts.join("; "))
}

fn fetch_request(r: &FetchRequest) -> String {
    let parts: Vec<String> = r
        .partitions
        .iter()
        .map(|p| {
            let mut s = format!("{} from offset {}", p.partition, p.fetch_offset);
            if let Some(e) = p.current_leader_epoch {
                s.push_str(&format!(" (leader epoch {e})"));
            }
            s
        })
        .collect();
    match r.replica_id {
        Some(b) => format!("Fetch request from follower {b}: {}", parts.join(", ")),
        None => format!("Fetch request: {}", parts.join(", ")),
    }
}

fn fetch_response(r: &FetchResponse) -> String {
    let parts: Vec<String> = r
        .partitions
        .iter()
        .map(|p| {
            let n: usize = p.records.iter().map(|b| b.records.len()).sum();
            let mut s = match (p.error_code, p.records.first(), p.records.last()) {
                (ErrorCode::None, Some(first), Some(last)) if n > 0 => {
                    format!("{}: {} at {}", p.partition, count(n, "record"), range(first.base_offset.0, last.last_offset().0))
                }
                (ErrorCode::None, _, _) => format!("{}: no records", p.partition),
                (e, _, _) => format!("{}: {e}", p.partition),
            };
            s.push_str(&format!(", high watermark {}", p.high_watermark));
            if let Some((epoch, end)) = p.diverging_epoch {
                s.push_str(&format!(", diverging epoch {epoch} ends at offset {end} (the follower truncates there)"));
            }
            s
        })
        .collect();
    format!("Fetch response: {}", parts.join("; "))
}

fn metadata_response(r: &MetadataResponse) -> String {
    let topics: Vec<String> = r
        .topics
        .iter()
        .map(|t| {
            if t.error_code != ErrorCode::None {
                return format!("{} {}", t.name, t.error_code);
            }
            let ps: Vec<String> = t.partitions.iter().map(|p| format!("{}-{} leader {} (epoch {})", t.name, p.partition, leader(p.leader), p.leader_epoch)).collect();
            ps.join(", ")
        })
        .collect();
    let bs: Vec<BrokerId> = r.brokers.iter().map(|(b, _)| *b).collect();
    format!("Metadata response: brokers {}; {}", brokers(&bs), topics.join("; "))
}

fn join_request(r: &JoinGroupRequest) -> String {
    let protocols: Vec<&str> = r.protocols.iter().map(|(n, _)| n.as_str()).collect();
    let mut s = format!("JoinGroup request: group {}, member id {}, protocols [{}]", r.group_id, member(&r.member_id), protocols.join(", "));
    if let Some((_, sub)) = r.protocols.first() {
        if !sub.owned_partitions.is_empty() {
            s.push_str(&format!(", owns {}", partitions(&sub.owned_partitions)));
            if let Some(g) = sub.generation_id.filter(|g| *g >= 0) {
                s.push_str(&format!(" since generation {g}"));
            }
        }
    }
    s.push_str(&format!(", session timeout {}, rebalance timeout {}", ms(r.session_timeout_ms), ms(r.rebalance_timeout_ms)));
    s
}

fn join_response(r: &JoinGroupResponse) -> String {
    match r.error_code {
        ErrorCode::None => {
            let mut s = format!("JoinGroup response: generation {}, member id {}, leader {}", r.generation_id, r.member_id, r.leader);
            if let Some(p) = &r.protocol_name {
                s.push_str(&format!(", protocol {p}"));
            }
            if r.leader == r.member_id {
                let ms: Vec<String> = r.members.iter().map(|(m, sub)| format!("{m} [{}]", sub.topics.join(", "))).collect();
                s.push_str(&format!(" (itself: it alone gets the members' subscriptions, {})", ms.join(", ")));
            }
            s
        }
        ErrorCode::MemberIdRequired => format!("JoinGroup response: MEMBER_ID_REQUIRED, member id {} (join again with it)", r.member_id),
        e => format!("JoinGroup response: {e}"),
    }
}

fn offset_commit_response(r: &OffsetCommitResponse, request: Option<&Msg>) -> String {
    let committed: BTreeMap<&TopicPartition, crate::model::Offset> = match request {
        Some(Msg::OffsetCommitRequest(q)) => q.offsets.iter().map(|(tp, o)| (tp, *o)).collect(),
        _ => BTreeMap::new(),
    };
    let parts: Vec<String> = r
        .partitions
        .iter()
        .map(|(tp, e)| match committed.get(tp) {
            Some(o) => format!("{tp}={o} {e}"),
            None => format!("{tp} {e}"),
        })
        .collect();
    format!("OffsetCommit response: {}", parts.join(", "))
}

/// What changed from one metadata image to the next, in the controller's terms: brokers
/// registered, fenced or unfenced, partition leaders and epochs, ISRs.
pub fn metadata_change(before: Option<&MetadataImage>, after: &MetadataImage) -> String {
    let Some(before) = before else {
        return format!("{} broker(s) registered, {} partition(s)", after.brokers.len(), after.partitions.len());
    };
    let mut changes = Vec::new();
    for (id, b) in &after.brokers {
        match before.brokers.get(id) {
            None => changes.push(format!("{id} registered (broker epoch {})", b.broker_epoch)),
            Some(old) if old.fenced != b.fenced => changes.push(format!("{id} {}", if b.fenced { "fenced" } else { "unfenced" })),
            Some(old) if old.broker_epoch != b.broker_epoch => changes.push(format!("{id} registered again (broker epoch {})", b.broker_epoch)),
            _ => {}
        }
    }
    for (tp, p) in &after.partitions {
        match before.partitions.get(tp) {
            None => changes.push(format!("{tp} created: {}", partition_state(p))),
            Some(old) if old != p => changes.push(format!("{tp} {}", partition_change(old, p))),
            _ => {}
        }
    }
    if changes.is_empty() {
        "no change to brokers or partitions".into()
    } else {
        changes.join("; ")
    }
}

fn partition_state(p: &PartitionState) -> String {
    format!("leader {} (epoch {}), ISR {}", leader(p.leader), p.leader_epoch, brokers(&p.isr))
}

fn partition_change(old: &PartitionState, new: &PartitionState) -> String {
    let mut parts = Vec::new();
    if old.leader != new.leader || old.leader_epoch != new.leader_epoch {
        parts.push(format!("leader {} → {} (leader epoch {})", leader(old.leader), leader(new.leader), new.leader_epoch));
    }
    if old.isr != new.isr {
        parts.push(format!("ISR {} → {}", brokers(&old.isr), brokers(&new.isr)));
    }
    if parts.is_empty() {
        parts.push("changed".into());
    }
    format!("{} (partition epoch {})", parts.join(", "), new.partition_epoch)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::metadata::BrokerRegistration;
    use crate::model::{LeaderEpoch, NodeId, Offset, RecordId};

    fn state(leader: Option<i32>, epoch: i32, isr: &[i32], partition_epoch: i32) -> PartitionState {
        PartitionState {
            replicas: vec![BrokerId(0), BrokerId(1), BrokerId(2)],
            isr: isr.iter().map(|b| BrokerId(*b)).collect(),
            leader: leader.map(BrokerId),
            leader_epoch: LeaderEpoch(epoch),
            partition_epoch,
        }
    }

    fn image(version: u64, fenced0: bool, p: PartitionState) -> MetadataImage {
        let brokers = (0..3).map(|b| (BrokerId(b), BrokerRegistration { node: NodeId(b as u32), fenced: b == 0 && fenced0, broker_epoch: 1 })).collect();
        MetadataImage { version, brokers, partitions: BTreeMap::from([(TopicPartition::new("t", 0), p)]) }
    }

    #[test]
    fn a_metadata_change_names_fencing_the_new_leader_and_the_isr() {
        let before = image(4, false, state(Some(0), 0, &[0, 1, 2], 0));
        let after = image(5, true, state(Some(1), 1, &[1, 2], 1));
        assert_eq!(metadata_change(Some(&before), &after), "b0 fenced; t-0 leader b0 → b1 (leader epoch 1), ISR [b0, b1, b2] → [b1, b2] (partition epoch 1)");
        let shrink = image(6, true, state(Some(1), 1, &[1], 2));
        assert_eq!(metadata_change(Some(&after), &shrink), "t-0 ISR [b1, b2] → [b1] (partition epoch 2)");
        assert_eq!(metadata_change(None, &before), "3 broker(s) registered, 1 partition(s)");
        assert_eq!(metadata_change(Some(&before), &before), "no change to brokers or partitions");
    }

    fn record(seq: u32) -> Record {
        Record { id: RecordId { producer: 0, seq }, key: None, size: 100, value: None }
    }

    #[test]
    fn produce_and_fetch_name_offsets_errors_and_the_high_watermark() {
        let tp = TopicPartition::new("t", 0);
        let req = Msg::ProduceRequest(ProduceRequest {
            correlation_id: 3,
            acks: Acks::All,
            timeout_ms: 30000,
            topic_data: vec![PartitionRecords { partition: tp.clone(), records: vec![record(7), record(8), record(9)], producer: None }],
        });
        let name = |n: u32| format!("n{n}");
        assert_eq!(describe(&req, &name, None, None), "Produce request acks=all: t-0 ← 3 records p0#7…p0#9");
        let ok = Msg::ProduceResponse(ProduceResponse {
            correlation_id: 3,
            responses: vec![PartitionProduceResponse { partition: tp.clone(), error_code: ErrorCode::None, base_offset: Some(Offset(40)), log_start_offset: Offset(0) }],
        });
        assert_eq!(describe(&ok, &name, Some(&req), None), "Produce response: t-0 NONE, base offset 40 (3 records at offsets 40..42)");
        let refused = Msg::ProduceResponse(ProduceResponse {
            correlation_id: 3,
            responses: vec![PartitionProduceResponse { partition: tp.clone(), error_code: ErrorCode::NotEnoughReplicas, base_offset: None, log_start_offset: Offset(0) }],
        });
        assert_eq!(describe(&refused, &name, Some(&req), None), "Produce response: t-0 NOT_ENOUGH_REPLICAS");
        let batch = RecordBatch { base_offset: Offset(40), partition_leader_epoch: LeaderEpoch(0), append_time_ms: 0, producer: None, records: vec![record(7), record(8)] };
        let fetched = Msg::FetchResponse(FetchResponse {
            correlation_id: 4,
            partitions: vec![
                FetchPartitionData { partition: tp.clone(), error_code: ErrorCode::None, high_watermark: Offset(42), log_start_offset: Offset(0), records: vec![batch], diverging_epoch: None },
                FetchPartitionData {
                    partition: TopicPartition::new("t", 1),
                    error_code: ErrorCode::FencedLeaderEpoch,
                    high_watermark: Offset(0),
                    log_start_offset: Offset(0),
                    records: vec![],
                    diverging_epoch: None,
                },
            ],
        });
        assert_eq!(describe(&fetched, &name, None, None), "Fetch response: t-0: 2 records at offsets 40..41, high watermark 42; t-1: FENCED_LEADER_EPOCH, high watermark 0");
    }
}
