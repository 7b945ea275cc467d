//! Kafka's wire vocabulary: the requests and responses the actors exchange, their error codes, and
//! the record batches they carry. Names follow Kafka's protocol (`ProduceRequest`, `leader_epoch`,
//! `high_watermark`, `NOT_LEADER_OR_FOLLOWER`) so that a trace reads like Kafka's documentation.
//!
//! Records carry no payload bytes: a [`Record`] is its workload identity, its key and its size. The
//! size is what batching and retention count.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::actor::Message;
use super::ids::{BrokerId, LeaderEpoch, NodeId, Offset, RecordId, TopicPartition};
use super::group::protocol::*;
use super::metadata::{MetadataImage, PartitionState};

/// Kafka's error codes, as data in responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    None,
    OffsetOutOfRange,
    UnknownTopicOrPartition,
    NotLeaderOrFollower,
    RequestTimedOut,
    NetworkException,
    NotEnoughReplicas,
    NotEnoughReplicasAfterAppend,
    FencedLeaderEpoch,
    UnknownLeaderEpoch,
    KafkaStorageError,
    /// AlterPartition with a stale partition epoch.
    InvalidUpdateVersion,
    /// AlterPartition adding a replica that is fenced or unknown.
    IneligibleReplica,
    StaleBrokerEpoch,
    BrokerIdNotRegistered,
    /// An idempotent producer's batch does not follow the last sequence the broker has.
    OutOfOrderSequenceNumber,
    CoordinatorLoadInProgress,
    CoordinatorNotAvailable,
    NotCoordinator,
    IllegalGeneration,
    InconsistentGroupProtocol,
    UnknownMemberId,
    RebalanceInProgress,
    /// JoinGroup v4+: the coordinator assigned a member id; join again with it (KIP-394).
    MemberIdRequired,
}

impl ErrorCode {
    /// Kafka's numeric code.
    pub fn code(self) -> i16 {
        match self {
            ErrorCode::None => 0,
            ErrorCode::OffsetOutOfRange => 1,
            ErrorCode::UnknownTopicOrPartition => 3,
            ErrorCode::NotLeaderOrFollower => 6,
            ErrorCode::RequestTimedOut => 7,
            ErrorCode::NetworkException => 13,
            ErrorCode::NotEnoughReplicas => 19,
            ErrorCode::NotEnoughReplicasAfterAppend => 20,
            ErrorCode::FencedLeaderEpoch => 74,
            ErrorCode::UnknownLeaderEpoch => 75,
            ErrorCode::KafkaStorageError => 56,
            ErrorCode::InvalidUpdateVersion => 108,
            ErrorCode::IneligibleReplica => 107,
            ErrorCode::StaleBrokerEpoch => 77,
            ErrorCode::BrokerIdNotRegistered => 102,
            ErrorCode::OutOfOrderSequenceNumber => 45,
            ErrorCode::CoordinatorLoadInProgress => 14,
            ErrorCode::CoordinatorNotAvailable => 15,
            ErrorCode::NotCoordinator => 16,
            ErrorCode::IllegalGeneration => 22,
            ErrorCode::InconsistentGroupProtocol => 23,
            ErrorCode::UnknownMemberId => 25,
            ErrorCode::RebalanceInProgress => 27,
            ErrorCode::MemberIdRequired => 79,
        }
    }

    /// Whether Kafka's clients retry on this error.
    pub fn is_retriable(self) -> bool {
        !matches!(self, ErrorCode::None | ErrorCode::OffsetOutOfRange)
    }

    /// For an OffsetCommit: the answer leaves open whether the commit was applied (the request
    /// timed out or the connection broke); any other error means it was refused.
    pub fn is_retriable_commit(self) -> bool {
        matches!(self, ErrorCode::RequestTimedOut | ErrorCode::NetworkException)
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::None => "NONE",
            ErrorCode::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            ErrorCode::UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
            ErrorCode::NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            ErrorCode::RequestTimedOut => "REQUEST_TIMED_OUT",
            ErrorCode::NetworkException => "NETWORK_EXCEPTION",
            ErrorCode::NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            ErrorCode::NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            ErrorCode::FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            ErrorCode::UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            ErrorCode::KafkaStorageError => "KAFKA_STORAGE_ERROR",
            ErrorCode::InvalidUpdateVersion => "INVALID_UPDATE_VERSION",
            ErrorCode::IneligibleReplica => "INELIGIBLE_REPLICA",
            ErrorCode::StaleBrokerEpoch => "STALE_BROKER_EPOCH",
            ErrorCode::BrokerIdNotRegistered => "BROKER_ID_NOT_REGISTERED",
            ErrorCode::OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            ErrorCode::CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            ErrorCode::CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            ErrorCode::NotCoordinator => "NOT_COORDINATOR",
            ErrorCode::IllegalGeneration => "ILLEGAL_GENERATION",
            ErrorCode::InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            ErrorCode::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            ErrorCode::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            ErrorCode::MemberIdRequired => "MEMBER_ID_REQUIRED",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `acks`: how many replicas must have a record before the leader answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Acks {
    /// `acks=0`: no response at all; the offset is unknown (-1).
    #[serde(rename = "0")]
    None,
    /// `acks=1`: the leader's own log.
    #[serde(rename = "1")]
    Leader,
    /// `acks=all` (-1): every in-sync replica.
    #[serde(rename = "all")]
    All,
}

impl fmt::Display for Acks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        })
    }
}

