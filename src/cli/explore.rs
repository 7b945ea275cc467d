//! `explore`, `merge` and `replay`: seed sweeps with progress, Ctrl-C and JSON reports; combining
//! the reports of shards; running one seed again against a report.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::{load_with_nemesis, parse_seeds, rate, EXIT_BAD_INPUT, EXIT_MATCHED, EXIT_MISMATCH};
use crate::explore::sweep::{sweep, SeedSet, SweepReport};
use crate::explore::RunReport;

/// Seeds not as expected printed one per line; the rest are counted (all are in the JSON report).
const MAX_LINES: usize = 20;

/// Set by Ctrl-C: the sweep stops taking seeds and the report is still written.
static STOP: AtomicBool = AtomicBool::new(false);

pub struct ExploreArgs {
    pub scenario: PathBuf,
    pub seeds: String,
    pub shard: Option<String>,
    pub jobs: Option<usize>,
    pub until_failure: bool,
    pub json: Option<PathBuf>,
    pub force: bool,
    pub nemesis: bool,
    pub quiet: bool,
}

fn bad(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// Refuses to overwrite a file the user did not ask to overwrite.
pub fn check_writable(path: &Path, force: bool) -> Result<(), ExitCode> {
    if path.exists() && !force {
        return Err(bad(format!("{} exists; pass --force to overwrite it", path.display())));
    }
    Ok(())
}

pub fn explore(a: ExploreArgs) -> ExitCode {
    let scenario = match load_with_nemesis(&a.scenario, a.nemesis) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(range) = parse_seeds(&a.seeds) else { return bad(format!("--seeds {}: expected A..B, A..=B or a seed", a.seeds)) };
    let mut seeds = SeedSet::new(range);
    if let Some(shard) = &a.shard {
        match seeds.with_shard(shard) {
            Some(s) => seeds = s,
            None => return bad(format!("--shard {shard}: expected K/N with 0 <= K < N")),
        }
    }
    if let Some(path) = &a.json {
        if let Err(code) = check_writable(path, a.force) {
            return code;
        }
    }
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    // A second Ctrl-C (or a handler that cannot be installed) falls back to the default: exit.
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: finishing the runs in progress, then writing the report (Ctrl-C again to quit now)");
    });

    let total = seeds.len();
    let started = Instant::now();
    let bar = (std::io::stderr().is_terminal() && !a.quiet).then(|| {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} seeds  {msg}  {per_sec}  ETA {eta}").expect("a valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let last_line = Mutex::new(Instant::now());
    let quiet = a.quiet;
    let until_failure = a.until_failure;
    let progress = |r: &RunReport, t: &SweepReport| {
        let failures = t.failures.len();
        let stops = until_failure && r.verdict != "pass";
        // Every mismatch is listed up to a point (a nemesis bug hunt misses on most seeds).
        if (!r.matched && failures <= MAX_LINES) || stops {
            let outcome = if r.matched { "as expected" } else { "NOT as expected" };
            let line = format!("seed {}: {} (expected {}: {outcome}) — reproduce: {}", r.seed, r.verdict, r.expected, r.reproduce);
            match &bar {
                Some(b) => b.println(line),
                None => println!("{line}"),
            }
        }
        match &bar {
            Some(b) => {
                b.set_message(format!("{failures} not as expected"));
                b.inc(1);
            }
            None if !quiet => {
                // Plain progress for logs: at most one line every 5 seconds, and at the end.
                let mut last = last_line.lock().expect("not poisoned");
                if last.elapsed() >= Duration::from_secs(5) || t.seeds_run == total {
                    *last = Instant::now();
                    let secs = started.elapsed().as_secs_f64();
                    let per_sec = t.seeds_run as f64 / secs.max(1e-9);
                    let eta = (total - t.seeds_run.min(total)) as f64 / per_sec.max(1e-9);
                    eprintln!("progress: {}/{total} seeds, {failures} not as expected, {per_sec:.1} seeds/s, ETA {eta:.0}s", t.seeds_run);
                }
            }
            None => {}
        }
    };
    let mut report = sweep(&scenario, seeds, jobs, a.until_failure, &STOP, &progress);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let wall = started.elapsed().as_secs_f64();
    report.speed.jobs = jobs;
    report.speed.wall_time_s = wall;
    report.speed.seeds_per_s = report.seeds_run as f64 / wall.max(1e-9);
    report.speed.events_per_s = rate(report.events, wall);
    report.speed.virtual_s_per_wall_s = report.virtual_time_s / wall.max(1e-9);
    print_sweep(&report);
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&report).expect("reports serialize");
        if let Err(e) = std::fs::write(path, text) {
            return bad(format!("{}: {e}", path.display()));
        }
        println!("report    {}", path.display());
    }
    if report.interrupted {
        return ExitCode::from(130);
    }
    ExitCode::from(if report.failures.is_empty() { EXIT_MATCHED } else { EXIT_MISMATCH })
}

