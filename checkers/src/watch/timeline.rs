//! Each key's changes in revision order, as far as the history tells them:
//! the acknowledged changes, and the changes of unknown outcome that a
//! (map-shaped) watcher's event showed happened, at the event's revision. A
//! creation mark or a previous value is judged against the key's change
//! before the event's; where a write of unknown outcome no event showed may
//! lie before it, that change is not known, and the key is not judged.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use super::parse::{Item, Shape};
use super::stream::Watch;
use super::writes::Writes;
use super::{WatchViolation, WatchViolationKind};
use crate::value::Value;

/// A change of a key: its value (nil: deleted), and the watcher and op that
/// showed it (none for an acknowledged change).
struct Seen<'a> {
    value: &'a Value,
    by: Option<(&'a str, u64)>,
}

pub(super) struct Timeline<'a> {
    keys: BTreeMap<&'a Value, BTreeMap<i64, Seen<'a>>>,
    /// Per key, the invocations of its unknown writes that no event showed.
    unsettled: BTreeMap<&'a Value, Vec<u64>>,
}

impl<'a> Timeline<'a> {
    /// The timeline of `writes` and the watchers' events; two events of one
    /// key at one revision with different values are a wrong value.
    pub fn of(
        writes: &'a Writes,
        watches: impl Iterator<Item = (&'a str, &'a Watch)>,
        violations: &mut Vec<WatchViolation>,
    ) -> Self {
        let mut keys: BTreeMap<&Value, BTreeMap<i64, Seen>> = BTreeMap::new();
        for c in writes.changes() {
            if let Some(rev) = c.revision {
                keys.entry(&c.key).or_default().insert(
                    rev,
                    Seen {
                        value: &c.value,
                        by: None,
                    },
                );
            }
        }
        let mut t = Timeline {
            keys,
            unsettled: BTreeMap::new(),
        };
        for (name, w) in watches.filter(|(_, w)| w.shape == Shape::Maps) {
            t.add_events(name, w, writes, violations);
        }
        t.unsettled = t.unsettled_writes(writes);
        t
    }

    /// The events of `watch` that an unknown write explains, at a revision
    /// no acknowledged change has.
    fn add_events(&mut self, name: &'a str, watch: &'a Watch, writes: &Writes, violations: &mut Vec<WatchViolation>) {
        let events = watch.streams.iter().flat_map(|s| &s.items).filter_map(|i| match i {
            Item::Event(e) => Some(e),
            Item::Progress(_) => None,
        });
        for e in events {
            if writes.at(e.revision).next().is_some() || !writes.unknown(&e.key, &e.value) {
                continue;
            }
            match self.keys.entry(&e.key).or_default().entry(e.revision) {
                Entry::Vacant(v) => {
                    v.insert(Seen {
                        value: &e.value,
                        by: Some((name, e.op)),
                    });
                }
                Entry::Occupied(o) if o.get().value != &e.value => {
                    let (other, op) = o.get().by.unwrap_or((name, e.op));
                    violations.push(WatchViolation::new(
                        WatchViolationKind::WrongValue,
                        name,
                        format!(
                            "{name} got {} = {} at revision {}, where {other} got {} = {}",
                            e.key,
                            e.value,
                            e.revision,
                            e.key,
                            o.get().value
                        ),
                        vec![op, e.op],
                    ));
                }
                Entry::Occupied(_) => {}
            }
        }
    }

    /// The unknown writes no event showed. A put's value is its own (values
    /// are unique per writer); deletes are all alike, so a key's unknown
    /// deletes are shown only when events showed as many deletes of it.
    fn unsettled_writes(&self, writes: &'a Writes) -> BTreeMap<&'a Value, Vec<u64>> {
        let shown = |key: &Value, value: &Value| {
            self.keys
                .get(key)
                .into_iter()
                .flat_map(|k| k.values())
                .filter(|s| s.by.is_some() && s.value == value)
                .count()
        };
        let deletes = |key: &Value| {
            writes
                .unknown
                .iter()
                .filter(|u| u.key == *key && u.value.is_nil())
                .count()
        };
        let mut unsettled: BTreeMap<&Value, Vec<u64>> = BTreeMap::new();
        for u in &writes.unknown {
            let needed = if u.value.is_nil() { deletes(&u.key) } else { 1 };
            if shown(&u.key, &u.value) < needed {
                unsettled.entry(&u.key).or_default().push(u.invoke);
            }
        }
        unsettled
    }

    /// Whether a write of `key` of unknown outcome, invoked before history
    /// index `op`, may have changed it where no event showed.
    pub fn unsettled(&self, key: &Value, op: u64) -> bool {
        self.unsettled.get(key).is_some_and(|w| w.iter().any(|&i| i < op))
    }

    /// The value `key` held just before `revision`: none if it did not exist
    /// (never written, or deleted).
    pub fn before(&self, key: &Value, revision: i64) -> Option<&'a Value> {
        let (_, last) = self.keys.get(key)?.range(..revision).next_back()?;
        Some(last.value).filter(|v| !v.is_nil())
    }
}
