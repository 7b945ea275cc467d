//! The semantic facts of a run, and the first one where two runs differ.
//!
//! Two traces of the same scenario (two seeds, or two builds) never match event for event: a
//! message arrives a millisecond later and every sequence number after it shifts. What a reader
//! wants to know is where the runs stop telling the same story. A [`Fact`] is one piece of that
//! story, keyed so that it can be found in the other run whatever its timing:
//!
//! - `group G generation N leader` and `… assignment`: the member that led the generation and the
//!   assignment it sent in SyncGroup;
//! - `partition T-P leader epoch E`: who leads it in that epoch; `partition T-P partition epoch
//!   E`: its ISR (from the metadata images the controller publishes);
//! - `commit #K of C in group G`: the offsets of a member's K-th answered OffsetCommit and the
//!   answer;
//! - `produce of record pX#N`: where its acknowledgement placed it, or its failure;
//! - `C consumed T-P #K`: the K-th record a consumer's poll returned from a partition;
//! - `fault "F" #K`: the K-th time the scenario applied fault or control action F.
//!
//! Member ids are shown by the node that holds them (`c1`), so that two runs whose coordinators
//! numbered their members differently still compare equal.

use std::collections::BTreeMap;

use serde_json::Value;

use super::step::{Body, Step, Wire};
use super::text::seconds;
use super::words;
use crate::model::protocol::Msg;

/// One semantic fact, where it was established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    /// Which of [`STORYLINES`] it belongs to.
    pub storyline: &'static str,
    pub key: String,
    pub value: String,
    pub seq: u64,
    pub at_us: u64,
}

/// Every fact of a run, in the order they were established; each key once (the first time).
pub fn facts(names: &[String], steps: &[Step]) -> Vec<Fact> {
    let name = |n: u32| names.get(n as usize).cloned().unwrap_or_else(|| format!("n{n}"));
    let mut out: Vec<Fact> = Vec::new();
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    let mut push = |storyline: &'static str, key: String, value: String, s: &Step| {
        if seen.insert(key.clone(), ()).is_none() {
            out.push(Fact { storyline, key, value, seq: s.seq, at_us: s.at_us });
        }
    };
    // Member id → the node that was told it (JoinGroup answers).
    let mut members: BTreeMap<String, String> = BTreeMap::new();
    let mut ordinals: BTreeMap<String, u64> = BTreeMap::new();
    let mut next = |key: String| {
        let n = ordinals.entry(key).or_insert(0);
        *n += 1;
        *n
    };
    for s in steps {
        let here = s.node.map_or_else(|| "network".to_string(), name);
        match &s.body {
            Body::Deliver { msg: Wire::Known(m), .. } => match m.as_ref() {
                Msg::JoinGroupResponse(r) if !r.member_id.is_empty() => {
                    members.insert(r.member_id.clone(), here.clone());
                }
                Msg::SyncGroupRequest(r) if !r.assignments.is_empty() => {
                    let who = |m: &str| members.get(m).cloned().unwrap_or_else(|| m.to_string());
                    let mut a: Vec<(String, String)> = r.assignments.iter().map(|(m, tps)| (who(m), words::partitions(tps))).collect();
                    a.sort();
                    let text: Vec<String> = a.iter().map(|(m, tps)| format!("{m}={tps}")).collect();
                    let generation = format!("group {} generation {}", r.group_id, r.generation_id);
                    push("group leaders", format!("{generation} leader"), who(&r.member_id), s);
                    push("assignments", format!("{generation} assignment"), text.join(" "), s);
                }
                Msg::UpdateMetadataRequest(r) => image_facts(&r.metadata, s, &mut push),
                Msg::BrokerHeartbeatResponse(r) => {
                    if let Some(m) = &r.metadata {
                        image_facts(m, s, &mut push);
                    }
                }
                _ => {}
            },
            Body::Observe { obs } => match obs["op"].as_str().unwrap_or("") {
                "committed" => {
                    let group = obs["group"].as_str().unwrap_or("?");
                    let k = next(format!("commit {here} {group}"));
                    let offsets: Vec<String> = obs["offsets"].as_array().map(|a| a.iter().map(|p| format!("{}={}", p[0].as_str().unwrap_or("?"), p[1])).collect()).unwrap_or_default();
                    push("commits", format!("commit #{k} of {here} in group {group}"), format!("{} → {}", offsets.join(", "), obs["error"].as_str().unwrap_or("?")), s);
                }
                "produce_acked" => {
                    let value = match obs.get("offset").filter(|o| !o.is_null()) {
                        Some(o) => format!("acknowledged at {} offset {o}", obs["partition"].as_str().unwrap_or("?")),
                        None => format!("acknowledged at {} without an offset (acks=0)", obs["partition"].as_str().unwrap_or("?")),
                    };
                    push("produce results", format!("produce of record {}", record(&obs["record"])), value, s);
                }
                "produce_failed" => {
                    let value = format!("failed with {} ({})", obs["error"].as_str().unwrap_or("?"), obs["partition"].as_str().unwrap_or("?"));
                    push("produce results", format!("produce of record {}", record(&obs["record"])), value, s);
                }
                "polled" => {
                    let tp = obs["partition"].as_str().unwrap_or("?");
                    for r in obs["records"].as_array().into_iter().flatten() {
                        let k = next(format!("consumed {here} {tp}"));
                        push("records consumed", format!("{here} consumed {tp} #{k}"), format!("offset {} record {}", r[0], record(&r[1])), s);
                    }
                }
                _ => {}
            },
            Body::Fault { fault } => {
                // Faults scheduled for the same instant run in a seeded order: only whether (and
                // how often) each happened is part of the story; its time is shown in the report.
                let k = next(format!("fault {fault}"));
                push("faults", format!("fault \"{fault}\" #{k}"), "applied".into(), s);
            }
            _ => {}
        }
    }
    out
}

