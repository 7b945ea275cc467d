//! The chooser: the one place where a run's nondeterminism is resolved.
//!
//! Every choice the world makes that is not dictated by the actors (which of several events due at
//! the same instant goes first, how long a message takes, whether it is lost or duplicated, how much
//! of an unsynced tail survives a crash) is asked of a [`Chooser`]. Random simulation answers with a
//! seeded ChaCha stream; an exhaustive checker can answer by enumerating alternatives.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{NodeId, SimDuration};

/// What a choice is about, so that a recording or enumerating chooser can tell choices apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Which of `n` events due at the same instant is delivered first.
    SameInstant,
    /// A message's latency on a link.
    Latency { from: NodeId, to: NodeId },
    /// Whether a message is lost.
    Loss { from: NodeId, to: NodeId },
    /// Whether a message is duplicated.
    Duplicate { from: NodeId, to: NodeId },
    /// How many unsynced entries of a file survive a crash (a torn tail).
    TornTail { node: NodeId },
}

pub trait Chooser {
    /// An index in `0..n` (`n >= 1`).
    fn pick(&mut self, what: Choice, n: usize) -> usize;
    /// A duration in `min..=max`.
    fn duration(&mut self, what: Choice, min: SimDuration, max: SimDuration) -> SimDuration;
    /// `true` with probability `p` (0 never asks the stream: a zero-probability fault costs nothing
    /// and shifts no other draw).
    fn chance(&mut self, what: Choice, p: f64) -> bool;
}

/// Random choices from one seed. Each kind of choice draws from its own stream, forked by a stable
/// label, so that (for example) enabling message loss does not shift latency draws.
pub struct RandomChooser {
    order: ChaCha8Rng,
    latency: ChaCha8Rng,
    faults: ChaCha8Rng,
}

impl RandomChooser {
    pub fn new(seed: u64) -> Self {
        RandomChooser {
            order: fork(seed, "engine.order", 0),
            latency: fork(seed, "engine.latency", 0),
            faults: fork(seed, "engine.faults", 0),
        }
    }
}

impl Chooser for RandomChooser {
    fn pick(&mut self, what: Choice, n: usize) -> usize {
        assert!(n >= 1, "a choice among zero alternatives");
        if n == 1 {
            return 0;
        }
        let rng = match what {
            Choice::SameInstant => &mut self.order,
            _ => &mut self.faults,
        };
        rng.random_range(0..n)
    }

    fn duration(&mut self, _what: Choice, min: SimDuration, max: SimDuration) -> SimDuration {
        if max.0 <= min.0 {
            return min;
        }
        SimDuration(self.latency.random_range(min.0..=max.0))
    }

    fn chance(&mut self, _what: Choice, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        self.faults.random_bool(p)
    }
}

/// A child random stream of `seed`, named by `label` and `index` (`fork(seed, "node", 3)`). The
/// same label always gives the same stream, whatever other streams exist.
pub fn fork(seed: u64, label: &str, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&fnv1a64(label.as_bytes()).to_le_bytes());
    key[16..24].copy_from_slice(&index.to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// 64-bit FNV-1a: a stable, dependency-free hash for labels.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn fork_is_stable_and_label_separated() {
        let a1 = fork(7, "node", 1).next_u64();
        let a2 = fork(7, "node", 1).next_u64();
        let b = fork(7, "node", 2).next_u64();
        let c = fork(8, "node", 1).next_u64();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }

    #[test]
    fn zero_probability_draws_nothing() {
        let mut x = RandomChooser::new(3);
        let mut y = RandomChooser::new(3);
        for _ in 0..10 {
            assert!(!x.chance(Choice::SameInstant, 0.0));
        }
        let from = NodeId(0);
        let to = NodeId(1);
        assert_eq!(
            x.chance(Choice::Loss { from, to }, 0.5),
            y.chance(Choice::Loss { from, to }, 0.5)
        );
    }
}
