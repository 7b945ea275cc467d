//! Cluster-wide configuration the model's actors share: topics and where brokers live. Defaults
//! are Kafka's.

use serde::{Deserialize, Serialize};

use super::ids::{BrokerId, NodeId, TopicPartition};

/// A topic and its topic-level configuration (Kafka's names in the comments).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TopicConfig {
    pub name: String,
    pub partitions: i32,
    /// `replication.factor`
    pub replication_factor: i16,
    /// `min.insync.replicas` (default 1)
    pub min_insync_replicas: i16,
    /// `flush.messages`: fsync after this many unflushed records (Kafka's default: never).
    pub flush_messages: Option<u64>,
    /// `flush.ms`: fsync when the oldest unflushed record is this old (default: never).
    pub flush_ms: Option<u64>,
    /// `retention.ms` (default 7 days; `None` = -1, unlimited).
    pub retention_ms: Option<u64>,
    /// `retention.bytes` (default -1, unlimited).
    pub retention_bytes: Option<u64>,
    /// `unclean.leader.election.enable` (default false).
    pub unclean_leader_election_enable: bool,
    /// `segment.bytes` (default 1 GiB): retention deletes whole segments, never the active one.
    pub segment_bytes: u64,
}

impl TopicConfig {
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        TopicConfig {
            name: name.into(),
            partitions,
            replication_factor: 1,
            min_insync_replicas: 1,
            flush_messages: None,
            flush_ms: None,
            retention_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            unclean_leader_election_enable: false,
            segment_bytes: 1 << 30,
        }
    }
}

/// Switches that bring back known Kafka bugs and unsafe behaviours, named after their KIP or JIRA.
/// All off by default; the bug zoo turns them on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BugSwitches {
    /// Before KIP-101 (KAFKA-1211, fixed 0.11.0): a replica truncates to its own high watermark
    /// when it restarts or becomes a follower, instead of finding the divergence by leader epoch.
    pub kip_101: bool,
    /// Before KAFKA-7128 (fixed 2.1.0): a follower rejoins the ISR once its LEO reaches the high
    /// watermark, even if it has not reached the start of the leader's current epoch.
    pub kafka_7128: bool,
    /// Before KAFKA-15583 (fixed 3.7.0): the high watermark advances while the ISR is smaller than
    /// `min.insync.replicas`.
    pub kafka_15583: bool,
    /// A coordinator that does not fence commits: it accepts an OffsetCommit whatever its member
    /// id and generation (reference D-10; Kafka has always fenced them).
    pub unfenced_commits: bool,
    /// Before KIP-341 (KAFKA-7026, fixed 2.3.0): see [`super::assignor::AssignorBugs`].
    pub kafka_7026: bool,
    /// Before KAFKA-14639 (fixed 3.6.0): see [`super::assignor::AssignorBugs`].
    pub kafka_14639: bool,
    /// Before KIP-279 (KAFKA-6361, fixed 2.0.0): a new follower asks its leader once for the end
    /// offset of its latest epoch (OffsetsForLeaderEpoch v0). The leader answers the start of its
    /// first larger epoch, without saying which epoch that offset ends; the follower truncates to
    /// it (or to its LEO, if smaller) and then fetches without further epoch checks.
    pub kip_279: bool,
    /// Before KAFKA-14704 (fixed 3.5.0): a follower applies the high watermark of a fetch answer
    /// that carries a diverging epoch before it truncates, and truncates only once the fetcher
    /// has processed the whole answer ([`crate::model::broker::replication::TRUNCATION_LAG`]).
    pub kafka_14704: bool,
    /// Before KAFKA-9835 (fixed 2.6.0): a consumer read whose limit, the high watermark, is the
    /// log end slices the segment to its end as it is when the read completes
    /// ([`crate::model::broker::fetch::SLICE_TIME`] later): an append in between is returned.
    pub kafka_9835: bool,
    /// Consumers without KIP-320 (clients that do not send `current_leader_epoch` in Fetch): a
    /// broker cannot tell that the consumer's metadata is stale.
    pub kip_320: bool,
    /// Before KAFKA-13636 (fixed 3.2.0): offset expiry trusts the group's subscribed topics
    /// (computed at the last generation) even while the group is not Stable, so the offsets of a
    /// group that was Empty and is rejoining expire from their commit timestamps.
    pub kafka_13636: bool,
    /// A client that takes an OffsetFetch answered COORDINATOR_LOAD_IN_PROGRESS for "no committed
    /// offset" and starts from `auto.offset.reset` (pykafka before PR #454, issue #396), where
    /// Kafka's clients retry.
    pub reset_on_load_in_progress: bool,
}

