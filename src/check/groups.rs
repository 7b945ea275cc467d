//! Consumer-group checkers.
//!
//! **`exclusive-ownership`.** Within one generation of one group, no partition is assigned to two
//! members (read from the `assigned` observations, which each member records when SyncGroup hands
//! it its partitions).
//!
//! **`group-isolation`.** Groups are independent: when a member starts a partition from the
//! group's committed offset (OffsetFetch), that offset is one its own group asked to commit for
//! that partition (a commit whose answer was lost may still have been applied) and that the
//! coordinator did not refuse. Anything else came from another group, or from nowhere.
//!
//! **`at-least-once`.** Every group receives every committed record of its topic from the moment
//! it started reading: a record the final committed log holds (at or above the final log start
//! offset, since retention may delete records first) is owed to the group when its offset is at
//! or above where the group first started that partition, or when its producer was acknowledged
//! after the group first started reading the topic (a partition added later, a reset to latest
//! after a crash: reference D-17). Every owed record was handed to some member of the group. A
//! group none of whose members subscribes to a topic when the run ends (`subscribe()` dropped
//! it) stopped reading it: it is owed that topic's records only up to the last one it was handed
//! of each partition, so a gap before that still counts.
//!
//! **`cooperative-handoff`** (reference A.9, D-12). A partition changes owner only after its
//! previous owner gave it up: when generation `g` assigns partition `p` to member X, no other
//! member that joined generation `g` still owned `p` when it joined (it reported or held `p` from
//! an earlier generation and had not revoked it). Eager members revoke everything before joining,
//! so this can only break with a cooperative assignor that hands over a partition in the same
//! round in which its owner still holds it.
//!
//! Each violation names the group, the generation or partition, the members and the offsets.

use std::collections::{BTreeMap, BTreeSet};

use super::{CheckInput, Violation};
use crate::model::protocol::ErrorCode;
use crate::model::{NodeId, Observation, Offset, RecordId, TopicPartition};

pub const EXCLUSIVE_OWNERSHIP: &str = "exclusive-ownership";
pub const COMMIT_FENCING: &str = "commit-fencing";
pub const COMMIT_AFTER_PROCESS: &str = "commit-after-process";
pub const OFFSET_RESUMPTION: &str = "offset-resumption";
pub const GROUP_ISOLATION: &str = "group-isolation";
pub const AT_LEAST_ONCE: &str = "at-least-once";
pub const COOPERATIVE_HANDOFF: &str = "cooperative-handoff";
pub const COMMITTED_OFFSET_MONOTONIC: &str = "committed-offset-monotonic";
/// Only when the scenario demands exactly-once processing (`processing = "exactly-once"`).
pub const EXACTLY_ONCE: &str = "exactly-once";
/// Not a violation: a note that a member processed records after its partition had moved on.
pub const ZOMBIE_PROCESSING: &str = "zombie-processing";

pub fn check(input: &CheckInput<'_>) -> Vec<Violation> {
    let mut v = exclusive_ownership(input);
    v.extend(cooperative_handoff(input));
    v.extend(group_isolation(input));
    v.extend(at_least_once(input));
    v.extend(commit_fencing(input));
    v.extend(commit_after_process(input));
    v.extend(offset_resumption(input));
    v.extend(committed_offset_monotonic(input));
    v
}

/// Collects violations, at most one per key (a group and partition): the first time a checker
/// finds its invariant broken there is the one worth reading.
struct FirstPer<K: Ord> {
    seen: BTreeSet<K>,
    out: Vec<Violation>,
}

impl<K: Ord> FirstPer<K> {
    fn new() -> Self {
        FirstPer { seen: BTreeSet::new(), out: Vec::new() }
    }

    fn report(&mut self, key: K, violation: impl FnOnce() -> Violation) {
        if self.seen.insert(key) {
            self.out.push(violation());
        }
    }
}

/// Pairs each OffsetCommit a member sent with its answer (by generation, in order), carrying what
/// a checker noted when it was sent.
struct CommitsInFlight<T> {
    sent: BTreeMap<NodeId, Vec<(i32, u64, T)>>,
}

impl<T> CommitsInFlight<T> {
    fn new() -> Self {
        CommitsInFlight { sent: BTreeMap::new() }
    }

    fn sent(&mut self, node: NodeId, generation: i32, seq: u64, noted: T) {
        self.sent.entry(node).or_default().push((generation, seq, noted));
    }

    /// The earliest unanswered commit of `node` with that generation: (seq sent, what was noted).
    fn answered(&mut self, node: NodeId, generation: i32) -> Option<(u64, T)> {
        let queue = self.sent.get_mut(&node)?;
        let i = queue.iter().position(|(g, _, _)| *g == generation)?;
        let (_, seq, noted) = queue.remove(i);
        Some((seq, noted))
    }
}

