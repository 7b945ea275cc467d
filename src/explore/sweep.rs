//! Seed sweeps: one scenario over a set of seeds, on several threads. Each run is its own
//! deterministic world on one thread; threads only share the queue of seeds and the tally, so a
//! full sweep's report does not depend on how many threads ran it.
//!
//! A sweep keeps no run once it is tallied: per seed it keeps only its digest, so a sweep of
//! 10,000 seeds runs in the memory of one run plus a few bytes per seed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::runner::{run_scenario, RunOptions, RunReport};
use crate::check::Violation;
use crate::scenario::Scenario;

/// Which seeds a sweep runs: a range `start..end`, optionally one shard of it (every `count`-th
/// seed starting at `start + index`), so that independent machines can split one range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedSet {
    pub start: u64,
    pub end: u64,
    /// `(index, count)`: this shard takes the seeds `s` with `(s - start) % count == index`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<(u64, u64)>,
}

impl SeedSet {
    pub fn new(range: std::ops::Range<u64>) -> Self {
        SeedSet { start: range.start, end: range.end, shard: None }
    }

    /// Parses `K/N` with `0 <= K < N` (the Kubernetes Indexed Job convention).
    pub fn with_shard(self, text: &str) -> Option<Self> {
        let (k, n) = text.split_once('/')?;
        let (k, n): (u64, u64) = (k.trim().parse().ok()?, n.trim().parse().ok()?);
        (n > 0 && k < n).then_some(SeedSet { shard: Some((k, n)), ..self })
    }

