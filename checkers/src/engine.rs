//! The linearizability search for one partition (one key, or the whole history).
//!
//! Just-in-time linearization (Wing & Gong, Lowe) run breadth-first over the
//! history's events instead of depth-first over ops. A *configuration* is a model
//! state, the set of in-flight ops already linearized, and how many info ops of
//! each kind it has spent. At each completion every configuration is extended,
//! linearizing in-flight ops and info ops, until the completing op is linearized;
//! configurations that cannot do so die. The history is linearizable iff some
//! configuration survives the last event.
//!
//! What makes it fast:
//! - Configurations only name in-flight ops, so their size follows the concurrency
//!   window (a bit per client) rather than the history length, and finished ops
//!   are forgotten: memory is bounded by the window, time is linear in the history.
//! - States and ops are interned to `u32` and `step` is memoised per (state, op),
//!   so the model runs once per distinct transition (a precompiled model).
//! - Info ops with equal ops are interchangeable: a configuration spends a count of
//!   a kind, not a particular op, and info ops that cannot change the state (reads)
//!   are dropped before the search.
//! - Counting spent info ops exactly makes configurations multiply (which kinds
//!   explained which reads), so the search runs in up to three passes, each with
//!   one configuration per (state, window) until the last:
//!   1. *greedy*: counts respected, keeping the configuration that spent fewest;
//!      survivors are real linearizations, so `valid` here is final;
//!   2. *relaxed*: info ops usable any number of times once invoked; a superset of
//!      the real behaviours, so `invalid` here is final;
//!   3. *exact*: every non-dominated spent vector kept, bounded by the limits.
//!
//! Histories without info ops are decided by the first pass.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Instant;

use rustc_hash::{FxBuildHasher, FxHashMap};
use smallvec::SmallVec;

use crate::dfs;
use crate::model::Model;
use crate::pinned::{self, Pinned};
use crate::search::{Entry, Limits, TIME_UP, dispose};

/// One linearization step, for counterexamples: which entry (or info kind
/// instance) and the state after it.
#[derive(Debug)]
pub struct Step {
    pub entry: u32,
    pub state: u32,
    /// Steps in the path ending here (this one included).
    pub len: u32,
    pub prev: Option<Arc<Step>>,
}

impl Step {
    fn after(prev: &Option<Arc<Step>>, entry: u32, state: u32) -> Arc<Step> {
        Arc::new(Step {
            entry,
            state,
            len: prev.as_ref().map_or(1, |p| p.len + 1),
            prev: prev.clone(),
        })
    }
}

/// Why a partition is not linearizable.
#[derive(Debug)]
pub struct Violation<S> {
    /// Entry index of the op that no configuration can linearize.
    pub entry: u32,
    /// Entries in flight when it completed (concurrent with it), with info ops pending.
    pub concurrent: Vec<u32>,
    /// States the model could be in just before the failing op, with the
    /// in-flight entries linearized to get there: all of them, or the first
    /// `STATES_KEPT` when there are more.
    pub states: Vec<(S, Vec<u32>)>,
    /// How many (state, linearized entries) there were in all.
    pub states_total: usize,
    /// One longest linearizable prefix: entries in linearization order with the state after each.
    pub prefix: Vec<(u32, S)>,
    /// How many ops were linearized in all (the prefix may be cut to its tail).
    pub prefix_len: usize,
    /// Why `prefix` is empty although the violation is proven: the search that
    /// records paths ran out of time (or memory) after the one that decided.
    pub prefix_missing: Option<String>,
    /// `prefix` is the order the reads reveal before the op, not a search's
    /// longest linearizable prefix.
    pub prefix_revealed: bool,
    /// What decided it before any search, where something did (what the reads
    /// reveal).
    pub why: Option<Why>,
}

/// What the reads revealed that decides a partition invalid: `message` says
/// what of `entry` (with `related`, the other read, where there is one).
#[derive(Clone, Debug)]
pub struct Why {
    pub message: String,
    pub entry: u32,
    pub related: Vec<u32>,
}

