//! `kafkasim trace` (a run explained line by line) and `kafkasim diff` (the first semantic
//! difference between two traces).

use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use clap::Args;

use super::{load_with_nemesis, EXIT_BAD_INPUT, EXIT_MATCHED, EXIT_MISMATCH};
use crate::explore::{run_scenario, RunOptions, RunReport};
use crate::trace::facts::{differences, facts, first_per_storyline};
use crate::trace::step::{load_jsonl, LoadedTrace, Step, StepSink};
use crate::trace::text::{render, TextOptions};

/// Where the steps come from, for `trace`, `view` and `step`: a scenario run now, or a saved trace.
#[derive(Args, Debug, Clone)]
pub struct TraceSource {
    /// The scenario to run (or give --file).
    #[arg(required_unless_present = "file")]
    pub scenario: Option<PathBuf>,
    /// Read a saved trace (`kafkasim run … --trace FILE`) instead of running a scenario (a saved
    /// trace has no verdict, so no violations are shown).
    #[arg(long, conflicts_with_all = ["scenario", "seed", "nemesis"])]
    pub file: Option<PathBuf>,
    /// The seed (default: the scenario's `run.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run the scenario's `[nemesis]`.
    #[arg(long)]
    pub nemesis: bool,
}

#[derive(Args, Debug)]
pub struct TraceArgs {
    #[command(flatten)]
    pub source: TraceSource,
    /// Show every step: timers set and cancelled, disk writes, sends whose delivery is shown.
    #[arg(long)]
    pub all: bool,
    /// Hide the steady polling too: fetches with nothing new, heartbeats answered NONE, timers
    /// with nothing to say.
    #[arg(long, conflicts_with = "all")]
    pub brief: bool,
    /// Hide the record flow that went well: sends, appends, acknowledgements, fetches, polls and
    /// processing without an error (the group and replication story stays).
    #[arg(long)]
    pub no_records: bool,
    /// Only steps at, from or to this node (b0, controller, p1, c1, …); repeatable.
    #[arg(long = "actor", value_name = "NAME")]
    pub actors: Vec<String>,
    /// Only steps about this consumer group.
    #[arg(long, value_name = "G")]
    pub group: Option<String>,
    /// Only steps about this partition (`orders-0`).
    #[arg(long, value_name = "TOPIC-N")]
    pub partition: Option<String>,
    /// Only steps of this kind: an event kind (deliver, timer, observe, fault…), a request
    /// (JoinGroup, OffsetCommit, Fetch…) or an observation (polled, committed…); repeatable.
    #[arg(long = "kind", value_name = "K")]
    pub kinds: Vec<String>,
    /// Leave out steps of this kind (the same names as --kind); repeatable.
    #[arg(long = "hide", value_name = "K")]
    pub hide: Vec<String>,
    /// Only steps at or after this virtual second.
    #[arg(long, value_name = "SECS")]
    pub from: Option<f64>,
    /// Only steps at or before this virtual second.
    #[arg(long, value_name = "SECS")]
    pub to: Option<f64>,
    /// The steps that led to this seq (and a few after), e.g. a violation's evidence.
    #[arg(long, value_name = "SEQ")]
    pub around: Option<u64>,
    /// How many steps --around shows before its seq.
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub context: usize,
    /// Prefix each line with its trace seq.
    #[arg(long)]
    pub seq: bool,
}

/// Exit code 2 after saying what is wrong.
fn bad(msg: String) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// Runs a scenario and keeps its steps.
fn run_with_steps(args: &TraceArgs, path: &PathBuf) -> Result<(LoadedTrace, RunReport), ExitCode> {
    let scenario = load_with_nemesis(path, args.source.nemesis)?;
    let seed = args.source.seed.unwrap_or_else(|| scenario.default_seed());
    let steps: Rc<RefCell<Vec<Step>>> = Rc::default();
    let options = RunOptions { sink: Some(Box::new(StepSink { steps: steps.clone() })), ..RunOptions::default() };
    let report = run_scenario(&scenario, seed, options);
    let steps = std::mem::take(&mut *steps.borrow_mut());
    Ok((LoadedTrace { scenario: scenario.name.clone(), seed, nodes: scenario.node_names(), steps }, report))
}

