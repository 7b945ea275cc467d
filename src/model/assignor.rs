//! Consumer-group partition assignors: range, roundrobin, sticky and cooperative-sticky, each in
//! the Java client's and sarama's flavor, as pure functions from the group's topics and its
//! members' subscriptions (with the partitions each reports owning and the generation it owned them
//! in) to an assignment. Only the group leader's client runs one, so which flavor applies depends
//! on which client leads.
//!
//! Contract: [`assign`] depends only on its inputs, not on the order of `members`; every member
//! appears in its result; each member's list is sorted by (topic, partition); a partition goes
//! only to a member subscribed to its topic, and to at most one member. The eager strategies
//! (range, roundrobin, sticky) assign every partition of every subscribed topic;
//! cooperative-sticky may withhold some (see below). Topics missing from `topics` are ignored, as
//! Java skips topics without metadata. Member ids must be unique (the coordinator makes them so).
//!
//! Semantics (reference §C.1–C.4):
//!
//! - **Range**, both flavors: per topic, the subscribers sorted by member id; with `P` partitions
//!   and `C` subscribers the first `P % C` get `P / C + 1` partitions, the rest `P / C`, as
//!   consecutive ranges. Sarama's formula since v1.34.1 (`i*per + min(extra, i)`) is Java's, so
//!   one function serves both.
//! - **RoundRobin**: members sorted by id walked as a circle; each partition goes to the next
//!   member that subscribes to its topic. Java orders partitions by (topic, partition); sarama
//!   sorts the strings `"topic-partition"`, so `t-10` comes before `t-2`.
//! - **Sticky** (eager) keeps owned partitions where balance allows. Conflicting claims are
//!   resolved first. Java (after KAFKA-12984 and KAFKA-14639): the highest generation wins, and two
//!   claims in that highest generation are invalid, so neither member keeps the partition. Sarama
//!   (`prepopulateCurrentAssignments`): in one generation the first claim stands; claims without a
//!   generation overwrite one another under −1; the highest generation wins. A missing generation
//!   is Java's `DEFAULT_GENERATION`, −1. Then, in Java, when every member subscribes to the same
//!   topics, the constrained algorithm (KAFKA-9987): each member keeps up to its quota of its
//!   owned partitions, taken in (partition, topic) order; the rest are dealt in (topic,
//!   partition) order round robin to the members under `floor(P/N)`, then one each to members at
//!   that quota until `P % N` members hold `ceil(P/N)`. Otherwise, and always for sarama (a port
//!   of the older algorithm), the general algorithm: keep every valid owned partition; give each
//!   unowned partition, topics with the fewest subscribers first, to the least-loaded subscriber
//!   (ties by member id); then, while some partition's owner has two more partitions than another
//!   subscriber of its topic, move one from the most-loaded such owner — back to its owner of an
//!   earlier generation if that one has two fewer, else to the least-loaded subscriber — first
//!   among the partitions just given out, then among all.
//! - **CooperativeSticky** (KIP-429) computes the sticky assignment and then withholds every
//!   partition that would go to a member other than its current owner (the claim that survived
//!   conflict resolution), and every partition whose claims were invalidated. The owner revokes
//!   it, rejoins, and the follow-up rebalance hands it over.
//!
//! Simplifications against the reference clients:
//!
//! - Java's constrained algorithm visits members in hash-map order when deciding who keeps
//!   `ceil(P/N)` partitions; here they are visited in member-id order.
//! - Java walks the claims in hash-map order, so with three or more claimants of one partition its
//!   outcome can depend on that order (two equal claims followed by a higher one: the constrained
//!   path drops the partition, the general one gives it to the higher claim). Here the highest
//!   generation wins whenever it is claimed once. Sarama walks a Go map; here members are walked
//!   in member-id order, so "the first claim" is the smallest member id.
//! - The general algorithm keeps Java's and sarama's rules for balance and validity and their
//!   preference for an earlier owner, but not all their stickiness machinery: no reversal of
//!   earlier moves (`getTheActualPartitionToBeMoved`), and each move takes from the most-loaded
//!   owner (as sarama's ordering by owner load tends to; Java walks partitions in order and may
//!   take from an owner only one over), ties broken by Java's partition order (topics with the
//!   fewest subscribers first), partitions with an earlier owner ahead. The earlier owner is the
//!   claim of the next-highest generation below the owner's (sarama's rule; Java takes claims
//!   older than the group's newest generation, which differs only when no newest-generation
//!   member claims the partition). Each move improves the balance, so Java's
//!   revert-if-not-better check never fires. Which partitions move can differ from the clients';
//!   how many end on each member does not differ in the cases the reference works through.
//! - In the general case Java and sarama decide what to withhold from the raw `ownedPartitions`
//!   (a partition stays with a stale claimant it is moved to); here the owner after conflict
//!   resolution decides, which never hands a partition over while its owner holds it.
//! - No rack awareness, no static members (`group.instance.id` sorting first), no
//!   `partition.assignment.strategy` negotiation; sarama's error for an empty group is an empty
//!   assignment here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// An assignment: every member, each with its partitions as `(topic, partition)` in order.
pub type Assignment = BTreeMap<String, Vec<(String, i32)>>;

/// Java's `AbstractStickyAssignor.DEFAULT_GENERATION`, the generation of a claim without one.
pub const DEFAULT_GENERATION: i32 = -1;

/// A partition as the assignors handle it; ordered by topic, then partition.
type Tp = (String, i32);
/// The assignment being built: member to partitions.
type Plan = BTreeMap<String, BTreeSet<Tp>>;

/// The assignment strategy, by its protocol name (`partition.assignment.strategy` in Java,
/// `Rebalance.GroupStrategies` in sarama).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Strategy {
    /// `RangeAssignor`, sarama `BalanceStrategyRange`.
    #[serde(rename = "range")]
    Range,
    /// `RoundRobinAssignor`, sarama `BalanceStrategyRoundRobin`.
    #[serde(rename = "roundrobin")]
    RoundRobin,
    /// `StickyAssignor` (eager), sarama `BalanceStrategySticky`.
    #[serde(rename = "sticky")]
    Sticky,
    /// `CooperativeStickyAssignor`, sarama `BalanceStrategyCooperativeSticky` (v1.60.1+).
    #[serde(rename = "cooperative-sticky")]
    CooperativeSticky,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [Strategy::Range, Strategy::RoundRobin, Strategy::Sticky, Strategy::CooperativeSticky];

    /// The protocol name a member advertises in JoinGroup.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Range => "range",
            Strategy::RoundRobin => "roundrobin",
            Strategy::Sticky => "sticky",
            Strategy::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// Whether members keep their partitions through a rebalance (KIP-429) rather than revoking
    /// all of them before joining.
    pub fn is_cooperative(self) -> bool {
        self == Strategy::CooperativeSticky
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whose implementation of a strategy the group leader runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// The Java client (`org.apache.kafka.clients.consumer`).
    #[default]
    Java,
    /// sarama (`IBM/sarama`).
    Sarama,
}

