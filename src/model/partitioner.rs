//! Producer partitioners and the hashes behind them, bit-compatible with the Java client and
//! sarama, plus Java's `String.hashCode` for group coordinator placement.
//!
//! Contract: the hashes are pure functions that give the same numbers as the reference clients
//! (so that a scenario's keys land where they would in a real cluster), and a
//! [`PartitionChooser`] draws randomness only from the generator it is handed, and only when its
//! strategy calls for it. Semantics:
//!
//! - An explicit partition on the record always wins (Java's `ProducerRecord.partition`,
//!   sarama's `ProducerMessage.Partition` with the manual partitioner).
//! - Java, keyed record: `toPositive(murmur2(key)) % numPartitions`, where `toPositive(x) = x &
//!   0x7fffffff` (not `abs`). Null key: the built-in sticky partitioner, simplified (see
//!   [`Partitioner::Murmur2`]).
//! - sarama's default `NewHashPartitioner`: FNV-1a 32, `int32(h) % n` with Go's truncated
//!   remainder, negated when negative; null key: a random partition per record.
//! - sarama's `NewReferenceHashPartitioner`: FNV-1a 32 with Java's sign handling
//!   (`int32(h) & 0x7fffffff`); null key: random per record.
//! - Round robin: sarama's `roundRobinPartitioner`, one counter per partitioner starting at 0.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Kafka's `Utils.murmur2` (MurmurHash2, 32 bit, seed `0x9747b28c`), as sarama reimplements it.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // Java takes the length as an int; keys are far below 2^31 bytes.
    let mut h: u32 = SEED ^ (data.len() as u32);
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
    // Java's `switch (length % 4)` falls through from case 3 to case 1.
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
    // Shifts on u32 are Java's unsigned `>>>`.
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (so `MIN_VALUE` maps to 0, not to itself).
pub fn to_positive(x: i32) -> i32 {
    x & 0x7fff_ffff
}

/// The Java client's partition for a keyed record (`BuiltInPartitioner.partitionForKey`).
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

/// sarama's `NewHashPartitioner` for a keyed record. Go's `%` truncates like Rust's, so a
/// negative hash gives a remainder in `-(n-1)..=0`, which sarama negates. This differs from Java
/// for negative hashes: the same key can land on another partition than with a Java producer.
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

/// Java's `String.hashCode`: `h = 31*h + c` over UTF-16 code units, wrapping. A character
/// outside the Basic Multilingual Plane counts as its two surrogate units.
pub fn java_string_hash_code(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)))
}

/// The `__consumer_offsets` partition that holds a group (and so picks its coordinator):
/// `Utils.abs(groupId.hashCode) % offsets.topic.num.partitions`. Kafka's `Utils.abs` maps
/// `Integer.MIN_VALUE` to 0 where `Math.abs` would return it unchanged (and negative); for every
/// other hash it is the true absolute value, not `toPositive`.
pub fn coordinator_partition(group_id: &str, num_partitions: i32) -> i32 {
    let h = java_string_hash_code(group_id);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % num_partitions
}

/// Which partitioner a producer uses. Scenario files name them in kebab case: `murmur2`,
/// `sarama-hash`, `sarama-reference-hash`, `round-robin`, `random`, `manual`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Partitioner {
    /// The Java client's default: murmur2 for keyed records; for null keys, the built-in sticky
    /// partitioner. Simplification of KIP-794: the producer stays on one partition until
    /// `batch.size` bytes have gone to it, then draws the next uniformly among all partitions (it
    /// may draw the same one again, as Java does when it has no queue statistics). Not modelled:
    /// KIP-794's weighting by per-broker queue length, `partitioner.availability.timeout.ms`,
    /// skipping partitions without a leader, and switching only once the current batch is full
    /// (Java switches at `batch.size` bytes if a new batch was started, at twice that regardless).
    #[default]
    Murmur2,
    /// sarama's default `NewHashPartitioner`.
    SaramaHash,
    /// sarama's `NewReferenceHashPartitioner`.
    SaramaReferenceHash,
    /// sarama's `NewRoundRobinPartitioner`: 0, 1, ..., n-1, 0, ... whatever the key.
    RoundRobin,
    /// sarama's `NewRandomPartitioner`: uniform per record, whatever the key.
    Random,
    /// sarama's `NewManualPartitioner`: the record names its partition.
    Manual,
}