#[derive(Debug)]
pub enum Outcome<S> {
    Valid,
    Invalid(Box<Violation<S>>),
    Unknown(String),
}

/// Counters a report can show.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub entries: usize,
    pub info_dropped: usize,
    pub max_window: usize,
    pub max_configs: usize,
    pub states: usize,
}

const ILLEGAL: u32 = u32::MAX;
/// How spent info ops are accounted (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Greedy,
    Relaxed,
    Exact,
}
/// Configurations at once past which a small partition tries depth-first.
const SOFT_CAP: usize = 2000;
/// Configurations at once past which the relaxed pass hands over to the exact one.
const RELAXED_CAP: usize = 2000;
/// Longest prefix a counterexample keeps.
const PREFIX_TAIL: usize = 64;
/// Most states a counterexample lists (a crowded key can have tens of thousands,
/// which no one reads and which take seconds to report).
pub const STATES_KEPT: usize = 64;
/// Units of search work (a configuration taken or moved, a transition tried)
/// between looks at the clock and the memory bound. A unit costs from a few
/// nanoseconds to a few microseconds (a model step on a long value), so a
/// deadline is noticed within milliseconds, and the look costs nothing measurable.
const CLOCK_EVERY: u64 = 1 << 12;

/// Counts search work and says when it is time to look at the limits.
struct Pace {
    work: u64,
    next: u64,
}

impl Pace {
    /// The first call always looks, so a run started past its deadline stops at once.
    fn new() -> Pace {
        Pace { work: 0, next: 0 }
    }

    #[inline]
    fn due(&mut self, units: u64) -> bool {
        self.work += units;
        if self.work < self.next {
            return false;
        }
        self.next = self.work + CLOCK_EVERY;
        true
    }
}

/// Info ops spent, per kind, sorted by kind; shared until it changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Spent {
    total: u32,
    counts: Option<Arc<[(u32, u32)]>>,
}

impl Spent {
    fn counts(&self) -> &[(u32, u32)] {
        self.counts.as_deref().unwrap_or(&[])
    }

    fn of(&self, kind: u32) -> u32 {
        let c = self.counts();
        c.binary_search_by_key(&kind, |(k, _)| *k).map_or(0, |i| c[i].1)
    }

    fn plus(&self, kind: u32) -> Spent {
        let mut c = self.counts().to_vec();
        match c.binary_search_by_key(&kind, |(k, _)| *k) {
            Ok(i) => c[i].1 += 1,
            Err(i) => c.insert(i, (kind, 1)),
        }
        Spent {
            total: self.total + 1,
            counts: Some(Arc::from(c)),
        }
    }
}
type Window = u128;
const MAX_WINDOW: usize = 128;

#[derive(Clone)]
struct Config {
    state: u32,
    window: Window,
    spent: Spent,
    path: Option<Arc<Step>>,
}

/// Interned states and ops with a memoised step function.
///
/// States are kept once, in `states`, and found by their hash: `by_hash` maps a
/// hash to the newest state with it, `same_hash` chains to older ones. Keying the
/// index by the hash rather than the state halves the memory of large states
/// (strings) and makes its growth cheap: a map of millions of states grows
/// without hashing a single state again.
struct Compiled<'m, M: Model> {
    model: &'m M,
    states: Vec<M::State>,
    by_hash: FxHashMap<u64, u32>,
    same_hash: Vec<u32>,
    ops: Vec<M::Op>,
    memo: FxHashMap<(u32, u32), u32>,
}

/// No state: the end of a `same_hash` chain.
const NO_STATE: u32 = u32::MAX;

impl<'m, M: Model> Compiled<'m, M> {
    fn new(model: &'m M) -> Self {
        Compiled {
            model,
            states: Vec::new(),
            by_hash: FxHashMap::default(),
            same_hash: Vec::new(),
            ops: Vec::new(),
            memo: FxHashMap::default(),
        }
    }

