//! The random nemesis: a fault timeline drawn from the run's seed, between `from` and `until`,
//! never faulting more than `max_down` targets at once; at `until` everything heals
//! (`Control::HealAll`). With `profile = "random"` the fault profile itself (which kinds, how
//! often, how long) is drawn from the seed too, so a seed sweep covers many profiles.
//!
//! The timeline is drawn when the world is built, from its own random stream (`fork(seed,
//! "nemesis")`), so it does not disturb the scheduler's choices and is the same on every machine.

use std::ops::Range;

use rand::Rng;

use super::format::{NemesisProfile, NemesisSection};
use super::Scenario;
use crate::engine::chooser::fork;
use crate::engine::Control;
use crate::model::Command;
use crate::model::{NodeId, SimDuration, SimTime};

pub const KINDS: [&str; 7] = ["crash", "kill", "stop", "pause", "isolate", "partition", "clog"];

type Invalid = (Range<usize>, String);

pub(super) fn validate(scenario: &Scenario, n: &NemesisSection) -> Result<(), Invalid> {
    if let Some(bad) = n.kinds.get_ref().iter().find(|k| !KINDS.contains(&k.as_str())) {
        return Err((n.kinds.span(), format!("unknown nemesis fault '{bad}', expected some of: {}", KINDS.join(", "))));
    }
    if n.kinds.get_ref().is_empty() {
        return Err((n.kinds.span(), "the nemesis needs at least one kind of fault".into()));
    }
    for t in n.targets.get_ref() {
        if !["brokers", "controller", "consumers", "producers"].contains(&t.as_str()) && scenario.node_id(t).is_none() {
            return Err((
                n.targets.span(),
                format!("unknown nemesis target '{t}', expected brokers, controller, consumers, producers or one of: {}", scenario.node_names().join(", ")),
            ));
        }
    }
    if targets(scenario, n).is_empty() {
        return Err((n.targets.span(), "the nemesis targets no node".into()));
    }
    if n.until.0 <= n.from.0 || n.duration[0].0 > n.duration[1].0 || n.interval.0 == SimDuration::ZERO || n.max_down == 0 {
        return Err((n.kinds.span(), "the nemesis needs from < until, duration = [shortest, longest] with shortest <= longest, interval > 0 and max_down >= 1".into()));
    }
    Ok(())
}

