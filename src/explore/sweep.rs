//! Seed sweeps: one scenario over a range of seeds, on several threads. Each run is its own
//! deterministic world on one thread; threads only share the queue of seeds and the results, so a
//! sweep's report does not depend on how many threads ran it.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use super::runner::{run_scenario, RunOptions, RunReport};
use crate::check::Violation;
use crate::scenario::Scenario;

#[derive(Clone, Debug, Serialize)]
pub struct SeedFailure {
    pub seed: u64,
    pub verdict: String,
    pub digest: String,
    /// The first few violations.
    pub violations: Vec<Violation>,
    pub reproduce: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub scenario: String,
    pub path: String,
    pub expected: String,
    pub seeds_run: u64,
    /// Seeds whose outcome was not what the scenario expects, in seed order.
    pub failures: Vec<SeedFailure>,
    /// How often each coverage mark was reached, over all seeds.
    pub marks: BTreeMap<String, u64>,
    pub events: u64,
    pub virtual_time_s: f64,
}

/// Runs every seed of `seeds` (stopping early after the first mismatch when `until_failure`),
/// calling `progress` after each run.
pub fn sweep(scenario: &Scenario, seeds: Range<u64>, jobs: usize, until_failure: bool, progress: &(dyn Fn(&RunReport) + Sync)) -> SweepReport {
    let next = AtomicU64::new(seeds.start);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<RunReport>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= seeds.end {
                    return;
                }
                let report = run_scenario(scenario, seed, RunOptions::default());
                progress(&report);
                if !report.matched && until_failure {
                    stop.store(true, Ordering::Relaxed);
                }
                results.lock().expect("no thread panics while holding it").push(report);
            });
        }
    });
    let mut results = results.into_inner().expect("threads are done");
    results.sort_by_key(|r| r.seed);
    if until_failure {
        // Seeds above the first failure may have run on other threads; report a prefix.
        if let Some(first) = results.iter().position(|r| !r.matched) {
            results.truncate(first + 1);
        }
    }
    let mut marks = BTreeMap::new();
    for r in &results {
        for (k, v) in &r.marks {
            *marks.entry(k.clone()).or_insert(0) += v;
        }
    }
    SweepReport {
        scenario: scenario.name.clone(),
        path: scenario.path.clone(),
        expected: scenario.expected().to_string(),
        seeds_run: results.len() as u64,
        failures: results
            .iter()
            .filter(|r| !r.matched)
            .map(|r| SeedFailure {
                seed: r.seed,
                verdict: r.verdict.clone(),
                digest: r.digest.clone(),
                violations: r.violations.iter().take(3).cloned().collect(),
                reproduce: r.reproduce.clone(),
            })
            .collect(),
        marks,
        events: results.iter().map(|r| r.stats.events).sum(),
        virtual_time_s: results.iter().map(|r| r.stats.virtual_time_s).sum(),
    }
}
