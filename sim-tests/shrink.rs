//! `kafkasim shrink`: a failing run becomes a smaller scenario file that `run` judges the same way.

use kafkasim::explore::shrink::{shrink, ShrinkError, ShrinkOptions, ShrinkOutcome};
use kafkasim::explore::{run_scenario, RunOptions};
use kafkasim::scenario::Scenario;

fn shrink_file(path: &str, seed: Option<u64>, max_runs: usize) -> Result<ShrinkOutcome, ShrinkError> {
    let scenario = Scenario::load(path).expect("the scenario loads");
    let text = std::fs::read_to_string(path).expect("readable");
    let seed = seed.unwrap_or_else(|| scenario.default_seed());
    let options = ShrinkOptions { seed, tries: 1, out_name: "min.toml".into(), flags: String::new() };
    let mut lines = Vec::new();
    let result = shrink(&scenario, &text, &options, &mut |runs| runs < max_runs, &mut |l| lines.push(l.to_string()));
    if let Ok(o) = &result {
        assert_eq!(lines, o.accepted, "one progress line per accepted step");
    }
    result
}

/// Parses the shrunk file and runs it with its own `run.seed`, as `kafkasim run MIN.toml` does.
fn run_text(text: &str) -> kafkasim::explore::RunReport {
    let scenario = Scenario::parse("min.toml", text).unwrap_or_else(|e| panic!("the shrunk file parses: {e}\n{text}"));
    run_scenario(&scenario, scenario.default_seed(), RunOptions::default())
}

fn fault_entries(text: &str) -> usize {
    text.lines().filter(|l| l.trim() == "[[faults]]").count()
}

#[test]
fn a_scripted_bug_shrinks_to_fewer_faults_and_still_fails_the_same_way() {
    let path = "scenarios/bugs/kip-101-truncate-to-hw.toml";
    let o = shrink_file(path, None, 200).expect("the bug scenario fails");
    assert_eq!(o.target, "lost-write");
    assert_eq!(o.before.faults, 3);
    assert!(o.after.faults < o.before.faults, "{} faults after", o.after.faults);
    assert_eq!(fault_entries(&o.text), o.after.faults);
    assert!(o.after.records < o.before.records, "the workload shrank too: {} records", o.after.records);
    let report = run_text(&o.text);
    assert_eq!(report.verdict, "lost-write");
    assert!(report.matched, "`run` judges it as expected");
    assert!(o.text.starts_with("# Shrunk by `kafkasim shrink` from scenarios/bugs/kip-101-truncate-to-hw.toml with seed 1."), "{}", o.text);
    assert!(o.text.contains("expect = \"lost-write\""));
    assert!(o.text.contains("\"KIP-101\" = true"), "the bug switch stays");
    assert!(!o.text.contains("scripted below at the virtual time they fired"), "no fault came from a nemesis or a trigger");
    let again = shrink_file(path, None, 200).expect("the bug scenario fails");
    assert_eq!(again.text, o.text, "shrinking is deterministic");
}

#[test]
fn nemesis_faults_become_an_explicit_timeline() {
    // Seed 7 of the zombie-commit nemesis: four random consumer pauses. Four candidate runs are
    // enough to check the explicit timeline and start removing faults.
    let o = shrink_file("scenarios/nemesis/zombie-commits-random-pauses.toml", Some(7), 4).expect("seed 7 fails");
    assert_eq!(o.target, "commit-fencing");
    assert!(o.explicit, "the explicit timeline fails the same way");
    assert!(o.stopped_early);
    assert_eq!(o.before.faults, 4);
    assert!(!o.text.contains("[nemesis]"), "the nemesis is gone");
    assert!(o.text.contains("# Drawn by the nemesis: pause c"), "{}", o.text);
    assert!(o.after.faults <= 4);
    let report = run_text(&o.text);
    assert_eq!(report.verdict, "commit-fencing");
}

#[test]
fn a_trigger_fired_fault_is_scripted_at_the_time_it_fired() {
    let o = shrink_file("scenarios/bugs/cooperative-stale-owned-partitions.toml", None, 1).expect("the bug scenario fails");
    assert!(o.explicit);
    assert!(!o.text.lines().any(|l| l.starts_with("when")), "no trigger is left:\n{}", o.text);
    assert!(o.text.contains("# Fired by its trigger (group orders-app enters CompletingRebalance (generation 2)) at\n# 22."), "{}", o.text);
    let at = o.text.lines().find(|l| l.starts_with("at = ")).expect("a scripted time");
    let time = at.trim_start_matches("at = ").trim_matches('"');
    assert!(o.text.contains(&format!("# {time}: originally `when")), "the time it fired is the scripted time: {at}");
    assert_eq!(run_text(&o.text).verdict, "cooperative-handoff");
}

#[test]
fn a_run_that_passes_is_refused() {
    match shrink_file("scenarios/quickstart.toml", None, 10) {
        Err(ShrinkError::NotFailing { verdict, .. }) => assert_eq!(verdict, "pass"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a passing run was shrunk"),
    }
}

#[test]
fn the_command_refuses_to_overwrite_its_output_without_force() {
    let dir = std::env::temp_dir().join(format!("kafkasim-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("min.toml");
    std::fs::write(&out, "keep me").expect("write");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_kafkasim"))
        .args(["shrink", "scenarios/bugs/kip-101-truncate-to-hw.toml", "-o"])
        .arg(&out)
        .output()
        .expect("the command runs");
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("exists; pass --force to overwrite it"));
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "keep me");
    let missing = dir.join("no-such-dir").join("min.toml");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_kafkasim")).args(["shrink", "scenarios/quickstart.toml", "-o"]).arg(&missing).output().expect("runs");
    assert_eq!(run.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}
