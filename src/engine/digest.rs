//! A stable hasher for trace digests.
//!
//! `std`'s default hasher is randomly keyed per process, and `Hash` writes integers in native byte
//! order and `usize` at native width. This hasher fixes all three: a fixed 64-bit state, integers
//! taken as values (byte strings as little-endian words) and `usize`/`isize` widened to 64 bits. A
//! value derived with `#[derive(Hash)]` therefore hashes the same on every machine and in every
//! build profile of the same source.
//!
//! Every trace event is hashed, messages with their records included, so the hasher works a word
//! at a time: each integer is one rotate, xor and multiply (the step of the Fx hash of rustc),
//! and `finish` avalanches the state (splitmix64). It is a digest for telling runs apart, not a
//! defence against anyone crafting collisions.

use std::hash::Hasher;

const SEED: u64 = 0xcbf2_9ce4_8422_2325;
const K: u64 = 0x9e37_79b9_7f4a_7c15;

#[derive(Clone, Debug)]
pub struct StableHasher {
    state: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher { state: SEED }
    }
}

impl StableHasher {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline(always)]
    fn word(&mut self, w: u64) {
        self.state = (self.state.rotate_left(26) ^ w).wrapping_mul(K);
    }
}

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        // A final avalanche (splitmix64) so that digests of nearby inputs look unrelated.
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            // The tail's bytes little-endian, and its length in the top byte: "ab" and "ab\0"
            // differ. (Shifted in byte by byte: a copy into a buffer would call memcpy for a few
            // bytes, and topic names end in such tails.)
            let mut last = (rest.len() as u64) << 56;
            for (i, &b) in rest.iter().enumerate() {
                last |= u64::from(b) << (8 * i);
            }
            self.word(last);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.word(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.word(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.word(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.word(i);
    }
    fn write_u128(&mut self, i: u128) {
        self.word(i as u64);
        self.word((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.word(i as u64);
    }
    fn write_i8(&mut self, i: i8) {
        self.write_u8(i as u8);
    }
    fn write_i16(&mut self, i: i16) {
        self.write_u16(i as u16);
    }
    fn write_i32(&mut self, i: i32) {
        self.write_u32(i as u32);
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    fn write_isize(&mut self, i: isize) {
        self.write_u64(i as i64 as u64);
    }
}

/// A hash map keyed through [`StableHasher`]: the same on every machine and in every run. For
/// lookups only: iterating one would still visit entries in an order nobody chose.
pub type StableHashMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<StableHasher>>;

/// The stable hash of one value.
pub fn stable_hash<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    let mut h = StableHasher::new();
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_do_not_drift() {
        // Pinned: if these change, every recorded digest in the world changes with them.
        assert_eq!(stable_hash(&0u64), stable_hash(&0u64));
        assert_ne!(stable_hash(&1u32), stable_hash(&2u32));
        assert_eq!(stable_hash(&7usize), stable_hash(&7u64));
        assert_ne!(stable_hash("ab"), stable_hash("ab\0"));
        assert_ne!(stable_hash(&(1u64, 2u64)), stable_hash(&(2u64, 1u64)));
        assert_eq!(format!("{:016x}", stable_hash("kafka")), "e1a4eb329f9c6c83");
    }
}
