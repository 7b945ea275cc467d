//! Shrinking a failing run into a small scenario that still fails the same way.
//!
//! 1. The run (scenario + seed) is judged; its verdict, a violation kind, is the target.
//! 2. Every fault that fired — drawn by the `[nemesis]` or fired by a `when` trigger — becomes a
//!    scripted `[[faults]]` entry at the virtual time it fired, and the nemesis goes. If that
//!    explicit scenario no longer fails with the target, the nemesis stays and only the other
//!    dimensions shrink.
//! 3. Delta debugging ([`ddmin`]) over the faults, then halving of fault durations, the
//!    workload, the consumers, the partitions, the brokers and the time limit. Each candidate is a
//!    scenario file, parsed and run; it is kept if its verdict is still the target (with the
//!    current seed or, with `tries > 1`, one of the next seeds) and still reaches the coverage
//!    marks the scenario requires (`sometimes`) that the original run reached.
//!
//! Candidates are edited as TOML documents ([`toml_edit`]) of the original file, so the result
//! keeps its structure and comments. Everything here is deterministic; the caller decides when
//! to stop (`keep_going`, which may read the wall clock) and where progress lines go.

use std::cell::RefCell;
use std::rc::Rc;

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, Value};

pub use super::ddmin::ddmin;
use super::runner::{run_scenario, RunOptions, RunReport};
use crate::engine::{TraceEvent, TraceKind, TraceSink};
use crate::model::{KafkaNode, SimDuration, SimTime};
use crate::scenario::values::parse_duration;
use crate::scenario::Scenario;

/// What a shrink is asked to do.
#[derive(Clone, Debug)]
pub struct ShrinkOptions {
    /// The seed of the failing run.
    pub seed: u64,
    /// Seeds tried per candidate: the current one, then the next ones (at least 1).
    pub tries: u64,
    /// The name candidates (and the result) are parsed under, e.g. the output path.
    pub out_name: String,
    /// The command-line flags the original run needed (` --nemesis`), for the header.
    pub flags: String,
}

/// How big a run is.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Size {
    /// `[[faults]]` entries that fired (for a kept nemesis: plus its draws that fired).
    pub faults: usize,
    pub events: u64,
    pub steps: u64,
    pub records: u64,
    pub nodes: usize,
    pub virtual_time_s: f64,
}

#[derive(Clone, Debug)]
pub struct ShrinkOutcome {
    /// The violation kind the result still fails with.
    pub target: String,
    pub original_seed: u64,
    /// The seed the result fails with (also its `run.seed`).
    pub seed: u64,
    /// Whether the nemesis' faults were made an explicit timeline (otherwise the nemesis stayed).
    pub explicit: bool,
    /// Whether some fault came from the nemesis or a trigger (and is now scripted at a time).
    pub timeline_made: bool,
    /// Why the nemesis stayed, when it did.
    pub note: Option<String>,
    pub before: Size,
    pub after: Size,
    /// Candidate runs (each seed tried counts).
    pub runs: usize,
    /// One line per accepted step.
    pub accepted: Vec<String>,
    /// Whether `keep_going` stopped the search before it was done.
    pub stopped_early: bool,
    /// The shrunk scenario file.
    pub text: String,
    /// The result's run, judged.
    pub report: RunReport,
}

#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error("{path} with seed {seed} does not fail: its verdict is {verdict}; only a run that ends in a violation can be shrunk")]
    NotFailing { path: String, seed: u64, verdict: String },
    #[error("{path}: {message}")]
    Toml { path: String, message: String },
}

/// A fault entry of a candidate: its table (with the comment printed above it, in its decor)
/// and when it fires (for ordering the explicit timeline).
#[derive(Clone, Debug)]
struct Fault {
    table: Table,
    at: SimTime,
    /// Whether it was made from a nemesis draw or a trigger firing.
    made: bool,
}

/// Faults and trigger firings seen in a run, from its trace.
#[derive(Default)]
struct Fired {
    faults: Vec<(SimTime, String)>,
    triggers: Vec<(SimTime, String)>,
}

struct Capture(Rc<RefCell<Fired>>);

