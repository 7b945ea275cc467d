//! One run of one scenario with one seed: build the world, run it to completion or a limit, check
//! the history and the final state, and judge the outcome against the scenario's expectation.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::Serialize;

use crate::check::replica::ReplicaInvariants;
use crate::check::{check_all, CheckInput, FaultRecord, FinalLog, Violation};
use crate::engine::{NodeStatus, RunEnd, TraceSink, World};
use crate::model::broker::Partition;
use crate::model::{BrokerId, KafkaNode, Observation, Offset, SimDuration, TopicPartition};
use crate::scenario::{Roles, Scenario};
use crate::trace::format_digest;

#[derive(Default)]
pub struct RunOptions {
    /// Where trace events go, if anywhere.
    pub sink: Option<Box<dyn TraceSink<KafkaNode>>>,
    /// Keep each event's hash, to locate a divergence.
    pub keep_event_hashes: bool,
    /// Times the actors' handlers (benchmarks).
    pub profiler: Option<Box<dyn crate::engine::Profiler>>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RunStats {
    pub records_produced: u64,
    pub records_acked: u64,
    pub records_failed: u64,
    pub records_consumed: u64,
    /// Deliveries of a record its consumer (or its consumer's group) had already been handed:
    /// at-least-once redelivery after a rebalance, a restart or a reset. Not a violation.
    pub records_redelivered: u64,
    pub virtual_time_s: f64,
    pub steps: u64,
    pub events: u64,
    pub messages_sent: u64,
    pub messages_dropped: u64,
    /// Findings that are not violations: zombie processing (records processed after the
    /// partition had moved to another member).
    pub notes: Vec<Violation>,
    /// Coverage marks the scenario requires (`sometimes`) that this run did not reach.
    pub coverage_missed: Vec<String>,
    /// When the run hit its time or step limit: what it was still waiting for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unfinished: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub scenario: String,
    pub path: String,
    pub seed: u64,
    pub expected: String,
    /// `pass`, the first violation's kind, `time-limit`, `step-limit` or `panic`.
    pub verdict: String,
    /// Whether the verdict is what the scenario expects.
    pub matched: bool,
    pub end: String,
    pub violations: Vec<Violation>,
    pub digest: String,
    pub stats: RunStats,
    pub marks: BTreeMap<String, u64>,
    /// The command that reproduces this run.
    pub reproduce: String,
    #[serde(skip)]
    pub event_hashes: Vec<u64>,
}

/// Runs `scenario` with `seed`. A panic inside the run becomes the verdict `panic`.
pub fn run_scenario(scenario: &Scenario, seed: u64, options: RunOptions) -> RunReport {
    let reproduce = format!("kafkasim run {} --seed {seed}{}", scenario.path, scenario.reproduce_flags());
    let outcome = catch_unwind(AssertUnwindSafe(|| run_inner(scenario, seed, options)));
    let (verdict, end, violations, digest, stats, marks, event_hashes) = match outcome {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            let v = Violation { kind: "panic".into(), summary: format!("the run panicked: {msg} (reproduce: {reproduce})"), evidence: vec![] };
            ("panic".to_string(), "panic".to_string(), vec![v], String::new(), RunStats::default(), BTreeMap::new(), vec![])
        }
    };
    let expected = scenario.expected().to_string();
    let matched = verdict == expected || violations.iter().any(|v| v.kind == expected);
    RunReport {
        scenario: scenario.name.clone(),
        path: scenario.path.clone(),
        seed,
        expected,
        verdict,
        matched,
        end,
        violations,
        digest,
        stats,
        marks,
        reproduce,
        event_hashes,
    }
}

type Inner = (String, String, Vec<Violation>, String, RunStats, BTreeMap<String, u64>, Vec<u64>);

thread_local! {
    /// The buffers of this thread's previous run, reused by the next (see [`World::reuse`]): a
    /// sweep runs seed after seed on each thread.
    static SPARE: std::cell::RefCell<crate::engine::Spare<KafkaNode>> = std::cell::RefCell::new(crate::engine::Spare::default());
}

