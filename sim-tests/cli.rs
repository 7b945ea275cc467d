//! The sweep commands end to end: `explore` (until-failure, shards, JSON reports), `merge`,
//! `replay` and `bench`, through the real binary.

use std::path::PathBuf;
use std::process::{Command, Output};

fn kafkasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafkasim")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("the binary runs")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kafkasim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

fn json(path: &PathBuf) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const FAST: &str = "scenarios/safe/producer-retry-idempotent.toml";

#[test]
fn until_failure_stops_at_the_first_seed_showing_the_bug_and_replay_reproduces_its_digest() {
    let report = tmp("bug.json");
    let out = kafkasim(&["explore", "scenarios/bugs/producer-retry-duplicates.toml", "--seeds", "1..2000", "--until-failure", "--jobs", "1", "-q", "--json", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let r = json(&report);
    assert_eq!(r["seeds_run"], 1, "stops at the first failing seed");
    let first = &r["first_failing"];
    assert_eq!(first["seed"], 1);
    assert_eq!(first["verdict"], "duplicate-append");
    let reproduce = first["reproduce"].as_str().unwrap();
    assert!(stdout(&out).contains(&format!("reproduce {reproduce}")), "{}", stdout(&out));

    let replay = kafkasim(&["replay", "scenarios/bugs/producer-retry-duplicates.toml", "--seed", "1", "--report", report.to_str().unwrap()]);
    let text = stdout(&replay);
    assert!(text.contains(&format!("digest {} matches the report", first["digest"].as_str().unwrap())), "{text}");
    assert_eq!(replay.status.code(), Some(0));
}

#[test]
fn shards_merge_into_the_report_of_the_whole_range() {
    let (whole, a, b, merged) = (tmp("whole.json"), tmp("a.json"), tmp("b.json"), tmp("merged.json"));
    let run = |shard: Option<&str>, out: &PathBuf| {
        let mut args = vec!["explore", FAST, "--seeds", "1..13", "--jobs", "2", "-q", "--json", out.to_str().unwrap()];
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        let o = kafkasim(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    };
    run(None, &whole);
    run(Some("0/2"), &a);
    run(Some("1/2"), &b);
    let o = kafkasim(&["merge", a.to_str().unwrap(), b.to_str().unwrap(), "-o", merged.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let (w, m, ra) = (json(&whole), json(&merged), json(&a));
    assert_eq!(ra["seeds_run"], 6);
    assert_eq!(ra["digests"].as_object().unwrap().keys().cloned().collect::<Vec<_>>(), ["1", "11", "3", "5", "7", "9"]);
    assert_eq!(m["seeds_run"], 12);
    assert_eq!(m["digests"], w["digests"], "a shard's seeds run exactly as in the whole sweep");
    assert_eq!(m["marks"], w["marks"]);
    assert_eq!(m["events"], w["events"]);

    // Merging a shard with itself double-counts: refused.
    let o = kafkasim(&["merge", a.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("more than one report"));
}

#[test]
fn bad_sweep_input_exits_2_and_overwrites_nothing() {
    let o = kafkasim(&["explore", FAST, "--seeds", "1..5", "--shard", "2/2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--shard 2/2: expected K/N"));

    let existing = tmp("mine.json");
    std::fs::write(&existing, "my notes").unwrap();
    let o = kafkasim(&["explore", FAST, "--seeds", "1..3", "--json", existing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pass --force"));
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "my notes");

    let o = kafkasim(&["replay", FAST, "--seed", "1", "--report", existing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an explore report"));
}

#[test]
fn bench_reports_speed_and_a_split_that_adds_up() {
    let report = tmp("bench.json");
    let out = kafkasim(&["bench", "scenarios/quickstart.toml", "--seeds", "2", "--jobs", "2", "--json", report.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("one core") && text.contains("time split engine") && text.contains("all cores  2 threads"), "{text}");
    let r = json(&report);
    let one = &r["one_core"];
    assert!(one["events_per_s"].as_f64().unwrap() > 0.0 && one["virtual_s_per_wall_s"].as_f64().unwrap() > 0.0);
    // The speed pass runs the seeds the all-cores sweep runs: 2 per thread.
    assert!(one["seeds_per_s"].as_f64().unwrap() > 0.0 && r["all_cores"]["jobs"] == 2);
    let shares: f64 = ["engine_share", "actors_share", "checks_share"].iter().map(|k| one[*k].as_f64().unwrap()).sum();
    assert!((shares - 1.0).abs() < 1e-6, "the shares add up to the timed run: {shares}");
    for k in ["engine_share", "actors_share", "checks_share"] {
        assert!(one[k].as_f64().unwrap() > 0.0, "{k} is measured");
    }
    // Every handler and every per-step check was timed, and the cost of timing them was measured.
    assert!(one["timed_spans"].as_u64().unwrap() > 1000, "{}", one["timed_spans"]);
    assert!(one["span_ns"].as_f64().unwrap() > 0.0 && one["span_inside_ns"].as_f64().unwrap() <= one["span_ns"].as_f64().unwrap());
    let _ = std::fs::remove_file(report);
}
