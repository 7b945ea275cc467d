//! The consumer's side of the classic group protocol, eager rebalancing (Java's range,
//! roundrobin and sticky assignors; reference A.9):
//!
//! 1. FindCoordinator, then JoinGroup (twice for a new member: KIP-394's MEMBER_ID_REQUIRED).
//! 2. The leader runs the assignor over the members' subscriptions; everyone sends SyncGroup.
//! 3. With its assignment, the member asks OffsetFetch for the committed offsets and starts where
//!    they point (or where `auto.offset.reset` says when nothing is committed).
//! 4. It heartbeats every `heartbeat.interval.ms`; REBALANCE_IN_PROGRESS starts the next round:
//!    with auto-commit it first commits its positions (generation N may still commit during
//!    PreparingRebalance), then revokes every partition and joins again.
//! 5. ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID mean it was fenced: it revokes and rejoins (with a
//!    fresh member id after UNKNOWN_MEMBER_ID). NOT_COORDINATOR sends it back to step 1.
//!
//! Auto-commit commits the positions of every assigned partition: just past the last record a
//! poll returned, as Java's `allConsumed()` does.

use serde::Serialize;

use super::actor::Ctx;
use super::assignor::{assign, Flavor, MemberSubscription, Strategy};
use super::consumer::{CommitStyle, Consumer, ConsumerTimer, GroupRequest, Pending, Position};
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

/// A consumer's membership of its group.
#[derive(Clone, Debug, Serialize)]
pub struct Membership {
    pub phase: Phase,
    pub coordinator: Option<NodeId>,
    pub member_id: String,
    pub generation: i32,
    pub assignment: Vec<TopicPartition>,
    /// The assignment given up at the last rebalance and its generation: an eager member revokes
    /// everything before it joins, yet the sticky assignor needs to know what it had (Java's
    /// StickyAssignor sends it as user data).
    pub previous: (Vec<TopicPartition>, i32),
    /// OffsetCommits in flight: correlation id → (generation, offsets).
    #[serde(skip)]
    commits: std::collections::BTreeMap<u64, (i32, Vec<(TopicPartition, Offset)>)>,
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

    fn member(&mut self) -> &mut Membership {
        self.membership.as_mut().expect("a group consumer has a membership")
    }

