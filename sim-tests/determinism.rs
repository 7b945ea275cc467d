//! A run is a pure function of (scenario, seed, build).

use std::path::PathBuf;

use kafkasim::explore::determinism::check_seed;
use kafkasim::explore::{run_scenario, RunOptions};
use kafkasim::scenario::Scenario;
use kafkasim::trace::Collect;

fn quickstart() -> Scenario {
    Scenario::load(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml")).unwrap()
}

#[test]
fn same_seed_same_digest_other_seed_other_digest() {
    let s = quickstart();
    let a = run_scenario(&s, 7, RunOptions::default());
    let b = run_scenario(&s, 7, RunOptions::default());
    let c = run_scenario(&s, 8, RunOptions::default());
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.digest.len(), 16);
    assert_ne!(a.digest, c.digest);
}

#[test]
fn writing_a_trace_does_not_change_the_digest() {
    let s = quickstart();
    let plain = run_scenario(&s, 3, RunOptions::default());
    let collect = Collect::default();
    let events = collect.events.clone();
    let traced = run_scenario(&s, 3, RunOptions { sink: Some(Box::new(collect)), ..RunOptions::default() });
    assert_eq!(plain.digest, traced.digest);
    let events = events.borrow();
    assert_eq!(events.len() as u64, traced.stats.events);
    // Sequence numbers are dense and in order.
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"].as_u64(), Some(i as u64));
    }
    assert!(events.iter().any(|e| e["kind"] == "deliver" && e["explanation"].as_str().is_some_and(|x| !x.is_empty())));
}

#[test]
fn twenty_seeds_are_deterministic() {
    let s = quickstart();
    for seed in 1..=20 {
        assert!(check_seed(&s, seed).is_none(), "seed {seed} diverged");
    }
}

/// The digest of one run, pinned: the same on every machine and in every build profile (the test
/// profile here, `--release` on the command line). A deliberate change to the model or the engine
/// changes it; update the literal then, and say why in the commit.
#[test]
fn the_quickstart_digest_is_pinned() {
    let r = run_scenario(&quickstart(), 7, RunOptions::default());
    assert_eq!(r.digest, "bb1b92ce4a2b199b");
}

/// A topic's name is held as a shared `Topic`; it hashes exactly as the `String` it replaced, so
/// that no digest depends on how a name is held.
#[test]
fn a_topic_hashes_as_its_name_did() {
    use kafkasim::engine::digest::stable_hash;
    use kafkasim::model::ids::Topic;
    use kafkasim::model::TopicPartition;
    for name in ["orders", "", "__consumer_offsets", "a-much-longer-topic-name"] {
        assert_eq!(stable_hash(&Topic::from(name)), stable_hash(&name.to_string()), "{name:?}");
    }
    assert_eq!(stable_hash(&TopicPartition::new("orders", 3)), stable_hash(&("orders".to_string(), 3i32)));
}
