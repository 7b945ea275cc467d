//! The consumer's side of the classic group protocol (reference A.9), for the Java client and
//! sarama, eager and cooperative:
//!
//! 1. FindCoordinator, then JoinGroup (twice for a new member: KIP-394's MEMBER_ID_REQUIRED).
//! 2. The leader runs the assignor over the members' subscriptions; everyone sends SyncGroup.
//! 3. With its assignment, the member asks OffsetFetch for the committed offsets and starts where
//!    they point (or where `auto.offset.reset` says when nothing is committed).
//! 4. It heartbeats every `heartbeat.interval.ms`. REBALANCE_IN_PROGRESS (from a heartbeat or a
//!    commit) asks it to rejoin; ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID mean it was fenced and
//!    its partitions are lost. The Java client acts on both at its next `poll()`, once the
//!    application has finished the last poll's records; sarama ends the session at once (the
//!    handler finishes the message in hand, the rest of its buffer is dropped).
//! 5. Rejoining, an **eager** member commits (auto-commit, or its marked offsets) and revokes
//!    every partition first. A **cooperative** member (all its assignors cooperative) keeps its
//!    partitions and goes on consuming them, advertises them with the generation it got them in,
//!    revokes only what the new assignment moved, and then rejoins once more so the moved
//!    partitions reach their new owners.
//! 6. `max.poll.interval.ms` (Java): when processing the last poll's records takes longer, the
//!    member leaves the group; it keeps processing, as a zombie, and rejoins at its next poll.
//!
//! A standalone consumer with a `group.id` (`assign()` plus an offset manager) uses only steps 1
//! and 3 and commits with generation −1 and no member id, which a coordinator accepts while the
//! group has no members (A.6).

use serde::Serialize;

use super::actor::Ctx;
use super::assignor::{assign_with, Flavor, MemberSubscription, Strategy};
use super::consumer::{Client, CommitStyle, Consumer, ConsumerTimer, GroupRequest, OffsetReset, Pending, Position};
use super::group::protocol::*;
use super::ids::{NodeId, Offset, TopicPartition};
use super::node::{KafkaNode, NodeTimer};
use super::observe::{Observation, PositionReason};
use super::protocol::{ErrorCode, Msg, OffsetSpec};
use super::time::SimDuration;

type CCtx<'a> = Ctx<'a, KafkaNode>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Phase {
    FindingCoordinator,
    Joining,
    Syncing,
    Stable,
}

/// Why a member must rejoin at its next poll; a loss outranks a rebalance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Rejoin {
    /// REBALANCE_IN_PROGRESS, or a cooperative member revoked partitions.
    Rebalance,
    /// Fenced (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION) or left after a poll timeout: the
    /// partitions are lost, not revoked (`onPartitionsLost`), and nothing is committed.
    Lost,
}

/// A consumer's membership of its group.
#[derive(Clone, Debug, Serialize)]
pub struct Membership {
    pub phase: Phase,
    pub coordinator: Option<NodeId>,
    pub member_id: String,
    pub generation: i32,
    /// The partitions the member owns.
    pub assignment: Vec<TopicPartition>,
    /// The generation `assignment` was received in.
    pub owned_generation: i32,
    /// The assignment given up at the last rebalance and its generation: an eager member revokes
    /// everything before it joins, yet the sticky assignor needs to know what it had (Java's
    /// StickyAssignor sends it as user data).
    pub previous: (Vec<TopicPartition>, i32),
    /// Whether this is a standalone consumer (`assign()`) using the group only for offsets.
    pub standalone: bool,
    /// A rejoin to act on at the next poll.
    pub rejoin: Option<Rejoin>,
    /// Java's auto-commit is due: it happens inside the next `poll()`.
    pub auto_commit_due: bool,
    /// The commit before the pending rejoin was sent (and answered): rejoin now.
    pub committed_for_rejoin: bool,
    /// A SyncGroup answer that arrived while the application was busy: applied at the next poll.
    #[serde(skip)]
    pending_sync: Option<SyncGroupResponse>,
    /// OffsetCommits in flight: correlation id → (generation, offsets).
    #[serde(skip)]
    commits: std::collections::BTreeMap<u64, (i32, Vec<(TopicPartition, Offset)>)>,
    /// Per partition, the last offset a commit of this member was accepted for (sarama commits
    /// only marks that differ: "dirty" offsets).
    #[serde(skip)]
    clean: std::collections::BTreeMap<TopicPartition, Offset>,
    /// The topics of the last JoinGroup: a `subscribe()` to others asks for a rejoin.
    pub joined_subscription: Vec<String>,
    /// The group leader's partition counts when it last assigned (Java's `assignmentSnapshot`):
    /// only the leader watches for a subscribed topic's partition count to change.
    pub assignment_snapshot: Option<std::collections::BTreeMap<String, i32>>,
    /// A leader's JoinGroup answer waiting for the metadata of topics other members subscribe to.
    #[serde(skip)]
    pub(crate) pending_assignment: Option<JoinGroupResponse>,
}

impl Membership {
    pub fn is_stable(&self) -> bool {
        self.phase == Phase::Stable
    }
}

