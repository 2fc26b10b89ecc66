//! etcd watches judged against the writes of the same history.
//!
//! Writers put and delete keys; each acknowledged change carries the revision
//! etcd gave it. Watchers, one per node, watch the keys and record what they
//! receive in `watch` ops: invoked with the revision they resume from, done with
//! the events `[key value-or-nil revision]` in the order received; a watch that
//! etcd cancelled because its start was compacted fails with `[from compacted]`,
//! and the watcher resumes from the compaction revision (what lay between is
//! legitimately gone). Per watcher: revisions strictly increase (no duplicate,
//! no reorder); every acknowledged change in a revision range the watcher
//! covered was delivered (no gap); every event is a change that was written
//! (key, value and revision equal to a write's, acknowledged or unknown); and a
//! watcher that ends caught up saw each key's final value.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::check::Verdict;
use crate::history::{History, HistoryError};
use crate::op::{Op, Process, Type};
use crate::value::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchViolationKind {
    /// A revision not above the one delivered before it.
    Reorder,
    /// The same revision of the same key delivered twice.
    Duplicate,
    /// An acknowledged change in a range the watcher covered, never delivered.
    Gap,
    /// An event at a write's revision with another key or value.
    WrongValue,
    /// An event that matches no write at all.
    Phantom,
    /// A watcher caught up with the last change, whose last value of a key is
    /// not the final read's.
    StaleFinal,
}