/// One member's JoinGroup subscription as the leader's assignor sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSubscription {
    pub member_id: String,
    pub topics: Vec<String>,
    /// The partitions the member reports owning: `ownedPartitions` (cooperative) or the previous
    /// assignment in the sticky userData (eager). Only the sticky strategies read it.
    #[serde(default)]
    pub owned: Vec<(String, i32)>,
    /// The generation `owned` dates from (KIP-341 userData, KIP-792 subscription field); `None`
    /// counts as [`DEFAULT_GENERATION`].
    #[serde(default)]
    pub generation: Option<i32>,
}

/// Assignor bugs the scenario's `[bugs]` table can bring back (reference D-11, D-12).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AssignorBugs {
    /// KAFKA-7026 (before KIP-341, fixed 2.3.0): the eager StickyAssignor's user data carries no
    /// generation, and every member's reported previous assignment is trusted: a partition that
    /// two members report stays with both.
    pub kafka_7026: bool,
    /// KAFKA-14639 (fixed 3.6.0): only claims of the group's newest generation count. A member
    /// that missed a rebalance has its owned partitions ignored, so they can go to another member
    /// in the same round in which it still owns them.
    pub kafka_14639: bool,
}

/// [`assign`] with known bugs of the assignors brought back.
pub fn assign_with(strategy: Strategy, flavor: Flavor, bugs: AssignorBugs, topics: &BTreeMap<String, i32>, members: &[MemberSubscription]) -> Assignment {
    let sticky = matches!(strategy, Strategy::Sticky | Strategy::CooperativeSticky);
    if !sticky || bugs == AssignorBugs::default() {
        return assign(strategy, flavor, topics, members);
    }
    let mut members = members.to_vec();
    if bugs.kafka_14639 {
        let newest = members.iter().filter_map(|m| m.generation).max();
        for m in &mut members {
            if m.generation < newest {
                m.owned.clear();
            }
        }
    }
    if bugs.kafka_7026 {
        for m in &mut members {
            m.generation = None;
        }
    }
    let mut result = assign(strategy, flavor, topics, &members);
    if bugs.kafka_7026 {
        // A partition two members report stays with each of them.
        let mut claimants: BTreeMap<&(String, i32), usize> = BTreeMap::new();
        for m in &members {
            for tp in m.owned.iter().collect::<BTreeSet<_>>() {
                *claimants.entry(tp).or_default() += 1;
            }
        }
        for m in &members {
            let mine = result.get_mut(&m.member_id).expect("every member is in the assignment");
            for tp in &m.owned {
                let exists = topics.get(&tp.0).is_some_and(|n| (0..*n).contains(&tp.1)) && m.topics.contains(&tp.0);
                if exists && claimants[tp] > 1 && !mine.contains(tp) {
                    mine.push(tp.clone());
                }
            }
            mine.sort();
        }
    }
    result
}

/// The assignment `strategy` in `flavor` computes for `members` over `topics` (topic name to
/// partition count). See the module documentation for the rules.
pub fn assign(strategy: Strategy, flavor: Flavor, topics: &BTreeMap<String, i32>, members: &[MemberSubscription]) -> Assignment {
    let mut sorted: Vec<&MemberSubscription> = members.iter().collect();
    sorted.sort_by(|a, b| a.member_id.cmp(&b.member_id));
    assert!(sorted.windows(2).all(|w| w[0].member_id != w[1].member_id), "member ids are unique within a group");
    let group = Group::new(topics, &sorted);
    let plan = match strategy {
        Strategy::Range => range(&group),
        Strategy::RoundRobin => round_robin(&group, flavor),
        Strategy::Sticky => sticky(&group, flavor, topics, &sorted).0,
        Strategy::CooperativeSticky => {
            let (mut plan, claims) = sticky(&group, flavor, topics, &sorted);
            withhold_transfers(&mut plan, &claims);
            plan
        }
    };
    plan.into_iter().map(|(member, partitions)| (member, partitions.into_iter().collect())).collect()
}

/// A subscribed topic: its partition count and its subscribers in member-id order.
struct TopicInfo {
    partitions: i32,
    subscribers: Vec<String>,
}

/// The group as the assignors see it: subscriptions restricted to known topics.
struct Group {
    /// Member id to the known topics it subscribes to.
    members: BTreeMap<String, BTreeSet<String>>,
    /// The known topics with at least one subscriber.
    topics: BTreeMap<String, TopicInfo>,
}

impl Group {
    /// `members` must be sorted by member id.
    fn new(topics: &BTreeMap<String, i32>, members: &[&MemberSubscription]) -> Group {
        let mut group = Group { members: BTreeMap::new(), topics: BTreeMap::new() };
        for m in members {
            let known: BTreeSet<String> = m.topics.iter().filter(|t| topics.contains_key(*t)).cloned().collect();
            for t in &known {
                let info = group.topics.entry(t.clone()).or_insert_with(|| TopicInfo { partitions: topics[t].max(0), subscribers: Vec::new() });
                info.subscribers.push(m.member_id.clone());
            }
            group.members.insert(m.member_id.clone(), known);
        }
        group
    }

    /// Every partition of every subscribed topic, in (topic, partition) order.
    fn partitions(&self) -> impl Iterator<Item = Tp> + '_ {
        self.topics.iter().flat_map(|(t, info)| (0..info.partitions).map(move |p| (t.clone(), p)))
    }

    fn subscribes(&self, member: &str, topic: &str) -> bool {
        self.members.get(member).is_some_and(|topics| topics.contains(topic))
    }

    fn empty_plan(&self) -> Plan {
        self.members.keys().map(|m| (m.clone(), BTreeSet::new())).collect()
    }

    /// The subscriber of `topic` holding the fewest partitions in `plan`, ties by member id.
    fn least_loaded(&self, plan: &Plan, topic: &str) -> &str {
        let subscribers = &self.topics[topic].subscribers;
        subscribers.iter().min_by_key(|m| (plan[*m].len(), *m)).expect("a topic of the group has a subscriber")
    }
}

