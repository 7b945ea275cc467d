//! Workload events end to end: partitions added to a topic (CreatePartitions), a consumer that
//! changes its subscription, and a producer that stops (`close()`) and starts again.

use kafkasim::explore::{run_scenario, RunOptions, RunReport};
use kafkasim::scenario::Scenario;
use kafkasim::trace::Collect;
use serde_json::Value;

/// Runs scenario text with seed 1, keeping every trace event.
fn run(text: &str) -> (RunReport, Vec<Value>) {
    let scenario = Scenario::parse("workload.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let collect = Collect::default();
    let events = collect.events.clone();
    let report = run_scenario(&scenario, 1, RunOptions { sink: Some(Box::new(collect)), ..RunOptions::default() });
    let events = std::mem::take(&mut *events.borrow_mut());
    (report, events)
}

fn secs(e: &Value) -> f64 {
    e["at"].as_u64().unwrap() as f64 / 1e6
}

/// The observations of one kind: (time in s, node index, the observation).
fn observed<'a>(events: &'a [Value], kind: &str) -> Vec<(f64, u64, &'a Value)> {
    events
        .iter()
        .filter(|e| e["kind"] == "observe" && e["obs"]["op"] == kind)
        .map(|e| (secs(e), e["node"].as_u64().unwrap(), &e["obs"]))
        .collect()
}

fn partition(v: &Value) -> String {
    v["partition"].as_str().unwrap().to_string()
}

fn partitions(v: &Value) -> Vec<String> {
    v["partitions"].as_array().unwrap().iter().map(|tp| tp.as_str().unwrap().to_string()).collect()
}

fn marks<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == "mark" && e["name"] == name).collect()
}

const ADD: &str = r#"expect = "pass"
[cluster]
brokers = 3
"offsets.topic.num.partitions" = 1
[[topics]]
name = "t"
partitions = 2
"replication.factor" = 2
[[producers]]
name = "p1"
topic = "t"
messages = 1200
rate = 100
keys = 16
"metadata.max.age.ms" = 1000
[[consumers]]
name = "c1"
topic = "t"
"group.id" = "g"
"auto.offset.reset" = "earliest"
"metadata.max.age.ms" = 4000
"session.timeout.ms" = 6000
"heartbeat.interval.ms" = 2000
[[consumers]]
name = "c2"
topic = "t"
"group.id" = "g"
"auto.offset.reset" = "earliest"
"metadata.max.age.ms" = 4000
"session.timeout.ms" = 6000
"heartbeat.interval.ms" = 2000
[[faults]]
at = "5s"
action = "add-partitions"
topic = "t"
count = 4
[[faults]]
at = "7s"
action = "kill"
node = "b2"
for = "2s"
"#;

/// Kafka's CreatePartitions: the producer partitions over the new count from its next metadata
/// refresh, only the group leader notices and rebalances, the new partitions are replicated
/// (and survive a replica's restart), and every record reaches the group.
#[test]
fn added_partitions_reach_the_producer_then_the_group_through_its_leader() {
    let (report, events) = run(ADD);
    assert_eq!(report.verdict, "pass", "{:?}", report.violations.first());
    assert_eq!(report.stats.records_acked, 1200);
    let new = |p: &str| p == "t-2" || p == "t-3";
    let invoked = observed(&events, "produce_invoked");
    let first_new = invoked.iter().find(|(_, _, o)| new(&partition(o))).expect("records go to the new partitions");
    assert!(first_new.0 > 5.0 && first_new.0 <= 6.1, "within metadata.max.age.ms of the change: {}", first_new.0);
    assert!(invoked.iter().filter(|(t, _, _)| *t > 6.1).filter(|(_, _, o)| new(&partition(o))).count() > 200, "a fair share goes there");
    // Only the leader watches the partition count: one member notices, once.
    let noticed = marks(&events, "consumer.metadata_changed");
    assert_eq!(noticed.len(), 1, "{noticed:?}");
    let t = secs(noticed[0]);
    assert!(t > 5.0 && t <= 9.2, "within the leader's metadata.max.age.ms: {t}");
    // The member that noticed led the last generation before it; the other did not notice.
    let led_last = events
        .iter()
        .filter(|e| e["kind"] == "deliver" && e["msg"]["api"] == "JoinGroupResponse" && e["msg"]["error_code"] == "NONE" && secs(e) < t)
        .filter(|e| e["msg"]["leader"] == e["msg"]["member_id"])
        .last()
        .map(|e| e["node"].as_u64().unwrap());
    assert_eq!(led_last, noticed[0]["node"].as_u64(), "the group leader notices");
    // After it, one generation assigns all four partitions between the two members.
    let assigned = observed(&events, "assigned");
    let after: Vec<&(f64, u64, &Value)> = assigned.iter().filter(|(at, _, _)| *at > t).collect();
    let mut all: Vec<String> = after.iter().flat_map(|(_, _, o)| partitions(o)).collect();
    all.sort();
    all.dedup();
    assert_eq!(all, ["t-0", "t-1", "t-2", "t-3"]);
    let nodes: std::collections::BTreeSet<u64> = after.iter().map(|(_, n, _)| *n).collect();
    assert_eq!(nodes.len(), 2, "both members take part in the rebalance");
    // Every record of the new partitions was delivered to the group.
    let acked_new = observed(&events, "produce_acked").iter().filter(|(_, _, o)| new(&partition(o))).count();
    let polled_new: usize = observed(&events, "polled").iter().filter(|(_, _, o)| new(&partition(o))).map(|(_, _, o)| o["records"].as_array().unwrap().len()).sum();
    assert!(acked_new > 0 && polled_new >= acked_new, "acked {acked_new}, polled {polled_new}");
}