    fn state_id(&mut self, s: M::State) -> u32 {
        let hash = FxBuildHasher.hash_one(&s);
        let newest = self.by_hash.get(&hash).copied().unwrap_or(NO_STATE);
        let mut at = newest;
        while at != NO_STATE {
            if self.states[at as usize] == s {
                return at;
            }
            at = self.same_hash[at as usize];
        }
        let id = self.states.len() as u32;
        self.states.push(s);
        self.same_hash.push(newest);
        self.by_hash.insert(hash, id);
        id
    }

    fn step(&mut self, state: u32, op: u32) -> u32 {
        if let Some(&next) = self.memo.get(&(state, op)) {
            return next;
        }
        let next = match self.model.step(&self.states[state as usize], &self.ops[op as usize]) {
            Some(s) => self.state_id(s),
            None => ILLEGAL,
        };
        self.memo.insert((state, op), next);
        next
    }
}

enum Event {
    Invoke(u32),
    Return(u32),
    Info(u32),
}

/// Checks one partition. `entries` must be in invocation order.
pub fn check<M: Model>(model: &M, entries: &[Entry<M::Op>], limits: Limits) -> (Outcome<M::State>, Stats) {
    check_telling(model, entries, limits, None)
}

/// Told of a violation as soon as it is proven, before the search that explains it
/// (its `prefix_missing` says the prefix was not found in time).
pub type Proven<'a, S> = &'a mut dyn FnMut(Box<Violation<S>>, Stats);

/// How long the search may take to explain a violation the reads already
/// proved, before the reads' own account stands.
const EXPLAIN_WITHIN: std::time::Duration = std::time::Duration::from_millis(300);

/// [`check`], telling `proven` of a violation as soon as it is proven, so that a
/// caller who stops waiting at the deadline still has it.
///
/// Where the model tells what its reads reveal, a partition whose reads pin
/// the order of its writes is decided without a search ([`pinned`]); a
/// violation found so is explained by the order the reads fix before it, or
/// else by the search when it can in a moment.
pub fn check_telling<M: Model>(
    model: &M,
    entries: &[Entry<M::Op>],
    limits: Limits,
    proven: Option<Proven<'_, M::State>>,
) -> (Outcome<M::State>, Stats) {
    let ops: Vec<&M::Op> = entries.iter().map(|e| &e.op).collect();
    let decided = model
        .reveal(&ops)
        .map(|reveals| pinned::decide(entries, &reveals, |op| !model.is_read_only(op), &limits));
    drop(ops);
    let stats = Stats {
        entries: entries.len(),
        ..Stats::default()
    };
    let Some(Pinned::Invalid {
        entry,
        related,
        message,
        before,
    }) = decided
    else {
        if decided == Some(Pinned::Valid) {
            return (Outcome::Valid, stats);
        }
        return search(model, entries, limits, proven);
    };
    let why = Why {
        message,
        entry,
        related,
    };
    // where the reads fix the order before it, that order is the explanation
    let mut state = model.init();
    let mut prefix = Vec::with_capacity(before.len());
    for &e in &before {
        match model.step(&state, &entries[e as usize].op) {
            Some(next) => state = next,
            None => break,
        }
        prefix.push((e, state.clone()));
    }
    if !before.is_empty() && prefix.len() == before.len() {
        let v = Violation {
            entry,
            concurrent: Vec::new(),
            states: Vec::new(),
            states_total: 0,
            prefix_len: prefix.len(),
            prefix,
            prefix_missing: None,
            prefix_revealed: true,
            why: Some(why),
        };
        return (Outcome::Invalid(Box::new(v)), stats);
    }
    // else the search explains it, when it can in a moment
    let soon = Instant::now() + EXPLAIN_WITHIN;
    let explain = Limits {
        deadline: Some(limits.deadline.map_or(soon, |d| d.min(soon))),
        ..limits
    };
    match search(model, entries, explain, proven) {
        (Outcome::Invalid(mut v), stats) => {
            v.why = Some(why);
            (Outcome::Invalid(v), stats)
        }
        (_, stats) => {
            let v = Violation {
                entry,
                concurrent: why.related.clone(),
                states: Vec::new(),
                states_total: 0,
                prefix: Vec::new(),
                prefix_len: 0,
                prefix_missing: Some("not searched for: what the reads reveal decided it".to_string()),
                prefix_revealed: false,
                why: Some(why),
            };
            (Outcome::Invalid(Box::new(v)), stats)
        }
    }
}

