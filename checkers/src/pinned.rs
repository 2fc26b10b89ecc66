//! Deciding a partition without a search where its reads pin the order of its
//! writes: an append-like model's reads spell out the writes since the last
//! reset ([`Reveal`]), oldest first, and values none of which is a prefix of
//! another make that spelling unique. A value written more than once (the same
//! op again, as a retrying client does) is resolved to the write a read saw by
//! real time, where it tells; where it does not, or a read could start from
//! the initial state or from a put of the same value, the search decides.
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

use crate::model::Reveal;
use crate::search::{Entry, Limits};

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
        /// Where the reads fix them: the ops before `entry` in the order
        /// they reveal (from the state its segment starts from). Empty where
        /// they fix none (the search then explains).
        before: Vec<u32>,
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

impl Item {
    fn ops(&self) -> &[u32] {
        match self {
            Item::Write(w) => std::slice::from_ref(w),
            Item::Reads(rs) => rs,
        }
    }
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
        before: Vec::new(),
    }
}

/// The writes a reveal names by the first of equal ones: the others, in
/// invocation order, keyed by that first.
type Equal = FxHashMap<u32, Vec<u32>>;

/// The writes a read `r` saw, its chain's values named by the first of equal
/// writes resolved to the one it saw, where real time tells (else `None`:
/// the search decides). One of equal writes can be the one only if it began
/// before `r` ended, was not done before the chain's reset began (where the
/// chain has one), and fits between the chain's writes around it (each before
/// it began before it ended; it began before each after it ended). On a chain
/// from the initial state every write before `r` is on it, so one of them done
/// before `r` began is the one.
fn resolve(
    chain: &[u32],
    from_start: bool,
    r: u32,
    equal: &Equal,
    inv: &impl Fn(u32) -> u64,
    ret: &impl Fn(u32) -> u64,
) -> Option<Vec<u32>> {
    let mut out: Vec<Option<u32>> = chain.iter().map(|w| (!equal.contains_key(w)).then_some(*w)).collect();
    // seen as often as it was written, by writes one after another: in that order
    for (first, all) in equal {
        let at: Vec<usize> = (0..chain.len()).filter(|&i| chain[i] == *first).collect();
        if at.len() == all.len() && all.windows(2).all(|p| ret(p[0]) < inv(p[1])) {
            for (&i, &w) in at.iter().zip(all) {
                out[i] = Some(w);
            }
        }
    }
    // the reset first: the rest must come after it
    if !from_start && out[0].is_none() {
        let all = &equal[&chain[0]];
        match all.iter().filter(|&&w| inv(w) < ret(r)).collect::<Vec<_>>()[..] {
            [one] => out[0] = Some(*one),
            _ => return None,
        }
    }
    for i in 0..chain.len() {
        if out[i].is_some() {
            continue;
        }
        let all = &equal[&chain[i]];
        let fits = |w: u32| {
            inv(w) < ret(r)
                && out[..i].iter().flatten().all(|&b| inv(b) < ret(w) && b != w)
                && out[i + 1..].iter().flatten().all(|&a| inv(w) < ret(a) && a != w)
        };
        let can: Vec<u32> = all.iter().copied().filter(|&w| fits(w)).collect();
        out[i] = match can[..] {
            [one] => Some(one),
            // (seen once: with it seen twice, more than one may be done before)
            _ if from_start && chain.iter().filter(|&&w| w == chain[i]).count() == 1 => {
                match all.iter().filter(|&&w| ret(w) < inv(r)).collect::<Vec<_>>()[..] {
                    [one] => Some(*one),
                    _ => None,
                }
            }
            _ => None,
        };
        out[i]?;
    }
    out.into_iter().collect()
}

