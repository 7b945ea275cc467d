//! Identifiers. Every id is a newtype so that a broker id can never be passed where a node index
//! or an offset is meant.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The index of a simulated node (broker, controller or client) in its host. Messages are addressed
/// by `NodeId`; the model maps Kafka's own ids (`BrokerId`) onto it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// Kafka's `broker.id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BrokerId(pub i32);

impl fmt::Display for BrokerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b{}", self.0)
    }
}

impl BrokerId {
    /// `[b0, b1]`, for explanations.
    pub fn list(ids: &[BrokerId]) -> String {
        format!("[{}]", ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
    }
}

/// A position in a partition's log. Kafka uses `-1` for "unknown"; here that is `Option<Offset>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Offset(pub i64);

impl Offset {
    pub fn next(self) -> Offset {
        Offset(self.0 + 1)
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A leader epoch: bumped by the controller every time a partition's leader is set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaderEpoch(pub i32);

impl fmt::Display for LeaderEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A topic partition, written `topic-N` as Kafka does (also in JSON, so that it can be a map key).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

impl Serialize for TopicPartition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TopicPartition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let parsed = text.rsplit_once('-').and_then(|(t, p)| p.parse().ok().map(|p| TopicPartition::new(t, p)));
        parsed.ok_or_else(|| serde::de::Error::custom(format!("expected topic-partition like \"orders-0\", got {text:?}")))
    }
}

/// The identity of a record the workload produced: which producer, and its sequence number in
/// that producer's workload. Checkers follow records by this id, whatever offset they land at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordId {
    pub producer: u32,
    pub seq: u32,
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}#{}", self.producer, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_partitions_serialize_as_kafka_writes_them() {
        let tp = TopicPartition::new("my-topic", 12);
        let json = serde_json::to_string(&tp).unwrap();
        assert_eq!(json, "\"my-topic-12\"");
        assert_eq!(serde_json::from_str::<TopicPartition>(&json).unwrap(), tp);
    }
}
