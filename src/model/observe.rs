//! What clients observe: the history the checkers judge. Each observation is something a real
//! client application could have seen, never the broker's hidden state.

use serde::Serialize;

use super::ids::{Offset, RecordId, TopicPartition};
use super::SimTime;
use super::protocol::{Acks, ErrorCode};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Observation {
    /// The application handed a record to the producer (`send()` was called).
    ProduceInvoked { record: RecordId, partition: TopicPartition, key: Option<String> },
    /// The producer's callback reported success. `offset` is `None` under `acks=0`.
    ProduceAcked { record: RecordId, partition: TopicPartition, offset: Option<Offset>, acks: Acks },
    /// The producer's callback reported a final failure (retries exhausted or not retriable).
    ProduceFailed { record: RecordId, partition: TopicPartition, error: ErrorCode },
    /// A consumer's poll returned these records of one partition, in order.
    Polled { partition: TopicPartition, records: Vec<(Offset, RecordId)>, high_watermark: Offset },
    /// The application finished processing the records `from..through` of one partition.
    Processed { partition: TopicPartition, from: Offset, through: Offset },
    /// A consumer set its position for a partition: at start, or after OFFSET_OUT_OF_RANGE.
    PositionSet { partition: TopicPartition, offset: Offset, reason: PositionReason },
    /// A group member's OffsetFetch, sent at `asked_at`, found no committed offset for these
    /// partitions: it starts them from `auto.offset.reset`.
    NoCommittedOffset { group: String, partitions: Vec<TopicPartition>, asked_at: SimTime },
    /// A group member joined a generation (JoinGroup answered), still owning `owned`.
    Joined { group: String, generation: i32, member_id: String, owned: Vec<TopicPartition> },
    /// A group member received its assignment for a generation (SyncGroup).
    Assigned { group: String, generation: i32, member_id: String, partitions: Vec<TopicPartition> },
    /// A group member gave up partitions it owned since `generation`: revoked before an eager
    /// rejoin or after a cooperative one (`onPartitionsRevoked`), or `lost` after it was fenced
    /// or left (`onPartitionsLost`).
    Revoked { group: String, generation: i32, partitions: Vec<TopicPartition>, lost: bool },
    /// A member sent an OffsetCommit (its answer may never come: the coordinator may still have
    /// applied it).
    CommitRequested { group: String, generation: i32, offsets: Vec<(TopicPartition, Offset)> },
    /// A group coordinator wrote committed offsets to `__consumer_offsets` (the commit is durable
    /// and now the group's committed offsets): coordinator-side, in the order they take effect.
    OffsetsWritten { group: String, offsets: Vec<(TopicPartition, Offset)> },
    /// A group coordinator deleted committed offsets by `offsets.retention.minutes`
    /// (coordinator-side): the group's state then, how many members it had, and the topics those
    /// members subscribed to by their JoinGroup metadata.
    OffsetsExpired { group: String, offsets: Vec<(TopicPartition, Offset)>, state: String, members: usize, subscribed: Vec<String> },
    /// An OffsetCommit came back: the offsets, and the coordinator's answer.
    Committed { group: String, generation: i32, offsets: Vec<(TopicPartition, Offset)>, error: ErrorCode },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PositionReason {
    /// The configured starting point (earliest, latest or an explicit offset).
    Start,
    /// `auto.offset.reset` after OFFSET_OUT_OF_RANGE.
    Reset,
    /// The group's committed offset (OffsetFetch).
    Committed,
}