impl TraceSink<KafkaNode> for Capture {
    fn event(&mut self, ev: &TraceEvent<'_, KafkaNode>) {
        match &ev.kind {
            TraceKind::Fault { fault } => self.0.borrow_mut().faults.push((ev.at, fault.to_string())),
            TraceKind::Trigger { label } => self.0.borrow_mut().triggers.push((ev.at, label.to_string())),
            _ => {}
        }
    }
}

/// Shrinks the failing run of `scenario` (whose file text is `text`) with `options.seed`.
/// `keep_going(runs)` is asked before every candidate run; `progress` gets a line per accepted
/// step.
pub fn shrink(
    scenario: &Scenario,
    text: &str,
    options: &ShrinkOptions,
    keep_going: &mut dyn FnMut(usize) -> bool,
    progress: &mut dyn FnMut(&str),
) -> Result<ShrinkOutcome, ShrinkError> {
    let fired = Rc::new(RefCell::new(Fired::default()));
    let original = run_scenario(scenario, options.seed, RunOptions { sink: Some(Box::new(Capture(fired.clone()))), ..RunOptions::default() });
    let fired = std::mem::take(&mut *fired.borrow_mut());
    let target = original.verdict.clone();
    if ["pass", "time-limit", "step-limit"].contains(&target.as_str()) {
        return Err(ShrinkError::NotFailing { path: scenario.path.clone(), seed: options.seed, verdict: target });
    }
    let toml_error = |message: String| ShrinkError::Toml { path: scenario.path.clone(), message };
    let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| toml_error(e.to_string()))?;
    // `[[faults]]` tables, or an inline array of inline tables.
    let original_tables: Vec<Table> = match doc.get("faults") {
        Some(Item::ArrayOfTables(a)) => a.iter().cloned().collect(),
        Some(Item::Value(Value::Array(a))) => a.iter().filter_map(Value::as_inline_table).map(|t| t.clone().into_table()).collect(),
        _ => Vec::new(),
    };
    if original_tables.len() != scenario.file.faults.len() {
        return Err(toml_error(format!("found {} fault tables for {} faults", original_tables.len(), scenario.file.faults.len())));
    }
    let explicit = explicit_timeline(scenario, options.seed, &original, &fired, &original_tables);
    let timeline_made = explicit.iter().any(|f| f.made);
    let before = Size {
        faults: explicit.len(),
        events: original.stats.events,
        steps: original.stats.steps,
        records: original.stats.records_produced,
        nodes: scenario.node_names().len(),
        virtual_time_s: original.stats.virtual_time_s,
    };
    let mut shrinker = Shrinker {
        base: shrunk_base(&doc, scenario, &target, options),
        faults: Vec::new(),
        position: original_tables.first().and_then(Table::position).or_else(|| doc.get("nemesis").and_then(Item::as_table).and_then(Table::position)),
        seed: options.seed,
        tries: options.tries.max(1),
        out_name: options.out_name.clone(),
        runs: 0,
        keep_going,
        progress,
        stopped: false,
        must_reach: scenario.sometimes().into_iter().filter(|m| !original.stats.coverage_missed.contains(m)).collect(),
        target: target.clone(),
        report: original.clone(),
        accepted: Vec::new(),
    };
    shrinker.set_seed(options.seed);
    let explicit_mode = shrinker.make_explicit(explicit);
    let mut note = None;
    if !explicit_mode {
        let scripted: Vec<Fault> = original_tables.iter().map(|t| Fault { table: t.clone(), at: SimTime::ZERO, made: false }).collect();
        if timeline_made {
            note = Some("the explicit timeline did not fail the same way (same-instant scheduling changed), so the nemesis and the triggers stay".to_string());
            (shrinker.progress)(&format!("note: {}", note.as_deref().unwrap_or_default()));
        }
        shrinker.keep_nemesis(scripted);
    }
    shrinker.shrink_all(explicit_mode);
    let mut outcome = ShrinkOutcome {
        target,
        original_seed: options.seed,
        seed: shrinker.seed,
        explicit: explicit_mode,
        timeline_made,
        note,
        before,
        after: shrinker.size(explicit_mode),
        runs: shrinker.runs,
        accepted: shrinker.accepted.clone(),
        stopped_early: shrinker.stopped,
        text: String::new(),
        report: shrinker.report.clone(),
    };
    outcome.text = format!("{}{}", header(scenario, options, &outcome), shrinker.render());
    Ok(outcome)
}