impl Consumer {
    fn group_id(&self) -> String {
        self.config.group.as_ref().map(|g| g.group_id.clone()).unwrap_or_default()
    }

    pub(crate) fn member(&mut self) -> &mut Membership {
        self.membership.as_mut().expect("a group consumer has a membership")
    }

    /// Whether the member rebalances cooperatively: every assignor it offers is cooperative.
    fn cooperative(&self) -> bool {
        self.config.group.as_ref().is_some_and(|g| {
            !g.assignors.is_empty() && g.assignors.iter().all(|a| a == Strategy::CooperativeSticky.name()) && self.config.client == Client::Java
        })
    }

    pub(crate) fn start_membership(&mut self, ctx: &mut CCtx<'_>, standalone: bool) {
        self.membership = Some(Membership {
            phase: Phase::FindingCoordinator,
            coordinator: None,
            member_id: String::new(),
            generation: -1,
            assignment: vec![],
            owned_generation: -1,
            previous: (vec![], -1),
            standalone,
            rejoin: None,
            auto_commit_due: false,
            committed_for_rejoin: false,
            pending_sync: None,
            commits: Default::default(),
            clean: Default::default(),
            joined_subscription: Vec::new(),
            assignment_snapshot: None,
            pending_assignment: None,
        });
        let g = self.group_id();
        if standalone {
            ctx.explain(|| format!("assign()s its partitions and keeps its offsets in group {g} (no group membership)"));
        } else {
            ctx.explain(|| format!("subscribes to {} in group {g}", self.subscription.join(", ")));
        }
        self.find_coordinator(ctx);
        let settings = self.config.group.clone().expect("group");
        if !standalone {
            ctx.set_timer(NodeTimer::Consumer(ConsumerTimer::Heartbeat), SimDuration::from_millis(settings.heartbeat_interval_ms));
        }
        if settings.enable_auto_commit && self.config.commit_style.on_timer() {
            ctx.set_timer(NodeTimer::Consumer(ConsumerTimer::AutoCommit), SimDuration::from_millis(settings.auto_commit_interval_ms));
        }
    }

    fn group_in_flight(&self, kind: GroupRequest) -> bool {
        self.pending.values().any(|p| matches!(p, Pending::Group(_, k) if *k == kind))
    }

    /// Looks for the coordinator. A Stable member keeps its generation and assignment meanwhile:
    /// once found, it goes on heartbeating there (the new coordinator loaded the group).
    fn find_coordinator(&mut self, ctx: &mut CCtx<'_>) {
        if self.member().phase != Phase::Stable {
            self.member().phase = Phase::FindingCoordinator;
        }
        self.member().coordinator = None;
        // markCoordinatorUnknown: the connection to the old coordinator is dropped, and with it
        // every group request still waiting there (a JoinGroup parked at a broker that lost the
        // group would otherwise wait out its long timeout).
        let stale: Vec<(u64, GroupRequest)> = self
            .pending
            .iter()
            .filter_map(|(c, p)| match p {
                Pending::Group(_, k) if *k != GroupRequest::FindCoordinator => Some((*c, *k)),
                _ => None,
            })
            .collect();
        for (corr, kind) in stale {
            self.pending.remove(&corr);
            ctx.cancel_timer(NodeTimer::Consumer(ConsumerTimer::RequestTimeout(corr)));
            if kind == GroupRequest::Commit {
                self.commit_answered(ctx, corr, ErrorCode::NetworkException);
            }
        }
        if self.group_in_flight(GroupRequest::FindCoordinator) {
            return;
        }
        let Some(node) = self.any_broker() else { return };
        let key = self.group_id();
        self.request(ctx, node, Pending::Group(node, GroupRequest::FindCoordinator), |c| {
            Msg::FindCoordinatorRequest(FindCoordinatorRequest { correlation_id: c, key })
        });
    }

    /// Sends JoinGroup with the member's subscription for each of its assignors.
    fn join(&mut self, ctx: &mut CCtx<'_>) {
        let Some(coordinator) = self.membership.as_ref().and_then(|m| m.coordinator) else { return self.find_coordinator(ctx) };
        if self.group_in_flight(GroupRequest::Join) {
            return;
        }
        let settings = self.config.group.clone().expect("group");
        let m = self.member();
        m.phase = Phase::Joining;
        let (owned, owned_generation) = if m.assignment.is_empty() { m.previous.clone() } else { (m.assignment.clone(), m.owned_generation) };
        let member_id = m.member_id.clone();
        let topics = self.subscription.clone();
        let m = self.member();
        m.joined_subscription = topics;
        let subscription = Subscription { topics: self.subscription.clone(), owned_partitions: owned, generation_id: Some(owned_generation) };
        let (group_id, client_id) = (settings.group_id.clone(), self.config.name.clone());
        self.request(ctx, coordinator, Pending::Group(coordinator, GroupRequest::Join), |c| {
            Msg::JoinGroupRequest(JoinGroupRequest {
                correlation_id: c,
                group_id,
                session_timeout_ms: settings.session_timeout_ms,
                rebalance_timeout_ms: settings.rebalance_timeout_ms,
                member_id,
                client_id,
                protocol_type: "consumer".into(),
                protocols: settings.assignors.iter().map(|a| (a.clone(), subscription.clone())).collect(),
            })
        });
    }

