//! Watches judged against the writes of the same history.
//!
//! Two kinds of watcher. A `watch` op is a stream that delivers every change
//! (etcd), judged as below. A `notify` op is a watcher told only that a key
//! changed, which reads it back (ZooKeeper's one-shot watches, Consul's
//! blocking queries): it may skip states, so per watcher each state it reads
//! must be one a write made (the value a write's, at the write's revision
//! where known), never older than a state of that key it saw before, and the
//! server indexes it was answered with (Consul's) never go backwards.
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
    /// A `notify` watcher read a state of a key older than one it had seen,
    /// or its server answered with an index below an earlier one.
    Older,
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
    /// `watch` (every change streamed) or `notify` (told of changes, reads back).
    pub kind: String,
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
    /// Restarts of its server after which it read states older than it had
    /// seen before (allowed: see the `notify` checks).
    pub back_after_restart: usize,
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

/// An acknowledged change: its key, value (nil for a delete), revision
/// (where the system told it).
struct Change {
    key: Value,
    value: Value,
    revision: Option<i64>,
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
    history.require_client_ops()?;
    let mut changes: Vec<Change> = Vec::new();
    let mut pending: Vec<(&Op, Value)> = Vec::new();
    // per watcher (the node it watches through), its watch ops in order
    let mut watchers: BTreeMap<String, Vec<(&Op, Option<&Op>)>> = BTreeMap::new();
    // each key's final read: value, revision, op
    let mut finals: BTreeMap<Value, (Value, i64, u64)> = BTreeMap::new();
    let mut final_revision = None;
    // each node's going down and coming back (kills and their restarts,
    // upgrades): history indexes
    let mut restarts: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for op in history.ops.iter().filter(|o| o.process == Process::Nemesis) {
        let text = op.value.to_string();
        let restart = match op.f.as_str() {
            "kill" | "start" | "upgrade" | "rollback" => true,
            "heal" => text.contains("restart"),
            _ => false,
        };
        if restart {
            for node in text
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
            {
                restarts.entry(node.to_string()).or_default().push(op.index);
            }
        }
    }
    for (invoke, done) in history.completions() {
        let key = invoke.key.clone().unwrap_or_default();
        match invoke.f.as_str() {
            "write" | "delete" => match done.map(|d| (d.kind, d)) {
                Some((Type::Ok, d)) => {
                    let (value, revision) = match d.value.as_list() {
                        Some([value, Value::Int(rev)]) => (value, Some(*rev)),
                        Some([value, Value::Nil]) => (value, None),
                        _ => return Err(shape(d, "[value revision-or-nil]")),
                    };
                    changes.push(Change {
                        key,
                        value: value.clone(),
                        revision,
                        index: d.index,
                        at: d.time,
                    });
                }
                Some((Type::Fail, _)) => {}
                // unknown: it may have happened, at a revision we learn only from an event
                _ => pending.push((invoke, key)),
            },
            "watch" | "notify" => watchers.entry(key.to_string()).or_default().push((invoke, done)),
            "read" => {
                if let Some(d) = done.filter(|d| d.kind == Type::Ok) {
                    let Some([value, Value::Int(rev)]) = d.value.as_list() else {
                        return Err(shape(d, "[value revision]"));
                    };
                    final_revision = final_revision.max(Some(*rev));
                    finals.insert(key, (value.clone(), *rev, d.index));
                }
            }
            _ => {}
        }
    }
    let by_revision: BTreeMap<i64, usize> = changes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((c.revision?, i)))
        .collect();
    // caught up: past the last acknowledged change and the store's revision at the final reads
    let last_change = changes.iter().filter_map(|c| c.revision).max().max(final_revision);
    let writes = Writes {
        changes: &changes,
        by_revision: &by_revision,
        pending: &pending,
    };
    let mut violations = Vec::new();
    let mut stats = Vec::new();
    for (name, ops) in &watchers {
        let mut s = WatcherStats {
            watcher: name.clone(),
            kind: ops[0].0.f.as_str().to_string(),
            watches: ops.len(),
            ..WatcherStats::default()
        };
        if s.kind == "notify" {
            let restarted = restarts.get(name).map_or(&[][..], Vec::as_slice);
            let last = check_notify(name, ops, &writes, restarted, &mut s, &mut violations)?;
            s.caught_up = match (last.values().map(|(rev, ..)| *rev).max(), last_change) {
                (Some(t), Some(l)) => t >= l,
                (_, None) => true,
                (None, Some(_)) => false,
            };
            if s.caught_up {
                let seen = last.iter().map(|(k, (rev, v, op))| (*k, (*v, *rev, *op))).collect();
                stale_finals(name, &seen, &finals, &mut violations);
            }
            stats.push(s);
            continue;
        }
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
                    if !writes.unknown(&e.key, &e.value) {
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
                if !c.revision.is_some_and(|r| delivered.contains(&r)) {
                    violations.push(WatchViolation {
                        kind: WatchViolationKind::Gap,
                        watcher: name.clone(),
                        message: format!(
                            "{name} watched revisions {from} to {top} but never got {} = {} (revision {})",
                            c.key,
                            c.value,
                            c.revision.unwrap_or_default()
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
            let mut seen: BTreeMap<&Value, (&Value, i64, u64)> = BTreeMap::new();
            for e in &events {
                seen.insert(&e.key, (&e.value, e.revision, e.op));
            }
            stale_finals(name, &seen, &finals, &mut violations);
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

/// The writes a watcher's events are matched against.
struct Writes<'a> {
    changes: &'a [Change],
    by_revision: &'a BTreeMap<i64, usize>,
    pending: &'a [(&'a Op, Value)],
}

impl Writes<'_> {
    /// Whether an unknown write (it may have happened) would explain `key = value`.
    fn unknown(&self, key: &Value, value: &Value) -> bool {
        self.pending.iter().any(|(w, k)| k == key && unknown_value(w) == *value)
    }
}

/// A `notify` watcher's last state of each key: revision, value, op.
type States<'h> = BTreeMap<&'h Value, (i64, &'h Value, u64)>;

/// What a `notify` watcher had seen before its server's last restart, and
/// whether it has read anything older since.
struct BeforeRestart<'h> {
    states: States<'h>,
    index: Option<i64>,
    back: bool,
}

/// Judges one `notify` watcher; returns its last state of each key (revision,
/// value, op). Across a restart of its server (history indexes in
/// `restarts`) the watcher starts over: a server restarted may serve what it
/// restored before it catches up (Consul's `?stale` reads answer from its last
/// snapshot), which is counted, not flagged.
fn check_notify<'h>(
    name: &str,
    ops: &[(&'h Op, Option<&'h Op>)],
    writes: &Writes,
    restarts: &[u64],
    s: &mut WatcherStats,
    violations: &mut Vec<WatchViolation>,
) -> Result<States<'h>, HistoryError> {
    let mut last: States = BTreeMap::new();
    let mut index: Option<(i64, u64)> = None;
    // what it had seen before its server's last restart, and whether it has
    // gone back behind it since
    let mut before_restart: Option<BeforeRestart> = None;
    let mut prev = 0;
    let mut lags = Vec::new();
    let mut violation = |kind, message: String, ops: Vec<u64>| {
        violations.push(WatchViolation {
            kind,
            watcher: name.to_string(),
            message,
            ops,
        })
    };
    const SHAPE: &str = "[from [[key value revision] ...] [index ...]]";
    for (_, done) in ops {
        let Some(d) = done.filter(|d| d.kind == Type::Ok) else {
            continue;
        };
        if restarts.iter().any(|&r| r > prev && r < d.index) {
            let was = before_restart.replace(BeforeRestart {
                states: std::mem::take(&mut last),
                index: index.take().map(|(i, _)| i),
                back: false,
            });
            s.back_after_restart += usize::from(was.is_some_and(|b| b.back));
        }
        prev = d.index;
        let (got, indexes) = match d.value.as_list() {
            Some([_, Value::List(got)]) => (got, &[][..]),
            Some([_, Value::List(got), Value::List(indexes)]) => (got, &indexes[..]),
            _ => return Err(shape(d, SHAPE)),
        };
        for i in indexes {
            let Value::Int(i) = *i else { return Err(shape(d, SHAPE)) };
            if let Some(b) = &mut before_restart {
                b.back |= b.index.is_some_and(|before| i < before);
            }
            if let Some((before, op)) = index
                && i < before
            {
                violation(
                    WatchViolationKind::Older,
                    format!("{name}'s server answered with index {i} after {before}"),
                    vec![op, d.index],
                );
            }
            index = Some((i, d.index));
        }
        for e in got.iter() {
            let Some([key, value, Value::Int(rev)]) = e.as_list() else {
                return Err(shape(d, SHAPE));
            };
            s.events += 1;
            if let Some(b) = &mut before_restart {
                b.back |= b.states.get(key).is_some_and(|&(before, ..)| *rev < before);
            }
            if let Some(&(before, was, op)) = last.get(key) {
                if *rev < before {
                    violation(
                        WatchViolationKind::Older,
                        format!("{name} read {key} = {value} at revision {rev} after {was} at revision {before}"),
                        vec![op, d.index],
                    );
                } else if *rev == before && value != was {
                    violation(
                        WatchViolationKind::WrongValue,
                        format!("{name} read {key} = {value} and {was}, both at revision {rev}"),
                        vec![op, d.index],
                    );
                }
            }
            // the write it is: the one at its revision, else the one of its value
            let at_rev = writes
                .by_revision
                .get(rev)
                .map(|&c| &writes.changes[c])
                .filter(|c| c.key == *key);
            let made = at_rev.or_else(|| {
                let same = |c: &&Change| c.key == *key && c.value == *value;
                writes.changes.iter().find(|c| !value.is_nil() && same(c))
            });
            match made {
                Some(c) if c.value != *value || c.revision.is_some_and(|r| r != *rev) => violation(
                    WatchViolationKind::WrongValue,
                    format!(
                        "{name} read {key} = {value} at revision {rev}, where the write made {} at revision {}",
                        c.value,
                        c.revision.map_or("unknown".to_string(), |r| r.to_string())
                    ),
                    vec![c.index, d.index],
                ),
                Some(c) => {
                    if let (Some(done), Some(got)) = (c.at, d.time) {
                        lags.push(got.saturating_sub(done) as f64 / 1e6);
                    }
                }
                None if value.is_nil() => {
                    // gone: a delete, or not yet written; not after a value without a delete
                    let deleted =
                        writes.changes.iter().any(|c| c.key == *key && c.value.is_nil()) || writes.unknown(key, value);
                    if let Some((_, was, op)) = last.get(key).filter(|(_, was, _)| !was.is_nil() && !deleted) {
                        violation(
                            WatchViolationKind::Phantom,
                            format!(
                                "{name} read {key} gone at revision {rev} after {was}, and no delete of it was written"
                            ),
                            vec![*op, d.index],
                        );
                    }
                }
                None if writes.unknown(key, value) => {}
                None => violation(
                    WatchViolationKind::Phantom,
                    format!("{name} read {key} = {value} at revision {rev}, which no write made"),
                    vec![d.index],
                ),
            }
            last.insert(key, (*rev, value, d.index));
        }
    }
    lags.sort_by(f64::total_cmp);
    s.lag_p50_ms = lags.get(lags.len() / 2).copied();
    s.lag_max_ms = lags.last().copied();
    s.back_after_restart += usize::from(before_restart.is_some_and(|b| b.back));
    Ok(last)
}

