//! Partition assignors (interim: range only, while the full set is being written).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Range,
    #[serde(rename = "roundrobin")]
    RoundRobin,
    Sticky,
    CooperativeSticky,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    #[default]
    Java,
    Sarama,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSubscription {
    pub member_id: String,
    pub topics: Vec<String>,
    pub owned: Vec<(String, i32)>,
    pub generation: Option<i32>,
}

pub type Assignment = BTreeMap<String, Vec<(String, i32)>>;

/// Range for every strategy (interim).
pub fn assign(_strategy: Strategy, _flavor: Flavor, topics: &BTreeMap<String, i32>, members: &[MemberSubscription]) -> Assignment {
    let mut out: Assignment = members.iter().map(|m| (m.member_id.clone(), Vec::new())).collect();
    for (topic, &n) in topics {
        let mut subs: Vec<&str> = members.iter().filter(|m| m.topics.contains(topic)).map(|m| m.member_id.as_str()).collect();
        subs.sort_unstable();
        if subs.is_empty() {
            continue;
        }
        let (per, extra) = (n as usize / subs.len(), n as usize % subs.len());
        let mut p = 0;
        for (i, m) in subs.iter().enumerate() {
            let count = per + usize::from(i < extra);
            for q in p..p + count {
                out.get_mut(*m).expect("listed").push((topic.clone(), q as i32));
            }
            p += count;
        }
    }
    out
}