fn record(v: &Value) -> String {
    format!("p{}#{}", v["producer"], v["seq"])
}

fn image_facts(image: &crate::model::metadata::MetadataImage, s: &Step, push: &mut impl FnMut(&'static str, String, String, &Step)) {
    for (tp, p) in &image.partitions {
        let leader = p.leader.map_or("no leader".to_string(), |b| format!("leader {b}"));
        push("partition leaders", format!("partition {tp} leader epoch {}", p.leader_epoch), leader, s);
        push("ISRs", format!("partition {tp} partition epoch {}", p.partition_epoch), format!("ISR {}", words::brokers(&p.isr)), s);
    }
}

/// Where two runs' facts differ.
#[derive(Clone, Debug)]
pub struct Difference {
    pub storyline: &'static str,
    pub key: String,
    pub a: Option<Fact>,
    pub b: Option<Fact>,
}

impl Difference {
    /// When the difference first shows: the earlier of the two facts.
    fn at_us(&self) -> u64 {
        self.a.iter().chain(self.b.iter()).map(|f| f.at_us).min().unwrap_or(0)
    }

    /// `group g generation 2: A gives …, B gives … (A seq 812 at 3.201s, B seq 790 at 3.150s)`
    pub fn describe(&self) -> String {
        let value = |f: &Option<Fact>| f.as_ref().map_or_else(|| "nothing".to_string(), |f| f.value.clone());
        let place = |who: &str, f: &Option<Fact>| f.as_ref().map_or_else(|| format!("{who}: no such fact"), |f| format!("{who} seq {} at {}", f.seq, seconds(f.at_us)));
        format!("{}: A gives {}, B gives {} ({}, {})", self.key, value(&self.a), value(&self.b), place("A", &self.a), place("B", &self.b))
    }
}

/// The storylines a diff follows one by one, in the order it lists them (see the module comment
/// for the facts of each).
pub const STORYLINES: [&str; 8] = ["assignments", "group leaders", "partition leaders", "ISRs", "commits", "produce results", "records consumed", "faults"];

/// The first difference of each storyline, in [`STORYLINES`] order; `None` where the two runs
/// agree on every fact of that kind.
pub fn first_per_storyline(diffs: &[Difference]) -> Vec<(&'static str, Option<&Difference>)> {
    STORYLINES.iter().map(|name| (*name, diffs.iter().find(|d| d.storyline == *name))).collect()
}

/// Every fact on which `a` and `b` differ, the earliest first.
pub fn differences(a: &[Fact], b: &[Fact]) -> Vec<Difference> {
    let index = |fs: &[Fact]| fs.iter().map(|f| (f.key.clone(), f.clone())).collect::<BTreeMap<_, _>>();
    let (ia, ib) = (index(a), index(b));
    let mut diffs: Vec<Difference> = Vec::new();
    for key in ia.keys().chain(ib.keys().filter(|k| !ia.contains_key(*k))) {
        let (fa, fb) = (ia.get(key), ib.get(key));
        if fa.map(|f| &f.value) != fb.map(|f| &f.value) {
            let storyline = fa.or(fb).expect("a key comes from one side or the other").storyline;
            diffs.push(Difference { storyline, key: key.clone(), a: fa.cloned(), b: fb.cloned() });
        }
    }
    diffs.sort_by(|x, y| x.at_us().cmp(&y.at_us()).then_with(|| x.key.cmp(&y.key)));
    diffs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::step::parse_jsonl;

    fn run(events: &[&str]) -> Vec<Fact> {
        let header = r#"{"schema":"kafkasim-trace","version":1,"scenario":"s","seed":1,"nodes":["b0","controller","c1","c2"]}"#;
        let text = std::iter::once(header).chain(events.iter().copied()).collect::<Vec<_>>().join("\n");
        let t = parse_jsonl(&text, "t").unwrap();
        facts(&t.nodes, &t.steps)
    }

    const JOIN1: &str = r#"{"seq":1,"at":1000,"node":2,"kind":"deliver","from":0,"msg":{"api":"JoinGroupResponse","correlation_id":1,"error_code":"NONE","generation_id":1,"protocol_name":"range","leader":"c1-7","member_id":"c1-7","members":[]}}"#;
    const JOIN2: &str = r#"{"seq":2,"at":1000,"node":3,"kind":"deliver","from":0,"msg":{"api":"JoinGroupResponse","correlation_id":1,"error_code":"NONE","generation_id":1,"protocol_name":"range","leader":"c1-7","member_id":"c2-8","members":[]}}"#;

    fn sync(seq: u64, at: u64, a: &str) -> String {
        format!(
            r#"{{"seq":{seq},"at":{at},"node":0,"kind":"deliver","from":2,"msg":{{"api":"SyncGroupRequest","correlation_id":2,"group_id":"g","generation_id":1,"member_id":"c1-7","assignments":{a}}}}}"#
        )
    }

    #[test]
    fn assignments_are_compared_by_member_name_not_timing() {
        let a = run(&[JOIN1, JOIN2, &sync(10, 5000, r#"[["c1-7",["t-0","t-1"]],["c2-8",["t-2"]]]"#)]);
        let same = run(&[JOIN1, JOIN2, &sync(14, 7000, r#"[["c2-8",["t-2"]],["c1-7",["t-0","t-1"]]]"#)]);
        assert_eq!((a[0].key.as_str(), a[0].value.as_str()), ("group g generation 1 leader", "c1"));
        assert_eq!((a[1].key.as_str(), a[1].value.as_str()), ("group g generation 1 assignment", "c1=[t-0, t-1] c2=[t-2]"));
        assert!(differences(&a, &same).is_empty());
        let other = run(&[JOIN1, JOIN2, &sync(9, 4000, r#"[["c1-7",["t-0"]],["c2-8",["t-1","t-2"]]]"#)]);
        let d = differences(&a, &other);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].describe(),
            "group g generation 1 assignment: A gives c1=[t-0, t-1] c2=[t-2], B gives c1=[t-0] c2=[t-1, t-2] (A seq 10 at 0.005s, B seq 9 at 0.004s)"
        );
    }

    #[test]
    fn the_earliest_difference_comes_first_and_missing_facts_count() {
        let poll = |seq: u64, at: u64, off: i64| {
            format!(r#"{{"seq":{seq},"at":{at},"node":2,"kind":"observe","obs":{{"op":"polled","partition":"t-0","records":[[{off},{{"producer":0,"seq":{off}}}]],"high_watermark":9}}}}"#)
        };
        let a = run(&[&poll(1, 100, 0), &poll(2, 200, 1), r#"{"seq":3,"at":300,"node":2,"kind":"fault","fault":"crash c1"}"#]);
        let b = run(&[&poll(1, 100, 0), &poll(2, 150, 2)]);
        let d = differences(&a, &b);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].key, "c1 consumed t-0 #2");
        assert_eq!(d[1].describe(), "fault \"crash c1\" #1: A gives applied, B gives nothing (A seq 3 at 0.000s, B: no such fact)");
    }
}
