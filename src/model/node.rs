//! The node type the hosts run: one enum over every Kafka actor, so that one world can hold
//! brokers and clients side by side. Each arm hands the call to the actor's own module.

use serde::Serialize;

use super::actor::{Actor, Ctx, DiskDone};
use super::broker::{Broker, BrokerTimer};
use super::command::Command;
use super::controller::{Controller, ControllerTimer};
use super::ids::{LeaderEpoch, Offset, TopicPartition};
use super::metadata::MetadataImage;
use super::protocol::RecordBatch;
use super::consumer::{Consumer, ConsumerTimer};
use super::ids::NodeId;
use super::observe::Observation;
use super::producer::{Producer, ProducerTimer};
use super::protocol::Msg;

/// One entry of a file on a node's disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DiskEntry {
    /// A partition log (`<topic>-<p>.log`): one record batch.
    Batch(RecordBatch),
    /// The leader epoch checkpoint (`<topic>-<p>.epochs`): an epoch and its start offset.
    Epoch(LeaderEpoch, Offset),
    /// The high-watermark checkpoint (`replication-offset-checkpoint`).
    HighWatermark(TopicPartition, Offset),
    /// The controller's metadata log: the image as of one version.
    Metadata(MetadataImage),
}

#[derive(Clone, Debug)]
pub enum KafkaNode {
    Broker(Broker),
    Controller(Controller),
    Producer(Producer),
    Consumer(Box<Consumer>),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum NodeTimer {
    Broker(BrokerTimer),
    Controller(ControllerTimer),
    Producer(ProducerTimer),
    Consumer(ConsumerTimer),
}

impl Actor for KafkaNode {
    type Msg = Msg;
    type Timer = NodeTimer;
    type Entry = DiskEntry;
    type Obs = Observation;
    type Command = Command;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            KafkaNode::Broker(b) => b.on_start(ctx),
            KafkaNode::Controller(c) => c.on_start(ctx),
            KafkaNode::Producer(p) => p.on_start(ctx),
            KafkaNode::Consumer(c) => c.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            KafkaNode::Broker(b) => b.on_message(ctx, from, msg),
            KafkaNode::Controller(c) => c.on_message(ctx, from, msg),
            KafkaNode::Producer(p) => p.on_message(ctx, from, msg),
            KafkaNode::Consumer(c) => c.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: NodeTimer) {
        match (self, timer) {
            (KafkaNode::Broker(b), NodeTimer::Broker(t)) => b.on_timer(ctx, t),
            (KafkaNode::Controller(c), NodeTimer::Controller(t)) => c.on_timer(ctx, t),
            (KafkaNode::Producer(p), NodeTimer::Producer(t)) => p.on_timer(ctx, t),
            (KafkaNode::Consumer(c), NodeTimer::Consumer(t)) => c.on_timer(ctx, t),
            (_, t) => unreachable!("a node only sets its own kind of timer, got {t:?}"),
        }
    }

    fn on_disk(&mut self, ctx: &mut Ctx<'_, Self>, done: DiskDone) {
        match self {
            KafkaNode::Broker(b) => b.on_disk(ctx, done),
            KafkaNode::Controller(c) => c.on_disk(ctx, done),
            _ => {}
        }
    }

    fn on_shutdown(&mut self, ctx: &mut Ctx<'_, Self>) {
        if let KafkaNode::Consumer(c) = self {
            c.on_shutdown(ctx);
        }
    }

    fn on_command(&mut self, ctx: &mut Ctx<'_, Self>, command: Command) {
        match self {
            KafkaNode::Controller(c) => c.on_command(ctx, command),
            KafkaNode::Producer(p) => p.on_command(ctx, command),
            KafkaNode::Consumer(c) => c.on_command(ctx, command),
            KafkaNode::Broker(_) => ctx.explain(|| format!("a broker takes no {command:?} call")),
        }
    }

    fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        match self {
            KafkaNode::Broker(b) => b.on_disconnect(ctx, peer),
            KafkaNode::Controller(_) => {}
            KafkaNode::Producer(p) => p.on_disconnect(ctx, peer),
            KafkaNode::Consumer(c) => c.on_disconnect(ctx, peer),
        }
    }
}