/// Without the add-partitions fault nothing of the above happens: the checks above can fail.
#[test]
fn no_partitions_added_no_rebalance_for_metadata() {
    let text = ADD.replace("action = \"add-partitions\"\ntopic = \"t\"\ncount = 4", "action = \"pause\"\nnode = \"p1\"\nfor = \"10ms\"");
    let (report, events) = run(&text);
    assert_eq!(report.verdict, "pass");
    assert!(marks(&events, "consumer.metadata_changed").is_empty());
    assert!(observed(&events, "produce_invoked").iter().all(|(_, _, o)| ["t-0", "t-1"].contains(&partition(o).as_str())));
}

const SUBSCRIBE: &str = r#"expect = "pass"
[cluster]
brokers = 1
"offsets.topic.num.partitions" = 1
[[topics]]
name = "a"
partitions = 2
[[topics]]
name = "b"
partitions = 2
[[producers]]
name = "pa"
topic = "a"
messages = 1500
rate = 100
keys = 8
[[producers]]
name = "pb"
topic = "b"
messages = 1500
rate = 100
keys = 8
[[consumers]]
name = "c1"
topic = "a"
"group.id" = "g"
"auto.offset.reset" = "earliest"
"session.timeout.ms" = 6000
"heartbeat.interval.ms" = 2000
[[consumers]]
name = "c2"
topics = ["a"]
"group.id" = "g"
"auto.offset.reset" = "earliest"
"session.timeout.ms" = 6000
"heartbeat.interval.ms" = 2000
[[faults]]
at = "5s"
action = "subscribe"
node = "c1"
topics = ["a", "b"]
[[faults]]
at = "5s"
action = "subscribe"
node = "c2"
topics = ["a", "b"]
[[faults]]
at = "10s"
action = "subscribe"
node = "c1"
topics = ["b"]
"#;

/// `subscribe()`: the members rejoin with the new topics and the group assigns them; a member
/// that drops a topic commits, gives up its partitions and ends with the other topic only.
fn subscription_changes(strategy: &str) -> (RunReport, Vec<Value>) {
    let text = SUBSCRIBE.replace("\"group.id\" = \"g\"", &format!("\"group.id\" = \"g\"\n\"partition.assignment.strategy\" = [\"{strategy}\"]"));
    let (report, events) = run(&text);
    assert_eq!(report.verdict, "pass", "{strategy}: {:?}", report.violations.first());
    let subscribed = marks(&events, "consumer.subscribe");
    assert_eq!(subscribed.len(), 3, "{strategy}");
    let assigned = observed(&events, "assigned");
    let of = |node: u64, from: f64, to: f64| -> Vec<String> {
        let mut ps: Vec<String> = assigned.iter().filter(|(t, n, _)| *n == node && *t > from && *t < to).flat_map(|(_, _, o)| partitions(o)).collect();
        ps.sort();
        ps.dedup();
        ps
    };
    // Nodes: b0, controller, pa, pb, c1 = 4, c2 = 5.
    let before: Vec<String> = [of(4, 0.0, 5.0), of(5, 0.0, 5.0)].concat();
    assert!(before.iter().all(|p| p.starts_with("a-")), "{strategy}: only topic a before 5 s: {before:?}");
    let both: Vec<String> = [of(4, 5.0, 10.0), of(5, 5.0, 10.0)].concat();
    assert!(both.iter().any(|p| p.starts_with("b-")), "{strategy}: topic b assigned after the subscribe: {both:?}");
    // c1 dropped a at 10 s: its last assignment holds b's partitions only, and c2 has a's.
    let last = |node: u64| assigned.iter().filter(|(_, n, _)| *n == node).last().map(|(_, _, o)| partitions(o)).unwrap();
    assert!(last(4).iter().all(|p| p.starts_with("b-")) && !last(4).is_empty(), "{strategy}: {:?}", last(4));
    assert!(last(5).iter().any(|p| p.starts_with("a-")), "{strategy}: {:?}", last(5));
    // It committed what it had processed before giving a's partitions up.
    {
        let revoked = observed(&events, "revoked");
        let (t_rev, _, _) = revoked.iter().find(|(t, n, o)| *n == 4 && *t >= 10.0 && partitions(o).iter().any(|p| p.starts_with("a-"))).expect("c1 revokes a's partitions");
        let committed = observed(&events, "commit_requested");
        assert!(committed.iter().any(|(t, n, _)| *n == 4 && *t >= 10.0 && t <= t_rev), "{strategy}: a commit before the revocation at {t_rev}");
    }
    (report, events)
}

