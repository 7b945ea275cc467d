//! The disk model: one per node, a set of named files of typed entries behind a page cache.
//!
//! Contract. Every operation lands in the page cache at once: the *cached* view, which is what the
//! running actor reads. `Fsync(file)` makes durable what the file held *when the fsync was
//! issued* (entries appended after the call are not covered), and completes after the configured
//! latency, when the engine calls [`Disk::complete_sync`]. A crash throws away everything not
//! durable and cancels the fsyncs in flight: each file reverts to its durable content, or, with
//! `torn_tail`, keeps a chooser-picked prefix of its unsynced appends (pages the OS happened to
//! write back) when its cache is its durable content plus appends (no rewrite, and no truncation
//! into the durable entries, since the fsync that made them durable was issued). Truncations and
//! rewrites are unsynced like appends: a crash before their fsync completes brings the old
//! durable data back.
//! A graceful stop (or a kill that leaves the OS running) writes the whole cache back.
//!
//! The bookkeeping is built for logs of thousands of entries: an fsync records a length, not a
//! copy, and only the entries a later truncate or rewrite would destroy are copied aside for the
//! fsyncs still in flight.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::chooser::{Choice, Chooser};
use super::digest::StableHashMap;
use crate::model::{DiskImage, DiskOp, NodeId, SimDuration};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiskConfig {
    /// How long an fsync takes from issue to completion.
    pub fsync_latency: SimDuration,
    /// Whether a crash may keep part of the unsynced appends.
    pub torn_tail: bool,
}

impl Default for DiskConfig {
    fn default() -> Self {
        DiskConfig { fsync_latency: SimDuration::from_millis(2), torn_tail: false }
    }
}

/// An fsync in flight, handed to the engine by [`Disk::apply`] and back by
/// [`Disk::complete_sync`]. Tokens are never reused, so one that outlived a crash finds nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SyncToken(u64);

#[derive(Clone, Debug)]
struct File<E> {
    cached: Vec<E>,
    durable: Vec<E>,
    /// How many leading entries `cached` and `durable` are known to share. Always at most both
    /// lengths. `common == durable.len()` means the cache is the durable content plus appends.
    common: usize,
    /// Whether the file was rewritten since the fsync that produced `durable` was issued. A
    /// rewrite is a write-and-rename: a crash shows the old file or the new one, never a prefix of
    /// the new one, so it rules out a torn tail even when `durable` is empty.
    rewritten: bool,
    /// The issue number of the fsync whose content `durable` holds. Completions can arrive out of
    /// issue order (two fsyncs due at the same instant); an older one must not undo a newer one.
    durable_seq: u64,
}

impl<E> Default for File<E> {
    fn default() -> Self {
        File { cached: Vec::new(), durable: Vec::new(), common: 0, rewritten: false, durable_seq: 0 }
    }
}

/// What an fsync in flight will make durable: the cache content at issue, which is always
/// `cached[..shared] ++ tail`. While nothing but appends happen, `tail` stays empty; a truncate or
/// rewrite that would destroy covered entries first moves them into `tail`.
#[derive(Clone, Debug)]
struct PendingSync<E> {
    file: String,
    shared: usize,
    tail: Vec<E>,
    /// Whether the file was rewritten after this fsync was issued.
    rewritten_after: bool,
}

/// A node's files, kept in name order (crashes and images walk them so), and found by name through
/// a hash map: an append names its file, and comparing names down a tree was most of an append's
/// cost. Creating a file shifts the positions after it, so the map is rebuilt then; files are
/// created rarely and a node has tens of them.
#[derive(Clone, Debug)]
struct Files<E> {
    /// Every file with its name, in name order.
    all: Vec<(String, File<E>)>,
    /// Where each name sits in `all`. Only looked up, never iterated.
    index: StableHashMap<String, usize>,
}

impl<E> Default for Files<E> {
    fn default() -> Self {
        Files { all: Vec::new(), index: StableHashMap::default() }
    }
}

