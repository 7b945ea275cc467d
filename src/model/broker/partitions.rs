//! A broker's partition replicas, keyed by topic partition, remembering which of them were handed
//! out for change since someone last asked.
//!
//! The white-box replica invariants ([`crate::check::replica`]) look at a broker after every step
//! it takes. A broker hosts tens of replicas and a step changes one or two, so the invariants ask
//! which ones may have changed ([`Partitions::take_touched`]) instead of walking them all. The
//! answer is conservative by construction: the map can be changed only through the methods
//! below, and each of them marks what it hands out.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ops::Deref;

use super::Partition;
use crate::model::ids::TopicPartition;

/// The replicas that may have changed since [`Partitions::take_touched`] was last called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Touched {
    /// Any of them (a replica was added, all were handed out, or too many to list).
    All,
    /// These, possibly repeated, in no particular order.
    Some(Vec<TopicPartition>),
}

impl Default for Touched {
    fn default() -> Self {
        Touched::Some(Vec::new())
    }
}

pub struct Partitions {
    map: BTreeMap<TopicPartition, Partition>,
    touched: Cell<Touched>,
}

impl Partitions {
    /// A list longer than this becomes [`Touched::All`], so that a broker nobody asks keeps a
    /// bounded list.
    const LISTED: usize = 32;

    /// A replica that may be changed.
    pub fn get_mut(&mut self, tp: &TopicPartition) -> Option<&mut Partition> {
        let part = self.map.get_mut(tp)?;
        if let Touched::Some(list) = self.touched.get_mut() {
            if list.len() < Self::LISTED {
                list.push(tp.clone());
            } else {
                *self.touched.get_mut() = Touched::All;
            }
        }
        Some(part)
    }

    /// Every replica, each of which may be changed.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Partition> {
        *self.touched.get_mut() = Touched::All;
        self.map.values_mut()
    }

    pub fn insert(&mut self, tp: TopicPartition, part: Partition) -> Option<Partition> {
        *self.touched.get_mut() = Touched::All;
        self.map.insert(tp, part)
    }

    /// What may have changed since the last call, and forget it.
    pub fn take_touched(&self) -> Touched {
        self.touched.take()
    }
}

impl From<BTreeMap<TopicPartition, Partition>> for Partitions {
    fn from(map: BTreeMap<TopicPartition, Partition>) -> Self {
        Partitions { map, touched: Cell::new(Touched::All) }
    }
}

impl Default for Partitions {
    fn default() -> Self {
        Partitions::from(BTreeMap::new())
    }
}

/// A copy has not been looked at: all of it counts as touched.
impl Clone for Partitions {
    fn clone(&self) -> Self {
        Partitions::from(self.map.clone())
    }
}

impl std::fmt::Debug for Partitions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.map.fmt(f)
    }
}

impl Deref for Partitions {
    type Target = BTreeMap<TopicPartition, Partition>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(p: i32) -> (TopicPartition, Partition) {
        let tp = TopicPartition::new("t", p);
        let part = Partition::new(crate::model::config::TopicConfig::new("t", 4), tp.clone(), Default::default(), Default::default());
        (tp, part)
    }

    fn partitions(n: i32) -> Partitions {
        Partitions::from((0..n).map(replica).collect::<BTreeMap<_, _>>())
    }

    #[test]
    fn every_way_to_change_a_replica_is_remembered() {
        let mut parts = partitions(3);
        assert_eq!(parts.take_touched(), Touched::All, "a new map has not been looked at");
        assert_eq!(parts.take_touched(), Touched::Some(vec![]));
        let _ = parts.get(&TopicPartition::new("t", 0));
        assert_eq!(parts.take_touched(), Touched::Some(vec![]), "reading changes nothing");
        parts.get_mut(&TopicPartition::new("t", 2));
        parts.get_mut(&TopicPartition::new("t", 1));
        parts.get_mut(&TopicPartition::new("t", 9));
        assert_eq!(parts.take_touched(), Touched::Some(vec![TopicPartition::new("t", 2), TopicPartition::new("t", 1)]));
        parts.values_mut().for_each(drop);
        assert_eq!(parts.take_touched(), Touched::All);
        let (tp, part) = replica(3);
        parts.insert(tp, part);
        assert_eq!(parts.take_touched(), Touched::All);
        assert_eq!(parts.clone().take_touched(), Touched::All);
        for _ in 0..=Partitions::LISTED {
            parts.get_mut(&TopicPartition::new("t", 0));
        }
        assert_eq!(parts.take_touched(), Touched::All, "a long list becomes all");
    }
}
