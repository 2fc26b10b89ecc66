//! What every section of the page shares: escaping, how a field is shown, the
//! client calls of a history and their times.

use checkers::{History, Op, Process};
use serde::Serialize;
use serde_json::Value;

/// Width of the page's drawings, in SVG units.
pub const W: f64 = 900.0;
/// Violations listed in the page; results.json has every one.
pub const LISTED: usize = 40;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// A field as its JSON: the page prints numbers as the file holds them (`30.0`).
pub fn json<T: Serialize + ?Sized>(field: &T) -> Value {
    serde_json::to_value(field).unwrap_or(Value::Null)
}

/// Whether a field was given: not null, not empty (the default read for a
/// string missing from an older file).
pub fn given(v: &Value) -> bool {
    !v.is_null() && v != ""
}

/// A field as the page shows it, `-` where it was not given.
pub fn shown<T: Serialize + ?Sized>(field: &T) -> String {
    match json(field) {
        v if given(&v) => text(&v),
        _ => "-".into(),
    }
}

/// Client ops paired: (process, invoke op, completion op if any).
pub fn calls(history: &History) -> Vec<(u64, &Op, Option<&Op>)> {
    history
        .completions()
        .into_iter()
        .filter_map(|(inv, done)| match inv.process {
            Process::Client(p) => Some((p, inv, done)),
            Process::Nemesis => None,
        })
        .collect()
}

pub fn secs(op: &Op) -> f64 {
    op.time.unwrap_or(0) as f64 / 1e9
}

/// When a drill's read of every key began (seconds), or never.
pub fn read_back_at(history: &History) -> f64 {
    history
        .ops
        .iter()
        .find(|o| o.process == Process::Nemesis && o.f.as_str() == "read-back")
        .map_or(f64::MAX, secs)
}