/// Decides a partition from what its ops reveal (`reveals[i]` for
/// `entries[i]`); `is_write` tells the writes among the ops that reveal
/// nothing.
pub fn decide<O: Eq + std::hash::Hash>(
    entries: &[Entry<O>],
    reveals: &[Reveal],
    is_write: impl Fn(&O) -> bool,
    limits: &Limits,
) -> Pinned {
    let n = entries.len();
    let inv = |e: u32| entries[e as usize].invoke as u64;
    let ret = |e: u32| entries[e as usize].ret.map_or(u64::MAX, u64::from);
    let mut equal: Equal = FxHashMap::default();
    // per write: the first of the writes equal to it (itself if none before)
    let mut first_of: Vec<u32> = (0..n as u32).collect();
    {
        let mut first: FxHashMap<&O, u32> = FxHashMap::default();
        for (i, e) in entries.iter().enumerate().filter(|(_, e)| is_write(&e.op)) {
            let f = *first.entry(&e.op).or_insert(i as u32);
            if f != i as u32 {
                equal.entry(f).or_insert_with(|| vec![f]).push(i as u32);
                first_of[i] = f;
            }
        }
    }
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
            // from the start, every write done before it began is on the chain
            Reveal::Ambiguous { from_start, from_reset } => {
                let done_before = (0..n as u32).filter(|&w| ret(w) < inv(r) && is_write(&entries[w as usize].op));
                if done_before
                    .into_iter()
                    .any(|w| !from_start.contains(&first_of[w as usize]))
                {
                    (from_reset, false)
                } else {
                    return Pinned::Open;
                }
            }
        };
        let Some(writes) = resolve(writes, from_start, r, &equal, &inv, &ret) else {
            return Pinned::Open;
        };
        for &w in &writes {
            if stamp[w as usize] == r {
                return invalid(r, vec![w], "it saw one write twice");
            }
            stamp[w as usize] = r;
            observed[w as usize] = true;
        }
        let mut before = if from_start { Some(START) } else { None };
        for &w in &writes {
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
    let ops = items.iter().flat_map(Item::ops);
    let (min_ret, max_inv) = ops.fold((u64::MAX, 0), |(r, i), &e| (r.min(ret(e)), i.max(inv(e))));
    Segment {
        items,
        min_ret,
        max_inv,
    }
}

/// Where a segment placed after `from` ends (each op as early as it can take
/// effect), or the op that cannot take effect in time.
fn place(s: &Segment, from: u64, inv: &impl Fn(u32) -> u64, ret: &impl Fn(u32) -> u64) -> Result<u64, Late> {
    let mut at = from;
    // the op of this segment whose invocation `at` is, once one is
    let mut by = None;
    let raise = |at: &mut u64, by: &mut Option<u32>, e: u32| {
        if inv(e) > *at {
            (*at, *by) = (inv(e), Some(e));
        }
    };
    let late = |op: u32, after: Option<u32>, done: usize| Late {
        op,
        after,
        segment: s.items[..done].iter().flat_map(Item::ops).copied().collect(),
    };
    for (done, item) in s.items.iter().enumerate() {
        match item {
            Item::Write(w) => {
                raise(&mut at, &mut by, *w);
                if at >= ret(*w) {
                    return Err(late(*w, by, done));
                }
            }
            Item::Reads(rs) => {
                let (mut end, mut end_by) = (at, by);
                for &r in rs {
                    if at.max(inv(r)) >= ret(r) {
                        return Err(late(r, by, done));
                    }
                    raise(&mut end, &mut end_by, r);
                }
                (at, by) = (end, end_by);
            }
        }
    }
    Ok(at)
}

/// An op that cannot take effect in time, the op the reads place before it
/// that began after it ended (none: one of an earlier segment), and what its
/// segment does before it.
struct Late {
    op: u32,
    after: Option<u32>,
    segment: Vec<u32>,
}

impl Late {
    fn invalid(self) -> Pinned {
        let (related, message) = match self.after {
            Some(a) if a != self.op => (
                vec![a],
                "it ended before the other op began, which the reads place before it",
            ),
            _ => (
                vec![],
                "in no order of the writes the reads reveal can it take effect in time",
            ),
        };
        Pinned::Invalid {
            entry: self.op,
            related,
            message: message.to_string(),
            before: self.segment,
        }
    }
}

