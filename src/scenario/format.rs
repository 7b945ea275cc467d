//! The scenario file format, version 1: the serde structures a TOML scenario file deserializes
//! into. Every table denies unknown keys. Kafka's configuration names are used where Kafka has one
//! (quoted in TOML because of the dots: `"linger.ms" = 5`); defaults are Kafka's (Java client 4.x).
//! The complete reference is docs/scenarios.md.

use serde::Deserialize;
use toml::Spanned;

use super::values::{deserialize_acks, ClockOffset, Duration, Keys, LatencyRange, Start};
use crate::model::consumer::{Client, CommitStyle, OffsetReset};
use crate::model::partitioner::Partitioner;
use crate::model::protocol::Acks;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// A short name for reports (default: the file name).
    pub name: Option<String>,
    /// What the scenario shows, in prose.
    pub description: Option<String>,
    /// What the run must end with: `"pass"` or the name of the violation it must find.
    pub expect: Spanned<String>,
    /// The processing guarantee the scenario demands: "at-least-once" (Kafka's consumers; the
    /// default) or "exactly-once" (records processed twice become violations).
    #[serde(default)]
    pub processing: Processing,
    /// Whose per-partition send order `producer-order` judges: "promised" (the default: producers
    /// whose configuration promises it) or "required" (every producer).
    #[serde(default)]
    pub send_order: SendOrder,
    pub cluster: ClusterSection,
    #[serde(default)]
    pub topics: Vec<TopicSection>,
    #[serde(default)]
    pub producers: Vec<ProducerSection>,
    #[serde(default)]
    pub consumers: Vec<ConsumerSection>,
    #[serde(default)]
    pub faults: Vec<FaultSection>,
    #[serde(default)]
    pub network: NetworkSection,
    #[serde(default)]
    pub disk: DiskSection,
    #[serde(default)]
    pub run: RunSection,
    #[serde(default)]
    pub bugs: BugsSection,
    /// Random faults drawn from the seed, in the safety phase.
    pub nemesis: Option<NemesisSection>,
    /// After the safety phase everything heals, and the run must complete within this bound.
    pub liveness: Option<LivenessSection>,
    /// Coverage marks the run must reach (over a sweep: some seed must reach each).
    #[serde(default)]
    pub sometimes: Vec<Spanned<String>>,
}