    pub(crate) fn on_group_response(&mut self, ctx: &mut CCtx<'_>, msg: Msg) {
        let corr = match &msg {
            Msg::FindCoordinatorResponse(r) => r.correlation_id,
            Msg::JoinGroupResponse(r) => r.correlation_id,
            Msg::SyncGroupResponse(r) => r.correlation_id,
            Msg::HeartbeatResponse(r) => r.correlation_id,
            Msg::OffsetCommitResponse(r) => r.correlation_id,
            Msg::OffsetFetchResponse(r) => r.correlation_id,
            Msg::LeaveGroupResponse(r) => r.correlation_id,
            _ => return,
        };
        let Some(Pending::Group(_, kind)) = self.pending.remove(&corr) else { return };
        ctx.cancel_timer(NodeTimer::Consumer(ConsumerTimer::RequestTimeout(corr)));
        match (kind, msg) {
            (GroupRequest::FindCoordinator, Msg::FindCoordinatorResponse(r)) => self.on_find_coordinator(ctx, r),
            (GroupRequest::Join, Msg::JoinGroupResponse(r)) => self.on_join_response(ctx, r),
            (GroupRequest::Sync, Msg::SyncGroupResponse(r)) => {
                if self.busy() {
                    // The Java client completes a rebalance inside poll(); sarama only rejoins
                    // once its handlers returned.
                    self.member().pending_sync = Some(r);
                } else {
                    self.on_sync_response(ctx, r);
                }
            }
            (GroupRequest::Heartbeat, Msg::HeartbeatResponse(r)) => self.on_background_error(ctx, r.error_code, "Heartbeat"),
            (GroupRequest::Commit, Msg::OffsetCommitResponse(r)) => {
                let error = r.partitions.first().map_or(ErrorCode::None, |(_, e)| *e);
                self.commit_answered(ctx, corr, error);
                self.on_background_error(ctx, error, "OffsetCommit");
            }
            (GroupRequest::OffsetFetch, Msg::OffsetFetchResponse(r)) => self.on_offset_fetch(ctx, r),
            _ => {}
        }
    }

    fn on_find_coordinator(&mut self, ctx: &mut CCtx<'_>, r: FindCoordinatorResponse) {
        match r.node {
            Some(node) if r.error_code == ErrorCode::None => {
                let g = self.group_id();
                ctx.explain(|| format!("group {g}: JoinGroup, SyncGroup, Heartbeat and OffsetCommit go to this coordinator from now on"));
                self.member().coordinator = Some(node);
                if self.member().standalone {
                    let partitions = self.positions.keys().cloned().collect();
                    let m = self.member();
                    m.phase = Phase::Stable;
                    m.assignment = partitions;
                } else if !self.member().is_stable() {
                    return self.join(ctx);
                }
                self.fetch_missing(ctx);
            }
            _ => self.retry_later(ctx),
        }
    }

    /// A member in good standing asks again for committed offsets it never got.
    fn fetch_missing(&mut self, ctx: &mut CCtx<'_>) {
        let missing: Vec<TopicPartition> = self.positions.iter().filter(|(_, p)| **p == Position::FetchingCommitted).map(|(tp, _)| tp.clone()).collect();
        if !missing.is_empty() && !self.group_in_flight(GroupRequest::OffsetFetch) {
            self.fetch_committed(ctx, missing);
        }
    }

    fn retry_later(&mut self, ctx: &mut CCtx<'_>) {
        let backoff = self.backoff_timer();
        ctx.set_timer(NodeTimer::Consumer(ConsumerTimer::Rejoin), backoff);
    }

    /// After a backoff: find the coordinator or join, whichever is due.
    pub(crate) fn rejoin(&mut self, ctx: &mut CCtx<'_>) {
        let Some(m) = &self.membership else { return };
        match (m.coordinator, m.phase) {
            (None, _) => self.find_coordinator(ctx),
            (Some(_), Phase::Stable) => self.fetch_missing(ctx),
            (Some(_), _) => self.join(ctx),
        }
    }

    fn on_join_response(&mut self, ctx: &mut CCtx<'_>, r: JoinGroupResponse) {
        match r.error_code {
            ErrorCode::None => {}
            ErrorCode::MemberIdRequired => {
                self.member().member_id = r.member_id;
                return self.join(ctx);
            }
            other => return self.on_rebalance_error(ctx, other, "JoinGroup"),
        }
        let group = self.group_id();
        let m = self.member();
        m.generation = r.generation_id;
        m.member_id = r.member_id.clone();
        m.phase = Phase::Syncing;
        let owned = m.assignment.clone();
        ctx.observe(Observation::Joined { group, generation: r.generation_id, member_id: r.member_id.clone(), owned });
        m.assignment_snapshot = None;
        if r.leader == r.member_id {
            // The leader watches every topic of the group's subscription from now on, and
            // needs their metadata before it can assign (Java's `ensureFreshMetadata`).
            let mut topics: Vec<String> = r.members.iter().flat_map(|(_, s)| s.topics.iter().cloned()).collect();
            topics.sort();
            topics.dedup();
            self.group_topics = topics.iter().filter(|t| !self.subscription.contains(t)).cloned().collect();
            if let Some(missing) = topics.iter().find(|t| !self.partition_counts.contains_key(*t)) {
                let t = missing.clone();
                ctx.explain(|| format!("group leader: another member subscribes to {t}; asks for its metadata before assigning"));
                self.member().pending_assignment = Some(r);
                self.metadata_wanted = true;
                return self.request_metadata(ctx);
            }
        }
        self.sync_group(ctx, r);
    }