    pub fn seeds(&self) -> impl Iterator<Item = u64> + '_ {
        let (index, count) = self.shard.unwrap_or((0, 1));
        (self.start.saturating_add(index)..self.end).step_by(count as usize)
    }

    pub fn len(&self) -> u64 {
        self.seeds().count() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Display for SeedSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.start, self.end)?;
        if let Some((k, n)) = self.shard {
            write!(f, " shard {k}/{n}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeedFailure {
    pub seed: u64,
    pub verdict: String,
    pub digest: String,
    /// The first few violations.
    pub violations: Vec<Violation>,
    pub reproduce: String,
}

/// How often a coverage mark was reached over a sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkTally {
    /// Seeds whose run reached it at least once.
    pub seeds: u64,
    /// Times it was reached, over all runs.
    pub hits: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepReport {
    pub scenario: String,
    pub path: String,
    pub expected: String,
    /// The seed sets this report covers (one, or several after `merge`).
    pub seed_sets: Vec<SeedSet>,
    pub seeds_run: u64,
    /// Whether the sweep was stopped (Ctrl-C) before it ran every seed.
    #[serde(default)]
    pub interrupted: bool,
    /// Seeds whose outcome was not what the scenario expects, in seed order.
    pub failures: Vec<SeedFailure>,
    /// The lowest seed whose run failed (a violation, a panic or a limit), whatever the scenario
    /// expects: in a bug scenario, the first seed that shows the bug.
    #[serde(default)]
    pub first_failing: Option<SeedFailure>,
    /// Each verdict and how many seeds had it.
    pub verdicts: BTreeMap<String, u64>,
    /// Every coverage mark reached, with how many seeds reached it and how often.
    pub marks: BTreeMap<String, MarkTally>,
    /// The marks the scenario requires (`sometimes`), with the number of seeds that reached each
    /// (0 when none did).
    pub sometimes: BTreeMap<String, u64>,
    /// Each seed's trace digest, for `replay --report`.
    pub digests: BTreeMap<u64, String>,
    pub events: u64,
    pub virtual_time_s: f64,
    /// Wall-clock figures, filled in by the command (the sweep itself reads no clock).
    #[serde(default)]
    pub speed: Speed,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Speed {
    pub jobs: usize,
    pub wall_time_s: f64,
    pub seeds_per_s: f64,
    pub events_per_s: f64,
    pub virtual_s_per_wall_s: f64,
}

impl SweepReport {
    fn empty(scenario: &Scenario, seeds: SeedSet) -> Self {
        SweepReport {
            scenario: scenario.name.clone(),
            path: scenario.path.clone(),
            expected: scenario.expected().to_string(),
            seed_sets: vec![seeds],
            seeds_run: 0,
            interrupted: false,
            failures: vec![],
            first_failing: None,
            verdicts: BTreeMap::new(),
            marks: BTreeMap::new(),
            sometimes: scenario.sometimes().into_iter().map(|m| (m, 0)).collect(),
            digests: BTreeMap::new(),
            events: 0,
            virtual_time_s: 0.0,
            speed: Speed::default(),
        }
    }

    /// Folds one run into the report.
    pub fn tally(&mut self, r: &RunReport) {
        self.seeds_run += 1;
        *self.verdicts.entry(r.verdict.clone()).or_insert(0) += 1;
        for (k, v) in &r.marks {
            let t = self.marks.entry(k.clone()).or_default();
            t.seeds += 1;
            t.hits += v;
        }
        for (m, n) in self.sometimes.iter_mut() {
            if r.marks.contains_key(m) {
                *n += 1;
            }
        }
        self.digests.insert(r.seed, r.digest.clone());
        self.events += r.stats.events;
        self.virtual_time_s += r.stats.virtual_time_s;
        let failure = || SeedFailure {
            seed: r.seed,
            verdict: r.verdict.clone(),
            digest: r.digest.clone(),
            violations: r.violations.iter().take(3).cloned().collect(),
            reproduce: r.reproduce.clone(),
        };
        if r.verdict != "pass" && self.first_failing.as_ref().is_none_or(|f| r.seed < f.seed) {
            self.first_failing = Some(failure());
        }
        if !r.matched {
            let at = self.failures.partition_point(|f| f.seed < r.seed);
            self.failures.insert(at, failure());
        }
    }

    /// Combines reports of the same scenario (shards of one range, or separate ranges). A seed
    /// present in several reports counts once; its digests must agree.
    pub fn merge(reports: Vec<SweepReport>) -> Result<SweepReport, String> {
        let mut iter = reports.into_iter();
        let mut out = iter.next().ok_or("no reports to merge")?;
        for r in iter {
            if r.scenario != out.scenario || r.expected != out.expected {
                return Err(format!(
                    "cannot merge a report of {} (expects {}) with one of {} (expects {})",
                    r.scenario, r.expected, out.scenario, out.expected
                ));
            }
            for (seed, digest) in &r.digests {
                if let Some(d) = out.digests.get(seed) {
                    if d != digest {
                        return Err(format!("seed {seed} has digest {d} in one report and {digest} in another (different builds?)"));
                    }
                }
            }
            let overlap = r.digests.keys().filter(|s| out.digests.contains_key(s)).count() as u64;
            if overlap > 0 {
                return Err(format!("{overlap} seed(s) appear in more than one report; merge reports of disjoint shards"));
            }
            out.seed_sets.extend(r.seed_sets);
            out.seeds_run += r.seeds_run;
            out.interrupted |= r.interrupted;
            out.failures.extend(r.failures);
            if let Some(f) = r.first_failing {
                if out.first_failing.as_ref().is_none_or(|o| f.seed < o.seed) {
                    out.first_failing = Some(f);
                }
            }
            for (k, v) in r.verdicts {
                *out.verdicts.entry(k).or_insert(0) += v;
            }
            for (k, v) in r.marks {
                let t = out.marks.entry(k).or_default();
                t.seeds += v.seeds;
                t.hits += v.hits;
            }
            for (k, v) in r.sometimes {
                *out.sometimes.entry(k).or_insert(0) += v;
            }
            out.digests.extend(r.digests);
            out.events += r.events;
            out.virtual_time_s += r.virtual_time_s;
            out.speed.jobs += r.speed.jobs;
            // Shards run side by side: the merged wall time is the slowest shard's.
            out.speed.wall_time_s = out.speed.wall_time_s.max(r.speed.wall_time_s);
        }
        out.failures.sort_by_key(|f| f.seed);
        out.seed_sets.sort_by_key(|s| (s.start, s.shard));
        let wall = out.speed.wall_time_s;
        if wall > 0.0 {
            out.speed.seeds_per_s = out.seeds_run as f64 / wall;
            out.speed.events_per_s = out.events as f64 / wall;
            out.speed.virtual_s_per_wall_s = out.virtual_time_s / wall;
        }
        Ok(out)
    }
}

/// Runs every seed of `seeds` on `jobs` threads, calling `progress` after each run with the
/// report and the tally so far. Stops taking new seeds when `stop` is set (by the caller, e.g. on
/// Ctrl-C: the report then says `interrupted`) or, with `until_failure`, after the first run that
/// fails (a violation, a panic or a limit, whatever the scenario expects: in a bug scenario, the
/// first seed that shows the bug). Seeds are taken in order, so every seed below the first
/// failing one has run when the sweep stops.
pub fn sweep(
    scenario: &Scenario,
    seeds: SeedSet,
    jobs: usize,
    until_failure: bool,
    stop: &AtomicBool,
    progress: &(dyn Fn(&RunReport, &SweepReport) + Sync),
) -> SweepReport {
    let list: Vec<u64> = seeds.seeds().collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let tally = Mutex::new(SweepReport::empty(scenario, seeds));
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                if stop.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = list.get(i) else { return };
                let report = run_scenario(scenario, seed, RunOptions::default());
                if report.verdict != "pass" && until_failure {
                    failed.store(true, Ordering::Relaxed);
                }
                let mut t = tally.lock().expect("no thread panics while holding it");
                t.tally(&report);
                progress(&report, &t);
            });
        }
    });
    let mut report = tally.into_inner().expect("threads are done");
    report.interrupted = stop.load(Ordering::Relaxed) && report.seeds_run < list.len() as u64;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_a_range() {
        let all = SeedSet::new(1..11);
        assert_eq!(all.seeds().collect::<Vec<_>>(), (1..11).collect::<Vec<_>>());
        let shards: Vec<Vec<u64>> = (0..3).map(|k| all.with_shard(&format!("{k}/3")).unwrap().seeds().collect()).collect();
        assert_eq!(shards[0], vec![1, 4, 7, 10]);
        assert_eq!(shards[1], vec![2, 5, 8]);
        assert_eq!(shards[2], vec![3, 6, 9]);
        assert_eq!(all.with_shard("3/3"), None);
        assert_eq!(all.with_shard("1/0"), None);
        assert_eq!(all.with_shard("x/2"), None);
        assert_eq!(SeedSet::new(5..6).with_shard("1/2").unwrap().len(), 0);
    }

    fn report(seeds: &[(u64, &str)], failing: &[u64]) -> SweepReport {
        let mut marks = BTreeMap::new();
        marks.insert("group.state.stable".to_string(), MarkTally { seeds: seeds.len() as u64, hits: 2 * seeds.len() as u64 });
        SweepReport {
            scenario: "s".into(),
            path: "s.toml".into(),
            expected: "pass".into(),
            seed_sets: vec![SeedSet::new(seeds[0].0..seeds[seeds.len() - 1].0 + 1)],
            seeds_run: seeds.len() as u64,
            interrupted: false,
            first_failing: None,
            failures: failing
                .iter()
                .map(|&s| SeedFailure { seed: s, verdict: "lost-write".into(), digest: "d".into(), violations: vec![], reproduce: String::new() })
                .collect(),
            verdicts: BTreeMap::from([("pass".to_string(), (seeds.len() - failing.len()) as u64)]),
            marks,
            sometimes: BTreeMap::from([("group.state.stable".to_string(), seeds.len() as u64)]),
            digests: seeds.iter().map(|(s, d)| (*s, d.to_string())).collect(),
            events: 100,
            virtual_time_s: 10.0,
            speed: Speed { jobs: 1, wall_time_s: 2.0, ..Speed::default() },
        }
    }

    #[test]
    fn merge_adds_shards_and_orders_failures() {
        let a = report(&[(1, "a"), (3, "c")], &[3]);
        let b = report(&[(2, "b"), (4, "d")], &[2]);
        let m = SweepReport::merge(vec![a, b]).unwrap();
        assert_eq!(m.seeds_run, 4);
        assert_eq!(m.failures.iter().map(|f| f.seed).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(m.marks["group.state.stable"], MarkTally { seeds: 4, hits: 8 });
        assert_eq!(m.sometimes["group.state.stable"], 4);
        assert_eq!(m.digests.len(), 4);
        assert_eq!(m.events, 200);
        assert_eq!(m.speed.wall_time_s, 2.0);
        assert_eq!(m.speed.seeds_per_s, 2.0);
    }

    #[test]
    fn merge_refuses_overlaps_and_other_scenarios() {
        let a = report(&[(1, "a")], &[]);
        let b = report(&[(1, "x")], &[]);
        assert!(SweepReport::merge(vec![a.clone(), b]).unwrap_err().contains("seed 1 has digest"));
        assert!(SweepReport::merge(vec![a.clone(), a.clone()]).unwrap_err().contains("more than one report"));
        let mut c = report(&[(2, "b")], &[]);
        c.scenario = "other".into();
        assert!(SweepReport::merge(vec![a, c]).unwrap_err().contains("cannot merge"));
        assert!(SweepReport::merge(vec![]).is_err());
    }
}
