//! Cluster-wide configuration the model's actors share: topics and where brokers live. Defaults
//! are Kafka's.

use serde::{Deserialize, Serialize};

use super::ids::{BrokerId, NodeId};

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
        }
    }
}

/// The brokers of the cluster and the nodes that host them, in `broker.id` order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClusterLayout {
    pub brokers: Vec<(BrokerId, NodeId)>,
    pub topics: Vec<TopicConfig>,
}

impl ClusterLayout {
    pub fn node_of(&self, broker: BrokerId) -> Option<NodeId> {
        self.brokers.iter().find(|(b, _)| *b == broker).map(|(_, n)| *n)
    }
    pub fn broker_at(&self, node: NodeId) -> Option<BrokerId> {
        self.brokers.iter().find(|(_, n)| *n == node).map(|(b, _)| *b)
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