    /// Sends SyncGroup; the leader first runs the assignor and keeps the partition counts it used.
    pub(crate) fn sync_group(&mut self, ctx: &mut CCtx<'_>, r: JoinGroupResponse) {
        let Some(coordinator) = self.membership.as_ref().and_then(|m| m.coordinator) else { return self.find_coordinator(ctx) };
        let assignments = if r.leader == r.member_id {
            let assignments = self.run_assignor(ctx, &r);
            let topics: std::collections::BTreeSet<&String> = r.members.iter().flat_map(|(_, s)| s.topics.iter()).collect();
            let snapshot = topics.into_iter().filter_map(|t| self.partition_counts.get(t).map(|n| (t.clone(), *n))).collect();
            self.member().assignment_snapshot = Some(snapshot);
            assignments
        } else {
            vec![]
        };
        let (group_id, generation_id, member_id) = (self.group_id(), r.generation_id, r.member_id);
        self.request(ctx, coordinator, Pending::Group(coordinator, GroupRequest::Sync), |c| {
            Msg::SyncGroupRequest(SyncGroupRequest { correlation_id: c, group_id, generation_id, member_id, assignments })
        });
    }

    /// The leader's job: assign the topic's partitions among the members with the chosen
    /// assignor, in this client's flavour.
    fn run_assignor(&self, ctx: &mut CCtx<'_>, r: &JoinGroupResponse) -> Vec<(String, Vec<TopicPartition>)> {
        let strategy = match r.protocol_name.as_deref() {
            Some("roundrobin") => Strategy::RoundRobin,
            Some("sticky") => Strategy::Sticky,
            Some("cooperative-sticky") => Strategy::CooperativeSticky,
            _ => Strategy::Range,
        };
        let flavor = match self.config.client {
            Client::Java => Flavor::Java,
            Client::Sarama => Flavor::Sarama,
        };
        let bugs = self.config.group.as_ref().map(|g| g.assignor_bugs).unwrap_or_default();
        let topics = r.members.iter().flat_map(|(_, s)| s.topics.iter()).map(|t| (t.clone(), self.partition_counts.get(t).copied().unwrap_or(0))).collect();
        let members: Vec<MemberSubscription> = r
            .members
            .iter()
            .map(|(id, s)| MemberSubscription {
                member_id: id.clone(),
                topics: s.topics.clone(),
                owned: s.owned_partitions.iter().map(|tp| (tp.topic.to_string(), tp.partition)).collect(),
                generation: s.generation_id,
            })
            .collect();
        let result = assign_with(strategy, flavor, bugs, &topics, &members);
        let (gen, n) = (r.generation_id, members.len());
        ctx.explain(|| {
            let tps = |ps: &[(String, i32)]| ps.iter().map(|(t, p)| format!("{t}-{p}")).collect::<Vec<_>>().join(", ");
            let claims: Vec<String> = members
                .iter()
                .map(|m| match m.generation {
                    Some(g) if g >= 0 && !m.owned.is_empty() => format!("{} owned [{}] in generation {g}", m.member_id, tps(&m.owned)),
                    _ => format!("{} owned nothing", m.member_id),
                })
                .collect();
            let plan: Vec<String> = result.iter().map(|(m, ps)| format!("{m} ← [{}]", tps(ps))).collect();
            format!("leader of generation {gen}: {strategy} assignor over {n} members ({}): {}", claims.join("; "), plan.join("; "))
        });
        result.into_iter().map(|(m, parts)| (m, parts.into_iter().map(|(t, p)| TopicPartition::new(t, p)).collect())).collect()
    }

    fn on_sync_response(&mut self, ctx: &mut CCtx<'_>, r: SyncGroupResponse) {
        if r.error_code != ErrorCode::None {
            return self.on_rebalance_error(ctx, r.error_code, "SyncGroup");
        }
        let group = self.group_id();
        let cooperative = self.cooperative();
        let m = self.member();
        if m.phase != Phase::Syncing {
            return; // a stale answer: the member moved on (fenced or left) meanwhile
        }
        let owned = std::mem::take(&mut m.assignment);
        let owned_generation = m.owned_generation;
        m.phase = Phase::Stable;
        m.assignment = r.assignment.clone();
        m.owned_generation = m.generation;
        let (generation, member_id) = (m.generation, m.member_id.clone());
        // Eager members own nothing here; a cooperative one revokes only what moved.
        let revoked: Vec<TopicPartition> = owned.iter().filter(|tp| !r.assignment.contains(tp)).cloned().collect();
        if !revoked.is_empty() {
            if self.config.commit_style.on_timer() || self.config.commit_style == CommitStyle::Sync {
                let offsets = self.commit_set(&revoked);
                self.commit_now(ctx, offsets, false);
            }
            self.drop_partitions(&revoked);
            ctx.observe(Observation::Revoked { group: group.clone(), generation: owned_generation, partitions: revoked.clone(), lost: false });
        }
        ctx.observe(Observation::Assigned { group, generation, member_id, partitions: r.assignment.clone() });
        ctx.explain(|| {
            let then = if revoked.is_empty() { String::new() } else { format!("; revokes {} and rejoins", list(&revoked)) };
            format!("generation {generation}: assigned [{}]{then}", list(&r.assignment))
        });
        let added: Vec<TopicPartition> = r.assignment.iter().filter(|tp| !owned.contains(tp)).cloned().collect();
        for tp in &added {
            self.positions.insert(tp.clone(), Position::FetchingCommitted);
        }
        self.fetch_committed(ctx, added);
        if cooperative && !revoked.is_empty() {
            self.member().rejoin = Some(Rejoin::Rebalance);
        }
        self.poll(ctx);
    }