fn range(group: &Group) -> Plan {
    let mut plan = group.empty_plan();
    for (topic, info) in &group.topics {
        let (count, members) = (info.partitions as usize, info.subscribers.len());
        let (per_member, extra) = (count / members, count % members);
        for (i, member) in info.subscribers.iter().enumerate() {
            let start = i * per_member + i.min(extra);
            let len = per_member + usize::from(i < extra);
            let mine = plan.get_mut(member).expect("subscribers are members");
            mine.extend((start..start + len).map(|p| (topic.clone(), p as i32)));
        }
    }
    plan
}

fn round_robin(group: &Group, flavor: Flavor) -> Plan {
    let mut partitions: Vec<Tp> = group.partitions().collect();
    if flavor == Flavor::Sarama {
        // Stable, and two partitions never share a string, so ties cannot matter.
        partitions.sort_by_cached_key(|(t, p)| format!("{t}-{p}"));
    }
    let members: Vec<&String> = group.members.keys().collect();
    let mut plan = group.empty_plan();
    let mut next = 0;
    for tp in partitions {
        // The topic has a subscriber, so this stops within one lap.
        while !group.subscribes(members[next % members.len()], &tp.0) {
            next += 1;
        }
        plan.get_mut(members[next % members.len()]).expect("members are in the plan").insert(tp);
        next += 1;
    }
    plan
}

/// Previously owned partitions after conflict resolution.
#[derive(Default)]
struct Claims {
    /// The partition's owner: the claim that survived.
    owner: BTreeMap<Tp, String>,
    /// The claimant of the next-highest generation below the owner's (Java's and sarama's
    /// `prevAssignment`): balancing prefers to move a partition back to it.
    previous: BTreeMap<Tp, String>,
    /// Partitions whose claims were all invalidated (Java: two claims in the same generation).
    contested: BTreeSet<Tp>,
}

/// A partition's claimants, in member-id order, with the generation of each claim.
type Claimants<'a> = [(&'a str, Option<i32>)];

/// Resolves the members' claims on existing partitions. `members` must be sorted by member id.
fn resolve_claims(flavor: Flavor, topics: &BTreeMap<String, i32>, members: &[&MemberSubscription]) -> Claims {
    let mut by_partition: BTreeMap<Tp, Vec<(&str, Option<i32>)>> = BTreeMap::new();
    for m in members {
        let exists = |(t, p): &&(String, i32)| topics.get(t).is_some_and(|n| (0..*n).contains(p));
        let owned: BTreeSet<&Tp> = m.owned.iter().filter(exists).collect();
        for tp in owned {
            by_partition.entry(tp.clone()).or_default().push((m.member_id.as_str(), m.generation));
        }
    }
    let mut claims = Claims::default();
    for (tp, claimants) in by_partition {
        let (owner, previous) = match flavor {
            Flavor::Java => java_claim_winner(&claimants),
            Flavor::Sarama => sarama_claim_winner(&claimants),
        };
        if let Some(previous) = previous {
            claims.previous.insert(tp.clone(), previous.to_string());
        }
        match owner {
            Some(owner) => {
                claims.owner.insert(tp, owner.to_string());
            }
            None => {
                claims.contested.insert(tp);
            }
        }
    }
    claims
}

/// Java: the highest generation wins; two claims in that generation are both invalid. Returns
/// the owner, if any, and the previous owner.
fn java_claim_winner<'a>(claimants: &Claimants<'a>) -> (Option<&'a str>, Option<&'a str>) {
    let generation = |c: &&(&str, Option<i32>)| c.1.unwrap_or(DEFAULT_GENERATION);
    let Some(top) = claimants.iter().map(|c| generation(&c)).max() else {
        return (None, None);
    };
    let at_top: Vec<&str> = claimants.iter().filter(|c| generation(c) == top).map(|c| c.0).collect();
    let owner = (at_top.len() == 1).then(|| at_top[0]);
    // The first of the newest claims below the top (min_by_key keeps the first of equals).
    let below = claimants.iter().filter(|c| generation(c) < top).min_by_key(|c| std::cmp::Reverse(generation(c)));
    (owner, owner.and(below.map(|c| c.0)))
}

/// sarama: per generation the first claim stands, claims without a generation overwrite one
/// another under −1, and the highest generation wins. Returns the owner and the previous owner.
fn sarama_claim_winner<'a>(claimants: &Claimants<'a>) -> (Option<&'a str>, Option<&'a str>) {
    let mut by_generation: BTreeMap<i32, &str> = BTreeMap::new();
    for &(member, generation) in claimants {
        match generation {
            Some(g) => {
                by_generation.entry(g).or_insert(member);
            }
            None => {
                by_generation.insert(DEFAULT_GENERATION, member);
            }
        }
    }
    let mut newest_first = by_generation.into_values().rev();
    (newest_first.next(), newest_first.next())
}

/// The sticky assignment and the claims it started from. `members` must be sorted by member id.
fn sticky(group: &Group, flavor: Flavor, topics: &BTreeMap<String, i32>, members: &[&MemberSubscription]) -> (Plan, Claims) {
    let claims = resolve_claims(flavor, topics, members);
    if members.is_empty() {
        return (Plan::new(), claims);
    }
    let mut kept = group.empty_plan();
    let mut revocation_required = false;
    for (tp, member) in &claims.owner {
        if group.subscribes(member, &tp.0) {
            kept.get_mut(member).expect("claimants are members").insert(tp.clone());
        } else if group.topics.contains_key(&tp.0) {
            // Its owner left the topic: Java then skips the pass that moves only new partitions.
            revocation_required = true;
        }
    }
    let plan = if flavor == Flavor::Java && all_subscriptions_equal(members) {
        constrained(group, &kept)
    } else {
        general(group, kept, &claims.previous, revocation_required)
    };
    (plan, claims)
}

/// Java compares the subscriptions as sent, unknown topics included.
fn all_subscriptions_equal(members: &[&MemberSubscription]) -> bool {
    let mut subscriptions = members.iter().map(|m| m.topics.iter().collect::<BTreeSet<_>>());
    let first = subscriptions.next();
    subscriptions.all(|s| Some(&s) == first.as_ref())
}

