//! The `kafkasim` command. The only layer that reads the wall clock, talks to the terminal and
//! writes files.

pub mod bench;
pub mod explore;
pub mod shrink;
pub mod step;
pub mod tools;
pub mod trace;
pub mod view;

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use crate::explore::determinism::check_seed;
use crate::explore::{run_scenario, RunOptions, RunReport};
use crate::scenario::Scenario;
use crate::trace::{JsonLines, TraceHeader};

/// Exit codes: the outcome matched the expectation, it did not, or the input was bad.
pub const EXIT_MATCHED: u8 = 0;
pub const EXIT_MISMATCH: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

#[cfg(test)]
mod tests {
    use super::parse_seeds;

    #[test]
    fn seed_ranges() {
        assert_eq!(parse_seeds("1..101"), Some(1..101));
        assert_eq!(parse_seeds("3..=5"), Some(3..6));
        assert_eq!(parse_seeds("7"), Some(7..8));
        assert_eq!(parse_seeds("5..5"), None);
        assert_eq!(parse_seeds("x..3"), None);
    }
}

#[derive(Parser)]
#[command(name = "kafkasim", version, about = "Deterministic simulation of Apache Kafka semantics")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What `run` and `replay` share: where the trace goes, and the nemesis switch.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Write the trace as JSON Lines to this file (refuses to overwrite an existing file unless
    /// --force).
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Overwrite the trace file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Run the scenario's `[nemesis]` even if it says `enabled = false` (the random faults a
    /// safe configuration claims to tolerate).
    #[arg(long)]
    pub nemesis: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run one scenario with one seed and judge it against its expectation.
    Run {
        scenario: PathBuf,
        /// The seed (default: the scenario's `run.seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Print one JSON object instead of the summary.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        out: RunArgs,
    },
    /// Run a scenario over many seeds, on several threads, and report every seed whose outcome is
    /// not what the scenario expects.
    Explore {
        scenario: PathBuf,
        /// A seed range `A..B` (B excluded), `A..=B`, or one seed.
        #[arg(long, default_value = "1..101")]
        seeds: String,
        /// Run only shard K of N (0 <= K < N): the seeds A+K, A+K+N, A+2N+K, … of the range, so
        /// that N machines or CI jobs split one range; combine their reports with `merge`.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Threads (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Stop at the first seed that does not meet the expectation.
        #[arg(long, conflicts_with = "all")]
        until_failure: bool,
        /// Run every seed of the range whatever happens (the default).
        #[arg(long)]
        all: bool,
        /// Write the report as JSON to this file (failing seeds with their violations and
        /// digests, every seed's digest, coverage marks, speed).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Overwrite the --json file if it exists.
        #[arg(long)]
        force: bool,
        /// Run the scenario's `[nemesis]` even if it says `enabled = false` (the random faults a
        /// safe configuration claims to tolerate).
        #[arg(long)]
        nemesis: bool,
        /// No progress output (failures and the summary are still printed).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Combine the JSON reports of several `explore` runs of one scenario (e.g. shards).
    Merge {
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Write the merged report to this file.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Overwrite the output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Run one seed again and, given an explore report, check that its trace digest is the one
    /// the report recorded.
    Replay {
        scenario: PathBuf,
        #[arg(long)]
        seed: u64,
        /// An `explore --json` report to check the digest against.
        #[arg(long)]
        report: Option<PathBuf>,
        #[command(flatten)]
        out: RunArgs,
    },
    /// Measure speed and memory on a benchmark scenario (default scenarios/bench/steady-cluster.toml).
    Bench {
        scenario: Option<PathBuf>,
        /// Seeds per core (fewer finish sooner, but a pass of about a second makes the ratios
        /// vary by ±15% on a shared machine).
        #[arg(long, default_value_t = 16)]
        seeds: u64,
        /// Threads for the all-cores figure (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Also run this many seeds on one thread and report the resident memory along the way.
        #[arg(long)]
        memory_seeds: Option<u64>,
        /// Write the figures as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long)]
        force: bool,
    },
    /// Compute a consumer-group assignment: JSON on stdin (strategy, flavor, topics, members),
    /// JSON on stdout.
    Assign,
    /// Compute producer partitions for keys: JSON on stdin (partitioner, partitions, keys), JSON
    /// on stdout.
    Partition,
    /// Print the `__consumer_offsets` partition whose leader coordinates a group.
    Coordinator {
        #[arg(long)]
        group: String,
        #[arg(long, default_value_t = 50)]
        offsets_partitions: i32,
    },
    /// List the coverage marks the model can reach (for `sometimes` and `when = { mark = … }`).
    Marks,
    /// Turn a failing run into a minimal scenario file that still fails with the same violation
    /// kind: the faults that fired become an explicit timeline, then faults, durations, workload,
    /// members, partitions and brokers are cut while the run still fails.
    Shrink {
        scenario: PathBuf,
        /// The seed of the failing run (default: the scenario's `run.seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Where to write the shrunk scenario (refuses to overwrite an existing file unless
        /// --force).
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// Run the scenario's `[nemesis]` even if it says `enabled = false`.
        #[arg(long)]
        nemesis: bool,
        /// Overwrite the output file if it exists.
        #[arg(long)]
        force: bool,
        /// Stop searching after this many seconds of wall time.
        #[arg(long, default_value_t = 60.0)]
        budget_secs: f64,
        /// Stop searching after this many candidate runs.
        #[arg(long, default_value_t = 2000)]
        max_runs: usize,
        /// Seeds tried per candidate: the current seed, then the next ones.
        #[arg(long, default_value_t = 1)]
        tries: u64,
    },
    /// Run each seed twice and compare trace digests.
    CheckDeterminism {
        scenario: PathBuf,
        /// A seed range `A..B` (B excluded) or one seed.
        #[arg(long, default_value = "1..11")]
        seeds: String,
    },
    /// Explain a run line by line in Kafka's words: run a scenario (or read a saved trace with
    /// --file) and print each step with its virtual time, its actor, what happened and why.
    Trace(trace::TraceArgs),
    /// Compare two saved traces and name the first semantic difference (a generation's
    /// assignment, a leader, a commit, an acknowledged offset, a record consumed, a fault).
    Diff(trace::DiffArgs),
    /// Write a run as one self-contained HTML page: a space-time diagram, each step explained,
    /// and the partitions, groups and consumers as they stood, stepped with the arrow keys.
    View(view::ViewArgs),
    /// Step through a run in the terminal (80×24): each step explained, with the partitions,
    /// groups and consumers as they stood; n/→ next, p/← back, f fault, r rebalance, v violation,
    /// q quit.
    Step(step::StepArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { scenario, seed, json, out } => run(&scenario, seed, json, out.trace, out.force, out.nemesis),
        Command::Shrink { scenario, seed, output, nemesis, force, budget_secs, max_runs, tries } => {
            shrink::shrink(shrink::ShrinkArgs { scenario, seed, out: output, nemesis, force, budget_secs, max_runs, tries })
        }
        Command::CheckDeterminism { scenario, seeds } => check_determinism(&scenario, &seeds),
        Command::Assign => tools::assign(),
        Command::Marks => {
            for m in crate::model::marks::ALL {
                println!("{m}");
            }
            ExitCode::SUCCESS
        }
        Command::Partition => tools::partition(),
        Command::Coordinator { group, offsets_partitions } => tools::coordinator(&group, offsets_partitions),
        Command::Explore { scenario, seeds, shard, jobs, until_failure, all: _, json, force, nemesis, quiet } => {
            explore::explore(explore::ExploreArgs { scenario, seeds, shard, jobs, until_failure, json, force, nemesis, quiet })
        }
        Command::Bench { scenario, seeds, jobs, memory_seeds, json, force } => bench::bench(scenario, seeds, jobs, memory_seeds, json, force),
        Command::Merge { reports, output, force } => explore::merge(&reports, output, force),
        Command::Replay { scenario, seed, report, out } => explore::replay(&scenario, seed, report, out.trace, out.force, out.nemesis),
        Command::Trace(args) => trace::trace(args),
        Command::Diff(args) => trace::diff(args),
        Command::View(args) => view::view(args),
        Command::Step(args) => step::step(args),
    }
}

fn load(path: &PathBuf) -> Result<Scenario, ExitCode> {
    Scenario::load(path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_BAD_INPUT)
    })
}