/// **`offset-resumption`**: a member that starts a partition resumes from the group's committed
/// offset. Here: once the coordinator has accepted a commit for a partition (the committer saw the
/// answer), an OffsetFetch sent after that never answers "no committed offset" for it: the
/// committed offset was lost, and the member starts from `auto.offset.reset` (reference A.1 on
/// what offsets survive, D-16). A member that acts late on an answer it got before the commit (a
/// paused zombie) is not a lost commit; zombie processing is reported separately. Nor is a commit
/// that a documented expiry removed (`offsets.retention.minutes` of an Empty group, or of a topic
/// nobody subscribes to: see `committed-offset-durable`).
fn offset_resumption(input: &CheckInput<'_>) -> Vec<Violation> {
    let node_group = groups_of_nodes(input);
    // Per (group, partition): every accepted commit, in history order, with when it was seen.
    let mut accepted: BTreeMap<(String, TopicPartition), Vec<(crate::model::SimTime, Offset, u64)>> = BTreeMap::new();
    let mut found = FirstPer::new();
    for h in input.history {
        if let Observation::OffsetsExpired { group, offsets, members, subscribed, .. } = &h.obs {
            for (tp, _) in offsets.iter().filter(|(tp, _)| super::durable::documented_expiry(*members, subscribed, tp)) {
                accepted.remove(&(group.clone(), tp.clone()));
            }
        }
        let Some(group) = node_group.get(&h.node) else { continue };
        match &h.obs {
            Observation::Committed { offsets, error: ErrorCode::None, .. } => {
                for (tp, o) in offsets {
                    accepted.entry((group.clone(), tp.clone())).or_default().push((h.at, *o, h.seq));
                }
            }
            Observation::NoCommittedOffset { partitions, asked_at, .. } => {
                for partition in partitions {
                    let Some(commits) = accepted.get(&(group.clone(), partition.clone())) else { continue };
                    let Some(&(_, committed, seq)) = commits.iter().rev().find(|(at, _, _)| at < asked_at) else { continue };
                    found.report((group.clone(), partition.clone()), || Violation {
                            kind: OFFSET_RESUMPTION.into(),
                            summary: format!(
                                "group {group}: {}'s OffsetFetch found no committed offset for {partition}, but the group had committed {committed} before it asked (the commit was lost); it starts from auto.offset.reset",
                                input.name(h.node)
                            ),
                            evidence: vec![seq, h.seq],
                        });
                }
            }
            _ => {}
        }
    }
    found.out
}

