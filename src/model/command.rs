//! What a scenario can ask of a node from outside the protocol: an operator's admin command or
//! the application calling its client. Each is named after the Kafka call it stands for.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// `kafka-topics --alter --topic <topic> --partitions <count>` (Admin `createPartitions`):
    /// the controller grows the topic to `count` partitions.
    CreatePartitions { topic: String, count: i32 },
    /// `KafkaConsumer.subscribe(topics)` on a group member: it rejoins with the new subscription.
    Subscribe { topics: Vec<String> },
    /// The application stops producing and calls `KafkaProducer.close()`.
    CloseProducer,
    /// The application produces again, with a new `KafkaProducer`, from the first record it had
    /// not sent.
    StartProducer,
}