/// Java's constrained sticky algorithm, for members that all subscribe to the same topics.
fn constrained(group: &Group, kept: &Plan) -> Plan {
    let total = group.topics.values().map(|info| info.partitions as usize).sum::<usize>();
    let members = group.members.len();
    let (min_quota, max_quota, expected_over_min) = (total / members, total.div_ceil(members), total % members);
    let mut plan = group.empty_plan();
    let mut over_min = 0;
    // Members are visited in id order, so both lists leave this loop sorted, as Java sorts them.
    let mut under_min: Vec<&String> = Vec::new();
    let mut at_min: Vec<&String> = Vec::new();
    for (member, owned) in kept {
        let mut owned: Vec<&Tp> = owned.iter().collect();
        owned.sort_by_key(|(t, p)| (*p, t));
        let keep = if owned.len() < min_quota {
            under_min.push(member);
            owned.len()
        } else if owned.len() >= max_quota && over_min < expected_over_min {
            over_min += 1;
            if over_min == expected_over_min {
                at_min.clear();
            }
            max_quota
        } else {
            if over_min < expected_over_min {
                at_min.push(member);
            }
            min_quota
        };
        plan.get_mut(member).expect("kept has every member").extend(owned.into_iter().take(keep).cloned());
    }
    let assigned: BTreeSet<&Tp> = plan.values().flatten().collect();
    let unassigned: Vec<Tp> = group.partitions().filter(|tp| !assigned.contains(tp)).collect();
    deal_to_unfilled(&mut plan, unassigned, under_min, at_min, min_quota);
    plan
}

/// The constrained algorithm's last step: partitions in order, round robin over the members under
/// the minimum quota; once those are full, one each to members at the minimum quota, in order.
fn deal_to_unfilled<'a>(plan: &mut Plan, unassigned: Vec<Tp>, mut under_min: Vec<&'a String>, mut at_min: Vec<&'a String>, min_quota: usize) {
    let mut next = 0;
    for tp in unassigned {
        if under_min.is_empty() {
            assert!(!at_min.is_empty(), "the quotas leave room for every partition");
            let member = at_min.remove(0);
            plan.get_mut(member).expect("members are in the plan").insert(tp);
            continue;
        }
        if next >= under_min.len() {
            next = 0;
        }
        let member = under_min[next];
        let mine = plan.get_mut(member).expect("members are in the plan");
        mine.insert(tp);
        if mine.len() == min_quota {
            under_min.remove(next);
            at_min.push(member);
        } else {
            next += 1;
        }
    }
}

/// The general sticky algorithm: keep, fill the least loaded, then move until balanced.
/// `previous` maps a partition to its owner of an earlier generation.
fn general(group: &Group, mut plan: Plan, previous: &BTreeMap<Tp, String>, revocation_required: bool) -> Plan {
    let mut owner: BTreeMap<Tp, String> = plan.iter().flat_map(|(m, ps)| ps.iter().map(move |tp| (tp.clone(), m.clone()))).collect();
    // Topics with the fewest potential consumers first (Java's `TopicComparator`).
    let mut topics: Vec<(&String, &TopicInfo)> = group.topics.iter().collect();
    topics.sort_by_key(|(t, info)| (info.subscribers.len(), *t));
    let order: Vec<Tp> = topics.iter().flat_map(|(t, info)| (0..info.partitions).map(|p| ((*t).clone(), p))).collect();
    let fresh: Vec<Tp> = order.iter().filter(|tp| !owner.contains_key(*tp)).cloned().collect();
    for tp in &fresh {
        let member = group.least_loaded(&plan, &tp.0).to_string();
        plan.get_mut(&member).expect("subscribers are members").insert(tp.clone());
        owner.insert(tp.clone(), member);
    }
    let movable = |tp: &&Tp| group.topics[&tp.0].subscribers.len() >= 2;
    let mut balancer = Balancer { group, plan, owner, previous };
    if !revocation_required {
        let fresh: Vec<Tp> = fresh.iter().filter(movable).cloned().collect();
        balancer.rebalance(&fresh);
    }
    // Partitions with an earlier owner first, as sarama orders them, so that balancing undoes a
    // stale generation's moves before it moves anything else.
    let (mut all, rest): (Vec<Tp>, Vec<Tp>) = order.iter().filter(movable).cloned().partition(|tp| previous.contains_key(tp));
    all.extend(rest);
    balancer.rebalance(&all);
    balancer.plan
}

/// The general algorithm's balancing state.
struct Balancer<'a> {
    group: &'a Group,
    plan: Plan,
    owner: BTreeMap<Tp, String>,
    previous: &'a BTreeMap<Tp, String>,
}

impl Balancer<'_> {
    /// Moves partitions until none of `partitions` has an owner holding two more than another
    /// subscriber of its topic. Each step takes, from the most-loaded such owner (ties: first in
    /// `partitions`), the partition to its earlier owner if that one qualifies, else to the
    /// least-loaded subscriber. Each move lowers the sum of squared loads, so this ends.
    fn rebalance(&mut self, partitions: &[Tp]) {
        while let Some((tp, to)) = self.best_move(partitions) {
            let from = self.owner.insert(tp.clone(), to.clone()).expect("movable partitions have owners");
            self.plan.get_mut(&from).expect("owners are members").remove(&tp);
            self.plan.get_mut(&to).expect("subscribers are members").insert(tp);
        }
    }

    fn best_move(&self, partitions: &[Tp]) -> Option<(Tp, String)> {
        let load = |m: &str| self.plan[m].len();
        let mut best: Option<(usize, &Tp, &str)> = None;
        for tp in partitions {
            let from = load(&self.owner[tp]);
            let earlier = self.previous.get(tp).map(String::as_str).filter(|p| self.group.subscribes(p, &tp.0) && from > load(p) + 1);
            let to = earlier.unwrap_or_else(|| self.group.least_loaded(&self.plan, &tp.0));
            if from > load(to) + 1 && best.is_none_or(|(most, ..)| from > most) {
                best = Some((from, tp, to));
            }
        }
        best.map(|(_, tp, to)| (tp.clone(), to.to_string()))
    }
}

/// Cooperative-sticky: a partition reaches a new owner only in the rebalance after its current
/// owner gave it up, and a partition whose claims were invalidated waits one rebalance too.
fn withhold_transfers(plan: &mut Plan, claims: &Claims) {
    for (member, partitions) in plan.iter_mut() {
        partitions.retain(|tp| !claims.contested.contains(tp) && claims.owner.get(tp).is_none_or(|owner| owner == member));
    }
}