fn run_inner(scenario: &Scenario, seed: u64, options: RunOptions) -> Inner {
    let (mut world, roles) = scenario.build(seed);
    world.reuse(SPARE.take());
    if let Some(sink) = options.sink {
        world.set_sink(sink);
    }
    if options.keep_event_hashes {
        world.keep_event_hashes();
    }
    if let Some(p) = options.profiler {
        world.set_profiler(p);
    }
    let names = scenario.node_names();
    let mut invariants = ReplicaInvariants::default();
    let mut on_step = |w: &World<KafkaNode>, node: crate::model::NodeId| {
        invariants.after_step(w.actor(node), node, w.trace_seq(), &names[node.0 as usize]);
    };
    let faults_over = scenario.last_fault_at();
    let mut stop = |w: &World<KafkaNode>| w.now() >= faults_over && !w.faults_pending() && workload_done(w, &roles);
    let end = world.run(scenario.limits(), SimDuration::from_millis(10), &mut stop, &mut on_step);
    if let Some(p) = world.profiler_mut() {
        p.phase("check");
    }
    let final_logs = final_logs(&world, &roles);
    let faults: Vec<FaultRecord> =
        world.faults().iter().map(|(seq, at, label)| FaultRecord { seq: *seq, at: *at, label: label.clone() }).collect();
    let subscriptions = final_subscriptions(&world, &roles);
    let input = CheckInput { history: world.history(), final_logs: &final_logs, faults: &faults, marks: world.mark_log(), node_names: &names, subscriptions: &subscriptions };
    let mut violations = invariants.into_violations();
    violations.extend(check_all(&input));
    violations.extend(crate::check::order::check(&input, &scenario.order_judged_producers()));
    if scenario.exactly_once() {
        violations.extend(crate::check::groups::exactly_once(&input));
        violations.extend(crate::check::duplicates::check(&input));
    }
    violations.sort_by_key(|v| v.evidence.first().copied().unwrap_or(u64::MAX));
    if end == RunEnd::TimeLimit && scenario.liveness_deadline().is_some_and(|d| crate::model::SimTime::ZERO + scenario.file.run.max_time.0 >= d) {
        let within = scenario.file.liveness.as_ref().map_or(0.0, |l| l.within.0.as_secs_f64());
        violations.push(Violation {
            kind: "liveness".into(),
            summary: format!("the cluster did not converge within {within:.1}s after the faults ended: {}", unconverged(&world, &roles).join("; ")),
            evidence: vec![world.trace_seq()],
        });
    }
    let verdict = match (violations.first(), end) {
        (Some(v), _) => v.kind.clone(),
        (None, RunEnd::StepLimit) => "step-limit".into(),
        (None, RunEnd::TimeLimit) => "time-limit".into(),
        (None, _) => "pass".into(),
    };
    let mut stats = stats(&world);
    stats.notes = crate::check::notes(&input);
    if matches!(end, RunEnd::TimeLimit | RunEnd::StepLimit) {
        stats.unfinished = unconverged(&world, &roles);
    }
    stats.coverage_missed = scenario.sometimes().into_iter().filter(|m| !world.marks().contains_key(m.as_str())).collect();
    let marks = world.marks().iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let end = serde_json::to_value(end).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let hashes = world.event_hashes().map(<[u64]>::to_vec).unwrap_or_default();
    SPARE.set(world.spare());
    (verdict, end, violations, format_digest(world.digest()), stats, marks, hashes)
}

/// What each group member subscribes to when the run ends: a live one's `subscribe()` as it stands,
/// a down one's as it comes back (its configured topics).
fn final_subscriptions(world: &World<KafkaNode>, roles: &Roles) -> BTreeMap<crate::model::NodeId, Vec<String>> {
    let mut out = BTreeMap::new();
    for &c in &roles.consumers {
        if let KafkaNode::Consumer(consumer) = &*as_it_stands(world, c) {
            if consumer.config.group.is_some() && consumer.config.partitions.is_none() {
                out.insert(c, consumer.subscription.clone());
            }
        }
    }
    out
}

/// The workload is done when every producer has the final outcome of every record and every
/// consumer has read up to the high watermark of each partition it reads. (The run also waits for
/// the last scheduled fault.)
fn workload_done(world: &World<KafkaNode>, roles: &Roles) -> bool {
    let producers_done = roles.producers.iter().all(|&p| match world.actor(p) {
        Some(KafkaNode::Producer(p)) => p.is_done(),
        _ => world.status(p) == NodeStatus::Down,
    });
    if !producers_done {
        return false;
    }
    let consumers_done = roles.consumers.iter().all(|&c| {
        let Some(KafkaNode::Consumer(consumer)) = world.actor(c) else { return world.status(c) == NodeStatus::Down };
        consumer.caught_up(|tp| leader_high_watermark(world, roles, tp))
    });
    consumers_done && uncovered_partitions(world, roles).is_empty() && !acked_in_limbo(world, roles)
}