    pub(crate) fn start_membership(&mut self, ctx: &mut CCtx<'_>) {
        self.membership = Some(Membership {
            phase: Phase::FindingCoordinator,
            coordinator: None,
            member_id: String::new(),
            generation: -1,
            assignment: vec![],
            previous: (vec![], -1),
            commits: Default::default(),
        });
        let g = self.group_id();
        ctx.explain(|| format!("subscribes to {} in group {g}", self.config.topic));
        self.find_coordinator(ctx);
        let settings = self.config.group.clone().expect("group");
        ctx.set_timer(NodeTimer::Consumer(ConsumerTimer::Heartbeat), SimDuration::from_millis(settings.heartbeat_interval_ms));
        if settings.enable_auto_commit {
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
        let (owned, owned_generation) = if m.assignment.is_empty() { m.previous.clone() } else { (m.assignment.clone(), m.generation) };
        let member_id = m.member_id.clone();
        let subscription = Subscription { topics: vec![self.config.topic.clone()], owned_partitions: owned, generation_id: Some(owned_generation) };
        let req = |c| {
            Msg::JoinGroupRequest(JoinGroupRequest {
                correlation_id: c,
                group_id: settings.group_id.clone(),
                session_timeout_ms: settings.session_timeout_ms,
                rebalance_timeout_ms: settings.rebalance_timeout_ms,
                member_id,
                client_id: self.config.name.clone(),
                protocol_type: "consumer".into(),
                protocols: settings.assignors.iter().map(|a| (a.clone(), subscription.clone())).collect(),
            })
        };
        let msg = req(0);
        self.request(ctx, coordinator, Pending::Group(coordinator, GroupRequest::Join), |c| match msg {
            Msg::JoinGroupRequest(mut r) => {
                r.correlation_id = c;
                Msg::JoinGroupRequest(r)
            }
            other => other,
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
        if let Msg::OffsetCommitResponse(r) = &msg {
            let error = r.partitions.first().map_or(ErrorCode::None, |(_, e)| *e);
            self.commit_answered(ctx, corr, error);
        }
        match (kind, msg) {
            (GroupRequest::FindCoordinator, Msg::FindCoordinatorResponse(r)) => self.on_find_coordinator(ctx, r),
            (GroupRequest::Join, Msg::JoinGroupResponse(r)) => self.on_join_response(ctx, r),
            (GroupRequest::Sync, Msg::SyncGroupResponse(r)) => self.on_sync_response(ctx, r),
            (GroupRequest::Heartbeat, Msg::HeartbeatResponse(r)) => self.on_group_error(ctx, r.error_code, "Heartbeat"),
            (GroupRequest::Commit, Msg::OffsetCommitResponse(_)) => {}
            (GroupRequest::OffsetFetch, Msg::OffsetFetchResponse(r)) => self.on_offset_fetch(ctx, r),
            _ => {}
        }
    }

    fn on_find_coordinator(&mut self, ctx: &mut CCtx<'_>, r: FindCoordinatorResponse) {
        match r.node {
            Some(node) if r.error_code == ErrorCode::None => {
                let g = self.group_id();
                ctx.explain(|| format!("the coordinator of group {g} is {node}"));
                self.member().coordinator = Some(node);
                if !self.member().is_stable() {
                    self.join(ctx);
                }
            }
            _ => self.retry_later(ctx),
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
            (Some(_), Phase::Stable) => {}
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
            other => return self.on_group_error(ctx, other, "JoinGroup"),
        }
        let m = self.member();
        m.generation = r.generation_id;
        m.member_id = r.member_id.clone();
        m.phase = Phase::Syncing;
        let coordinator = m.coordinator.expect("joined through a coordinator");
        let assignments = if r.leader == r.member_id { self.run_assignor(ctx, &r) } else { vec![] };
        let (group_id, generation_id, member_id) = (self.group_id(), r.generation_id, r.member_id);
        self.request(ctx, coordinator, Pending::Group(coordinator, GroupRequest::Sync), |c| {
            Msg::SyncGroupRequest(SyncGroupRequest { correlation_id: c, group_id, generation_id, member_id, assignments })
        });
    }

    /// The leader's job: assign the topic's partitions among the members with the chosen
    /// assignor.
    fn run_assignor(&self, ctx: &mut CCtx<'_>, r: &JoinGroupResponse) -> Vec<(String, Vec<TopicPartition>)> {
        let strategy = match r.protocol_name.as_deref() {
            Some("roundrobin") => Strategy::RoundRobin,
            Some("sticky") => Strategy::Sticky,
            Some("cooperative-sticky") => Strategy::CooperativeSticky,
            _ => Strategy::Range,
        };
        let topics = [(self.config.topic.clone(), self.partition_count.unwrap_or(0))].into_iter().collect();
        let members: Vec<MemberSubscription> = r
            .members
            .iter()
            .map(|(id, s)| MemberSubscription {
                member_id: id.clone(),
                topics: s.topics.clone(),
                owned: s.owned_partitions.iter().map(|tp| (tp.topic.clone(), tp.partition)).collect(),
                generation: s.generation_id,
            })
            .collect();
        let result = assign(strategy, Flavor::Java, &topics, &members);
        let (gen, n) = (r.generation_id, members.len());
        ctx.explain(|| format!("leader of generation {gen}: {strategy:?} assignment over {n} members: {result:?}"));
        result.into_iter().map(|(m, parts)| (m, parts.into_iter().map(|(t, p)| TopicPartition::new(t, p)).collect())).collect()
    }

    fn on_sync_response(&mut self, ctx: &mut CCtx<'_>, r: SyncGroupResponse) {
        if r.error_code != ErrorCode::None {
            return self.on_group_error(ctx, r.error_code, "SyncGroup");
        }
        let group = self.group_id();
        let m = self.member();
        m.phase = Phase::Stable;
        m.assignment = r.assignment.clone();
        let (generation, member_id) = (m.generation, m.member_id.clone());
        ctx.observe(Observation::Assigned { group, generation, member_id, partitions: r.assignment.clone() });
        ctx.explain(|| format!("generation {generation}: assigned {:?}", r.assignment));
        for tp in &r.assignment {
            self.positions.insert(tp.clone(), Position::FetchingCommitted);
        }
        let coordinator = self.member().coordinator.expect("synced through a coordinator");
        let (group_id, partitions) = (self.group_id(), r.assignment);
        if !partitions.is_empty() {
            self.request(ctx, coordinator, Pending::Group(coordinator, GroupRequest::OffsetFetch), |c| {
                Msg::OffsetFetchRequest(OffsetFetchRequest { correlation_id: c, group_id, partitions })
            });
        }
    }

    fn on_offset_fetch(&mut self, ctx: &mut CCtx<'_>, r: OffsetFetchResponse) {
        if r.error_code != ErrorCode::None {
            return self.on_group_error(ctx, r.error_code, "OffsetFetch");
        }
        let reset = self.config.auto_offset_reset;
        for (tp, offset) in r.offsets {
            if self.positions.get(&tp) != Some(&Position::FetchingCommitted) {
                continue;
            }
            let pos = if offset.0 >= 0 {
                ctx.observe(Observation::PositionSet { partition: tp.clone(), offset, reason: PositionReason::Committed });
                self.set_processed(&tp, offset);
                Position::At(offset)
            } else {
                match reset {
                    super::consumer::OffsetReset::Earliest => Position::Lookup(OffsetSpec::Earliest, PositionReason::Start),
                    super::consumer::OffsetReset::Latest => Position::Lookup(OffsetSpec::Latest, PositionReason::Start),
                    super::consumer::OffsetReset::None => Position::Stopped,
                }
            };
            self.positions.insert(tp, pos);
        }
        self.poll_now(ctx);
    }

    /// The answer to every group error: rebalance, fence, or find the coordinator again.
    fn on_group_error(&mut self, ctx: &mut CCtx<'_>, error: ErrorCode, what: &'static str) {
        match error {
            ErrorCode::None => {}
            ErrorCode::RebalanceInProgress => {
                ctx.explain(|| format!("{what}: REBALANCE_IN_PROGRESS: rejoining"));
                self.prepare_rejoin(ctx, true);
                self.join(ctx);
            }
            ErrorCode::IllegalGeneration | ErrorCode::UnknownMemberId => {
                ctx.mark("consumer.fenced");
                ctx.explain(|| format!("{what}: {error}: this member was fenced; rejoining"));
                self.prepare_rejoin(ctx, false);
                if error == ErrorCode::UnknownMemberId {
                    self.member().member_id.clear();
                }
                self.member().generation = -1;
                self.join(ctx);
            }
            ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable | ErrorCode::CoordinatorLoadInProgress => {
                ctx.explain(|| format!("{what}: {error}: looking for the coordinator again"));
                self.member().coordinator = None;
                self.retry_later(ctx);
            }
            _ => self.retry_later(ctx),
        }
    }

    /// Eager rebalancing's `onJoinPrepare`: commit (if auto-commit and still a member in good
    /// standing), then revoke every partition.
    fn prepare_rejoin(&mut self, ctx: &mut CCtx<'_>, commit_first: bool) {
        if commit_first && self.config.group.as_ref().is_some_and(|g| g.enable_auto_commit) {
            self.commit_positions(ctx);
        }
        let group = self.group_id();
        let m = self.member();
        let partitions = std::mem::take(&mut m.assignment);
        m.phase = Phase::Joining;
        let generation = m.generation;
        m.previous = (partitions.clone(), generation);
        if !partitions.is_empty() {
            ctx.observe(Observation::Revoked { group, generation, partitions });
        }
        self.positions.clear();
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

    pub(crate) fn auto_commit(&mut self, ctx: &mut CCtx<'_>) {
        let Some(settings) = self.config.group.clone() else { return };
        ctx.set_timer(NodeTimer::Consumer(ConsumerTimer::AutoCommit), SimDuration::from_millis(settings.auto_commit_interval_ms));
        if self.membership.as_ref().is_some_and(|m| m.is_stable()) {
            self.commit_positions(ctx);
        }
    }

    /// OffsetCommit of every assigned partition's position, with this member's generation.
    fn commit_positions(&mut self, ctx: &mut CCtx<'_>) {
        let Some(m) = &self.membership else { return };
        let Some(coordinator) = m.coordinator else { return };
        let offsets: Vec<(TopicPartition, Offset)> = match self.config.commit_style {
            CommitStyle::Auto => self.positions.keys().filter_map(|tp| self.processed.get(tp).map(|o| (tp.clone(), *o))).collect(),
            CommitStyle::MarkBeforeProcess => self.positions.keys().filter_map(|tp| self.position(tp).map(|o| (tp.clone(), o))).collect(),
        };
        if offsets.is_empty() {
            return;
        }
        let (group_id, generation_id, member_id) = (self.group_id(), m.generation, m.member_id.clone());
        let kept = offsets.clone();
        ctx.observe(Observation::CommitRequested { group: group_id.clone(), generation: generation_id, offsets: offsets.clone() });
        self.request(ctx, coordinator, Pending::Group(coordinator, GroupRequest::Commit), |c| {
            Msg::OffsetCommitRequest(OffsetCommitRequest { correlation_id: c, group_id, generation_id, member_id, offsets })
        });
        let corr = self.pending.keys().next_back().copied().expect("just sent");
        self.member().commits.insert(corr, (generation_id, kept));
    }

    /// Records an OffsetCommit's outcome in the history: the coordinator's answer, or the
    /// request's loss.
    fn commit_answered(&mut self, ctx: &mut CCtx<'_>, corr: u64, error: ErrorCode) {
        let group = self.group_id();
        let Some((generation, offsets)) = self.membership.as_mut().and_then(|m| m.commits.remove(&corr)) else { return };
        ctx.observe(Observation::Committed { group, generation, offsets, error });
    }

    /// A graceful close: commit (with auto-commit) and leave the group.
    pub(crate) fn leave_group(&mut self, ctx: &mut CCtx<'_>) {
        let Some(m) = &self.membership else { return };
        let Some(coordinator) = m.coordinator else { return };
        if m.is_stable() && self.config.group.as_ref().is_some_and(|g| g.enable_auto_commit) {
            self.commit_positions(ctx);
        }
        let (group_id, member_id) = (self.group_id(), self.membership.as_ref().expect("member").member_id.clone());
        if member_id.is_empty() {
            return;
        }
        self.request(ctx, coordinator, Pending::Group(coordinator, GroupRequest::Leave), |c| {
            Msg::LeaveGroupRequest(LeaveGroupRequest { correlation_id: c, group_id, member_id })
        });
    }

    /// A group request got no answer (timeout or disconnect).
    pub(crate) fn group_request_lost(&mut self, ctx: &mut CCtx<'_>, corr: u64, kind: GroupRequest) {
        match kind {
            GroupRequest::Commit => self.commit_answered(ctx, corr, ErrorCode::RequestTimedOut),
            GroupRequest::Leave => {}
            GroupRequest::OffsetFetch => {
                // Ask again once the coordinator is back.
                for pos in self.positions.values_mut() {
                    if *pos == Position::FetchingCommitted {
                        *pos = Position::Lookup(OffsetSpec::Earliest, PositionReason::Start);
                    }
                }
                self.on_group_error(ctx, ErrorCode::NotCoordinator, "OffsetFetch");
            }
            _ => self.on_group_error(ctx, ErrorCode::NotCoordinator, "group request"),
        }
    }
}