/// The text options a `kafkasim trace` command line asks for, checked against the run's nodes.
pub fn text_options(args: &TraceArgs, nodes: &[String]) -> Result<TextOptions, String> {
    for a in &args.actors {
        if !nodes.contains(a) {
            return Err(format!("--actor {a}: no such node; this run has {}", nodes.join(", ")));
        }
    }
    for (flag, k) in args.kinds.iter().map(|k| ("--kind", k)).chain(args.hide.iter().map(|k| ("--hide", k))) {
        if !TextOptions::known_kind(k) {
            return Err(format!(
                "{flag} {k}: not an event kind (deliver, send, timer, observe, fault, …), a request name (JoinGroup, Fetch, …), an observation (polled, committed, …) or a timer (AutoCommit, …)"
            ));
        }
    }
    if let Some(p) = &args.partition {
        if p.rsplit_once('-').is_none_or(|(t, n)| t.is_empty() || n.parse::<u32>().is_err()) {
            return Err(format!("--partition {p}: expected topic-N, like orders-0"));
        }
    }
    if let (Some(f), Some(t)) = (args.from, args.to) {
        if f > t {
            return Err(format!("--from {f} is after --to {t}"));
        }
    }
    Ok(TextOptions {
        all: args.all,
        brief: args.brief,
        actors: args.actors.clone(),
        group: args.group.clone(),
        partition: args.partition.clone(),
        kinds: args.kinds.clone(),
        hide: args.hide.clone(),
        no_records: args.no_records,
        from_s: args.from,
        to_s: args.to,
        around: args.around,
        context: args.context,
        show_seq: args.seq,
    })
}

pub fn trace(args: TraceArgs) -> ExitCode {
    let (trace, report, source) = match (&args.source.file, &args.source.scenario) {
        (Some(file), _) => match load_jsonl(file) {
            Ok(t) => (t, None, file.display().to_string()),
            Err(e) => return bad(e.to_string()),
        },
        (None, Some(path)) => match run_with_steps(&args, path) {
            Ok((t, r)) => (t, Some(r), path.display().to_string()),
            Err(code) => return code,
        },
        (None, None) => return bad("give a scenario or --file".into()),
    };
    let opts = match text_options(&args, &trace.nodes) {
        Ok(o) => o,
        Err(e) => return bad(e),
    };
    if let Some(seq) = opts.around {
        if !trace.steps.iter().any(|s| s.seq == seq) {
            let last = trace.steps.last().map_or(0, |s| s.seq);
            return bad(format!("--around {seq}: no step has that seq; this trace's seqs run from 0 to {last}"));
        }
    }
    let rendered = render(&trace.nodes, &trace.steps, &opts);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut text = rendered.text;
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!("— {} seed {}: {} of {} steps shown", trace.scenario, trace.seed, rendered.shown, rendered.total));
    if !args.all {
        text.push_str(if args.brief { " (--brief hides polling and bookkeeping; --all shows everything)" } else { " (--all shows timers, disk writes and sends too)" });
    }
    text.push('\n');
    match &report {
        Some(r) => text.push_str(&violations(r, &source, &args)),
        None => text.push_str("(a saved trace has no verdict: `kafkasim run` reports it, with each violation's evidence seqs for --around)\n"),
    }
    // A closed pipe (`| head`) is not an error.
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    ExitCode::from(EXIT_MATCHED)
}