/// The random nemesis: faults drawn from the seed between `from` and `until`, then everything
/// heals.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NemesisSection {
    /// `false`: the nemesis runs only when asked for (`kafkasim run|explore --nemesis`). Safe
    /// scenarios use it to state the faults their configuration claims to tolerate while their
    /// default run stays the scripted story.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Which faults: crash, kill, stop, pause, isolate, partition, clog.
    #[serde(default = "nemesis_kinds")]
    pub kinds: Spanned<Vec<String>>,
    /// Whom: "brokers", "controller", "consumers", "producers", or node names.
    #[serde(default = "nemesis_targets")]
    pub targets: Spanned<Vec<String>>,
    /// Mean time between faults.
    #[serde(default = "nemesis_interval")]
    pub interval: Duration,
    /// How long each fault lasts: [shortest, longest].
    #[serde(default = "nemesis_duration")]
    pub duration: [Duration; 2],
    /// When the safety phase starts.
    #[serde(default = "nemesis_from")]
    pub from: Duration,
    /// When it ends: every fault is undone and everything heals.
    pub until: Duration,
    /// At most this many targets faulted (or recovering) at once (default 1: what a 3-replica
    /// cluster with `min.insync.replicas = 2` tolerates). A network partition counts every broker
    /// on the side without the controller.
    #[serde(default = "one_u32")]
    pub max_down: u32,
    /// How long a target still counts as down after its fault ends: the time to restart, catch up
    /// and rejoin the ISR (default 10 s).
    #[serde(default = "ten_s_duration")]
    pub recovery: Duration,
    /// "fixed": the settings above; "random": the kinds (a subset), the interval and the longest
    /// duration are drawn from the seed too, so a sweep covers many fault profiles.
    #[serde(default)]
    pub profile: NemesisProfile,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NemesisProfile {
    #[default]
    Fixed,
    Random,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessSection {
    /// How long after the safety phase (the nemesis' `until`, or the last scripted fault) the run
    /// has to complete: every group Stable with each partition owned once, every committed record
    /// delivered, no lag.
    pub within: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// Number of brokers, named `b0`, `b1`, … with `broker.id` 0, 1, …
    pub brokers: Spanned<u32>,
    #[serde(rename = "broker.heartbeat.interval.ms", default = "two_s")]
    pub heartbeat_interval_ms: u64,
    #[serde(rename = "broker.session.timeout.ms", default = "nine_s")]
    pub session_timeout_ms: u64,
    #[serde(rename = "replica.lag.time.max.ms", default = "thirty_s")]
    pub replica_lag_time_max_ms: u64,
    #[serde(rename = "replica.fetch.wait.max.ms", default = "five_hundred")]
    pub replica_fetch_wait_max_ms: u64,
    #[serde(rename = "replica.fetch.backoff.ms", default = "one_s")]
    pub replica_fetch_backoff_ms: u64,
    #[serde(rename = "replica.fetch.max.bytes", default = "one_mib")]
    pub replica_fetch_max_bytes: u64,
    #[serde(rename = "replica.high.watermark.checkpoint.interval.ms", default = "five_s")]
    pub hw_checkpoint_interval_ms: u64,
    #[serde(rename = "log.retention.check.interval.ms", default = "five_min")]
    pub retention_check_interval_ms: u64,
    /// `offsets.retention.minutes` (7 days): how long committed offsets are kept (KIP-211).
    #[serde(rename = "offsets.retention.minutes", default = "week_minutes")]
    pub offsets_retention_minutes: u64,
    #[serde(rename = "offsets.retention.check.interval.ms", default = "ten_min")]
    pub offsets_retention_check_interval_ms: u64,
    /// Partitions of `__consumer_offsets` (created when a consumer has a `group.id`).
    #[serde(rename = "offsets.topic.num.partitions", default = "fifty")]
    pub offsets_topic_partitions: Spanned<i32>,
}

/// Which producers must keep their per-partition send order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SendOrder {
    /// Producers whose configuration promises it: idempotence, one request in flight, or no
    /// retries.
    #[default]
    Promised,
    /// Every producer: the application needs the order whatever the configuration.
    Required,
}

/// The processing guarantee a scenario holds the consumers to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Processing {
    #[default]
    AtLeastOnce,
    ExactlyOnce,
}

