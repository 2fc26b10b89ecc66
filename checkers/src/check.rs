//! Whole-history checking: split into independent keys, search each in parallel,
//! combine the verdicts and turn evidence into text a person can follow.

use std::sync::{Arc, Condvar};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::engine::{self, Outcome, Stats, Violation};
use crate::history::{Call, CallRef, History, HistoryError};
use crate::model::{CasRegister, Kv, Model, ModelKind, MultiRegister, Mutex, Set};
use crate::op::{F, Type};
use crate::search::{self, Entry, Limits};
use crate::value::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Valid,
    Unknown,
    Invalid,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Unknown => "unknown",
        }
    }

    /// The process exit code users script against: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Valid => 0,
            Verdict::Invalid => 1,
            Verdict::Unknown => 2,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub model: ModelKind,
    /// Initial model state; the model's default when `None`.
    pub initial: Option<Value>,
    /// Wall-clock time the check may take, counted from the call. Past it,
    /// undecided keys are `unknown` with the reason (keys proven invalid stay
    /// invalid) and the call returns within a few tens of milliseconds.
    pub time_limit: Option<Duration>,
    /// Bytes of search state all keys together may hold.
    pub memory_limit: Option<usize>,
    /// Race a bounded depth-first search ahead of the breadth-first one on small
    /// keys (on by default; off to exercise the breadth-first search alone).
    pub depth_first: bool,
}

impl Options {
    pub fn new(model: ModelKind) -> Options {
        Options {
            model,
            initial: None,
            time_limit: None,
            memory_limit: None,
            depth_first: true,
        }
    }
}

/// One op of a counterexample, described for a person.
#[derive(Clone, Debug, Serialize)]
pub struct OpView {
    pub process: String,
    pub f: String,
    pub invoke: String,
    /// `ok VALUE`, `info` (unknown) or `pending`.
    pub outcome: String,
    pub index: u64,
    /// Source lines of the invocation and of the completion (0 when none).
    pub line: u32,
    pub complete_line: u32,
}

