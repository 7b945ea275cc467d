//! Small inspection commands: `assign` runs a consumer-group assignor and `partition` a producer
//! partitioner, each reading one JSON object on stdin and printing one line of JSON on stdout;
//! `coordinator` prints the `__consumer_offsets` partition of a group.
//!
//! Contract: bad input — malformed JSON (reported with its line and column), an unknown field or
//! name, a value out of range, a reference to a topic that does not exist — prints `error: ...`
//! on stderr, naming what is wrong, and exits with [`EXIT_BAD_INPUT`]. The pure parts,
//! [`run_assign`] and [`run_partition`], take the input text and return the output line.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

use super::{EXIT_BAD_INPUT, EXIT_MATCHED};
use crate::model::assignor::{self, Assignment, Flavor, MemberSubscription, Strategy};
use crate::model::partitioner;

/// `kafkasim assign`: `{"strategy": ..., "flavor": ..., "topics": {...}, "members": [...]}` on
/// stdin, `{"assignment": {...}}` on stdout.
pub fn assign() -> ExitCode {
    run_on_stdin("assign", run_assign)
}

/// `kafkasim partition`: `{"partitioner": ..., "partitions": n, "keys": [...]}` on stdin,
/// `{"partitions": [...]}` on stdout.
pub fn partition() -> ExitCode {
    run_on_stdin("partition", run_partition)
}

pub fn coordinator(group: &str, offsets_partitions: i32) -> ExitCode {
    println!("{}", partitioner::coordinator_partition(group, offsets_partitions));
    ExitCode::SUCCESS
}