/// A producer's partitioner for one topic, with the state the stateful strategies keep.
#[derive(Clone, Debug)]
pub struct PartitionChooser {
    kind: Partitioner,
    sticky_batch_bytes: usize,
    /// The sticky partition for null keys and the bytes sent to it so far.
    sticky: Option<(i32, usize)>,
    next_round_robin: i32,
}

impl PartitionChooser {
    /// `sticky_batch_bytes` is the producer's `batch.size`: how many bytes of null-key records
    /// go to one partition before the sticky partitioner moves on.
    pub fn new(kind: Partitioner, sticky_batch_bytes: usize) -> Self {
        // Java with `batch.size=0` switches after every record; a 1-byte budget does the same.
        PartitionChooser { kind, sticky_batch_bytes: sticky_batch_bytes.max(1), sticky: None, next_round_robin: 0 }
    }

    pub fn kind(&self) -> Partitioner {
        self.kind
    }

    /// The partition of one record of `record_bytes` bytes in a topic of `num_partitions`
    /// partitions. An explicit partition always wins and is returned as given (checking its range
    /// is the caller's business, as it is the client's). Draws from `rng` only for a random choice.
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
                // sarama resets the counter when it reaches the partition count, so a topic that
                // grows or shrinks keeps cycling from where it can.
                if self.next_round_robin >= num_partitions {
                    self.next_round_robin = 0;
                }
                let p = self.next_round_robin;
                self.next_round_robin += 1;
                p
            }
            (Partitioner::SaramaHash | Partitioner::SaramaReferenceHash | Partitioner::Random, _) => {
                rng.random_range(0..num_partitions)
            }
            // sarama's manual partitioner returns `message.Partition`, which is 0 unless set.
            (Partitioner::Manual, _) => 0,
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
    use rand::RngCore;

    /// A generator that answers a scripted list of `u32`s, so that a test says which partition a
    /// random draw gives. rand 0.9 maps a `u32` `x` into `0..n` as `(x * n) >> 32` (Canon's
    /// method, with a second draw only when the low half exceeds `2^32 - n`, which [`draw`] never
    /// produces).
    struct Script {
        values: Vec<u32>,
        used: usize,
    }
    impl Script {
        fn new(values: Vec<u32>) -> Self {
            Script { values, used: 0 }
        }
    }
    impl RngCore for Script {
        fn next_u32(&mut self) -> u32 {
            let v = *self.values.get(self.used).expect("the test scripted enough draws");
            self.used += 1;
            v
        }
        fn next_u64(&mut self) -> u64 {
            panic!("partitioners draw u32s")
        }
        fn fill_bytes(&mut self, _: &mut [u8]) {
            panic!("partitioners draw u32s")
        }
    }
    /// The `u32` that rand maps to partition `p` of `n`: `ceil(p * 2^32 / n)`.
    fn draw(p: u32, n: u32) -> u32 {
        ((u64::from(p) << 32).div_ceil(u64::from(n))) as u32
    }

    #[test]
    fn the_script_helper_matches_rand() {
        let mut rng = Script::new(vec![draw(0, 6), draw(5, 6), draw(3, 7), draw(49, 50)]);
        assert_eq!(rng.random_range(0..6i32), 0);
        assert_eq!(rng.random_range(0..6i32), 5);
        assert_eq!(rng.random_range(0..7i32), 3);
        assert_eq!(rng.random_range(0..50i32), 49);
        assert_eq!(rng.used, 4);
    }

    #[test]
    fn murmur2_matches_kafka_and_sarama_vectors() {
        assert_eq!(murmur2(b"21"), -973_932_308);
        assert_eq!(murmur2(b"foobar"), -790_332_482);
        assert_eq!(murmur2(b"abc"), 479_470_107);
        assert_eq!(murmur2(b"foo"), 597_841_616);
        assert_eq!(murmur2(b""), 275_646_681);
    }

    #[test]
    fn to_positive_clears_the_sign_bit() {
        assert_eq!(to_positive(-973_932_308), 1_173_551_340);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(5), 5);
    }

    #[test]
    fn java_keyed_partitions_with_six_partitions() {
        // to_positive(-973932308) = 1173551340 = 6 * 195591890.
        assert_eq!(java_key_partition(b"21", 6), 0);
        assert_eq!(java_key_partition(b"foo", 6), 2);
        assert_eq!(java_key_partition(b"key1", 6), 2);
        assert_eq!(java_key_partition(b"key2", 6), 5);
    }

    #[test]
    fn sarama_hash_vectors() {
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"21") as i32, -1_930_258_452);
        // -1930258452 % 6 = -0 (6 * -321709742), so 0; the reference variant masks the sign bit
        // instead: 217225196 % 6 = 2.
        assert_eq!(sarama_hash_partition(b"21", 6), 0);
        assert_eq!(sarama_reference_hash_partition(b"21", 6), 2);
        assert_eq!(sarama_hash_partition(b"key1", 6), 5);
        // The hash whose int32 is MIN_VALUE: -2147483648 % 50 = -48, negated to 48; masked, 0.
        assert_eq!(fnv1a32(b"1468509572224"), 0x8000_0000);
        assert_eq!(sarama_hash_partition(b"1468509572224", 50), 48);
        assert_eq!(sarama_reference_hash_partition(b"1468509572224", 50), 0);
    }

    #[test]
    fn java_string_hash_code_counts_utf16_units() {
        assert_eq!(java_string_hash_code(""), 0);
        // 'a' = 97, 'b' = 98, 'c' = 99: (97 * 31 + 98) * 31 + 99 = 3105 * 31 + 99 = 96354.
        assert_eq!(java_string_hash_code("ab"), 3_105);
        assert_eq!(java_string_hash_code("abc"), 96_354);
        // U+00E9 is one unit.
        assert_eq!(java_string_hash_code("é"), 233);
        // U+1F600 is the surrogate pair 0xD83D 0xDE00: 31 * 55357 + 56832 = 1772899.
        assert_eq!(java_string_hash_code("😀"), 1_772_899);
        assert_eq!(java_string_hash_code("polygenelubricants"), i32::MIN);
        assert_eq!(java_string_hash_code("my-group"), -1_906_497_762);
    }

    #[test]
    fn coordinator_partition_uses_kafka_abs() {
        // 96354 % 50 = 4; 3105 % 50 = 5.
        assert_eq!(coordinator_partition("abc", 50), 4);
        assert_eq!(coordinator_partition("ab", 50), 5);
        assert_eq!(coordinator_partition("", 50), 0);
        // |-1906497762| = 1906497762 = 50 * 38129955 + 12. (toPositive would give
        // 240985886 % 50 = 36.)
        assert_eq!(coordinator_partition("my-group", 50), 12);
        // Utils.abs(MIN_VALUE) = 0.
        assert_eq!(coordinator_partition("polygenelubricants", 50), 0);
        // 1772899 = 3 * 590966 + 1.
        assert_eq!(coordinator_partition("😀", 3), 1);
    }

    #[test]
    fn partitioner_names_in_scenario_files() {
        let names: Vec<String> = [
            Partitioner::Murmur2,
            Partitioner::SaramaHash,
            Partitioner::SaramaReferenceHash,
            Partitioner::RoundRobin,
            Partitioner::Random,
            Partitioner::Manual,
        ]
        .iter()
        .map(|p| serde_json::to_string(p).unwrap())
        .collect();
        assert_eq!(
            names,
            ["\"murmur2\"", "\"sarama-hash\"", "\"sarama-reference-hash\"", "\"round-robin\"", "\"random\"", "\"manual\""]
        );
        assert_eq!(serde_json::from_str::<Partitioner>("\"round-robin\"").unwrap(), Partitioner::RoundRobin);
        assert_eq!(Partitioner::default(), Partitioner::Murmur2);
    }

    #[test]
    fn keyed_records_hash_per_variant_without_drawing() {
        let mut rng = Script::new(vec![]);
        let mut java = PartitionChooser::new(Partitioner::Murmur2, 100);
        let mut sarama = PartitionChooser::new(Partitioner::SaramaHash, 100);
        let mut reference = PartitionChooser::new(Partitioner::SaramaReferenceHash, 100);
        assert_eq!(java.partition(Some(b"21"), None, 6, 10, &mut rng), 0);
        assert_eq!(java.partition(Some(b"key2"), None, 6, 10, &mut rng), 5);
        assert_eq!(sarama.partition(Some(b"21"), None, 6, 10, &mut rng), 0);
        assert_eq!(sarama.partition(Some(b"1468509572224"), None, 50, 10, &mut rng), 48);
        assert_eq!(reference.partition(Some(b"21"), None, 6, 10, &mut rng), 2);
        assert_eq!(rng.used, 0);
    }

    #[test]
    fn an_explicit_partition_wins_everywhere() {
        let mut rng = Script::new(vec![]);
        for kind in [
            Partitioner::Murmur2,
            Partitioner::SaramaHash,
            Partitioner::SaramaReferenceHash,
            Partitioner::RoundRobin,
            Partitioner::Random,
            Partitioner::Manual,
        ] {
            let mut pc = PartitionChooser::new(kind, 100);
            assert_eq!(pc.partition(Some(b"21"), Some(4), 6, 10, &mut rng), 4, "{kind:?}");
            assert_eq!(pc.partition(None, Some(1), 6, 10, &mut rng), 1, "{kind:?}");
        }
        // Without one, sarama's manual partitioner sends to `message.Partition`'s zero value.
        let mut manual = PartitionChooser::new(Partitioner::Manual, 100);
        assert_eq!(manual.partition(None, None, 6, 10, &mut rng), 0);
        assert_eq!(rng.used, 0);
    }

    #[test]
    fn round_robin_cycles_from_zero_and_restarts_when_the_count_shrinks() {
        let mut rng = Script::new(vec![]);
        let mut pc = PartitionChooser::new(Partitioner::RoundRobin, 100);
        let got: Vec<i32> = (0..7).map(|i| pc.partition((i % 2 == 0).then_some(&b"k"[..]), None, 3, 10, &mut rng)).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
        // The counter is at 1; with one partition it resets.
        assert_eq!(pc.partition(None, None, 1, 10, &mut rng), 0);
        assert_eq!(pc.partition(None, None, 1, 10, &mut rng), 0);
        assert_eq!(rng.used, 0);
    }

    #[test]
    fn null_keys_with_sarama_hashes_and_random_draw_per_record() {
        for kind in [Partitioner::SaramaHash, Partitioner::SaramaReferenceHash, Partitioner::Random] {
            let mut rng = Script::new(vec![draw(3, 6), draw(3, 6), draw(0, 6), draw(5, 6)]);
            let mut pc = PartitionChooser::new(kind, 1_000_000);
            let got: Vec<i32> = (0..4).map(|_| pc.partition(None, None, 6, 10, &mut rng)).collect();
            assert_eq!(got, [3, 3, 0, 5], "{kind:?}");
            assert_eq!(rng.used, 4, "{kind:?}: one draw per record");
        }
        // The random partitioner ignores keys.
        let mut rng = Script::new(vec![draw(2, 6)]);
        let mut pc = PartitionChooser::new(Partitioner::Random, 100);
        assert_eq!(pc.partition(Some(b"21"), None, 6, 10, &mut rng), 2);
    }

    #[test]
    fn sticky_stays_for_a_batch_then_draws_again() {
        let mut rng = Script::new(vec![draw(4, 6), draw(1, 6), draw(1, 6)]);
        let mut pc = PartitionChooser::new(Partitioner::Murmur2, 30);
        // 10 + 10 + 5 = 25 < 30 bytes: still on 4; this fourth record brings it to 35.
        let got: Vec<i32> = [10, 10, 5, 10].iter().map(|&b| pc.partition(None, None, 6, b, &mut rng)).collect();
        assert_eq!(got, [4, 4, 4, 4]);
        assert_eq!(rng.used, 1);
        // 35 >= 30: the next null-key record draws again. A keyed record in between neither
        // counts nor moves the sticky partition.
        assert_eq!(pc.partition(Some(b"key2"), None, 6, 100, &mut rng), 5);
        assert_eq!(pc.partition(None, None, 6, 30, &mut rng), 1);
        assert_eq!(rng.used, 2);
        // One 30-byte record used up the budget: the draw after it may land on the same partition.
        assert_eq!(pc.partition(None, None, 6, 1, &mut rng), 1);
        assert_eq!(rng.used, 3);
    }

    #[test]
    fn sticky_draws_again_when_its_partition_is_out_of_range() {
        let mut rng = Script::new(vec![draw(5, 6), draw(2, 3)]);
        let mut pc = PartitionChooser::new(Partitioner::Murmur2, 1_000);
        assert_eq!(pc.partition(None, None, 6, 10, &mut rng), 5);
        assert_eq!(pc.partition(None, None, 3, 10, &mut rng), 2);
        assert_eq!(rng.used, 2);
    }
}
