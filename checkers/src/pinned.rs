//! Deciding a partition without a search where its reads pin the order of its
//! writes: an append-like model's reads spell out the writes since the last
//! reset ([`Reveal`]), oldest first, and distinct values make that spelling
//! unique.
//!
//! A read that saw `… a b` says `b` came right after `a`: no write between.
//! All reads together chain the writes into *segments*: one from the initial
//! state, and one from each put a read saw, each in a fixed order with its
//! reads between its writes (a read that saw `… b` after `b`, before what
//! follows `b`). Two reads that disagree on what follows a write, or a value
//! no sequence of writes spells, decide the partition invalid at once. What is
//! left open is the order of the segments and where the writes no read saw
//! (each a segment of its own) go: a segment is contiguous, so that is a
//! sequencing problem, solved exactly by a search over sets of segments placed
//! (placing each as early as real time allows, the smallest end kept per set).
//! Real time orders most segments, so few sets are reachable; past
//! [`MAX_SETS`] the engine's search decides instead.

use rustc_hash::FxHashMap;

use crate::engine::{Entry, Limits};
use crate::model::Reveal;

/// What the reveals decide.
#[derive(Debug, PartialEq, Eq)]
pub enum Pinned {
    Valid,
    /// `entry` cannot be linearized; `related` are the entries that say so
    /// with it (the other read that disagrees).
    Invalid {
        entry: u32,
        related: Vec<u32>,
        message: String,
    },
    /// The reveals leave too much open: the search decides.
    Open,
}

/// Sets of segments kept at once past which the search decides instead.
const MAX_SETS: usize = 1 << 12;

/// The initial state, before every write.
const START: u32 = u32::MAX;

/// One thing a segment does in order: a write, or the reads that saw the
/// state it made (in any order among themselves).
enum Item {
    Write(u32),
    Reads(Vec<u32>),
}

struct Segment {
    items: Vec<Item>,
    /// The earliest completion and the latest invocation of its ops: a
    /// segment with an op done before another's op began goes first.
    min_ret: u64,
    max_inv: u64,
}

fn invalid(entry: u32, related: Vec<u32>, message: &str) -> Pinned {
    Pinned::Invalid {
        entry,
        related,
        message: message.to_string(),
    }
}

/// Decides a partition from what its ops reveal (`reveals[i]` for
/// `entries[i]`); `is_write` tells the writes among the ops that reveal nothing.
pub fn decide<O>(entries: &[Entry<O>], reveals: &[Reveal], is_write: impl Fn(&O) -> bool, limits: &Limits) -> Pinned {
    let n = entries.len();
    let inv = |e: u32| entries[e as usize].invoke as u64;
    let ret = |e: u32| entries[e as usize].ret.map_or(u64::MAX, u64::from);
    // per write: the write right after it, and right before it, with the read
    // that said so
    let mut next: Vec<Option<(u32, u32)>> = vec![None; n];
    let mut prev: Vec<Option<(u32, u32)>> = vec![None; n];
    let mut first: Option<(u32, u32)> = None;
    let mut observed = vec![false; n];
    // per read: the write whose state it saw (START: the initial state)
    let mut saw: Vec<(u32, u32)> = Vec::new();
    let mut stamp = vec![u32::MAX; n];
    const DISAGREE: &str =
        "it and another read disagree on the order of the writes: each saw a write followed by a different one";
    for (r, reveal) in reveals.iter().enumerate() {
        let r = r as u32;
        let (writes, from_start) = match reveal {
            Reveal::Nothing => continue,
            Reveal::Impossible => {
                return invalid(r, vec![], "no sequence of the writes makes its value");
            }
            Reveal::Writes { writes, from_start } => (writes, *from_start),
        };
        for &w in writes {
            if stamp[w as usize] == r {
                return invalid(r, vec![w], "it saw one write twice");
            }
            stamp[w as usize] = r;
            observed[w as usize] = true;
        }
        let mut before = if from_start { Some(START) } else { None };
        for &w in writes {
            if let Some(a) = before {
                let after_a = if a == START { &mut first } else { &mut next[a as usize] };
                match *after_a {
                    Some((b, other)) if b != w => return invalid(r, vec![other], DISAGREE),
                    _ => *after_a = Some((w, r)),
                }
                match prev[w as usize] {
                    Some((b, other)) if b != a => return invalid(r, vec![other], DISAGREE),
                    _ => prev[w as usize] = Some((a, r)),
                }
            }
            before = Some(w);
        }
        saw.push((r, before.unwrap_or(START)));
    }
    let mut reads_of: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    for &(r, w) in &saw {
        reads_of.entry(w).or_default().push(r);
    }
    // the segments: from the start, then from each write no read saw anything before
    let mut segments: Vec<Segment> = Vec::new();
    let mut placed = vec![false; n];
    let heads =
        std::iter::once(START).chain((0..n as u32).filter(|&w| observed[w as usize] && prev[w as usize].is_none()));
    for head in heads {
        let mut items = Vec::new();
        let mut at = if head == START {
            if let Some(rs) = reads_of.remove(&START) {
                items.push(Item::Reads(rs));
            }
            first.map(|(w, _)| w)
        } else {
            Some(head)
        };
        while let Some(w) = at {
            if std::mem::replace(&mut placed[w as usize], true) {
                return invalid(w, vec![], "the reads chain it in a cycle of writes");
            }
            items.push(Item::Write(w));
            if let Some(rs) = reads_of.remove(&w) {
                items.push(Item::Reads(rs));
            }
            at = next[w as usize].map(|(b, _)| b);
        }
        segments.push(segment(items, &inv, &ret));
    }
    if let Some(w) = (0..n).find(|&w| observed[w] && !placed[w]) {
        return invalid(w as u32, vec![], "the reads chain it in a cycle of writes");
    }
    // writes no read saw: acknowledged ones go somewhere between segments;
    // one of unknown outcome may never have happened, which suits any order
    for (w, e) in entries.iter().enumerate() {
        if !observed[w] && e.ret.is_some() && matches!(reveals[w], Reveal::Nothing) && is_write(&e.op) {
            segments.push(segment(vec![Item::Write(w as u32)], &inv, &ret));
        }
    }
    sequence(&segments, &inv, &ret, limits)
}

