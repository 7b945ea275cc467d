//! Kafka as pure, sans-IO state machines. Nothing here names the engine, reads a clock, spawns a
//! thread or iterates a hash map: every input comes through the [`actor`] contract.

pub mod actor;
pub mod assignor;
pub mod broker;
pub mod command;
pub mod config;
pub mod consumer;
pub mod consumer_group;
mod consumer_subscription;
pub mod controller;
pub mod group;
pub mod ids;
pub mod marks;
pub mod metadata;
pub mod node;
pub mod observe;
pub mod partitioner;
pub mod producer;
pub mod protocol;
pub mod time;

pub use command::Command;
pub use actor::{Actor, Ctx, DiskDone, DiskImage, DiskOp, Effect, Message};
pub use ids::{BrokerId, LeaderEpoch, NodeId, Offset, RecordId, TopicPartition};
pub use node::{DiskEntry, KafkaNode, NodeTimer};
pub use observe::Observation;
pub use time::{SimDuration, SimTime};
