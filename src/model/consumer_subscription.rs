//! What a consumer's subscription depends on: the topics it asks metadata for, the group
//! leader's watch over their partition counts, and `subscribe()` (reference A.9, D-17).
//!
//! Java's `ConsumerCoordinator` keeps a snapshot of the metadata the leader assigned over
//! (`assignmentSnapshot`); only the leader keeps one. When a metadata refresh
//! (`metadata.max.age.ms`) shows a subscribed topic with another partition count, or the
//! application subscribed to other topics than the member joined with, `rejoinNeededOrPending`
//! is true and the member rejoins at its next `poll()`.

use super::actor::Ctx;
use super::consumer::Consumer;
use super::consumer_group::Rejoin;
use super::node::KafkaNode;

type CCtx<'a> = Ctx<'a, KafkaNode>;

impl Consumer {
    /// The topics a metadata request asks about: the subscription, and for a group leader every
    /// topic of the group's subscription.
    pub(crate) fn metadata_topics(&self) -> Vec<String> {
        let mut topics = self.subscription.clone();
        for t in &self.group_topics {
            if !topics.contains(t) {
                topics.push(t.clone());
            }
        }
        topics
    }

    /// New metadata for a group member. A leader waiting to assign goes on; a leader whose
    /// subscribed topics' partition counts differ from those it assigned asks for a rebalance
    /// (Java's `ConsumerCoordinator.rejoinNeededOrPending`: the metadata snapshot no longer
    /// matches the assignment snapshot; only the leader keeps one).
    pub(crate) fn metadata_updated(&mut self, ctx: &mut CCtx<'_>) {
        let m = self.membership.as_ref().expect("a member");
        if m.pending_assignment.as_ref().is_some_and(|r| r.members.iter().flat_map(|(_, s)| s.topics.iter()).all(|t| self.partition_counts.contains_key(t))) {
            let r = self.member().pending_assignment.take().expect("checked");
            return self.sync_group(ctx, r);
        }
        let Some(snapshot) = m.assignment_snapshot.as_ref().filter(|_| m.is_stable()) else { return };
        let changed: Vec<(String, i32, i32)> = snapshot
            .iter()
            .filter_map(|(t, n)| self.partition_counts.get(t).filter(|now| *now != n).map(|now| (t.clone(), *n, *now)))
            .collect();
        if changed.is_empty() {
            return;
        }
        ctx.mark("consumer.metadata_changed");
        ctx.explain(|| {
            let each: Vec<String> = changed.iter().map(|(t, was, now)| format!("{t} now has {now} partitions (assigned over {was})")).collect();
            format!("group leader: {}: the metadata no longer matches the assignment, so it rejoins to rebalance", each.join(", "))
        });
        let m = self.member();
        m.assignment_snapshot = None;
        m.rejoin = m.rejoin.max(Some(Rejoin::Rebalance));
    }

    /// `subscribe(topics)`: the member rejoins at its next poll with the new subscription (the
    /// rebalance revokes what it owned of the topics it dropped, committing first as before any
    /// rebalance); a consumer using `assign()` has no subscription to change.
    pub fn on_command(&mut self, ctx: &mut CCtx<'_>, command: super::command::Command) {
        let super::command::Command::Subscribe { topics } = command else {
            return ctx.explain(|| format!("a consumer takes no {command:?} call"));
        };
        if self.config.group.is_none() || self.config.partitions.is_some() {
            return ctx.explain(|| "subscribe() on a consumer that uses assign(): IllegalStateException, nothing changes".into());
        }
        if topics == self.subscription {
            return ctx.explain(|| format!("subscribe({}): the same topics, nothing changes", topics.join(", ")));
        }
        ctx.mark("consumer.subscribe");
        let (was, now) = (self.subscription.join(", "), topics.join(", "));
        ctx.explain(|| format!("the application calls subscribe({now}) (was {was}): asks for their metadata and rejoins the group at the next poll()"));
        self.subscription = topics;
        self.group_topics.retain(|t| !self.subscription.contains(t));
        self.metadata_wanted = true;
        self.poll(ctx);
    }
}