#[cfg(test)]
mod tests {
    use super::Strategy;
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::Strategy as _;

    type Gen<T> = proptest::strategy::BoxedStrategy<T>;
    type Topics = BTreeMap<String, i32>;
    /// A generated member: subscribed topics, claimed partitions, generation.
    type MemberSpec = (Vec<String>, Vec<Tp>, Option<i32>);

    fn topics(spec: &[(&str, i32)]) -> BTreeMap<String, i32> {
        spec.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn member(id: &str, subscribed: &[&str]) -> MemberSubscription {
        MemberSubscription { member_id: id.into(), topics: subscribed.iter().map(|t| t.to_string()).collect(), ..Default::default() }
    }

    fn owning(mut m: MemberSubscription, owned: &[(&str, i32)], generation: Option<i32>) -> MemberSubscription {
        m.owned = owned.iter().map(|(t, p)| (t.to_string(), *p)).collect();
        m.generation = generation;
        m
    }

    /// `[("c0", "t0p0 t1p1"), ...]` as an assignment, for readable expectations.
    fn expect(spec: &[(&str, &str)]) -> Assignment {
        let parse = |s: &str| {
            let (t, p) = s.rsplit_once('p').expect("tNpM");
            (t.to_string(), p.parse::<i32>().expect("partition"))
        };
        spec.iter()
            .map(|(m, ps)| {
                let mut list: Vec<(String, i32)> = ps.split_whitespace().map(parse).collect();
                list.sort();
                (m.to_string(), list)
            })
            .collect()
    }

    fn both(strategy: Strategy, t: &BTreeMap<String, i32>, members: &[MemberSubscription]) -> [Assignment; 2] {
        [assign(strategy, Flavor::Java, t, members), assign(strategy, Flavor::Sarama, t, members)]
    }

    #[test]
    fn serde_names_are_the_protocol_names() {
        for s in Strategy::ALL {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.name()));
        }
        assert_eq!(serde_json::from_str::<Strategy>("\"cooperative-sticky\"").unwrap(), Strategy::CooperativeSticky);
        assert_eq!(serde_json::from_str::<Flavor>("\"sarama\"").unwrap(), Flavor::Sarama);
        assert_eq!(Strategy::RoundRobin.to_string(), "roundrobin");
        assert!(Strategy::CooperativeSticky.is_cooperative() && !Strategy::Sticky.is_cooperative());
    }

    #[test]
    fn range_javadoc_two_consumers_two_topics() {
        let t = topics(&[("t0", 3), ("t1", 3)]);
        let ms = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
        let want = expect(&[("C0", "t0p0 t0p1 t1p0 t1p1"), ("C1", "t0p2 t1p2")]);
        assert_eq!(both(Strategy::Range, &t, &ms), [want.clone(), want]);
    }

    #[test]
    fn range_gives_the_extra_partitions_to_the_first_members() {
        let ms = [member("C0", &["t"]), member("C1", &["t"]), member("C2", &["t"])];
        let want = expect(&[("C0", "tp0 tp1 tp2"), ("C1", "tp3 tp4"), ("C2", "tp5 tp6")]);
        assert_eq!(both(Strategy::Range, &topics(&[("t", 7)]), &ms), [want.clone(), want]);
        // Sarama before v1.34.1 rounded and gave [0,1],[2],[3,4]; now it agrees with Java.
        let want = expect(&[("C0", "tp0 tp1"), ("C1", "tp2 tp3"), ("C2", "tp4")]);
        assert_eq!(both(Strategy::Range, &topics(&[("t", 5)]), &ms), [want.clone(), want]);
    }

    #[test]
    fn range_and_roundrobin_with_more_members_than_partitions_and_idle_members() {
        let t = topics(&[("t", 2)]);
        let ms = [member("a", &["t"]), member("b", &["t"]), member("c", &["t"]), member("d", &["other"])];
        let want = expect(&[("a", "tp0"), ("b", "tp1"), ("c", ""), ("d", "")]);
        assert_eq!(both(Strategy::Range, &t, &ms), [want.clone(), want.clone()]);
        assert_eq!(both(Strategy::RoundRobin, &t, &ms), [want.clone(), want]);
    }

    #[test]
    fn roundrobin_two_consumers_two_topics() {
        let t = topics(&[("t0", 3), ("t1", 3)]);
        let ms = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
        let want = expect(&[("C0", "t0p0 t0p2 t1p1"), ("C1", "t0p1 t1p0 t1p2")]);
        assert_eq!(both(Strategy::RoundRobin, &t, &ms), [want.clone(), want]);
    }

    #[test]
    fn roundrobin_javadoc_unequal_subscriptions() {
        let t = topics(&[("t0", 1), ("t1", 2), ("t2", 3)]);
        let ms = [member("C0", &["t0"]), member("C1", &["t0", "t1"]), member("C2", &["t0", "t1", "t2"])];
        let want = expect(&[("C0", "t0p0"), ("C1", "t1p0"), ("C2", "t1p1 t2p0 t2p1 t2p2")]);
        assert_eq!(both(Strategy::RoundRobin, &t, &ms), [want.clone(), want]);
    }

    #[test]
    fn sarama_roundrobin_sorts_partitions_as_strings() {
        let t = topics(&[("t", 12)]);
        let ms = [member("C2", &["t"]), member("C0", &["t"]), member("C1", &["t"])];
        let java = assign(Strategy::RoundRobin, Flavor::Java, &t, &ms);
        assert_eq!(java, expect(&[("C0", "tp0 tp3 tp6 tp9"), ("C1", "tp1 tp4 tp7 tp10"), ("C2", "tp2 tp5 tp8 tp11")]));
        // t-0, t-1, t-10, t-11, t-2, ... dealt in turn.
        let sarama = assign(Strategy::RoundRobin, Flavor::Sarama, &t, &ms);
        assert_eq!(sarama, expect(&[("C0", "tp0 tp4 tp7 tp11"), ("C1", "tp1 tp2 tp5 tp8"), ("C2", "tp3 tp6 tp9 tp10")]));
    }

    /// StickyAssignor javadoc, example 1: C0, C1, C2 over t0..t3 with two partitions each.
    #[test]
    fn sticky_javadoc_example_one() {
        let t = topics(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]);
        let all = ["t0", "t1", "t2", "t3"];
        let ms = [member("C0", &all), member("C1", &all), member("C2", &all)];
        let want = expect(&[("C0", "t0p0 t1p1 t3p0"), ("C1", "t0p1 t2p0 t3p1"), ("C2", "t1p0 t2p1")]);
        for s in [Strategy::Sticky, Strategy::CooperativeSticky] {
            assert_eq!(both(s, &t, &ms), [want.clone(), want.clone()], "{s}");
        }
        // C1 leaves. Both keep every partition C0 and C2 owned and split C1's 1/2. The javadoc's
        // split, C0 gets t2p0, comes from the general algorithm, which sarama runs; Java's
        // constrained algorithm deals t0p1, t2p0, t3p1 round robin to C0, C2, C2.
        let ms = [
            owning(member("C0", &all), &[("t0", 0), ("t1", 1), ("t3", 0)], Some(1)),
            owning(member("C2", &all), &[("t1", 0), ("t2", 1)], Some(1)),
        ];
        let java = expect(&[("C0", "t0p0 t0p1 t1p1 t3p0"), ("C2", "t1p0 t2p0 t2p1 t3p1")]);
        let javadoc = expect(&[("C0", "t0p0 t1p1 t3p0 t2p0"), ("C2", "t1p0 t2p1 t0p1 t3p1")]);
        assert_eq!(both(Strategy::Sticky, &t, &ms), [java.clone(), javadoc.clone()]);
        // Nothing changes hands, so cooperative withholds nothing.
        assert_eq!(both(Strategy::CooperativeSticky, &t, &ms), [java, javadoc]);
    }

    /// StickyAssignor javadoc, example 2: unequal subscriptions, then C0 leaves.
    #[test]
    fn sticky_javadoc_example_two() {
        let t = topics(&[("t0", 1), ("t1", 2), ("t2", 3)]);
        let ms = [member("C0", &["t0"]), member("C1", &["t0", "t1"]), member("C2", &["t0", "t1", "t2"])];
        let want = expect(&[("C0", "t0p0"), ("C1", "t1p0 t1p1"), ("C2", "t2p0 t2p1 t2p2")]);
        assert_eq!(both(Strategy::Sticky, &t, &ms), [want.clone(), want]);
        let ms = [
            owning(member("C1", &["t0", "t1"]), &[("t1", 0), ("t1", 1)], Some(1)),
            owning(member("C2", &["t0", "t1", "t2"]), &[("t2", 0), ("t2", 1), ("t2", 2)], Some(1)),
        ];
        let want = expect(&[("C1", "t1p0 t1p1 t0p0"), ("C2", "t2p0 t2p1 t2p2")]);
        assert_eq!(both(Strategy::Sticky, &t, &ms), [want.clone(), want]);
        // Roundrobin, for contrast, moves t1p0 and t1p1.
        let rr = expect(&[("C1", "t0p0 t1p1"), ("C2", "t1p0 t2p0 t2p1 t2p2")]);
        assert_eq!(assign(Strategy::RoundRobin, Flavor::Java, &t, &ms), rr);
    }

    /// Reference §C.3, worked cooperative example: C0 owns t-0..t-5 in generation 5; C1 joins.
    #[test]
    fn cooperative_hands_over_in_a_second_rebalance() {
        let t = topics(&[("t", 6)]);
        let c0_owns: Vec<(&str, i32)> = (0..6).map(|p| ("t", p)).collect();
        let gen6 = [owning(member("C0", &["t"]), &c0_owns, Some(5)), member("C1", &["t"])];
        // Java's constrained algorithm keeps C0's first three; the general one (sarama) moves
        // partitions in order until balanced, so the first three go.
        for (flavor, keeps, moves) in [(Flavor::Java, "tp0 tp1 tp2", "tp3 tp4 tp5"), (Flavor::Sarama, "tp3 tp4 tp5", "tp0 tp1 tp2")] {
            let eager = assign(Strategy::Sticky, flavor, &t, &gen6);
            assert_eq!(eager, expect(&[("C0", keeps), ("C1", moves)]), "{flavor:?}");
            let coop = assign(Strategy::CooperativeSticky, flavor, &t, &gen6);
            assert_eq!(coop, expect(&[("C0", keeps), ("C1", "")]), "{flavor:?}");
            // C0 revokes the other three and rejoins; nobody claims them in generation 7.
            let kept: Vec<(String, i32)> = coop["C0"].clone();
            let gen7 = [
                MemberSubscription { owned: kept, generation: Some(6), ..member("C0", &["t"]) },
                owning(member("C1", &["t"]), &[], Some(6)),
            ];
            let coop = assign(Strategy::CooperativeSticky, flavor, &t, &gen7);
            assert_eq!(coop, expect(&[("C0", keeps), ("C1", moves)]), "{flavor:?}");
        }
    }

    /// D-11 (KAFKA-7026, KIP-341): c3 comes back with its generation-1 assignment while c1 and c2
    /// report generation 2. The generation decides; nobody keeps a stale claim.
    #[test]
    fn stale_claims_lose_to_the_newer_generation() {
        let t = topics(&[("t", 6)]);
        let ms = [
            owning(member("c1", &["t"]), &[("t", 0), ("t", 1), ("t", 2)], Some(2)),
            owning(member("c2", &["t"]), &[("t", 3), ("t", 4), ("t", 5)], Some(2)),
            owning(member("c3", &["t"]), &[("t", 2), ("t", 5)], Some(1)),
        ];
        let want = expect(&[("c1", "tp0 tp1"), ("c2", "tp3 tp4"), ("c3", "tp2 tp5")]);
        assert_eq!(both(Strategy::Sticky, &t, &ms), [want.clone(), want]);
        // Cooperative: c1 and c2 still hold 2 and 5, so c3 waits a rebalance.
        let want = expect(&[("c1", "tp0 tp1"), ("c2", "tp3 tp4"), ("c3", "")]);
        assert_eq!(both(Strategy::CooperativeSticky, &t, &ms), [want.clone(), want]);
    }

    #[test]
    fn a_higher_generation_claim_wins_over_an_older_one() {
        let t = topics(&[("t", 4)]);
        let ms = [owning(member("c1", &["t"]), &[("t", 1), ("t", 2)], Some(2)), owning(member("c2", &["t"]), &[("t", 0), ("t", 1)], Some(3))];
        let want = expect(&[("c1", "tp2 tp3"), ("c2", "tp0 tp1")]);
        assert_eq!(both(Strategy::Sticky, &t, &ms), [want.clone(), want.clone()]);
        assert_eq!(both(Strategy::CooperativeSticky, &t, &ms), [want.clone(), want]);
    }

    /// Two claims in the same generation: Java drops both (and cooperative withholds the partition
    /// for a rebalance); sarama lets the first claim stand.
    #[test]
    fn same_generation_conflict_java_drops_both_sarama_keeps_the_first() {
        let t = topics(&[("t", 3)]);
        let ms = [owning(member("c1", &["t"]), &[("t", 0)], Some(2)), owning(member("c2", &["t"]), &[("t", 0), ("t", 1)], Some(2))];
        // Java: c1 owns nothing, c2 keeps 1; 0 goes to c1 (under quota), 2 to c2.
        // Sarama: c1 keeps 0, c2 keeps 1; 2 goes to the least loaded with the smaller id, c1.
        let eager = both(Strategy::Sticky, &t, &ms);
        assert_eq!(eager, [expect(&[("c1", "tp0"), ("c2", "tp1 tp2")]), expect(&[("c1", "tp0 tp2"), ("c2", "tp1")])]);
        let coop = both(Strategy::CooperativeSticky, &t, &ms);
        assert_eq!(coop, [expect(&[("c1", ""), ("c2", "tp1 tp2")]), expect(&[("c1", "tp0 tp2"), ("c2", "tp1")])]);
    }

    #[test]
    fn sarama_claims_without_generation_overwrite_each_other() {
        // Both claim t-0 without a generation: in sarama the later one (by member id) stands; in
        // Java they tie at -1 and both are dropped.
        let t = topics(&[("t", 2)]);
        let ms = [owning(member("a", &["t"]), &[("t", 0)], None), owning(member("b", &["t"]), &[("t", 0)], None)];
        let sarama = assign(Strategy::CooperativeSticky, Flavor::Sarama, &t, &ms);
        assert_eq!(sarama, expect(&[("a", "tp1"), ("b", "tp0")]));
        let java = assign(Strategy::CooperativeSticky, Flavor::Java, &t, &ms);
        assert_eq!(java, expect(&[("a", ""), ("b", "tp1")]));
    }

    #[test]
    fn owned_partitions_of_unsubscribed_or_missing_topics_are_not_kept() {
        let t = topics(&[("t0", 2), ("t1", 2)]);
        let ms = [
            owning(member("a", &["t0"]), &[("t1", 0), ("t1", 1), ("t0", 7), ("gone", 0)], Some(4)),
            owning(member("b", &["t0", "t1"]), &[], Some(4)),
        ];
        // a left t1 and keeps nothing. The general algorithm (subscriptions differ) gives t1, which
        // only b can take, to b first, then t0 to the less loaded a. Cooperative waits for a to
        // revoke t1's partitions.
        let eager = expect(&[("a", "t0p0 t0p1"), ("b", "t1p0 t1p1")]);
        assert_eq!(both(Strategy::Sticky, &t, &ms), [eager.clone(), eager]);
        let coop = expect(&[("a", "t0p0 t0p1"), ("b", "")]);
        assert_eq!(both(Strategy::CooperativeSticky, &t, &ms), [coop.clone(), coop]);
    }

    #[test]
    fn empty_groups_and_empty_topics() {
        let t = topics(&[("t", 3)]);
        for s in Strategy::ALL {
            assert_eq!(both(s, &t, &[]), [Assignment::new(), Assignment::new()]);
            let ms = [member("a", &["missing"])];
            let idle = expect(&[("a", "")]);
            assert_eq!(both(s, &t, &ms), [idle.clone(), idle]);
        }
    }

    // ---- properties ----

    const IDS: [&str; 7] = ["m0", "m1", "m2", "m3", "m4", "m5", "zz"];

    fn arb_topics() -> Gen<Topics> {
        let named = |counts: Vec<i32>| counts.into_iter().enumerate().map(|(i, n)| (format!("t{i}"), n)).collect();
        proptest::collection::vec(1..13i32, 1..4).prop_map(named).boxed()
    }

    /// Members with random subscriptions (sometimes to an unknown topic) and random, possibly
    /// conflicting, claims in random generations, listed in random order.
    fn arb_group() -> Gen<(Topics, Vec<MemberSubscription>)> {
        arb_topics().prop_flat_map(|topics| {
            let names: Vec<String> = topics.keys().cloned().chain(["unknown".to_string()]).collect();
            let partitions = topics.iter().flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p)));
            let all: Vec<Tp> = partitions.chain([("t0".into(), 99)]).collect();
            let subscribed = proptest::sample::subsequence(names.clone(), 1..=names.len());
            let owned = proptest::sample::subsequence(all.clone(), 0..=all.len().min(8));
            let one = (subscribed, owned, proptest::option::of(0..3i32));
            let ids = proptest::sample::subsequence(IDS.to_vec(), 1..=IDS.len());
            (Just(topics), ids, proptest::collection::vec(one, IDS.len()))
                .prop_map(|(topics, ids, specs)| {
                    let member = |(id, (topics, owned, generation)): (&&str, MemberSpec)| {
                        MemberSubscription { member_id: id.to_string(), topics, owned, generation }
                    };
                    let members = ids.iter().zip(specs).map(member).collect();
                    (topics, members)
                })
                .prop_flat_map(|(topics, members): (Topics, Vec<MemberSubscription>)| (Just(topics), Just(members).prop_shuffle()))
        })
        .boxed()
    }

    fn owner_of(a: &Assignment) -> BTreeMap<Tp, Vec<String>> {
        let mut owners: BTreeMap<Tp, Vec<String>> = BTreeMap::new();
        for (m, ps) in a {
            for tp in ps {
                owners.entry(tp.clone()).or_default().push(m.clone());
            }
        }
        owners
    }

    /// The checks every strategy meets; eager strategies also assign every subscribed partition.
    fn check_valid(strategy: Strategy, topics: &BTreeMap<String, i32>, members: &[MemberSubscription], a: &Assignment) {
        let ids: BTreeSet<&String> = members.iter().map(|m| &m.member_id).collect();
        assert_eq!(a.keys().collect::<BTreeSet<_>>(), ids, "every member present");
        for ps in a.values() {
            assert!(ps.windows(2).all(|w| w[0] < w[1]), "sorted without duplicates: {ps:?}");
        }
        let owners = owner_of(a);
        for (tp, who) in &owners {
            assert_eq!(who.len(), 1, "{tp:?} assigned to {who:?}");
            let m = members.iter().find(|m| m.member_id == who[0]).unwrap();
            assert!(m.topics.contains(&tp.0) && topics.get(&tp.0).is_some_and(|n| tp.1 < *n), "{tp:?} to non-subscriber {}", m.member_id);
        }
        if !strategy.is_cooperative() {
            for (t, n) in topics {
                if members.iter().any(|m| m.topics.contains(t)) {
                    assert!((0..*n).all(|p| owners.contains_key(&(t.clone(), p))), "every partition of {t} assigned");
                }
            }
        }
    }

    fn spread(a: &Assignment) -> usize {
        let counts = a.values().map(Vec::len);
        counts.clone().max().unwrap_or(0) - counts.min().unwrap_or(0)
    }

    /// A balanced previous assignment: the partitions, shuffled, dealt round robin to `old`
    /// members; then `new_id` joins. Returns the topics, members and previous assignment.
    fn arb_growth() -> Gen<(Topics, Vec<MemberSubscription>, BTreeMap<Tp, String>)> {
        (arb_topics(), 1..6usize, 0..7usize).prop_flat_map(|(topics, old, new_at)| {
            let all: Vec<Tp> = topics.iter().flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p))).collect();
            (Just(topics), Just(old), Just(new_at), Just(all).prop_shuffle()).prop_map(|(topics, old, new_at, shuffled)| {
                let names: Vec<String> = topics.keys().cloned().collect();
                let ids: Vec<String> = (0..old).map(|i| format!("m{i}")).collect();
                let mut previous = BTreeMap::new();
                let old_member =
                    |id: &String| MemberSubscription { member_id: id.clone(), topics: names.clone(), owned: vec![], generation: Some(7) };
                let mut members: Vec<MemberSubscription> = ids.iter().map(old_member).collect();
                for (i, tp) in shuffled.into_iter().enumerate() {
                    members[i % old].owned.push(tp.clone());
                    previous.insert(tp, ids[i % old].clone());
                }
                // The newcomer's id sorts anywhere among the others; it owns nothing.
                let new_id = format!("m{new_at}x");
                members.push(MemberSubscription { member_id: new_id, topics: names, owned: vec![], generation: None });
                (topics, members, previous)
            })
        })
        .boxed()
    }

    /// The fewest moves that reach a balanced assignment when `counts` members hold `total`
    /// partitions and one member with none joins.
    fn minimum_moves(counts: &[usize], total: usize) -> usize {
        let n = counts.len() + 1;
        let (min_q, max_q, over) = (total / n, total.div_ceil(n), total % n);
        let mut stay: usize = counts.iter().map(|c| (*c).min(min_q)).sum();
        if max_q > min_q {
            stay += over.min(counts.iter().filter(|c| **c >= max_q).count());
        }
        total - stay
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn every_strategy_gives_a_valid_assignment((topics, members) in arb_group()) {
            for strategy in Strategy::ALL {
                for flavor in [Flavor::Java, Flavor::Sarama] {
                    let a = assign(strategy, flavor, &topics, &members);
                    check_valid(strategy, &topics, &members, &a);
                    let mut reversed = members.clone();
                    reversed.reverse();
                    prop_assert_eq!(&assign(strategy, flavor, &topics, &reversed), &a, "independent of member order");
                }
            }
        }

        #[test]
        fn sticky_with_identical_subscriptions_is_balanced((topics, mut members) in arb_group()) {
            let all: Vec<String> = topics.keys().cloned().collect();
            for m in &mut members {
                m.topics = all.clone();
            }
            for flavor in [Flavor::Java, Flavor::Sarama] {
                let a = assign(Strategy::Sticky, flavor, &topics, &members);
                prop_assert!(spread(&a) <= 1, "{flavor:?}: {a:?}");
            }
        }

        #[test]
        fn sticky_moves_the_fewest_partitions_when_a_member_joins((topics, members, previous) in arb_growth()) {
            // The old members are the ones with a generation.
            let counts: Vec<usize> = members.iter().filter(|m| m.generation.is_some()).map(|m| m.owned.len()).collect();
            let least = minimum_moves(&counts, previous.len());
            for flavor in [Flavor::Java, Flavor::Sarama] {
                let eager = assign(Strategy::Sticky, flavor, &topics, &members);
                prop_assert!(spread(&eager) <= 1);
                let moved = owner_of(&eager).iter().filter(|(tp, who)| previous[*tp] != who[0]).count();
                prop_assert_eq!(moved, least, "{:?}: {:?}", flavor, eager);
                // Cooperative: the same target minus every move; a second round completes it.
                let coop = assign(Strategy::CooperativeSticky, flavor, &topics, &members);
                let stays = |m: &String, ps: &Vec<Tp>| ps.iter().filter(|tp| previous[*tp] == *m).cloned().collect();
                let kept: Assignment = eager.iter().map(|(m, ps)| (m.clone(), stays(m, ps))).collect();
                prop_assert_eq!(&coop, &kept);
                let rejoin = |m: &MemberSubscription| MemberSubscription { owned: coop[&m.member_id].clone(), generation: Some(8), ..m.clone() };
                let next: Vec<MemberSubscription> = members.iter().map(rejoin).collect();
                let second = assign(Strategy::CooperativeSticky, flavor, &topics, &next);
                check_valid(Strategy::Sticky, &topics, &next, &second);
                prop_assert!(spread(&second) <= 1);
            }
        }

        #[test]
        fn cooperative_never_hands_over_a_partition_its_owner_still_holds((topics, members) in arb_group()) {
            for flavor in [Flavor::Java, Flavor::Sarama] {
                let a = assign(Strategy::CooperativeSticky, flavor, &topics, &members);
                for (m, ps) in &a {
                    let me = members.iter().find(|x| &x.member_id == m).unwrap();
                    let generation = |x: &MemberSubscription| x.generation.unwrap_or(DEFAULT_GENERATION);
                    for tp in ps {
                        let others: Vec<&MemberSubscription> = members.iter().filter(|x| &x.member_id != m && x.owned.contains(tp)).collect();
                        if others.is_empty() {
                            continue;
                        }
                        // Only a member that claims it in a newer generation (Java), or at least as
                        // new a one (sarama: first claim in a generation stands) may get it.
                        prop_assert!(me.owned.contains(tp), "{flavor:?}: {tp:?} to {m}, claimed by others");
                        for x in others {
                            match flavor {
                                Flavor::Java => prop_assert!(generation(me) > generation(x)),
                                Flavor::Sarama => prop_assert!(generation(me) >= generation(x)),
                            }
                        }
                    }
                }
            }
        }
    }
}