/// The search itself (see the module doc).
fn search<M: Model>(
    model: &M,
    entries: &[Entry<M::Op>],
    limits: Limits,
    mut proven: Option<Proven<'_, M::State>>,
) -> (Outcome<M::State>, Stats) {
    let mut stats = Stats {
        entries: entries.len(),
        ..Stats::default()
    };
    let mut c = Compiled::new(model);
    let mut op_ids: FxHashMap<&M::Op, u32> = FxHashMap::default();
    let mut entry_op = Vec::with_capacity(entries.len());
    // info kind -> op id, and the entries of that kind in invocation order
    let mut kinds: Vec<u32> = Vec::new();
    let mut kind_of_op: FxHashMap<u32, u32> = FxHashMap::default();
    let mut kind_entries: Vec<Vec<u32>> = Vec::new();
    let mut events: Vec<(u32, Event)> = Vec::with_capacity(entries.len() * 2);
    for (i, e) in entries.iter().enumerate() {
        let id = *op_ids.entry(&e.op).or_insert_with(|| {
            c.ops.push(e.op.clone());
            c.ops.len() as u32 - 1
        });
        entry_op.push(id);
        match e.ret {
            Some(r) => {
                events.push((e.invoke, Event::Invoke(i as u32)));
                events.push((r, Event::Return(i as u32)));
            }
            None if model.is_read_only(&e.op) => stats.info_dropped += 1,
            None => {
                let k = *kind_of_op.entry(id).or_insert_with(|| {
                    kinds.push(id);
                    kind_entries.push(Vec::new());
                    kinds.len() as u32 - 1
                });
                kind_entries[k as usize].push(i as u32);
                events.push((e.invoke, Event::Info(k)));
            }
        }
    }
    drop(op_ids);
    events.sort_unstable_by_key(|(pos, _)| *pos);
    if let Some(why) = limits.stop() {
        // a key whose turn came after the deadline (keys run in parallel)
        return (Outcome::Unknown(format!("{why} before this key was searched")), stats);
    }
    let init = model.init();
    let init = c.state_id(init);

    let search = Search {
        kinds: &kinds,
        kind_entries: &kind_entries,
        entry_op: &entry_op,
        events: &events,
        limits,
        init,
        soft_cap: None,
    };
    // every way out passes the dispose below
    let result = 'decide: {
        // the race: a breadth-first pass that gives up past a few thousand
        // configurations hands over to a bounded depth-first try; when it does not
        // give up, it was the greedy pass itself
        let mut greedy = None;
        if limits.depth_first && entries.len() <= dfs::MAX_ENTRIES {
            let capped = Search {
                soft_cap: Some(SOFT_CAP),
                ..search
            };
            match capped.run(&mut c, Mode::Greedy, false, &mut stats) {
                RunOutcome::Capped => {
                    if depth_first_finds(model, entries, &entry_op, init, limits, &mut c) {
                        break 'decide Outcome::Valid;
                    }
                    if let Some(why) = limits.stop() {
                        break 'decide Outcome::Unknown(format!("{why} (in the depth-first search)"));
                    }
                }
                decided => greedy = Some(decided),
            }
        }
        let mut mode = Mode::Greedy;
        let mut outcome = match greedy {
            Some(outcome) => outcome,
            None => search.run(&mut c, mode, false, &mut stats),
        };
        if matches!(outcome, RunOutcome::Invalid(_)) && !kinds.is_empty() {
            mode = Mode::Relaxed;
            // Reused without end, an info op that always changes the state (an
            // append) makes new states without end: past a few times what the
            // greedy pass held, the exact pass decides instead.
            let relaxed = Search {
                soft_cap: Some((stats.max_configs * 4).max(RELAXED_CAP)),
                ..search
            };
            outcome = relaxed.run(&mut c, mode, false, &mut stats);
            if matches!(outcome, RunOutcome::Valid | RunOutcome::Capped) {
                mode = Mode::Exact;
                outcome = search.run(&mut c, mode, false, &mut stats);
            }
        }
        match outcome {
            RunOutcome::Valid => Outcome::Valid,
            RunOutcome::Unknown(why) => Outcome::Unknown(why),
            RunOutcome::Capped => unreachable!("only the race's and the relaxed pass have a soft cap"),
            RunOutcome::Invalid(found) => {
                if let Some(tell) = proven.as_mut() {
                    stats.states = c.states.len();
                    let note = format!("not found: {TIME_UP} (while searching for it)");
                    tell(Box::new(search.violation(&c, found.clone(), Some(note))), stats);
                }
                // Run again with paths to report one longest linearizable prefix. It is
                // bound by the same limits: past them the violation stands, explained
                // by the failing op and its states alone.
                match search.run(&mut c, mode, true, &mut stats) {
                    RunOutcome::Invalid(with_path) => Outcome::Invalid(Box::new(search.violation(&c, with_path, None))),
                    RunOutcome::Unknown(why) => {
                        Outcome::Invalid(Box::new(search.violation(&c, found, Some(format!("not found: {why}")))))
                    }
                    other => Outcome::Unknown(format!(
                        "internal error: the search with paths did not repeat its verdict ({})",
                        other.name()
                    )),
                }
            }
        }
    };
    stats.states = c.states.len();
    dispose(
        limits.deadline.is_some(),
        c.states.len() + c.memo.len(),
        (c.states, c.by_hash, c.same_hash, c.memo),
    );
    (result, stats)
}