/// One record: its identity in the workload, its key, and its size in bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Record {
    pub id: RecordId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub size: u32,
    /// What an internal record says (a `__consumer_offsets` record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<std::sync::Arc<RecordValue>>,
}

/// The records of `__consumer_offsets`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RecordValue {
    OffsetCommit(OffsetCommitValue),
    GroupMetadata(GroupMetadataValue),
    /// A tombstone: the group's committed offset of `partition` was deleted (expired).
    OffsetTombstone { group: String, partition: TopicPartition },
}

/// A group's metadata as of a generation, written when the generation's assignment is complete.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupMetadataValue {
    pub group: String,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: Vec<MemberMetadataValue>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemberMetadataValue {
    pub member_id: String,
    pub client_id: String,
    pub session_timeout_ms: u64,
    pub rebalance_timeout_ms: u64,
    pub protocols: Vec<(String, crate::model::group::protocol::Subscription)>,
    pub assignment: Vec<TopicPartition>,
}

/// A record of `__consumer_offsets`: the committed offset of one partition for one group.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OffsetCommitValue {
    pub group: String,
    pub partition: TopicPartition,
    pub offset: Offset,
    /// The coordinator's wall clock when it took the commit (`commitTimestamp`): offset expiry
    /// measures from it, also on a coordinator that loads the record after a failover.
    #[serde(default)]
    pub commit_timestamp_ms: u64,
}

/// A record batch (message format v2): records with consecutive offsets from `base_offset`,
/// stamped with the leader epoch of the leader that appended them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordBatch {
    pub base_offset: Offset,
    pub partition_leader_epoch: LeaderEpoch,
    /// When the leader appended it, in virtual milliseconds (the batch's timestamp, as with
    /// `message.timestamp.type=LogAppendTime`); retention by time reads it.
    pub append_time_ms: u64,
    /// An idempotent producer's id and the sequence number of the batch's first record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer: Option<ProducerSequence>,
    pub records: Vec<Record>,
}

/// An idempotent producer's stamp on a batch: its producer id and the batch's first sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProducerSequence {
    pub producer_id: u64,
    pub base_sequence: i32,
}

/// One partition's records in a ProduceRequest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionRecords {
    pub partition: TopicPartition,
    pub records: Vec<Record>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer: Option<ProducerSequence>,
}

