//! The event queue: a min-heap on `(virtual time, insertion sequence)`.
//!
//! The sequence number makes the order total, so the queue alone is deterministic. Events due at
//! the same instant are a real nondeterminism of distributed systems; the engine resolves them by
//! asking its chooser, using [`EventQueue::pop_due_together`].

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::model::SimTime;

/// A heap entry: the order key and where the item waits. The items themselves stay put in a slab,
/// so the heap moves 24 bytes per sift instead of a whole event.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    at: SimTime,
    seq: u64,
    slot: u32,
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first. `seq` is unique, so the
    // slot never decides.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

pub struct EventQueue<T> {
    heap: BinaryHeap<Entry>,
    slots: Vec<Option<T>>,
    free: Vec<u32>,
    next_seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), slots: Vec::new(), free: Vec::new(), next_seq: 0 }
    }
}

impl<T> EventQueue<T> {
    pub fn push(&mut self, at: SimTime, item: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(item);
                i
            }
            None => {
                self.slots.push(Some(item));
                (self.slots.len() - 1) as u32
            }
        };
        self.heap.push(Entry { at, seq, slot });
    }

    fn take(&mut self, e: Entry) -> T {
        self.free.push(e.slot);
        self.slots[e.slot as usize].take().expect("a queued slot holds its item")
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.at)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Pops the earliest event. When others are due at the same instant, `pick(n)` chooses which of
    /// the `n` goes first (index in insertion order); the rest go back with their places kept.
    pub fn pop_with(&mut self, pick: impl FnOnce(usize) -> usize) -> Option<(SimTime, T)> {
        let first = self.heap.pop()?;
        if self.heap.peek().map(|e| e.at) != Some(first.at) {
            return Some((first.at, self.take(first)));
        }
        let mut tied = vec![first];
        while self.heap.peek().map(|e| e.at) == Some(tied[0].at) {
            tied.push(self.heap.pop().expect("peeked"));
        }
        let chosen = pick(tied.len());
        let winner = tied.swap_remove(chosen.min(tied.len() - 1));
        for e in tied {
            self.heap.push(e);
        }
        Some((winner.at, self.take(winner)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_insertion_order() {
        let mut q = EventQueue::default();
        q.push(SimTime(5), "b");
        q.push(SimTime(1), "a");
        q.push(SimTime(5), "c");
        let order: Vec<_> = std::iter::from_fn(|| q.pop_with(|_| 0)).map(|(_, x)| x).collect();
        assert_eq!(order, vec!["a", "b", "c"]);
    }

    #[test]
    fn a_tie_is_resolved_by_the_pick() {
        let mut q = EventQueue::default();
        q.push(SimTime(5), "b");
        q.push(SimTime(5), "c");
        q.push(SimTime(5), "d");
        let mut seen = 0;
        let (_, x) = q
            .pop_with(|n| {
                seen = n;
                2
            })
            .unwrap();
        assert_eq!((seen, x), (3, "d"));
        let rest: Vec<_> = std::iter::from_fn(|| q.pop_with(|_| 0)).map(|(_, x)| x).collect();
        assert_eq!(rest, vec!["b", "c"]);
    }
}
