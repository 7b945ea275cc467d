//! Every coverage mark the model can reach: the names `Ctx::mark` is called with. A scenario's
//! triggers and `sometimes` requirements may name only these; a test keeps the list in step with
//! the source.

/// Coverage marks, sorted.
pub const ALL: &[&str] = &[
    "broker.become_leader",
    "broker.fetch.diverging_epoch",
    "broker.fetch.fenced_leader_epoch",
    "broker.fetch.from_follower",
    "broker.fetch.high_watermark_before_truncation",
    "broker.fetch.offset_out_of_range",
    "broker.fetch.read_past_high_watermark",
    "broker.flush.messages",
    "broker.flush.ms",
    "broker.isr.expand",
    "broker.isr.shrink",
    "broker.produce.duplicate_sequence",
    "broker.produce.not_enough_replicas",
    "broker.produce.not_leader",
    "broker.produce.out_of_order_sequence",
    "broker.produce.timed_out",
    "broker.recovery.torn_batch",
    "broker.resign_leadership",
    "broker.retention.delete",
    "broker.truncate.diverging_epoch",
    "broker.truncate.fully_start_at",
    "broker.truncate.leader_epoch_end_offset",
    "broker.truncate.offset_out_of_range",
    "broker.truncate.to_high_watermark",
    "consumer.fenced",
    "consumer.fetch_error",
    "consumer.list_offsets_error",
    "consumer.metadata_changed",
    "consumer.offset_fetch.load_in_progress_as_empty",
    "consumer.offset_out_of_range",
    "consumer.poll_timeout",
    "consumer.request_timeout",
    "consumer.subscribe",
    "controller.alter_partition.applied",
    "controller.alter_partition.rejected",
    "controller.broker_registered",
    "controller.create_partitions",
    "controller.create_partitions.rejected",
    "controller.election.clean",
    "controller.election.no_leader",
    "controller.election.unclean",
    "controller.fence.reregistration",
    "controller.fence.session_expired",
    "controller.unfence",
    "group.commit.illegal_generation",
    "group.commit.rebalance_in_progress",
    "group.commit.rejected",
    "group.commit.unknown_member",
    "group.join.inconsistent_protocol",
    "group.join.member_id_required",
    "group.join.member_removed",
    "group.join.unknown_member",
    "group.leave",
    "group.load_in_progress",
    "group.not_coordinator",
    "group.offsets.expired",
    "group.offsets.expired_during_rebalance",
    "group.offsets_loaded",
    "group.session.expired",
    "group.state.completing_rebalance",
    "group.state.dead",
    "group.state.empty",
    "group.state.preparing_rebalance",
    "group.state.stable",
    "group.sync.expired",
    "group.sync.illegal_generation",
    "group.unloaded",
    "producer.batch_failed",
    "producer.close",
    "producer.epoch_bump",
    "producer.partitions_changed",
    "producer.request_timeout",
    "producer.retry",
    "producer.start_again",
];

#[cfg(test)]
mod tests {
    use super::ALL;

    /// Every `"component.name"` string literal under src/model is a mark listed here, and every
    /// listed mark appears in the source.
    #[test]
    fn the_list_matches_the_source() {
        let mut found = std::collections::BTreeSet::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src/model"))];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("readable") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("marks.rs") {
                    let text = std::fs::read_to_string(&path).expect("utf-8");
                    for literal in text.split('"').skip(1).step_by(2) {
                        let component = literal.split('.').next().unwrap_or("");
                        let mark_like = ["broker", "consumer", "controller", "group", "producer"].contains(&component)
                            && literal.contains('.')
                            && literal.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_');
                        if mark_like {
                            found.insert(literal.to_string());
                        }
                    }
                }
            }
        }
        let listed: std::collections::BTreeSet<String> = ALL.iter().map(|s| s.to_string()).collect();
        assert_eq!(found, listed, "update src/model/marks.rs");
        assert!(ALL.windows(2).all(|w| w[0] < w[1]), "ALL is sorted");
    }
}