/// The verdict and each violation with its evidence, and how to look at it.
fn violations(r: &RunReport, source: &str, args: &TraceArgs) -> String {
    let mut s = format!("verdict {} (expected {})\n", r.verdict, r.expected);
    let flags = if args.source.nemesis { " --nemesis" } else { "" };
    const SHOWN: usize = 10;
    // With --around, only the violations that cite the step looked at.
    let cited: Vec<_> = r.violations.iter().filter(|v| args.around.is_none_or(|seq| v.evidence.contains(&seq))).collect();
    for v in cited.iter().take(SHOWN) {
        s.push_str(&format!("violation [{}] {}\n", v.kind, v.summary));
        if let Some(first) = v.evidence.first() {
            let seqs: Vec<String> = v.evidence.iter().map(ToString::to_string).collect();
            s.push_str(&format!(
                "  evidence: trace seq {} — see how it came about: kafkasim trace {source} --seed {}{flags} --around {first}\n",
                seqs.join(", "),
                r.seed
            ));
        }
    }
    if cited.len() > SHOWN {
        s.push_str(&format!("… and {} more violations (kafkasim run {source} --seed {}{flags} --json lists them all)\n", cited.len() - SHOWN, r.seed));
    }
    s
}

/// A fact's key with its ordinal left out: `c1 consumed orders-1 #N`.
fn family(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut chars = key.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '#' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('N');
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
        }
    }
    // Generations are ordinals too: `group g generation 2 assignment` and `… generation 3 …`
    // are the same kind of fact.
    match out.split_once(" generation ") {
        Some((head, tail)) => format!("{head} generation N{}", tail.trim_start_matches(|c: char| c.is_ascii_digit())),
        None => out,
    }
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// A trace written by `kafkasim run … --trace A.jsonl`.
    pub a: PathBuf,
    pub b: PathBuf,
    /// How many kinds of difference to list after the first.
    #[arg(long, default_value_t = 8)]
    pub more: usize,
}

pub fn diff(args: DiffArgs) -> ExitCode {
    let load = |p: &PathBuf| load_jsonl(p).map_err(|e| bad(e.to_string()));
    let (a, b) = match (load(&args.a), load(&args.b)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    if a.scenario != b.scenario {
        println!("note: A is scenario {}, B is scenario {}: their facts are compared all the same", a.scenario, b.scenario);
    }
    let (fa, fb) = (facts(&a.nodes, &a.steps), facts(&b.nodes, &b.steps));
    let diffs = differences(&fa, &fb);
    println!("A: {} ({} seed {}): {} steps, {} facts", args.a.display(), a.scenario, a.seed, a.steps.len(), fa.len());
    println!("B: {} ({} seed {}): {} steps, {} facts", args.b.display(), b.scenario, b.seed, b.steps.len(), fb.len());
    let Some(first) = diffs.first() else {
        println!("no semantic difference: the same generations and assignments, leaders and ISRs, commits, acknowledged offsets, records consumed and faults");
        return ExitCode::from(EXIT_MATCHED);
    };
    println!("first difference: {}", first.describe());
    // A rebalance bug is usually read along one storyline (who got which partitions, which
    // commit went another way): where each one first parts, whatever came before it.
    if let Some(f) = &first.a {
        println!("to see how A got there: kafkasim trace --file {} --around {}", args.a.display(), f.seq);
    }
    println!("first difference in each storyline:");
    for (name, d) in first_per_storyline(&diffs) {
        match d {
            Some(d) => println!("  {name:<18} {}", d.describe()),
            None => println!("  {name:<18} the same in both runs"),
        }
    }
    if diffs.len() > 1 {
        // Differences of one family (`c1 consumed orders-1 #N`) are listed once, with a count.
        let mut families: Vec<(String, &crate::trace::facts::Difference, usize)> = Vec::new();
        for d in diffs.iter().skip(1) {
            let family = family(&d.key);
            match families.iter_mut().find(|(f, _, _)| *f == family) {
                Some((_, _, n)) => *n += 1,
                None => families.push((family, d, 1)),
            }
        }
        println!("{} differences in all; the next, one per kind of fact:", diffs.len());
        for (_, d, n) in families.iter().take(args.more) {
            let more = if *n > 1 { format!(" (and {} more like it)", n - 1) } else { String::new() };
            println!("  {}{more}", d.describe());
        }
        if families.len() > args.more {
            println!("  … {} more kinds (--more {})", families.len() - args.more, families.len());
        }
    }
    ExitCode::from(EXIT_MISMATCH)
}