/// The original document without its faults, renamed, expecting the target, its header comment
/// gone.
fn shrunk_base(doc: &DocumentMut, scenario: &Scenario, target: &str, options: &ShrinkOptions) -> DocumentMut {
    let mut base = doc.clone();
    base.remove("faults");
    set_value(&mut base, "expect", target.into());
    set_value(&mut base, "name", format!("{}-shrunk", scenario.name).into());
    set_value(&mut base, "description", format!("Shrunk from {} (seed {}{}): still ends in {target}.", scenario.path, options.seed, options.flags).into());
    strip_header(&mut base);
    base
}

/// Every fault that fired in the original run, as scripted entries: the file's faults at a time
/// (those the run reached), trigger-fired faults at the time their trigger fired plus `after`,
/// and the nemesis' draws. In scheduling order: the file's faults, then the nemesis'.
fn explicit_timeline(scenario: &Scenario, seed: u64, original: &RunReport, fired: &Fired, tables: &[Table]) -> Vec<Fault> {
    let end = SimTime((original.stats.virtual_time_s * 1e6).round() as u64);
    let mut out = Vec::new();
    let mut triggers_used = vec![false; fired.triggers.len()];
    for (section, table) in scenario.file.faults.iter().zip(tables) {
        match (section.at, scenario.trigger_label(section)) {
            (Some(at), _) => {
                let at = SimTime::ZERO + at.0;
                if at <= end {
                    let mut table = table.clone();
                    let commented = table.decor().prefix().and_then(|p| p.as_str()).is_some_and(|p| p.contains('#'));
                    if !commented {
                        let action = table.get("action").and_then(Item::as_str).unwrap_or("fault").to_string();
                        let on = ["node", "from", "to"].iter().filter_map(|k| table.get(k).and_then(Item::as_str).map(|v| format!(" {k} {v}"))).collect::<String>();
                        table.decor_mut().set_prefix(format!("\n# Scripted in the original: {action}{on} at {}.\n", format_duration(at.saturating_since(SimTime::ZERO))));
                    }
                    out.push(Fault { table, at, made: false });
                }
            }
            (None, Some(label)) => {
                // Triggers with the same condition fire together, in the order they were added.
                let Some(i) = (0..fired.triggers.len()).find(|i| !triggers_used[*i] && fired.triggers[*i].1 == label) else { continue };
                triggers_used[i] = true;
                let at = fired.triggers[i].0 + section.after.map_or(SimDuration::ZERO, |d| d.0);
                out.push(Fault { table: scripted_from_trigger(table, at, &label, fired.triggers[i].0), at, made: true });
            }
            (None, None) => {}
        }
    }
    for d in scenario.nemesis_draws(seed) {
        if fired.faults.iter().any(|(at, l)| *at == d.at && *l == d.label) {
            out.push(Fault { table: drawn_table(&d), at: d.at, made: true });
        }
    }
    out
}

struct Shrinker<'a> {
    /// The document without its faults.
    base: DocumentMut,
    faults: Vec<Fault>,
    /// Where the faults go among the tables.
    position: Option<isize>,
    seed: u64,
    tries: u64,
    out_name: String,
    runs: usize,
    keep_going: &'a mut dyn FnMut(usize) -> bool,
    progress: &'a mut dyn FnMut(&str),
    stopped: bool,
    /// The scenario's required coverage marks (`sometimes`) the original run reached: a
    /// candidate must reach them too, so that it fails the same way and not by another path to
    /// the same violation kind.
    must_reach: Vec<String>,
    /// The verdict (first violation's kind) every kept candidate ends with.
    target: String,
    /// The run of the current (last accepted) candidate.
    report: RunReport,
    accepted: Vec<String>,
}

