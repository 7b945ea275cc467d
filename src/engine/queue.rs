//! The event queue: earliest `(virtual time, insertion sequence)` first.
//!
//! The sequence number makes the order total, so the queue alone is deterministic. Events due at
//! the same instant are a real nondeterminism of distributed systems; the engine resolves them by
//! asking its chooser, through [`EventQueue::pop_with`].
//!
//! Virtual time never goes back, so the queue is a radix heap (Ahuja, Mehlhorn, Orlin and Tarjan,
//! "Faster algorithms for the shortest path problem", 1990) rather than a binary heap. Entries sit
//! in 65 buckets by the highest bit in which their time differs from `last`, the time of the
//! earliest entry when the queue was last settled: bucket 0 holds the entries due exactly at
//! `last`, bucket `i` those that first differ at bit `i - 1`. A push is one append. Settling empties
//! the first non-empty bucket into lower ones, so each entry moves at most 64 times in its life,
//! and the far-future entries a simulation is full of (request timeouts of 30 s, most of them
//! cancelled long before they are due) wait untouched in the top buckets. The order is exactly a
//! binary heap's on `(time, sequence)`; a test compares the two on random workloads.

use crate::model::SimTime;

/// A queued entry: the order key and where the item waits. The items themselves stay put in a
/// slab, so the buckets move 24 bytes per entry instead of a whole event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    at: u64,
    seq: u64,
    slot: u32,
}

pub struct EventQueue<T> {
    buckets: Vec<Vec<Entry>>,
    /// Bit `i` is set when bucket `i` holds entries: the first non-empty bucket is one
    /// `trailing_zeros` away instead of a scan over 65 vectors.
    occupied: u128,
    /// A lower bound of every queued time; bucket 0 holds the entries due at exactly this time.
    last: u64,
    len: usize,
    slots: Vec<Option<T>>,
    free: Vec<u32>,
    next_seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue { buckets: (0..65).map(|_| Vec::new()).collect(), occupied: 0, last: 0, len: 0, slots: Vec::new(), free: Vec::new(), next_seq: 0 }
    }
}

