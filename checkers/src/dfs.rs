//! A depth-first linearization search (Wing & Gong with Lowe's cache, as in
//! Porcupine), raced ahead of the breadth-first engine on small partitions.
//!
//! Breadth-first keeps every way the pending ops could have been ordered; when
//! many non-commuting ops overlap (a dozen concurrent appends to one key) that is
//! many states, while a depth-first search of a valid history usually walks
//! straight to one linearization. So small partitions get a bounded depth-first
//! try first: a linearization found is final, anything else falls through to the
//! breadth-first search, which decides and explains.

use std::time::Instant;

use rustc_hash::FxHashSet;

/// Partitions larger than this skip the depth-first try (its cache keys are
/// bitsets of the whole partition).
pub const MAX_ENTRIES: usize = 4096;
/// Search steps the depth-first try may take.
const BUDGET: usize = 2_000_000;
/// Steps between looks at the clock (a step is well under a microsecond).
const CLOCK_EVERY: usize = 4096;

/// One op for the search: its call and return positions (`u32::MAX`: none, an
/// info op that may also never take effect) and its transition function.
pub struct Call {
    pub invoke: u32,
    pub ret: u32,
}

/// Whether a linearization was found within the step budget, `memory` bytes of
/// cache and the `deadline` (looked at every few thousand steps). `step(state, i)`
/// applies call `i` to `state`, `None` when illegal.
pub fn linearizable(
    calls: &[Call],
    init: u32,
    memory: usize,
    deadline: Option<Instant>,
    mut step: impl FnMut(u32, usize) -> Option<u32>,
) -> bool {
    let n = calls.len();
    if n == 0 || n > MAX_ENTRIES {
        return n == 0;
    }
    // events in time order: (position, call, is_return); info returns last
    let mut events: Vec<(u64, usize, bool)> = Vec::with_capacity(2 * n);
    for (i, c) in calls.iter().enumerate() {
        events.push((c.invoke as u64, i, false));
        let ret = if c.ret == u32::MAX {
            u64::MAX - (n - i) as u64
        } else {
            c.ret as u64
        };
        events.push((ret, i, true));
    }
    events.sort_unstable();
    let m = events.len();
    // a doubly linked list over events, with a head sentinel and an end marker
    let (head, end) = (m, m + 1);
    let mut next: Vec<usize> = (1..=m).map(|k| if k < m { k } else { end }).collect();
    next.push(0);
    let mut prev: Vec<usize> = (0..m).map(|k| if k == 0 { head } else { k - 1 }).collect();
    prev.push(head);
    let mut call_at = vec![0usize; n];
    let mut ret_at = vec![0usize; n];
    for (k, &(_, i, is_ret)) in events.iter().enumerate() {
        if is_ret { ret_at[i] = k } else { call_at[i] = k }
    }
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, k: usize| {
        let (p, q) = (prev[k], next[k]);
        next[p] = q;
        if q != end {
            prev[q] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, k: usize| {
        let (p, q) = (prev[k], next[k]);
        next[p] = k;
        if q != end {
            prev[q] = k;
        }
    };
    let words = n.div_ceil(64);
    let entry_bytes = words * 8 + 48;
    let mut linearized = vec![0u64; words];
    let mut cache: FxHashSet<(Vec<u64>, u32)> = FxHashSet::default();
    let mut stack: Vec<(usize, u32)> = Vec::new();
    let mut state = init;
    let mut at = next[head];
    let found = 'search: {
        for taken in 0..BUDGET {
            if taken % CLOCK_EVERY == 0
                && (deadline.is_some_and(|d| Instant::now() >= d) || crate::gauge::exceeded().is_some())
            {
                break 'search false;
            }
            if at == end {
                break 'search true;
            }
            let (_, i, is_ret) = events[at];
            if is_ret {
                if calls[i].ret == u32::MAX {
                    break 'search true; // only info ops are left: they may never take effect
                }
                // call i must have been linearized by now: undo the last choice
                let Some((j, before)) = stack.pop() else {
                    break 'search false;
                };
                state = before;
                linearized[j / 64] &= !(1 << (j % 64));
                relink(&mut next, &mut prev, ret_at[j]);
                relink(&mut next, &mut prev, call_at[j]);
                at = next[call_at[j]];
                continue;
            }
            if let Some(ns) = step(state, i) {
                linearized[i / 64] |= 1 << (i % 64);
                if cache.len().saturating_mul(entry_bytes) > memory {
                    break 'search false;
                }
                if cache.insert((linearized.clone(), ns)) {
                    stack.push((i, state));
                    state = ns;
                    unlink(&mut next, &mut prev, call_at[i]);
                    unlink(&mut next, &mut prev, ret_at[i]);
                    at = next[head];
                    continue;
                }
                linearized[i / 64] &= !(1 << (i % 64));
            }
            at = next[at];
        }
        false
    };
    // up to a few million cached bitsets
    crate::search::dispose(deadline.is_some(), cache.len(), cache);
    found
}
