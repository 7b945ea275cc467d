//! The classic group coordinator's state machine for one group (reference A.2–A.7): members,
//! generations, the leader, protocol selection, and the Empty → PreparingRebalance →
//! CompletingRebalance → Stable cycle, with Kafka's rules for every request in every state.
//!
//! A [`Group`] is driven by its hosting broker: each request or timer is one call, and the group
//! answers through the broker's context (responses, timers, marks, explanations). Member ids are
//! `client_id-N` with a per-group counter where Kafka uses a UUID, so runs stay deterministic. The
//! leader is the first member added; when it leaves, the first remaining member by id (Kafka picks
//! from a hash map: any choice is faithful).
//!
//! Group metadata and committed offsets are written to `__consumer_offsets` by the hosting broker;
//! offset expiry (KIP-211) is in [`super::expiry`]. Not yet: static membership.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::protocol::*;
use crate::model::actor::Ctx;
use crate::model::broker::BrokerTimer;
use crate::model::ids::{NodeId, Offset, TopicPartition};
use crate::model::node::{KafkaNode, NodeTimer};
use crate::model::protocol::{ErrorCode, GroupMetadataValue, MemberMetadataValue, Msg};
use crate::model::time::SimDuration;

type GCtx<'a> = Ctx<'a, KafkaNode>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

