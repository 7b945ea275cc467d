//! Every scenario under `scenarios/` meets its stated expectation with its own seed, and its
//! verdict and a short summary are pinned by a snapshot.

use std::path::{Path, PathBuf};

use kafkasim::explore::{run_scenario, RunOptions};
use kafkasim::scenario::Scenario;

fn scenario_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).expect("scenarios/ exists").map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "bench") {
                continue; // benchmarks are run by the bench command, not the test suite
            }
            scenario_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_scenario_meets_its_expectation() {
    let mut files = Vec::new();
    scenario_files(&root().join("scenarios"), &mut files);
    assert!(files.len() >= 3, "expected the scenario library, found {files:?}");
    let mut summary = String::new();
    let mut failures = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(root()).unwrap().display().to_string();
        let scenario = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
        let r = run_scenario(&scenario, scenario.default_seed(), RunOptions::default());
        if !r.matched {
            failures.push(format!("{rel}: expected {}, got {} ({:?})", r.expected, r.verdict, r.violations.first()));
        }
        if !r.stats.coverage_missed.is_empty() {
            failures.push(format!("{rel}: required coverage marks not reached: {:?}", r.stats.coverage_missed));
        }
        summary.push_str(&format!(
            "{rel}: seed {} expected {} verdict {} violations {} produced {} acked {} consumed {} end {}\n",
            r.seed, r.expected, r.verdict, r.violations.len(), r.stats.records_produced, r.stats.records_acked, r.stats.records_consumed, r.end
        ));
    }
    assert!(failures.is_empty(), "scenarios not meeting their expectation:\n{}", failures.join("\n"));
    insta::assert_snapshot!("scenario_verdicts", summary);
}

#[test]
fn the_lost_write_report_names_record_offset_and_evidence() {
    let s = Scenario::load(root().join("scenarios/bugs/acks1-crash-loses-page-cache.toml")).unwrap();
    let r = run_scenario(&s, s.default_seed(), RunOptions::default());
    assert_eq!(r.verdict, "lost-write");
    let v = &r.violations[0];
    assert!(v.summary.contains("acknowledged at events-0 offset"), "{}", v.summary);
    assert!(v.summary.contains("acks=1"), "{}", v.summary);
    assert!(v.summary.contains("crash b0"), "{}", v.summary);
    assert!(v.evidence.len() >= 2, "the ack and the crash: {:?}", v.evidence);
}

#[test]
fn the_bug_scenario_with_flush_per_message_passes() {
    // The same file with one line added must flip the verdict: the fsync is what saves the data.
    let text = std::fs::read_to_string(root().join("scenarios/bugs/acks1-crash-loses-page-cache.toml")).unwrap();
    let safe = text
        .replace("partitions = 1\n", "partitions = 1\n\"flush.messages\" = 1\n")
        .replace("expect = \"lost-write\"", "expect = \"pass\"");
    let s = Scenario::parse("flushed.toml", &safe).unwrap();
    for seed in 1..=5 {
        let r = run_scenario(&s, seed, RunOptions::default());
        assert_eq!(r.verdict, "pass", "seed {seed}: {:?}", r.violations.first());
        assert!(r.stats.records_acked >= 400, "seed {seed}: every record acknowledged: {:?}", r.stats);
    }
}

#[test]
fn quickstart_delivers_every_record() {
    let s = Scenario::load(root().join("scenarios/quickstart.toml")).unwrap();
    let r = run_scenario(&s, 7, RunOptions::default());
    assert_eq!(r.verdict, "pass", "{:?}", r.violations);
    assert_eq!(r.end, "completed");
    assert_eq!(r.stats.records_produced, 1000);
    assert_eq!(r.stats.records_acked, 1000);
    assert_eq!(r.stats.records_consumed, 1000);
}