/// A state the model could have been in, and the concurrent ops linearized to reach it.
#[derive(Clone, Debug, Serialize)]
pub struct StateView {
    pub state: String,
    /// The concurrent ops linearized before it in every way that reaches it.
    pub after: Vec<OpView>,
    /// Ways to reach it besides one (each state is listed once).
    pub other_ways: usize,
    /// Where more than one way reaches it: what each way adds to `after`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differing: Vec<Vec<OpView>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    /// The op that cannot be linearized.
    pub op: OpView,
    /// Ops in flight while it was (info ops pending from earlier are not listed).
    pub concurrent: Vec<OpView>,
    /// States the model could be in just before the op, none of which admits it:
    /// all of them, or the first [`engine::STATES_KEPT`] when there are more.
    pub states: Vec<StateView>,
    /// How many such states there were in all.
    pub states_total: usize,
    /// The tail of one longest linearizable prefix: op and the state after it.
    pub prefix: Vec<(OpView, String)>,
    /// Ops in that whole prefix.
    pub prefix_len: usize,
    /// Why there is no prefix: the violation was proven, but the time (or memory)
    /// ran out while searching for the prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_missing: Option<String>,
    /// The prefix is the order the reads reveal before the op (no search ran).
    pub prefix_revealed: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct KeyResult {
    /// `None` for a history without keys (or a model that does not split).
    pub key: Option<String>,
    pub verdict: Verdict,
    pub ops: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<Counterexample>,
    pub info_ops: usize,
    pub max_concurrency: usize,
    pub max_configurations: usize,
    pub model_states: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    pub model: String,
    pub initial: String,
    pub ops: usize,
    pub keys: Vec<KeyResult>,
    pub elapsed_ms: f64,
}

/// The model that fits a history's f's when none is given.
pub fn infer_model(history: &History) -> ModelKind {
    let has = |f: F| history.ops.iter().any(|o| o.f == f);
    if has(F::Txn) {
        ModelKind::MultiRegister
    } else if has(F::Get) || has(F::Put) || has(F::Append) {
        ModelKind::Kv
    } else if has(F::Acquire) || has(F::Release) {
        ModelKind::Mutex
    } else if has(F::Add) {
        ModelKind::Set
    } else if has(F::Cas) {
        ModelKind::CasRegister
    } else {
        ModelKind::Register
    }
}

/// Checks a whole history against a model. Bad histories are errors, not verdicts.
pub fn check(history: &History, opts: &Options) -> Result<Report, HistoryError> {
    history.require_client_ops()?;
    let initial = opts.initial.clone().unwrap_or_else(|| opts.model.default_initial());
    match opts.model {
        ModelKind::Register => check_with(&CasRegister::plain(initial), history, opts),
        ModelKind::CasRegister => check_with(&CasRegister::new(initial), history, opts),
        ModelKind::Kv => check_with(&Kv { initial }, history, opts),
        ModelKind::MultiRegister => check_with(&MultiRegister::new(&initial), history, opts),
        ModelKind::Mutex => check_with(&Mutex, history, opts),
        ModelKind::Set => check_with(&Set::new(&initial), history, opts),
    }
}

/// Checks with any model, including ones this crate does not list.
///
/// With a time limit it returns within a moment of it, whatever the search is doing:
/// keys are searched on other threads, and a key whose search has not stopped by
/// then (it is in a step that cannot be interrupted, such as growing a table of
/// millions of configurations) is reported unknown while that search winds down.
pub fn check_with<M: Model + Clone + 'static>(
    model: &M,
    history: &History,
    opts: &Options,
) -> Result<Report, HistoryError> {
    let start = Instant::now();
    history.require_client_ops()?;
    let calls = history.pair()?;
    let partitions = Arc::new(partition(model, history, &calls)?);
    let threads = rayon::current_num_threads().min(partitions.len()).max(1);
    let limits = Limits {
        // a limit too far off to be an instant is no limit
        deadline: opts.time_limit.and_then(|t| start.checked_add(t)),
        memory: opts.memory_limit.map_or(usize::MAX, |m| m / threads),
        depth_first: opts.depth_first,
    };
    // from inside rayon's pool, waiting on a thread could starve the pool: search here
    let searched = match limits.deadline.filter(|_| rayon::current_thread_index().is_none()) {
        None => partitions
            .par_iter()
            .map(|(_, entries)| Some(engine::check(model, entries, limits)))
            .collect(),
        Some(deadline) => search_until(model, &partitions, limits, deadline),
    };
    // what the searches made stays on the side, to be freed after the report is built
    let mut garbage: Vec<Outcome<M::State>> = Vec::with_capacity(partitions.len());
    let mut size = 0;
    let keys: Vec<KeyResult> = partitions
        .iter()
        .zip(searched)
        .map(|((key, entries), searched)| {
            let (outcome, stats) = searched.unwrap_or_else(|| {
                let why = "time limit reached (the search was in a step it cannot interrupt)";
                let stats = Stats {
                    entries: entries.len(),
                    ..Stats::default()
                };
                (Outcome::Unknown(why.to_string()), stats)
            });
            size += stats.states + stats.max_configs;
            let mut reason = None;
            let (verdict, counterexample) = match &outcome {
                Outcome::Valid => (Verdict::Valid, None),
                Outcome::Unknown(why) => {
                    reason = Some(why.clone());
                    (Verdict::Unknown, None)
                }
                Outcome::Invalid(v) => {
                    let view = |e: u32| op_view(history, &calls[entries[e as usize].call as usize]);
                    reason = v.why.as_ref().map(|w| {
                        let related: Vec<String> = w.related.iter().map(|&e| format!("; and {}", view(e))).collect();
                        format!(
                            "the reads reveal it: {}: {}{}",
                            view(w.entry),
                            w.message,
                            related.concat()
                        )
                    });
                    let mut cx = Counterexample {
                        op: view(v.entry),
                        concurrent: v.concurrent.iter().map(|&e| view(e)).collect(),
                        states: once_each(v.states.iter().map(|(s, after)| StateView {
                            state: model.show_state(s),
                            after: after.iter().map(|&e| view(e)).collect(),
                            other_ways: 0,
                            differing: Vec::new(),
                        })),
                        // once each: the count is of distinct states where all were kept
                        states_total: 0,
                        prefix: v.prefix.iter().map(|(e, s)| (view(*e), model.show_state(s))).collect(),
                        prefix_len: v.prefix_len,
                        prefix_missing: v.prefix_missing.clone(),
                        prefix_revealed: v.prefix_revealed,
                    };
                    cx.states_total = if v.states.len() == v.states_total {
                        cx.states.len()
                    } else {
                        v.states_total
                    };
                    (Verdict::Invalid, Some(cx))
                }
            };
            garbage.push(outcome);
            KeyResult {
                key: key.as_ref().map(Value::to_string),
                verdict,
                ops: stats.entries,
                reason,
                counterexample,
                info_ops: entries.iter().filter(|e| e.ret.is_none()).count(),
                max_concurrency: stats.max_window,
                max_configurations: stats.max_configs,
                model_states: stats.states,
            }
        })
        .collect();
    // Searches allocate on their own threads, and after a big one its memory is being
    // freed on others: a free here could wait a long while for their allocator's
    // lock. So the report holds only what this thread allocated, and the rest goes.
    search::dispose(limits.deadline.is_some(), size, garbage);
    let verdict = keys.iter().map(|k| k.verdict).max().unwrap_or(Verdict::Valid);
    Ok(Report {
        verdict,
        model: opts.model.name().to_string(),
        initial: opts
            .initial
            .clone()
            .unwrap_or_else(|| opts.model.default_initial())
            .to_string(),
        ops: calls.len(),
        keys,
        elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
    })
}

