//! The disk model: one per node, a set of named files of typed entries, with a page cache.
//!
//! Every operation lands in the page cache at once (the *cached* view, which the actor sees). An
//! fsync makes durable what the file held *when the fsync was issued*; it completes after the
//! configured latency. A crash throws away everything not durable: each file reverts to its
//! durable content, or, with `torn_tail`, keeps a chosen prefix of its unsynced appends (pages the
//! OS happened to write back). A graceful stop syncs everything.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::chooser::{Choice, Chooser};
use crate::model::{DiskImage, DiskOp, NodeId, SimDuration};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiskConfig {
    pub fsync_latency: SimDuration,
    pub torn_tail: bool,
}

impl Default for DiskConfig {
    fn default() -> Self {
        DiskConfig { fsync_latency: SimDuration::from_millis(2), torn_tail: false }
    }
}

/// Identifies an fsync in flight; a crash makes every earlier token stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SyncToken {
    epoch: u64,
    id: u64,
}

#[derive(Clone, Debug)]
struct File<E> {
    cached: Vec<E>,
    durable: Vec<E>,
    /// Whether the cache is the durable content plus appends only (no truncate or rewrite since
    /// the last sync): then the first `durable.len()` cached entries equal the durable ones.
    append_only: bool,
    /// Truncations and rewrites so far.
    rewrites: u64,
}

impl<E> Default for File<E> {
    fn default() -> Self {
        File { cached: Vec::new(), durable: Vec::new(), append_only: true, rewrites: 0 }
    }
}

/// What an fsync in flight will make durable.
#[derive(Clone, Debug)]
enum PendingSync<E> {
    /// The cache was durable + appends: the first `len` cached entries become durable.
    Prefix { file: String, len: usize },
    /// The file was truncated or rewritten: this snapshot becomes the durable content.
    /// `rewrites` is the file's count when the fsync was issued.
    Snapshot { file: String, entries: Vec<E>, rewrites: u64 },
}

#[derive(Clone, Debug)]
pub struct Disk<E> {
    files: BTreeMap<String, File<E>>,
    pending: BTreeMap<u64, PendingSync<E>>,
    epoch: u64,
    next_id: u64,
}

impl<E: Clone> Default for Disk<E> {
    fn default() -> Self {
        Disk { files: BTreeMap::new(), pending: BTreeMap::new(), epoch: 0, next_id: 0 }
    }
}

