//! Producer partitioners and the hashes behind them, bit-compatible with the Java client and
//! sarama, and Java's `String.hashCode` for coordinator placement.
//!
//! - Java, keyed record: `toPositive(murmur2(key)) % numPartitions`, where `toPositive(x) = x &
//!   0x7fffffff` (not `abs`). Null key: the built-in sticky partitioner (KIP-480/KIP-794),
//!   simplified here to "stay on one partition for `batch.size` bytes, then pick another uniformly
//!   at random"; KIP-794's weighting by queue length is not modelled.
//! - sarama's default `NewHashPartitioner`: FNV-1a 32, `int32(h) % n` with Go's truncated
//!   remainder, negated when negative; null key: a random partition per record.
//! - sarama's `NewReferenceHashPartitioner`: FNV-1a 32 with Java's sign handling.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Kafka's `Utils.murmur2`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`.
pub fn to_positive(x: i32) -> i32 {
    x & 0x7fff_ffff
}

/// The Java client's partition for a keyed record.
pub fn java_key_partition(key: &[u8], num_partitions: i32) -> i32 {
    to_positive(murmur2(key)) % num_partitions
}

/// 32-bit FNV-1a, as Go's `hash/fnv` `New32a`.
pub fn fnv1a32(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in data {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// sarama's `NewHashPartitioner` for a keyed record.
pub fn sarama_hash_partition(key: &[u8], num_partitions: i32) -> i32 {
    let p = (fnv1a32(key) as i32) % num_partitions;
    if p < 0 {
        -p
    } else {
        p
    }
}

/// sarama's `NewReferenceHashPartitioner` for a keyed record.
pub fn sarama_reference_hash_partition(key: &[u8], num_partitions: i32) -> i32 {
    ((fnv1a32(key) as i32) & 0x7fff_ffff) % num_partitions
}

/// Java's `String.hashCode`: `31*h + c` over UTF-16 code units.
pub fn java_string_hash_code(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)))
}

/// The `__consumer_offsets` partition of a group's coordinator: `Utils.abs(groupId.hashCode) %
/// offsets.topic.num.partitions`, where `Utils.abs(Integer.MIN_VALUE) = 0`.
pub fn coordinator_partition(group_id: &str, num_partitions: i32) -> i32 {
    let h = java_string_hash_code(group_id);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % num_partitions
}

/// Which partitioner a producer uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Partitioner {
    /// The Java client's default: murmur2 for keyed records, sticky for null keys.
    #[default]
    Murmur2,
    /// sarama's default `NewHashPartitioner`.
    SaramaHash,
    /// sarama's `NewReferenceHashPartitioner`.
    SaramaReferenceHash,
    RoundRobin,
    Random,
    /// The record names its partition.
    Manual,
}

/// A producer's partitioner for one topic, with the state the stateful strategies need.
#[derive(Clone, Debug)]
pub struct PartitionChooser {
    kind: Partitioner,
    sticky_batch_bytes: usize,
    sticky: Option<(i32, usize)>,
    next_round_robin: i32,
}

impl PartitionChooser {
    pub fn new(kind: Partitioner, sticky_batch_bytes: usize) -> Self {
        PartitionChooser { kind, sticky_batch_bytes: sticky_batch_bytes.max(1), sticky: None, next_round_robin: 0 }
    }

    /// The partition of one record. An explicit partition always wins.
    pub fn partition(
        &mut self,
        key: Option<&[u8]>,
        explicit: Option<i32>,
        num_partitions: i32,
        record_bytes: usize,
        rng: &mut impl Rng,
    ) -> i32 {
        assert!(num_partitions > 0, "a topic has at least one partition");
        if let Some(p) = explicit {
            return p;
        }
        match (self.kind, key) {
            (Partitioner::Murmur2, Some(k)) => java_key_partition(k, num_partitions),
            (Partitioner::Murmur2, None) => self.sticky(num_partitions, record_bytes, rng),
            (Partitioner::SaramaHash, Some(k)) => sarama_hash_partition(k, num_partitions),
            (Partitioner::SaramaReferenceHash, Some(k)) => sarama_reference_hash_partition(k, num_partitions),
            (Partitioner::RoundRobin, _) => {
                if self.next_round_robin >= num_partitions {
                    self.next_round_robin = 0;
                }
                let p = self.next_round_robin;
                self.next_round_robin += 1;
                p
            }
            (Partitioner::SaramaHash | Partitioner::SaramaReferenceHash | Partitioner::Random | Partitioner::Manual, _) => {
                rng.random_range(0..num_partitions)
            }
        }
    }