#[test]
fn an_eager_member_that_changes_its_subscription_revokes_everything_and_rejoins() {
    let (_, events) = subscription_changes("range");
    let revoked = observed(&events, "revoked");
    assert!(revoked.iter().any(|(t, n, o)| *n == 4 && *t >= 10.0 && partitions(o).iter().any(|p| p.starts_with("b-"))), "eager: b's partitions are revoked too");
}

#[test]
fn a_cooperative_member_that_drops_a_topic_revokes_only_its_partitions() {
    let (_, events) = subscription_changes("cooperative-sticky");
    let revoked = observed(&events, "revoked");
    let first = revoked.iter().find(|(t, n, _)| *n == 4 && *t >= 10.0).unwrap();
    assert!(partitions(first.2).iter().all(|p| p.starts_with("a-")), "cooperative: only the dropped topic: {:?}", partitions(first.2));
}

const STOP_START: &str = r#"expect = "pass"
[cluster]
brokers = 1
[[topics]]
name = "t"
partitions = 2
[[producers]]
name = "p1"
topic = "t"
messages = 600
rate = 100
"linger.ms" = 200
"enable.idempotence" = true
[[producers]]
name = "p2"
topic = "t"
messages = 50
rate = 100
start_at = "1000s"
[[consumers]]
name = "c1"
topic = "t"
"auto.offset.reset" = "earliest"
[[faults]]
at = "2s"
action = "stop"
node = "p1"
for = "3s"
[[faults]]
at = "1s"
action = "start"
node = "p2"
"#;

/// A producer's `stop` is `close()`: no send() after it, what it had accumulated goes out at
/// once (linger.ms does not wait), and close() returns when all of it is answered. `start` goes
/// on with the records not sent, each sent once; on a producer not started yet it starts it.
#[test]
fn a_stopped_producer_closes_cleanly_and_a_started_one_resumes() {
    let (report, events) = run(STOP_START);
    assert_eq!(report.verdict, "pass", "{:?}", report.violations.first());
    assert_eq!((report.stats.records_produced, report.stats.records_acked), (650, 650));
    let invoked = observed(&events, "produce_invoked");
    let p1: Vec<(f64, u64)> = invoked.iter().filter(|(_, n, _)| *n == 2).map(|(t, _, o)| (*t, o["record"]["seq"].as_u64().unwrap())).collect();
    assert!(p1.iter().all(|(t, _)| *t <= 2.0 || *t >= 5.0), "no send() while closed");
    assert!(p1.iter().any(|(t, _)| *t >= 5.0), "sends again after the start");
    let seqs: Vec<u64> = p1.iter().map(|(_, s)| *s).collect();
    assert_eq!(seqs, (0..600).collect::<Vec<u64>>(), "each record once, in order: the new producer resumes where the old stopped");
    // close() flushed: every record sent before 2 s was acknowledged before linger.ms would
    // have let its batch go, and before the producer started again.
    let sent_before: Vec<u64> = p1.iter().filter(|(t, _)| *t <= 2.0).map(|(_, s)| *s).collect();
    let acked = observed(&events, "produce_acked");
    for s in &sent_before {
        let (t, _, _) = acked.iter().find(|(_, n, o)| *n == 2 && o["record"]["seq"].as_u64() == Some(*s)).expect("acknowledged");
        assert!(*t < 2.1, "record {s} acknowledged at {t}");
    }
    assert_eq!(marks(&events, "producer.close").len(), 1);
    assert_eq!(marks(&events, "producer.start_again").len(), 1);
    // p2 (start_at 1000 s) was started by the `start` at 1 s.
    assert!(invoked.iter().filter(|(_, n, _)| *n == 3).all(|(t, _, _)| *t >= 1.0 && *t < 3.0));
}

