//! Bad scenario files are rejected with `file:line:col` and what was expected.

use kafkasim::scenario::Scenario;

const GOOD: &str = r#"expect = "pass"
[cluster]
brokers = 1
[[topics]]
name = "t"
partitions = 2
[[producers]]
name = "p1"
topic = "t"
messages = 10
"#;

fn error(text: &str) -> String {
    Scenario::parse("bad.toml", text).expect_err("must be rejected").to_string()
}

#[test]
fn the_good_file_parses() {
    Scenario::parse("good.toml", GOOD).unwrap();
}

#[test]
fn a_typo_in_a_key_names_line_column_and_the_expected_keys() {
    let e = error(&GOOD.replace("messages = 10", "mesages = 10"));
    assert!(e.starts_with("bad.toml:10:1: "), "{e}");
    assert!(e.contains("unknown field `mesages`"), "{e}");
    assert!(e.contains("`messages`"), "lists the expected keys: {e}");
}

#[test]
fn a_typo_in_a_kafka_name_is_caught() {
    let e = error(&GOOD.replace("messages = 10", "messages = 10\n\"linger.sm\" = 5"));
    assert!(e.starts_with("bad.toml:11:1: "), "{e}");
    assert!(e.contains("linger.ms"), "{e}");
}

#[test]
fn an_unknown_topic_reference_points_at_the_value() {
    let e = error(&GOOD.replace("topic = \"t\"", "topic = \"tt\""));
    assert!(e.starts_with("bad.toml:9:9: unknown topic 'tt'"), "{e}");
}

#[test]
fn a_bad_value_says_what_was_expected() {
    let e = error(&GOOD.replace("messages = 10", "messages = 10\nacks = \"most\""));
    assert!(e.starts_with("bad.toml:11:8: "), "{e}");
    assert!(e.contains("acks"), "{e}");
    let e = error(&GOOD.replace("partitions = 2", "partitions = 2\n\"retention.ms\" = \"long\""));
    assert!(e.starts_with("bad.toml:7:"), "{e}");
}

#[test]
fn an_unknown_fault_and_node_are_named() {
    let e = error(&format!("{GOOD}[[faults]]\nat = \"1s\"\naction = \"crsh\"\nnode = \"b0\"\n"));
    assert!(e.starts_with("bad.toml:13:10: "), "{e}");
    assert!(e.contains("unknown variant `crsh`") && e.contains("`crash`"), "{e}");
    let e = error(&format!("{GOOD}[[faults]]\nat = \"1s\"\naction = \"crash\"\nnode = \"b9\"\n"));
    assert!(e.starts_with("bad.toml:14:8: unknown node 'b9'"), "{e}");
}

#[test]
fn an_unknown_expectation_is_rejected() {
    let e = error(&GOOD.replace("expect = \"pass\"", "expect = \"lost-writes\""));
    assert!(e.starts_with("bad.toml:1:10: unknown expectation 'lost-writes'"), "{e}");
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let e = Scenario::load("no/such/scenario.toml").unwrap_err().to_string();
    assert!(e.starts_with("no/such/scenario.toml: "), "{e}");
}

fn with_fault(fault: &str) -> String {
    format!("{GOOD}[[consumers]]\nname = \"c1\"\ntopic = \"t\"\n\"group.id\" = \"g\"\n[[faults]]\n{fault}")
}

#[test]
fn a_trigger_with_an_unknown_key_names_the_key_and_the_expected_ones() {
    let e = error(&with_fault("when = { group = \"g\", stat = \"Stable\" }\naction = \"crash\"\nnode = \"b0\"\n"));
    assert!(e.starts_with("bad.toml:16:23: "), "{e}");
    assert!(e.contains("unknown field `stat`") && e.contains("`state`"), "{e}");
}

#[test]
fn a_trigger_with_a_bad_state_lists_the_states() {
    let e = error(&with_fault("when = { group = \"g\", state = \"Rebalancing\" }\naction = \"crash\"\nnode = \"b0\"\n"));
    assert!(e.starts_with("bad.toml:16:31: unknown variant `Rebalancing`"), "{e}");
    assert!(e.contains("CompletingRebalance"), "{e}");
}

#[test]
fn a_trigger_naming_nothing_that_exists_is_rejected_at_the_name() {
    let e = error(&with_fault("when = { group = \"h\", state = \"Stable\" }\naction = \"crash\"\nnode = \"b0\"\n"));
    assert!(e.starts_with("bad.toml:16:18: no consumer is in group 'h'"), "{e}");
    let e = error(&with_fault("when = { mark = \"broker.trunc\" }\naction = \"crash\"\nnode = \"b0\"\n"));
    assert!(e.starts_with("bad.toml:16:17: unknown coverage mark 'broker.trunc'"), "{e}");
    let e = error(&with_fault("when = { partition = \"t-7\", leader_epoch = 1 }\naction = \"crash\"\nnode = \"b0\"\n"));
    assert!(e.starts_with("bad.toml:16:22: unknown partition 't-7'"), "{e}");
}

#[test]
fn a_fault_needs_exactly_one_of_at_and_when() {
    let both = error(&with_fault("at = \"1s\"\nwhen = { consumer = \"c1\", processed = 5 }\naction = \"crash\"\nnode = \"b0\"\n"));
    assert!(both.contains("exactly one of `at"), "{both}");
    let neither = error(&with_fault("action = \"crash\"\nnode = \"b0\"\n"));
    assert!(neither.starts_with("bad.toml:16:10: a fault needs exactly one of"), "{neither}");
    let two_kinds = error(&with_fault("when = { consumer = \"c1\", processed = 5, mark = \"consumer.fenced\" }\naction = \"crash\"\nnode = \"b0\"\n"));
    assert!(two_kinds.starts_with("bad.toml:16:8: a trigger is one of"), "{two_kinds}");
}