type Partition<O> = (Option<Value>, Vec<Entry<O>>);
type Searched<S> = (Outcome<S>, Stats);

/// How long past the deadline to wait for searches to stop on their own (they look
/// at the clock every few milliseconds) and report how far they got.
const GRACE: Duration = Duration::from_millis(30);

/// Results as the searches hand them in.
struct Board<S> {
    /// Per key: its final result, or a violation proven while it is being explained.
    results: Vec<Option<Searched<S>>>,
    finals: usize,
    /// The caller has stopped waiting: later results are dropped by their search.
    closed: bool,
    panic: Option<Box<dyn std::any::Any + Send>>,
}

/// Searches the keys in parallel on a thread of their own, waiting for them until
/// the deadline (and a grace). A key not done by then is `None`, or its violation
/// if it was proven while the search for its explanation went on.
fn search_until<M: Model + Clone + 'static>(
    model: &M,
    partitions: &Arc<Vec<Partition<M::Op>>>,
    limits: Limits,
    deadline: Instant,
) -> Vec<Option<Searched<M::State>>> {
    let n = partitions.len();
    let board = Arc::new((
        std::sync::Mutex::new(Board {
            results: (0..n).map(|_| None).collect(),
            finals: 0,
            closed: false,
            panic: None,
        }),
        Condvar::new(),
    ));
    let work = {
        let (model, partitions, board) = (model.clone(), Arc::clone(partitions), Arc::clone(&board));
        move || {
            let hand_in = |i: usize, result: Searched<M::State>, last: bool| {
                let mut b = board.0.lock().unwrap_or_else(|e| e.into_inner());
                if b.closed {
                    return; // too late: the result is dropped here, once unlocked
                }
                let before = b.results[i].replace(result);
                b.finals += usize::from(last);
                board.1.notify_all();
                drop(b);
                drop(before); // freed unlocked: freeing can be slow while memory is
            };
            let searched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                partitions.par_iter().enumerate().for_each(|(i, (_, entries))| {
                    let mut proven = |v: Box<Violation<M::State>>, stats: Stats| {
                        hand_in(i, (Outcome::Invalid(v), stats), false);
                    };
                    let result = engine::check_telling(&model, entries, limits, Some(&mut proven));
                    hand_in(i, result, true);
                })
            }));
            if let Err(panic) = searched {
                let mut b = board.0.lock().unwrap_or_else(|e| e.into_inner());
                b.panic = Some(panic);
                board.1.notify_all();
            }
        }
    };
    if std::thread::Builder::new()
        .name("checker".to_string())
        .spawn(work)
        .is_err()
    {
        // no thread: search here, still bound by the deadline's looks
        return partitions
            .par_iter()
            .map(|(_, entries)| Some(engine::check(model, entries, limits)))
            .collect();
    }
    let until = deadline.checked_add(GRACE).unwrap_or(deadline);
    let mut b = board.0.lock().unwrap_or_else(|e| e.into_inner());
    while b.finals < n && b.panic.is_none() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        b = board.1.wait_timeout(b, left).unwrap_or_else(|e| e.into_inner()).0;
    }
    if let Some(panic) = b.panic.take() {
        std::panic::resume_unwind(panic);
    }
    b.closed = true;
    std::mem::take(&mut b.results)
}