/// The bucket of time `at` when the lower bound is `last` (`at >= last`).
fn bucket(at: u64, last: u64) -> usize {
    (64 - (at ^ last).leading_zeros()) as usize
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
        if at.0 < self.last {
            // Earlier than the settled minimum: only when a caller schedules at a time the queue
            // had looked beyond (`peek_time` settles on the next event's time). Rare: re-bucket.
            self.rebase(at.0);
        }
        self.put(Entry { at: at.0, seq, slot });
        self.len += 1;
    }

    /// Files an entry in its bucket relative to `last`.
    fn put(&mut self, e: Entry) {
        let b = bucket(e.at, self.last);
        self.buckets[b].push(e);
        self.occupied |= 1 << b;
    }

    fn rebase(&mut self, last: u64) {
        self.last = last;
        self.occupied = 0;
        let all: Vec<Entry> = self.buckets.iter_mut().flat_map(std::mem::take).collect();
        for e in all {
            self.put(e);
        }
    }

    /// Makes bucket 0 hold every entry due at the earliest queued time (unless the queue is empty).
    fn settle(&mut self) {
        if self.occupied & 1 != 0 || self.occupied == 0 {
            return;
        }
        let i = self.occupied.trailing_zeros() as usize;
        let moving = std::mem::take(&mut self.buckets[i]);
        self.occupied &= !(1 << i);
        let last = moving.iter().map(|e| e.at).min().expect("non-empty");
        self.last = last;
        for e in &moving {
            self.put(*e);
        }
        // Every entry went to a lower bucket: keep the allocation for the entries to come.
        debug_assert!(self.buckets[i].is_empty());
        let mut moving = moving;
        moving.clear();
        self.buckets[i] = moving;
    }

    fn take(&mut self, e: Entry) -> T {
        self.free.push(e.slot);
        self.len -= 1;
        self.slots[e.slot as usize].take().expect("a queued slot holds its item")
    }

    /// The earliest queued time.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.settle();
        (self.occupied & 1 != 0).then_some(SimTime(self.last))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Pops the earliest event. When others are due at the same instant, `pick(n)` chooses which of
    /// the `n` goes first (index in insertion order); the rest stay with their places kept.
    pub fn pop_with(&mut self, pick: impl FnOnce(usize) -> usize) -> Option<(SimTime, T)> {
        self.settle();
        let tied = &mut self.buckets[0];
        let winner = match tied.len() {
            0 => return None,
            1 => tied.pop().expect("one"),
            n => {
                tied.sort_unstable_by_key(|e| e.seq);
                let chosen = pick(n).min(n - 1);
                tied.remove(chosen)
            }
        };
        if tied.is_empty() {
            self.occupied &= !1;
        }
        Some((SimTime(winner.at), self.take(winner)))
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

    /// The order a binary heap on `(time, sequence)` gives, with the same tie rule: the reference
    /// the radix heap must match.
    #[derive(Default)]
    struct Reference {
        heap: std::collections::BinaryHeap<std::cmp::Reverse<(u64, u64, u32)>>,
        next: u64,
    }

    impl Reference {
        fn push(&mut self, at: u64, item: u32) {
            self.heap.push(std::cmp::Reverse((at, self.next, item)));
            self.next += 1;
        }
        fn pop_with(&mut self, pick: impl FnOnce(usize) -> usize) -> Option<(u64, u32)> {
            let std::cmp::Reverse(first) = self.heap.pop()?;
            let mut tied = vec![first];
            while self.heap.peek().is_some_and(|r| r.0 .0 == first.0) {
                tied.push(self.heap.pop().expect("peeked").0);
            }
            let winner = if tied.len() == 1 { tied[0] } else { tied.remove(pick(tied.len()).min(tied.len() - 1)) };
            for t in tied.into_iter().filter(|t| *t != winner) {
                self.heap.push(std::cmp::Reverse(t));
            }
            Some((winner.0, winner.2))
        }
    }

    proptest::proptest! {
        /// Random pushes (never before the last popped time, as in a run; sometimes before a
        /// peeked one), peeks and pops with random tie picks: the same items in the same order.
        #[test]
        fn same_order_as_a_binary_heap(ops in proptest::collection::vec((0u8..4, 0u64..5000, 0usize..8), 1..400)) {
            let mut q = EventQueue::default();
            let mut r = Reference::default();
            let mut now = 0u64;
            let mut item = 0u32;
            for (op, delay, pick) in ops {
                match op {
                    0 | 1 => {
                        // Many ties: times on a coarse grid, and far-future timeouts now and then.
                        let at = now + if delay > 4900 { delay * 1000 } else { delay / 500 * 100 };
                        q.push(SimTime(at), item);
                        r.push(at, item);
                        item += 1;
                    }
                    2 => {
                        let (a, b) = (q.pop_with(|_| pick), r.pop_with(|_| pick));
                        proptest::prop_assert_eq!(a.map(|(t, x)| (t.0, x)), b);
                        if let Some((t, _)) = b {
                            now = t;
                        }
                    }
                    _ => {
                        proptest::prop_assert_eq!(q.peek_time().map(|t| t.0), r.heap.peek().map(|x| x.0 .0));
                    }
                }
                proptest::prop_assert_eq!(q.len(), r.heap.len());
            }
            loop {
                let (a, b) = (q.pop_with(|n| n / 2), r.pop_with(|n| n / 2));
                proptest::prop_assert_eq!(a.map(|(t, x)| (t.0, x)), b);
                if b.is_none() {
                    break;
                }
            }
        }
    }

    #[test]
    fn a_push_before_a_peeked_time_still_comes_first() {
        let mut q = EventQueue::default();
        q.push(SimTime(1_000), "late");
        assert_eq!(q.peek_time(), Some(SimTime(1_000)));
        q.push(SimTime(10), "early");
        assert_eq!(q.pop_with(|_| 0).map(|(t, x)| (t.0, x)), Some((10, "early")));
        assert_eq!(q.pop_with(|_| 0).map(|(t, x)| (t.0, x)), Some((1_000, "late")));
        assert!(q.pop_with(|_| 0).is_none() && q.is_empty());
    }
}
