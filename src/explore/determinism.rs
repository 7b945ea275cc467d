//! The determinism check: a run is a pure function of (scenario, seed, build). Each seed is run
//! twice; the digests must match. When they do not, the first diverging event is located by
//! comparing per-event hashes, and both runs' versions of it are shown.

use serde::Serialize;

use super::runner::{run_scenario, RunOptions};
use crate::scenario::Scenario;
use crate::trace::Collect;

#[derive(Clone, Debug, Serialize)]
pub struct Divergence {
    pub seed: u64,
    pub first_digest: String,
    pub second_digest: String,
    /// The trace sequence number of the first event that differs.
    pub seq: u64,
    pub first_event: Option<serde_json::Value>,
    pub second_event: Option<serde_json::Value>,
}

/// Runs `seed` twice; `None` when both runs agree.
pub fn check_seed(scenario: &Scenario, seed: u64) -> Option<Divergence> {
    let opts = || RunOptions { keep_event_hashes: true, ..RunOptions::default() };
    let a = run_scenario(scenario, seed, opts());
    let b = run_scenario(scenario, seed, opts());
    if a.digest == b.digest && a.event_hashes == b.event_hashes {
        return None;
    }
    let seq = a
        .event_hashes
        .iter()
        .zip(&b.event_hashes)
        .position(|(x, y)| x != y)
        .unwrap_or(a.event_hashes.len().min(b.event_hashes.len())) as u64;
    let event_at = |seq: u64| {
        let collect = Collect::default();
        let events = collect.events.clone();
        run_scenario(scenario, seed, RunOptions { sink: Some(Box::new(collect)), ..RunOptions::default() });
        let found = events.borrow().iter().find(|e| e["seq"].as_u64() == Some(seq)).cloned();
        found
    };
    Some(Divergence {
        seed,
        first_digest: a.digest,
        second_digest: b.digest,
        seq,
        first_event: event_at(seq),
        second_event: event_at(seq),
    })
}