impl RecordBatch {
    /// The offset after the last record.
    pub fn next_offset(&self) -> Offset {
        Offset(self.base_offset.0 + self.records.len() as i64)
    }
    pub fn last_offset(&self) -> Offset {
        Offset(self.next_offset().0 - 1)
    }
    pub fn size_bytes(&self) -> u64 {
        self.records.iter().map(|r| u64::from(r.size)).sum()
    }
    /// Each record with its offset.
    pub fn offsets(&self) -> impl Iterator<Item = (Offset, &Record)> {
        self.records.iter().enumerate().map(move |(i, r)| (Offset(self.base_offset.0 + i as i64), r))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProduceRequest {
    pub correlation_id: u64,
    pub acks: Acks,
    pub timeout_ms: u64,
    /// One batch per partition; the broker assigns its base offset.
    pub topic_data: Vec<PartitionRecords>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionProduceResponse {
    pub partition: TopicPartition,
    pub error_code: ErrorCode,
    /// The offset of the batch's first record, when appended.
    pub base_offset: Option<Offset>,
    pub log_start_offset: Offset,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProduceResponse {
    pub correlation_id: u64,
    pub responses: Vec<PartitionProduceResponse>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FetchPartition {
    pub partition: TopicPartition,
    pub fetch_offset: Offset,
    /// The leader epoch the client believes current (KIP-320); `None` skips the check.
    pub current_leader_epoch: Option<LeaderEpoch>,
    /// A follower's epoch of its last appended batch, for the divergence check (KAFKA-10554).
    pub last_fetched_epoch: Option<LeaderEpoch>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FetchRequest {
    pub correlation_id: u64,
    /// `Some` for a follower's fetch, `None` for a consumer's.
    pub replica_id: Option<BrokerId>,
    pub max_wait_ms: u64,
    pub min_bytes: u64,
    pub max_bytes: u64,
    pub partitions: Vec<FetchPartition>,
    /// A consumer's `client.rack` (Fetch v11+, KIP-392). Its presence is the client metadata that
    /// lets a follower answer the consumer; `None` for followers and for consumers without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rack_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FetchPartitionData {
    pub partition: TopicPartition,
    pub error_code: ErrorCode,
    pub high_watermark: Offset,
    pub log_start_offset: Offset,
    pub records: Vec<RecordBatch>,
    /// To a follower whose log diverged: the largest epoch the leader has at or below the
    /// follower's last fetched epoch, and where it ends. The follower truncates before appending.
    pub diverging_epoch: Option<(LeaderEpoch, Offset)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FetchResponse {
    pub correlation_id: u64,
    pub partitions: Vec<FetchPartitionData>,
}

/// ListOffsets' special timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetSpec {
    /// -2: the log start offset.
    Earliest,
    /// -1: the high watermark (what a `read_uncommitted` consumer sees as the end).
    Latest,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ListOffsetsRequest {
    pub correlation_id: u64,
    pub partitions: Vec<(TopicPartition, OffsetSpec)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ListOffsetsPartition {
    pub partition: TopicPartition,
    pub error_code: ErrorCode,
    pub offset: Offset,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ListOffsetsResponse {
    pub correlation_id: u64,
    pub partitions: Vec<ListOffsetsPartition>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MetadataRequest {
    pub correlation_id: u64,
    pub topics: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionMetadata {
    pub partition: i32,
    pub error_code: ErrorCode,
    pub leader: Option<BrokerId>,
    pub leader_epoch: LeaderEpoch,
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TopicMetadata {
    pub name: String,
    pub error_code: ErrorCode,
    pub partitions: Vec<PartitionMetadata>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MetadataResponse {
    pub correlation_id: u64,
    /// Every live broker and the node that hosts it.
    pub brokers: Vec<(BrokerId, NodeId)>,
    pub topics: Vec<TopicMetadata>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BrokerRegistrationRequest {
    pub correlation_id: u64,
    pub broker_id: BrokerId,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BrokerRegistrationResponse {
    pub correlation_id: u64,
    pub error_code: ErrorCode,
    pub broker_epoch: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BrokerHeartbeatRequest {
    pub correlation_id: u64,
    pub broker_id: BrokerId,
    pub broker_epoch: u64,
    /// The metadata version the broker has applied.
    pub metadata_version: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BrokerHeartbeatResponse {
    pub correlation_id: u64,
    pub error_code: ErrorCode,
    pub is_fenced: bool,
    /// The controller's published image, when the broker is behind it.
    pub metadata: Option<MetadataImage>,
}

/// The controller publishes each new metadata version to every registered broker (KRaft brokers
/// replay the metadata log; here the controller pushes it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UpdateMetadataRequest {
    pub metadata: MetadataImage,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AlterPartitionRequest {
    pub correlation_id: u64,
    pub broker_id: BrokerId,
    pub broker_epoch: u64,
    pub partition: TopicPartition,
    pub leader_epoch: LeaderEpoch,
    pub partition_epoch: i32,
    pub new_isr: Vec<BrokerId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AlterPartitionResponse {
    pub correlation_id: u64,
    pub partition: TopicPartition,
    pub error_code: ErrorCode,
    pub state: Option<PartitionState>,
}

/// Every message of the simulated cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "api")]
pub enum Msg {
    ProduceRequest(ProduceRequest),
    ProduceResponse(ProduceResponse),
    FetchRequest(FetchRequest),
    FetchResponse(FetchResponse),
    ListOffsetsRequest(ListOffsetsRequest),
    ListOffsetsResponse(ListOffsetsResponse),
    MetadataRequest(MetadataRequest),
    MetadataResponse(MetadataResponse),
    BrokerRegistrationRequest(BrokerRegistrationRequest),
    BrokerRegistrationResponse(BrokerRegistrationResponse),
    BrokerHeartbeatRequest(BrokerHeartbeatRequest),
    BrokerHeartbeatResponse(BrokerHeartbeatResponse),
    UpdateMetadataRequest(UpdateMetadataRequest),
    AlterPartitionRequest(AlterPartitionRequest),
    AlterPartitionResponse(AlterPartitionResponse),
    FindCoordinatorRequest(FindCoordinatorRequest),
    FindCoordinatorResponse(FindCoordinatorResponse),
    JoinGroupRequest(JoinGroupRequest),
    JoinGroupResponse(JoinGroupResponse),
    SyncGroupRequest(SyncGroupRequest),
    SyncGroupResponse(SyncGroupResponse),
    HeartbeatRequest(HeartbeatRequest),
    HeartbeatResponse(HeartbeatResponse),
    LeaveGroupRequest(LeaveGroupRequest),
    LeaveGroupResponse(LeaveGroupResponse),
    OffsetCommitRequest(OffsetCommitRequest),
    OffsetCommitResponse(OffsetCommitResponse),
    OffsetFetchRequest(OffsetFetchRequest),
    OffsetFetchResponse(OffsetFetchResponse),
}

impl Message for Msg {
    fn kind(&self) -> &'static str {
        match self {
            Msg::ProduceRequest(_) => "ProduceRequest",
            Msg::ProduceResponse(_) => "ProduceResponse",
            Msg::FetchRequest(_) => "FetchRequest",
            Msg::FetchResponse(_) => "FetchResponse",
            Msg::ListOffsetsRequest(_) => "ListOffsetsRequest",
            Msg::ListOffsetsResponse(_) => "ListOffsetsResponse",
            Msg::MetadataRequest(_) => "MetadataRequest",
            Msg::MetadataResponse(_) => "MetadataResponse",
            Msg::BrokerRegistrationRequest(_) => "BrokerRegistrationRequest",
            Msg::BrokerRegistrationResponse(_) => "BrokerRegistrationResponse",
            Msg::BrokerHeartbeatRequest(_) => "BrokerHeartbeatRequest",
            Msg::BrokerHeartbeatResponse(_) => "BrokerHeartbeatResponse",
            Msg::UpdateMetadataRequest(_) => "UpdateMetadataRequest",
            Msg::AlterPartitionRequest(_) => "AlterPartitionRequest",
            Msg::AlterPartitionResponse(_) => "AlterPartitionResponse",
            Msg::FindCoordinatorRequest(_) => "FindCoordinatorRequest",
            Msg::FindCoordinatorResponse(_) => "FindCoordinatorResponse",
            Msg::JoinGroupRequest(_) => "JoinGroupRequest",
            Msg::JoinGroupResponse(_) => "JoinGroupResponse",
            Msg::SyncGroupRequest(_) => "SyncGroupRequest",
            Msg::SyncGroupResponse(_) => "SyncGroupResponse",
            Msg::HeartbeatRequest(_) => "HeartbeatRequest",
            Msg::HeartbeatResponse(_) => "HeartbeatResponse",
            Msg::LeaveGroupRequest(_) => "LeaveGroupRequest",
            Msg::LeaveGroupResponse(_) => "LeaveGroupResponse",
            Msg::OffsetCommitRequest(_) => "OffsetCommitRequest",
            Msg::OffsetCommitResponse(_) => "OffsetCommitResponse",
            Msg::OffsetFetchRequest(_) => "OffsetFetchRequest",
            Msg::OffsetFetchResponse(_) => "OffsetFetchResponse",
        }
    }
}

/// The kinds of message, for validating network rules in scenario files.
pub const MESSAGE_KINDS: &[&str] = &[
    "ProduceRequest",
    "ProduceResponse",
    "FetchRequest",
    "FetchResponse",
    "ListOffsetsRequest",
    "ListOffsetsResponse",
    "MetadataRequest",
    "MetadataResponse",
    "BrokerRegistrationRequest",
    "BrokerRegistrationResponse",
    "BrokerHeartbeatRequest",
    "BrokerHeartbeatResponse",
    "UpdateMetadataRequest",
    "AlterPartitionRequest",
    "AlterPartitionResponse",
    "FindCoordinatorRequest",
    "FindCoordinatorResponse",
    "JoinGroupRequest",
    "JoinGroupResponse",
    "SyncGroupRequest",
    "SyncGroupResponse",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "LeaveGroupRequest",
    "LeaveGroupResponse",
    "OffsetCommitRequest",
    "OffsetCommitResponse",
    "OffsetFetchRequest",
    "OffsetFetchResponse",
];