/// Bug switches: known Kafka bugs and unsafe behaviours, off by default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BugsSection {
    /// Truncate to the local high watermark on restart or on becoming follower (before KIP-101).
    #[serde(rename = "KIP-101", default)]
    pub kip_101: bool,
    /// Let a follower rejoin the ISR before reaching the leader's epoch start (before KAFKA-7128).
    #[serde(rename = "KAFKA-7128", default)]
    pub kafka_7128: bool,
    /// Let the high watermark advance while the ISR is below min.insync.replicas (before
    /// KAFKA-15583, Kafka 3.7).
    #[serde(rename = "KAFKA-15583", default)]
    pub kafka_15583: bool,
    /// Let the coordinator accept commits from fenced members and old generations (D-10).
    #[serde(rename = "unfenced-commits", default)]
    pub unfenced_commits: bool,
    /// Before KIP-341 (KAFKA-7026, fixed 2.3.0): the sticky assignor trusts every member's
    /// reported previous assignment, without generations.
    #[serde(rename = "KAFKA-7026", default)]
    pub kafka_7026: bool,
    /// Before KAFKA-14639 (fixed 3.6.0): the sticky assignors ignore the owned partitions of a
    /// member that reports an older generation than the newest.
    #[serde(rename = "KAFKA-14639", default)]
    pub kafka_14639: bool,
    /// Before KIP-279 (KAFKA-6361, fixed 2.0.0): OffsetsForLeaderEpoch answers an end offset
    /// without its epoch, and the follower truncates to it once.
    #[serde(rename = "KIP-279", default)]
    pub kip_279: bool,
    /// Before KAFKA-14704 (fixed 3.5.0): a follower applies the leader's high watermark before it
    /// truncates to the diverging epoch.
    #[serde(rename = "KAFKA-14704", default)]
    pub kafka_14704: bool,
    /// Before KAFKA-9835 (fixed 2.6.0): a consumer read at the log end races a concurrent append
    /// and returns records above the high watermark.
    #[serde(rename = "KAFKA-9835", default)]
    pub kafka_9835: bool,
    /// Consumers that do not implement KIP-320: their fetches carry no leader epoch.
    #[serde(rename = "KIP-320", default)]
    pub kip_320: bool,
    /// Before KAFKA-13636 (fixed 3.2.0): offsets expire during a rebalance, measured from their
    /// commit, because the expiry trusts the subscribed topics of a group that is not Stable.
    #[serde(rename = "KAFKA-13636", default)]
    pub kafka_13636: bool,
    /// A consumer that takes an OffsetFetch answered COORDINATOR_LOAD_IN_PROGRESS (a new
    /// coordinator still loading `__consumer_offsets`) for "no committed offset" (Parsely/pykafka
    /// issue #396, fixed by PR #454).
    #[serde(rename = "reset-on-load-in-progress", default)]
    pub reset_on_load_in_progress: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSection {
    pub name: Spanned<String>,
    #[serde(default = "one_i32")]
    pub partitions: Spanned<i32>,
    #[serde(rename = "replication.factor", default = "one_i16")]
    pub replication_factor: Spanned<i16>,
    #[serde(rename = "min.insync.replicas", default = "one_i16")]
    pub min_insync_replicas: Spanned<i16>,
    #[serde(rename = "flush.messages")]
    pub flush_messages: Option<Spanned<u64>>,
    #[serde(rename = "flush.ms")]
    pub flush_ms: Option<u64>,
    /// Default 604800000 (7 days); -1 for unlimited.
    #[serde(rename = "retention.ms", default = "week_ms")]
    pub retention_ms: i64,
    /// Default -1 (unlimited).
    #[serde(rename = "retention.bytes", default = "minus_one")]
    pub retention_bytes: i64,
    #[serde(rename = "unclean.leader.election.enable", default)]
    pub unclean_leader_election_enable: bool,
    /// Default 1073741824 (1 GiB).
    #[serde(rename = "segment.bytes", default = "gib")]
    pub segment_bytes: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProducerSection {
    pub name: Spanned<String>,
    pub topic: Spanned<String>,
    /// Whose defaults apply: "java" (default) or "sarama".
    #[serde(default)]
    pub client: Client,
    /// Default: `all` (Java), `1` (sarama's WaitForLocal).
    #[serde(default, deserialize_with = "deserialize_acks")]
    pub acks: Option<Acks>,
    #[serde(rename = "linger.ms", default = "five")]
    pub linger_ms: u64,
    #[serde(rename = "batch.size", default = "batch_size")]
    pub batch_size: u64,
    /// Default: murmur2 (Java), sarama-hash (sarama's FNV-1a).
    #[serde(default)]
    pub partitioner: Option<Partitioner>,
    /// With `partitioner = "manual"`: the partition every record goes to.
    pub partition: Option<Spanned<i32>>,
    #[serde(rename = "request.timeout.ms", default = "thirty_s")]
    pub request_timeout_ms: u64,
    #[serde(rename = "delivery.timeout.ms", default = "two_min")]
    pub delivery_timeout_ms: u64,
    #[serde(rename = "retry.backoff.ms", default = "hundred")]
    pub retry_backoff_ms: u64,
    /// Default: effectively unlimited (Java), 3 (sarama's `Producer.Retry.Max`).
    pub retries: Option<u32>,
    #[serde(rename = "max.in.flight.requests.per.connection", default = "five_spanned")]
    pub max_in_flight: Spanned<u64>,
    /// Default false for both clients here (Java's default is true since 3.0; sarama's is false).
    #[serde(rename = "enable.idempotence", default = "no")]
    pub enable_idempotence: Spanned<bool>,
    /// How many records this producer sends.
    pub messages: u32,
    /// Records per second (0: all at once).
    #[serde(default)]
    pub rate: u32,
    /// Distinct keys (`10` gives `key-0` … `key-9`) or `"none"` for null keys.
    #[serde(default = "no_keys")]
    pub keys: Keys,
    /// Bytes per record (what `batch.size` and retention count).
    #[serde(default = "hundred_u32")]
    pub record_size: u32,
    /// When the producer starts (default: at once).
    pub start_at: Option<Duration>,
    /// `metadata.max.age.ms` (300000): how old metadata may get before it is refreshed; a
    /// topic's added partitions are used from the next refresh on.
    #[serde(rename = "metadata.max.age.ms", default = "five_min")]
    pub metadata_max_age_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSection {
    pub name: Spanned<String>,
    /// The topic it reads; or `topics`, several.
    pub topic: Option<Spanned<String>>,
    /// The topics a group member subscribes to (instead of `topic`).
    pub topics: Option<Spanned<Vec<String>>>,
    /// Whose defaults and behaviour: "java" (default) or "sarama".
    #[serde(default)]
    pub client: Client,
    /// Partitions to `assign()`; default all.
    pub partitions: Option<Spanned<Vec<i32>>>,
    /// Where to start; default: what `auto.offset.reset` says.
    pub start: Option<Start>,
    /// Default latest (sarama: `Consumer.Offsets.Initial` = OffsetNewest).
    #[serde(rename = "auto.offset.reset", default = "reset_latest")]
    pub auto_offset_reset: OffsetReset,
    #[serde(rename = "fetch.max.wait.ms", default = "five_hundred")]
    pub fetch_max_wait_ms: u64,
    #[serde(rename = "fetch.min.bytes", default = "one_u64")]
    pub fetch_min_bytes: u64,
    #[serde(rename = "fetch.max.bytes", default = "fifty_mib")]
    pub fetch_max_bytes: u64,
    #[serde(rename = "request.timeout.ms", default = "thirty_s")]
    pub request_timeout_ms: u64,
    #[serde(rename = "retry.backoff.ms", default = "hundred")]
    pub retry_backoff_ms: u64,
    pub start_at: Option<Duration>,
    /// `group.id`: the consumer subscribes as a member of this group instead of `assign()`.
    #[serde(rename = "group.id")]
    pub group_id: Option<Spanned<String>>,
    /// `partition.assignment.strategy`: assignor names in preference order.
    /// Default ["range"] (Java 3.x's default is [range, cooperative-sticky], which rebalances
    /// eagerly with range while any member lists range first).
    #[serde(rename = "partition.assignment.strategy", default = "range_only")]
    pub assignment_strategy: Spanned<Vec<String>>,
    /// Default 45 s (Java), 10 s (sarama).
    #[serde(rename = "session.timeout.ms")]
    pub session_timeout_ms: Option<u64>,
    #[serde(rename = "heartbeat.interval.ms", default = "three_s")]
    pub heartbeat_interval_ms: u64,
    /// Java: enforced by the client, and also the JoinGroup rebalance timeout. Default 300 s.
    #[serde(rename = "max.poll.interval.ms", default = "five_min")]
    pub max_poll_interval_ms: u64,
    /// sarama's `Consumer.Group.Rebalance.Timeout` (default 60 s); Java sends
    /// `max.poll.interval.ms` instead.
    #[serde(rename = "rebalance.timeout.ms")]
    pub rebalance_timeout_ms: Option<u64>,
    #[serde(rename = "enable.auto.commit", default = "yes")]
    pub enable_auto_commit: bool,
    /// Default 5 s (Java), 1 s (sarama).
    #[serde(rename = "auto.commit.interval.ms")]
    pub auto_commit_interval_ms: Option<u64>,
    /// How long the application takes per record (default 0). The next poll waits for it.
    pub processing_time: Option<Duration>,
    /// What commits carry and when: "auto" (Java's default), "sync", "async", "per-message",
    /// "mark" (sarama's default) or "mark-before-process" (the unsafe style of reference D-13).
    pub commit: Option<CommitStyle>,
    /// `client.rack` (KIP-392; default none): sent with each fetch, it lets a follower answer the
    /// consumer's fetches (fetch-from-follower). The consumer still sends them where its metadata
    /// says the leader is; a follower serves it only while that metadata is stale.
    #[serde(rename = "client.rack")]
    pub client_rack: Option<String>,
    /// `metadata.max.age.ms` (300000): how old metadata may get before it is refreshed; the
    /// group leader notices a subscribed topic's new partitions at a refresh and rebalances.
    #[serde(rename = "metadata.max.age.ms", default = "five_min")]
    pub metadata_max_age_ms: u64,
}

impl ConsumerSection {
    /// The topics it subscribes to (or reads), from `topic` or `topics`.
    pub fn topics(&self) -> Vec<String> {
        match (&self.topic, &self.topics) {
            (Some(t), _) => vec![t.get_ref().clone()],
            (None, Some(ts)) => ts.get_ref().clone(),
            (None, None) => Vec::new(),
        }
    }
}

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultAction {
    /// A machine crash (power loss): volatile state and unsynced disk data are lost.
    Crash,
    /// A process kill (`kill -9`): volatile state is lost, the page cache survives.
    Kill,
    /// Restart a crashed or stopped node from its disk.
    Restart,
    /// Graceful shutdown: the disk is flushed.
    Stop,
    /// Start a node that has not started yet.
    Start,
    /// Freeze the node (a GC pause); `for` resumes it.
    Pause,
    Resume,
    /// Cut the node off from every other node.
    Isolate,
    /// Split the nodes into `groups` that cannot reach each other.
    Partition,
    /// Drop everything from `from` to `to`, but not back.
    OneWay,
    /// Remove every partition.
    Heal,
    /// What the nemesis does at the end of its safety phase: remove every partition and clog,
    /// resume paused nodes, restart nodes that are down.
    HealAll,
    /// Hold every message between `from` and `to` (or to and from `node`) until unclogged.
    Clog,
    Unclog,
    /// Break the connection between `from` and `to` (both ends see a disconnect).
    Disconnect,
    /// Drop the next `count` messages matching `kind`/`from`/`to`.
    Drop,
    /// Delay the next `count` messages matching `kind`/`from`/`to` by `delay`.
    Delay,
    /// A latency spike: every message to or from `node` takes `latency` longer (on top of the
    /// link's latency); `for` ends it.
    Slow,
    /// Clock skew: the node's wall clock jumps by `offset` ("+30s", "-5s"); `for` sets it right.
    Skew,
    /// `kafka-topics --alter --topic <topic> --partitions <count>`: the controller grows `topic`
    /// to `count` partitions in all.
    AddPartitions,
    /// The consumer `node` calls `subscribe(topics)`: it rejoins its group with the new topics.
    Subscribe,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSection {
    /// When the fault fires (virtual time); or `when`, a condition in protocol terms.
    pub at: Option<Duration>,
    /// A condition: the fault fires when it first holds (plus `after`).
    pub when: Option<Spanned<TriggerSection>>,
    /// With `when`: how long after the condition holds.
    pub after: Option<Duration>,
    pub action: Spanned<FaultAction>,
    pub node: Option<Spanned<String>>,
    pub groups: Option<Spanned<Vec<Vec<String>>>>,
    pub from: Option<Spanned<String>>,
    pub to: Option<Spanned<String>>,
    /// A message kind, like "ProduceResponse".
    pub kind: Option<Spanned<String>>,
    /// Drop/delay: how many messages (default 1). Add-partitions: the topic's new partition count.
    #[serde(default = "one_u32_spanned")]
    pub count: Spanned<u32>,
    /// Add-partitions: the topic that grows.
    pub topic: Option<Spanned<String>>,
    /// Subscribe: the consumer's new topics.
    pub topics: Option<Spanned<Vec<String>>>,
    pub delay: Option<Duration>,
    /// The extra latency of a `slow` node.
    pub latency: Option<Duration>,
    /// How far a `skew` sets the node's wall clock from true time: "+30s" ahead, "-5s" behind.
    pub offset: Option<ClockOffset>,
    /// With `delay`: later messages may overtake the delayed one (default false: they wait
    /// behind it, as on one TCP connection).
    #[serde(default)]
    pub reorder: bool,
    /// Undo the fault after this long (restart, resume, heal, unclog).
    #[serde(rename = "for")]
    pub duration: Option<Duration>,
    /// With `action = "crash"`: the power goes in the middle of a write. Each file's unsynced
    /// appends were written back except the last, which is half written; recovery truncates the
    /// log before it (Kafka's LogLoader). Default false: every unsynced write is lost.
    #[serde(default = "no")]
    pub torn_tail: Spanned<bool>,
}

/// A fault's trigger, in protocol terms. Exactly one kind per trigger:
/// - `{ group = "g", state = "CompletingRebalance", generation = 2 }`: the group's coordinator
///   has it in that state (and generation, if given);
/// - `{ consumer = "c1", processed = 50 }`: the consumer has processed that many records;
/// - `{ producer = "p1", acked = 500 }`: the producer has had that many records acknowledged;
/// - `{ partition = "t-0", leader_epoch = 1 }`: the controller has elected a leader in that epoch
///   or a later one (1: the first leader change);
/// - `{ partition = "t-0", acked_offset = 100 }`: a producer was acknowledged at that offset or
///   a later one (`producer` narrows it to one producer);
/// - `{ mark = "broker.truncate.to_high_watermark", node = "b1", count = 1 }`: the model reached
///   that coverage mark that many times (on that node, if given).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSection {
    pub group: Option<Spanned<String>>,
    pub state: Option<GroupStateName>,
    pub generation: Option<i32>,
    pub consumer: Option<Spanned<String>>,
    pub processed: Option<u64>,
    pub producer: Option<Spanned<String>>,
    pub acked: Option<u64>,
    pub partition: Option<Spanned<String>>,
    pub leader_epoch: Option<i32>,
    pub acked_offset: Option<i64>,
    pub mark: Option<Spanned<String>>,
    pub node: Option<Spanned<String>>,
    pub count: Option<u64>,
}

/// A consumer group's coordinator state (reference A.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum GroupStateName {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    #[serde(default = "default_latency")]
    pub latency: LatencyRange,
    #[serde(default)]
    pub loss: f64,
    #[serde(default)]
    pub duplicate: f64,
}

impl Default for NetworkSection {
    fn default() -> Self {
        NetworkSection { latency: default_latency(), loss: 0.0, duplicate: 0.0 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskSection {
    #[serde(default = "default_fsync")]
    pub fsync_latency: Duration,
    /// On a crash, keep a random prefix of the unsynced tail (pages the OS happened to write).
    #[serde(default)]
    pub torn_tail: bool,
}

impl Default for DiskSection {
    fn default() -> Self {
        DiskSection { fsync_latency: default_fsync(), torn_tail: false }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// The seed `run` uses when none is given on the command line.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Virtual time limit: a run still going then ends with the verdict `time-limit`.
    #[serde(default = "default_max_time")]
    pub max_time: Duration,
    /// Step limit: a run still going then ends with the verdict `step-limit`.
    #[serde(default = "default_max_steps")]
    pub max_steps: u64,
}

impl Default for RunSection {
    fn default() -> Self {
        RunSection { seed: 1, max_time: default_max_time(), max_steps: default_max_steps() }
    }
}

fn one_i32() -> Spanned<i32> {
    Spanned::new(0..0, 1)
}
fn one_i16() -> Spanned<i16> {
    Spanned::new(0..0, 1)
}
fn one_u32() -> u32 {
    1
}
fn one_u32_spanned() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}
fn one_u64() -> u64 {
    1
}
fn week_ms() -> i64 {
    604_800_000
}
fn minus_one() -> i64 {
    -1
}
fn five<T: From<u8>>() -> T {
    T::from(5)
}
fn five_spanned() -> Spanned<u64> {
    Spanned::new(0..0, 5)
}
fn batch_size() -> u64 {
    16_384
}
fn fifty() -> Spanned<i32> {
    Spanned::new(0..0, 50)
}
fn range_only() -> Spanned<Vec<String>> {
    Spanned::new(0..0, vec!["range".to_string()])
}
fn three_s() -> u64 {
    3_000
}
fn yes() -> bool {
    true
}
fn no() -> Spanned<bool> {
    Spanned::new(0..0, false)
}
fn gib() -> Spanned<u64> {
    Spanned::new(0..0, 1 << 30)
}
fn week_minutes() -> u64 {
    10_080
}
fn ten_min() -> u64 {
    600_000
}
fn five_min() -> u64 {
    300_000
}
fn one_mib() -> u64 {
    1_048_576
}

fn one_s() -> u64 {
    1_000
}
fn two_s() -> u64 {
    2_000
}
fn five_s() -> u64 {
    5_000
}
fn nine_s() -> u64 {
    9_000
}
fn thirty_s() -> u64 {
    30_000
}
fn two_min() -> u64 {
    120_000
}
fn hundred() -> u64 {
    100
}
fn hundred_u32() -> u32 {
    100
}
fn five_hundred() -> u64 {
    500
}
fn fifty_mib() -> u64 {
    52_428_800
}
fn no_keys() -> Keys {
    Keys::None
}
fn reset_latest() -> OffsetReset {
    OffsetReset::Latest
}
fn nemesis_kinds() -> Spanned<Vec<String>> {
    Spanned::new(0..0, ["crash", "kill", "pause", "isolate", "partition", "clog"].map(String::from).to_vec())
}
fn nemesis_targets() -> Spanned<Vec<String>> {
    Spanned::new(0..0, vec!["brokers".to_string()])
}
fn nemesis_interval() -> Duration {
    Duration(crate::model::SimDuration::from_secs(5))
}
fn nemesis_duration() -> [Duration; 2] {
    [Duration(crate::model::SimDuration::from_secs(1)), Duration(crate::model::SimDuration::from_secs(10))]
}
fn ten_s_duration() -> Duration {
    Duration(crate::model::SimDuration::from_secs(10))
}
fn nemesis_from() -> Duration {
    Duration(crate::model::SimDuration::from_secs(5))
}
fn default_latency() -> LatencyRange {
    LatencyRange { min: crate::model::SimDuration::from_millis(1), max: crate::model::SimDuration::from_millis(3) }
}
fn default_fsync() -> Duration {
    Duration(crate::model::SimDuration::from_millis(2))
}
fn default_max_time() -> Duration {
    Duration(crate::model::SimDuration::from_secs(300))
}
fn default_max_steps() -> u64 {
    5_000_000
}