#[test]
fn a_torn_tail_goes_with_a_crash_only() {
    let fault = "\n[[faults]]\nat = \"1s\"\naction = \"kill\"\nnode = \"b0\"\ntorn_tail = true\n";
    let e = error(&format!("{GOOD}{fault}"));
    assert!(e.starts_with("bad.toml:16:13: "), "{e}");
    assert!(e.contains("`torn_tail` goes with `action = \"crash\"`"), "{e}");
    Scenario::parse("good.toml", &format!("{GOOD}{}", fault.replace("\"kill\"", "\"crash\""))).unwrap();
}

#[test]
fn a_skew_needs_a_signed_offset_and_a_known_node() {
    let e = error(&with_fault("at = \"1s\"\naction = \"skew\"\nnode = \"b0\"\n"));
    assert!(e.starts_with("bad.toml:17:10: a skew needs `offset"), "{e}");
    let e = error(&with_fault("at = \"1s\"\naction = \"skew\"\nnode = \"b0\"\noffset = \"soon\"\n"));
    assert!(e.starts_with("bad.toml:19:10: ") && e.contains("a signed duration"), "{e}");
    let e = error(&with_fault("at = \"1s\"\naction = \"skew\"\nnode = \"b7\"\noffset = \"-5s\"\n"));
    assert!(e.contains("unknown node 'b7'"), "{e}");
    // `__consumer_offsets-N` is a partition a trigger may name once the scenario has groups.
    let ok = with_fault("when = { partition = \"__consumer_offsets-0\", leader_epoch = 1 }\naction = \"skew\"\nnode = \"b0\"\noffset = \"+2m\"\nfor = \"5s\"\n");
    kafkasim::scenario::Scenario::parse("ok.toml", &ok).unwrap();
}

/// The workload events: add-partitions, subscribe, and a consumer's `topics`.
#[test]
fn malformed_workload_events_point_at_the_key() {
    let with_consumer = GOOD.to_string() + "[[consumers]]\nname = \"c1\"\ntopic = \"t\"\n\"group.id\" = \"g\"\n";
    // Line 12 is the consumer's name; the fault's keys start at line 16.
    let fault = |body: &str| error(&format!("{with_consumer}[[faults]]\nat = \"1s\"\n{body}"));
    let e = fault("action = \"add-partitions\"\ntopic = \"t\"\ncount = 2\n");
    assert!(e.starts_with("bad.toml:19:9: Topic already has 2 partition(s)."), "{e}");
    let e = fault("action = \"add-partitions\"\ntopic = \"t\"\ncount = 1\n");
    assert!(e.starts_with("bad.toml:19:9: Topic currently has 2 partitions, which is higher than the requested 1."), "{e}");
    let e = fault("action = \"add-partitions\"\ntopic = \"tt\"\ncount = 4\n");
    assert!(e.starts_with("bad.toml:18:9: unknown topic 'tt'"), "{e}");
    let e = fault("action = \"add-partitions\"\ntopic = \"t\"\n");
    assert!(e.starts_with("bad.toml:17:10: add-partitions needs `count = <new total>`"), "{e}");
    let e = fault("action = \"add-partitions\"\ntopic = \"t\"\ncount = -3\n");
    assert!(e.starts_with("bad.toml:19:9: "), "a negative count is not a u32: {e}");
    let e = fault("action = \"subscribe\"\nnode = \"p1\"\ntopics = [\"t\"]\n");
    assert!(e.starts_with("bad.toml:18:8: 'p1' is not a consumer with a group.id"), "{e}");
    let e = fault("action = \"subscribe\"\nnode = \"c1\"\ntopics = [\"t\", \"u\"]\n");
    assert!(e.starts_with("bad.toml:19:10: unknown topic 'u'"), "{e}");
    let e = fault("action = \"subscribe\"\nnode = \"c1\"\ntopics = []\n");
    assert!(e.starts_with("bad.toml:19:10: subscribe needs at least one topic"), "{e}");
    let e = fault("action = \"subscribe\"\nnode = \"c1\"\n");
    assert!(e.starts_with("bad.toml:17:10: subscribe needs `topics"), "{e}");
    let e = fault("action = \"subscribe\"\nnode = \"c1\"\ntopics = \"t\"\n");
    assert!(e.starts_with("bad.toml:19:10: "), "topics is a list: {e}");
    // A consumer names its topics once: `topic` or `topics`.
    let e = error(&with_consumer.replace("topic = \"t\"\n\"group.id\"", "topic = \"t\"\ntopics = [\"t\"]\n\"group.id\""));
    assert!(e.starts_with("bad.toml:12:8: a consumer needs exactly one of `topic"), "{e}");
    let e = error(&with_consumer.replace("topic = \"t\"\n\"group.id\"", "topics = [\"t\", \"x\"]\n\"group.id\""));
    assert!(e.starts_with("bad.toml:13:10: unknown topic 'x'"), "{e}");
    let e = error(&with_consumer.replace("\"group.id\" = \"g\"", "\"metadata.max.age.ms\" = \"soon\""));
    assert!(e.starts_with("bad.toml:14:25: "), "{e}");
}