impl Shrinker<'_> {
    /// Step 2: the explicit timeline, in time order (or else in the original scheduling order),
    /// without the nemesis. Whether it fails with the target.
    fn make_explicit(&mut self, explicit: Vec<Fault>) -> bool {
        let mut base = self.base.clone();
        base.remove("nemesis");
        let mut sorted = explicit.clone();
        sorted.sort_by_key(|f| f.at);
        let same_order = self.render_with(&base, &sorted) == self.render_with(&base, &explicit);
        let candidates = if same_order { vec![sorted] } else { vec![sorted, explicit] };
        candidates.into_iter().any(|faults| {
            let what = format!("explicit timeline: {} faults (nemesis off)", faults.len());
            self.accept(base.clone(), faults, &what)
        })
    }

    /// When the explicit timeline does not fail: the nemesis stays (turned on, as `--nemesis`
    /// would) and so do the file's faults, triggers included.
    fn keep_nemesis(&mut self, scripted: Vec<Fault>) {
        if let Some(n) = self.base.get_mut("nemesis").and_then(Item::as_table_like_mut) {
            n.remove("enabled");
        }
        self.faults = scripted;
        // If even this does not fail (the budget is gone), the original run stands as the report.
        self.accept(self.base.clone(), self.faults.clone(), "keeping the nemesis");
    }

    /// The size of the current candidate (with a kept nemesis, its draws count as faults).
    fn size(&self, explicit: bool) -> Size {
        let scenario = Scenario::parse(&self.out_name, &self.render()).ok();
        let draws = if explicit { 0 } else { scenario.as_ref().map_or(0, |s| s.nemesis_draws(self.seed).len()) };
        let stats = &self.report.stats;
        Size {
            faults: self.faults.len() + draws,
            events: stats.events,
            steps: stats.steps,
            records: stats.records_produced,
            nodes: scenario.map_or(0, |s| s.node_names().len()),
            virtual_time_s: stats.virtual_time_s,
        }
    }

    /// Step 3, in order: faults, durations, the nemesis' safety phase, workload, cluster, faults
    /// again, time limit.
    fn shrink_all(&mut self, explicit: bool) {
        self.shrink_faults();
        self.shrink_durations();
        if !explicit {
            self.shrink_nemesis();
        }
        self.shrink_workload();
        self.shrink_cluster();
        self.shrink_faults();
        self.shrink_time_limit();
    }

    fn render_with(&self, base: &DocumentMut, faults: &[Fault]) -> String {
        let mut doc = base.clone();
        if !faults.is_empty() {
            let mut array = ArrayOfTables::new();
            for f in faults {
                let mut t = f.table.clone();
                t.set_position(self.position);
                array.push(t);
            }
            doc.insert("faults", Item::ArrayOfTables(array));
        }
        doc.to_string()
    }

    fn render(&self) -> String {
        self.render_with(&self.base, &self.faults)
    }

    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
        let run = self.base.as_table_mut().entry("run").or_insert_with(toml_edit::table);
        if let Some(t) = run.as_table_mut() {
            set_in(t, "seed", Value::from(seed as i64));
        }
    }

    /// Runs the candidate; the run that fails with the target, if one does.
    fn fails(&mut self, base: &DocumentMut, faults: &[Fault]) -> Option<(u64, RunReport)> {
        let text = self.render_with(base, faults);
        let scenario = Scenario::parse(&self.out_name, &text).ok()?;
        for seed in self.seed..self.seed + self.tries {
            if self.stopped || !(self.keep_going)(self.runs) {
                self.stopped = true;
                return None;
            }
            self.runs += 1;
            let report = run_scenario(&scenario, seed, RunOptions::default());
            let reached = !report.stats.coverage_missed.iter().any(|m| self.must_reach.contains(m));
            if report.verdict == self.target && reached {
                return Some((seed, report));
            }
        }
        None
    }

    /// Keeps the candidate if it fails with the target.
    fn accept(&mut self, base: DocumentMut, faults: Vec<Fault>, what: &str) -> bool {
        let Some((seed, report)) = self.fails(&base, &faults) else { return false };
        self.base = base;
        self.faults = faults;
        self.report = report;
        let mut line = format!("{what} — {} events, {} records", self.report.stats.events, self.report.stats.records_produced);
        if seed != self.seed {
            line.push_str(&format!(" (with seed {seed}; seed {} no longer failed)", self.seed));
            self.set_seed(seed);
        }
        (self.progress)(&line);
        self.accepted.push(line);
        true
    }

    /// Delta debugging over the faults.
    fn shrink_faults(&mut self) {
        if self.faults.is_empty() || self.stopped {
            return;
        }
        let before = self.faults.len();
        let all = self.faults.clone();
        let base = self.base.clone();
        let indices: Vec<usize> = (0..all.len()).collect();
        let mut best: Option<(Vec<usize>, u64, RunReport)> = None;
        let minimal = ddmin(&indices, &mut |subset| {
            if subset.len() == all.len() {
                return true;
            }
            let faults: Vec<Fault> = subset.iter().map(|i| all[*i].clone()).collect();
            match self.fails(&base, &faults) {
                Some((seed, report)) => {
                    let better = best.as_ref().is_none_or(|(b, _, _)| subset.len() < b.len());
                    if better {
                        best = Some((subset.to_vec(), seed, report));
                    }
                    true
                }
                None => false,
            }
        });
        if minimal.len() < before {
            if let Some((subset, seed, report)) = best.filter(|(b, _, _)| *b == minimal) {
                self.faults = subset.iter().map(|i| all[*i].clone()).collect();
                self.report = report;
                if seed != self.seed {
                    self.set_seed(seed);
                }
                let line = format!("faults {before} → {} — {} events, {} records", self.faults.len(), self.report.stats.events, self.report.stats.records_produced);
                (self.progress)(&line);
                self.accepted.push(line);
            }
        }
    }

    /// Lowers each fault's `for`, `delay` and `count` while the run still fails, then rounds the
    /// fault times to milliseconds where that keeps the failure.
    fn shrink_durations(&mut self) {
        for i in 0..self.faults.len() {
            for key in ["for", "delay"] {
                let read = move |_: &DocumentMut, f: &[Fault]| f[i].table.get(key).and_then(Item::as_str).and_then(parse_duration).map(|d| (d.0 / 1_000) as i64);
                let write = move |_: &mut DocumentMut, f: &mut Vec<Fault>, ms: i64| set_in(&mut f[i].table, key, Value::from(format_duration(SimDuration::from_millis(ms as u64))));
                let describe = move |a: i64, b: i64| format!("fault {} {key} {} → {}", i + 1, format_duration(SimDuration::from_millis(a as u64)), format_duration(SimDuration::from_millis(b as u64)));
                self.lower(1, &read, &write, &describe);
            }
            let read = move |_: &DocumentMut, f: &[Fault]| f[i].table.get("count").and_then(Item::as_integer);
            let write = move |_: &mut DocumentMut, f: &mut Vec<Fault>, n: i64| set_in(&mut f[i].table, "count", Value::from(n));
            self.lower(1, &read, &write, &move |a, b| format!("fault {} count {a} → {b}", i + 1));
        }
        for (unit, name) in [(1_000u64, "milliseconds"), (100_000, "tenths of a second")] {
            let mut faults = self.faults.clone();
            let mut changed = false;
            for f in &mut faults {
                for key in ["at", "for"] {
                    let Some(d) = f.table.get(key).and_then(Item::as_str).and_then(parse_duration) else { continue };
                    let rounded = SimDuration((d.0 + unit / 2) / unit * unit);
                    if rounded != d && (key == "at" || rounded.0 > 0) {
                        set_in(&mut f.table, key, Value::from(format_duration(rounded)));
                        changed = true;
                    }
                }
            }
            if !changed || !self.accept(self.base.clone(), faults, &format!("fault times rounded to {name}")) {
                break;
            }
        }
    }

    /// Lowers a number while the run still fails: to half, or else to three quarters; stops when
    /// neither fails.
    fn lower(
        &mut self,
        floor: i64,
        read: &dyn Fn(&DocumentMut, &[Fault]) -> Option<i64>,
        write: &dyn Fn(&mut DocumentMut, &mut Vec<Fault>, i64),
        describe: &dyn Fn(i64, i64) -> String,
    ) {
        loop {
            let Some(v) = read(&self.base, &self.faults) else { return };
            let mut moved = false;
            for next in [v / 2, v - (v / 4).max(1)] {
                let next = next.max(floor);
                if next >= v || self.stopped {
                    continue;
                }
                let (mut base, mut faults) = (self.base.clone(), self.faults.clone());
                write(&mut base, &mut faults, next);
                if self.accept(base, faults, &describe(v, next)) {
                    moved = true;
                    break;
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// With a kept nemesis: halves its safety phase.
    fn shrink_nemesis(&mut self) {
        loop {
            let Some(n) = self.base.get("nemesis").and_then(Item::as_table) else { return };
            let from = n.get("from").and_then(Item::as_str).and_then(parse_duration).unwrap_or(SimDuration::from_secs(5));
            let Some(until) = n.get("until").and_then(Item::as_str).and_then(parse_duration) else { return };
            let shorter = SimDuration((from.0 + until.0.saturating_sub(from.0) / 2) / 1_000 * 1_000);
            if shorter <= from || shorter >= until {
                return;
            }
            let mut base = self.base.clone();
            if let Some(t) = base.get_mut("nemesis").and_then(Item::as_table_mut) {
                set_in(t, "until", Value::from(format_duration(shorter)));
            }
            let faults = self.faults.clone();
            if !self.accept(base, faults, &format!("nemesis until {} → {}", format_duration(until), format_duration(shorter))) {
                return;
            }
        }
    }

    /// Lowers each producer's messages; removes producers and consumers that are not needed
    /// (keeping one of each).
    fn shrink_workload(&mut self) {
        let producers = self.count("producers");
        for i in 0..producers {
            self.halve_int("producers", i, "messages", 1, None);
        }
        for what in ["consumers", "producers"] {
            let mut i = self.count(what);
            while i > 0 {
                i -= 1;
                // One producer and one consumer stay: without a reader the run does not wait for
                // the partitions to be readable again, and could end while one is offline.
                if self.count(what) <= 1 {
                    break;
                }
                let name = self.entry_name(what, i);
                let mut base = self.base.clone();
                if let Some(a) = base.get_mut(what).and_then(Item::as_array_of_tables_mut) {
                    a.remove(i);
                    if a.is_empty() {
                        base.remove(what);
                    }
                }
                let faults = self.faults.clone();
                self.accept(base, faults, &format!("removed {} {name}", &what[..what.len() - 1]));
            }
        }
    }

    /// Lowers partitions (topics and `__consumer_offsets`) and brokers.
    fn shrink_cluster(&mut self) {
        for i in 0..self.count("topics") {
            self.halve_int("topics", i, "partitions", 1, Some(1));
        }
        let groups = self.base.get("consumers").and_then(Item::as_array_of_tables).is_some_and(|a| a.iter().any(|c| c.contains_key("group.id")));
        if groups {
            self.lower_key("cluster", "offsets.topic.num.partitions", 1, 50);
        }
        // Replication factors and min.insync.replicas are the durability configuration under test,
        // not size: they stay, and the brokers stay at least the largest replication factor.
        let largest_rf = self.topics_max("replication.factor");
        self.lower_key("cluster", "brokers", largest_rf.max(1), 1);
    }

    /// Lowers `run.max_time` to a little above the time the current run takes, when it ends by
    /// completing (a run cut short by its limit could show a violation it would not end with).
    fn shrink_time_limit(&mut self) {
        if !matches!(self.report.end.as_str(), "completed" | "idle") {
            return;
        }
        let took = self.report.stats.virtual_time_s;
        let limit = SimDuration::from_secs((took * 1.2).ceil() as u64 + 5);
        let current = self.base.get("run").and_then(|r| r.get("max_time")).and_then(Item::as_str).and_then(parse_duration).unwrap_or(SimDuration::from_secs(300));
        if limit >= current {
            return;
        }
        let mut base = self.base.clone();
        if let Some(r) = base.get_mut("run").and_then(Item::as_table_mut) {
            set_in(r, "max_time", Value::from(format_duration(limit)));
        }
        let faults = self.faults.clone();
        self.accept(base, faults, &format!("run.max_time {} → {}", format_duration(current), format_duration(limit)));
    }

    fn count(&self, array: &str) -> usize {
        self.base.get(array).and_then(Item::as_array_of_tables).map_or(0, ArrayOfTables::len)
    }

    fn entry_name(&self, array: &str, i: usize) -> String {
        self.base.get(array).and_then(Item::as_array_of_tables).and_then(|a| a.get(i)).and_then(|t| t.get("name")).and_then(Item::as_str).unwrap_or("?").to_string()
    }

    fn topics_max(&self, key: &str) -> i64 {
        self.base.get("topics").and_then(Item::as_array_of_tables).map_or(1, |a| a.iter().map(|t| t.get(key).and_then(Item::as_integer).unwrap_or(1)).max().unwrap_or(1))
    }

    /// Lowers `array[i].key` (`default` when absent) while the run still fails, down to `floor`.
    fn halve_int(&mut self, array: &str, i: usize, key: &str, floor: i64, default: Option<i64>) {
        let name = self.entry_name(array, i);
        let read = |d: &DocumentMut, _: &[Fault]| entry(d, array, i).and_then(|t| t.get(key).and_then(Item::as_integer).or(default));
        let write = |d: &mut DocumentMut, _: &mut Vec<Fault>, v: i64| {
            if let Some(t) = d.get_mut(array).and_then(Item::as_array_of_tables_mut).and_then(|a| a.get_mut(i)) {
                set_in(t, key, Value::from(v));
            }
        };
        self.lower(floor, &read, &write, &|a, b| format!("{name} {key} {a} → {b}"));
    }

    /// Lowers `[section].key` (`default` when absent) while the run still fails.
    fn lower_key(&mut self, section: &str, key: &str, floor: i64, default: i64) {
        let read = |d: &DocumentMut, _: &[Fault]| Some(d.get(section).and_then(|c| c.get(key)).and_then(Item::as_integer).unwrap_or(default));
        let write = |d: &mut DocumentMut, _: &mut Vec<Fault>, v: i64| {
            if let Some(t) = d.as_table_mut().entry(section).or_insert_with(toml_edit::table).as_table_mut() {
                set_in(t, key, Value::from(v));
            }
        };
        self.lower(floor, &read, &write, &|a, b| format!("{key} {a} → {b}"));
    }
}

fn entry<'d>(doc: &'d DocumentMut, array: &str, i: usize) -> Option<&'d Table> {
    doc.get(array).and_then(Item::as_array_of_tables).and_then(|a| a.get(i))
}

/// A duration as a scenario file writes it: `"2s"`, `"250ms"`, `"12.345678s"`, `"100us"`.
pub fn format_duration(d: SimDuration) -> String {
    let us = d.0;
    if us % 1_000_000 == 0 {
        format!("{}s", us / 1_000_000)
    } else if us < 1_000 {
        format!("{us}us")
    } else if us % 1_000 == 0 && us < 1_000_000 {
        format!("{}ms", us / 1_000)
    } else {
        let text = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
        format!("{}s", text.trim_end_matches('0'))
    }
}

/// Sets `key` of the root table, keeping the old value's comments.
fn set_value(doc: &mut DocumentMut, key: &str, value: Value) {
    set_in(doc.as_table_mut(), key, value);
}

/// Sets `key` of `table`, keeping the old value's comments; a new key goes at the end.
fn set_in(table: &mut Table, key: &str, mut value: Value) {
    match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) => {
            *value.decor_mut() = old.decor().clone();
            *old = value;
        }
        None => {
            table.insert(key, Item::Value(value));
        }
    }
}

