//! Replication end to end: the controller's crash and recovery, and the bug zoo's reports.

use std::path::PathBuf;

use kafkasim::explore::{run_scenario, RunOptions};
use kafkasim::scenario::Scenario;
use kafkasim::trace::Collect;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// While the controller is down nothing is elected; once it is back (from its disk) it fences the
/// dead leader and elects a new one, and nothing acknowledged is lost.
#[test]
fn no_election_while_the_controller_is_down() {
    let text = r#"expect = "pass"
[cluster]
brokers = 3
[[topics]]
name = "t"
"replication.factor" = 3
"min.insync.replicas" = 2
[[producers]]
name = "p1"
topic = "t"
messages = 2000
rate = 100
[[consumers]]
name = "c1"
topic = "t"
"auto.offset.reset" = "earliest"
[[faults]]
at = "2s"
action = "crash"
node = "controller"
for = "20s"
[[faults]]
at = "3s"
action = "kill"
node = "b0"
[run]
max_time = "200s"
"#;
    let s = Scenario::parse("controller.toml", text).unwrap();
    let collect = Collect::default();
    let events = collect.events.clone();
    let r = run_scenario(&s, 1, RunOptions { sink: Some(Box::new(collect)), ..RunOptions::default() });
    assert_eq!(r.verdict, "pass", "{:?}", r.violations.first());
    let events = events.borrow();
    let elections: Vec<u64> = events
        .iter()
        .filter(|e| e["kind"] == "mark" && e["name"].as_str().is_some_and(|n| n.starts_with("controller.election")))
        .map(|e| e["at"].as_u64().unwrap())
        .collect();
    assert!(!elections.is_empty(), "b0 led a partition: someone must be elected");
    assert!(elections.iter().all(|at| *at >= 22_000_000), "an election while the controller was down: {elections:?}");
    let recovered = events.iter().any(|e| {
        e["kind"] == "start" && e["restart"] == true && e["explanation"].as_str().is_some_and(|x| x.contains("controller recovered metadata"))
    });
    assert!(recovered, "the controller restarts from its metadata log");
}

/// Each replication bug is found on its seed, and the report names the lost record, its
/// acknowledged offset, and the trace events of the acknowledgement and of the truncation or
/// election that lost it.
#[test]
fn each_replication_bug_report_names_the_ack_and_the_cause() {
    for (file, cause) in [
        ("kip-101-truncate-to-hw", "truncate.to_high_watermark"),
        ("acks1-zombie-leader", "election.clean"),
        ("acks-all-min-isr-1", "election"),
        ("unclean-leader-election", "election.unclean"),
        ("last-replica-standing-unclean-shutdown", "crash b0"),
    ] {
        let s = Scenario::load(root().join(format!("scenarios/bugs/{file}.toml"))).unwrap();
        let r = run_scenario(&s, s.default_seed(), RunOptions::default());
        assert_eq!(r.verdict, "lost-write", "{file}");
        let v = r.violations.iter().find(|v| v.kind == "lost-write").unwrap();
        assert!(v.summary.starts_with("record p0#"), "{file}: {}", v.summary);
        assert!(v.summary.contains("acknowledged at events-0 offset"), "{file}: {}", v.summary);
        assert!(v.summary.contains(cause), "{file}: expected {cause} in {}", v.summary);
        assert!(v.evidence.len() >= 2, "{file}: the ack and its cause: {:?}", v.evidence);
    }
}

/// The white-box invariants fire on the zoo too: committed records differ between replicas.
#[test]
fn log_matching_fires_where_committed_data_diverges_and_not_on_the_safe_twins() {
    let run = |path: &str| {
        let s = Scenario::load(root().join(path)).unwrap();
        run_scenario(&s, s.default_seed(), RunOptions::default())
    };
    let bug = run("scenarios/bugs/unclean-leader-election.toml");
    assert!(bug.violations.iter().any(|v| v.kind == "log-matching"), "{:?}", bug.violations.iter().map(|v| &v.kind).collect::<Vec<_>>());
    for safe in ["clean-leader-election", "kip-101-epoch-truncation", "acks-all-min-isr-2"] {
        let r = run(&format!("scenarios/safe/{safe}.toml"));
        assert!(r.violations.is_empty(), "{safe}: {:?}", r.violations.first());
    }
}

/// Safe twins hold over several seeds (200 seeds: `kafkasim explore scenarios/safe/<twin>.toml
/// --seeds 1..201`, see docs/bug-zoo.md).
#[test]
fn safe_twins_hold_over_seeds() {
    let dir = root().join("scenarios/safe");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for f in files {
        let s = Scenario::load(&f).unwrap();
        for seed in 1..=5 {
            let r = run_scenario(&s, seed, RunOptions::default());
            assert!(r.matched, "{} seed {seed}: {} {:?}", f.display(), r.verdict, r.violations.first());
        }
    }
}

/// Lost ProduceResponses make the producer retry. Without idempotence the retried batches are
/// appended again (duplicates, reference B.3); with `enable.idempotence` the broker recognises
/// their sequence numbers and answers with the original offsets.
#[test]
fn idempotence_removes_the_duplicates_of_retries() {
    let text = |idempotent: bool| {
        format!(
            r#"expect = "pass"
[cluster]
brokers = 3
[[topics]]
name = "t"
"replication.factor" = 3
"min.insync.replicas" = 2
[[producers]]
name = "p1"
topic = "t"
acks = "all"
"enable.idempotence" = {idempotent}
messages = 1000
rate = 200
[[consumers]]
name = "c1"
topic = "t"
"auto.offset.reset" = "earliest"
[[faults]]
at = "1s"
action = "drop"
kind = "ProduceResponse"
count = 5
"#
        )
    };
    let run = |idempotent| {
        let s = Scenario::parse("idempotence.toml", &text(idempotent)).unwrap();
        run_scenario(&s, 1, RunOptions::default())
    };
    let plain = run(false);
    let idempotent = run(true);
    assert_eq!(plain.verdict, "pass");
    assert_eq!(idempotent.verdict, "pass");
    assert!(plain.stats.records_consumed > 1000, "retries appended twice: {:?}", plain.stats);
    assert_eq!(idempotent.stats.records_consumed, 1000);
    assert_eq!(idempotent.marks.get("broker.produce.duplicate_sequence"), Some(&5));
}
