//! `bench`: the speed figures of docs/performance.md, measured on the benchmark scenarios.
//!
//! One core: seeds run one after another, each timed in three parts (the engine, the actors'
//! handlers, the checkers). All cores: the same seeds as a sweep on every thread. Memory: the peak
//! resident size, and optionally the resident size along a long sweep (it must stay flat).

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::explore::check_writable;
use super::{load, EXIT_BAD_INPUT, EXIT_MATCHED, EXIT_MISMATCH};
use crate::engine::Profiler;
use crate::explore::sweep::{sweep, SeedSet};
use crate::explore::{run_scenario, RunOptions};

#[derive(Default)]
struct Timing {
    actor_since: Option<Instant>,
    actors: Duration,
    /// How many handler runs were timed.
    actor_spans: u32,
    observe_since: Option<Instant>,
    /// The white-box invariants checked after every step.
    observing: Duration,
    /// How many of those checks were timed.
    observe_spans: u32,
    check_from: Option<Instant>,
}

/// Wall-clock timing of one run, shared with the command.
struct Clock(Rc<RefCell<Timing>>);

impl Profiler for Clock {
    fn actor_begin(&mut self) {
        self.0.borrow_mut().actor_since = Some(Instant::now());
    }
    fn actor_end(&mut self) {
        let mut t = self.0.borrow_mut();
        if let Some(s) = t.actor_since.take() {
            t.actors += s.elapsed();
            t.actor_spans += 1;
        }
    }
    fn phase(&mut self, name: &'static str) {
        let mut t = self.0.borrow_mut();
        match name {
            "check" => t.check_from = Some(Instant::now()),
            "observe" => t.observe_since = Some(Instant::now()),
            "simulate" => {
                if let Some(s) = t.observe_since.take() {
                    t.observing += s.elapsed();
                    t.observe_spans += 1;
                }
            }
            _ => {}
        }
    }
}

#[derive(Serialize, Default)]
pub struct BenchReport {
    pub scenario: String,
    pub seeds: u64,
    pub events: u64,
    pub virtual_time_s: f64,
    pub one_core: OneCore,
    pub all_cores: AllCores,
    pub peak_rss_mib: Option<f64>,
    /// Resident size (MiB) after each tenth of the memory sweep, when one was asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rss_along_sweep_mib: Vec<(u64, f64)>,
    pub all_passed: bool,
}

#[derive(Serialize, Default)]
pub struct OneCore {
    pub wall_s: f64,
    pub events_per_s: f64,
    pub virtual_s_per_wall_s: f64,
    pub seeds_per_s: f64,
    /// Shares of the run time: the engine (queue, network, disk, trace digest), the actors'
    /// handlers (the Kafka model), the checkers (the white-box invariants after every step and
    /// the history checkers at the end).
    pub engine_share: f64,
    pub actors_share: f64,
    pub checks_share: f64,
    /// The split comes from a second, timed pass over the same seeds, which reads the clock
    /// around every handler and every per-step check: this many timed spans, each of which
    /// costs `span_ns` of run time, `span_inside_ns` of it inside the span (measured on empty
    /// spans before the pass), are taken out of it.
    pub timed_spans: u64,
    pub span_ns: f64,
    pub span_inside_ns: f64,
    /// The timed pass's wall time with the timing's cost taken out; for the seeds both passes
    /// ran (all of them with `--jobs 1`) it should come close to `wall_s`, which checks the
    /// correction.
    pub timed_wall_s: f64,
    /// The seeds of the timed pass.
    pub timed_seeds: u64,
}