/// Drops the original file's leading comment (the header is replaced).
fn strip_header(doc: &mut DocumentMut) {
    let first = doc.as_table().iter().next().map(|(k, _)| k.to_string());
    if let Some(key) = first {
        if let Some(mut k) = doc.as_table_mut().key_mut(&key) {
            k.leaf_decor_mut().set_prefix("");
        }
    }
    doc.decor_mut().set_prefix("");
}

/// A trigger-fired fault as a scripted one: `at` first, then the original keys but `when` and
/// `after`.
fn scripted_from_trigger(original: &Table, at: SimTime, label: &str, held: SimTime) -> Table {
    let mut t = Table::new();
    t.insert("at", toml_edit::value(format_duration(at.saturating_since(SimTime::ZERO))));
    for (k, v) in original.iter() {
        if k != "when" && k != "after" {
            t.insert(k, v.clone());
        }
    }
    let when = original.get("when").map(|w| w.to_string().trim().to_string()).unwrap_or_default();
    let after = original.get("after").and_then(Item::as_str).map(|a| format!(", after = \"{a}\"")).unwrap_or_default();
    let prefix = original.decor().prefix().and_then(|p| p.as_str()).unwrap_or("\n").to_string();
    let prefix = if prefix.is_empty() { "\n".to_string() } else { prefix };
    let note = format!("Fired by its trigger ({label}) at {}: originally `when = {when}{after}`.", format_duration(held.saturating_since(SimTime::ZERO)));
    let note: String = wrap(&note, 94).iter().map(|l| format!("# {l}\n")).collect();
    t.decor_mut().set_prefix(format!("{prefix}{note}"));
    t
}

