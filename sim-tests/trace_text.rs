//! `kafkasim trace` and `kafkasim diff` on real runs: every step of every learn scenario reads as
//! a sentence, the explained text of each learn scenario is pinned by a snapshot, a saved trace
//! renders like the live run, and the semantic diff finds what differs between two seeds.

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use kafkasim::explore::{run_scenario, RunOptions, RunReport};
use kafkasim::scenario::Scenario;
use kafkasim::trace::facts::{differences, facts};
use kafkasim::trace::step::{parse_jsonl, Step, StepSink};
use kafkasim::trace::text::{render, TextOptions};
use kafkasim::trace::{JsonLines, TraceHeader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn learn_scenarios() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios/learn"))
        .expect("scenarios/learn exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Runs a scenario with its default seed (or `seed`) and keeps its steps.
fn run(path: &Path, seed: Option<u64>) -> (Scenario, Vec<Step>, RunReport) {
    let scenario = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
    let steps: Rc<RefCell<Vec<Step>>> = Rc::default();
    let options = RunOptions { sink: Some(Box::new(StepSink { steps: steps.clone() })), ..RunOptions::default() };
    let report = run_scenario(&scenario, seed.unwrap_or_else(|| scenario.default_seed()), options);
    let steps = std::mem::take(&mut *steps.borrow_mut());
    (scenario, steps, report)
}

/// A `Write` whose bytes stay readable after the sink that wrote them is gone.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JSON Lines trace `kafkasim run --trace` would write.
fn jsonl(path: &Path, seed: u64) -> String {
    let scenario = Scenario::load(path).unwrap();
    let out = Shared::default();
    let names = scenario.node_names();
    let sink = JsonLines::new(out.clone(), &TraceHeader::new(&scenario.name, seed, &names)).unwrap();
    run_scenario(&scenario, seed, RunOptions { sink: Some(Box::new(sink)), ..RunOptions::default() });
    let bytes = out.0.borrow().clone();
    String::from_utf8(bytes).unwrap()
}

/// Every line of `--all` text has a sentence in words: no fallback, no debug output, no JSON.
fn assert_every_step_explained(label: &str, names: &[String], steps: &[Step]) {
    let r = render(names, steps, &TextOptions { all: true, ..Default::default() });
    assert_eq!((r.total, r.shown), (steps.len(), steps.len()), "{label}: --all shows every step");
    assert!(r.undescribed.is_empty(), "{label}: steps described only generically: {:?}", &r.undescribed[..r.undescribed.len().min(10)]);
    for line in r.text.lines() {
        // `   1.234s  actor              sentence`: the sentence is never empty.
        let sentence = line.get(30..).unwrap_or("").trim();
        assert!(sentence.len() > 5, "{label}: a step without a description: {line:?}");
        assert!(!sentence.contains("Some(") && !sentence.contains("BrokerId(") && !sentence.contains("NodeId("), "{label}: Rust debug output: {line}");
        assert!(!sentence.contains("{\""), "{label}: raw JSON: {line}");
    }
}

#[test]
fn each_learn_scenario_explained_and_pinned() {
    let files = learn_scenarios();
    assert!(files.len() >= 10, "the learn scenarios: {files:?}");
    for path in &files {
        let (scenario, steps, report) = run(path, None);
        assert_eq!(report.verdict, "pass", "{}", path.display());
        let names = scenario.node_names();
        assert_every_step_explained(&path.display().to_string(), &names, &steps);
        // The full default text runs to thousands of lines (every record's produce, replication,
        // fetch, poll and processing). The snapshot is the default view without that record flow
        // (`--no-records`): the group and replication story. Where even that passes 1500 lines (a
        // broker down for long, with its clients retrying), `--brief` also hides the polling.
        let mut opts = TextOptions { no_records: true, ..Default::default() };
        let mut r = render(&names, &steps, &opts);
        let mut flags = "--no-records";
        if r.shown >= 1500 {
            opts.brief = true;
            flags = "--no-records --brief";
            r = render(&names, &steps, &opts);
        }
        assert!(r.shown < 1500 && r.shown > 50, "{}: {} lines", path.display(), r.shown);
        let rel = path.strip_prefix(root()).unwrap().display().to_string();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        insta::assert_snapshot!(format!("learn_{name}"), format!("# kafkasim trace {rel} {flags}\n{}", r.text));
    }
}

#[test]
fn every_kind_of_step_has_words() {
    // The showcase applies every fault and trigger: all fifteen event kinds occur.
    let (scenario, steps, _) = run(&root().join("scenarios/showcase/every-fault-and-trigger.toml"), None);
    for kind in kafkasim::trace::step::KINDS {
        assert!(steps.iter().any(|s| s.kind() == *kind), "the showcase has no {kind} step");
    }
    assert_every_step_explained("every-fault-and-trigger", &scenario.node_names(), &steps);
}

#[test]
fn the_key_protocol_fields_are_named() {
    let (scenario, steps, _) = run(&root().join("scenarios/learn/consumer-leaves-rebalance.toml"), None);
    let text = render(&scenario.node_names(), &steps, &TextOptions::default()).text;
    let has = |needle: &str| assert!(text.contains(needle), "no line contains {needle:?}");
    // JoinGroup answers name generation, member id and leader; MEMBER_ID_REQUIRED carries the id.
    has("JoinGroup response: generation 2, member id c1-3, leader c2-1, protocol range — rebalance because c3-2 left the group (at 12.001s)");
    has("JoinGroup response: MEMBER_ID_REQUIRED, member id c2-1 (join again with it)");
    // The leader's SyncGroup carries every assignment; each answer names the member's own.
    has("SyncGroup request from the leader: group orders-app generation 2, member c2-1 assigns c1-3=[orders-0, orders-1] c2-1=[orders-2, orders-3]");
    has("SyncGroup response: assignment [orders-2, orders-3]");
    // OffsetCommit answers name the offsets of their request and the result; OffsetFetch finds them.
    has("OffsetCommit response: orders-3=295 NONE");
    has("OffsetFetch response: orders-2 committed 150, orders-3 committed 295");
    has("Heartbeat response: REBALANCE_IN_PROGRESS");
    // Produce answers name the base offset; fetches name the records and the high watermark.
    assert!(text.lines().any(|l| l.contains("Produce response: orders-") && l.contains("NONE, base offset")), "produce answers");
    assert!(text.lines().any(|l| l.contains("Fetch response: orders-") && l.contains(", high watermark ")), "fetch answers");
}

#[test]
fn a_saved_trace_renders_like_the_live_run() {
    let path = root().join("scenarios/learn/group-forms-and-assigns.toml");
    let (scenario, steps, _) = run(&path, None);
    let saved = parse_jsonl(&jsonl(&path, scenario.default_seed()), "saved.jsonl").unwrap();
    assert_eq!(saved.nodes, scenario.node_names());
    assert_eq!(saved.steps.len(), steps.len());
    for opts in [TextOptions { all: true, ..Default::default() }, TextOptions { brief: true, group: Some("orders-app".into()), ..Default::default() }] {
        let live = render(&scenario.node_names(), &steps, &opts).text;
        let file = render(&saved.nodes, &saved.steps, &opts).text;
        assert_eq!(live, file);
    }
}

#[test]
fn around_shows_what_led_to_a_violation() {
    let (scenario, steps, report) = run(&root().join("scenarios/bugs/acks1-crash-loses-page-cache.toml"), None);
    let v = &report.violations[0];
    let seq = v.evidence[v.evidence.len() - 1];
    let opts = TextOptions { around: Some(seq), context: 10, ..Default::default() };
    let r = render(&scenario.node_names(), &steps, &opts);
    let lines: Vec<&str> = r.text.lines().collect();
    assert!(lines.len() <= 10 + 5 && lines.len() >= 6, "{}", r.text);
    let marked: Vec<&&str> = lines.iter().filter(|l| l.starts_with("▶ #")).collect();
    assert_eq!(marked.len(), 1, "{}", r.text);
    assert!(marked[0].starts_with(&format!("▶ #{seq:<7}")), "{}", marked[0]);
    // Lines before the mark lead up to it: their seqs are smaller.
    let seq_of = |l: &str| l[3..10].trim().parse::<u64>().unwrap();
    let at = lines.iter().position(|l| l.starts_with("▶")).unwrap();
    assert!(lines[..at].iter().all(|l| seq_of(l) < seq));
    assert!(lines[at + 1..].iter().all(|l| seq_of(l) > seq));
}

#[test]
fn a_trace_has_no_semantic_difference_from_itself() {
    let path = root().join("scenarios/learn/consumer-leaves-rebalance.toml");
    let (scenario, steps, _) = run(&path, None);
    let f = facts(&scenario.node_names(), &steps);
    assert!(f.iter().any(|f| f.key == "group orders-app generation 2 assignment" && f.value == "c1=[orders-0, orders-1] c2=[orders-2, orders-3]"), "{:?}", &f[..5]);
    assert!(f.iter().any(|f| f.key.starts_with("commit #1 of c1 in group orders-app")));
    assert!(f.iter().any(|f| f.key.starts_with("partition orders-0 leader epoch 0") && f.value == "leader b0"));
    assert!(f.iter().filter(|f| f.key.starts_with("c1 consumed ")).count() > 100);
    assert!(differences(&f, &f).is_empty());
}

#[test]
fn two_seeds_that_assign_differently() {
    // rebalance-mid-processing: with seed 1, c1 overruns max.poll.interval.ms and generation 2
    // gives both partitions to c2; with seed 2, c1 rejoins in time and keeps one.
    let path = root().join("scenarios/learn/rebalance-mid-processing.toml");
    let (s, a, _) = run(&path, Some(1));
    let (_, b, _) = run(&path, Some(2));
    let names = s.node_names();
    let diffs = differences(&facts(&names, &a), &facts(&names, &b));
    let assignment = diffs.iter().find(|d| d.key == "group orders-app generation 2 assignment").expect("generation 2 is assigned differently");
    assert_eq!(assignment.a.as_ref().unwrap().value, "c2=[orders-0, orders-1]");
    assert_eq!(assignment.b.as_ref().unwrap().value, "c1=[orders-0] c2=[orders-1]");
    // The first difference is the earliest: c1's first commit, before the rebalance.
    let first = &diffs[0];
    assert_eq!(first.key, "commit #1 of c1 in group orders-app");
    assert!(diffs.iter().all(|d| d.a.iter().chain(d.b.iter()).map(|f| f.at_us).min() >= first.a.iter().chain(first.b.iter()).map(|f| f.at_us).min()));
}

/// The command line names the step where the assignments part, and that step is the SyncGroup
/// that carried them in each trace.
#[test]
fn diff_names_the_step_where_assignments_differ() {
    let dir = std::env::temp_dir().join(format!("kafkasim-diff-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = root().join("scenarios/learn/rebalance-mid-processing.toml");
    let (a, b) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    let (ta, tb) = (jsonl(&scenario, 1), jsonl(&scenario, 2));
    std::fs::write(&a, &ta).unwrap();
    std::fs::write(&b, &tb).unwrap();
    let (code, out, _) = kafkasim(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let line = out.lines().find(|l| l.trim_start().starts_with("assignments ")).unwrap_or_else(|| panic!("no assignments line:\n{out}"));
    assert!(
        line.contains("group orders-app generation 2 assignment: A gives c2=[orders-0, orders-1], B gives c1=[orders-0] c2=[orders-1]"),
        "{line}"
    );
    assert!(out.contains("partition leaders  the same in both runs"), "{out}");
    assert!(out.contains(&format!("to see how A got there: kafkasim trace --file {} --around ", a.display())), "{out}");
    // `(A seq X at …, B seq Y at …)`: X and Y are the SyncGroup deliveries that carried the
    // two assignments.
    let seq_after = |tag: &str| -> u64 {
        let i = line.find(tag).unwrap_or_else(|| panic!("{tag} in {line}")) + tag.len();
        line[i..].split(' ').next().unwrap().parse().unwrap()
    };
    for (trace, seq) in [(&ta, seq_after("(A seq ")), (&tb, seq_after(", B seq "))] {
        let step = trace.lines().find(|l| l.starts_with(&format!("{{\"seq\":{seq},"))).unwrap_or_else(|| panic!("seq {seq}"));
        assert!(step.contains(r#""kind":"deliver""#) && step.contains(r#""api":"SyncGroupRequest""#) && step.contains(r#""generation_id":2"#), "{step}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

fn kafkasim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kafkasim")).args(args).current_dir(root()).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_commands_exit_codes() {
    let dir = std::env::temp_dir().join(format!("kafkasim-trace-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("a.jsonl");
    let b = dir.join("b.jsonl");
    let scenario = root().join("scenarios/learn/group-forms-and-assigns.toml");
    std::fs::write(&a, jsonl(&scenario, 1)).unwrap();
    std::fs::write(&b, jsonl(&scenario, 2)).unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());

    let (code, out, _) = kafkasim(&["diff", a, a]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no semantic difference"), "{out}");
    // Seeds 1 and 2 elect a different group leader, whose range assignment is the same: that is
    // the only semantic difference, however different the two runs' event sequences are.
    let (code, out, _) = kafkasim(&["diff", a, b]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("first difference: group orders-app generation 1 leader: A gives c2, B gives c3"), "{out}");
    assert!(!out.contains("differences in all"), "{out}");

    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"schema\":\"kafkasim-trace\",\"version\":1,\"scenario\":\"s\",\"seed\":1,\"nodes\":[\"b0\"]}\n{\"seq\":0}\n").unwrap();
    let (code, _, err) = kafkasim(&["diff", a, bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.jsonl:2: field `kind` missing"), "{err}");

    let (code, out, _) = kafkasim(&["trace", "--file", a, "--group", "orders-app", "--kind", "SyncGroup"]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.contains("b0 → c1            SyncGroup response: assignment [orders-0, orders-1]")), "{out}");
    assert_eq!(out.lines().filter(|l| l.contains("SyncGroup")).count(), 6, "three requests, three answers: {out}");
    let (code, _, err) = kafkasim(&["trace", "--file", a, "--actor", "c9"]);
    assert_eq!(code, 2);
    assert!(err.contains("--actor c9: no such node"), "{err}");
    let (code, _, err) = kafkasim(&["trace", "--file", a, "--kind", "JoinGrup"]);
    assert_eq!(code, 2);
    assert!(err.contains("--kind JoinGrup"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `docs/learn/` quotes real output: every line quoted under a `$ kafkasim trace …` command is a
/// line that command prints today (in order; `…` marks lines left out). When the model's words
/// change, this test names the walkthrough and the line to update.
#[test]
fn the_walkthroughs_quote_real_output() {
    use clap::Parser;
    use kafkasim::cli::trace::{text_options, TraceArgs};

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: TraceArgs,
    }

    let mut runs: std::collections::BTreeMap<(String, Option<u64>), (Vec<String>, Vec<Step>)> = Default::default();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs/learn")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "md")).collect();
    docs.sort();
    let mut checked = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        let mut lines = text.lines().peekable();
        // `kafkasim run S --seed N --trace F` lines: the traces a quoted `kafkasim diff` reads.
        let mut saved: std::collections::BTreeMap<String, (String, u64)> = Default::default();
        while let Some(line) = lines.next() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["kafkasim", "run", scenario, "--seed", seed, "--trace", file] = words.as_slice() {
                saved.insert(file.to_string(), (scenario.to_string(), seed.parse().unwrap()));
            }
            if let Some(files) = line.strip_prefix("$ kafkasim diff ") {
                let dir = std::env::temp_dir().join(format!("kafkasim-doc-diff-{}-{checked}", std::process::id()));
                std::fs::create_dir_all(&dir).unwrap();
                for f in files.split_whitespace() {
                    let (scenario, seed) = saved.get(f).unwrap_or_else(|| panic!("{}: no `kafkasim run … --trace {f}` before the diff", doc.display()));
                    std::fs::write(dir.join(f), jsonl(&root().join(scenario), *seed)).unwrap();
                }
                let out = Command::new(env!("CARGO_BIN_EXE_kafkasim")).arg("diff").args(files.split_whitespace()).current_dir(&dir).output().unwrap();
                let printed = String::from_utf8_lossy(&out.stdout).into_owned();
                let mut printed = printed.lines();
                while let Some(q) = lines.next_if(|l| !l.starts_with("```")) {
                    if q.trim() != "…" {
                        assert!(printed.any(|p| p == q), "{}: `kafkasim diff {files}` no longer prints (in this order):\n{q}", doc.display());
                        checked += 1;
                    }
                }
                std::fs::remove_dir_all(&dir).ok();
                continue;
            }
            let Some(cmd) = line.strip_prefix("$ kafkasim trace ") else { continue };
            let mut quoted = Vec::new();
            while let Some(l) = lines.next_if(|l| !l.starts_with("```")) {
                quoted.push(l);
            }
            let argv = std::iter::once("trace").chain(cmd.split_whitespace());
            let args = Cmd::try_parse_from(argv).unwrap_or_else(|e| panic!("{}: {cmd}: {e}", doc.display())).args;
            let scenario = args.source.scenario.clone().expect("the walkthroughs run scenarios");
            let (names, steps) = runs.entry((scenario.display().to_string(), args.source.seed)).or_insert_with(|| {
                let (s, steps, _) = run(&root().join(&scenario), args.source.seed);
                (s.node_names(), steps)
            });
            let opts = text_options(&args, names).unwrap();
            let printed = render(names, steps, &opts).text;
            let mut printed = printed.lines();
            for q in quoted {
                // The footer (verdict, violations) is checked by other tests; steps are checked here.
                if q.trim() == "…" || q.starts_with("verdict ") || q.starts_with("violation ") || q.starts_with("  evidence:") || q.starts_with("— ") {
                    continue;
                }
                assert!(printed.any(|p| p == q), "{}: `kafkasim trace {cmd}` no longer prints (in this order):\n{q}", doc.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} quoted lines found in docs/learn");
}