fn print_sweep(r: &SweepReport) {
    let sets: Vec<String> = r.seed_sets.iter().map(|s| s.to_string()).collect();
    println!("scenario  {} ({}), seeds {}", r.scenario, r.path, sets.join(", "));
    let verdicts: Vec<String> = r.verdicts.iter().map(|(v, n)| format!("{v} {n}")).collect();
    println!(
        "seeds     {} run{}; expected {}; verdicts: {}",
        r.seeds_run,
        if r.interrupted { " (interrupted)" } else { "" },
        r.expected,
        verdicts.join(", ")
    );
    if r.failures.is_empty() {
        println!("result    every seed as expected");
    } else {
        println!("result    {} seed(s) NOT as expected; first: {}", r.failures.len(), r.failures[0].reproduce);
    }
    if let Some(f) = &r.first_failing {
        let kinds: Vec<&str> = f.violations.iter().map(|v| v.kind.as_str()).collect();
        println!("first     seed {} failed: {} [{}] digest {}", f.seed, f.verdict, kinds.join(", "), f.digest);
        println!("reproduce {}", f.reproduce);
    }
    for (m, n) in &r.sometimes {
        println!("sometimes {m}: reached in {n} of {} seeds", r.seeds_run);
    }
    println!("marks     {} distinct coverage marks reached (see --json for counts)", r.marks.len());
    let s = &r.speed;
    println!(
        "speed     {:.2}s wall on {} thread(s): {:.1} seeds/s, {:.0} events/s, {:.0} virtual s per wall s",
        s.wall_time_s, s.jobs, s.seeds_per_s, s.events_per_s, s.virtual_s_per_wall_s
    );
}

fn read_report(path: &Path) -> Result<SweepReport, ExitCode> {
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| bad(format!("{}:{}:{}: not an explore report: {e}", path.display(), e.line(), e.column())))
}

pub fn merge(reports: &[PathBuf], output: Option<PathBuf>, force: bool) -> ExitCode {
    let mut all = Vec::new();
    for p in reports {
        match read_report(p) {
            Ok(r) => all.push(r),
            Err(code) => return code,
        }
    }
    if let Some(path) = &output {
        if let Err(code) = check_writable(path, force) {
            return code;
        }
    }
    let merged = match SweepReport::merge(all) {
        Ok(m) => m,
        Err(e) => return bad(e),
    };
    print_sweep(&merged);
    if let Some(path) = &output {
        let text = serde_json::to_string_pretty(&merged).expect("reports serialize");
        if let Err(e) = std::fs::write(path, text) {
            return bad(format!("{}: {e}", path.display()));
        }
        println!("report    {}", path.display());
    }
    ExitCode::from(if merged.failures.is_empty() { EXIT_MATCHED } else { EXIT_MISMATCH })
}

/// Runs one seed again (as `run` does) and, given a report, checks that the digest is the one the
/// report recorded for that seed.
pub fn replay(scenario: &PathBuf, seed: u64, report: Option<PathBuf>, trace: Option<PathBuf>, force: bool, nemesis: bool) -> ExitCode {
    let expected_digest = match &report {
        None => None,
        Some(p) => match read_report(p) {
            Ok(r) => match r.digests.get(&seed) {
                Some(d) => Some(d.clone()),
                None => return bad(format!("{}: the report has no seed {seed}", p.display())),
            },
            Err(code) => return code,
        },
    };
    let (code, digest) = super::run_once(scenario, Some(seed), false, trace, force, nemesis);
    let Some(expected) = expected_digest else { return code };
    match digest {
        Some(d) if d == expected => {
            println!("replay    digest {d} matches the report: the same run, event for event");
            code
        }
        Some(d) => {
            println!("replay    digest {d} DIFFERS from the report's {expected} (a different build or scenario file?)");
            ExitCode::from(EXIT_MISMATCH)
        }
        None => code,
    }
}
