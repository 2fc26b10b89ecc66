//! The writers' changes: acknowledged ones with the revision etcd gave them,
//! and those of unknown outcome, which may have happened at any revision.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use super::parse::shape;
use crate::history::HistoryError;
use crate::op::{Op, Type};
use crate::value::Value;

/// An acknowledged change: its key, value (nil for a delete), revision
/// (where the system told it).
pub(super) struct Change {
    pub key: Value,
    pub value: Value,
    pub revision: Option<i64>,
    pub index: u64,
    /// When it was acknowledged (ns).
    pub at: Option<u64>,
    /// One key of a transaction: a delete there may have found nothing to
    /// delete, and then changed nothing.
    pub txn: bool,
}

/// A change whose write's outcome is unknown: it may have happened.
pub(super) struct Unknown {
    pub key: Value,
    /// Nil for a delete.
    pub value: Value,
    /// The write's invocation: it happened after this, if at all.
    pub invoke: u64,
}

#[derive(Default)]
pub(super) struct Writes {
    changes: Vec<Change>,
    /// A revision's changes (several for a transaction): indexes into `changes`.
    by_revision: BTreeMap<i64, Vec<usize>>,
    pub unknown: Vec<Unknown>,
}

impl Writes {
    /// Adds a `write`, `delete` or `txn` call: what its acknowledgement says
    /// changed, nothing if it failed, what it may have changed otherwise.
    pub fn add(&mut self, invoke: &Op, done: Option<&Op>) -> Result<(), HistoryError> {
        let txn = invoke.f.as_str() == "txn";
        match done.map(|d| (d.kind, d)) {
            Some((Type::Ok, d)) if txn => {
                let Some([pairs, Value::Int(rev)]) = d.value.as_list() else {
                    return Err(shape(d, "[[[key value] ...] revision]"));
                };
                for (key, value) in txn_pairs(d, pairs)? {
                    self.push(key, value, Some(*rev), d, true);
                }
            }
            Some((Type::Ok, d)) => {
                let (value, revision) = match d.value.as_list() {
                    Some([value, Value::Int(rev)]) => (value, Some(*rev)),
                    Some([value, Value::Nil]) => (value, None),
                    _ => return Err(shape(d, "[value revision-or-nil]")),
                };
                let key = invoke.key.clone().unwrap_or_default();
                self.push(key, value.clone(), revision, d, false);
            }
            Some((Type::Fail, _)) => {}
            _ if txn => {
                for (key, value) in txn_pairs(invoke, &invoke.value)? {
                    self.unknown.push(Unknown {
                        key,
                        value,
                        invoke: invoke.index,
                    });
                }
            }
            _ => self.unknown.push(Unknown {
                key: invoke.key.clone().unwrap_or_default(),
                value: if invoke.f.as_str() == "delete" {
                    Value::Nil
                } else {
                    invoke.value.clone()
                },
                invoke: invoke.index,
            }),
        }
        Ok(())
    }

    fn push(&mut self, key: Value, value: Value, revision: Option<i64>, done: &Op, txn: bool) {
        if let Some(rev) = revision {
            self.by_revision.entry(rev).or_default().push(self.changes.len());
        }
        self.changes.push(Change {
            key,
            value,
            revision,
            index: done.index,
            at: done.time,
            txn,
        });
    }

    /// Every acknowledged change, in the order acknowledged.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    pub fn acknowledged(&self) -> usize {
        self.changes.len()
    }

    /// The acknowledged changes at `revision`.
    pub fn at(&self, revision: i64) -> impl Iterator<Item = &Change> {
        self.by_revision
            .get(&revision)
            .into_iter()
            .flatten()
            .map(|&c| &self.changes[c])
    }

    /// The acknowledged changes with a revision in `revisions`, in revision order.
    pub fn within(&self, revisions: RangeInclusive<i64>) -> impl Iterator<Item = &Change> {
        self.by_revision
            .range(revisions)
            .flat_map(|(_, cs)| cs.iter().map(|&c| &self.changes[c]))
    }

    /// The revision of the last acknowledged change.
    pub fn last_revision(&self) -> Option<i64> {
        self.by_revision.keys().next_back().copied()
    }

    /// Whether an unknown write (it may have happened) would explain `key = value`.
    pub fn unknown(&self, key: &Value, value: &Value) -> bool {
        self.unknown.iter().any(|u| u.key == *key && u.value == *value)
    }
}

/// A transaction's `[[key value] ...]`: keys strings, values integers (nil: a delete).
fn txn_pairs(op: &Op, pairs: &Value) -> Result<Vec<(Value, Value)>, HistoryError> {
    let bad = || shape(op, "a list of [key value] pairs, value Int or nil");
    pairs
        .as_list()
        .ok_or_else(bad)?
        .iter()
        .map(|p| match p.as_list() {
            Some([key @ Value::Str(_), value @ (Value::Int(_) | Value::Nil)]) => Ok((key.clone(), value.clone())),
            _ => Err(bad()),
        })
        .collect()
}