#[derive(Clone, Debug, Serialize)]
pub struct WatchViolation {
    pub kind: WatchViolationKind,
    pub watcher: String,
    pub message: String,
    /// History indexes of the ops involved (the watch op, the write).
    pub ops: Vec<u64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct WatcherStats {
    pub watcher: String,
    pub events: usize,
    /// Watch ops (the first, then each resumption).
    pub watches: usize,
    /// Revisions skipped because etcd had compacted them.
    pub compacted: Vec<[i64; 2]>,
    /// From a write's acknowledgement to the end of the watch op that delivered it.
    pub lag_p50_ms: Option<f64>,
    pub lag_max_ms: Option<f64>,
    /// Its last event is at or past the last acknowledged change and the
    /// revision of the final reads.
    pub caught_up: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct WatchReport {
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub violations: Vec<WatchViolation>,
    pub watchers: Vec<WatcherStats>,
    pub writes_ok: usize,
}

/// An acknowledged change: its key, value (nil for a delete), revision.
struct Change {
    key: Value,
    value: Value,
    revision: i64,
    index: u64,
    /// When it was acknowledged (ns).
    at: Option<u64>,
}

/// One event as delivered.
struct Event {
    key: Value,
    value: Value,
    revision: i64,
    /// The watch op that delivered it: its index and completion time.
    op: u64,
    at: Option<u64>,
}

fn event(v: &Value) -> Option<(Value, Value, i64)> {
    match v.as_list()? {
        [k, v, Value::Int(rev)] => Some((k.clone(), v.clone(), *rev)),
        _ => None,
    }
}

fn shape(op: &Op, expected: &str) -> HistoryError {
    HistoryError {
        line: op.line,
        message: format!(
            "{} {}: value should be {expected}, got {}",
            op.f,
            op.kind.as_str(),
            op.value
        ),
    }
}

/// Checks a watch workload's history.
pub fn check_watch(history: &History) -> Result<WatchReport, HistoryError> {
    let mut changes: Vec<Change> = Vec::new();
    let mut pending: Vec<(&Op, Value)> = Vec::new();
    // per watcher (the node it watches through), its watch ops in order
    let mut watchers: BTreeMap<String, Vec<(&Op, Option<&Op>)>> = BTreeMap::new();
    let mut finals: BTreeMap<Value, (Value, u64)> = BTreeMap::new();
    let mut final_revision = None;
    for (invoke, done) in history.completions() {
        if invoke.process == Process::Nemesis {
            continue;
        }
        let key = invoke.key.clone().unwrap_or_default();
        match invoke.f.as_str() {
            "write" | "delete" => match done.map(|d| (d.kind, d)) {
                Some((Type::Ok, d)) => {
                    let (value, rev) = match d.value.as_list() {
                        Some([value, Value::Int(rev)]) => (value, rev),
                        // a delete that found nothing: no change, no revision
                        Some([Value::Nil, Value::Nil]) => continue,
                        _ => return Err(shape(d, "[value revision-or-nil]")),
                    };
                    changes.push(Change {
                        key,
                        value: value.clone(),
                        revision: *rev,
                        index: d.index,
                        at: d.time,
                    });
                }
                Some((Type::Fail, _)) => {}
                // unknown: it may have happened, at a revision we learn only from an event
                _ => pending.push((invoke, key)),
            },
            "watch" => watchers.entry(key.to_string()).or_default().push((invoke, done)),
            "read" => {
                if let Some(d) = done.filter(|d| d.kind == Type::Ok) {
                    let Some([value, Value::Int(rev)]) = d.value.as_list() else {
                        return Err(shape(d, "[value revision]"));
                    };
                    final_revision = final_revision.max(Some(*rev));
                    finals.insert(key, (value.clone(), d.index));
                }
            }
            _ => {}
        }
    }
    let by_revision: BTreeMap<i64, usize> = changes.iter().enumerate().map(|(i, c)| (c.revision, i)).collect();
    // caught up: past the last acknowledged change and the store's revision at the final reads
    let last_change = changes.iter().map(|c| c.revision).max().max(final_revision);
    let mut violations = Vec::new();
    let mut stats = Vec::new();
    for (name, ops) in &watchers {
        let mut s = WatcherStats {
            watcher: name.clone(),
            watches: ops.len(),
            ..WatcherStats::default()
        };
        let mut events: Vec<Event> = Vec::new();
        // revision ranges the watcher covered: [from, last delivered or asked]
        let mut covered: Vec<(i64, i64, u64)> = Vec::new();
        for (invoke, done) in ops {
            let from = match invoke.value.as_list() {
                Some([Value::Int(from), ..]) => *from,
                _ => return Err(shape(invoke, "[from-revision]")),
            };
            let Some(d) = done else { continue };
            match (d.kind, d.value.as_list()) {
                (Type::Ok, Some([_, Value::List(got)])) => {
                    let mut top = from - 1;
                    for e in got.iter() {
                        let (key, value, revision) =
                            event(e).ok_or_else(|| shape(d, "[from [[key value revision] ...]]"))?;
                        top = top.max(revision);
                        events.push(Event {
                            key,
                            value,
                            revision,
                            op: d.index,
                            at: d.time,
                        });
                    }
                    covered.push((from, top, d.index));
                }
                (Type::Ok, _) => return Err(shape(d, "[from [[key value revision] ...]]")),
                (Type::Fail, Some([_, Value::Int(compacted)])) => s.compacted.push([from, *compacted]),
                _ => {}
            }
        }
        s.events = events.len();
        let mut lags = Vec::new();
        for (i, e) in events.iter().enumerate() {
            if let Some(prev) = i.checked_sub(1).map(|p| &events[p])
                && e.revision <= prev.revision
            {
                let (kind, what) = if e.revision == prev.revision && e.key == prev.key {
                    (WatchViolationKind::Duplicate, "again")
                } else {
                    (WatchViolationKind::Reorder, "after a later one")
                };
                violations.push(WatchViolation {
                    kind,
                    watcher: name.clone(),
                    message: format!(
                        "{name} got {} at revision {} {what} (revision {} of {})",
                        e.key, e.revision, prev.revision, prev.key
                    ),
                    ops: vec![prev.op, e.op],
                });
            }
            match by_revision.get(&e.revision).map(|&c| &changes[c]) {
                Some(c) if c.key == e.key && c.value == e.value => {
                    if let (Some(done), Some(got)) = (c.at, e.at) {
                        lags.push(got.saturating_sub(done) as f64 / 1e6);
                    }
                }
                Some(c) => violations.push(WatchViolation {
                    kind: WatchViolationKind::WrongValue,
                    watcher: name.clone(),
                    message: format!(
                        "{name} got {} = {} at revision {}, where the write was {} = {}",
                        e.key, e.value, e.revision, c.key, c.value
                    ),
                    ops: vec![c.index, e.op],
                }),
                None => {
                    // an unknown write of this key and value may be it
                    let maybe = pending.iter().any(|(w, k)| *k == e.key && unknown_value(w) == e.value);
                    if !maybe {
                        violations.push(WatchViolation {
                            kind: WatchViolationKind::Phantom,
                            watcher: name.clone(),
                            message: format!(
                                "{name} got {} = {} at revision {}, which no write made",
                                e.key, e.value, e.revision
                            ),
                            ops: vec![e.op],
                        });
                    }
                }
            }
        }
        let delivered: std::collections::BTreeSet<i64> = events.iter().map(|e| e.revision).collect();
        // (an empty batch covers nothing: its top is below its start)
        for &(from, top, op) in covered.iter().filter(|(from, top, _)| from <= top) {
            for (_, &c) in by_revision.range(from..=top) {
                let c = &changes[c];
                if !delivered.contains(&c.revision) {
                    violations.push(WatchViolation {
                        kind: WatchViolationKind::Gap,
                        watcher: name.clone(),
                        message: format!(
                            "{name} watched revisions {from} to {top} but never got {} = {} (revision {})",
                            c.key, c.value, c.revision
                        ),
                        ops: vec![c.index, op],
                    });
                }
            }
        }
        lags.sort_by(f64::total_cmp);
        s.lag_p50_ms = lags.get(lags.len() / 2).copied();
        s.lag_max_ms = lags.last().copied();
        let top = events.last().map(|e| e.revision);
        s.caught_up = match (top, last_change) {
            (Some(t), Some(l)) => t >= l,
            (_, None) => true,
            (None, Some(_)) => false,
        };
        if s.caught_up {
            let mut seen: BTreeMap<&Value, (&Value, u64)> = BTreeMap::new();
            for e in &events {
                seen.insert(&e.key, (&e.value, e.op));
            }
            for (key, (value, read)) in &finals {
                if let Some((last, op)) = seen.get(key)
                    && *last != value
                {
                    violations.push(WatchViolation {
                        kind: WatchViolationKind::StaleFinal,
                        watcher: name.clone(),
                        message: format!("{name} ended caught up with {key} = {last}, but the final read is {value}"),
                        ops: vec![*op, *read],
                    });
                }
            }
        }
        stats.push(s);
    }
    let (verdict, reason) = if !violations.is_empty() {
        (Verdict::Invalid, None)
    } else if watchers.is_empty() || changes.is_empty() {
        (
            Verdict::Unknown,
            Some("no watcher, or no acknowledged change: nothing to judge".to_string()),
        )
    } else {
        (Verdict::Valid, None)
    };
    Ok(WatchReport {
        verdict,
        reason,
        violations,
        watchers: stats,
        writes_ok: changes.len(),
    })
}

/// The value an unknown write would have written (nil for a delete).
fn unknown_value(invoke: &Op) -> Value {
    if invoke.f.as_str() == "delete" {
        Value::Nil
    } else {
        invoke.value.clone()
    }
}

impl WatchReport {
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}: {}\n",
            self.verdict.as_str().to_uppercase(),
            match (&self.reason, self.violations.len()) {
                (Some(r), _) => r.clone(),
                (None, 0) => "every watcher saw every change in order, once, as written".to_string(),
                (None, n) => format!("{n} violations"),
            }
        );
        out.push_str(&format!("  changes acknowledged: {}\n", self.writes_ok));
        for w in &self.watchers {
            out.push_str(&format!(
                "  {}: {} events in {} watches, lag p50 {} max {}{}{}\n",
                w.watcher,
                w.events,
                w.watches,
                w.lag_p50_ms.map_or("-".into(), |l| format!("{l:.0} ms")),
                w.lag_max_ms.map_or("-".into(), |l| format!("{l:.0} ms")),
                if w.compacted.is_empty() {
                    String::new()
                } else {
                    format!(", {} resumed past a compaction", w.compacted.len())
                },
                if w.caught_up { ", caught up" } else { ", not caught up" }
            ));
        }
        for v in self.violations.iter().take(20) {
            out.push_str(&format!("\n{:?}: {} (ops {:?})\n", v.kind, v.message, v.ops));
        }
        out
    }
}
