//! A `notify` watcher judged: told only that a key changed, it reads the key
//! back, so it may skip states; each state it reads must be one a write made,
//! never older than one of that key it saw before, and its server's indexes
//! never go back. Across a restart of its server it starts over: a server
//! restarted may serve what it restored before it catches up (Consul's
//! `?stale` reads answer from its last snapshot), which is counted, not
//! flagged.

use std::collections::BTreeMap;

use super::parse::{Call, shape};
use super::writes::{Change, Writes};
use super::{
    Context, WatchViolation, WatchViolationKind, WatcherStats, caught_up, lag_summary, properties, stale_finals,
};
use crate::history::HistoryError;
use crate::op::{Op, Type};
use crate::value::Value;

/// A `notify` watcher's last state of each key: revision, value, op.
type States<'h> = BTreeMap<&'h Value, (i64, &'h Value, u64)>;

/// What a `notify` watcher had seen before its server's last restart, and
/// whether it has read anything older since.
struct BeforeRestart<'h> {
    states: States<'h>,
    index: Option<i64>,
    back: bool,
}

const SHAPE: &str = "[from [[key value revision] ...] [index ...]]";

/// Judges `notify` watcher `name`, whose server restarted at the history
/// indexes `restarts`; its stats.
pub(super) fn judge(
    name: &str,
    ops: &[Call],
    cx: &Context,
    restarts: &[u64],
    violations: &mut Vec<WatchViolation>,
) -> Result<WatcherStats, HistoryError> {
    let mut s = WatcherStats {
        watcher: name.to_string(),
        kind: "notify".to_string(),
        watches: ops.len(),
        properties: properties(|p| matches!(p, "written" | "latest")),
        ..WatcherStats::default()
    };
    let mut n = Notified {
        name,
        writes: cx.writes,
        violations,
        last: BTreeMap::new(),
        index: None,
        before_restart: None,
        lags: Vec::new(),
    };
    let mut prev = 0;
    for (_, done) in ops {
        let Some(d) = done.filter(|d| d.kind == Type::Ok) else {
            continue;
        };
        if restarts.iter().any(|&r| r > prev && r < d.index) {
            s.back_after_restart += n.restarted();
        }
        prev = d.index;
        n.answer(d, &mut s)?;
    }
    s.back_after_restart += usize::from(n.before_restart.is_some_and(|b| b.back));
    lag_summary(n.lags, &mut s);
    s.caught_up = caught_up(n.last.values().map(|(rev, ..)| *rev).max(), cx.last_change);
    if s.caught_up {
        let seen = n.last.iter().map(|(k, (rev, v, op))| (*k, (*v, *rev, *op))).collect();
        stale_finals(name, &seen, cx.finals, n.violations);
    }
    Ok(s)
}

/// One `notify` watcher being judged.
struct Notified<'a, 'h> {
    name: &'a str,
    writes: &'a Writes,
    violations: &'a mut Vec<WatchViolation>,
    last: States<'h>,
    /// The server's last index, and the op that told it.
    index: Option<(i64, u64)>,
    /// What it had seen before its server's last restart, and whether it has
    /// gone back behind it since.
    before_restart: Option<BeforeRestart<'h>>,
    lags: Vec<f64>,
}

impl<'h> Notified<'_, 'h> {
    fn flag(&mut self, kind: WatchViolationKind, message: String, ops: Vec<u64>) {
        self.violations.push(WatchViolation::new(kind, self.name, message, ops));
    }

    /// Its server restarted: it starts over. 1 if it had gone back after the
    /// restart before.
    fn restarted(&mut self) -> usize {
        let was = self.before_restart.replace(BeforeRestart {
            states: std::mem::take(&mut self.last),
            index: self.index.take().map(|(i, _)| i),
            back: false,
        });
        usize::from(was.is_some_and(|b| b.back))
    }

    /// One answer: the server's indexes, then each state read back.
    fn answer(&mut self, d: &'h Op, s: &mut WatcherStats) -> Result<(), HistoryError> {
        let (got, indexes) = match d.value.as_list() {
            Some([_, Value::List(got)]) => (got, &[][..]),
            Some([_, Value::List(got), Value::List(indexes)]) => (got, &indexes[..]),
            _ => return Err(shape(d, SHAPE)),
        };
        for i in indexes {
            let Value::Int(i) = *i else { return Err(shape(d, SHAPE)) };
            self.server_index(i, d);
        }
        for e in got.iter() {
            let Some([key, value, Value::Int(rev)]) = e.as_list() else {
                return Err(shape(d, SHAPE));
            };
            s.events += 1;
            self.state(key, value, *rev, d);
            self.last.insert(key, (*rev, value, d.index));
        }
        Ok(())
    }

    /// Latest: the server's index never goes below an earlier one.
    fn server_index(&mut self, i: i64, d: &Op) {
        if let Some(b) = &mut self.before_restart {
            b.back |= b.index.is_some_and(|before| i < before);
        }
        if let Some((before, op)) = self.index
            && i < before
        {
            let name = self.name;
            self.flag(
                WatchViolationKind::Older,
                format!("{name}'s server answered with index {i} after {before}"),
                vec![op, d.index],
            );
        }
        self.index = Some((i, d.index));
    }

    /// One state read back: not older than the key's last, and written.
    fn state(&mut self, key: &Value, value: &Value, rev: i64, d: &Op) {
        if let Some(b) = &mut self.before_restart {
            b.back |= b.states.get(key).is_some_and(|&(before, ..)| rev < before);
        }
        let name = self.name;
        if let Some(&(before, was, op)) = self.last.get(key) {
            if rev < before {
                self.flag(
                    WatchViolationKind::Older,
                    format!("{name} read {key} = {value} at revision {rev} after {was} at revision {before}"),
                    vec![op, d.index],
                );
            } else if rev == before && value != was {
                self.flag(
                    WatchViolationKind::WrongValue,
                    format!("{name} read {key} = {value} and {was}, both at revision {rev}"),
                    vec![op, d.index],
                );
            }
        }
        self.written(key, value, rev, d);
    }

    /// Written: the write it is, the one at its revision, else the one of its
    /// value; a key gone only after a delete (or before any write).
    fn written(&mut self, key: &Value, value: &Value, rev: i64, d: &Op) {
        let writes = self.writes;
        let name = self.name;
        let at_rev = writes.at(rev).find(|c| c.key == *key);
        let made = at_rev.or_else(|| {
            let same = |c: &&Change| c.key == *key && c.value == *value;
            writes.changes().iter().find(|c| !value.is_nil() && same(c))
        });
        match made {
            Some(c) if c.value != *value || c.revision.is_some_and(|r| r != rev) => self.flag(
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
                    self.lags.push(got.saturating_sub(done) as f64 / 1e6);
                }
            }
            None if value.is_nil() => {
                let deleted =
                    writes.changes().iter().any(|c| c.key == *key && c.value.is_nil()) || writes.unknown(key, value);
                if let Some(&(_, was, op)) = self.last.get(key).filter(|(_, was, _)| !was.is_nil() && !deleted) {
                    self.flag(
                        WatchViolationKind::Phantom,
                        format!(
                            "{name} read {key} gone at revision {rev} after {was}, and no delete of it was written"
                        ),
                        vec![op, d.index],
                    );
                }
            }
            None if writes.unknown(key, value) => {}
            None => self.flag(
                WatchViolationKind::Phantom,
                format!("{name} read {key} = {value} at revision {rev}, which no write made"),
                vec![d.index],
            ),
        }
    }
}
