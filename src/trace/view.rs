//! A run as one self-contained HTML page: a space-time diagram, the explained line of the current
//! step and the state panels, stepped with a slider, the arrow keys and "next fault / rebalance /
//! violation".
//!
//! The page embeds one row per step that `kafkasim trace` shows by default (plus every fault and
//! every step a violation cites) with its explained line, and the state of [`super::state`] as
//! table cells: the whole table every [`KEYFRAME`] rows, and in between only the cells a step
//! changed. The script rebuilds a step's panels from the keyframe before it; it needs no network.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::state::StateFold;
use super::step::{Body, Fate, Step};
use super::text::{Explainer, Visibility};
use crate::check::Violation;

/// Rows between two full copies of the state table.
pub const KEYFRAME: usize = 200;

/// Row flags.
pub const FAULT: u64 = 1;
pub const REBALANCE: u64 = 2;
pub const VIOLATION: u64 = 4;

/// What the page says about the run besides its steps.
pub struct PageInfo<'a> {
    pub scenario: &'a str,
    pub seed: u64,
    /// `None` for a saved trace (it has no verdict).
    pub verdict: Option<(String, String)>,
    pub violations: &'a [Violation],
    /// How to get the same run again.
    pub reproduce: String,
}

/// The page's data: rows, state cells, violations.
pub fn data(names: &[String], steps: &[Step], info: &PageInfo<'_>) -> Value {
    let cited: BTreeMap<u64, ()> = info.violations.iter().flat_map(|v| v.evidence.iter().map(|s| (*s, ()))).collect();
    let mut ex = Explainer::new(names, steps);
    let mut fold = StateFold::new(names);
    let mut keys: Vec<String> = Vec::new();
    let mut key_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut shown: BTreeMap<String, String> = BTreeMap::new();
    let mut rows: Vec<Value> = Vec::new();
    let mut frames: Vec<Value> = Vec::new();
    // Where each message's send sits among the rows: its row, or halfway after the row before.
    let mut sends: BTreeMap<(u32, u32, String, u64), f64> = BTreeMap::new();
    let mut row_of_seq: BTreeMap<u64, usize> = BTreeMap::new();
    for s in steps {
        let line = ex.explain(s);
        fold.apply(s);
        let is_fault = matches!(s.body, Body::Fault { .. });
        let keep = line.visibility <= Visibility::Routine || is_fault || cited.contains_key(&s.seq);
        let here = s.node.map_or(-1, i64::from);
        let position = if keep { rows.len() as f64 } else { rows.len() as f64 - 0.5 };
        if let (Body::Send { to, msg, fate: Fate::InFlight { at_us, dup_at_us } }, Some(from)) = (&s.body, s.node) {
            for at in std::iter::once(*at_us).chain(*dup_at_us) {
                sends.insert((from, *to, msg.api(), at), position);
            }
        }
        if !keep {
            continue;
        }
        // The cells this step changed since the last row.
        let cells = fold.state().cells();
        let mut delta: Vec<Value> = Vec::new();
        let mut rebalance = false;
        for (k, v) in &cells {
            if shown.get(k) != Some(v) {
                let i = *key_index.entry(k.clone()).or_insert_with(|| {
                    keys.push(k.clone());
                    keys.len() - 1
                });
                // A group's state or generation moved: a rebalance step.
                rebalance |= k.starts_with("groups") && (k.ends_with("state") || k.ends_with("generation"));
                delta.push(json!([i, v]));
            }
        }
        for k in shown.keys() {
            if !cells.contains_key(k) {
                delta.push(json!([key_index[k], null]));
            }
        }
        shown = cells;
        let (from, to, arrow_from) = match &s.body {
            Body::Deliver { from, msg, .. } => {
                let key = (*from, s.node.unwrap_or(0), msg.api(), s.at_us);
                (i64::from(*from), here, sends.get(&key).copied().map_or(Value::Null, |p| json!(p)))
            }
            Body::Send { to, .. } => (here, i64::from(*to), Value::Null),
            Body::Drop { from, to, .. } => (i64::from(*from), i64::from(*to), Value::Null),
            _ => (here, -1, Value::Null),
        };
        let mut flags = 0;
        if is_fault {
            flags |= FAULT;
        }
        if rebalance {
            flags |= REBALANCE;
        }
        if cited.contains_key(&s.seq) {
            flags |= VIOLATION;
        }
        let index = rows.len();
        row_of_seq.insert(s.seq, index);
        let kind = line.kind;
        rows.push(json!([s.seq, s.at_us, kind, from, to, arrow_from, line.actor, line.sentence(), flags, delta]));
        if index % KEYFRAME == 0 {
            let full: Vec<Value> = shown.iter().map(|(k, v)| json!([key_index[k], v])).collect();
            frames.push(Value::Array(full));
        }
    }
    let violations: Vec<Value> = info
        .violations
        .iter()
        .map(|v| json!({"kind": v.kind, "summary": v.summary, "evidence": v.evidence, "rows": v.evidence.iter().filter_map(|s| row_of_seq.get(s)).collect::<Vec<_>>()}))
        .collect();
    json!({
        "scenario": info.scenario,
        "seed": info.seed,
        "verdict": info.verdict.as_ref().map(|(v, e)| json!({"verdict": v, "expected": e})),
        "reproduce": info.reproduce,
        "nodes": names,
        "keys": keys,
        "keyframe": KEYFRAME,
        "frames": frames,
        "rows": rows,
        "violations": violations,
        "total_steps": steps.len(),
    })
}

/// The page, with its data inline.
pub fn page(names: &[String], steps: &[Step], info: &PageInfo<'_>) -> String {
    page_of(&data(names, steps, info))
}

/// The page of [`data`]'s output.
pub fn page_of(data: &Value) -> String {
    let title = html_escape(&format!("{} seed {}", data["scenario"].as_str().unwrap_or("?"), data["seed"]));
    let data = serde_json::to_string(data).expect("json");
    // Inside <script>, `</` could end the element: JSON allows `<\/` for it.
    let data = data.replace("</", "<\\/");
    TEMPLATE.replace("{{TITLE}}", &title).replace("{{DATA}}", &data)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

const TEMPLATE: &str = include_str!("view.html");
