//! The showcase scenario fires every kind of fault and every kind of trigger, each at the right
//! moment: scripted faults at their `at`, triggered ones in the step their trigger's event names
//! (plus `after`), their undos `for` later.

use std::path::PathBuf;

use kafkasim::explore::{run_scenario, RunOptions};
use kafkasim::scenario::Scenario;
use kafkasim::trace::Collect;

fn showcase() -> Scenario {
    Scenario::load(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/showcase/every-fault-and-trigger.toml")).unwrap()
}

/// (time in µs, label) of a fault.
type Fired = (u64, String);
/// (seq, time in µs, label) of a trigger.
type Triggered = (u64, u64, String);

/// Every fault and trigger event.
fn faults_and_triggers(events: &[serde_json::Value]) -> (Vec<Fired>, Vec<Triggered>) {
    let mut faults = Vec::new();
    let mut triggers = Vec::new();
    for e in events {
        let at = e["at"].as_u64().unwrap();
        match e["kind"].as_str() {
            Some("fault") => faults.push((at, e["fault"].as_str().unwrap().to_string())),
            Some("trigger") => triggers.push((e["seq"].as_u64().unwrap(), at, e["label"].as_str().unwrap().to_string())),
            _ => {}
        }
    }
    (faults, triggers)
}

#[test]
fn every_fault_and_trigger_fires_at_its_moment() {
    let s = showcase();
    let collect = Collect::default();
    let events = collect.events.clone();
    let r = run_scenario(&s, s.default_seed(), RunOptions { sink: Some(Box::new(collect)), ..RunOptions::default() });
    assert!(r.matched, "{} {:?}", r.verdict, r.violations.first());
    let (faults, triggers) = faults_and_triggers(&events.borrow());
    let fired = |at_s: f64, label: &str| {
        let at = (at_s * 1e6) as u64;
        assert!(faults.iter().any(|(t, l)| *t == at && l.starts_with(label)), "no '{label}' at {at_s}s in {faults:?}");
    };
    // Scripted: every action, at its time.
    fired(5.0, "start c2");
    fired(10.0, "crash b2");
    fired(14.0, "restart b2");
    fired(20.0, "kill b1");
    fired(23.0, "restart b1");
    fired(30.0, "stop b2");
    fired(38.0, "pause c1");
    fired(46.0, "resume c1");
    fired(50.0, "isolate b0");
    fired(53.0, "heal");
    fired(56.0, "partition");
    fired(61.0, "one-way partition b2 -> controller");
    fired(65.0, "clog b0");
    fired(66.0, "unclog");
    fired(68.0, "disconnect p1 <-> b0");
    fired(69.0, "drop next 2 fetchresponse");
    fired(70.0, "delay next 3 producerequest");
    fired(72.0, "slow b1: +0.150s latency");
    fired(74.0, "b1 back to normal latency");
    fired(75.0, "skew b2: wall clock +30.000s");
    fired(80.0, "b2's wall clock set right");
    // Workload events: each fires at its time and its actor acts on it in that same step.
    fired(76.0, "add-partitions: kafka-topics --alter --topic orders --partitions 4");
    fired(80.0, "subscribe: c1 calls subscribe(orders, audit)");
    fired(84.0, "stop p2: the application stops producing and calls close()");
    fired(87.0, "start p2: a new KafkaProducer");
    let events = events.borrow();
    let mark_at = |name: &str| events.iter().filter(|e| e["kind"] == "mark" && e["name"] == name).map(|e| e["at"].as_u64().unwrap()).collect::<Vec<u64>>();
    assert_eq!(mark_at("controller.create_partitions"), [76_000_000]);
    assert_eq!(mark_at("consumer.subscribe"), [80_000_000]);
    assert_eq!((mark_at("producer.close"), mark_at("producer.start_again")), (vec![84_000_000], vec![87_000_000]));
    // The group leader notices the fourth partition within its metadata.max.age.ms (10 s), and
    // the group ends up reading orders-3 and, for c1, audit-0.
    let noticed = mark_at("consumer.metadata_changed");
    assert!(noticed.len() == 1 && noticed[0] > 76_000_000 && noticed[0] <= 86_100_000, "{noticed:?}");
    let assigned_later = |tp: &str| {
        events.iter().any(|e| e["kind"] == "observe" && e["obs"]["op"] == "assigned" && e["obs"]["partitions"].as_array().unwrap().iter().any(|p| p == tp))
    };
    assert!(assigned_later("orders-3") && assigned_later("audit-0"));
    drop(events);
    fired(92.0, "crash b2 (torn tail)");
    fired(95.0, "restart b2");
    assert!(r.marks.get("broker.recovery.torn_batch").is_some_and(|n| *n >= 1), "b2's recovery truncated a torn batch: {:?}", r.marks);
    // Triggered: every kind fired once, and its fault follows it at `after`.
    let kinds = ["group orders-app enters Stable", "c1 has processed 500", "p1 has had 2000", "orders-0 has a leader in epoch 1", "orders-1 acknowledged offset 700", "mark consumer.fenced on c1"];
    for kind in kinds {
        let (_, at, label) = triggers.iter().find(|(_, _, l)| l.starts_with(kind)).unwrap_or_else(|| panic!("trigger '{kind}' never fired: {triggers:?}"));
        let after = match kind {
            "group orders-app enters Stable" => 1_000_000,
            "orders-0 has a leader in epoch 1" => 100_000,
            _ => 0,
        };
        let suffix = format!("(when {label})");
        let first = faults.iter().find(|(_, l)| l.ends_with(&suffix)).unwrap_or_else(|| panic!("no fault for '{label}'"));
        assert_eq!(first.0, at + after, "'{label}' fired at {at} µs, its fault at {} µs", first.0);
    }
    // A trigger with `for`: the undo comes that long after the fault.
    let kill = faults.iter().find(|(_, l)| l.starts_with("kill b0 (when")).unwrap();
    assert!(faults.iter().any(|(t, l)| l.starts_with("restart b0 (when") && *t == kill.0 + 2_000_000), "{faults:?}");
}

#[test]
fn the_same_seed_fires_the_same_triggers_at_the_same_steps() {
    let s = showcase();
    let run = || {
        let collect = Collect::default();
        let events = collect.events.clone();
        let r = run_scenario(&s, 3, RunOptions { sink: Some(Box::new(collect)), ..RunOptions::default() });
        let (_, triggers) = faults_and_triggers(&events.borrow());
        (r.digest, triggers)
    };
    assert_eq!(run(), run());
}