/// Whether the bounded depth-first search finds a linearization of the entries
/// (read-only info ops left out: they constrain nothing).
fn depth_first_finds<M: Model>(
    model: &M,
    entries: &[Entry<M::Op>],
    entry_op: &[u32],
    init: u32,
    limits: Limits,
    c: &mut Compiled<'_, M>,
) -> bool {
    let kept: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].ret.is_some() || !model.is_read_only(&entries[i].op))
        .collect();
    let calls: Vec<dfs::Call> = kept
        .iter()
        .map(|&i| dfs::Call {
            invoke: entries[i].invoke,
            ret: entries[i].ret.unwrap_or(u32::MAX),
        })
        .collect();
    dfs::linearizable(&calls, init, limits.memory, limits.deadline, |state, k| {
        let next = c.step(state, entry_op[kept[k]]);
        (next != ILLEGAL).then_some(next)
    })
}

/// Where a run found the history not linearizable.
#[derive(Clone)]
struct Found {
    entry: u32,
    concurrent: Vec<u32>,
    /// The first of the states (and windows) before the failing op.
    states: Vec<(u32, Vec<u32>)>,
    states_total: usize,
    /// One longest path, when paths are recorded.
    path: Option<Arc<Step>>,
}

enum RunOutcome {
    Valid,
    Invalid(Found),
    Unknown(String),
    /// Past the soft cap of configurations.
    Capped,
}

impl RunOutcome {
    fn name(&self) -> &'static str {
        match self {
            RunOutcome::Valid => "valid",
            RunOutcome::Invalid(_) => "invalid",
            RunOutcome::Unknown(_) => "unknown",
            RunOutcome::Capped => "capped",
        }
    }
}

#[derive(Clone, Copy)]
struct Search<'a> {
    kinds: &'a [u32],
    kind_entries: &'a [Vec<u32>],
    entry_op: &'a [u32],
    events: &'a [(u32, Event)],
    limits: Limits,
    init: u32,
    /// Configurations past which a run gives up (for the race with depth-first).
    soft_cap: Option<usize>,
}

