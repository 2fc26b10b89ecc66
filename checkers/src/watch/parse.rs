//! A watch history read into what the checks need: the writes, each watcher's
//! ops (a stream watcher's in one form whichever shape the history has), the
//! final reads, the members' hash calls, and the nemesis's restarts and
//! compactions. A value of the wrong shape is an error naming its line: a
//! history the checker misreads would be judged on what it does not say.

use std::collections::BTreeMap;

use super::Finals;
use super::stream::{self, Watch};
use super::writes::Writes;
use crate::history::{History, HistoryError};
use crate::op::{Op, Process, Type};
use crate::value::Value;

/// A call: its invocation and completion, if any.
pub(super) type Call<'h> = (&'h Op, Option<&'h Op>);

/// Everything the checks read of a history.
pub(super) struct Read<'h> {
    pub writes: Writes,
    pub watchers: BTreeMap<String, Watcher<'h>>,
    pub finals: Finals,
    /// The store's revision at the final reads.
    pub final_revision: Option<i64>,
    /// Each node's going down and coming back: history indexes.
    pub restarts: BTreeMap<String, Vec<u64>>,
    pub compactions: Vec<Compaction>,
    pub hashes: Vec<Call<'h>>,
}

/// A watcher's ops, by the kind of its first.
pub(super) enum Watcher<'h> {
    Streamed(Watch),
    /// Read by the `notify` checks themselves.
    Notified(Vec<Call<'h>>),
}

/// A compaction the nemesis made: at `revision`, recorded at history index `index`.
pub(super) struct Compaction {
    pub revision: i64,
    pub index: u64,
}

/// Which shape a stream watcher's ops have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// `[from]`, `[from events]`, `[from compacted]`: resumptions of one
    /// watcher-wide sequence, events `[key value revision]`.
    Lists,
    /// Maps: streams opened and carried on, events with their response,
    /// creation mark and previous value, progress notifications.
    Maps,
}

/// What a watch asked for when it opened (maps only; lists ask for every key).
#[derive(Clone, Debug, Default)]
pub(super) struct Ask {
    pub start: Option<String>,
    pub offset: Option<i64>,
    pub key: Option<Value>,
    pub prev_kv: bool,
    pub progress_notify: bool,
}

/// One watch op, in one form for both shapes.
pub(super) struct WatchOp {
    pub shape: Shape,
    /// The revision it covers from.
    pub from: i64,
    /// It opened a new stream (maps only).
    pub open: bool,
    pub ask: Ask,
    pub outcome: Outcome,
    /// The invocation's source line.
    pub line: u32,
}

pub(super) enum Outcome {
    /// What it received, in order; `op` is the completion's history index.
    Delivered { items: Vec<Item>, op: u64 },
    /// etcd refused its start as compacted: resume from this revision.
    Compacted(i64),
    /// Failed otherwise, or no telling what it received.
    Nothing,
}

pub(super) enum Item {
    Event(Event),
    Progress(Progress),
}

/// One event as delivered.
pub(super) struct Event {
    pub key: Value,
    /// Nil for a delete.
    pub value: Value,
    pub revision: i64,
    /// The watch response it came in (maps only).
    pub response: Option<i64>,
    /// etcd marked it a creation (maps only, puts only).
    pub create: Option<bool>,
    /// The previous value etcd sent; nil where it sent none (and in lists).
    pub prev: Value,
    /// The watch op that delivered it: its completion's index and time.
    pub op: u64,
    pub at: Option<u64>,
}

/// A progress notification: everything up to `revision` was sent.
pub(super) struct Progress {
    pub revision: i64,
    pub response: i64,
    pub requested: bool,
    pub op: u64,
}