impl<E> Files<E> {
    fn get(&self, name: &str) -> Option<&File<E>> {
        self.index.get(name).map(|&i| &self.all[i].1)
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut File<E>> {
        self.index.get(name).map(|&i| &mut self.all[i].1)
    }

    /// The file, created empty if it does not exist.
    fn open(&mut self, name: &str) -> &mut File<E> {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                let at = self.all.partition_point(|(n, _)| n.as_str() < name);
                self.all.insert(at, (name.to_string(), File::default()));
                self.index = self.all.iter().enumerate().map(|(i, (n, _))| (n.clone(), i)).collect();
                at
            }
        };
        &mut self.all[i].1
    }

    /// Every file with its name, in name order.
    fn iter(&self) -> impl Iterator<Item = (&String, &File<E>)> {
        self.all.iter().map(|(n, f)| (n, f))
    }

    /// Every file, in name order.
    fn values_mut(&mut self) -> impl Iterator<Item = &mut File<E>> {
        self.all.iter_mut().map(|(_, f)| f)
    }
}

#[derive(Clone, Debug)]
pub struct Disk<E> {
    files: Files<E>,
    /// Fsyncs in flight, by issue number.
    pending: BTreeMap<u64, PendingSync<E>>,
    /// The next issue number; starts at 1 so that 0 means "no fsync yet".
    next_seq: u64,
}

impl<E: Clone> Default for Disk<E> {
    fn default() -> Self {
        Disk { files: Files::default(), pending: BTreeMap::new(), next_seq: 1 }
    }
}