/// Info kinds that change a state, with the state each leads to.
type Moves = Box<[(u32, u32)]>;

/// Configurations keyed by (state, window), each with its non-dominated spent counts.
type Frontier = FxHashMap<(u32, Window), SmallVec<[(Spent, Option<Arc<Step>>); 1]>>;

/// Whether `a` has at least as many info ops of every kind left as `b`.
fn dominates(a: &Spent, b: &Spent) -> bool {
    b.counts().iter().all(|&(k, n)| a.of(k) <= n) && a.counts().iter().all(|&(k, n)| n <= b.of(k))
}

/// Adds a configuration unless the mode says one already there is as good;
/// returns whether it was added.
fn insert(frontier: &mut Frontier, key: (u32, Window), spent: Spent, path: Option<Arc<Step>>, mode: Mode) -> bool {
    let set = frontier.entry(key).or_default();
    match mode {
        Mode::Relaxed if !set.is_empty() => return false,
        Mode::Greedy if !set.is_empty() => {
            if spent.total >= set[0].0.total {
                return false;
            }
            set.clear();
        }
        Mode::Exact => {
            if set.iter().any(|(s, _)| dominates(s, &spent)) {
                return false;
            }
            set.retain(|(s, _)| !dominates(&spent, s));
        }
        _ => {}
    }
    set.push((spent, path));
    true
}