/// Loads a scenario; with `nemesis`, turns on its `[nemesis]` (an error if it has none).
fn load_with_nemesis(path: &PathBuf, nemesis: bool) -> Result<Scenario, ExitCode> {
    let mut scenario = load(path)?;
    if nemesis {
        if scenario.file.nemesis.is_none() {
            eprintln!("error: {}: --nemesis asks for the scenario's [nemesis], and it has none", path.display());
            return Err(ExitCode::from(EXIT_BAD_INPUT));
        }
        scenario.force_nemesis = true;
    }
    Ok(scenario)
}

fn run(path: &PathBuf, seed: Option<u64>, json: bool, trace: Option<PathBuf>, force: bool, nemesis: bool) -> ExitCode {
    run_once(path, seed, json, trace, force, nemesis).0
}

/// Runs one seed and prints its report; the exit code and, when the run happened, its digest.
fn run_once(path: &PathBuf, seed: Option<u64>, json: bool, trace: Option<PathBuf>, force: bool, nemesis: bool) -> (ExitCode, Option<String>) {
    let scenario = match load_with_nemesis(path, nemesis) {
        Ok(s) => s,
        Err(code) => return (code, None),
    };
    let seed = seed.unwrap_or_else(|| scenario.default_seed());
    let mut options = RunOptions::default();
    if let Some(trace_path) = &trace {
        if trace_path.exists() && !force {
            eprintln!("error: {} exists; pass --force to overwrite it", trace_path.display());
            return (ExitCode::from(EXIT_BAD_INPUT), None);
        }
        let file = match File::create(trace_path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {}: {e}", trace_path.display());
                return (ExitCode::from(EXIT_BAD_INPUT), None);
            }
        };
        let names = scenario.node_names();
        let header = TraceHeader::new(&scenario.name, seed, &names);
        match JsonLines::new(BufWriter::new(file), &header) {
            Ok(sink) => options.sink = Some(Box::new(sink)),
            Err(e) => {
                eprintln!("error: {}: {e}", trace_path.display());
                return (ExitCode::from(EXIT_BAD_INPUT), None);
            }
        }
    }
    let started = Instant::now();
    let report = run_scenario(&scenario, seed, options);
    let wall = started.elapsed().as_secs_f64();
    if json {
        let mut value = serde_json::to_value(&report).expect("reports serialize");
        value["stats"]["wall_time_s"] = serde_json::json!(wall);
        value["stats"]["events_per_sec"] = serde_json::json!(rate(report.stats.events, wall));
        println!("{}", serde_json::to_string_pretty(&value).expect("json"));
    } else {
        print_summary(&report, wall, trace.as_ref());
    }
    (ExitCode::from(if report.matched { EXIT_MATCHED } else { EXIT_MISMATCH }), Some(report.digest.clone()))
}

fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        (n as f64 / secs).round()
    } else {
        0.0
    }
}

fn print_summary(r: &RunReport, wall: f64, trace: Option<&PathBuf>) {
    let s = &r.stats;
    let outcome = if r.matched { "as expected" } else { "NOT as expected" };
    println!("scenario  {} (seed {})", r.scenario, r.seed);
    println!("verdict   {}  — expected {}: {outcome}", r.verdict, r.expected);
    if r.violations.is_empty() {
        println!("violations none");
    } else {
        println!("violations {}:", r.violations.len());
        for v in r.violations.iter().take(10) {
            println!("  [{}] {} (trace seq {:?})", v.kind, v.summary, v.evidence);
        }
        if r.violations.len() > 10 {
            println!("  … and {} more (see --json)", r.violations.len() - 10);
        }
    }
    println!(
        "records   produced {}, acked {}, failed {}, consumed {} ({} redelivered)",
        s.records_produced, s.records_acked, s.records_failed, s.records_consumed, s.records_redelivered
    );
    if !s.unfinished.is_empty() {
        println!("waiting   {}", s.unfinished.join("; "));
    }
    if !s.coverage_missed.is_empty() {
        println!("coverage  missed required mark(s): {}", s.coverage_missed.join(", "));
    }
    for n in s.notes.iter().take(5) {
        println!("note      [{}] {}", n.kind, n.summary);
    }
    if s.notes.len() > 5 {
        println!("note      … and {} more (see --json)", s.notes.len() - 5);
    }
    println!("run       ended by {} at virtual {:.3}s; {} events in {:.3}s wall ({} events/s)", r.end, s.virtual_time_s, s.events, wall, rate(s.events, wall));
    println!("digest    {}", r.digest);
    if let Some(t) = trace {
        println!("trace     {}", t.display());
    }
    println!("reproduce {}", r.reproduce);
}

/// `A..B` (B excluded), `A..=B`, or a single seed.
pub fn parse_seeds(text: &str) -> Option<std::ops::Range<u64>> {
    if let Some((a, b)) = text.split_once("..=") {
        let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        return (a <= b).then(|| a..b + 1);
    }
    if let Some((a, b)) = text.split_once("..") {
        let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        return (a < b).then_some(a..b);
    }
    let s: u64 = text.trim().parse().ok()?;
    Some(s..s + 1)
}

/// A scenario and a `--seeds` range, or the bad-input exit code after saying what is wrong.
fn load_with_seeds(path: &PathBuf, seeds: &str, nemesis: bool) -> Result<(Scenario, std::ops::Range<u64>), ExitCode> {
    let scenario = load_with_nemesis(path, nemesis)?;
    let range = parse_seeds(seeds).ok_or_else(|| {
        eprintln!("error: --seeds {seeds}: expected A..B, A..=B or a seed");
        ExitCode::from(EXIT_BAD_INPUT)
    })?;
    Ok((scenario, range))
}

fn check_determinism(path: &PathBuf, seeds: &str) -> ExitCode {
    let (scenario, range) = match load_with_seeds(path, seeds, false) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let count = range.end - range.start;
    for seed in range {
        if let Some(d) = check_seed(&scenario, seed) {
            println!("DIVERGED at seed {seed}: digests {} vs {}", d.first_digest, d.second_digest);
            println!("first diverging event: seq {}", d.seq);
            println!("  run 1: {}", d.first_event.map_or("(none)".into(), |e| e.to_string()));
            println!("  run 2: {}", d.second_event.map_or("(none)".into(), |e| e.to_string()));
            return ExitCode::from(EXIT_MISMATCH);
        }
    }
    println!("deterministic: {count} seeds, each run twice, identical digests");
    ExitCode::from(EXIT_MATCHED)
}