/// Per group with a live member: the partitions of its topic that no live member holds in its
/// current assignment (a dead member that still counts as a member until its session expires
/// holds them). A group has converged only when its live members own every partition.
fn uncovered_partitions(world: &World<KafkaNode>, roles: &Roles) -> Vec<(String, Vec<TopicPartition>)> {
    // Per group: each subscribed topic's partition count (the largest any member knows), and
    // the partitions owned.
    let mut groups: BTreeMap<String, (BTreeMap<String, i32>, BTreeSet<TopicPartition>)> = BTreeMap::new();
    for &c in &roles.consumers {
        if world.status(c) != NodeStatus::Up {
            continue;
        }
        let Some(KafkaNode::Consumer(consumer)) = world.actor(c) else { continue };
        let (Some(settings), Some(m)) = (&consumer.config.group, &consumer.membership) else { continue };
        if m.standalone {
            continue;
        }
        let entry = groups.entry(settings.group_id.clone()).or_default();
        for topic in &consumer.subscription {
            if let Some(&n) = consumer.partition_counts.get(topic) {
                let e = entry.0.entry(topic.clone()).or_insert(n);
                *e = (*e).max(n);
            }
        }
        if m.is_stable() {
            entry.1.extend(m.assignment.iter().cloned());
        }
    }
    groups
        .into_iter()
        .filter_map(|(group, (counts, owned))| {
            let missing: Vec<TopicPartition> = counts
                .iter()
                .flat_map(|(topic, n)| (0..*n).map(|p| TopicPartition::new(topic.clone(), p)))
                .filter(|tp| !owned.contains(tp))
                .collect();
            (!missing.is_empty()).then_some((group, missing))
        })
        .collect()
}

/// What keeps a run from being complete, in a few words per client.
fn unconverged(world: &World<KafkaNode>, roles: &Roles) -> Vec<String> {
    let mut out = Vec::new();
    for &p in &roles.producers {
        if let Some(KafkaNode::Producer(producer)) = world.actor(p) {
            if !producer.is_done() {
                out.push(format!("{} still has records without a final outcome", world.name(p)));
            }
        }
    }
    for &c in &roles.consumers {
        match world.actor(c) {
            Some(KafkaNode::Consumer(consumer)) => {
                if let Some(m) = &consumer.membership {
                    if !m.is_stable() {
                        out.push(format!("{} is not in a stable generation ({:?})", world.name(c), m.phase));
                        continue;
                    }
                }
                for tp in consumer.positions.keys() {
                    let hw = leader_high_watermark(world, roles, tp);
                    let pos = consumer.position(tp);
                    if hw.is_none() || pos.is_none_or(|p| Some(p) < hw) {
                        let show = |o: Option<Offset>| o.map_or("?".to_string(), |o| o.to_string());
                        out.push(format!("{} lags on {tp} (position {}, high watermark {})", world.name(c), show(pos), show(hw)));
                    }
                }
            }
            _ if world.status(c) != NodeStatus::Down => out.push(format!("{} is not running", world.name(c))),
            _ => {}
        }
    }
    for (group, missing) in uncovered_partitions(world, roles) {
        let list: Vec<String> = missing.iter().map(ToString::to_string).collect();
        out.push(format!("group {group}: no live member owns {}", list.join(", ")));
    }
    if acked_in_limbo(world, roles) {
        out.push("acknowledged records are still above the high watermark, or on a partition without a leader".into());
    }
    if out.is_empty() {
        out.push("the workload did not complete".into());
    }
    out
}

/// Whether an acknowledged record still sits above its partition's high watermark on the live
/// leader (an `acks=1` record whose replication has not finished), or on a partition that has no
/// leader (one may still be elected, e.g. when a replica finishes restarting): the run waits for
/// it to be committed, or to disappear, before the checkers judge the log.
fn acked_in_limbo(world: &World<KafkaNode>, roles: &Roles) -> bool {
    let mut newest: BTreeMap<&TopicPartition, Offset> = BTreeMap::new();
    for h in world.history() {
        if let Observation::ProduceAcked { partition, offset: Some(o), .. } = &h.obs {
            let e = newest.entry(partition).or_insert(*o);
            *e = (*e).max(*o);
        }
    }
    newest.into_iter().any(|(tp, acked)| {
        // No leader yet (a replica may still be restarting): the acknowledged records are neither
        // readable nor known lost; wait for the controller to decide.
        let Some(leader) = controller_leader(world, roles, tp) else { return true };
        let Some(node) = roles.layout.node_of(leader) else { return false };
        match world.actor(node) {
            Some(KafkaNode::Broker(b)) => {
                b.partitions.get(tp).filter(|p| p.is_leader(leader)).is_some_and(|p| p.log.high_watermark() <= acked && acked < p.log.log_end_offset())
            }
            _ => false,
        }
    })
}

/// A node as it stands: a live one where it is, a down one as it would recover from its disk.
fn as_it_stands(world: &World<KafkaNode>, node: crate::model::NodeId) -> std::borrow::Cow<'_, KafkaNode> {
    world.actor(node).map_or_else(|| std::borrow::Cow::Owned(world.recovered(node)), std::borrow::Cow::Borrowed)
}