    fn sticky(&mut self, num_partitions: i32, record_bytes: usize, rng: &mut impl Rng) -> i32 {
        let (p, bytes) = match self.sticky {
            Some((p, bytes)) if bytes < self.sticky_batch_bytes && p < num_partitions => (p, bytes),
            _ => (rng.random_range(0..num_partitions), 0),
        };
        self.sticky = Some((p, bytes + record_bytes));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn murmur2_matches_kafka_and_sarama_vectors() {
        assert_eq!(murmur2(b"21"), -973_932_308);
        assert_eq!(murmur2(b"foobar"), -790_332_482);
        assert_eq!(murmur2(b"abc"), 479_470_107);
        assert_eq!(murmur2(b"foo"), 597_841_616);
        assert_eq!(murmur2(b""), 275_646_681);
    }

    #[test]
    fn java_keyed_partitions_with_six_partitions() {
        assert_eq!(java_key_partition(b"21", 6), 0);
        assert_eq!(java_key_partition(b"foo", 6), 2);
        assert_eq!(java_key_partition(b"key1", 6), 2);
        assert_eq!(java_key_partition(b"key2", 6), 5);
    }

    #[test]
    fn sarama_hash_vectors() {
        assert_eq!(fnv1a32(b"21") as i32, -1_930_258_452);
        assert_eq!(sarama_hash_partition(b"21", 6), 0);
        assert_eq!(sarama_hash_partition(b"key1", 6), 5);
        assert_eq!(fnv1a32(b"1468509572224"), 0x8000_0000);
        assert_eq!(sarama_hash_partition(b"1468509572224", 50), 48);
        assert_eq!(sarama_reference_hash_partition(b"21", 6), 2);
    }

    #[test]
    fn java_string_hash_code_and_coordinator_placement() {
        assert_eq!(java_string_hash_code(""), 0);
        assert_eq!(java_string_hash_code("abc"), 96_354);
        assert_eq!(java_string_hash_code("é"), 233);
        assert_eq!(java_string_hash_code("😀"), 31 * 0xD83D + 0xDE00);
        // "abc": 96354 % 50 = 4.
        assert_eq!(coordinator_partition("abc", 50), 4);
        // "polygenelubricants" hashes to Integer.MIN_VALUE, whose Utils.abs is 0.
        assert_eq!(java_string_hash_code("polygenelubricants"), i32::MIN);
        assert_eq!(coordinator_partition("polygenelubricants", 50), 0);
    }

    #[test]
    fn round_robin_cycles_and_explicit_wins() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut pc = PartitionChooser::new(Partitioner::RoundRobin, 100);
        let got: Vec<i32> = (0..7).map(|_| pc.partition(Some(b"k"), None, 3, 10, &mut rng)).collect();
        assert_eq!(got, vec![0, 1, 2, 0, 1, 2, 0]);
        let mut manual = PartitionChooser::new(Partitioner::Manual, 100);
        assert_eq!(manual.partition(None, Some(2), 3, 10, &mut rng), 2);
    }

    #[test]
    fn sticky_stays_for_a_batch_then_moves_on() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut pc = PartitionChooser::new(Partitioner::Murmur2, 30);
        let first = pc.partition(None, None, 1000, 10, &mut rng);
        assert_eq!(pc.partition(None, None, 1000, 10, &mut rng), first);
        assert_eq!(pc.partition(None, None, 1000, 10, &mut rng), first);
        // 30 bytes went to `first`: the next record picks again.
        let mut moved = false;
        for _ in 0..5 {
            let p = pc.partition(None, None, 1000, 30, &mut rng);
            moved |= p != first;
        }
        assert!(moved);
    }
}