impl<E: Clone> Disk<E> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one operation to the page cache. An fsync returns its token; the engine calls
    /// [`Disk::complete_sync`] when its latency has passed.
    pub fn apply(&mut self, op: DiskOp<E>) -> Option<SyncToken> {
        match op {
            DiskOp::Append { file, entry } => {
                self.files.entry(file).or_default().cached.push(entry);
                None
            }
            DiskOp::Truncate { file, len } => {
                if len < self.cached(&file).len() {
                    self.freeze_pending(&file);
                    let f = self.files.get_mut(&file).expect("non-empty files exist");
                    f.cached.truncate(len);
                    f.rewrites += 1;
                    if len < f.durable.len() {
                        f.append_only = false;
                    }
                }
                None
            }
            DiskOp::Rewrite { file, entries } => {
                self.freeze_pending(&file);
                let f = self.files.entry(file).or_default();
                f.cached = entries;
                f.rewrites += 1;
                f.append_only = false;
                None
            }
            DiskOp::Fsync { file } => {
                let f = self.files.entry(file.clone()).or_default();
                let pending = if f.append_only {
                    PendingSync::Prefix { file, len: f.cached.len() }
                } else {
                    PendingSync::Snapshot { file, entries: f.cached.clone(), rewrites: f.rewrites }
                };
                let id = self.next_id;
                self.next_id += 1;
                self.pending.insert(id, pending);
                Some(SyncToken { epoch: self.epoch, id })
            }
        }
    }

    /// Completes an fsync: returns the file and how many entries are now durable, or `None` when a
    /// crash came first.
    pub fn complete_sync(&mut self, token: SyncToken) -> Option<(String, usize)> {
        if token.epoch != self.epoch {
            return None;
        }
        match self.pending.remove(&token.id)? {
            PendingSync::Prefix { file, len } => {
                // Still append-only: a truncate or rewrite since would have frozen this sync into
                // a snapshot.
                let f = self.files.get_mut(&file).expect("synced files exist");
                if len > f.durable.len() {
                    let from = f.durable.len();
                    f.durable.extend_from_slice(&f.cached[from..len]);
                }
                Some((file, len))
            }
            PendingSync::Snapshot { file, entries, rewrites } => {
                let f = self.files.get_mut(&file).expect("synced files exist");
                let len = entries.len();
                f.durable = entries;
                // With no truncate or rewrite since the fsync was issued, the cache is the
                // snapshot plus appends.
                f.append_only = f.rewrites == rewrites;
                Some((file, len))
            }
        }
    }

    /// A machine crash: each file reverts to its durable content (plus, with `torn_tail`, a chosen
    /// prefix of its unsynced appends); every fsync in flight is lost.
    pub fn crash(&mut self, cfg: &DiskConfig, node: NodeId, chooser: &mut dyn Chooser) {
        self.epoch += 1;
        self.pending.clear();
        for f in self.files.values_mut() {
            if f.append_only {
                let mut kept = f.durable.len();
                if cfg.torn_tail && f.cached.len() > kept {
                    kept += chooser.pick(Choice::TornTail { node }, f.cached.len() - kept + 1);
                }
                f.cached.truncate(kept);
                f.durable.clone_from(&f.cached);
            } else {
                f.cached.clone_from(&f.durable);
            }
            f.append_only = true;
        }
    }

    /// Before a truncate or rewrite of `file`: turn its fsyncs in flight into snapshots of what
    /// they cover, since the cache is about to stop being their content plus appends.
    fn freeze_pending(&mut self, file: &str) {
        let Some(f) = self.files.get(file) else { return };
        for p in self.pending.values_mut() {
            if let PendingSync::Prefix { file: name, len } = p {
                if name == file {
                    let entries = f.cached[..*len].to_vec();
                    *p = PendingSync::Snapshot { file: name.clone(), entries, rewrites: f.rewrites };
                }
            }
        }
    }

    /// A graceful stop (or the OS writing back the page cache): everything becomes durable.
    pub fn sync_all(&mut self) {
        self.pending.clear();
        self.epoch += 1;
        for f in self.files.values_mut() {
            f.durable = f.cached.clone();
            f.append_only = true;
        }
    }

    pub fn cached(&self, file: &str) -> &[E] {
        self.files.get(file).map_or(&[], |f| f.cached.as_slice())
    }

    pub fn durable(&self, file: &str) -> &[E] {
        self.files.get(file).map_or(&[], |f| f.durable.as_slice())
    }

    /// Cached entries beyond the durable ones (what a crash would lose, for an append-only file).
    pub fn unsynced_len(&self, file: &str) -> usize {
        self.files.get(file).map_or(0, |f| f.cached.len().saturating_sub(f.durable.len()))
    }

    /// The durable content of every file: what a restart after a crash sees.
    pub fn image(&self) -> DiskImage<E> {
        DiskImage { files: self.files.iter().map(|(n, f)| (n.clone(), f.durable.clone())).collect() }
    }

    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(d: &mut Disk<u32>, v: u32) {
        d.apply(DiskOp::Append { file: "f".into(), entry: v });
    }
    fn fsync(d: &mut Disk<u32>) -> SyncToken {
        d.apply(DiskOp::Fsync { file: "f".into() }).expect("fsync gives a token")
    }

    /// Picks a fixed index, and counts the questions.
    struct Fixed(usize, u32);
    impl Chooser for Fixed {
        fn pick(&mut self, _: Choice, n: usize) -> usize {
            self.1 += 1;
            self.0.min(n - 1)
        }
        fn duration(&mut self, _: Choice, min: SimDuration, _: SimDuration) -> SimDuration {
            min
        }
        fn chance(&mut self, _: Choice, _: f64) -> bool {
            false
        }
    }

    fn crash(d: &mut Disk<u32>, torn_tail: bool, pick: usize) -> u32 {
        let mut c = Fixed(pick, 0);
        d.crash(&DiskConfig { torn_tail, ..DiskConfig::default() }, NodeId(0), &mut c);
        c.1
    }

    #[test]
    fn a_crash_loses_exactly_the_unsynced_suffix() {
        let mut d = Disk::new();
        (0..5).for_each(|v| append(&mut d, v));
        let t = fsync(&mut d);
        assert_eq!(d.complete_sync(t), Some(("f".into(), 5)));
        (5..8).for_each(|v| append(&mut d, v));
        assert_eq!(d.unsynced_len("f"), 3);
        assert_eq!(crash(&mut d, false, 0), 0, "no torn tail: the chooser is not asked");
        assert_eq!(d.cached("f"), &[0, 1, 2, 3, 4]);
        assert_eq!(d.image().file("f"), &[0, 1, 2, 3, 4]);
    }

    #[test]
    fn an_fsync_covers_what_was_there_when_it_was_issued() {
        let mut d = Disk::new();
        append(&mut d, 1);
        append(&mut d, 2);
        let t = fsync(&mut d);
        append(&mut d, 3);
        assert_eq!(d.complete_sync(t), Some(("f".into(), 2)));
        assert_eq!(d.durable("f"), &[1, 2]);
    }

    #[test]
    fn a_crash_before_the_fsync_completes_loses_the_data_and_the_late_completion() {
        let mut d = Disk::new();
        append(&mut d, 1);
        let t = fsync(&mut d);
        crash(&mut d, false, 0);
        assert_eq!(d.complete_sync(t), None);
        assert!(d.cached("f").is_empty());
        assert!(d.durable("f").is_empty());
    }

    #[test]
    fn an_unsynced_truncate_is_undone_by_a_crash_and_a_synced_one_persists() {
        let mut d = Disk::new();
        (0..4).for_each(|v| append(&mut d, v));
        let t = fsync(&mut d);
        d.complete_sync(t);
        d.apply(DiskOp::Truncate { file: "f".into(), len: 2 });
        assert_eq!(d.cached("f"), &[0, 1]);
        crash(&mut d, true, 9);
        assert_eq!(d.cached("f"), &[0, 1, 2, 3], "the durable data comes back");
        d.apply(DiskOp::Truncate { file: "f".into(), len: 2 });
        let t = fsync(&mut d);
        append(&mut d, 7);
        d.complete_sync(t);
        crash(&mut d, false, 0);
        assert_eq!(d.cached("f"), &[0, 1]);
    }

    #[test]
    fn a_truncate_after_an_fsync_was_issued_does_not_change_what_it_syncs() {
        let mut d = Disk::new();
        (0..4).for_each(|v| append(&mut d, v));
        let t = fsync(&mut d);
        d.apply(DiskOp::Truncate { file: "f".into(), len: 1 });
        d.complete_sync(t);
        assert_eq!(d.durable("f"), &[0, 1, 2, 3]);
        assert_eq!(d.cached("f"), &[0]);
    }

    #[test]
    fn a_synced_rewrite_persists() {
        let mut d = Disk::new();
        append(&mut d, 1);
        d.apply(DiskOp::Rewrite { file: "f".into(), entries: vec![8, 9] });
        let t = fsync(&mut d);
        d.complete_sync(t);
        append(&mut d, 10);
        crash(&mut d, false, 0);
        assert_eq!(d.cached("f"), &[8, 9]);
    }

    #[test]
    fn a_torn_tail_keeps_a_chosen_prefix_of_the_unsynced_appends() {
        let mut d = Disk::new();
        append(&mut d, 0);
        let t = fsync(&mut d);
        d.complete_sync(t);
        (1..6).for_each(|v| append(&mut d, v));
        assert_eq!(crash(&mut d, true, 2), 1);
        assert_eq!(d.cached("f"), &[0, 1, 2]);
        assert_eq!(d.durable("f"), &[0, 1, 2]);
    }

    #[test]
    fn sync_all_makes_everything_durable() {
        let mut d = Disk::new();
        (0..3).for_each(|v| append(&mut d, v));
        d.sync_all();
        crash(&mut d, false, 0);
        assert_eq!(d.cached("f"), &[0, 1, 2]);
    }
}
