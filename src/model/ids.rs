//! Identifiers. Every id is a newtype so that a broker id can never be passed where a node index
//! or an offset is meant.

use std::fmt;
use std::sync::Arc;

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

/// A topic's name. Shared, so that the topic partitions the model copies on every request and
/// every map lookup are a reference count and a pointer comparison instead of a string's
/// allocation and `memcmp`. It orders, compares and hashes exactly as the name's `str` does.
#[derive(Clone)]
pub struct Topic(Arc<str>);

impl Topic {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Topic {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Topic {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl Topic {
    /// The thread's shared copy of `name`, so that equal names are usually the same pointer and
    /// compare without reading the bytes. Only the first [`Topic::SHARED`] names are kept; which
    /// copy a name gets never changes how it compares, orders or hashes.
    fn shared(name: &str) -> Topic {
        thread_local! {
            static NAMES: std::cell::RefCell<Vec<Arc<str>>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        NAMES.with(|names| {
            let mut names = names.borrow_mut();
            if let Some(known) = names.iter().find(|n| ***n == *name) {
                return Topic(known.clone());
            }
            let new: Arc<str> = Arc::from(name);
            if names.len() < Topic::SHARED {
                names.push(new.clone());
            }
            Topic(new)
        })
    }

    const SHARED: usize = 64;
}

impl From<&str> for Topic {
    fn from(name: &str) -> Self {
        Topic::shared(name)
    }
}

impl From<String> for Topic {
    fn from(name: String) -> Self {
        Topic::shared(&name)
    }
}

impl From<&String> for Topic {
    fn from(name: &String) -> Self {
        Topic::shared(name)
    }
}

impl From<Topic> for String {
    fn from(t: Topic) -> String {
        t.0.to_string()
    }
}

impl PartialEq for Topic {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Topic {}

impl PartialEq<str> for Topic {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Topic {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Topic {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Topic> for String {
    fn eq(&self, other: &Topic) -> bool {
        **self == *other.0
    }
}

impl PartialEq<Topic> for str {
    fn eq(&self, other: &Topic) -> bool {
        *self == *other.0
    }
}

impl PartialOrd for Topic {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Topic {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return std::cmp::Ordering::Equal;
        }
        self.0.cmp(&other.0)
    }
}

impl std::hash::Hash for Topic {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `String` hashes, so that digests do not depend on how a name is held.
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Topic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Topic {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Topic::from)
    }
}

/// A topic partition, written `topic-N` as Kafka does (also in JSON, so that it can be a map key).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: Topic,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<Topic>, partition: i32) -> Self {
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
    fn a_topic_compares_and_orders_as_its_name() {
        let names = ["orders", "audit", "orders-v2", "", "__consumer_offsets", "a"];
        for a in names {
            // A shared copy and a fresh one of the same name are the same topic.
            assert_eq!(Topic::from(a), Topic(Arc::from(a)));
            for b in names {
                assert_eq!(Topic::from(a).cmp(&Topic(Arc::from(b))), a.cmp(b), "{a:?} vs {b:?}");
                assert_eq!(Topic::from(a) == Topic::from(b), a == b);
            }
        }
    }

    #[test]
    fn topic_partitions_serialize_as_kafka_writes_them() {
        let tp = TopicPartition::new("my-topic", 12);
        let json = serde_json::to_string(&tp).unwrap();
        assert_eq!(json, "\"my-topic-12\"");
        assert_eq!(serde_json::from_str::<TopicPartition>(&json).unwrap(), tp);
    }
}