/// A nemesis draw as a `[[faults]]` table.
fn drawn_table(d: &crate::scenario::Draw) -> Table {
    let mut t = Table::new();
    let at = format_duration(d.at.saturating_since(SimTime::ZERO));
    t.insert("at", toml_edit::value(at.clone()));
    t.insert("action", toml_edit::value(d.action));
    if let Some(n) = &d.node {
        t.insert("node", toml_edit::value(n.as_str()));
    }
    if let Some(groups) = &d.groups {
        let mut outer = toml_edit::Array::new();
        for g in groups {
            outer.push(Value::Array(g.iter().map(String::as_str).collect()));
        }
        t.insert("groups", toml_edit::value(outer));
    }
    if let Some(l) = d.lasts {
        t.insert("for", toml_edit::value(format_duration(l)));
    }
    let what = match (d.action, d.lasts) {
        ("heal-all", _) => format!("at {at}, the end of its safety phase, it heals everything"),
        (_, Some(l)) => format!("{} at {at} for {}", d.label.trim_start_matches("nemesis: "), format_duration(l)),
        _ => format!("{} at {at}", d.label.trim_start_matches("nemesis: ")),
    };
    t.decor_mut().set_prefix(format!("\n# Drawn by the nemesis: {what}.\n"));
    t
}