/// Groups calls by key (or keeps one group), dropping failed calls: they never happened.
fn partition<M: Model>(model: &M, history: &History, calls: &[Call]) -> Result<Vec<Partition<M::Op>>, HistoryError> {
    let mut index: FxHashMap<Option<Value>, usize> = FxHashMap::default();
    let mut parts: Vec<Partition<M::Op>> = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        if call.outcome == Type::Fail {
            continue;
        }
        let view = history.call(call);
        let op = model.op(&view).map_err(|e| HistoryError {
            line: view.line(),
            message: e.to_string(),
        })?;
        let key = if model.split_by_key() {
            view.invoke.key.clone()
        } else {
            None
        };
        let at = *index.entry(key.clone()).or_insert_with(|| {
            parts.push((key, Vec::new()));
            parts.len() - 1
        });
        parts[at].1.push(Entry {
            op,
            call: i as u32,
            invoke: call.invoke,
            ret: if call.outcome == Type::Ok { call.complete } else { None },
        });
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(parts)
}

/// Each state once, in first-seen order: the ops every way to it linearized,
/// and what sets the ways apart.
fn once_each(states: impl Iterator<Item = StateView>) -> Vec<StateView> {
    let mut ways: Vec<(String, Vec<Vec<OpView>>)> = Vec::new();
    let mut at: FxHashMap<String, usize> = FxHashMap::default();
    for s in states {
        match at.get(&s.state) {
            Some(&i) => ways[i].1.push(s.after),
            None => {
                at.insert(s.state.clone(), ways.len());
                ways.push((s.state, vec![s.after]));
            }
        }
    }
    ways.into_iter()
        .map(|(state, ways)| {
            let in_all = |o: &OpView| ways.iter().all(|w| w.iter().any(|x| x.index == o.index));
            let after: Vec<OpView> = ways[0].iter().filter(|o| in_all(o)).cloned().collect();
            let differing = if ways.len() > 1 {
                ways.iter()
                    .map(|w| w.iter().filter(|o| !in_all(o)).cloned().collect())
                    .collect()
            } else {
                Vec::new()
            };
            StateView {
                state,
                after,
                other_ways: ways.len() - 1,
                differing,
            }
        })
        .collect()
}

fn op_view(history: &History, call: &Call) -> OpView {
    let view: CallRef<'_> = history.call(call);
    let outcome = match (view.outcome, view.complete) {
        (Type::Ok, Some(c)) => format!("ok {}", c.value),
        (Type::Fail, _) => "fail".to_string(),
        (_, Some(_)) => "info".to_string(),
        (_, None) => "pending".to_string(),
    };
    OpView {
        process: view.invoke.process.to_string(),
        f: view.invoke.f.to_string(),
        invoke: view.invoke.value.to_string(),
        outcome,
        index: view.invoke.index,
        line: view.invoke.line,
        complete_line: view.complete.map_or(0, |c| c.line),
    }
}

impl std::fmt::Display for OpView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "process {}: {} {} -> {}",
            self.process, self.f, self.invoke, self.outcome
        )?;
        if self.line > 0 && self.complete_line > 0 {
            write!(f, "  (lines {}-{})", self.line, self.complete_line)
        } else if self.line > 0 {
            write!(f, "  (line {})", self.line)
        } else {
            write!(f, "  (op {})", self.index)
        }
    }
}

/// Prefix ops and states shown in text; `--json` has more.
const TEXT_TAIL: usize = 12;