/// A caught-up watcher's last value of each key against the final reads. A
/// state past a final read's revision is a change made after it (a write
/// whose client gave up can land late), so that read is no longer final.
fn stale_finals(
    name: &str,
    seen: &BTreeMap<&Value, (&Value, i64, u64)>,
    finals: &BTreeMap<Value, (Value, i64, u64)>,
    violations: &mut Vec<WatchViolation>,
) {
    for (key, (value, at, read)) in finals {
        if let Some((last, rev, op)) = seen.get(key)
            && *last != value
            && rev <= at
        {
            violations.push(WatchViolation {
                kind: WatchViolationKind::StaleFinal,
                watcher: name.to_string(),
                message: format!("{name} ended caught up with {key} = {last}, but the final read is {value}"),
                ops: vec![*op, *read],
            });
        }
    }
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
                (None, 0) if self.watchers.iter().all(|w| w.kind == "notify") => format!(
                    "every watcher read only states that were written, none older than one it had seen{}",
                    if self.watchers.iter().any(|w| w.back_after_restart > 0) {
                        " (restarts aside)"
                    } else {
                        ""
                    }
                ),
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
            if w.back_after_restart > 0 {
                out.push_str(&format!(
                    "    read older states than before after {} of its server's restarts (allowed: a restarted server may answer from what it restored before it catches up)\n",
                    w.back_after_restart
                ));
            }
        }
        for v in self.violations.iter().take(20) {
            out.push_str(&format!("\n{:?}: {} (ops {:?})\n", v.kind, v.message, v.ops));
        }
        out
    }
}
