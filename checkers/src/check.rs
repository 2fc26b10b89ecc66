//! Whole-history checking: split into independent keys, search each in parallel,
//! combine the verdicts and turn evidence into text a person can follow.

use std::time::{Duration, Instant};

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::engine::{self, Entry, Limits, Outcome};
use crate::history::{Call, CallRef, History, HistoryError};
use crate::model::{CasRegister, Kv, Model, ModelKind, MultiRegister, Mutex, Set};
use crate::op::{F, Type};
use crate::value::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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
    pub after: Vec<OpView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    /// The op that cannot be linearized.
    pub op: OpView,
    /// Ops in flight while it was (info ops pending from earlier are not listed).
    pub concurrent: Vec<OpView>,
    /// Every state the model could be in just before the op, none of which admits it.
    pub states: Vec<StateView>,
    /// The tail of one longest linearizable prefix: op and the state after it.
    pub prefix: Vec<(OpView, String)>,
    /// Ops in that whole prefix.
    pub prefix_len: usize,
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
pub fn check_with<M: Model>(model: &M, history: &History, opts: &Options) -> Result<Report, HistoryError> {
    let start = Instant::now();
    let calls = history.pair()?;
    let partitions = partition(model, history, &calls)?;
    let threads = rayon::current_num_threads().min(partitions.len()).max(1);
    let limits = Limits {
        deadline: opts.time_limit.map(|t| start + t),
        memory: opts.memory_limit.map_or(usize::MAX, |m| m / threads),
        depth_first: opts.depth_first,
    };
    let keys: Vec<KeyResult> = partitions
        .par_iter()
        .map(|(key, entries)| {
            let (outcome, stats) = engine::check(model, entries, limits);
            let (verdict, reason, counterexample) = match outcome {
                Outcome::Valid => (Verdict::Valid, None, None),
                Outcome::Unknown(why) => (Verdict::Unknown, Some(why), None),
                Outcome::Invalid(v) => {
                    let view = |e: u32| op_view(history, &calls[entries[e as usize].call as usize]);
                    let cx = Counterexample {
                        op: view(v.entry),
                        concurrent: v.concurrent.iter().map(|&e| view(e)).collect(),
                        states: v
                            .states
                            .iter()
                            .map(|(s, after)| StateView {
                                state: model.show_state(s),
                                after: after.iter().map(|&e| view(e)).collect(),
                            })
                            .collect(),
                        prefix: v.prefix.iter().map(|(e, s)| (view(*e), model.show_state(s))).collect(),
                        prefix_len: v.prefix_len,
                    };
                    (Verdict::Invalid, None, Some(cx))
                }
            };
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

/// Groups calls by key (or keeps one group), dropping failed calls: they never happened.
fn partition<M: Model>(model: &M, history: &History, calls: &[Call]) -> Result<Vec<Partition<M::Op>>, HistoryError> {
    let mut index: FxHashMap<Option<Value>, usize> = FxHashMap::default();
    let mut parts: Vec<Partition<M::Op>> = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        if call.outcome == Type::Fail {
            continue;
        }
        let view = history.call(call);
        let op = model.op(&view).map_err(|message| HistoryError {
            line: view.line(),
            message,
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

/// Prefix ops shown in text; `--json` has the longer tail.
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
            let name = k.key.as_deref().map_or(String::new(), |k| format!("key {k}: "));
            let _ = writeln!(out, "\n{name}{} ({} ops)", k.verdict.as_str(), k.ops);
            if let Some(r) = &k.reason {
                let _ = writeln!(out, "  {r}");
            }
            if let Some(cx) = &k.counterexample {
                let _ = writeln!(out, "  cannot linearize  {}", cx.op);
                let _ = writeln!(out, "  states it could have seen, none of which allows it:");
                for s in &cx.states {
                    let _ = write!(out, "    {}", s.state);
                    if !s.after.is_empty() {
                        let ops: Vec<String> = s
                            .after
                            .iter()
                            .map(|o| format!("{} {} by {}", o.f, o.invoke, o.process))
                            .collect();
                        let _ = write!(out, "   (after concurrent {})", ops.join(", "));
                    }
                    let _ = writeln!(out);
                }
                if !cx.concurrent.is_empty() {
                    let _ = writeln!(out, "  concurrent with it:");
                    for o in &cx.concurrent {
                        let _ = writeln!(out, "    {o}");
                    }
                }
                let tail = &cx.prefix[cx.prefix.len().saturating_sub(TEXT_TAIL)..];
                let _ = writeln!(
                    out,
                    "  longest linearizable prefix: {} ops{}",
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
        }
        let valid = self.keys.len() - bad.len();
        if !bad.is_empty() && valid > 0 {
            let _ = writeln!(out, "\n{valid} other key{} valid", if valid == 1 { "" } else { "s" });
        }
        out
    }
}