/// What timing one span costs through the profiler: the run time an empty span adds, and how
/// much of that the span itself records (the median of ten rounds: five of empty handler spans,
/// five of empty check spans).
fn span_cost_ns() -> (f64, f64) {
    let mut rounds: Vec<(f64, f64)> = (0..10)
        .map(|round| {
            let n = 100_000u32;
            let timing = Rc::new(RefCell::new(Timing::default()));
            let mut clock: Box<dyn Profiler> = Box::new(Clock(timing.clone()));
            let start = Instant::now();
            for _ in 0..n {
                if round % 2 == 0 {
                    clock.actor_begin();
                    clock.actor_end();
                } else {
                    clock.phase("observe");
                    clock.phase("simulate");
                }
            }
            let whole = start.elapsed().as_secs_f64() * 1e9 / f64::from(n);
            let t = timing.borrow();
            let inside = (t.actors + t.observing).as_secs_f64() * 1e9 / f64::from(n);
            (whole, inside)
        })
        .collect();
    rounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    rounds[5]
}

#[derive(Serialize, Default)]
pub struct AllCores {
    pub jobs: usize,
    pub wall_s: f64,
    pub seeds_per_s: f64,
    /// Seeds per second on all cores over seeds per second on one.
    pub speedup: f64,
}

/// The resident set size and its peak, from /proc (Linux); `None` elsewhere.
fn rss_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn bench(scenario: Option<PathBuf>, seeds: u64, jobs: Option<usize>, memory_seeds: Option<u64>, json: Option<PathBuf>, force: bool) -> ExitCode {
    let path = scenario.unwrap_or_else(|| PathBuf::from("scenarios/bench/steady-cluster.toml"));
    let scenario = match load(&path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if seeds == 0 {
        eprintln!("error: --seeds must be at least 1");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if let Some(p) = &json {
        if let Err(code) = check_writable(p, force) {
            return code;
        }
    }
    let mut report = BenchReport { scenario: scenario.name.clone(), seeds, all_passed: true, ..BenchReport::default() };

    // One core, one seed after another, untimed inside: the speed figures. It is the sweep the
    // all-cores pass below runs (the same seeds, `seeds` per thread, the same code), on one
    // thread, timed by the wall clock like that pass, so that the two compare like with like.
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let count = seeds * jobs as u64;
    let stop = AtomicBool::new(false);
    let tally = Mutex::new((0u64, 0.0f64, true));
    let started = Instant::now();
    sweep(&scenario, SeedSet::new(1..1 + count), 1, false, &stop, &|r, _| {
        let mut t = tally.lock().expect("not poisoned");
        t.0 += r.stats.events;
        t.1 += r.stats.virtual_time_s;
        t.2 &= r.matched;
        eprintln!("seed {}: {}, {} events", r.seed, r.verdict, r.stats.events);
    });
    let wall = started.elapsed().as_secs_f64();
    let (events, virtual_time_s, passed) = tally.into_inner().expect("not poisoned");
    report.events = events;
    report.virtual_time_s = virtual_time_s;
    report.all_passed &= passed;

    // The first `seeds` seeds again, each split into engine, actors and checks by reading the clock
    // around every handler and every per-step check. What timing a span costs, inside it and in
    // all, is measured on empty spans first and taken out, so that it is not booked to the engine
    // or to the spans.
    let (span_ns, inside_ns) = span_cost_ns();
    let (mut timed, mut actors, mut checks, mut spans_all) = (0.0, 0.0, 0.0, 0u64);
    for seed in 1..=seeds {
        let timing = Rc::new(RefCell::new(Timing::default()));
        let options = RunOptions { profiler: Some(Box::new(Clock(timing.clone()))), ..RunOptions::default() };
        let started = Instant::now();
        run_scenario(&scenario, seed, options);
        let ended = Instant::now();
        let t = timing.borrow();
        let spans = f64::from(t.actor_spans) + f64::from(t.observe_spans);
        spans_all += u64::from(t.actor_spans) + u64::from(t.observe_spans);
        timed += (ended - started).as_secs_f64() - spans * span_ns * 1e-9;
        actors += t.actors.as_secs_f64() - f64::from(t.actor_spans) * inside_ns * 1e-9;
        let observing = t.observing.as_secs_f64() - f64::from(t.observe_spans) * inside_ns * 1e-9;
        checks += t.check_from.map_or(0.0, |c| (ended - c).as_secs_f64()) + observing;
    }
    let engine = (timed - actors - checks).max(0.0);
    report.one_core = OneCore {
        wall_s: wall,
        events_per_s: report.events as f64 / wall,
        virtual_s_per_wall_s: report.virtual_time_s / wall,
        seeds_per_s: count as f64 / wall,
        engine_share: engine / timed,
        actors_share: actors / timed,
        checks_share: checks / timed,
        timed_spans: spans_all,
        span_ns,
        span_inside_ns: inside_ns,
        timed_wall_s: timed,
        timed_seeds: seeds,
    };

    // All cores: the same seeds as a sweep on `jobs` threads.
    let started = Instant::now();
    let swept = sweep(&scenario, SeedSet::new(1..1 + count), jobs, false, &stop, &|_, _| {});
    let sweep_wall = started.elapsed().as_secs_f64();
    report.all_passed &= swept.failures.is_empty();
    let per_s = swept.seeds_run as f64 / sweep_wall;
    report.all_cores = AllCores { jobs, wall_s: sweep_wall, seeds_per_s: per_s, speedup: per_s / report.one_core.seeds_per_s };

    // Memory along a long sweep: the resident size after each tenth.
    if let Some(m) = memory_seeds {
        let samples = Mutex::new(Vec::new());
        let step = (m / 10).max(1);
        let record = |_: &crate::explore::RunReport, t: &crate::explore::sweep::SweepReport| {
            if t.seeds_run % step == 0 {
                if let Some(rss) = rss_mib("VmRSS:") {
                    samples.lock().expect("not poisoned").push((t.seeds_run, rss));
                }
            }
        };
        let r = sweep(&scenario, SeedSet::new(1..1 + m), 1, false, &stop, &record);
        report.all_passed &= r.failures.is_empty();
        report.rss_along_sweep_mib = samples.into_inner().expect("not poisoned");
    }
    report.peak_rss_mib = rss_mib("VmHWM:");

    print_bench(&report);
    if let Some(p) = &json {
        if let Err(e) = std::fs::write(p, serde_json::to_string_pretty(&report).expect("serializes")) {
            eprintln!("error: {}: {e}", p.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    ExitCode::from(if report.all_passed { EXIT_MATCHED } else { EXIT_MISMATCH })
}

fn print_bench(r: &BenchReport) {
    let o = &r.one_core;
    println!("scenario   {} ({} seeds per core{})", r.scenario, r.seeds, if r.all_passed { ", every run as expected" } else { ", SOME RUNS NOT AS EXPECTED" });
    println!(
        "one core   {:.0} events/s, {:.0} virtual s per wall s, {:.2} seeds/s ({} seeds, {} events, {:.1} virtual s in {:.2} s)",
        o.events_per_s,
        o.virtual_s_per_wall_s,
        o.seeds_per_s,
        r.seeds * r.all_cores.jobs as u64,
        r.events,
        r.virtual_time_s,
        o.wall_s
    );
    println!(
        "time split engine {:.1}%, actors {:.1}%, checkers {:.1}% (a second, timed pass; its {} timed spans at {:.0} ns each, {:.0} ns inside, taken out)",
        o.engine_share * 100.0,
        o.actors_share * 100.0,
        o.checks_share * 100.0,
        o.timed_spans,
        o.span_ns,
        o.span_inside_ns
    );
    let a = &r.all_cores;
    println!("all cores  {} threads: {:.2} seeds/s, {:.2}x one core", a.jobs, a.seeds_per_s, a.speedup);
    if let Some(p) = r.peak_rss_mib {
        println!("memory     peak resident {p:.1} MiB");
    }
    if !r.rss_along_sweep_mib.is_empty() {
        let points: Vec<String> = r.rss_along_sweep_mib.iter().map(|(n, m)| format!("{n}: {m:.1}")).collect();
        println!("memory     resident MiB after seeds  {}", points.join(", "));
    }
}
