//! A run's faults as an explicit timeline: the nemesis' draws for a seed and the trace labels of
//! trigger-fired faults, in terms a scenario file can script (`kafkasim shrink` writes them out as
//! `[[faults]]` entries).

use super::format::FaultSection;
use super::{nemesis, triggers, Scenario};
use crate::engine::Control;
use crate::model::{NodeId, SimDuration, SimTime};

/// One fault the nemesis draws, as a scripted fault would say it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draw {
    pub at: SimTime,
    /// A scenario `action`: crash, kill, stop, pause, isolate, partition, clog, or heal-all (the
    /// end of the safety phase).
    pub action: &'static str,
    pub node: Option<String>,
    /// For `partition`: the sides.
    pub groups: Option<Vec<Vec<String>>>,
    /// When the nemesis undoes it (the scripted `for`).
    pub lasts: Option<SimDuration>,
    /// The label the trace gives the fault when it fires.
    pub label: String,
}

impl Scenario {
    /// The faults the nemesis of this run draws for `seed`, in the order it schedules them, each
    /// paired with its undo. The last is the heal at the end of the safety phase. Empty without
    /// a nemesis.
    pub fn nemesis_draws(&self, seed: u64) -> Vec<Draw> {
        let Some(n) = self.nemesis() else { return Vec::new() };
        let names = self.node_names();
        let name = |id: &NodeId| names[id.0 as usize].clone();
        let timeline = nemesis::timeline(self, n, seed);
        let mut out = Vec::new();
        let mut i = 0;
        while i < timeline.len() {
            let (at, control, label) = &timeline[i];
            let (action, node, groups) = match control {
                Control::Crash(id) | Control::CrashTorn(id) => ("crash", Some(name(id)), None),
                Control::Kill(id) => ("kill", Some(name(id)), None),
                Control::Stop(id) => ("stop", Some(name(id)), None),
                Control::Pause(id) => ("pause", Some(name(id)), None),
                Control::Isolate(id) => ("isolate", Some(name(id)), None),
                Control::ClogNode(id) => ("clog", Some(name(id)), None),
                Control::Split(sides) => ("partition", None, Some(sides.iter().map(|s| s.iter().map(name).collect()).collect())),
                Control::Restart(id) => ("restart", Some(name(id)), None),
                Control::Resume(id) => ("resume", Some(name(id)), None),
                Control::UnclogAll => ("unclog", None, None),
                Control::HealAll => ("heal-all", None, None),
                _ => ("heal", None, None),
            };
            let undo = match control {
                Control::Crash(id) | Control::CrashTorn(id) | Control::Kill(id) | Control::Stop(id) => Some(Control::Restart(*id)),
                Control::Pause(id) => Some(Control::Resume(*id)),
                Control::Isolate(_) | Control::Split(_) => Some(Control::Heal),
                Control::ClogNode(_) => Some(Control::UnclogAll),
                _ => None,
            };
            let paired = timeline.get(i + 1).filter(|(_, next, _)| undo.as_ref() == Some(next));
            let lasts = paired.map(|(end, _, _)| end.saturating_since(*at));
            out.push(Draw { at: *at, action, node, groups, lasts, label: label.clone() });
            i += if paired.is_some() { 2 } else { 1 };
        }
        out
    }

    /// The label the trace gives the firing of a fault's trigger (`None` for a fault at a time).
    pub fn trigger_label(&self, fault: &FaultSection) -> Option<String> {
        fault.when.as_ref().map(|w| triggers::describe(w.get_ref()))
    }
}