    fn fetch_committed(&mut self, ctx: &mut CCtx<'_>, partitions: Vec<TopicPartition>) {
        let Some(coordinator) = self.membership.as_ref().and_then(|m| m.coordinator) else { return };
        if partitions.is_empty() {
            return self.poll(ctx);
        }
        let group_id = self.group_id();
        self.offset_fetch_asked_at = ctx.now();
        self.request(ctx, coordinator, Pending::Group(coordinator, GroupRequest::OffsetFetch), |c| {
            Msg::OffsetFetchRequest(OffsetFetchRequest { correlation_id: c, group_id, partitions })
        });
    }

    fn on_offset_fetch(&mut self, ctx: &mut CCtx<'_>, mut r: OffsetFetchResponse) {
        let load_as_empty = self.config.group.as_ref().is_some_and(|g| g.reset_on_load_in_progress);
        if r.error_code == ErrorCode::CoordinatorLoadInProgress && load_as_empty {
            // The bug switch: the answer's offsets (-1 in each partition, as OffsetFetch v0-v1
            // carried a per-partition error) are read, the error is not.
            ctx.mark("consumer.offset_fetch.load_in_progress_as_empty");
            ctx.explain(|| "OffsetFetch: COORDINATOR_LOAD_IN_PROGRESS taken for \"no committed offset\" (bug switch reset-on-load-in-progress)".into());
            let asked: Vec<TopicPartition> = self.positions.iter().filter(|(_, p)| **p == Position::FetchingCommitted).map(|(tp, _)| tp.clone()).collect();
            r.offsets = asked.into_iter().map(|tp| (tp, Offset(-1))).collect();
            r.error_code = ErrorCode::None;
        }
        if r.error_code != ErrorCode::None {
            return self.on_rebalance_error(ctx, r.error_code, "OffsetFetch");
        }
        let reset = self.config.auto_offset_reset;
        let mut none = Vec::new();
        for (tp, offset) in r.offsets {
            if self.positions.get(&tp) != Some(&Position::FetchingCommitted) {
                continue;
            }
            let pos = if offset.0 >= 0 {
                ctx.observe(Observation::PositionSet { partition: tp.clone(), offset, reason: PositionReason::Committed });
                self.set_processed(&tp, offset);
                self.marked.remove(&tp);
                Position::At(offset)
            } else {
                let t = tp.clone();
                none.push(tp.clone());
                ctx.explain(|| format!("{t}: the group has no committed offset; auto.offset.reset={}", format!("{reset:?}").to_lowercase()));
                match reset {
                    OffsetReset::Earliest => Position::Lookup(OffsetSpec::Earliest, PositionReason::Start),
                    OffsetReset::Latest => Position::Lookup(OffsetSpec::Latest, PositionReason::Start),
                    OffsetReset::None => Position::Stopped,
                }
            };
            self.positions.insert(tp, pos);
        }
        if !none.is_empty() {
            ctx.observe(Observation::NoCommittedOffset { group: self.group_id(), partitions: none, asked_at: self.offset_fetch_asked_at });
        }
        self.poll(ctx);
    }

    /// An error answering a JoinGroup, SyncGroup or OffsetFetch: the member is inside a
    /// rebalance (inside `poll()`), so it acts at once.
    fn on_rebalance_error(&mut self, ctx: &mut CCtx<'_>, error: ErrorCode, what: &'static str) {
        match error {
            ErrorCode::None => {}
            ErrorCode::RebalanceInProgress | ErrorCode::IllegalGeneration | ErrorCode::UnknownMemberId => {
                self.fenced_or_rebalancing(ctx, error, what);
                self.poll(ctx);
            }
            ErrorCode::CoordinatorLoadInProgress => {
                ctx.explain(|| format!("{what}: COORDINATOR_LOAD_IN_PROGRESS: retries after retry.backoff.ms"));
                if self.member().phase == Phase::Syncing {
                    self.member().phase = Phase::Joining;
                }
                self.retry_later(ctx);
            }
            ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable => {
                ctx.explain(|| format!("{what}: {error}: looking for the coordinator again"));
                self.member().coordinator = None;
                if self.member().phase == Phase::Syncing {
                    self.member().phase = Phase::Joining;
                }
                self.retry_later(ctx);
            }
            _ => self.retry_later(ctx),
        }
    }