/// `f` of the controller's metadata image (live, or as it would recover).
fn with_controller_image<R>(world: &World<KafkaNode>, roles: &Roles, f: impl FnOnce(&crate::model::metadata::MetadataImage) -> R) -> Option<R> {
    match &*as_it_stands(world, roles.controller) {
        KafkaNode::Controller(c) => Some(f(&c.image)),
        _ => None,
    }
}

/// The partition's leader according to the controller (live, or as it would recover).
fn controller_leader(world: &World<KafkaNode>, roles: &Roles, tp: &TopicPartition) -> Option<BrokerId> {
    with_controller_image(world, roles, |image| image.partitions.get(tp).and_then(|s| s.leader)).flatten()
}

/// Each topic's partition count as the controller has it (partitions may have been added since
/// the topic was created).
fn partition_counts(world: &World<KafkaNode>, roles: &Roles) -> BTreeMap<String, i32> {
    with_controller_image(world, roles, |image| {
        image.partitions.keys().fold(BTreeMap::new(), |mut m, tp| {
            *m.entry(tp.topic.to_string()).or_insert(0) += 1;
            m
        })
    })
    .unwrap_or_default()
}

/// The high watermark of the partition's leader, when the leader is up and knows it leads.
fn leader_high_watermark(world: &World<KafkaNode>, roles: &Roles, tp: &TopicPartition) -> Option<Offset> {
    let leader = controller_leader(world, roles, tp)?;
    let node = roles.layout.node_of(leader)?;
    match world.actor(node) {
        Some(KafkaNode::Broker(b)) => b.partitions.get(tp).filter(|p| p.is_leader(leader)).map(|p| p.log.high_watermark()),
        _ => None,
    }
}

/// Each partition's committed log at the end: the records below the HW of the leader the
/// controller names (read from its disk as it would recover if it is down); for a partition
/// without a leader, the replica with the highest HW.
fn final_logs(world: &World<KafkaNode>, roles: &Roles) -> BTreeMap<TopicPartition, FinalLog> {
    let brokers: Vec<(BrokerId, std::borrow::Cow<'_, KafkaNode>)> = roles.layout.brokers.iter().map(|(b, node)| (*b, as_it_stands(world, *node))).collect();
    let mut out = BTreeMap::new();
    let counts = partition_counts(world, roles);
    for topic in &roles.layout.topics {
        for p in 0..counts.get(&topic.name).copied().unwrap_or(topic.partitions) {
            let tp = TopicPartition::new(topic.name.clone(), p);
            let replicas = brokers.iter().filter_map(|(b, n)| match &**n {
                KafkaNode::Broker(broker) => broker.partitions.get(&tp).map(|part| (*b, part)),
                _ => None,
            });
            let leader = controller_leader(world, roles, &tp);
            let chosen = match leader {
                Some(l) => replicas.clone().find(|(b, _)| *b == l),
                None => replicas.clone().max_by_key(|(_, part)| part.log.high_watermark()),
            };
            if let Some((_, part)) = chosen {
                out.insert(tp, committed_log(part));
            }
        }
    }
    out
}

fn committed_log(part: &Partition) -> FinalLog {
    let hw = part.log.high_watermark();
    let records = part.log.records().take_while(|(o, _)| *o < hw).map(|(o, r)| (o, r.id)).collect();
    FinalLog { log_start_offset: part.log.log_start_offset(), high_watermark: hw, records }
}

fn stats(world: &World<KafkaNode>) -> RunStats {
    let mut s = RunStats::default();
    // Who a delivery counts for: the consumer's group, or the consumer itself.
    let mut reader: BTreeMap<crate::model::NodeId, String> = BTreeMap::new();
    let mut seen: std::collections::BTreeSet<(String, TopicPartition, Offset, crate::model::RecordId)> = Default::default();
    for h in world.history() {
        match &h.obs {
            Observation::ProduceInvoked { .. } => s.records_produced += 1,
            Observation::ProduceAcked { .. } => s.records_acked += 1,
            Observation::ProduceFailed { .. } => s.records_failed += 1,
            Observation::Assigned { group, .. } => {
                reader.insert(h.node, format!("group {group}"));
            }
            Observation::Polled { partition, records, .. } => {
                s.records_consumed += records.len() as u64;
                let who = reader.get(&h.node).cloned().unwrap_or_else(|| format!("node {}", h.node.0));
                for (o, r) in records {
                    if !seen.insert((who.clone(), partition.clone(), *o, *r)) {
                        s.records_redelivered += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let e = world.stats();
    s.virtual_time_s = world.now().as_secs_f64();
    s.steps = e.steps;
    s.events = e.trace_events;
    s.messages_sent = e.messages_sent;
    s.messages_dropped = e.messages_dropped;
    s
}