fn targets(scenario: &Scenario, n: &NemesisSection) -> Vec<NodeId> {
    let f = &scenario.file;
    let brokers = *f.cluster.brokers.get_ref();
    let mut out = Vec::new();
    for t in n.targets.get_ref() {
        let ids: Vec<NodeId> = match t.as_str() {
            "brokers" => (0..brokers).map(NodeId).collect(),
            "controller" => vec![NodeId(brokers)],
            "producers" => f.producers.iter().filter_map(|p| scenario.node_id(p.name.get_ref())).collect(),
            "consumers" => f.consumers.iter().filter_map(|c| scenario.node_id(c.name.get_ref())).collect(),
            name => scenario.node_id(name).into_iter().collect(),
        };
        for id in ids {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

/// The faults of one run: (when, what, label), the final heal included.
pub(super) fn timeline(scenario: &Scenario, n: &NemesisSection, seed: u64) -> Vec<(SimTime, Control<Command>, String)> {
    let mut rng = fork(seed, "nemesis", 0);
    let names = scenario.node_names();
    let name = |id: NodeId| names[id.0 as usize].clone();
    let mut kinds: Vec<&str> = n.kinds.get_ref().iter().map(String::as_str).collect();
    let (mut interval, shortest, mut longest) = (n.interval.0, n.duration[0].0, n.duration[1].0);
    if n.profile == NemesisProfile::Random {
        let chosen: Vec<&str> = kinds.iter().copied().filter(|_| rng.random_bool(0.5)).collect();
        if chosen.is_empty() {
            let i = rng.random_range(0..kinds.len());
            kinds = vec![kinds[i]];
        } else {
            kinds = chosen;
        }
        interval = SimDuration::from_millis(rng.random_range(1_000..=10_000));
        longest = shortest.max(SimDuration::from_millis(rng.random_range(2_000..=20_000)));
    }
    let targets = targets(scenario, n);
    let everyone: Vec<NodeId> = (0..names.len() as u32).map(NodeId).collect();
    let (from, until) = (SimTime::ZERO + n.from.0, SimTime::ZERO + n.until.0);
    let mut out = Vec::new();
    // Faults in force: (targets, when they end).
    let mut busy: Vec<(Vec<NodeId>, SimTime)> = Vec::new();
    let mut t = from;
    loop {
        // Gaps uniform in [0, 2 × interval]: integers only, so that the timeline is the same on
        // every platform (no libm).
        t += SimDuration::from_micros(rng.random_range(0..=2 * interval.as_micros()));
        if t >= until {
            break;
        }
        let kind = kinds[rng.random_range(0..kinds.len())];
        let span = longest.as_micros() - shortest.as_micros();
        let lasts = shortest + SimDuration::from_micros(if span == 0 { 0 } else { rng.random_range(0..=span) });
        let end = (t + lasts).min(until);
        // A target counts as down until it has had time to recover.
        let recovered = end + n.recovery.0;
        busy.retain(|(_, e)| *e > t);
        let down = |busy: &[(Vec<NodeId>, SimTime)]| busy.iter().map(|(ids, _)| ids.len() as u32).sum::<u32>();
        if down(&busy) >= n.max_down {
            continue;
        }
        let taken: Vec<NodeId> = busy.iter().flat_map(|(ids, _)| ids.iter().copied()).collect();
        if kind == "partition" {
            // Two sides, each non-empty, drawn over every node.
            let mut sides = (Vec::new(), Vec::new());
            for &id in &everyone {
                if rng.random_bool(0.5) {
                    sides.0.push(id);
                } else {
                    sides.1.push(id);
                }
            }
            if sides.0.is_empty() || sides.1.is_empty() {
                continue;
            }
            // The brokers cut off from the controller are as good as down.
            let controller = NodeId(scenario.file.cluster.brokers.get_ref().to_owned());
            let cut_off: Vec<NodeId> = if sides.0.contains(&controller) { sides.1.clone() } else { sides.0.clone() };
            let cut_brokers: Vec<NodeId> = cut_off.into_iter().filter(|id| id.0 < controller.0).collect();
            if down(&busy) + cut_brokers.len() as u32 > n.max_down {
                continue;
            }
            let label = format!("nemesis: partition {:?} | {:?}", sides.0.iter().map(|i| name(*i)).collect::<Vec<_>>(), sides.1.iter().map(|i| name(*i)).collect::<Vec<_>>());
            out.push((t, Control::Split(vec![sides.0, sides.1]), label));
            out.push((end, Control::Heal, "nemesis: heal".into()));
            busy.push((cut_brokers, recovered));
            continue;
        }
        let free: Vec<NodeId> = targets.iter().copied().filter(|id| !taken.contains(id)).collect();
        if free.is_empty() {
            continue;
        }
        let id = free[rng.random_range(0..free.len())];
        let who = name(id);
        let (fault, undo) = match kind {
            "crash" => (Control::Crash(id), Control::Restart(id)),
            "kill" => (Control::Kill(id), Control::Restart(id)),
            "stop" => (Control::Stop(id), Control::Restart(id)),
            "pause" => (Control::Pause(id), Control::Resume(id)),
            "isolate" => (Control::Isolate(id), Control::Heal),
            _ => (Control::ClogNode(id), Control::UnclogAll),
        };
        let undo_label = match kind {
            "pause" => format!("nemesis: resume {who}"),
            "isolate" => "nemesis: heal".to_string(),
            "clog" => "nemesis: unclog".to_string(),
            _ => format!("nemesis: restart {who}"),
        };
        out.push((t, fault, format!("nemesis: {kind} {who}")));
        out.push((end, undo, undo_label));
        busy.push((vec![id], recovered));
    }
    out.push((until, Control::HealAll, "heal everything: the safety phase ends".into()));
    out
}