/// The segments `left` in a cycle of "has an op done before one of the
/// other's began" (none could go next): the pair that closes it, named.
fn crossed(segments: &[Segment], left: &[usize], inv: &impl Fn(u32) -> u64, ret: &impl Fn(u32) -> u64) -> Pinned {
    let ops = |s: &Segment| -> Vec<u32> { s.items.iter().flat_map(Item::ops).copied().collect() };
    // walk back from any segment to one that must precede it, until one repeats
    let before = |c: usize| {
        left.iter()
            .copied()
            .find(|&b| b != c && segments[b].min_ret < segments[c].max_inv)
    };
    let mut seen = vec![left[0]];
    while let Some(b) = before(*seen.last().expect("a segment")) {
        if seen.contains(&b) {
            // b must precede the last one: b has an op done before one of it began
            let c = *seen.last().expect("a segment");
            let (cs, bs) = (ops(&segments[c]), ops(&segments[b]));
            let late = *cs.iter().max_by_key(|&&e| inv(e)).expect("ops");
            let early = *bs.iter().min_by_key(|&&e| ret(e)).expect("ops");
            let at = cs.iter().position(|&e| e == late).expect("its op");
            return Pinned::Invalid {
                entry: late,
                related: vec![early],
                message:
                    "it began after the other op ended, yet the reads order the writes around them the other way round"
                        .to_string(),
                before: cs[..at].to_vec(),
            };
        }
        seen.push(b);
    }
    Pinned::Open
}

/// Whether the segments fit real time in some order, the first (from the
/// initial state) first: a breadth-first search over the sets placed, each
/// with the earliest end any order of it reaches.
fn sequence(segments: &[Segment], inv: &impl Fn(u32) -> u64, ret: &impl Fn(u32) -> u64, limits: &Limits) -> Pinned {
    let m = segments.len();
    // a set of segments placed, a bit each
    type Set = Box<[u64]>;
    let has = |set: &Set, i: usize| set[i / 64] & (1 << (i % 64)) != 0;
    let with = |set: &Set, i: usize| {
        let mut s = set.clone();
        s[i / 64] |= 1 << (i % 64);
        s
    };
    let mut layer: FxHashMap<Set, u64> = FxHashMap::default();
    match place(&segments[0], 0, inv, ret) {
        Ok(end) => layer.insert(with(&vec![0; m.div_ceil(64)].into(), 0), end),
        Err(late) => return late.invalid(),
    };
    let mut stuck = None;
    for _ in 1..m {
        let mut next: FxHashMap<Set, u64> = FxHashMap::default();
        for (set, &end) in &layer {
            // what must come next: none of the others may have finished before it began
            let (mut low, mut second, mut arg) = (u64::MAX, u64::MAX, usize::MAX);
            for (i, s) in segments.iter().enumerate().filter(|(i, _)| !has(set, *i)) {
                if s.min_ret < low {
                    (second, low, arg) = (low, s.min_ret, i);
                } else if s.min_ret < second {
                    second = s.min_ret;
                }
            }
            for (i, s) in segments.iter().enumerate().filter(|(i, _)| !has(set, *i)) {
                let others = if i == arg { second } else { low };
                if s.max_inv > others {
                    continue;
                }
                match place(s, end, inv, ret) {
                    Ok(to) => {
                        let best = next.entry(with(set, i)).or_insert(to);
                        *best = (*best).min(to);
                    }
                    Err(late) => stuck = Some(late),
                }
            }
        }
        if next.is_empty() {
            return match stuck {
                Some(late) => late.invalid(),
                None => {
                    let set = layer.keys().next().expect("a set placed");
                    let left: Vec<usize> = (0..m).filter(|&i| !has(set, i)).collect();
                    crossed(segments, &left, inv, ret)
                }
            };
        }
        if next.len() > MAX_SETS || limits.stop().is_some() {
            return Pinned::Open;
        }
        layer = next;
    }
    Pinned::Valid
}