fn segment(items: Vec<Item>, inv: &impl Fn(u32) -> u64, ret: &impl Fn(u32) -> u64) -> Segment {
    let ops = items.iter().flat_map(|i| match i {
        Item::Write(w) => std::slice::from_ref(w),
        Item::Reads(rs) => rs.as_slice(),
    });
    let (min_ret, max_inv) = ops.fold((u64::MAX, 0), |(r, i), &e| (r.min(ret(e)), i.max(inv(e))));
    Segment {
        items,
        min_ret,
        max_inv,
    }
}

/// Where a segment placed after `from` ends (each op as early as it can take
/// effect), or the op that cannot take effect in time.
fn place(s: &Segment, from: u64, inv: &impl Fn(u32) -> u64, ret: &impl Fn(u32) -> u64) -> Result<u64, u32> {
    let mut at = from;
    for item in &s.items {
        match item {
            Item::Write(w) => {
                at = at.max(inv(*w));
                if at >= ret(*w) {
                    return Err(*w);
                }
            }
            Item::Reads(rs) => {
                let mut end = at;
                for &r in rs {
                    let p = at.max(inv(r));
                    if p >= ret(r) {
                        return Err(r);
                    }
                    end = end.max(p);
                }
                at = end;
            }
        }
    }
    Ok(at)
}

/// Whether the segments fit real time in some order, the first (from the
/// initial state) first: a breadth-first search over the sets placed, each
/// with the earliest end any order of it reaches.
fn sequence(segments: &[Segment], inv: &impl Fn(u32) -> u64, ret: &impl Fn(u32) -> u64, limits: &Limits) -> Pinned {
    let m = segments.len();
    if m > 128 {
        return Pinned::Open;
    }
    let mut layer: FxHashMap<u128, u64> = FxHashMap::default();
    match place(&segments[0], 0, inv, ret) {
        Ok(end) => layer.insert(1, end),
        Err(e) => {
            return invalid(
                e,
                vec![],
                "it cannot take effect in time after the writes the reads place before it",
            );
        }
    };
    let mut stuck = None;
    for _ in 1..m {
        let mut next: FxHashMap<u128, u64> = FxHashMap::default();
        for (&set, &end) in &layer {
            // what must come next: none of the others may have finished before it began
            let (mut low, mut second, mut arg) = (u64::MAX, u64::MAX, usize::MAX);
            for (i, s) in segments.iter().enumerate().filter(|(i, _)| set & (1 << i) == 0) {
                if s.min_ret < low {
                    (second, low, arg) = (low, s.min_ret, i);
                } else if s.min_ret < second {
                    second = s.min_ret;
                }
            }
            for (i, s) in segments.iter().enumerate().filter(|(i, _)| set & (1 << i) == 0) {
                let others = if i == arg { second } else { low };
                if s.max_inv > others {
                    continue;
                }
                match place(s, end, inv, ret) {
                    Ok(to) => {
                        let best = next.entry(set | 1 << i).or_insert(to);
                        *best = (*best).min(to);
                    }
                    Err(e) => stuck = Some(e),
                }
            }
        }
        if next.is_empty() {
            return match stuck {
                Some(e) => invalid(
                    e,
                    vec![],
                    "in no order of the writes the reads reveal can it take effect in time",
                ),
                // each of two segments has an op done before one of the other's began
                None => Pinned::Open,
            };
        }
        if next.len() > MAX_SETS || limits.expired() {
            return Pinned::Open;
        }
        layer = next;
    }
    Pinned::Valid
}
