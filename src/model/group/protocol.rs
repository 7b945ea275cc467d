//! The classic consumer-group protocol's requests and responses (JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, OffsetCommit, OffsetFetch), with Kafka's field names. A member's protocol metadata
//! is the consumer's Subscription, kept structured instead of serialized.

use serde::{Deserialize, Serialize};

use crate::model::ids::{NodeId, Offset, TopicPartition};
use crate::model::protocol::ErrorCode;

/// The name of the internal topic whose partition leaders coordinate groups.
pub const CONSUMER_OFFSETS: &str = "__consumer_offsets";

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FindCoordinatorRequest {
    pub correlation_id: u64,
    /// The group id.
    pub key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FindCoordinatorResponse {
    pub correlation_id: u64,
    pub error_code: ErrorCode,
    pub node: Option<NodeId>,
}

/// The consumer protocol's Subscription (JoinGroup metadata): topics, owned partitions (KIP-429)
/// and the generation they were owned in (KIP-792).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Subscription {
    pub topics: Vec<String>,
    pub owned_partitions: Vec<TopicPartition>,
    pub generation_id: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JoinGroupRequest {
    pub correlation_id: u64,
    pub group_id: String,
    pub session_timeout_ms: u64,
    pub rebalance_timeout_ms: u64,
    /// Empty for a new member.
    pub member_id: String,
    pub client_id: String,
    /// `"consumer"`
    pub protocol_type: String,
    /// Assignor names in preference order, each with the member's subscription.
    pub protocols: Vec<(String, Subscription)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JoinGroupResponse {
    pub correlation_id: u64,
    pub error_code: ErrorCode,
    pub generation_id: i32,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Only the leader gets the members and their subscriptions for the chosen protocol.
    pub members: Vec<(String, Subscription)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SyncGroupRequest {
    pub correlation_id: u64,
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    /// The leader's assignment for every member; empty from followers.
    pub assignments: Vec<(String, Vec<TopicPartition>)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SyncGroupResponse {
    pub correlation_id: u64,
    pub error_code: ErrorCode,
    pub assignment: Vec<TopicPartition>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    pub correlation_id: u64,
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    pub correlation_id: u64,
    pub error_code: ErrorCode,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaveGroupRequest {
    pub correlation_id: u64,
    pub group_id: String,
    pub member_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaveGroupResponse {
    pub correlation_id: u64,
    pub error_code: ErrorCode,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OffsetCommitRequest {
    pub correlation_id: u64,
    pub group_id: String,
    /// -1 for a commit outside the group protocol (assign() consumers, admin tools).
    pub generation_id: i32,
    pub member_id: String,
    pub offsets: Vec<(TopicPartition, Offset)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OffsetCommitResponse {
    pub correlation_id: u64,
    pub partitions: Vec<(TopicPartition, ErrorCode)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OffsetFetchRequest {
    pub correlation_id: u64,
    pub group_id: String,
    pub partitions: Vec<TopicPartition>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OffsetFetchResponse {
    pub correlation_id: u64,
    pub error_code: ErrorCode,
    /// -1 where nothing is committed.
    pub offsets: Vec<(TopicPartition, Offset)>,
}
