//! `kafkasim shrink`: turns a failing run into a small scenario file that still fails with the
//! same violation kind (see `crate::explore::shrink`). This layer owns the wall-clock budget, the
//! progress lines on stderr and the output file.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use super::{load_with_nemesis, EXIT_BAD_INPUT, EXIT_MATCHED};
use crate::explore::shrink::{shrink as shrink_run, ShrinkError, ShrinkOptions};

pub struct ShrinkArgs {
    pub scenario: PathBuf,
    pub seed: Option<u64>,
    pub out: PathBuf,
    pub nemesis: bool,
    pub force: bool,
    pub budget_secs: f64,
    pub max_runs: usize,
    pub tries: u64,
}

pub fn shrink(args: ShrinkArgs) -> ExitCode {
    let bad = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    if args.out.exists() && !args.force {
        return bad(format!("{} exists; pass --force to overwrite it", args.out.display()));
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty() && !d.is_dir()) {
        return bad(format!("{}: the directory {} does not exist", args.out.display(), dir.display()));
    }
    if args.budget_secs.is_nan() || args.budget_secs <= 0.0 || args.max_runs == 0 || args.tries == 0 {
        return bad("--budget-secs, --max-runs and --tries must be positive".into());
    }
    let scenario = match load_with_nemesis(&args.scenario, args.nemesis) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let text = match std::fs::read_to_string(&args.scenario) {
        Ok(t) => t,
        Err(e) => return bad(format!("{}: {e}", args.scenario.display())),
    };
    let seed = args.seed.unwrap_or_else(|| scenario.default_seed());
    let options = ShrinkOptions { seed, tries: args.tries, out_name: args.out.display().to_string(), flags: scenario.reproduce_flags().to_string() };
    let started = Instant::now();
    let (budget, max_runs) = (args.budget_secs, args.max_runs);
    let mut keep_going = |runs: usize| runs < max_runs && started.elapsed().as_secs_f64() < budget;
    let mut progress = |line: &str| eprintln!("shrink [{:5.1}s] {line}", started.elapsed().as_secs_f64());
    eprintln!("shrink: running {} with seed {seed}{}", args.scenario.display(), scenario.reproduce_flags());
    let outcome = match shrink_run(&scenario, &text, &options, &mut keep_going, &mut progress) {
        Ok(o) => o,
        Err(e @ ShrinkError::NotFailing { .. }) => return bad(e.to_string()),
        Err(e) => return bad(e.to_string()),
    };
    let wall = started.elapsed().as_secs_f64();
    if let Err(e) = write_output(&args.out, &outcome.text, args.force) {
        return bad(format!("{}: {e}", args.out.display()));
    }
    let (b, a) = (&outcome.before, &outcome.after);
    println!("shrunk    {} (seed {seed}{}) → {}", args.scenario.display(), scenario.reproduce_flags(), args.out.display());
    println!("violation {} (the shrunk run's verdict: {})", outcome.target, outcome.report.verdict);
    if outcome.explicit && outcome.timeline_made {
        println!("faults    made explicit: every fault that fired is scripted at its time; the nemesis is off");
    } else if let Some(note) = &outcome.note {
        println!("note      {note}");
    }
    println!("size      {:<14}{:>10}{:>10}", "", "before", "after");
    println!("          {:<14}{:>10}{:>10}", "faults", b.faults, a.faults);
    println!("          {:<14}{:>10}{:>10}", "trace events", b.events, a.events);
    println!("          {:<14}{:>10}{:>10}", "steps", b.steps, a.steps);
    println!("          {:<14}{:>10}{:>10}", "records", b.records, a.records);
    println!("          {:<14}{:>10}{:>10}", "nodes", b.nodes, a.nodes);
    println!("          {:<14}{:>9.1}s{:>9.1}s", "virtual time", b.virtual_time_s, a.virtual_time_s);
    if outcome.seed != seed {
        println!("seed      {} (seed {seed} no longer failed once shrunk)", outcome.seed);
    }
    println!(
        "search    {} candidate runs, {} steps kept, {wall:.1}s wall{}",
        outcome.runs,
        outcome.accepted.len(),
        if outcome.stopped_early { " (budget reached: --budget-secs / --max-runs)" } else { "" }
    );
    println!("run it    kafkasim run {}", args.out.display());
    ExitCode::from(EXIT_MATCHED)
}

/// Writes the file; without `force` only if it does not exist yet.
fn write_output(path: &Path, text: &str, force: bool) -> std::io::Result<()> {
    let mut file = if force { OpenOptions::new().write(true).create(true).truncate(true).open(path)? } else { OpenOptions::new().write(true).create_new(true).open(path)? };
    file.write_all(text.as_bytes())
}