    /// An error answering a Heartbeat or an OffsetCommit: noted now, acted on at the next poll.
    fn on_background_error(&mut self, ctx: &mut CCtx<'_>, error: ErrorCode, what: &'static str) {
        match error {
            ErrorCode::None => {}
            ErrorCode::RebalanceInProgress | ErrorCode::IllegalGeneration | ErrorCode::UnknownMemberId => {
                if self.membership.as_ref().is_some_and(|m| m.standalone) {
                    return;
                }
                self.fenced_or_rebalancing(ctx, error, what);
                if self.config.client == Client::Sarama {
                    // The session ends: the handler returns after the message in hand.
                    let keep = usize::from(self.processing);
                    self.queue.truncate(keep);
                }
                self.poll(ctx);
            }
            ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable => {
                ctx.explain(|| format!("{what}: {error}: looking for the coordinator again"));
                self.member().coordinator = None;
                self.retry_later(ctx);
            }
            _ => {}
        }
    }

    /// Notes a rebalance or a fencing for the next poll. Fencing resets the generation (and the
    /// member id after UNKNOWN_MEMBER_ID) at once, as the client's state does.
    fn fenced_or_rebalancing(&mut self, ctx: &mut CCtx<'_>, error: ErrorCode, what: &'static str) {
        let (phase, assignment) = {
            let m = self.member();
            (m.phase, m.assignment.clone())
        };
        if phase == Phase::FindingCoordinator {
            return;
        }
        self.member().pending_assignment = None;
        let reason = if error == ErrorCode::RebalanceInProgress {
            let when = if self.config.client == Client::Sarama { "the session ends (the handler finishes the message in hand), then it rejoins" } else { "rejoins at the next poll()" };
            ctx.explain(|| format!("{what}: REBALANCE_IN_PROGRESS: {when}"));
            Rejoin::Rebalance
        } else {
            ctx.mark("consumer.fenced");
            ctx.explain(|| format!("{what}: {error}: this member was fenced; its partitions are lost"));
            if self.config.client == Client::Sarama && phase == Phase::Stable {
                // The session ends; release() flushes the marks with the session's (stale)
                // member id and generation.
                let offsets = self.commit_set(&assignment);
                self.commit_now(ctx, offsets, false);
            }
            let m = self.member();
            if error == ErrorCode::UnknownMemberId {
                m.member_id.clear();
            }
            if phase == Phase::Stable {
                m.previous = (assignment, m.owned_generation);
            }
            m.generation = -1;
            Rejoin::Lost
        };
        let m = self.member();
        if m.phase == Phase::Syncing {
            m.phase = Phase::Joining;
        }
        m.rejoin = m.rejoin.max(Some(reason));
    }

    /// `poll()` in a group: the poll timer restarts; a SyncGroup answer waiting for the
    /// application is applied; a rejoin that is due happens. Returns whether to stop there.
    pub(crate) fn poll_in_group(&mut self, ctx: &mut CCtx<'_>) -> bool {
        ctx.cancel_timer(NodeTimer::Consumer(ConsumerTimer::PollTimeout));
        if std::mem::take(&mut self.member().auto_commit_due) && self.member().is_stable() {
            let owned = self.member().assignment.clone();
            let offsets = self.commit_set(&owned);
            self.commit_now(ctx, offsets, false);
        }
        if let Some(r) = self.member().pending_sync.take() {
            self.on_sync_response(ctx, r);
            return true;
        }
        let resubscribed = self.membership.as_ref().is_some_and(|m| m.is_stable() && !m.standalone && m.joined_subscription != self.subscription);
        if resubscribed {
            let m = self.member();
            m.rejoin = m.rejoin.max(Some(Rejoin::Rebalance));
        }
        let Some(reason) = self.member().rejoin.take() else { return false };
        let group = self.group_id();
        let cooperative = self.cooperative();
        let m = self.member();
        let partitions = m.assignment.clone();
        let generation = m.owned_generation;
        if reason == Rejoin::Rebalance && !std::mem::take(&mut m.committed_for_rejoin) {
            // onJoinPrepare commits synchronously first (auto-commit, or the commit in
            // onPartitionsRevoked; sarama flushes its marks): the join waits for the answer.
            let commits = if cooperative { self.config.commit_style.on_timer() } else { self.config.commit_style != CommitStyle::Async };
            if commits {
                let offsets = self.commit_set(&partitions);
                self.commit_now(ctx, offsets, true);
                if self.awaiting_commit.is_some() {
                    let m = self.member();
                    m.rejoin = Some(reason);
                    m.committed_for_rejoin = true;
                    return true;
                }
            }
        }
        match reason {
            Rejoin::Lost => {
                let m = self.member();
                m.assignment.clear();
                if !partitions.is_empty() {
                    ctx.observe(Observation::Revoked { group, generation, partitions: partitions.clone(), lost: true });
                }
                self.drop_partitions(&partitions);
            }
            // Cooperative: the partitions stay, but those of topics no longer subscribed to.
            Rejoin::Rebalance if cooperative => {
                let dropped: Vec<TopicPartition> = partitions.iter().filter(|tp| !self.subscription.iter().any(|t| *t == tp.topic)).cloned().collect();
                if !dropped.is_empty() {
                    self.member().assignment.retain(|tp| !dropped.contains(tp));
                    ctx.observe(Observation::Revoked { group, generation, partitions: dropped.clone(), lost: false });
                    self.drop_partitions(&dropped);
                }
            }
            Rejoin::Rebalance => {
                // Eager: revoke everything (onPartitionsRevoked).
                let m = self.member();
                m.assignment.clear();
                m.previous = (partitions.clone(), generation);
                if !partitions.is_empty() {
                    ctx.observe(Observation::Revoked { group, generation, partitions: partitions.clone(), lost: false });
                }
                self.drop_partitions(&partitions);
            }
        }
        // Out of onJoinPrepare, whichever way it ended (a commit for a rebalance may be answered
        // with a fencing error that turns the rejoin into a lost one): fetched records are
        // handed to the application again.
        let m = self.member();
        m.committed_for_rejoin = false;
        m.phase = Phase::Joining;
        self.join(ctx);
        false
    }

