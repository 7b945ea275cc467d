//! A partition replica's log: record batches in offset order, with its log start offset, log end
//! offset (LEO) and high watermark (HW).
//!
//! The log is the in-memory view; the broker mirrors every append and truncation to its disk, one
//! batch per disk entry, so entry `i` of the file is batch `i` of the log.

use serde::Serialize;

use crate::model::ids::{LeaderEpoch, Offset};
use crate::model::protocol::{ProducerSequence, Record, RecordBatch};

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct PartitionLog {
    batches: Vec<RecordBatch>,
    log_start_offset: Offset,
    log_end_offset: Offset,
    high_watermark: Offset,
}

impl PartitionLog {
    /// Rebuilds a log from the batches that survived on disk. The HW is not durable here; the
    /// caller sets it as Kafka does on recovery.
    pub fn recover(batches: Vec<RecordBatch>) -> Self {
        let log_start_offset = batches.first().map_or(Offset(0), |b| b.base_offset);
        let log_end_offset = batches.last().map_or(log_start_offset, |b| b.next_offset());
        PartitionLog { batches, log_start_offset, log_end_offset, high_watermark: log_start_offset }
    }

    pub fn log_start_offset(&self) -> Offset {
        self.log_start_offset
    }
    pub fn log_end_offset(&self) -> Offset {
        self.log_end_offset
    }
    pub fn high_watermark(&self) -> Offset {
        self.high_watermark
    }
    pub fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }
    pub fn batch_count(&self) -> usize {
        self.batches.len()
    }

    /// Appends records as the leader in `epoch` at `now_ms`; returns the new batch (its copy goes to
    /// disk).
    pub fn append(&mut self, records: Vec<Record>, epoch: LeaderEpoch, now_ms: u64, producer: Option<ProducerSequence>) -> &RecordBatch {
        let batch = RecordBatch { base_offset: self.log_end_offset, partition_leader_epoch: epoch, append_time_ms: now_ms, producer, records };
        self.log_end_offset = batch.next_offset();
        self.batches.push(batch);
        self.batches.last().expect("just pushed")
    }

    /// Appends a batch as it came from the leader (a follower's append): offsets and epoch kept.
    /// The batch must start at the LEO.
    pub fn append_batch(&mut self, batch: RecordBatch) {
        assert_eq!(batch.base_offset, self.log_end_offset, "a follower appends at its LEO");
        self.log_end_offset = batch.next_offset();
        self.batches.push(batch);
    }

    /// Moves the HW forward to `offset` (never backwards, never past the LEO). Returns whether it
    /// moved.
    pub fn advance_high_watermark(&mut self, offset: Offset) -> bool {
        let target = offset.min(self.log_end_offset);
        if target > self.high_watermark {
            self.high_watermark = target;
            true
        } else {
            false
        }
    }

    /// The records in `[from, until)`, cut at batch boundaries once `max_bytes` is reached (at
    /// least one batch is returned when any is available, as Kafka does).
    pub fn read(&self, from: Offset, until: Offset, max_bytes: u64) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        let mut bytes = 0;
        let start = self.batches.partition_point(|b| b.next_offset() <= from);
        for batch in &self.batches[start..] {
            if batch.base_offset >= until || (bytes >= max_bytes && !out.is_empty()) {
                break;
            }
            let records: Vec<Record> = batch
                .offsets()
                .filter(|(o, _)| *o >= from && *o < until)
                .map(|(_, r)| r.clone())
                .collect();
            if records.is_empty() {
                continue;
            }
            let base_offset = Offset(from.0.max(batch.base_offset.0));
            let slice = RecordBatch {
                base_offset,
                partition_leader_epoch: batch.partition_leader_epoch,
                append_time_ms: batch.append_time_ms,
                producer: batch.producer,
                records,
            };
            bytes += slice.size_bytes();
            out.push(slice);
        }
        out
    }

    /// The size of what [`PartitionLog::read`] would return for the same arguments, without
    /// copying the records.
    pub fn readable_bytes(&self, from: Offset, until: Offset, max_bytes: u64) -> u64 {
        let (mut bytes, mut any) = (0, false);
        let start = self.batches.partition_point(|b| b.next_offset() <= from);
        for batch in &self.batches[start..] {
            if batch.base_offset >= until || (bytes >= max_bytes && any) {
                break;
            }
            for (_, r) in batch.offsets().filter(|(o, _)| *o >= from && *o < until) {
                bytes += u64::from(r.size);
                any = true;
            }
        }
        bytes
    }

    /// The record at `offset`, if the log holds it.
    pub fn record_at(&self, offset: Offset) -> Option<(&RecordBatch, &Record)> {
        let i = self.batches.partition_point(|b| b.next_offset() <= offset);
        let batch = self.batches.get(i)?;
        let idx = usize::try_from(offset.0 - batch.base_offset.0).ok()?;
        batch.records.get(idx).map(|r| (batch, r))
    }

    /// Every record with its offset, in order.
    pub fn records(&self) -> impl Iterator<Item = (Offset, &Record)> {
        self.batches.iter().flat_map(|b| b.offsets())
    }

    /// The records at `offset` and after, found by binary search over the batches.
    pub fn records_from(&self, offset: Offset) -> impl Iterator<Item = (Offset, &Record)> {
        let start = self.batches.partition_point(|b| b.next_offset() <= offset);
        self.batches[start..].iter().flat_map(|b| b.offsets()).skip_while(move |(o, _)| *o < offset)
    }

    /// Number of batches that hold offsets below `offset`: the disk length after truncating to it.
    pub fn batches_below(&self, offset: Offset) -> usize {
        self.batches.partition_point(|b| b.base_offset < offset)
    }

    /// An idempotent producer's state, rebuilt from the log as Kafka rebuilds it: among the last
    /// batches of `producer_id`, the one that starts at `base_sequence` (a duplicate), and the
    /// next sequence the producer must send.
    pub fn producer_state(&self, producer_id: u64, base_sequence: i32) -> (Option<&RecordBatch>, Option<i32>) {
        let mut next = None;
        for b in self.batches.iter().rev().filter(|b| b.producer.is_some_and(|p| p.producer_id == producer_id)).take(5) {
            let seq = b.producer.expect("filtered").base_sequence;
            next.get_or_insert(seq + b.records.len() as i32);
            if seq == base_sequence {
                return (Some(b), next);
            }
        }
        (None, next)
    }

    /// The log's segments as `(first batch index, batch count, bytes, newest append time)`: batches
    /// in order, a new segment rolled once the active one reaches `segment_bytes` (Kafka's
    /// `segment.bytes`). The last segment is the active one.
    pub fn segments(&self, segment_bytes: u64) -> Vec<(usize, usize, u64, u64)> {
        let mut out: Vec<(usize, usize, u64, u64)> = Vec::new();
        for (i, b) in self.batches.iter().enumerate() {
            match out.last_mut() {
                Some(seg) if seg.2 < segment_bytes => {
                    seg.1 += 1;
                    seg.2 += b.size_bytes();
                    seg.3 = seg.3.max(b.append_time_ms);
                }
                _ => out.push((i, 1, b.size_bytes(), b.append_time_ms)),
            }
        }
        out
    }

    /// Retention: deletes the oldest batches so that the log starts at `offset` (a segment
    /// boundary). Returns how many batches went.
    pub fn delete_before(&mut self, offset: Offset) -> usize {
        let n = self.batches.partition_point(|b| b.next_offset() <= offset);
        self.batches.drain(..n);
        self.log_start_offset = self.log_start_offset.max(offset);
        self.high_watermark = self.high_watermark.max(self.log_start_offset);
        n
    }

    /// Kafka's `truncateFullyAndStartAt`: a follower whose log ends before the leader's log start
    /// drops everything and starts empty at `offset`; the HW moves there too.
    pub fn truncate_fully_and_start_at(&mut self, offset: Offset) {
        self.batches.clear();
        self.log_start_offset = offset;
        self.log_end_offset = offset;
        self.high_watermark = offset;
    }

    /// Removes everything from `offset` on (a batch that straddles it is cut). The HW follows.
    pub fn truncate_to(&mut self, offset: Offset) {
        let keep = self.batches_below(offset);
        self.batches.truncate(keep);
        if let Some(last) = self.batches.last_mut() {
            if last.next_offset() > offset {
                let n = (offset.0 - last.base_offset.0) as usize;
                last.records.truncate(n);
            }
        }
        self.log_end_offset = self.batches.last().map_or(self.log_start_offset, |b| b.next_offset()).max(self.log_start_offset);
        self.high_watermark = self.high_watermark.min(self.log_end_offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::RecordId;

    fn recs(producer: u32, n: u32) -> Vec<Record> {
        (0..n).map(|seq| Record { id: RecordId { producer, seq }, key: None, size: 10, value: None }).collect()
    }

    #[test]
    fn append_assigns_consecutive_offsets() {
        let mut log = PartitionLog::default();
        assert_eq!(log.append(recs(0, 3), LeaderEpoch(0), 0, None).base_offset, Offset(0));
        assert_eq!(log.append(recs(1, 2), LeaderEpoch(1), 0, None).base_offset, Offset(3));
        assert_eq!(log.log_end_offset(), Offset(5));
        assert_eq!(log.record_at(Offset(4)).unwrap().1.id, RecordId { producer: 1, seq: 1 });
        assert!(log.record_at(Offset(5)).is_none());
    }

    #[test]
    fn readable_bytes_is_the_size_of_what_read_returns() {
        let mut log = PartitionLog::default();
        for (producer, n) in [(0, 3), (1, 1), (2, 4), (3, 2)] {
            let mut batch = recs(producer, n);
            batch.iter_mut().enumerate().for_each(|(i, r)| r.size = 1 + 7 * (producer + i as u32));
            log.append(batch, LeaderEpoch(0), 0, None);
        }
        let mut nonzero = 0;
        for from in 0..=11 {
            for until in from..=11 {
                for max_bytes in [0, 1, 8, 20, 40, u64::MAX] {
                    let (from, until) = (Offset(from), Offset(until));
                    let read: u64 = log.read(from, until, max_bytes).iter().map(RecordBatch::size_bytes).sum();
                    assert_eq!(log.readable_bytes(from, until, max_bytes), read, "{from:?}..{until:?} max {max_bytes}");
                    nonzero += usize::from(read > 0);
                }
            }
        }
        assert!(nonzero > 100, "the cases read something: {nonzero}");
    }

    #[test]
    fn read_stops_at_the_limit_and_slices_batches() {
        let mut log = PartitionLog::default();
        log.append(recs(0, 3), LeaderEpoch(0), 0, None);
        log.append(recs(1, 3), LeaderEpoch(0), 0, None);
        let got = log.read(Offset(1), Offset(4), u64::MAX);
        let offsets: Vec<i64> = got.iter().flat_map(|b| b.offsets().map(|(o, _)| o.0)).collect();
        assert_eq!(offsets, vec![1, 2, 3]);
        assert!(log.read(Offset(6), Offset(6), u64::MAX).is_empty());
    }

    #[test]
    fn high_watermark_never_moves_back_or_past_leo() {
        let mut log = PartitionLog::default();
        log.append(recs(0, 3), LeaderEpoch(0), 0, None);
        assert!(log.advance_high_watermark(Offset(2)));
        assert!(!log.advance_high_watermark(Offset(1)));
        log.advance_high_watermark(Offset(9));
        assert_eq!(log.high_watermark(), Offset(3));
    }

    #[test]
    fn segments_roll_at_segment_bytes_and_retention_deletes_from_the_front() {
        let mut log = PartitionLog::default();
        for t in 0..5 {
            log.append(recs(0, 3), LeaderEpoch(0), t * 1000, None); // 30 bytes a batch
        }
        let segs = log.segments(60);
        assert_eq!(segs.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(), vec![(0, 2), (2, 2), (4, 1)]);
        assert_eq!(segs[1].3, 3000, "a segment's time is its newest batch's");
        log.advance_high_watermark(Offset(15));
        assert_eq!(log.delete_before(Offset(6)), 2);
        assert_eq!(log.log_start_offset(), Offset(6));
        assert!(log.record_at(Offset(5)).is_none());
        assert_eq!(log.read(Offset(6), Offset(9), u64::MAX)[0].base_offset, Offset(6));
    }

    #[test]
    fn truncation_cuts_a_straddling_batch() {
        let mut log = PartitionLog::default();
        log.append(recs(0, 3), LeaderEpoch(0), 0, None);
        log.append(recs(1, 3), LeaderEpoch(1), 0, None);
        log.advance_high_watermark(Offset(6));
        log.truncate_to(Offset(4));
        assert_eq!(log.log_end_offset(), Offset(4));
        assert_eq!(log.high_watermark(), Offset(4));
        assert_eq!(log.batch_count(), 2);
        assert_eq!(log.batches()[1].records.len(), 1);
    }
}