fn run_on_stdin(command: &str, run: fn(&str) -> Result<String, String>) -> ExitCode {
    let result = std::io::read_to_string(std::io::stdin()).map_err(|e| format!("reading stdin: {e}")).and_then(|input| run(&input));
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::from(EXIT_MATCHED)
        }
        Err(message) => {
            eprintln!("error: {command}: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Parses `input` as `T`; serde_json's messages end with the line and column.
fn parse<'a, T: Deserialize<'a>>(input: &'a str) -> Result<T, String> {
    serde_json::from_str(input).map_err(|e| match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => format!("malformed JSON: {e}"),
        serde_json::error::Category::Data | serde_json::error::Category::Io => format!("invalid input: {e}"),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignInput {
    strategy: Strategy,
    #[serde(default)]
    flavor: Flavor,
    /// Topic name to partition count.
    topics: BTreeMap<String, i32>,
    members: Vec<MemberInput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberInput {
    id: String,
    topics: Vec<String>,
    #[serde(default)]
    owned: Vec<(String, i32)>,
    #[serde(default)]
    generation: Option<i32>,
}

#[derive(Serialize)]
struct AssignOutput {
    assignment: Assignment,
}

/// The `assign` command without stdin and stdout: the input text to the output line.
pub fn run_assign(input: &str) -> Result<String, String> {
    let request: AssignInput = parse(input)?;
    check_topics(&request.topics)?;
    let members = request.members.into_iter().map(|m| member_subscription(m, &request.topics)).collect::<Result<Vec<_>, _>>()?;
    let mut ids = BTreeSet::new();
    if let Some(twice) = members.iter().find(|m| !ids.insert(&m.member_id)) {
        return Err(format!("member \"{}\" appears twice; member ids are unique in a group", twice.member_id));
    }
    let assignment = assignor::assign(request.strategy, request.flavor, &request.topics, &members);
    Ok(serde_json::to_string(&AssignOutput { assignment }).expect("assignments serialize"))
}

fn check_topics(topics: &BTreeMap<String, i32>) -> Result<(), String> {
    match topics.iter().find(|(_, n)| **n <= 0) {
        Some((topic, n)) => Err(format!("topic \"{topic}\" has {n} partitions; a topic has at least one")),
        None => Ok(()),
    }
}

/// Checks one member against the topics and converts it.
fn member_subscription(m: MemberInput, topics: &BTreeMap<String, i32>) -> Result<MemberSubscription, String> {
    if m.id.is_empty() {
        return Err("a member has an empty id".into());
    }
    let known = || topics.keys().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
    if let Some(topic) = m.topics.iter().find(|t| !topics.contains_key(*t)) {
        return Err(format!("member \"{}\" subscribes to unknown topic \"{topic}\" (topics: {})", m.id, known()));
    }
    for (topic, p) in &m.owned {
        match topics.get(topic) {
            None => return Err(format!("member \"{}\" owns {topic}-{p} of unknown topic \"{topic}\" (topics: {})", m.id, known())),
            Some(n) if !(0..*n).contains(p) => {
                return Err(format!("member \"{}\" owns {topic}-{p}, but \"{topic}\" has partitions 0..{n}", m.id));
            }
            Some(_) => {}
        }
    }
    Ok(MemberSubscription { member_id: m.id, topics: m.topics, owned: m.owned, generation: m.generation })
}

/// The producer partitioners `partition` knows, for keyed records.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum KeyPartitioner {
    /// The Java client's default: `toPositive(murmur2(key)) % n`.
    Murmur2,
    /// sarama's default `NewHashPartitioner`: FNV-1a 32, Go remainder, negated if negative.
    Fnv1a,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionInput {
    partitioner: KeyPartitioner,
    partitions: i32,
    keys: Vec<String>,
}

#[derive(Serialize)]
struct PartitionOutput {
    partitions: Vec<i32>,
}

/// The `partition` command without stdin and stdout: the input text to the output line.
pub fn run_partition(input: &str) -> Result<String, String> {
    let request: PartitionInput = parse(input)?;
    let n = request.partitions;
    if n <= 0 {
        return Err(format!("\"partitions\" is {n}; a topic has at least one"));
    }
    let choose = match request.partitioner {
        KeyPartitioner::Murmur2 => partitioner::java_key_partition,
        KeyPartitioner::Fnv1a => partitioner::sarama_hash_partition,
    };
    let partitions = request.keys.iter().map(|k| choose(k.as_bytes(), n)).collect();
    Ok(serde_json::to_string(&PartitionOutput { partitions }).expect("numbers serialize"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_range_prints_every_member_compactly() {
        let input = r#"{"strategy":"range","topics":{"t0":3},"members":[{"id":"c2","topics":["t0"]},{"id":"c1","topics":["t0"]}]}"#;
        assert_eq!(run_assign(input).unwrap(), r#"{"assignment":{"c1":[["t0",0],["t0",1]],"c2":[["t0",2]]}}"#);
    }

    #[test]
    fn assign_reads_flavor_owned_and_generation() {
        let input = r#"{
            "strategy": "roundrobin", "flavor": "sarama", "topics": {"t": 11},
            "members": [{"id": "a", "topics": ["t"]}, {"id": "b", "topics": ["t"], "owned": [["t", 3]], "generation": 4}]
        }"#;
        // Sarama's order: t-0, t-1, t-10, t-2, ..., dealt a, b, a, b, ...
        let want = r#"{"assignment":{"a":[["t",0],["t",3],["t",5],["t",7],["t",9],["t",10]],"b":[["t",1],["t",2],["t",4],["t",6],["t",8]]}}"#;
        assert_eq!(run_assign(input).unwrap(), want);
        // The default flavor is Java.
        let java = input.replace(r#""flavor": "sarama","#, "");
        let want = r#"{"assignment":{"a":[["t",0],["t",2],["t",4],["t",6],["t",8],["t",10]],"b":[["t",1],["t",3],["t",5],["t",7],["t",9]]}}"#;
        assert_eq!(run_assign(&java).unwrap(), want);
    }

    #[test]
    fn assign_cooperative_withholds_a_transfer() {
        let input = r#"{"strategy":"cooperative-sticky","topics":{"t":2},"members":[
            {"id":"a","topics":["t"],"owned":[["t",0],["t",1]],"generation":3},{"id":"b","topics":["t"]}]}"#;
        assert_eq!(run_assign(input).unwrap(), r#"{"assignment":{"a":[["t",0]],"b":[]}}"#);
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let err = run_assign("nope").unwrap_err();
        assert!(err.starts_with("malformed JSON: ") && err.contains("line 1 column"), "{err}");
        let err = run_assign("{\"strategy\": \"range\",\n").unwrap_err();
        assert!(err.starts_with("malformed JSON: ") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn unknown_names_and_fields_are_rejected() {
        let err = run_assign(r#"{"strategy":"stiky","topics":{},"members":[]}"#).unwrap_err();
        assert!(err.contains("unknown variant `stiky`") && err.contains("cooperative-sticky") && err.contains("line 1 column"), "{err}");
        let err = run_assign(r#"{"strategy":"range","flavor":"go","topics":{},"members":[]}"#).unwrap_err();
        assert!(err.contains("unknown variant `go`"), "{err}");
        let err = run_assign(r#"{"strategy":"range","topics":{},"members":[],"extra":1}"#).unwrap_err();
        assert!(err.starts_with("invalid input: unknown field `extra`"), "{err}");
        let err = run_assign(r#"{"strategy":"range","topics":{},"members":[{"id":"a","topics":[],"gen":1}]}"#).unwrap_err();
        assert!(err.contains("unknown field `gen`"), "{err}");
        let err = run_assign(r#"{"topics":{},"members":[]}"#).unwrap_err();
        assert!(err.contains("missing field `strategy`"), "{err}");
    }

    #[test]
    fn invalid_values_are_rejected() {
        let run = |topics: &str, members: &str| run_assign(&format!(r#"{{"strategy":"sticky","topics":{topics},"members":{members}}}"#)).unwrap_err();
        assert_eq!(run(r#"{"t0":3,"t1":0}"#, "[]"), r#"topic "t1" has 0 partitions; a topic has at least one"#);
        assert_eq!(
            run(r#"{"t0":3,"t1":2}"#, r#"[{"id":"c1","topics":["t0","t9"]}]"#),
            r#"member "c1" subscribes to unknown topic "t9" (topics: "t0", "t1")"#
        );
        assert_eq!(run(r#"{"t0":3}"#, r#"[{"id":"c1","topics":["t0"],"owned":[["t0",3]]}]"#), r#"member "c1" owns t0-3, but "t0" has partitions 0..3"#);
        assert_eq!(run(r#"{"t0":3}"#, r#"[{"id":"c1","topics":["t0"],"owned":[["x",0]]}]"#), r#"member "c1" owns x-0 of unknown topic "x" (topics: "t0")"#);
        assert_eq!(
            run(r#"{"t0":3}"#, r#"[{"id":"c1","topics":["t0"]},{"id":"c1","topics":[]}]"#),
            r#"member "c1" appears twice; member ids are unique in a group"#
        );
        assert_eq!(run(r#"{"t0":3}"#, r#"[{"id":"","topics":["t0"]}]"#), "a member has an empty id");
    }

    #[test]
    fn partition_murmur2_and_fnv1a() {
        let out = run_partition(r#"{"partitioner":"murmur2","partitions":6,"keys":["21","foo","key1","key2"]}"#).unwrap();
        assert_eq!(out, r#"{"partitions":[0,2,2,5]}"#);
        // FNV-1a: "21" -> 0, "key1" -> 5; the MinInt32 hash -> 48 of 50.
        let out = run_partition(r#"{"partitioner":"fnv1a","partitions":6,"keys":["21","key1"]}"#).unwrap();
        assert_eq!(out, r#"{"partitions":[0,5]}"#);
        let out = run_partition(r#"{"partitioner":"fnv1a","partitions":50,"keys":["1468509572224"]}"#).unwrap();
        assert_eq!(out, r#"{"partitions":[48]}"#);
        assert_eq!(run_partition(r#"{"partitioner":"murmur2","partitions":1,"keys":[]}"#).unwrap(), r#"{"partitions":[]}"#);
    }

    #[test]
    fn partition_rejects_bad_input() {
        assert_eq!(run_partition(r#"{"partitioner":"murmur2","partitions":0,"keys":["a"]}"#).unwrap_err(), r#""partitions" is 0; a topic has at least one"#);
        let err = run_partition(r#"{"partitioner":"crc32","partitions":3,"keys":[]}"#).unwrap_err();
        assert!(err.contains("unknown variant `crc32`, expected `murmur2` or `fnv1a`"), "{err}");
        let err = run_partition(r#"{"partitioner":"murmur2","partitions":3,"keys":[1]}"#).unwrap_err();
        assert!(err.starts_with("invalid input: invalid type: integer `1`, expected a string"), "{err}");
        assert!(run_partition("").unwrap_err().starts_with("malformed JSON: EOF"));
    }
}