    /// Forgets everything about partitions the member no longer owns.
    fn drop_partitions(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.positions.remove(tp);
            self.processed.remove(tp);
            self.marked.remove(tp);
            if let Some(m) = self.membership.as_mut() {
                m.clean.remove(tp);
            }
        }
        self.queue.retain(|(tp, _)| !partitions.contains(tp));
    }

    /// `max.poll.interval.ms` passed while the application processed the last poll's records:
    /// the Java heartbeat thread sends LeaveGroup. The application goes on processing.
    pub(crate) fn poll_timeout(&mut self, ctx: &mut CCtx<'_>) {
        let Some(m) = self.membership.as_mut() else { return };
        if m.standalone || m.member_id.is_empty() {
            return;
        }
        ctx.mark("consumer.poll_timeout");
        let ms = self.config.group.as_ref().and_then(|g| g.max_poll_interval_ms).unwrap_or_default();
        ctx.explain(|| format!("max.poll.interval.ms ({ms} ms) passed since the last poll: leaves the group; its partitions are lost"));
        let (group_id, member_id) = (self.group_id(), std::mem::take(&mut self.member().member_id));
        let m = self.member();
        if m.phase == Phase::Stable {
            m.previous = (m.assignment.clone(), m.owned_generation);
        }
        m.generation = -1;
        m.phase = Phase::Joining;
        m.rejoin = Some(Rejoin::Lost);
        if let Some(coordinator) = m.coordinator {
            self.request(ctx, coordinator, Pending::Group(coordinator, GroupRequest::Leave), |c| {
                Msg::LeaveGroupRequest(LeaveGroupRequest { correlation_id: c, group_id, member_id })
            });
        }
    }

    pub(crate) fn heartbeat(&mut self, ctx: &mut CCtx<'_>) {
        let Some(settings) = self.config.group.clone() else { return };
        ctx.set_timer(NodeTimer::Consumer(ConsumerTimer::Heartbeat), SimDuration::from_millis(settings.heartbeat_interval_ms));
        let Some(m) = &self.membership else { return };
        let (Some(coordinator), Phase::Stable) = (m.coordinator, m.phase) else { return };
        if self.group_in_flight(GroupRequest::Heartbeat) {
            return;
        }
        let (generation_id, member_id) = (m.generation, m.member_id.clone());
        self.request(ctx, coordinator, Pending::Group(coordinator, GroupRequest::Heartbeat), |c| {
            Msg::HeartbeatRequest(HeartbeatRequest { correlation_id: c, group_id: settings.group_id, generation_id, member_id })
        });
    }

    /// The background commit: Java's auto-commit, sarama's offset manager tick.
    pub(crate) fn auto_commit(&mut self, ctx: &mut CCtx<'_>) {
        let Some(settings) = self.config.group.clone() else { return };
        ctx.set_timer(NodeTimer::Consumer(ConsumerTimer::AutoCommit), SimDuration::from_millis(settings.auto_commit_interval_ms));
        if self.config.client == Client::Java && self.config.commit_style == CommitStyle::Auto && self.busy() {
            // Java commits inside poll(): after the application's current batch.
            self.member().auto_commit_due = true;
            return;
        }
        let Some(m) = &self.membership else { return };
        // sarama's offset manager commits with whatever generation it has, even a stale one.
        if m.is_stable() || (self.config.client == Client::Sarama && !m.member_id.is_empty()) || m.standalone {
            let partitions = m.assignment.clone();
            let offsets = self.commit_set(&partitions);
            self.commit_now(ctx, offsets, false);
        }
    }

    /// What a commit of `partitions` carries in this commit style: the processed positions, or
    /// the dirty marks.
    fn commit_set(&self, partitions: &[TopicPartition]) -> Vec<(TopicPartition, Offset)> {
        let clean = self.membership.as_ref().map(|m| &m.clean);
        partitions
            .iter()
            .filter_map(|tp| {
                if self.config.commit_style.commits_marks() {
                    let o = *self.marked.get(tp)?;
                    (clean.and_then(|c| c.get(tp)) != Some(&o)).then(|| (tp.clone(), o))
                } else {
                    self.processed.get(tp).map(|o| (tp.clone(), *o))
                }
            })
            .collect()
    }

    /// commitSync/commitAsync of the processed positions of every owned partition.
    pub(crate) fn commit_processed(&mut self, ctx: &mut CCtx<'_>, sync: bool) {
        let owned = self.membership.as_ref().map(|m| m.assignment.clone()).unwrap_or_default();
        let offsets = self.commit_set(&owned);
        self.commit_now(ctx, offsets, sync);
    }

    /// Sends an OffsetCommit with this member's generation (−1 and no member id when
    /// standalone). A member that is not in a generation cannot commit (the Java client throws
    /// CommitFailedException without sending). With `sync`, the application waits for the answer.
    pub(crate) fn commit_now(&mut self, ctx: &mut CCtx<'_>, offsets: Vec<(TopicPartition, Offset)>, sync: bool) {
        let Some(m) = &self.membership else { return };
        let Some(coordinator) = m.coordinator else { return };
        if offsets.is_empty() || (!m.standalone && m.member_id.is_empty()) {
            return;
        }
        let (generation_id, member_id) = if m.standalone { (-1, String::new()) } else { (m.generation, m.member_id.clone()) };
        if generation_id < 0 && !m.standalone && self.config.client == Client::Java {
            return;
        }
        let group_id = self.group_id();
        let kept = offsets.clone();
        ctx.observe(Observation::CommitRequested { group: group_id.clone(), generation: generation_id, offsets: offsets.clone() });
        self.request(ctx, coordinator, Pending::Group(coordinator, GroupRequest::Commit), |c| {
            Msg::OffsetCommitRequest(OffsetCommitRequest { correlation_id: c, group_id, generation_id, member_id, offsets })
        });
        let corr = self.pending.keys().next_back().copied().expect("just sent");
        self.member().commits.insert(corr, (generation_id, kept));
        if sync {
            self.awaiting_commit = Some(corr);
        }
    }

    /// Records an OffsetCommit's outcome in the history: the coordinator's answer, or the
    /// request's loss. A `commitSync()` waiting for it returns.
    fn commit_answered(&mut self, ctx: &mut CCtx<'_>, corr: u64, error: ErrorCode) {
        let group = self.group_id();
        let Some((generation, offsets)) = self.membership.as_mut().and_then(|m| m.commits.remove(&corr)) else { return };
        if error == ErrorCode::None {
            let m = self.member();
            for (tp, o) in &offsets {
                m.clean.insert(tp.clone(), *o);
            }
        }
        ctx.observe(Observation::Committed { group, generation, offsets, error });
        if self.awaiting_commit == Some(corr) {
            self.awaiting_commit = None;
            if self.queue.is_empty() && !self.processing {
                self.poll(ctx);
            } else {
                self.process_next(ctx);
            }
        }
    }

    /// A graceful close: commit (with auto-commit, or the marks) and leave the group.
    pub(crate) fn leave_group(&mut self, ctx: &mut CCtx<'_>) {
        let Some(m) = &self.membership else { return };
        if m.coordinator.is_none() {
            return;
        }
        if m.is_stable() && self.config.commit_style != CommitStyle::Async {
            let owned = m.assignment.clone();
            let offsets = self.commit_set(&owned);
            if self.config.commit_style != CommitStyle::Auto || self.config.group.as_ref().is_some_and(|g| g.enable_auto_commit) {
                self.commit_now(ctx, offsets, false);
            }
        }
        let m = self.membership.as_ref().expect("member");
        let (Some(coordinator), group_id, member_id) = (m.coordinator, self.group_id(), m.member_id.clone()) else { return };
        if member_id.is_empty() || m.standalone {
            return;
        }
        self.request(ctx, coordinator, Pending::Group(coordinator, GroupRequest::Leave), |c| {
            Msg::LeaveGroupRequest(LeaveGroupRequest { correlation_id: c, group_id, member_id })
        });
    }

    /// A group request got no answer (timeout or disconnect).
    pub(crate) fn group_request_lost(&mut self, ctx: &mut CCtx<'_>, corr: u64, kind: GroupRequest) {
        match kind {
            GroupRequest::Commit => {
                self.commit_answered(ctx, corr, ErrorCode::RequestTimedOut);
                self.on_background_error(ctx, ErrorCode::NotCoordinator, "OffsetCommit");
            }
            GroupRequest::Leave => {}
            GroupRequest::OffsetFetch => {
                // Ask again once the coordinator is back.
                // Asked again once the coordinator is found (on_find_coordinator).
                self.member().coordinator = None;
                self.retry_later(ctx);
            }
            GroupRequest::Heartbeat => self.on_background_error(ctx, ErrorCode::NotCoordinator, "Heartbeat"),
            _ => self.on_rebalance_error(ctx, ErrorCode::NotCoordinator, "group request"),
        }
    }
}

/// `a-0, a-1` for explanations.
fn list(partitions: &[TopicPartition]) -> String {
    partitions.iter().map(|tp| tp.to_string()).collect::<Vec<_>>().join(", ")
}