/// The comment block at the top of the shrunk file.
fn header(scenario: &Scenario, options: &ShrinkOptions, o: &ShrinkOutcome) -> String {
    let mut lines = vec![
        format!("Shrunk by `kafkasim shrink` from {} with seed {}{}.", scenario.path, o.original_seed, options.flags),
        format!("It still ends in the violation {}:", o.target),
    ];
    if let Some(v) = o.report.violations.iter().find(|v| v.kind == o.target) {
        lines.extend(wrap(&v.summary, 92).into_iter().map(|l| format!("  {l}")));
    }
    lines.push(String::new());
    lines.push(format!("{:<16}{:>10}{:>10}", "", "before", "after"));
    let row = |name: &str, a: String, b: String| format!("{name:<16}{a:>10}{b:>10}");
    lines.push(row("faults", o.before.faults.to_string(), o.after.faults.to_string()));
    lines.push(row("trace events", o.before.events.to_string(), o.after.events.to_string()));
    lines.push(row("steps", o.before.steps.to_string(), o.after.steps.to_string()));
    lines.push(row("records", o.before.records.to_string(), o.after.records.to_string()));
    lines.push(row("nodes", o.before.nodes.to_string(), o.after.nodes.to_string()));
    lines.push(row("virtual time", format!("{:.1}s", o.before.virtual_time_s), format!("{:.1}s", o.after.virtual_time_s)));
    lines.push(String::new());
    if o.explicit && o.timeline_made {
        lines.push("The faults that fired in the original run (drawn by its nemesis or fired by triggers) are".into());
        lines.push("scripted below at the virtual time they fired; the nemesis is gone.".into());
    } else if let Some(note) = &o.note {
        lines.extend(wrap(&format!("Note: {note}."), 92));
    }
    if o.seed != o.original_seed {
        lines.push(format!("run.seed is {}: the shrunk scenario no longer failed with seed {}.", o.seed, o.original_seed));
    }
    lines.push(format!("{} candidate runs{}.", o.runs, if o.stopped_early { "; the budget ran out before the search was done" } else { "" }));
    lines.push(String::new());
    lines.push(format!("  kafkasim run {}", options.out_name));
    let mut out: String = lines.iter().map(|l| if l.is_empty() { "#\n".to_string() } else { format!("# {l}\n") }).collect();
    out.push('\n');
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_they_parse() {
        for us in [1u64, 999, 1_000, 250_000, 1_000_000, 12_345_678, 40_000_000, 1_500_000, 60_000_001] {
            let text = format_duration(SimDuration(us));
            assert_eq!(parse_duration(&text), Some(SimDuration(us)), "{text}");
        }
        assert_eq!(format_duration(SimDuration(12_345_678)), "12.345678s");
        assert_eq!(format_duration(SimDuration(250_000)), "250ms");
    }
}