/// Reads `history` for the watch checks.
pub(super) fn read(history: &History) -> Result<Read<'_>, HistoryError> {
    let mut writes = Writes::default();
    let mut calls: BTreeMap<String, Vec<Call>> = BTreeMap::new();
    let mut hashes = Vec::new();
    let mut finals = Finals::new();
    let mut final_revision = None;
    for (invoke, done) in history.completions() {
        let key = invoke.key.clone().unwrap_or_default();
        match invoke.f.as_str() {
            "write" | "delete" | "txn" => writes.add(invoke, done)?,
            "watch" | "notify" => calls.entry(name(&key)).or_default().push((invoke, done)),
            "hash" => hashes.push((invoke, done)),
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
    let mut watchers = BTreeMap::new();
    for (name, ops) in calls {
        let w = if ops[0].0.f.as_str() == "notify" {
            Watcher::Notified(ops)
        } else {
            let ops = ops.iter().map(|&(i, d)| watch_op(i, d)).collect::<Result<_, _>>()?;
            Watcher::Streamed(stream::watch(&name, ops)?)
        };
        watchers.insert(name, w);
    }
    Ok(Read {
        writes,
        watchers,
        finals,
        final_revision,
        restarts: restarts(history),
        compactions: compactions(history),
        hashes,
    })
}

/// A watcher's or member's name: its key's text (unquoted).
pub(super) fn name(key: &Value) -> String {
    key.as_str().map_or_else(|| key.to_string(), str::to_string)
}

/// Each node's going down and coming back (kills and their restarts,
/// upgrades), by the node names in the nemesis op's text: history indexes.
fn restarts(history: &History) -> BTreeMap<String, Vec<u64>> {
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
    restarts
}

/// The nemesis's compactions: `NODE: at revision N ...` (ours), or a map with
/// `revision`. Others (`already compacted`) made none.
fn compactions(history: &History) -> Vec<Compaction> {
    history
        .ops
        .iter()
        .filter(|o| o.process == Process::Nemesis && o.f.as_str() == "compact")
        .filter_map(|o| {
            let revision = match &o.value {
                Value::Str(s) => {
                    // `n2: at revision 4423 of 4523; ...`
                    let digits = &s[s.find("at revision ")? + "at revision ".len()..];
                    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
                    digits[..end].parse().ok()?
                }
                v => v.get("revision")?.as_int()?,
            };
            Some(Compaction {
                revision,
                index: o.index,
            })
        })
        .collect()
}

/// A watch call in one form, by the shape of its invocation's value.
fn watch_op(invoke: &Op, done: Option<&Op>) -> Result<WatchOp, HistoryError> {
    match &invoke.value {
        Value::Map(_) => map_op(invoke, done),
        _ => list_op(invoke, done),
    }
}

const LIST_EVENTS: &str = "[from [[key value revision] ...]]";

/// The first shape: invoked `[from]`, done `[from events]` or failed
/// `[from compacted]`.
fn list_op(invoke: &Op, done: Option<&Op>) -> Result<WatchOp, HistoryError> {
    let from = match invoke.value.as_list() {
        Some([Value::Int(from), ..]) => *from,
        _ => return Err(shape(invoke, "[from-revision]")),
    };
    let outcome = match done.map(|d| (d.kind, d, d.value.as_list())) {
        Some((Type::Ok, d, Some([_, Value::List(got)]))) => Outcome::Delivered {
            items: got.iter().map(|e| list_event(e, d)).collect::<Result<_, _>>()?,
            op: d.index,
        },
        Some((Type::Ok, d, _)) => return Err(shape(d, LIST_EVENTS)),
        Some((Type::Fail, _, Some([_, Value::Int(compacted)]))) => Outcome::Compacted(*compacted),
        _ => Outcome::Nothing,
    };
    Ok(WatchOp {
        shape: Shape::Lists,
        from,
        open: false,
        ask: Ask::default(),
        outcome,
        line: invoke.line,
    })
}

fn list_event(e: &Value, done: &Op) -> Result<Item, HistoryError> {
    match e.as_list() {
        Some([key, value, Value::Int(revision)]) => Ok(Item::Event(Event {
            key: key.clone(),
            value: value.clone(),
            revision: *revision,
            response: None,
            create: None,
            prev: Value::Nil,
            op: done.index,
            at: done.time,
        })),
        _ => Err(shape(done, LIST_EVENTS)),
    }
}

const MAP_INVOKE: &str =
    "{from Int, open Bool, start Str?, offset Int?, key Str?, prev_kv Bool?, progress_notify Bool?}";
const MAP_FAIL: &str = "{from Int, compacted Int} or {from Int, error Str}";
const MAP_EVENT: &str = "[key value-or-nil revision response create-or-nil prev-or-nil]";
const MAP_PROGRESS: &str = "{progress Int, response Int, requested Bool}";

/// The second shape: invoked with a map of what it asks, done with
/// `{from, events}`, failed with `{from, compacted}` or `{from, error}`.
fn map_op(invoke: &Op, done: Option<&Op>) -> Result<WatchOp, HistoryError> {
    let v = &invoke.value;
    let bad = || shape(invoke, MAP_INVOKE);
    let from = int(v, "from").ok_or_else(bad)?;
    let open = boolean(v, "open").map_err(|_| bad())?.ok_or_else(bad)?;
    let ask = Ask {
        start: optional(v, "start", |s| s.as_str().map(str::to_string)).map_err(|_| bad())?,
        offset: optional(v, "offset", Value::as_int).map_err(|_| bad())?,
        key: optional(v, "key", |k| k.as_str().map(|_| k.clone())).map_err(|_| bad())?,
        prev_kv: boolean(v, "prev_kv").map_err(|_| bad())?.unwrap_or(false),
        progress_notify: boolean(v, "progress_notify").map_err(|_| bad())?.unwrap_or(false),
    };
    let outcome = match done.map(|d| (d.kind, d)) {
        Some((Type::Ok, d)) => {
            let bad = || shape(d, "{from Int, events [event-or-progress ...]}");
            int(&d.value, "from").ok_or_else(bad)?;
            let got = d.value.get("events").and_then(Value::as_list).ok_or_else(bad)?;
            Outcome::Delivered {
                items: got
                    .iter()
                    .enumerate()
                    .map(|(i, e)| map_item(i, e, d))
                    .collect::<Result<_, _>>()?,
                op: d.index,
            }
        }
        Some((Type::Fail, d)) => {
            int(&d.value, "from").ok_or_else(|| shape(d, MAP_FAIL))?;
            match (int(&d.value, "compacted"), d.value.get("error").and_then(Value::as_str)) {
                (Some(c), _) => Outcome::Compacted(c),
                (None, Some(_)) => Outcome::Nothing,
                (None, None) => return Err(shape(d, MAP_FAIL)),
            }
        }
        _ => Outcome::Nothing,
    };
    Ok(WatchOp {
        shape: Shape::Maps,
        from,
        open,
        ask,
        outcome,
        line: invoke.line,
    })
}

/// The `i`th thing a map-shaped op received: an event or a progress notification.
fn map_item(i: usize, item: &Value, done: &Op) -> Result<Item, HistoryError> {
    let bad = |expected: &str| HistoryError {
        line: done.line,
        message: format!("watch ok: item {i} of events should be {expected}, got {item}"),
    };
    if let Value::Map(_) = item {
        let (Some(revision), Some(response)) = (int(item, "progress"), int(item, "response")) else {
            return Err(bad(MAP_PROGRESS));
        };
        return Ok(Item::Progress(Progress {
            revision,
            response,
            requested: boolean(item, "requested")
                .map_err(|_| bad(MAP_PROGRESS))?
                .unwrap_or(false),
            op: done.index,
        }));
    }
    let Some(
        [
            key @ Value::Str(_),
            value,
            Value::Int(revision),
            Value::Int(response),
            create,
            prev,
        ],
    ) = item.as_list()
    else {
        return Err(bad(MAP_EVENT));
    };
    let create = match create {
        Value::Bool(b) => Some(*b),
        Value::Nil => None,
        _ => return Err(bad(MAP_EVENT)),
    };
    if !matches!(value, Value::Int(_) | Value::Nil) || !matches!(prev, Value::Int(_) | Value::Nil) {
        return Err(bad(MAP_EVENT));
    }
    Ok(Item::Event(Event {
        key: key.clone(),
        value: value.clone(),
        revision: *revision,
        response: Some(*response),
        create,
        prev: prev.clone(),
        op: done.index,
        at: done.time,
    }))
}

fn int(map: &Value, field: &str) -> Option<i64> {
    map.get(field)?.as_int()
}

/// A map's optional Bool field: absent (or nil) is `None`, another type an error.
fn boolean(map: &Value, field: &str) -> Result<Option<bool>, ()> {
    optional(map, field, |v| match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    })
}

/// A map's optional field through `read`: absent (or nil) is `None`, a value
/// `read` refuses an error.
fn optional<T>(map: &Value, field: &str, read: impl Fn(&Value) -> Option<T>) -> Result<Option<T>, ()> {
    match map.get(field) {
        None | Some(Value::Nil) => Ok(None),
        Some(v) => read(v).map(Some).ok_or(()),
    }
}

/// The error of an op whose value is not of the shape `expected`.
pub(super) fn shape(op: &Op, expected: &str) -> HistoryError {
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