impl Report {
    /// Human text: the verdict, then per-key results with the evidence for each invalid one.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let bad: Vec<&KeyResult> = self.keys.iter().filter(|k| k.verdict != Verdict::Valid).collect();
        let _ = writeln!(
            out,
            "{}: {} ops, {} key{}, model {} (initial {}), checked in {:.1} ms",
            self.verdict.as_str().to_uppercase(),
            self.ops,
            self.keys.len(),
            if self.keys.len() == 1 { "" } else { "s" },
            self.model,
            self.initial,
            self.elapsed_ms
        );
        for k in &bad {
            let _ = write!(out, "\n{}", k.to_text());
        }
        let valid = self.keys.len() - bad.len();
        if !bad.is_empty() && valid > 0 {
            let _ = writeln!(out, "\n{valid} other key{} valid", if valid == 1 { "" } else { "s" });
        }
        out
    }
}

/// Ways to one state a text counterexample spells out.
const WAYS_SHOWN: usize = 3;

impl KeyResult {
    /// What a person reads about one key that is not valid: why, or the op that
    /// cannot be linearized, the states it could have seen, the ops concurrent with
    /// it and the end of one longest linearizable prefix.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let name = self.key.as_deref().map_or(String::new(), |k| format!("key {k}: "));
        let _ = writeln!(out, "{name}{} ({} ops)", self.verdict.as_str(), self.ops);
        if let Some(r) = &self.reason {
            let _ = writeln!(out, "  {r}");
        }
        if let Some(cx) = &self.counterexample {
            let _ = writeln!(out, "  cannot linearize  {}", cx.op);
            let shown = &cx.states[..cx.states.len().min(TEXT_TAIL)];
            if !shown.is_empty() {
                let _ = writeln!(
                    out,
                    "  states it could have seen, none of which allows it{}",
                    if cx.states_total > shown.len() {
                        format!(" (the first {} of {}):", shown.len(), cx.states_total)
                    } else {
                        ":".to_string()
                    }
                );
            }
            for s in shown {
                let _ = write!(out, "    {}", s.state);
                let ops = |ops: &[OpView]| -> String {
                    let said: Vec<String> = ops
                        .iter()
                        .map(|o| format!("{} {} by {}", o.f, o.invoke, o.process))
                        .collect();
                    said.join(", ")
                };
                if !s.after.is_empty() {
                    let _ = write!(out, "   (after concurrent {})", ops(&s.after));
                }
                if !s.differing.is_empty() {
                    // what sets the ways apart, marked
                    let shown: Vec<String> = s
                        .differing
                        .iter()
                        .take(WAYS_SHOWN)
                        .map(|d| {
                            if d.is_empty() {
                                "nothing more".to_string()
                            } else {
                                format!("[{}]", ops(d))
                            }
                        })
                        .collect();
                    let more = s.differing.len().saturating_sub(WAYS_SHOWN);
                    let _ = write!(
                        out,
                        "   (and then one of: {}{})",
                        shown.join(" | "),
                        if more > 0 {
                            format!(" | {more} more")
                        } else {
                            String::new()
                        }
                    );
                }
                let _ = writeln!(out);
            }
            if !cx.concurrent.is_empty() {
                let _ = writeln!(out, "  concurrent with it:");
                for o in &cx.concurrent {
                    let _ = writeln!(out, "    {o}");
                }
            }
            if let Some(why) = &cx.prefix_missing {
                let _ = writeln!(out, "  longest linearizable prefix: {why}");
                return out;
            }
            let tail = &cx.prefix[cx.prefix.len().saturating_sub(TEXT_TAIL)..];
            let _ = writeln!(
                out,
                "  {}: {} ops{}",
                if cx.prefix_revealed {
                    "what the reads place before it"
                } else {
                    "longest linearizable prefix"
                },
                cx.prefix_len,
                if cx.prefix_len > tail.len() {
                    format!(", the last {}:", tail.len())
                } else {
                    ":".to_string()
                }
            );
            for (o, s) in tail {
                let _ = writeln!(out, "    {o}   => {s}");
            }
        }
        out
    }
}