impl Search<'_> {
    fn run<M: Model>(&self, c: &mut Compiled<'_, M>, mode: Mode, track: bool, stats: &mut Stats) -> RunOutcome {
        let mut invoked = vec![0u32; self.kinds.len()];
        // slot -> entry in flight
        let mut window: Vec<u32> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let mut slot_of: FxHashMap<u32, usize> = FxHashMap::default();
        let mut occupied: Window = 0;
        let mut frontier: Frontier = FxHashMap::default();
        frontier
            .entry((self.init, 0))
            .or_default()
            .push((Spent::default(), None));
        let mut next: Frontier = FxHashMap::default();
        let mut seen: Frontier = FxHashMap::default();
        let mut stack: Vec<Config> = Vec::new();
        let mut pace = Pace::new();
        // state -> the info kinds that change it, with the state each leads to
        let mut moves: Vec<Option<Moves>> = Vec::new();
        let config_bytes = std::mem::size_of::<Config>() + 32;

        let outcome = 'run: {
            for (at, (_, event)) in self.events.iter().enumerate() {
                if pace.due(1)
                    && let Some(why) = self.over_limits(frontier.len(), config_bytes)
                {
                    break 'run self.give_up(why, mode, track, at);
                }
                match *event {
                    Event::Info(k) => invoked[k as usize] += 1,
                    Event::Invoke(e) => {
                        let slot = free.pop().unwrap_or_else(|| {
                            window.push(0);
                            window.len() - 1
                        });
                        if slot >= MAX_WINDOW {
                            break 'run RunOutcome::Unknown(format!(
                                "more than {MAX_WINDOW} ops in flight at once on one key; the search supports {MAX_WINDOW}"
                            ));
                        }
                        window[slot] = e;
                        slot_of.insert(e, slot);
                        occupied |= 1 << slot;
                        stats.max_window = stats.max_window.max(occupied.count_ones() as usize);
                    }
                    Event::Return(e) => {
                        let slot = slot_of.remove(&e).expect("return of an op in flight");
                        let bit: Window = 1 << slot;
                        next.clear();
                        seen.clear();
                        // taken in its own scope: the drain borrows the frontier
                        {
                            let mut drain = frontier.drain();
                            while let Some(((state, win), set)) = drain.next() {
                                if pace.due(set.len() as u64)
                                    && let Some(why) = self.over_limits(seen.len() + next.len(), config_bytes)
                                {
                                    let rest: Vec<_> = drain.collect();
                                    dispose(self.limits.deadline.is_some(), rest.len(), rest);
                                    break 'run self.give_up(why, mode, track, at);
                                }
                                for (spent, path) in set {
                                    if win & bit != 0 {
                                        insert(&mut next, (state, win & !bit), spent, path, mode);
                                    } else if insert(&mut seen, (state, win), spent.clone(), path.clone(), mode) {
                                        stack.push(Config {
                                            state,
                                            window: win,
                                            spent,
                                            path,
                                        });
                                    }
                                }
                            }
                        }
                        while let Some(cfg) = stack.pop() {
                            if self.soft_cap.is_some_and(|cap| seen.len() + next.len() > cap) {
                                break 'run RunOutcome::Capped;
                            }
                            let mut pending = occupied & !cfg.window;
                            if pace.due(1 + pending.count_ones() as u64)
                                && let Some(why) = self.over_limits(seen.len() + next.len(), config_bytes)
                            {
                                break 'run self.give_up(why, mode, track, at);
                            }
                            // a configuration dominated after it was pushed is skipped
                            let live = seen.get(&(cfg.state, cfg.window)).is_some_and(|set| {
                                pace.work += set.len() as u64;
                                set.iter().any(|(s, _)| *s == cfg.spent)
                            });
                            if !live {
                                continue;
                            }
                            while pending != 0 {
                                let t = pending.trailing_zeros() as usize;
                                pending &= pending - 1;
                                let entry = window[t];
                                let ns = c.step(cfg.state, self.entry_op[entry as usize]);
                                if ns == ILLEGAL {
                                    continue;
                                }
                                let path = track.then(|| Step::after(&cfg.path, entry, ns));
                                let nw = cfg.window | (1 << t);
                                if t == slot {
                                    insert(&mut next, (ns, nw & !bit), cfg.spent.clone(), path, mode);
                                } else if insert(&mut seen, (ns, nw), cfg.spent.clone(), path.clone(), mode) {
                                    stack.push(Config {
                                        state: ns,
                                        window: nw,
                                        spent: cfg.spent.clone(),
                                        path,
                                    });
                                }
                            }
                            if moves.len() <= cfg.state as usize {
                                moves.resize(c.states.len().max(cfg.state as usize + 1), None);
                            }
                            let here: &[(u32, u32)] = moves[cfg.state as usize].get_or_insert_with(|| {
                                pace.work += self.kinds.len() as u64;
                                let kinds = self.kinds.iter().enumerate();
                                kinds
                                    .map(|(k, &op)| (k as u32, c.step(cfg.state, op)))
                                    .filter(|&(_, ns)| ns != ILLEGAL && ns != cfg.state)
                                    .collect()
                            });
                            pace.work += here.len() as u64;
                            for &(k, ns) in here.iter() {
                                let used = cfg.spent.of(k);
                                let left = if mode == Mode::Relaxed {
                                    invoked[k as usize]
                                } else {
                                    invoked[k as usize] - used
                                };
                                if left == 0 {
                                    continue;
                                }
                                // most moves lose to a configuration already there: check before building
                                let beaten = match (mode, seen.get(&(ns, cfg.window))) {
                                    (_, None) | (Mode::Exact, _) => false,
                                    (Mode::Relaxed, Some(_)) => true,
                                    (Mode::Greedy, Some(set)) => {
                                        set.iter().any(|(s, _)| s.total <= cfg.spent.total + 1)
                                    }
                                };
                                if beaten {
                                    continue;
                                }
                                let spent = if mode == Mode::Relaxed {
                                    cfg.spent.clone()
                                } else {
                                    cfg.spent.plus(k)
                                };
                                let path = track.then(|| {
                                    let instances = &self.kind_entries[k as usize];
                                    let entry = instances[(used as usize).min(instances.len() - 1)];
                                    Step::after(&cfg.path, entry, ns)
                                });
                                if insert(&mut seen, (ns, cfg.window), spent.clone(), path.clone(), mode) {
                                    stack.push(Config {
                                        state: ns,
                                        window: cfg.window,
                                        spent,
                                        path,
                                    });
                                }
                            }
                        }
                        if next.is_empty() {
                            let concurrent = (0..window.len())
                                .filter(|&t| occupied & (1 << t) != 0 && t != slot)
                                .map(|t| window[t])
                                .collect();
                            let mut states: Vec<(u32, Window)> = seen.keys().copied().collect();
                            // a crowded key can have a great many: keep the first few
                            let states_total = states.len();
                            if states_total > STATES_KEPT {
                                states.select_nth_unstable(STATES_KEPT);
                                states.truncate(STATES_KEPT);
                            }
                            states.sort_unstable();
                            let path = seen
                                .values()
                                .flat_map(|set| set.iter())
                                .filter_map(|(_, p)| p.clone())
                                .max_by_key(|p| p.len);
                            let states = states
                                .into_iter()
                                .map(|(s, w)| (s, window_entries(w, &window)))
                                .collect();
                            break 'run RunOutcome::Invalid(Found {
                                entry: e,
                                concurrent,
                                states,
                                states_total,
                                path,
                            });
                        }
                        occupied &= !bit;
                        free.push(slot);
                        std::mem::swap(&mut frontier, &mut next);
                        pace.work += frontier.len() as u64;
                        let configs: usize = frontier.values().map(|s| s.len()).sum();
                        stats.max_configs = stats.max_configs.max(configs);
                    }
                }
            }
            RunOutcome::Valid
        };
        let entries = frontier.capacity() + next.capacity() + seen.capacity() + stack.capacity() + moves.len();
        dispose(
            self.limits.deadline.is_some(),
            entries,
            (frontier, next, seen, stack, moves),
        );
        outcome
    }

    fn over_limits(&self, configs: usize, config_bytes: usize) -> Option<String> {
        if let Some(why) = self.limits.stop() {
            return Some(why);
        }
        let bytes = configs.saturating_mul(config_bytes);
        (bytes > self.limits.memory).then(|| {
            format!(
                "memory limit reached: {configs} configurations in one closure (about {} MB)",
                bytes >> 20
            )
        })
    }

    /// The reason a run stops short of a verdict, with how far it got.
    fn give_up(&self, why: String, mode: Mode, track: bool, at: usize) -> RunOutcome {
        let pass = match (track, mode) {
            (true, _) => "the pass recording a counterexample",
            (false, Mode::Greedy) => "the greedy pass",
            (false, Mode::Relaxed) => "the relaxed pass",
            (false, Mode::Exact) => "the exact pass",
        };
        RunOutcome::Unknown(format!("{why} (in {pass}, at event {at} of {})", self.events.len()))
    }

    fn violation<M: Model>(
        &self,
        c: &Compiled<'_, M>,
        found: Found,
        prefix_missing: Option<String>,
    ) -> Violation<M::State> {
        let mut prefix = Vec::new();
        let mut prefix_len = 0;
        let mut at = found.path.as_deref();
        while let Some(step) = at {
            if prefix.len() < PREFIX_TAIL {
                prefix.push((step.entry, c.states[step.state as usize].clone()));
            }
            prefix_len += 1;
            at = step.prev.as_deref();
        }
        prefix.reverse();
        Violation {
            entry: found.entry,
            concurrent: found.concurrent,
            states: found
                .states
                .into_iter()
                .map(|(s, w)| (c.states[s as usize].clone(), w))
                .collect(),
            states_total: found.states_total,
            prefix,
            prefix_len,
            prefix_missing,
            prefix_revealed: false,
            why: None,
        }
    }
}

/// The entries of the slots set in `w`.
fn window_entries(w: Window, window: &[u32]) -> Vec<u32> {
    (0..window.len())
        .filter(|&t| w & (1 << t) != 0)
        .map(|t| window[t])
        .collect()
}