impl<E: Clone> Disk<E> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one operation to the page cache. An fsync returns its token: the engine calls
    /// [`Disk::complete_sync`] with it once the fsync latency has passed.
    pub fn apply(&mut self, op: DiskOp<E>) -> Option<SyncToken> {
        match op {
            DiskOp::Append { file, entry } => {
                self.files.open(&file).cached.push(entry);
                None
            }
            DiskOp::Truncate { file, len } => {
                // Truncating to the current length or beyond changes nothing (and creates nothing).
                let f = self.files.get_mut(&file)?;
                if len >= f.cached.len() {
                    return None;
                }
                for p in self.pending.values_mut().filter(|p| p.file == file && p.shared > len) {
                    let mut tail = Vec::with_capacity(p.shared - len + p.tail.len());
                    tail.extend_from_slice(&f.cached[len..p.shared]);
                    tail.append(&mut p.tail);
                    p.tail = tail;
                    p.shared = len;
                }
                f.cached.truncate(len);
                f.common = f.common.min(len);
                None
            }
            DiskOp::Rewrite { file, entries } => {
                let f = self.files.open(&file);
                let old = std::mem::replace(&mut f.cached, entries);
                for p in self.pending.values_mut().filter(|p| p.file == file) {
                    if p.shared > 0 {
                        let mut tail = Vec::with_capacity(p.shared + p.tail.len());
                        tail.extend_from_slice(&old[..p.shared]);
                        tail.append(&mut p.tail);
                        p.tail = tail;
                        p.shared = 0;
                    }
                    p.rewritten_after = true;
                }
                f.common = 0;
                f.rewritten = true;
                None
            }
            DiskOp::Fsync { file } => {
                let f = self.files.open(&file);
                let seq = self.next_seq;
                self.next_seq += 1;
                self.pending.insert(seq, PendingSync { file, shared: f.cached.len(), tail: Vec::new(), rewritten_after: false });
                Some(SyncToken(seq))
            }
        }
    }

    /// Completes an fsync: what the file held when it was issued is now durable. Returns the file
    /// and how many entries that was (what the actor is told), or `None` when a crash or stop came
    /// first and the fsync is gone.
    pub fn complete_sync(&mut self, token: SyncToken) -> Option<(String, usize)> {
        let p = self.pending.remove(&token.0)?;
        let f = self.files.get_mut(&p.file).expect("an fsync names a file it created");
        let len = p.shared + p.tail.len();
        // A later-issued fsync already completed: its content is newer, and stays.
        if token.0 > f.durable_seq {
            f.durable_seq = token.0;
            // durable[..keep] == cached[..keep] == the synced content's first `keep` entries, so
            // only what differs is copied.
            let keep = f.common.min(p.shared);
            f.durable.truncate(keep);
            f.durable.extend_from_slice(&f.cached[keep..p.shared]);
            f.durable.extend(p.tail);
            f.common = p.shared;
            f.rewritten = p.rewritten_after;
        }
        Some((p.file, len))
    }

    /// A machine crash: every fsync in flight is lost and each file reverts to its durable
    /// content. With `torn_tail`, a file whose cache is its durable content plus appends keeps
    /// the first `k` of its `n` unsynced entries, `k` asked of the chooser among `0..=n` (files in
    /// name order, only files with `n > 0`). Afterwards the cache equals [`Disk::image`].
    pub fn crash(&mut self, cfg: &DiskConfig, node: NodeId, chooser: &mut dyn Chooser) {
        self.crash_keeping(|cached, d| {
            let n = cached.len() - d;
            let kept = if cfg.torn_tail && n > 0 { chooser.pick(Choice::TornTail { node }, n + 1) } else { 0 };
            cached.truncate(d + kept);
        });
    }

    /// A machine crash that tears the last write: every fsync in flight is lost, and each file
    /// whose cache is its durable content plus appends keeps them all (the OS had written them
    /// back) except the last, which is only half written: `tear` says what it becomes on disk
    /// (`None`: nothing). Other files revert to their durable content, as in [`Disk::crash`].
    pub fn crash_torn(&mut self, tear: impl Fn(&E) -> Option<E>) {
        self.crash_keeping(|cached, d| {
            if cached.len() > d {
                let last = cached.pop().expect("longer than the durable part");
                cached.extend(tear(&last));
            }
        });
    }

    /// What every crash does: the fsyncs in flight are lost; a file whose cache is its durable
    /// content plus appends keeps what `survive(cache, durable length)` leaves of them (it may
    /// only change the cache past the durable length), and any other file reverts to its durable
    /// content. Afterwards the cache equals [`Disk::image`].
    fn crash_keeping(&mut self, mut survive: impl FnMut(&mut Vec<E>, usize)) {
        self.pending.clear();
        for f in self.files.values_mut() {
            let d = f.durable.len();
            if f.common == d && !f.rewritten {
                survive(&mut f.cached, d);
                f.durable.extend_from_slice(&f.cached[d..]);
            } else {
                f.cached.truncate(f.common);
                f.cached.extend_from_slice(&f.durable[f.common..]);
            }
            f.common = f.cached.len();
            f.rewritten = false;
        }
    }

    /// A graceful stop, or a kill that leaves the OS running: the page cache is written back and
    /// everything becomes durable. The process is gone, so its fsyncs in flight are forgotten.
    pub fn sync_all(&mut self) {
        self.pending.clear();
        let seq = self.next_seq;
        self.next_seq += 1;
        for f in self.files.values_mut() {
            f.durable.truncate(f.common);
            f.durable.extend_from_slice(&f.cached[f.common..]);
            f.common = f.cached.len();
            f.rewritten = false;
            f.durable_seq = seq;
        }
    }

    /// The file as the running actor sees it (empty if it does not exist).
    pub fn cached(&self, file: &str) -> &[E] {
        self.files.get(file).map_or(&[], |f| f.cached.as_slice())
    }

    /// The file as a crash right now would leave it, torn tails aside.
    pub fn durable(&self, file: &str) -> &[E] {
        self.files.get(file).map_or(&[], |f| f.durable.as_slice())
    }

    /// Cached entries not known to be durable: those past the prefix the cache shares with the
    /// durable content. For a file only appended to, the appends since its last completed fsync;
    /// after a rewrite, the whole file. An unsynced truncation of durable entries counts nothing
    /// here (it removed entries, it added none): compare [`Disk::cached`] and [`Disk::durable`].
    pub fn unsynced_len(&self, file: &str) -> usize {
        self.files.get(file).map_or(0, |f| f.cached.len() - f.common)
    }

    /// How many fsyncs are in flight.
    pub fn syncs_in_flight(&self) -> usize {
        self.pending.len()
    }

    /// The durable content of every file: what a restart after a crash sees.
    pub fn image(&self) -> DiskImage<E> {
        DiskImage { files: self.files.iter().map(|(n, f)| (n.clone(), f.durable.clone())).collect() }
    }

    /// Every file ever written, in name order.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(n, _)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn append(d: &mut Disk<u32>, file: &str, v: u32) {
        assert_eq!(d.apply(DiskOp::Append { file: file.into(), entry: v }), None);
    }
    fn truncate(d: &mut Disk<u32>, file: &str, len: usize) {
        assert_eq!(d.apply(DiskOp::Truncate { file: file.into(), len }), None);
    }
    fn rewrite(d: &mut Disk<u32>, file: &str, entries: Vec<u32>) {
        assert_eq!(d.apply(DiskOp::Rewrite { file: file.into(), entries }), None);
    }
    fn fsync(d: &mut Disk<u32>, file: &str) -> SyncToken {
        d.apply(DiskOp::Fsync { file: file.into() }).expect("an fsync gives a token")
    }
    fn synced(file: &str, len: usize) -> Option<(String, usize)> {
        Some((file.to_string(), len))
    }

    /// Answers every pick with a fixed index (capped to the range) and records each question's
    /// range.
    struct Fixed {
        index: usize,
        asked: Vec<usize>,
    }
    impl Chooser for Fixed {
        fn pick(&mut self, what: Choice, n: usize) -> usize {
            assert_eq!(what, Choice::TornTail { node: NodeId(4) });
            self.asked.push(n);
            self.index.min(n - 1)
        }
        fn duration(&mut self, _: Choice, _: SimDuration, _: SimDuration) -> SimDuration {
            panic!("the disk asks for no durations")
        }
        fn chance(&mut self, _: Choice, _: f64) -> bool {
            panic!("the disk asks for no chances")
        }
    }

    /// Crashes `d` and returns the ranges the chooser was asked about.
    fn crash(d: &mut Disk<u32>, torn_tail: bool, index: usize) -> Vec<usize> {
        let mut c = Fixed { index, asked: Vec::new() };
        d.crash(&DiskConfig { torn_tail, ..DiskConfig::default() }, NodeId(4), &mut c);
        for name in d.files().map(str::to_string).collect::<Vec<_>>() {
            assert_eq!(d.cached(&name), d.durable(&name), "after a crash the cache is the durable content");
            assert_eq!(d.unsynced_len(&name), 0);
        }
        assert_eq!(d.syncs_in_flight(), 0);
        c.asked
    }

    #[test]
    fn a_crash_loses_exactly_the_unsynced_suffix() {
        let mut d = Disk::new();
        (0..5).for_each(|v| append(&mut d, "f", v));
        let t = fsync(&mut d, "f");
        assert_eq!(d.complete_sync(t), synced("f", 5));
        (5..8).for_each(|v| append(&mut d, "f", v));
        assert_eq!(d.unsynced_len("f"), 3);
        assert_eq!(crash(&mut d, false, 0), Vec::<usize>::new(), "without torn tails the chooser is not asked");
        assert_eq!(d.cached("f"), &[0, 1, 2, 3, 4]);
        assert_eq!(d.image().file("f"), &[0, 1, 2, 3, 4]);
    }

    #[test]
    fn an_fsync_covers_only_what_was_there_when_it_was_issued() {
        let mut d = Disk::new();
        append(&mut d, "f", 1);
        append(&mut d, "f", 2);
        let t = fsync(&mut d, "f");
        append(&mut d, "f", 3);
        assert_eq!(d.durable("f"), &[] as &[u32], "not durable before the completion");
        assert_eq!(d.complete_sync(t), synced("f", 2));
        assert_eq!(d.durable("f"), &[1, 2]);
        assert_eq!(d.unsynced_len("f"), 1);
        assert_eq!(d.complete_sync(t), None, "a token completes once");
    }

    #[test]
    fn a_crash_before_the_fsync_completes_loses_the_data_and_the_late_completion() {
        let mut d = Disk::new();
        append(&mut d, "f", 1);
        let t = fsync(&mut d, "f");
        assert_eq!(crash(&mut d, false, 0), Vec::<usize>::new());
        assert_eq!(d.complete_sync(t), None);
        assert_eq!(d.cached("f"), &[] as &[u32]);
        assert_eq!(d.durable("f"), &[] as &[u32]);
        // A fresh fsync after the crash is not confused with the stale one.
        append(&mut d, "f", 2);
        let t2 = fsync(&mut d, "f");
        assert_ne!(t, t2);
        assert_eq!(d.complete_sync(t2), synced("f", 1));
        assert_eq!(d.durable("f"), &[2]);
    }

    #[test]
    fn an_unsynced_truncate_is_undone_by_a_crash() {
        let mut d = Disk::new();
        (0..4).for_each(|v| append(&mut d, "f", v));
        let t = fsync(&mut d, "f");
        d.complete_sync(t);
        truncate(&mut d, "f", 2);
        append(&mut d, "f", 9);
        assert_eq!(d.cached("f"), &[0, 1, 9]);
        assert_eq!(d.unsynced_len("f"), 1);
        // The cache is no longer durable + appends: no torn tail, the chooser is not asked.
        assert_eq!(crash(&mut d, true, 1), Vec::<usize>::new());
        assert_eq!(d.cached("f"), &[0, 1, 2, 3], "the durable data comes back");
    }

    #[test]
    fn a_synced_truncate_persists() {
        let mut d = Disk::new();
        (0..4).for_each(|v| append(&mut d, "f", v));
        let t = fsync(&mut d, "f");
        d.complete_sync(t);
        truncate(&mut d, "f", 2);
        let t = fsync(&mut d, "f");
        append(&mut d, "f", 7);
        assert_eq!(d.complete_sync(t), synced("f", 2));
        assert_eq!(d.durable("f"), &[0, 1]);
        assert_eq!(crash(&mut d, false, 0), Vec::<usize>::new());
        assert_eq!(d.cached("f"), &[0, 1]);
    }

    #[test]
    fn a_truncate_after_an_fsync_was_issued_does_not_change_what_it_syncs() {
        let mut d = Disk::new();
        (0..4).for_each(|v| append(&mut d, "f", v));
        let t = fsync(&mut d, "f");
        truncate(&mut d, "f", 3);
        truncate(&mut d, "f", 1);
        append(&mut d, "f", 8);
        assert_eq!(d.complete_sync(t), synced("f", 4));
        assert_eq!(d.durable("f"), &[0, 1, 2, 3]);
        assert_eq!(d.cached("f"), &[0, 8]);
        assert_eq!(d.unsynced_len("f"), 1);
        assert_eq!(crash(&mut d, true, 5), Vec::<usize>::new());
        assert_eq!(d.cached("f"), &[0, 1, 2, 3]);
    }

    #[test]
    fn a_synced_rewrite_persists_and_an_unsynced_one_is_all_or_nothing() {
        let mut d = Disk::new();
        append(&mut d, "f", 1);
        rewrite(&mut d, "f", vec![8, 9]);
        let t = fsync(&mut d, "f");
        rewrite(&mut d, "f", vec![5]);
        assert_eq!(d.complete_sync(t), synced("f", 2));
        assert_eq!(d.durable("f"), &[8, 9]);
        assert_eq!(d.cached("f"), &[5]);
        assert_eq!(crash(&mut d, true, 0), Vec::<usize>::new());
        assert_eq!(d.cached("f"), &[8, 9]);
        // A rewrite of a file that was never synced is not a torn tail of appends either.
        rewrite(&mut d, "g", vec![1, 2, 3]);
        assert_eq!(d.unsynced_len("g"), 3);
        assert_eq!(crash(&mut d, true, 2), Vec::<usize>::new());
        assert_eq!(d.cached("g"), &[] as &[u32]);
    }

    #[test]
    fn a_torn_tail_keeps_a_chosen_prefix_of_the_unsynced_appends() {
        for (index, expect) in [(0, vec![0]), (2, vec![0, 1, 2]), (5, vec![0, 1, 2, 3, 4, 5])] {
            let mut d = Disk::new();
            append(&mut d, "f", 0);
            let t = fsync(&mut d, "f");
            d.complete_sync(t);
            (1..6).for_each(|v| append(&mut d, "f", v));
            assert_eq!(crash(&mut d, true, index), vec![6], "5 unsynced entries: 6 choices");
            assert_eq!(d.cached("f"), expect.as_slice());
            assert_eq!(d.image().file("f"), expect.as_slice());
        }
    }

    #[test]
    fn a_torn_tail_is_asked_per_file_with_unsynced_appends_in_name_order() {
        let mut d = Disk::new();
        (0..3).for_each(|v| append(&mut d, "b", v));
        append(&mut d, "a", 0);
        let t = fsync(&mut d, "c");
        d.complete_sync(t);
        // A truncate of unsynced appends only leaves the cache durable + appends.
        (0..4).for_each(|v| append(&mut d, "d", v));
        truncate(&mut d, "d", 2);
        assert_eq!(crash(&mut d, true, 1), vec![2, 4, 3]);
        assert_eq!(d.cached("a"), &[0]);
        assert_eq!(d.cached("b"), &[0]);
        assert_eq!(d.cached("d"), &[0]);
        assert_eq!(d.files().collect::<Vec<_>>(), vec!["a", "b", "c", "d"]);
    }

    #[test]
    fn an_older_fsync_completing_last_does_not_undo_a_newer_one() {
        let mut d = Disk::new();
        rewrite(&mut d, "f", vec![1]);
        let older = fsync(&mut d, "f");
        rewrite(&mut d, "f", vec![2, 3]);
        let newer = fsync(&mut d, "f");
        append(&mut d, "f", 4);
        assert_eq!(d.complete_sync(newer), synced("f", 2));
        assert_eq!(d.complete_sync(older), synced("f", 1), "the actor still hears of its fsync");
        assert_eq!(d.durable("f"), &[2, 3]);
        assert_eq!(d.unsynced_len("f"), 1);
        assert_eq!(crash(&mut d, true, 1), vec![2], "the cache is durable + one append");
        assert_eq!(d.cached("f"), &[2, 3, 4]);
    }

    #[test]
    fn sync_all_makes_everything_durable_and_forgets_fsyncs_in_flight() {
        let mut d = Disk::new();
        (0..3).for_each(|v| append(&mut d, "f", v));
        let t = fsync(&mut d, "f");
        truncate(&mut d, "f", 1);
        rewrite(&mut d, "g", vec![7]);
        d.sync_all();
        assert_eq!(d.complete_sync(t), None);
        assert_eq!(d.unsynced_len("f"), 0);
        assert_eq!(crash(&mut d, true, 0), Vec::<usize>::new());
        assert_eq!(d.cached("f"), &[0]);
        assert_eq!(d.cached("g"), &[7]);
        assert_eq!(d.image().files.len(), 2);
    }

    /// The obvious model: every fsync copies the whole file, durable content is replaced by the
    /// copy of the latest-issued completed fsync, and a torn tail needs the durable content to be a
    /// prefix of the cache with no rewrite since the durable fsync was issued.
    #[derive(Default)]
    struct Reference {
        cached: Vec<u32>,
        durable: Vec<u32>,
        durable_seq: u64,
        rewrites: u64,
        durable_rewrites: u64,
    }

    /// Random operations on two files, checked step by step against [`Reference`]. Every entry
    /// written is a fresh number, so "is a prefix" cannot hold by coincidence.
    #[test]
    fn random_operations_agree_with_copying_every_fsync() {
        for seed in 0..20u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut d: Disk<u32> = Disk::new();
            let mut r: BTreeMap<&str, Reference> = BTreeMap::new();
            // token -> (file, issue seq, snapshot, rewrites at issue)
            let mut pending: Vec<(SyncToken, &str, u64, Vec<u32>, u64)> = Vec::new();
            let mut seq = 0;
            let mut fresh = 0u32;
            let mut chooser = Fixed { index: 0, asked: Vec::new() };
            for step in 0..600 {
                let file = if rng.random_bool(0.5) { "a" } else { "b" };
                let roll = rng.random_range(0..100);
                if roll < 45 {
                    fresh += 1;
                    append(&mut d, file, fresh);
                    r.entry(file).or_default().cached.push(fresh);
                } else if roll < 55 {
                    let cur = d.cached(file).len();
                    let len = rng.random_range(0..=cur + 1);
                    truncate(&mut d, file, len);
                    if let Some(f) = r.get_mut(file) {
                        if len < f.cached.len() {
                            f.cached.truncate(len);
                        }
                    }
                } else if roll < 60 {
                    let entries: Vec<u32> = (0..rng.random_range(0..4))
                        .map(|_| {
                            fresh += 1;
                            fresh
                        })
                        .collect();
                    rewrite(&mut d, file, entries.clone());
                    let f = r.entry(file).or_default();
                    f.cached = entries;
                    f.rewrites += 1;
                } else if roll < 75 {
                    let t = fsync(&mut d, file);
                    seq += 1;
                    let f = r.entry(file).or_default();
                    pending.push((t, file, seq, f.cached.clone(), f.rewrites));
                } else if roll < 96 {
                    if pending.is_empty() {
                        continue;
                    }
                    let (t, file, s, snap, rewrites) = pending.remove(rng.random_range(0..pending.len()));
                    assert_eq!(d.complete_sync(t), synced(file, snap.len()), "seed {seed} step {step}");
                    let f = r.get_mut(file).unwrap();
                    if s > f.durable_seq {
                        f.durable = snap;
                        f.durable_seq = s;
                        f.durable_rewrites = rewrites;
                    }
                } else if roll < 99 {
                    chooser.index = rng.random_range(0..4);
                    let cfg = DiskConfig { torn_tail: rng.random_bool(0.5), ..DiskConfig::default() };
                    chooser.asked.clear();
                    d.crash(&cfg, NodeId(4), &mut chooser);
                    let mut expect_asked = Vec::new();
                    for f in r.values_mut() {
                        let appends_only = f.cached.starts_with(&f.durable) && f.rewrites == f.durable_rewrites;
                        let n = if appends_only { f.cached.len() - f.durable.len() } else { 0 };
                        if cfg.torn_tail && n > 0 {
                            expect_asked.push(n + 1);
                            let kept = f.durable.len() + chooser.index.min(n);
                            f.cached.truncate(kept);
                        } else {
                            f.cached = f.durable.clone();
                        }
                        f.durable = f.cached.clone();
                        f.durable_rewrites = f.rewrites;
                    }
                    assert_eq!(chooser.asked, expect_asked, "seed {seed} step {step}");
                    for (t, ..) in pending.drain(..) {
                        assert_eq!(d.complete_sync(t), None);
                    }
                } else {
                    d.sync_all();
                    for f in r.values_mut() {
                        f.durable = f.cached.clone();
                        f.durable_rewrites = f.rewrites;
                    }
                    seq += 1;
                    for f in r.values_mut() {
                        f.durable_seq = seq;
                    }
                    pending.clear();
                }
                for (name, f) in &r {
                    assert_eq!(d.cached(name), f.cached.as_slice(), "seed {seed} step {step} file {name}");
                    assert_eq!(d.durable(name), f.durable.as_slice(), "seed {seed} step {step} file {name}");
                }
            }
        }
    }

    #[test]
    fn a_torn_crash_keeps_the_unsynced_appends_but_tears_the_last() {
        let mut d: Disk<u32> = Disk::new();
        append(&mut d, "log", 1);
        let t = fsync(&mut d, "log");
        d.complete_sync(t);
        for v in [2, 3, 4] {
            append(&mut d, "log", v);
        }
        rewrite(&mut d, "checkpoint", vec![9]);
        d.crash_torn(|v| Some(v + 100));
        assert_eq!(d.cached("log"), &[1, 2, 3, 104], "2 and 3 were written back, 4 half written");
        assert_eq!(d.durable("log"), d.cached("log"));
        assert!(d.cached("checkpoint").is_empty(), "an unsynced rewrite is not torn: it is gone");
        d.crash_torn(|_| None);
        assert_eq!(d.cached("log"), &[1, 2, 3, 104], "nothing unsynced any more: nothing to tear");
    }
}