/// A producer stopped for good: the run completes once what it sent before is answered.
#[test]
fn a_producer_stopped_for_good_lets_the_run_complete() {
    let text = STOP_START.replace("node = \"p1\"\nfor = \"3s\"", "node = \"p1\"");
    let (report, events) = run(&text);
    assert_eq!((report.verdict.as_str(), report.end.as_str()), ("pass", "completed"));
    let sent = observed(&events, "produce_invoked").iter().filter(|(_, n, _)| *n == 2).count() as u64;
    assert!(sent > 150 && sent < 250, "about 2 s at 100/s: {sent}");
    assert_eq!(report.stats.records_acked, sent + 50);
}

/// A consumer without a group that reads all partitions takes an added one at its next metadata
/// refresh, from where `start` says.
#[test]
fn a_standalone_consumer_over_all_partitions_reads_an_added_one() {
    let text = r#"expect = "pass"
[cluster]
brokers = 1
[[topics]]
name = "t"
partitions = 2
[[producers]]
name = "p1"
topic = "t"
messages = 600
rate = 100
keys = 10
"metadata.max.age.ms" = 500
[[consumers]]
name = "c1"
topic = "t"
"auto.offset.reset" = "earliest"
"metadata.max.age.ms" = 1000
[[faults]]
at = "2s"
action = "add-partitions"
topic = "t"
count = 3
"#;
    let (report, events) = run(text);
    assert_eq!(report.verdict, "pass", "{:?}", report.violations.first());
    let polled: Vec<(f64, String)> = observed(&events, "polled").iter().map(|(t, _, o)| (*t, partition(o))).collect();
    let first = polled.iter().find(|(_, p)| p == "t-2").expect("t-2 is read");
    assert!(first.0 > 2.0 && first.0 < 3.6, "{}", first.0);
    let started = observed(&events, "position_set").iter().find(|(_, _, o)| partition(o) == "t-2").map(|(_, _, o)| o["offset"].as_i64());
    assert_eq!(started, Some(Some(0)), "from the earliest offset");
}

/// A group leader that notices added partitions commits before it rejoins (onJoinPrepare); when
/// that commit is answered UNKNOWN_MEMBER_ID (it had been paused past its session), the rejoin
/// turns into a lost one. Seed 49 of the safe twin's nemesis does exactly that: the consumer then
/// must be out of onJoinPrepare and hand fetched records to the application again (it once kept
/// refetching them forever and the run ended at its time limit).
#[test]
fn a_fenced_commit_for_a_rejoin_does_not_stall_the_consumer() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/safe/new-partitions-reset-earliest.toml");
    let mut scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    scenario.force_nemesis = true;
    let collect = Collect::default();
    let events = collect.events.clone();
    let report = run_scenario(&scenario, 49, RunOptions { sink: Some(Box::new(collect)), ..RunOptions::default() });
    let events = std::mem::take(&mut *events.borrow_mut());
    assert!(!marks(&events, "consumer.metadata_changed").is_empty() && !marks(&events, "consumer.fenced").is_empty(), "seed 49 no longer takes that path");
    assert_eq!(report.verdict, "pass", "{:?}", report.violations);
}

/// A group that drops a topic from every member's subscription stops reading it: the records
/// produced to it afterwards are not owed to the group, and `at-least-once` holds. What it was
/// handed before it dropped the topic is still judged.
#[test]
fn a_group_that_stops_subscribing_to_a_topic_is_not_owed_its_later_records() {
    let text = format!("{SUBSCRIBE}[[faults]]\nat = \"12s\"\naction = \"subscribe\"\nnode = \"c2\"\ntopics = [\"b\"]\n");
    let (report, events) = run(&text);
    assert_eq!(report.verdict, "pass", "{:?}", report.violations.first());
    // Records of a were produced after both members dropped it (pa runs until 15 s)...
    let acked_a_late = observed(&events, "produce_acked").iter().filter(|(t, _, o)| *t > 14.0 && partition(o).starts_with("a-")).count();
    assert!(acked_a_late > 0, "pa still produces to a after 14 s");
    // ...and nobody in the group was handed them.
    let polled_a_late = observed(&events, "polled").iter().filter(|(t, _, o)| *t > 14.0 && partition(o).starts_with("a-")).count();
    assert_eq!(polled_a_late, 0, "nobody reads a after both dropped it");
}