/// The coordinator's timers for one group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum GroupTimer {
    /// `group.initial.rebalance.delay.ms` after the first join of an Empty group.
    InitialDelay,
    /// The rebalance timeout of the join phase (DelayedJoin).
    JoinDeadline,
    /// The rebalance timeout of the sync phase (DelayedSync, KAFKA-12890).
    SyncDeadline,
    /// A member's `session.timeout.ms`.
    Session(String),
    /// A member id handed out with MEMBER_ID_REQUIRED that never joined.
    PendingMember(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Member {
    pub member_id: String,
    pub client_id: String,
    pub protocols: Vec<(String, Subscription)>,
    pub session_timeout_ms: u64,
    pub rebalance_timeout_ms: u64,
    /// A JoinGroup parked until the join phase completes: (from, correlation id).
    #[serde(skip)]
    pub awaiting_join: Option<(NodeId, u64)>,
    #[serde(skip)]
    pub awaiting_sync: Option<(NodeId, u64)>,
    pub assignment: Vec<TopicPartition>,
    /// Joined in the current rebalance and never in a generation: it may wait for the join
    /// phase up to [`NEW_MEMBER_JOIN_TIMEOUT_MS`], not its session timeout.
    pub is_new: bool,
}

/// Kafka's `GroupCoordinator.NewMemberJoinTimeoutMs`: how long a new member's JoinGroup may be
/// parked before the member is dropped.
pub const NEW_MEMBER_JOIN_TIMEOUT_MS: u64 = 300_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms` (3000)
    pub initial_rebalance_delay_ms: u64,
    /// Bug switch (D-10): accept commits without checking member id and generation.
    pub unfenced_commits: bool,
    /// Bug switch `KAFKA-13636` (D-16): expire offsets by the cached subscribed topics whatever
    /// the group's state.
    pub kafka_13636: bool,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig { initial_rebalance_delay_ms: 3_000, unfenced_commits: false, kafka_13636: false }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Group {
    pub group_id: String,
    pub state: GroupState,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: Option<String>,
    pub members: BTreeMap<String, Member>,
    pub pending_members: BTreeSet<String>,
    /// Committed offsets: the last commit appended wins (no monotonicity check, reference A.6).
    pub offsets: BTreeMap<TopicPartition, Offset>,
    /// Each committed offset's `commitTimestamp`: the coordinator's wall clock when it took the
    /// commit.
    pub commit_timestamps_ms: BTreeMap<TopicPartition, u64>,
    /// `subscribedTopics`: the topics the members subscribed to, computed when a generation
    /// starts (the empty set when the group went Empty; `None` before the first generation or
    /// for a protocol other than `consumer`).
    pub subscribed_topics: Option<BTreeSet<String>>,
    /// `currentStateTimestamp`: the coordinator's wall clock at the last state change.
    pub state_since_ms: Option<u64>,
    #[serde(skip)]
    pub(crate) config: GroupConfig,
    /// A generation's metadata waiting to be written by the hosting broker.
    #[serde(skip)]
    metadata_to_write: Option<GroupMetadataValue>,
    next_member: u64,
    /// Members that joined while the initial delay ran (it extends while they keep coming).
    joined_during_delay: bool,
    initial_delay_total_ms: u64,
}

impl Group {
    pub fn new(group_id: impl Into<String>, config: GroupConfig) -> Self {
        Group {
            group_id: group_id.into(),
            state: GroupState::Empty,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            members: BTreeMap::new(),
            pending_members: BTreeSet::new(),
            offsets: BTreeMap::new(),
            commit_timestamps_ms: BTreeMap::new(),
            subscribed_topics: None,
            state_since_ms: None,
            config,
            metadata_to_write: None,
            next_member: 0,
            joined_during_delay: false,
            initial_delay_total_ms: 0,
        }
    }

    fn timer(&self, t: GroupTimer) -> NodeTimer {
        NodeTimer::Broker(BrokerTimer::Group(self.group_id.clone(), t))
    }

    fn rebalance_timeout(&self) -> SimDuration {
        SimDuration::from_millis(self.members.values().map(|m| m.rebalance_timeout_ms).max().unwrap_or(0))
    }

    fn transition(&mut self, ctx: &mut GCtx<'_>, to: GroupState) {
        let from = self.state;
        self.state = to;
        self.state_since_ms = Some(ctx.wall_clock_ms());
        ctx.mark(match to {
            GroupState::Empty => "group.state.empty",
            GroupState::PreparingRebalance => "group.state.preparing_rebalance",
            GroupState::CompletingRebalance => "group.state.completing_rebalance",
            GroupState::Stable => "group.state.stable",
            GroupState::Dead => "group.state.dead",
        });
        let (g, gen) = (self.group_id.clone(), self.generation_id);
        ctx.explain(|| format!("group {g}: {from:?} → {to:?} (generation {gen})"));
    }

    fn reset_session(&self, ctx: &mut GCtx<'_>, member: &str) {
        if let Some(m) = self.members.get(member) {
            ctx.set_timer(self.timer(GroupTimer::Session(member.to_string())), SimDuration::from_millis(m.session_timeout_ms));
        }
    }

    pub fn on_join(&mut self, ctx: &mut GCtx<'_>, from: NodeId, req: JoinGroupRequest) {
        let reply = |ctx: &mut GCtx<'_>, error_code, member_id: String| {
            let resp = JoinGroupResponse {
                correlation_id: req.correlation_id,
                error_code,
                generation_id: -1,
                protocol_name: None,
                leader: String::new(),
                member_id,
                members: vec![],
            };
            ctx.send(from, Msg::JoinGroupResponse(resp));
        };
        if self.state == GroupState::Dead {
            return reply(ctx, ErrorCode::CoordinatorNotAvailable, req.member_id.clone());
        }
        if !self.supports(&req) {
            ctx.mark("group.join.inconsistent_protocol");
            return reply(ctx, ErrorCode::InconsistentGroupProtocol, req.member_id.clone());
        }
        if req.member_id.is_empty() {
            // KIP-394: hand out an id, and wait for the member to join again with it.
            self.next_member += 1;
            let id = format!("{}-{}", req.client_id, self.next_member);
            self.pending_members.insert(id.clone());
            ctx.set_timer(self.timer(GroupTimer::PendingMember(id.clone())), SimDuration::from_millis(req.session_timeout_ms));
            ctx.mark("group.join.member_id_required");
            return reply(ctx, ErrorCode::MemberIdRequired, id);
        }
        let member_id = req.member_id.clone();
        if self.pending_members.remove(&member_id) {
            ctx.cancel_timer(self.timer(GroupTimer::PendingMember(member_id.clone())));
            self.add_member(ctx, from, &req);
            return self.join_phase(ctx, format!("{member_id} joined"));
        }
        let Some(member) = self.members.get_mut(&member_id) else {
            ctx.mark("group.join.unknown_member");
            return reply(ctx, ErrorCode::UnknownMemberId, member_id);
        };
        let changed = member.protocols != req.protocols;
        member.protocols = req.protocols.clone();
        member.session_timeout_ms = req.session_timeout_ms;
        member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        member.awaiting_join = Some((from, req.correlation_id));
        // In Stable the leader's JoinGroup always rebalances; anyone's changed metadata does too.
        let is_leader = self.leader_id.as_deref() == Some(member_id.as_str());
        let forces_rebalance = changed || (is_leader && self.state == GroupState::Stable);
        match self.state {
            GroupState::PreparingRebalance => self.maybe_complete_join(ctx),
            GroupState::CompletingRebalance | GroupState::Stable if !forces_rebalance => {
                // Nothing changed: the member gets the current generation again.
                self.members.get_mut(&member_id).expect("known").awaiting_join = None;
                self.send_join_response(ctx, &member_id, from, req.correlation_id);
            }
            _ => self.join_phase(ctx, format!("{member_id} rejoined{}", if changed { " with new metadata" } else { "" })),
        }
    }

    /// The protocol type must match, and some protocol must be supported by every member.
    fn supports(&self, req: &JoinGroupRequest) -> bool {
        if self.members.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref().is_some_and(|t| t != req.protocol_type) {
            return false;
        }
        let others = self.members.values().filter(|m| m.member_id != req.member_id);
        let mut candidates: BTreeSet<&str> = req.protocols.iter().map(|(n, _)| n.as_str()).collect();
        for m in others {
            let theirs: BTreeSet<&str> = m.protocols.iter().map(|(n, _)| n.as_str()).collect();
            candidates = candidates.intersection(&theirs).copied().collect();
        }
        !candidates.is_empty()
    }

    fn add_member(&mut self, ctx: &mut GCtx<'_>, from: NodeId, req: &JoinGroupRequest) {
        let member = Member {
            member_id: req.member_id.clone(),
            client_id: req.client_id.clone(),
            protocols: req.protocols.clone(),
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            awaiting_join: Some((from, req.correlation_id)),
            awaiting_sync: None,
            assignment: vec![],
            is_new: true,
        };
        self.protocol_type.get_or_insert_with(|| req.protocol_type.clone());
        if self.leader_id.is_none() {
            self.leader_id = Some(req.member_id.clone());
        }
        self.members.insert(req.member_id.clone(), member);
        if self.state == GroupState::PreparingRebalance {
            self.joined_during_delay = true;
        }
        ctx.set_timer(self.timer(GroupTimer::Session(req.member_id.clone())), SimDuration::from_millis(NEW_MEMBER_JOIN_TIMEOUT_MS));
    }

    /// A join that needs a rebalance: start one, or wait for the current one to complete.
    fn join_phase(&mut self, ctx: &mut GCtx<'_>, reason: String) {
        if self.state == GroupState::PreparingRebalance {
            self.maybe_complete_join(ctx);
        } else {
            self.prepare_rebalance(ctx, reason);
        }
    }

    fn prepare_rebalance(&mut self, ctx: &mut GCtx<'_>, reason: String) {
        if self.state == GroupState::CompletingRebalance {
            // Parked SyncGroups are answered REBALANCE_IN_PROGRESS with an empty assignment.
            let parked: Vec<(NodeId, u64)> = self.members.values_mut().filter_map(|m| m.awaiting_sync.take()).collect();
            for (to, corr) in parked {
                ctx.send(to, Msg::SyncGroupResponse(SyncGroupResponse { correlation_id: corr, error_code: ErrorCode::RebalanceInProgress, assignment: vec![] }));
            }
            ctx.cancel_timer(self.timer(GroupTimer::SyncDeadline));
        }
        let was_empty = self.state == GroupState::Empty;
        let g = self.group_id.clone();
        ctx.explain(|| format!("group {g}: rebalance because {reason}"));
        self.transition(ctx, GroupState::PreparingRebalance);
        if was_empty {
            self.joined_during_delay = false;
            self.initial_delay_total_ms = self.config.initial_rebalance_delay_ms;
            ctx.set_timer(self.timer(GroupTimer::InitialDelay), SimDuration::from_millis(self.config.initial_rebalance_delay_ms));
        } else {
            ctx.set_timer(self.timer(GroupTimer::JoinDeadline), self.rebalance_timeout());
            self.maybe_complete_join(ctx);
        }
    }

    /// The join phase completes once every member has rejoined and no member id is pending.
    fn maybe_complete_join(&mut self, ctx: &mut GCtx<'_>) {
        let waiting_initial = self.initial_delay_total_ms > 0;
        let all_joined = self.members.values().all(|m| m.awaiting_join.is_some()) && self.pending_members.is_empty();
        if self.state == GroupState::PreparingRebalance && all_joined && !waiting_initial {
            self.complete_join(ctx);
        }
    }

    pub fn on_timer(&mut self, ctx: &mut GCtx<'_>, timer: GroupTimer) {
        match timer {
            GroupTimer::InitialDelay => {
                let limit = self.rebalance_timeout().as_millis();
                if self.joined_during_delay && self.initial_delay_total_ms + self.config.initial_rebalance_delay_ms <= limit {
                    // KIP-134: a member came during the delay; wait another delay.
                    self.joined_during_delay = false;
                    self.initial_delay_total_ms += self.config.initial_rebalance_delay_ms;
                    ctx.set_timer(self.timer(GroupTimer::InitialDelay), SimDuration::from_millis(self.config.initial_rebalance_delay_ms));
                } else {
                    self.initial_delay_total_ms = 0;
                    self.complete_join(ctx);
                }
            }
            GroupTimer::JoinDeadline if self.state == GroupState::PreparingRebalance => self.complete_join(ctx),
            GroupTimer::SyncDeadline if self.state == GroupState::CompletingRebalance => {
                let late: Vec<String> = self.members.values().filter(|m| m.awaiting_sync.is_none()).map(|m| m.member_id.clone()).collect();
                for id in &late {
                    self.remove_member(ctx, id);
                }
                ctx.mark("group.sync.expired");
                self.prepare_rebalance(ctx, format!("{} did not send SyncGroup within the rebalance timeout", late.join(", ")));
            }
            GroupTimer::Session(member) if self.members.contains_key(&member) => {
                // Kafka's `hasSatisfiedHeartbeat`: a member waiting in a rebalance needs no
                // heartbeat, unless it is new and has waited out the new-member join timeout.
                let m = &self.members[&member];
                if !m.is_new && (m.awaiting_join.is_some() || m.awaiting_sync.is_some()) {
                    return self.reset_session(ctx, &member);
                }
                ctx.mark("group.session.expired");
                self.remove_member(ctx, &member);
                self.after_removal(ctx, format!("{member}'s session expired (session.timeout.ms)"));
            }
            GroupTimer::PendingMember(member) => {
                self.pending_members.remove(&member);
                self.maybe_complete_join(ctx);
            }
            _ => {}
        }
    }

    fn remove_member(&mut self, ctx: &mut GCtx<'_>, member_id: &str) {
        let Some(m) = self.members.remove(member_id) else { return };
        ctx.cancel_timer(self.timer(GroupTimer::Session(member_id.to_string())));
        if let Some((to, corr)) = m.awaiting_join {
            let resp = JoinGroupResponse {
                correlation_id: corr,
                error_code: ErrorCode::UnknownMemberId,
                generation_id: -1,
                protocol_name: None,
                leader: String::new(),
                member_id: member_id.to_string(),
                members: vec![],
            };
            ctx.send(to, Msg::JoinGroupResponse(resp));
        }
        if self.leader_id.as_deref() == Some(member_id) {
            self.leader_id = self.members.keys().next().cloned();
        }
    }

    /// This broker stopped coordinating the group (its `__consumer_offsets` partition moved):
    /// parked JoinGroups and SyncGroups are answered NOT_COORDINATOR so that their members look
    /// for the new coordinator at once (GroupCoordinator.onGroupUnloaded).
    pub fn unload(&mut self, ctx: &mut GCtx<'_>) {
        for m in self.members.values_mut() {
            if let Some((to, corr)) = m.awaiting_join.take() {
                let resp = JoinGroupResponse {
                    correlation_id: corr,
                    error_code: ErrorCode::NotCoordinator,
                    generation_id: -1,
                    protocol_name: None,
                    leader: String::new(),
                    member_id: m.member_id.clone(),
                    members: vec![],
                };
                ctx.send(to, Msg::JoinGroupResponse(resp));
            }
            if let Some((to, corr)) = m.awaiting_sync.take() {
                ctx.send(to, Msg::SyncGroupResponse(SyncGroupResponse { correlation_id: corr, error_code: ErrorCode::NotCoordinator, assignment: vec![] }));
            }
        }
    }

    fn after_removal(&mut self, ctx: &mut GCtx<'_>, reason: String) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(ctx, reason),
            GroupState::PreparingRebalance => self.maybe_complete_join(ctx),
            _ => {}
        }
    }

    fn complete_join(&mut self, ctx: &mut GCtx<'_>) {
        ctx.cancel_timer(self.timer(GroupTimer::JoinDeadline));
        let missing: Vec<String> = self.members.values().filter(|m| m.awaiting_join.is_none()).map(|m| m.member_id.clone()).collect();
        for id in &missing {
            ctx.mark("group.join.member_removed");
            self.remove_member(ctx, id);
        }
        if self.leader_id.as_ref().is_none_or(|l| !self.members.contains_key(l)) {
            self.leader_id = self.members.keys().next().cloned();
        }
        self.generation_id += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.subscribed_topics = self.compute_subscribed_topics();
            return self.transition(ctx, GroupState::Empty);
        }
        self.protocol_name = self.select_protocol();
        self.subscribed_topics = self.compute_subscribed_topics();
        self.transition(ctx, GroupState::CompletingRebalance);
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let m = self.members.get_mut(&id).expect("listed");
            m.is_new = false;
            let (to, corr) = m.awaiting_join.take().expect("all joined");
            self.send_join_response(ctx, &id, to, corr);
            self.reset_session(ctx, &id);
        }
        ctx.set_timer(self.timer(GroupTimer::SyncDeadline), self.rebalance_timeout());
    }

    /// Every member votes for its first protocol that all members support; most votes wins (ties
    /// go to the name that sorts first).
    fn select_protocol(&self) -> Option<String> {
        let mut candidates: Option<BTreeSet<&str>> = None;
        for m in self.members.values() {
            let theirs: BTreeSet<&str> = m.protocols.iter().map(|(n, _)| n.as_str()).collect();
            candidates = Some(match candidates {
                None => theirs,
                Some(c) => c.intersection(&theirs).copied().collect(),
            });
        }
        let candidates = candidates.unwrap_or_default();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some((name, _)) = m.protocols.iter().find(|(n, _)| candidates.contains(n.as_str())) {
                *votes.entry(name.as_str()).or_default() += 1;
            }
        }
        let best = votes.values().max().copied()?;
        votes.into_iter().find(|(_, v)| *v == best).map(|(n, _)| n.to_string())
    }

    fn send_join_response(&self, ctx: &mut GCtx<'_>, member_id: &str, to: NodeId, correlation_id: u64) {
        let leader = self.leader_id.clone().unwrap_or_default();
        let protocol = self.protocol_name.clone();
        let members = if leader == member_id {
            self.members
                .values()
                .map(|m| {
                    let sub = m.protocols.iter().find(|(n, _)| Some(n) == protocol.as_ref()).map(|(_, s)| s.clone()).unwrap_or_default();
                    (m.member_id.clone(), sub)
                })
                .collect()
        } else {
            vec![]
        };
        let resp = JoinGroupResponse {
            correlation_id,
            error_code: ErrorCode::None,
            generation_id: self.generation_id,
            protocol_name: protocol,
            leader,
            member_id: member_id.to_string(),
            members,
        };
        ctx.send(to, Msg::JoinGroupResponse(resp));
    }

    pub fn on_sync(&mut self, ctx: &mut GCtx<'_>, from: NodeId, req: SyncGroupRequest) {
        let reply = |ctx: &mut GCtx<'_>, error_code, assignment| {
            ctx.send(from, Msg::SyncGroupResponse(SyncGroupResponse { correlation_id: req.correlation_id, error_code, assignment }));
        };
        if !self.members.contains_key(&req.member_id) {
            return reply(ctx, ErrorCode::UnknownMemberId, vec![]);
        }
        if req.generation_id != self.generation_id {
            ctx.mark("group.sync.illegal_generation");
            return reply(ctx, ErrorCode::IllegalGeneration, vec![]);
        }
        match self.state {
            GroupState::PreparingRebalance => reply(ctx, ErrorCode::RebalanceInProgress, vec![]),
            GroupState::Stable => {
                let assignment = self.members[&req.member_id].assignment.clone();
                self.reset_session(ctx, &req.member_id);
                reply(ctx, ErrorCode::None, assignment)
            }
            GroupState::CompletingRebalance => {
                self.members.get_mut(&req.member_id).expect("known").awaiting_sync = Some((from, req.correlation_id));
                if self.leader_id.as_deref() == Some(req.member_id.as_str()) {
                    self.apply_assignment(ctx, req.assignments);
                }
            }
            GroupState::Empty | GroupState::Dead => reply(ctx, ErrorCode::UnknownMemberId, vec![]),
        }
    }

    /// The leader's assignment: every member gets its share (an empty one if the leader left it
    /// out). The group's metadata must be written to `__consumer_offsets` first: the hosting
    /// broker takes it from [`Group::take_metadata_to_write`], and [`Group::metadata_written`]
    /// makes the group Stable and answers the parked SyncGroups.
    fn apply_assignment(&mut self, ctx: &mut GCtx<'_>, assignments: Vec<(String, Vec<TopicPartition>)>) {
        let given: BTreeMap<String, Vec<TopicPartition>> = assignments.into_iter().collect();
        for m in self.members.values_mut() {
            m.assignment = given.get(&m.member_id).cloned().unwrap_or_default();
        }
        self.metadata_to_write = Some(self.metadata_value());
        let (g, gen) = (self.group_id.clone(), self.generation_id);
        ctx.explain(|| format!("group {g}: the leader's assignment for generation {gen} is being written to __consumer_offsets"));
    }

    /// The group as a `__consumer_offsets` record.
    pub fn metadata_value(&self) -> GroupMetadataValue {
        GroupMetadataValue {
            group: self.group_id.clone(),
            generation: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol_name.clone(),
            leader: self.leader_id.clone(),
            members: self
                .members
                .values()
                .map(|m| MemberMetadataValue {
                    member_id: m.member_id.clone(),
                    client_id: m.client_id.clone(),
                    session_timeout_ms: m.session_timeout_ms,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    protocols: m.protocols.clone(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    /// The metadata record the hosting broker must write, if any.
    pub fn take_metadata_to_write(&mut self) -> Option<GroupMetadataValue> {
        self.metadata_to_write.take()
    }

    /// The generation's metadata is committed (or failed): Stable and answer the SyncGroups, or
    /// answer them with the error and rebalance.
    pub fn metadata_written(&mut self, ctx: &mut GCtx<'_>, generation: i32, ok: bool) {
        if self.state != GroupState::CompletingRebalance || generation != self.generation_id {
            return;
        }
        let error_code = if ok { ErrorCode::None } else { ErrorCode::CoordinatorNotAvailable };
        if ok {
            ctx.cancel_timer(self.timer(GroupTimer::SyncDeadline));
            self.transition(ctx, GroupState::Stable);
        }
        let parked: Vec<(NodeId, u64, Vec<TopicPartition>)> =
            self.members.values_mut().filter_map(|m| m.awaiting_sync.take().map(|(to, c)| (to, c, m.assignment.clone()))).collect();
        for (to, corr, assignment) in parked {
            let assignment = if ok { assignment } else { vec![] };
            ctx.send(to, Msg::SyncGroupResponse(SyncGroupResponse { correlation_id: corr, error_code, assignment }));
        }
        if !ok {
            self.prepare_rebalance(ctx, "the group metadata could not be written".into());
        }
    }

    /// Restores a group from its last metadata record, as a new coordinator does when it loads
    /// the partition: Stable with its members (each with a fresh session), or Empty.
    pub fn restore(&mut self, ctx: &mut GCtx<'_>, value: &GroupMetadataValue) {
        self.generation_id = value.generation;
        self.protocol_type = value.protocol_type.clone();
        self.protocol_name = value.protocol.clone();
        self.leader_id = value.leader.clone();
        self.members = value
            .members
            .iter()
            .map(|m| {
                let member = Member {
                    member_id: m.member_id.clone(),
                    client_id: m.client_id.clone(),
                    protocols: m.protocols.clone(),
                    session_timeout_ms: m.session_timeout_ms,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    awaiting_join: None,
                    awaiting_sync: None,
                    assignment: m.assignment.clone(),
                    is_new: false,
                };
                (m.member_id.clone(), member)
            })
            .collect();
        self.state = if self.members.is_empty() { GroupState::Empty } else { GroupState::Stable };
        self.state_since_ms = Some(ctx.wall_clock_ms());
        self.subscribed_topics = self.compute_subscribed_topics();
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            self.reset_session(ctx, &id);
        }
    }

    pub fn on_heartbeat(&mut self, ctx: &mut GCtx<'_>, from: NodeId, req: HeartbeatRequest) {
        let error_code = if !self.members.contains_key(&req.member_id) || self.state == GroupState::Empty {
            ErrorCode::UnknownMemberId
        } else if req.generation_id != self.generation_id {
            ErrorCode::IllegalGeneration
        } else {
            self.reset_session(ctx, &req.member_id);
            match self.state {
                GroupState::PreparingRebalance => ErrorCode::RebalanceInProgress,
                _ => ErrorCode::None,
            }
        };
        ctx.send(from, Msg::HeartbeatResponse(HeartbeatResponse { correlation_id: req.correlation_id, error_code }));
    }

    pub fn on_leave(&mut self, ctx: &mut GCtx<'_>, from: NodeId, req: LeaveGroupRequest) {
        let error_code = if self.pending_members.remove(&req.member_id) {
            self.maybe_complete_join(ctx);
            ErrorCode::None
        } else if self.members.contains_key(&req.member_id) {
            self.remove_member(ctx, &req.member_id);
            ctx.mark("group.leave");
            self.after_removal(ctx, format!("{} left the group", req.member_id));
            ErrorCode::None
        } else {
            ErrorCode::UnknownMemberId
        };
        ctx.send(from, Msg::LeaveGroupResponse(LeaveGroupResponse { correlation_id: req.correlation_id, error_code }));
    }

    /// OffsetCommit with Kafka's fencing (reference A.6): `None` when the commit may be written
    /// (the hosting broker then writes it to `__consumer_offsets` and calls
    /// [`Group::apply_commit`] once it is committed); otherwise the error, already answered.
    pub fn check_commit(&mut self, ctx: &mut GCtx<'_>, from: NodeId, req: &OffsetCommitRequest) -> ErrorCode {
        let error = self.validate_commit(req);
        if error == ErrorCode::None {
            if self.members.contains_key(&req.member_id) {
                self.reset_session(ctx, &req.member_id);
            }
            return error;
        }
        {
            ctx.mark(match error {
                ErrorCode::IllegalGeneration => "group.commit.illegal_generation",
                ErrorCode::UnknownMemberId => "group.commit.unknown_member",
                ErrorCode::RebalanceInProgress => "group.commit.rebalance_in_progress",
                _ => "group.commit.rejected",
            });
            let g = self.group_id.clone();
            ctx.explain(|| format!("group {g}: commit from {} at generation {} rejected: {error}", req.member_id, req.generation_id));
        }
        let partitions = req.offsets.iter().map(|(tp, _)| (tp.clone(), error)).collect();
        ctx.send(from, Msg::OffsetCommitResponse(OffsetCommitResponse { correlation_id: req.correlation_id, partitions }));
        error
    }

    /// A commit is durable in `__consumer_offsets`: the last one written wins (no monotonicity
    /// check, reference A.6). `commit_timestamp_ms` is the coordinator's wall clock when it took
    /// the commit.
    pub fn apply_commit(&mut self, ctx: &mut GCtx<'_>, offsets: &[(TopicPartition, Offset)], commit_timestamp_ms: u64) {
        for (tp, offset) in offsets {
            self.offsets.insert(tp.clone(), *offset);
            self.commit_timestamps_ms.insert(tp.clone(), commit_timestamp_ms);
        }
        let (g, n) = (self.group_id.clone(), offsets.len());
        ctx.explain(|| format!("group {g}: {n} committed offset(s) written to __consumer_offsets"));
        ctx.observe(crate::model::Observation::OffsetsWritten { group: self.group_id.clone(), offsets: offsets.to_vec() });
    }

    fn validate_commit(&self, req: &OffsetCommitRequest) -> ErrorCode {
        if self.state == GroupState::Dead {
            return ErrorCode::CoordinatorNotAvailable;
        }
        if self.config.unfenced_commits {
            return ErrorCode::None;
        }
        if req.generation_id < 0 && req.member_id.is_empty() {
            return if self.state == GroupState::Empty { ErrorCode::None } else { ErrorCode::UnknownMemberId };
        }
        if !self.members.contains_key(&req.member_id) {
            return ErrorCode::UnknownMemberId;
        }
        if req.generation_id != self.generation_id {
            return ErrorCode::IllegalGeneration;
        }
        match self.state {
            GroupState::CompletingRebalance => ErrorCode::RebalanceInProgress,
            _ => ErrorCode::None,
        }
    }

    pub fn on_offset_fetch(&self, ctx: &mut GCtx<'_>, from: NodeId, req: OffsetFetchRequest) {
        let offsets = req.partitions.iter().map(|tp| (tp.clone(), self.offsets.get(tp).copied().unwrap_or(Offset(-1)))).collect();
        ctx.send(from, Msg::OffsetFetchResponse(OffsetFetchResponse { correlation_id: req.correlation_id, error_code: ErrorCode::None, offsets }));
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::actor::Effect;
    use crate::model::SimTime;

    fn step(f: impl FnOnce(&mut GCtx<'_>)) -> Vec<Effect<KafkaNode>> {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut out = Vec::new();
        let mut ctx = Ctx::new(SimTime(0), NodeId(0), &mut rng, &mut out, None);
        f(&mut ctx);
        out
    }

    fn sent(fx: &[Effect<KafkaNode>]) -> Vec<(NodeId, Msg)> {
        fx.iter().filter_map(|e| if let Effect::Send { to, msg } = e { Some((*to, (**msg).clone())) } else { None }).collect()
    }

    fn join(member: &str, client: NodeId, protocols: &[&str]) -> JoinGroupRequest {
        JoinGroupRequest {
            correlation_id: u64::from(client.0),
            group_id: "g".into(),
            session_timeout_ms: 45_000,
            rebalance_timeout_ms: 300_000,
            member_id: member.into(),
            client_id: format!("c{}", client.0),
            protocol_type: "consumer".into(),
            protocols: protocols.iter().map(|p| (p.to_string(), Subscription { topics: vec!["t".into()], ..Subscription::default() })).collect(),
        }
    }

    fn join_response(fx: &[Effect<KafkaNode>], to: NodeId) -> JoinGroupResponse {
        sent(fx)
            .into_iter()
            .find_map(|(t, m)| if let (true, Msg::JoinGroupResponse(r)) = (t == to, m) { Some(r) } else { None })
            .expect("a JoinGroup response")
    }

    /// Two-step join (KIP-394), then the initial delay, then the leader's sync: a Stable group of
    /// one member at generation 1. Returns the member id.
    fn stable_group_of_one(g: &mut Group) -> String {
        let c1 = NodeId(1);
        let r = join_response(&step(|ctx| g.on_join(ctx, c1, join("", c1, &["range"]))), c1);
        assert_eq!(r.error_code, ErrorCode::MemberIdRequired);
        let id = r.member_id;
        let fx = step(|ctx| g.on_join(ctx, c1, join(&id, c1, &["range"])));
        assert!(sent(&fx).is_empty(), "parked until the initial delay ends");
        assert_eq!(g.state, GroupState::PreparingRebalance);
        let fx = step(|ctx| g.on_timer(ctx, GroupTimer::InitialDelay));
        let r = join_response(&fx, c1);
        assert_eq!((r.generation_id, r.leader.as_str(), r.members.len()), (1, id.as_str(), 1));
        assert_eq!(g.state, GroupState::CompletingRebalance);
        let tp = TopicPartition::new("t", 0);
        let sync = SyncGroupRequest { correlation_id: 9, group_id: "g".into(), generation_id: 1, member_id: id.clone(), assignments: vec![(id.clone(), vec![tp.clone()])] };
        step(|ctx| g.on_sync(ctx, c1, sync));
        assert_eq!(g.state, GroupState::CompletingRebalance, "waits for the metadata write");
        let written = g.take_metadata_to_write().expect("the generation is written");
        assert_eq!((written.generation, written.members.len()), (1, 1));
        let fx = step(|ctx| g.metadata_written(ctx, 1, true));
        assert_eq!(g.state, GroupState::Stable);
        assert!(matches!(&sent(&fx)[0].1, Msg::SyncGroupResponse(r) if r.assignment == vec![tp.clone()]));
        id
    }

    fn commit(member: &str, generation: i32) -> OffsetCommitRequest {
        OffsetCommitRequest { correlation_id: 5, group_id: "g".into(), generation_id: generation, member_id: member.into(), offsets: vec![(TopicPartition::new("t", 0), Offset(42))] }
    }

    /// The coordinator's verdict on a commit: NONE means it goes on to be written.
    fn commit_error(g: &mut Group, req: OffsetCommitRequest) -> ErrorCode {
        let mut result = ErrorCode::None;
        step(|ctx| result = g.check_commit(ctx, NodeId(1), &req));
        if result == ErrorCode::None {
            step(|ctx| g.apply_commit(ctx, &req.offsets, 0));
        }
        result
    }

    #[test]
    fn a_group_forms_in_two_joins_and_a_sync() {
        let mut g = Group::new("g", GroupConfig::default());
        stable_group_of_one(&mut g);
        assert_eq!(g.generation_id, 1);
    }

    #[test]
    fn commits_are_fenced_by_generation_and_refused_while_completing() {
        let mut g = Group::new("g", GroupConfig::default());
        let c1 = stable_group_of_one(&mut g);
        // A second member joins: PreparingRebalance. Generation 1 may still commit (A.6).
        let c2 = NodeId(2);
        let r = join_response(&step(|ctx| g.on_join(ctx, c2, join("", c2, &["range"]))), c2);
        step(|ctx| g.on_join(ctx, c2, join(&r.member_id, c2, &["range"])));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        let hb = HeartbeatRequest { correlation_id: 3, group_id: "g".into(), generation_id: 1, member_id: c1.clone() };
        let fx = step(|ctx| g.on_heartbeat(ctx, NodeId(1), hb));
        assert!(matches!(&sent(&fx)[0].1, Msg::HeartbeatResponse(r) if r.error_code == ErrorCode::RebalanceInProgress));
        assert_eq!(commit_error(&mut g, commit(&c1, 1)), ErrorCode::None);
        assert_eq!(g.offsets[&TopicPartition::new("t", 0)], Offset(42));
        // c1 rejoins: the join completes, generation 2, CompletingRebalance.
        step(|ctx| g.on_join(ctx, NodeId(1), join(&c1, NodeId(1), &["range"])));
        assert_eq!((g.state, g.generation_id), (GroupState::CompletingRebalance, 2));
        assert_eq!(commit_error(&mut g, commit(&c1, 2)), ErrorCode::RebalanceInProgress);
        assert_eq!(commit_error(&mut g, commit(&c1, 1)), ErrorCode::IllegalGeneration);
        assert_eq!(commit_error(&mut g, commit("zombie-9", 2)), ErrorCode::UnknownMemberId);
    }

    #[test]
    fn a_session_expiry_removes_the_member_and_rebalances() {
        let mut g = Group::new("g", GroupConfig::default());
        let c1 = stable_group_of_one(&mut g);
        step(|ctx| g.on_timer(ctx, GroupTimer::Session(c1.clone())));
        assert!(g.members.is_empty());
        // With nobody left to wait for, the join phase completes at once.
        assert_eq!((g.state, g.generation_id), (GroupState::Empty, 2), "the generation moves even when the group empties");
        // An Empty group accepts commits from outside the group protocol only.
        assert_eq!(commit_error(&mut g, commit("", -1)), ErrorCode::None);
    }

    #[test]
    fn the_protocol_is_chosen_by_vote_among_those_all_support() {
        let mut g = Group::new("g", GroupConfig::default());
        for (i, prefs) in [["roundrobin", "range"], ["range", "roundrobin"], ["roundrobin", "range"]].iter().enumerate() {
            let c = NodeId(i as u32 + 1);
            let r = join_response(&step(|ctx| g.on_join(ctx, c, join("", c, prefs))), c);
            step(|ctx| g.on_join(ctx, c, join(&r.member_id, c, prefs)));
        }
        // Members came during the initial delay, so it is extended once (KIP-134), then completes.
        step(|ctx| g.on_timer(ctx, GroupTimer::InitialDelay));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        step(|ctx| g.on_timer(ctx, GroupTimer::InitialDelay));
        assert_eq!(g.state, GroupState::CompletingRebalance);
        assert_eq!(g.protocol_name.as_deref(), Some("roundrobin"));
        // A member that supports none of the group's protocols is refused.
        let c9 = NodeId(9);
        let r = join_response(&step(|ctx| g.on_join(ctx, c9, join("", c9, &["sticky"]))), c9);
        assert_eq!(r.error_code, ErrorCode::InconsistentGroupProtocol);
    }

    #[test]
    fn offset_fetch_answers_minus_one_without_a_commit() {
        let g = Group::new("g", GroupConfig::default());
        let req = OffsetFetchRequest { correlation_id: 1, group_id: "g".into(), partitions: vec![TopicPartition::new("t", 3)] };
        let fx = step(|ctx| g.on_offset_fetch(ctx, NodeId(1), req));
        assert!(matches!(&sent(&fx)[0].1, Msg::OffsetFetchResponse(r) if r.offsets[0].1 == Offset(-1)));
    }

    #[test]
    fn a_leave_rebalances_and_a_missing_sync_removes_the_laggard() {
        let mut g = Group::new("g", GroupConfig::default());
        let c1 = stable_group_of_one(&mut g);
        let c2 = NodeId(2);
        let r = join_response(&step(|ctx| g.on_join(ctx, c2, join("", c2, &["range"]))), c2);
        let id2 = r.member_id;
        step(|ctx| g.on_join(ctx, c2, join(&id2, c2, &["range"])));
        step(|ctx| g.on_join(ctx, NodeId(1), join(&c1, NodeId(1), &["range"])));
        assert_eq!(g.state, GroupState::CompletingRebalance);
        // Only the leader syncs; the sync deadline removes c2 and starts another rebalance.
        let sync = SyncGroupRequest { correlation_id: 9, group_id: "g".into(), generation_id: 2, member_id: c1.clone(), assignments: vec![] };
        step(|ctx| g.on_sync(ctx, NodeId(1), sync));
        g.take_metadata_to_write().expect("written");
        step(|ctx| g.metadata_written(ctx, 2, true));
        assert_eq!(g.state, GroupState::Stable, "the leader's sync completes the generation");
        let leave = LeaveGroupRequest { correlation_id: 4, group_id: "g".into(), member_id: id2.clone() };
        step(|ctx| g.on_leave(ctx, c2, leave));
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert!(!g.members.contains_key(&id2));
    }
}
