//! The node type the hosts run: one enum over every Kafka actor, so that one world can hold
//! brokers and clients side by side. Each arm hands the call to the actor's own module.

use serde::Serialize;

use super::actor::{Actor, Ctx, DiskDone};
use super::broker::{Broker, BrokerTimer, LogEntry};
use super::consumer::{Consumer, ConsumerTimer};
use super::ids::NodeId;
use super::observe::Observation;
use super::producer::{Producer, ProducerTimer};
use super::protocol::Msg;

#[derive(Clone, Debug)]
pub enum KafkaNode {
    Broker(Broker),
    Producer(Producer),
    Consumer(Consumer),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum NodeTimer {
    Broker(BrokerTimer),
    Producer(ProducerTimer),
    Consumer(ConsumerTimer),
}

impl Actor for KafkaNode {
    type Msg = Msg;
    type Timer = NodeTimer;
    type Entry = LogEntry;
    type Obs = Observation;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            KafkaNode::Broker(b) => b.on_start(ctx),
            KafkaNode::Producer(p) => p.on_start(ctx),
            KafkaNode::Consumer(c) => c.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match self {
            KafkaNode::Broker(b) => b.on_message(ctx, from, msg),
            KafkaNode::Producer(p) => p.on_message(ctx, from, msg),
            KafkaNode::Consumer(c) => c.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: NodeTimer) {
        match (self, timer) {
            (KafkaNode::Broker(b), NodeTimer::Broker(t)) => b.on_timer(ctx, t),
            (KafkaNode::Producer(p), NodeTimer::Producer(t)) => p.on_timer(ctx, t),
            (KafkaNode::Consumer(c), NodeTimer::Consumer(t)) => c.on_timer(ctx, t),
            (_, t) => unreachable!("a node only sets its own kind of timer, got {t:?}"),
        }
    }

    fn on_disk(&mut self, ctx: &mut Ctx<'_, Self>, done: DiskDone) {
        if let KafkaNode::Broker(b) = self {
            b.on_disk(ctx, done);
        }
    }

    fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        match self {
            KafkaNode::Broker(_) => {}
            KafkaNode::Producer(p) => p.on_disconnect(ctx, peer),
            KafkaNode::Consumer(c) => c.on_disconnect(ctx, peer),
        }
    }
}