/// **`committed-offset-monotonic`** (reference D-15): a group's committed offset for a partition
/// never moves backwards, unless a member of the group was reset there (`auto.offset.reset`
/// after OFFSET_OUT_OF_RANGE, or a start without a committed offset) since the higher commit.
/// Checked on the offsets the coordinators wrote to `__consumer_offsets`, in the order they took
/// effect (the coordinator keeps the last one written, whatever its value): a lower offset
/// written after a higher one takes the group back, and after a rebalance or a restart it
/// resumes there and processes the records in between again. (The order the committers saw the
/// answers in is not that order: a paused member sees an old answer late.)
fn committed_offset_monotonic(input: &CheckInput<'_>) -> Vec<Violation> {
    let node_group = groups_of_nodes(input);
    // Per (group, partition): the highest offset written since the last reset, and its seq.
    let mut high: BTreeMap<(String, TopicPartition), (Offset, u64)> = BTreeMap::new();
    let mut found = FirstPer::new();
    for h in input.history {
        match &h.obs {
            Observation::PositionSet { partition, reason, .. } if *reason != crate::model::observe::PositionReason::Committed => {
                if let Some(group) = node_group.get(&h.node) {
                    high.remove(&(group.clone(), partition.clone()));
                }
            }
            Observation::OffsetsWritten { group, offsets } => {
                for (tp, o) in offsets {
                    let key = (group.clone(), tp.clone());
                    match high.get(&key) {
                        Some(&(top, seq)) if *o < top => {
                            found.report(key.clone(), || Violation {
                                    kind: COMMITTED_OFFSET_MONOTONIC.into(),
                                    summary: format!(
                                        "group {group}: the committed offset of {tp} went back from {top} to {o}: coordinator {} wrote {o} after {top}; the group will resume at {o} and process {} record(s) again",
                                        input.name(h.node),
                                        top.0 - o.0
                                    ),
                                    // The step that broke it first, then the write it overwrote.
                                    evidence: vec![h.seq, seq],
                                });
                        }
                        Some(&(top, _)) if *o == top => {}
                        _ => {
                            high.insert(key, (*o, h.seq));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    found.out
}

/// **`commit-after-process`** (reference D-13): a group's committed offset never runs ahead of
/// what the group processed. Each accepted commit of offset `o` for a partition is checked against
/// what the group's members had finished processing of that partition when the commit was sent
/// (`processed` observations, "up to but not including"); `o` above that is a commit of records
/// nobody processed, which a crash turns into records never processed at all.
fn commit_after_process(input: &CheckInput<'_>) -> Vec<Violation> {
    let node_group = groups_of_nodes(input);
    let mut processed: BTreeMap<(String, TopicPartition), Offset> = BTreeMap::new();
    // Noted at sending: the offsets that ran ahead of processing, and how far processing was.
    let mut in_flight: CommitsInFlight<Vec<(TopicPartition, Offset, Offset)>> = CommitsInFlight::new();
    let mut found = FirstPer::new();
    for h in input.history {
        let Some(group) = node_group.get(&h.node) else { continue };
        match &h.obs {
            Observation::Processed { partition, through, .. } => {
                let e = processed.entry((group.clone(), partition.clone())).or_insert(*through);
                *e = (*e).max(*through);
            }
            Observation::PositionSet { partition, offset, .. } => {
                // Where processing (re)starts counts as processed up to there.
                let e = processed.entry((group.clone(), partition.clone())).or_insert(*offset);
                *e = (*e).max(*offset);
            }
            Observation::CommitRequested { generation, offsets, .. } => {
                let ahead = offsets
                    .iter()
                    .filter_map(|(tp, o)| {
                        let done = processed.get(&(group.clone(), tp.clone())).copied().unwrap_or(Offset(0));
                        (*o > done).then(|| (tp.clone(), *o, done))
                    })
                    .collect();
                in_flight.sent(h.node, *generation, h.seq, ahead);
            }
            Observation::Committed { generation, error, .. } => {
                let Some((sent_seq, ahead)) = in_flight.answered(h.node, *generation) else { continue };
                if *error != ErrorCode::None {
                    continue;
                }
                for (tp, o, done) in ahead {
                    found.report((group.clone(), tp.clone()), || Violation {
                            kind: COMMIT_AFTER_PROCESS.into(),
                            summary: format!(
                                "group {group}: {} committed {tp} at offset {o} while the group had processed it only up to {done}",
                                input.name(h.node)
                            ),
                            evidence: vec![sent_seq, h.seq],
                        });
                }
            }
            _ => {}
        }
    }
    found.out
}

/// **`commit-fencing`** (reference D-10): the coordinator accepts no commit that carries a
/// generation older than one the group had already handed out when the commit was sent (a member
/// of the group had been `assigned` a newer generation). Such a commit comes from a zombie: a
/// member the group has moved on from. (A commit sent while the generation it names is still
/// current is fine, even if the group is rebalancing: reference A.6.)
fn commit_fencing(input: &CheckInput<'_>) -> Vec<Violation> {
    let node_group = groups_of_nodes(input);
    let mut newest: BTreeMap<String, (i32, u64)> = BTreeMap::new();
    // Noted at sending: the group's newest generation then.
    let mut in_flight: CommitsInFlight<i32> = CommitsInFlight::new();
    let mut out = Vec::new();
    for h in input.history {
        let Some(group) = node_group.get(&h.node) else { continue };
        match &h.obs {
            Observation::Assigned { generation, .. } => {
                let e = newest.entry(group.clone()).or_insert((*generation, h.seq));
                if *generation > e.0 {
                    *e = (*generation, h.seq);
                }
            }
            Observation::CommitRequested { generation, .. } => {
                let current = newest.get(group).map_or(-1, |(g, _)| *g);
                in_flight.sent(h.node, *generation, h.seq, current);
            }
            Observation::Committed { generation, offsets, error, .. } => {
                let Some((sent_seq, current)) = in_flight.answered(h.node, *generation) else { continue };
                let g = *generation;
                if *error == ErrorCode::None && g < current {
                    out.push(Violation {
                        kind: COMMIT_FENCING.into(),
                        summary: format!(
                            "group {group}: {} committed {} with generation {g} after the group had moved to generation {current}; the coordinator accepted it",
                            input.name(h.node),
                            offsets.iter().map(|(tp, o)| format!("{tp}@{o}")).collect::<Vec<_>>().join(", ")
                        ),
                        evidence: vec![sent_seq, h.seq],
                    });
                }
            }
            _ => {}
        }
    }
    out
}

fn exclusive_ownership(input: &CheckInput<'_>) -> Vec<Violation> {
    // (group, generation, partition) → (member, seq)
    let mut owners: BTreeMap<(String, i32, TopicPartition), (String, u64)> = BTreeMap::new();
    let mut out = Vec::new();
    for h in input.history {
        let Observation::Assigned { group, generation, member_id, partitions } = &h.obs else { continue };
        for tp in partitions {
            let key = (group.clone(), *generation, tp.clone());
            match owners.get(&key) {
                Some((other, seq)) if other != member_id => out.push(Violation {
                    kind: EXCLUSIVE_OWNERSHIP.into(),
                    summary: format!("group {group} generation {generation}: {tp} is assigned to both {other} and {member_id}"),
                    evidence: vec![*seq, h.seq],
                }),
                Some(_) => {}
                None => {
                    owners.insert(key, (member_id.clone(), h.seq));
                }
            }
        }
    }
    out
}

/// Which group each consumer node belongs to, from what it observed.
fn groups_of_nodes(input: &CheckInput<'_>) -> BTreeMap<NodeId, String> {
    input
        .history
        .iter()
        .filter_map(|h| match &h.obs {
            Observation::Assigned { group, .. } | Observation::CommitRequested { group, .. } => Some((h.node, group.clone())),
            _ => None,
        })
        .collect()
}

fn group_isolation(input: &CheckInput<'_>) -> Vec<Violation> {
    let node_group = groups_of_nodes(input);
    // Per (group, partition) and offset: commits sent and not refused (they may have been
    // applied), and whether one was acknowledged.
    let mut committed: BTreeMap<(String, TopicPartition), BTreeMap<Offset, (u32, bool)>> = BTreeMap::new();
    let mut found = FirstPer::new();
    for h in input.history {
        let Some(group) = node_group.get(&h.node) else { continue };
        match &h.obs {
            Observation::CommitRequested { offsets, .. } => {
                for (tp, o) in offsets {
                    committed.entry((group.clone(), tp.clone())).or_default().entry(*o).or_default().0 += 1;
                }
            }
            Observation::Committed { offsets, error, .. } => {
                for (tp, o) in offsets {
                    let Some(e) = committed.get_mut(&(group.clone(), tp.clone())).and_then(|m| m.get_mut(o)) else { continue };
                    if *error == ErrorCode::None {
                        e.1 = true;
                    } else if !error.is_retriable_commit() {
                        // Refused by the coordinator: this one was never applied.
                        e.0 = e.0.saturating_sub(1);
                    }
                }
            }
            Observation::PositionSet { partition, offset, reason } => {
                let from_commit = *reason == crate::model::observe::PositionReason::Committed;
                let known = committed.get(&(group.clone(), partition.clone())).and_then(|m| m.get(offset)).is_some_and(|(live, acked)| *live > 0 || *acked);
                if from_commit && !known {
                    found.report((group.clone(), partition.clone()), || Violation {
                        kind: GROUP_ISOLATION.into(),
                        summary: format!("group {group}: {} started {partition} at committed offset {offset}, which group {group} never committed", input.name(h.node)),
                        evidence: vec![h.seq],
                    });
                }
            }
            _ => {}
        }
    }
    found.out
}

/// The records each group was owed (see the module documentation) and did not receive.
fn at_least_once(input: &CheckInput<'_>) -> Vec<Violation> {
    let node_group = groups_of_nodes(input);
    let mut first_start: BTreeMap<(String, TopicPartition), Offset> = BTreeMap::new();
    let mut topic_start: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut acked_at: BTreeMap<RecordId, u64> = BTreeMap::new();
    let mut delivered: BTreeMap<(String, TopicPartition), BTreeSet<(Offset, RecordId)>> = BTreeMap::new();
    for h in input.history {
        if let Observation::ProduceAcked { record, .. } = &h.obs {
            acked_at.insert(*record, h.seq);
        }
        let Some(group) = node_group.get(&h.node) else { continue };
        match &h.obs {
            Observation::PositionSet { partition, offset, .. } => {
                first_start.entry((group.clone(), partition.clone())).or_insert(*offset);
                topic_start.entry((group.clone(), partition.topic.to_string())).or_insert(h.seq);
            }
            Observation::Polled { partition, records, .. } => {
                delivered.entry((group.clone(), partition.clone())).or_default().extend(records.iter().copied());
            }
            _ => {}
        }
    }
    // A group none of whose members subscribes to a topic any more has stopped reading it: it is
    // owed that topic's records only up to the last one it was handed of each partition.
    let still_reads = |group: &str, topic: &str| {
        node_group.iter().filter(|(_, g)| g.as_str() == group).any(|(n, _)| input.subscriptions.get(n).is_none_or(|ts| ts.iter().any(|t| t == topic)))
    };
    let mut out = Vec::new();
    for ((group, tp), start) in &first_start {
        let Some(log) = input.final_logs.get(tp) else { continue };
        let since = topic_start[&(group.clone(), tp.topic.to_string())];
        let got = delivered.get(&(group.clone(), tp.clone()));
        let until = if still_reads(group, &tp.topic) { None } else { Some(got.and_then(|g| g.iter().map(|(o, _)| *o).max())) };
        let missing: Vec<(Offset, RecordId)> = log
            .records
            .range(log.log_start_offset..)
            .filter(|(o, _)| until.is_none_or(|last| last.is_some_and(|last| **o <= last)))
            .filter(|(o, r)| **o >= *start || acked_at.get(r).is_some_and(|seq| *seq > since))
            .filter(|(o, r)| !got.is_some_and(|g| g.contains(&(**o, **r))))
            .map(|(o, r)| (*o, *r))
            .collect();
        if let (Some((o, r)), Some((last, _))) = (missing.first(), missing.last()) {
            out.push(Violation {
                kind: AT_LEAST_ONCE.into(),
                summary: format!(
                    "group {group} never received {} committed record(s) of {tp}, offsets {o}..={last}, the first {r} (the group started the partition at {start})",
                    missing.len()
                ),
                evidence: acked_at.get(r).copied().into_iter().collect(),
            });
        }
    }
    out
}

/// A member that joined a generation: its id, what it owned then (with the seq that gave it each
/// partition), and the seq of its joining.
type Joiner = (String, BTreeMap<TopicPartition, u64>, u64);

/// A zombie's processing: the offsets, the seq of the first, the generation it ignored.
type ZombieRun = (BTreeSet<Offset>, u64, i32);

/// See the module documentation.
fn cooperative_handoff(input: &CheckInput<'_>) -> Vec<Violation> {
    // (group, member) → partitions it owns now, with the seq of the observation that gave each.
    let mut owns: BTreeMap<(String, String), BTreeMap<TopicPartition, u64>> = BTreeMap::new();
    let mut member_of_node: BTreeMap<NodeId, String> = BTreeMap::new();
    // (group, generation) → members that joined it, with what they owned then and the seq.
    let mut joined: BTreeMap<(String, i32), Vec<Joiner>> = BTreeMap::new();
    let mut out = Vec::new();
    let mut reported = BTreeSet::new();
    for h in input.history {
        match &h.obs {
            Observation::Joined { group, generation, member_id, .. } => {
                // A new member id on a node is a new incarnation (a restart) or a member that was
                // fenced and lost its partitions: either way it holds nothing from the old id.
                if let Some(old) = member_of_node.insert(h.node, member_id.clone()) {
                    if old != *member_id {
                        owns.remove(&(group.clone(), old));
                    }
                }
                let held = owns.get(&(group.clone(), member_id.clone())).cloned().unwrap_or_default();
                joined.entry((group.clone(), *generation)).or_default().push((member_id.clone(), held, h.seq));
            }
            Observation::Assigned { group, generation, member_id, partitions } => {
                member_of_node.insert(h.node, member_id.clone());
                if let Some(members) = joined.get(&(group.clone(), *generation)) {
                    for tp in partitions {
                        for (other, held, join_seq) in members {
                            if other == member_id || !held.contains_key(tp) {
                                continue;
                            }
                            if reported.insert((group.clone(), *generation, tp.clone())) {
                                out.push(Violation {
                                    kind: COOPERATIVE_HANDOFF.into(),
                                    summary: format!(
                                        "group {group} generation {generation}: {tp} was assigned to {member_id} while {other}, a member of the same generation, still owned it (it joined owning it and had not revoked it)"
                                    ),
                                    evidence: vec![held[tp], *join_seq, h.seq],
                                });
                            }
                        }
                    }
                }
                let mine = owns.entry((group.clone(), member_id.clone())).or_default();
                for tp in partitions {
                    mine.entry(tp.clone()).or_insert(h.seq);
                }
                mine.retain(|tp, _| partitions.contains(tp));
            }
            Observation::Revoked { group, partitions, .. } => {
                let Some(member) = member_of_node.get(&h.node) else { continue };
                if let Some(mine) = owns.get_mut(&(group.clone(), member.clone())) {
                    mine.retain(|tp, _| !partitions.contains(tp));
                }
            }
            _ => {}
        }
    }
    out
}

/// Offsets processed again, and the first repeat: (first node, its seq, second node, its seq).
type Repeats = (BTreeSet<Offset>, (NodeId, u64, NodeId, u64));

/// **`exactly-once`**, checked only when a scenario demands it (`processing = "exactly-once"`):
/// each record is processed once by its group (once by a standalone consumer without a group).
/// Kafka's consumers promise at-least-once; a rebalance, a restart or a zombie (D-10, D-14)
/// processes some records twice, and this checker names them.
pub fn exactly_once(input: &CheckInput<'_>) -> Vec<Violation> {
    let node_group = groups_of_nodes(input);
    // (reader, partition) → offset → (node, seq) of its first processing.
    let mut first: BTreeMap<(String, TopicPartition), BTreeMap<Offset, (NodeId, u64)>> = BTreeMap::new();
    // (reader, partition) → (offsets processed again, first repeat (first node, seq, node, seq)).
    let mut again: BTreeMap<(String, TopicPartition), Repeats> = BTreeMap::new();
    for h in input.history {
        let Observation::Processed { partition, from, through } = &h.obs else { continue };
        let reader = node_group.get(&h.node).map_or_else(|| input.name(h.node).to_string(), |g| format!("group {g}"));
        let key = (reader, partition.clone());
        let seen = first.entry(key.clone()).or_default();
        for o in (from.0..through.0).map(Offset) {
            match seen.get(&o) {
                Some(&(n, seq)) => {
                    let e = again.entry(key.clone()).or_insert_with(|| (BTreeSet::new(), (n, seq, h.node, h.seq)));
                    e.0.insert(o);
                }
                None => {
                    seen.insert(o, (h.node, h.seq));
                }
            }
        }
    }
    again
        .into_iter()
        .map(|((reader, tp), (offsets, (n1, s1, n2, s2)))| {
            let (lo, hi) = (offsets.first().copied().unwrap_or_default(), offsets.last().copied().unwrap_or_default());
            Violation {
                kind: EXACTLY_ONCE.into(),
                summary: format!(
                    "{reader}: {} record(s) of {tp} processed more than once (offsets {lo}..={hi}); the first, offset {lo}, by {} and again by {}",
                    offsets.len(),
                    input.name(n1),
                    input.name(n2)
                ),
                evidence: vec![s1, s2],
            }
        })
        .collect()
}

/// Notes, not violations: records a member processed after its partition had been given to
/// another member in a newer generation (a zombie: D-10, D-14), with how many of them the new
/// owner processed as well.
pub fn zombie_processing(input: &CheckInput<'_>) -> Vec<Violation> {
    let node_group = groups_of_nodes(input);
    // (group, partition) → (newest generation, owner node) from the assignments.
    let mut owner: BTreeMap<(String, TopicPartition), (i32, NodeId)> = BTreeMap::new();
    // node → the generation of its latest assignment.
    let mut node_generation: BTreeMap<NodeId, i32> = BTreeMap::new();
    // (group, partition, node) → offsets it processed.
    let mut processed: BTreeMap<(String, TopicPartition, NodeId), BTreeSet<Offset>> = BTreeMap::new();
    // (group, partition, zombie node, new owner node) → (zombie offsets, first seq, generation).
    let mut zombie: BTreeMap<(String, TopicPartition, NodeId, NodeId), ZombieRun> = BTreeMap::new();
    for h in input.history {
        let Some(group) = node_group.get(&h.node) else { continue };
        match &h.obs {
            Observation::Assigned { generation, partitions, .. } => {
                node_generation.insert(h.node, *generation);
                for tp in partitions {
                    let e = owner.entry((group.clone(), tp.clone())).or_insert((*generation, h.node));
                    if *generation >= e.0 {
                        *e = (*generation, h.node);
                    }
                }
            }
            Observation::Processed { partition, from, through } => {
                let offsets = (from.0..through.0).map(Offset);
                processed.entry((group.clone(), partition.clone(), h.node)).or_default().extend(offsets.clone());
                let mine = node_generation.get(&h.node).copied().unwrap_or(-1);
                if let Some(&(g, new_owner)) = owner.get(&(group.clone(), partition.clone())) {
                    if new_owner != h.node && g > mine {
                        let e = zombie.entry((group.clone(), partition.clone(), h.node, new_owner)).or_insert((BTreeSet::new(), h.seq, g));
                        e.0.extend(offsets);
                    }
                }
            }
            _ => {}
        }
    }
    zombie
        .into_iter()
        .map(|((group, tp, node, new_owner), (offsets, seq, g))| {
            let twice = processed.get(&(group.clone(), tp.clone(), new_owner)).map_or(0, |o| offsets.intersection(o).count());
            let (first, last) = (offsets.first().copied().unwrap_or_default(), offsets.last().copied().unwrap_or_default());
            Violation {
                kind: ZOMBIE_PROCESSING.into(),
                summary: format!(
                    "group {group}: {} processed {} record(s) of {tp} (offsets {first}..={last}) after generation {g} gave it to {}; {twice} of them were processed twice",
                    input.name(node),
                    offsets.len(),
                    input.name(new_owner)
                ),
                evidence: vec![seq],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::FinalLog;
    use crate::engine::HistoryEntry;
    use crate::model::observe::PositionReason;
    use crate::model::SimTime;

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }
    fn at(seq: u64, node: u32, obs: Observation) -> HistoryEntry<Observation> {
        HistoryEntry { seq, at: SimTime(seq), node: NodeId(node), obs }
    }
    fn assigned(seq: u64, node: u32, gen: i32, member: &str) -> HistoryEntry<Observation> {
        at(seq, node, Observation::Assigned { group: "g".into(), generation: gen, member_id: member.into(), partitions: vec![tp()] })
    }
    fn run(history: &[HistoryEntry<Observation>], records: &[(i64, u32)]) -> Vec<Violation> {
        let recs = records.iter().map(|(o, s)| (Offset(*o), RecordId { producer: 0, seq: *s })).collect();
        let logs = BTreeMap::from([(tp(), FinalLog { log_start_offset: Offset(0), high_watermark: Offset(records.len() as i64), records: recs })]);
        check(&CheckInput { history, final_logs: &logs, faults: &[], marks: &[], node_names: &names(), subscriptions: &BTreeMap::new() })
    }
    fn names() -> Vec<String> {
        (0..10).map(|i| format!("c{i}")).collect()
    }
    fn polled(seq: u64, node: u32, recs: &[(i64, u32)]) -> HistoryEntry<Observation> {
        let records = recs.iter().map(|(o, s)| (Offset(*o), RecordId { producer: 0, seq: *s })).collect();
        at(seq, node, Observation::Polled { partition: tp(), records, high_watermark: Offset(9) })
    }
    fn start(seq: u64, node: u32, o: i64, reason: PositionReason) -> HistoryEntry<Observation> {
        at(seq, node, Observation::PositionSet { partition: tp(), offset: Offset(o), reason })
    }

    #[test]
    fn a_commit_from_an_old_generation_accepted_breaks_commit_fencing() {
        let req = |seq, node, gen| at(seq, node, Observation::CommitRequested { group: "g".into(), generation: gen, offsets: vec![(tp(), Offset(3))] });
        let ans = |seq, node, gen, error| at(seq, node, Observation::Committed { group: "g".into(), generation: gen, offsets: vec![(tp(), Offset(3))], error });
        // c1 commits with generation 1 after c2 was assigned generation 2.
        let accepted = vec![assigned(1, 1, 1, "a"), assigned(2, 2, 2, "b"), req(3, 1, 1), ans(4, 1, 1, ErrorCode::None)];
        let v = run(&accepted, &[]);
        assert!(v.iter().any(|v| v.kind == COMMIT_FENCING && v.evidence == vec![3, 4]), "{v:?}");
        // Fenced: fine. And a commit sent before the new generation existed: fine.
        let fenced = vec![assigned(1, 1, 1, "a"), assigned(2, 2, 2, "b"), req(3, 1, 1), ans(4, 1, 1, ErrorCode::UnknownMemberId)];
        assert!(run(&fenced, &[]).iter().all(|v| v.kind != COMMIT_FENCING));
        let early = vec![assigned(1, 1, 1, "a"), req(2, 1, 1), assigned(3, 2, 2, "b"), ans(4, 1, 1, ErrorCode::None)];
        assert!(run(&early, &[]).iter().all(|v| v.kind != COMMIT_FENCING));
    }

    #[test]
    fn committing_unprocessed_records_breaks_commit_after_process() {
        let req = |seq, o| at(seq, 1, Observation::CommitRequested { group: "g".into(), generation: 1, offsets: vec![(tp(), Offset(o))] });
        let ans = |seq| at(seq, 1, Observation::Committed { group: "g".into(), generation: 1, offsets: vec![(tp(), Offset(0))], error: ErrorCode::None });
        let processed = |seq, o| at(seq, 1, Observation::Processed { partition: tp(), from: Offset(o - 1), through: Offset(o) });
        let safe = vec![assigned(1, 1, 1, "a"), start(2, 1, 0, PositionReason::Start), processed(3, 5), req(4, 5), ans(5)];
        assert!(run(&safe, &[]).iter().all(|v| v.kind != COMMIT_AFTER_PROCESS));
        let ahead = vec![assigned(1, 1, 1, "a"), start(2, 1, 0, PositionReason::Start), processed(3, 5), req(4, 9), ans(5)];
        let v = run(&ahead, &[]);
        assert!(v.iter().any(|v| v.kind == COMMIT_AFTER_PROCESS && v.summary.contains("offset 9") && v.summary.contains("up to 5")), "{v:?}");
    }

    #[test]
    fn no_committed_offset_after_a_commit_breaks_offset_resumption() {
        let ok = at(2, 1, Observation::Committed { group: "g".into(), generation: 1, offsets: vec![(tp(), Offset(7))], error: ErrorCode::None });
        let none = |seq: u64, asked_at: u64| at(seq, 1, Observation::NoCommittedOffset { group: "g".into(), partitions: vec![tp()], asked_at: SimTime(asked_at) });
        let h = vec![assigned(1, 1, 1, "a"), ok.clone(), start(3, 1, 7, PositionReason::Committed)];
        assert!(run(&h, &[]).iter().all(|v| v.kind != OFFSET_RESUMPTION));
        // Asked after the commit was accepted, and told there is none: the commit was lost.
        let lost = vec![assigned(1, 1, 1, "a"), ok.clone(), none(4, 3)];
        let v = run(&lost, &[]);
        assert!(v.iter().any(|v| v.kind == OFFSET_RESUMPTION && v.summary.contains("had committed 7") && v.evidence == vec![2, 4]), "{v:?}");
        // Asked before the commit (a paused zombie acting late on an old answer): not a loss.
        let late = vec![assigned(1, 1, 1, "a"), ok.clone(), none(4, 1)];
        assert!(run(&late, &[]).iter().all(|v| v.kind != OFFSET_RESUMPTION));
        // Expired by offsets.retention.minutes while the group was Empty (node 9, the
        // coordinator): documented, not a loss. Expired while a member subscribed: a loss.
        let expired = |members: usize| {
            let obs = Observation::OffsetsExpired { group: "g".into(), offsets: vec![(tp(), Offset(7))], state: "Empty".into(), members, subscribed: vec!["t".into()] };
            at(3, 9, obs)
        };
        let documented = vec![assigned(1, 1, 1, "a"), ok.clone(), expired(0), none(5, 4)];
        assert!(run(&documented, &[]).iter().all(|v| v.kind != OFFSET_RESUMPTION));
        let undocumented = vec![assigned(1, 1, 1, "a"), ok, expired(1), none(5, 4)];
        assert!(run(&undocumented, &[]).iter().any(|v| v.kind == OFFSET_RESUMPTION));
    }

    #[test]
    fn a_lower_offset_written_after_a_higher_one_breaks_committed_offset_monotonic() {
        // Node 9 is the coordinator; node 1 the member.
        let written = |seq: u64, o: i64| at(seq, 9, Observation::OffsetsWritten { group: "g".into(), offsets: vec![(tp(), Offset(o))] });
        let forward = vec![assigned(1, 1, 1, "a"), written(2, 5), written(3, 5), written(4, 9)];
        assert!(run(&forward, &[]).iter().all(|v| v.kind != COMMITTED_OFFSET_MONOTONIC));
        let back = vec![assigned(1, 1, 1, "a"), written(2, 5), written(3, 9), written(4, 7)];
        let v = run(&back, &[]);
        assert!(v.iter().any(|v| v.kind == COMMITTED_OFFSET_MONOTONIC && v.summary.contains("went back from 9 to 7") && v.evidence == vec![4, 3]), "{v:?}");
        // Another group's offsets are its own; a reset in between allows a lower offset.
        let other = vec![assigned(1, 1, 1, "a"), written(2, 9), at(3, 9, Observation::OffsetsWritten { group: "h".into(), offsets: vec![(tp(), Offset(2))] })];
        assert!(run(&other, &[]).iter().all(|v| v.kind != COMMITTED_OFFSET_MONOTONIC));
        let reset = vec![assigned(1, 1, 1, "a"), written(2, 9), start(3, 1, 0, PositionReason::Reset), written(4, 3)];
        assert!(run(&reset, &[]).iter().all(|v| v.kind != COMMITTED_OFFSET_MONOTONIC));
    }

    #[test]
    fn one_owner_per_generation_holds() {
        let h = vec![assigned(1, 1, 1, "a"), assigned(2, 2, 2, "b")];
        assert!(run(&h, &[]).is_empty());
    }

    #[test]
    fn two_owners_in_one_generation_break_exclusive_ownership() {
        let h = vec![assigned(1, 1, 3, "a"), assigned(2, 2, 3, "b")];
        let v = run(&h, &[]);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, EXCLUSIVE_OWNERSHIP);
        assert!(v[0].summary.contains("generation 3") && v[0].summary.contains("both a and b"), "{}", v[0].summary);
        assert_eq!(v[0].evidence, vec![1, 2]);
    }

    #[test]
    fn a_group_that_got_everything_from_its_start_is_isolated() {
        let h = vec![assigned(1, 1, 1, "a"), start(2, 1, 0, PositionReason::Start), polled(3, 1, &[(0, 0), (1, 1)])];
        assert!(run(&h, &[(0, 0), (1, 1)]).is_empty());
    }

    #[test]
    fn a_record_the_group_never_received_breaks_at_least_once() {
        let h = vec![assigned(1, 1, 1, "a"), start(2, 1, 0, PositionReason::Start), polled(3, 1, &[(0, 0)])];
        let v = run(&h, &[(0, 0), (1, 1)]);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, AT_LEAST_ONCE);
        assert!(v[0].summary.contains("never received 1 committed record(s) of t-0, offsets 1..=1, the first p0#1"), "{}", v[0].summary);
    }

    /// A group whose members all dropped the topic is owed its records only up to the last one it
    /// was handed; a gap before that still breaks at-least-once.
    #[test]
    fn a_group_that_dropped_the_topic_is_owed_records_only_up_to_where_it_stopped() {
        let check_with = |history: &[HistoryEntry<Observation>], records: &[(i64, u32)], topics: &[&str]| {
            let recs = records.iter().map(|(o, s)| (Offset(*o), RecordId { producer: 0, seq: *s })).collect();
            let logs = BTreeMap::from([(tp(), FinalLog { log_start_offset: Offset(0), high_watermark: Offset(records.len() as i64), records: recs })]);
            let subscriptions = BTreeMap::from([(NodeId(1), topics.iter().map(|t| t.to_string()).collect())]);
            check(&CheckInput { history, final_logs: &logs, faults: &[], marks: &[], node_names: &names(), subscriptions: &subscriptions })
        };
        let log = [(0, 0), (1, 1), (2, 2), (3, 3)];
        let read_two = vec![assigned(1, 1, 1, "a"), start(2, 1, 0, PositionReason::Start), polled(3, 1, &[(0, 0), (1, 1)])];
        assert!(check_with(&read_two, &log, &["other"]).is_empty(), "offsets 2 and 3 came after it stopped reading t");
        let v = check_with(&read_two, &log, &["t"]);
        assert_eq!((v.len(), v[0].kind.as_str()), (1, AT_LEAST_ONCE), "still subscribed: 2 and 3 are owed");
        let gap = vec![assigned(1, 1, 1, "a"), start(2, 1, 0, PositionReason::Start), polled(3, 1, &[(0, 0), (2, 2)])];
        let v = check_with(&gap, &log, &["other"]);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].summary.contains("offsets 1..=1"), "the gap before where it stopped: {}", v[0].summary);
    }

    /// D-17: records below where the group (re)started a partition are owed when they were
    /// acknowledged after the group began reading the topic.
    #[test]
    fn a_reset_to_latest_that_skips_records_acked_meanwhile_breaks_at_least_once() {
        let acked = |seq, rec: u32, o: i64| {
            at(seq, 9, Observation::ProduceAcked { record: RecordId { producer: 0, seq: rec }, partition: tp(), offset: Some(Offset(o)), acks: crate::model::protocol::Acks::All })
        };
        // Records 0 and 1 were acked before the group started at offset 2: not owed.
        let before = vec![acked(0, 0, 0), acked(1, 1, 1), assigned(2, 1, 1, "a"), start(3, 1, 2, PositionReason::Start), polled(4, 1, &[(2, 2)])];
        let log = [(0, 0), (1, 1), (2, 2)];
        assert!(run(&before, &log).is_empty(), "{:?}", run(&before, &log));
        // Acked after the group started, then skipped by a restart that reset to latest.
        let mut skipped = before.clone();
        skipped.extend([acked(5, 3, 3), start(6, 1, 4, PositionReason::Start), acked(7, 4, 4), polled(8, 1, &[(4, 4)])]);
        let log = [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)];
        let v = run(&skipped, &log);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind, AT_LEAST_ONCE);
        assert_eq!(v[0].evidence, vec![5]);
    }

    fn joined(seq: u64, node: u32, gen: i32, member: &str) -> HistoryEntry<Observation> {
        at(seq, node, Observation::Joined { group: "g".into(), generation: gen, member_id: member.into(), owned: vec![] })
    }

    #[test]
    fn a_partition_handed_over_while_its_owner_still_holds_it_breaks_cooperative_handoff() {
        // a owns t-0 from generation 1, joins generation 2 still owning it, and generation 2
        // gives t-0 to b at once.
        let h = vec![assigned(1, 1, 1, "a"), joined(2, 1, 2, "a"), joined(3, 2, 2, "b"), assigned(4, 2, 2, "b")];
        let v = run(&h, &[]);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind, COOPERATIVE_HANDOFF);
        assert_eq!(v[0].evidence, vec![1, 2, 4]);
        // Revoked before joining (eager), or withheld until the next generation: fine.
        let revoked = at(2, 1, Observation::Revoked { group: "g".into(), generation: 1, partitions: vec![tp()], lost: false });
        let eager = vec![assigned(1, 1, 1, "a"), revoked, joined(3, 1, 2, "a"), joined(4, 2, 2, "b"), assigned(5, 2, 2, "b")];
        assert!(run(&eager, &[]).is_empty());
    }

    #[test]
    fn a_record_processed_twice_breaks_exactly_once() {
        let processed = |seq, node, from: i64, through: i64| {
            at(seq, node, Observation::Processed { partition: tp(), from: Offset(from), through: Offset(through) })
        };
        let logs = BTreeMap::new();
        let once = vec![assigned(1, 1, 1, "a"), processed(2, 1, 0, 5), assigned(3, 2, 2, "b"), processed(4, 2, 5, 9)];
        let input = CheckInput { history: &once, final_logs: &logs, faults: &[], marks: &[], node_names: &names(), subscriptions: &BTreeMap::new() };
        assert!(exactly_once(&input).is_empty());
        let twice = vec![assigned(1, 1, 1, "a"), processed(2, 1, 0, 5), assigned(3, 2, 2, "b"), processed(4, 2, 3, 9)];
        let input = CheckInput { history: &twice, final_logs: &logs, faults: &[], marks: &[], node_names: &names(), subscriptions: &BTreeMap::new() };
        let v = exactly_once(&input);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].summary.contains("group g: 2 record(s) of t-0 processed more than once (offsets 3..=4); the first, offset 3, by c1 and again by c2"), "{}", v[0].summary);
        assert_eq!(v[0].evidence, vec![2, 4]);
    }

    #[test]
    fn a_zombie_that_processes_after_its_partition_moved_is_noted() {
        let processed = |seq, node, from: i64, through: i64| {
            at(seq, node, Observation::Processed { partition: tp(), from: Offset(from), through: Offset(through) })
        };
        let h = vec![assigned(1, 1, 1, "a"), processed(2, 1, 0, 5), assigned(3, 2, 2, "b"), processed(4, 1, 5, 10), processed(5, 2, 5, 12)];
        let input_logs = BTreeMap::new();
        let input = CheckInput { history: &h, final_logs: &input_logs, faults: &[], marks: &[], node_names: &names(), subscriptions: &BTreeMap::new() };
        let notes = zombie_processing(&input);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].summary.contains("processed 5 record(s) of t-0 (offsets 5..=9) after generation 2 gave it to"), "{}", notes[0].summary);
        assert!(notes[0].summary.contains("5 of them were processed twice"), "{}", notes[0].summary);
        let honest = vec![assigned(1, 1, 1, "a"), processed(2, 1, 0, 5), assigned(3, 2, 2, "b"), processed(5, 2, 5, 12)];
        let input = CheckInput { history: &honest, final_logs: &input_logs, faults: &[], marks: &[], node_names: &names(), subscriptions: &BTreeMap::new() };
        assert!(zombie_processing(&input).is_empty());
    }

    #[test]
    fn starting_from_an_offset_the_group_never_committed_breaks_isolation() {
        let committed = at(2, 2, Observation::CommitRequested { group: "g".into(), generation: 1, offsets: vec![(tp(), Offset(1))] });
        let ok = vec![assigned(1, 2, 1, "b"), committed.clone(), start(3, 1, 1, PositionReason::Committed), polled(4, 1, &[(1, 1)])];
        let mut h = ok.clone();
        h.insert(0, assigned(0, 1, 1, "a"));
        assert!(run(&h, &[(0, 0), (1, 1)]).iter().all(|v| !v.summary.contains("never committed")));
        let bad = vec![assigned(0, 1, 1, "a"), start(3, 1, 5, PositionReason::Committed)];
        let v = run(&bad, &[]);
        assert!(v.iter().any(|v| v.kind == GROUP_ISOLATION && v.summary.contains("which group g never committed")), "{v:?}");
    }
}