/// Broker settings (Kafka's names in the comments).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BrokerSettings {
    /// `broker.heartbeat.interval.ms` (2000)
    pub heartbeat_interval_ms: u64,
    /// `broker.session.timeout.ms` (9000), enforced by the controller
    pub session_timeout_ms: u64,
    /// `replica.lag.time.max.ms` (30000)
    pub replica_lag_time_max_ms: u64,
    /// `replica.fetch.wait.max.ms` (500)
    pub replica_fetch_wait_max_ms: u64,
    /// `replica.fetch.backoff.ms` (1000)
    pub replica_fetch_backoff_ms: u64,
    /// `replica.fetch.max.bytes` (1048576): a follower's fetch asks for at most this much (the
    /// leader still returns at least one batch).
    pub replica_fetch_max_bytes: u64,
    /// `replica.high.watermark.checkpoint.interval.ms` (5000)
    pub hw_checkpoint_interval_ms: u64,
    /// `log.retention.check.interval.ms` (300000)
    pub retention_check_interval_ms: u64,
    /// `offsets.retention.minutes` (10080, 7 days), in ms: how long committed offsets are kept
    /// (KIP-211: from when the group became Empty, or from the commit for a topic the group no
    /// longer subscribes to).
    pub offsets_retention_ms: u64,
    /// `offsets.retention.check.interval.ms` (600000)
    pub offsets_retention_check_interval_ms: u64,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        BrokerSettings {
            heartbeat_interval_ms: 2_000,
            session_timeout_ms: 9_000,
            replica_lag_time_max_ms: 30_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_backoff_ms: 1_000,
            replica_fetch_max_bytes: 1_048_576,
            hw_checkpoint_interval_ms: 5_000,
            retention_check_interval_ms: 300_000,
            offsets_retention_ms: 10_080 * 60_000,
            offsets_retention_check_interval_ms: 600_000,
        }
    }
}

/// The brokers of the cluster and the nodes that host them, in `broker.id` order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClusterLayout {
    pub brokers: Vec<(BrokerId, NodeId)>,
    pub topics: Vec<TopicConfig>,
    /// The controller's node.
    pub controller: NodeId,
    pub settings: BrokerSettings,
    pub bugs: BugSwitches,
    /// `offsets.topic.num.partitions` (50): the partitions of `__consumer_offsets`, which is in
    /// `topics` when the scenario has consumer groups.
    pub offsets_topic_partitions: i32,
}

impl ClusterLayout {
    pub fn node_of(&self, broker: BrokerId) -> Option<NodeId> {
        self.brokers.iter().find(|(b, _)| *b == broker).map(|(_, n)| *n)
    }
    pub fn broker_at(&self, node: NodeId) -> Option<BrokerId> {
        self.brokers.iter().find(|(_, n)| *n == node).map(|(b, _)| *b)
    }
    /// The `__consumer_offsets` partition whose leader coordinates `group_id`.
    pub fn coordinator_partition(&self, group_id: &str) -> TopicPartition {
        let p = super::partitioner::coordinator_partition(group_id, self.offsets_topic_partitions.max(1));
        TopicPartition::new(super::group::protocol::CONSUMER_OFFSETS, p)
    }

    pub fn topic(&self, name: &str) -> Option<&TopicConfig> {
        self.topics.iter().find(|t| t.name == name)
    }

    /// The replica assignment of a partition, Kafka's round-robin placement without racks:
    /// replica `i` of partition `p` is broker `(p + i) mod n` in `broker.id` order.
    pub fn replicas(&self, topic: &TopicConfig, partition: i32) -> Vec<BrokerId> {
        let n = self.brokers.len();
        if n == 0 {
            return Vec::new();
        }
        (0..topic.replication_factor.max(1) as usize)
            .map(|i| self.brokers[(partition as usize + i) % n].0)
            .collect()
    }
}
