//! Each key's changes in revision order, as far as the history tells them:
//! the acknowledged changes, and the changes of unknown outcome that a
//! (map-shaped) watcher's event showed happened, at the event's revision. A
//! creation mark or a previous value is judged against the key's change
//! before the event's; where a write of unknown outcome that no event showed
//! may lie between the two, the change before is not known, and the event's
//! key is not judged.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use super::parse::{Event, Item, Shape};
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

/// A write of unknown outcome that no event showed: it happened after its
/// invocation, above every revision acknowledged before that, if at all.
struct Unshown {
    invoke: u64,
    lowest: i64,
}

pub(super) struct Timeline<'a> {
    keys: BTreeMap<&'a Value, BTreeMap<i64, Seen<'a>>>,
    /// Per key, its unknown writes that no event showed.
    unshown: BTreeMap<&'a Value, Vec<Unshown>>,
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
            unshown: BTreeMap::new(),
        };
        for (name, w) in watches.filter(|(_, w)| w.shape == Shape::Maps) {
            t.add_events(name, w, writes, violations);
        }
        t.unshown = t.unshown_writes(writes);
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
    fn unshown_writes(&self, writes: &'a Writes) -> BTreeMap<&'a Value, Vec<Unshown>> {
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
        let lowest = lowest_revisions(writes);
        let mut unshown: BTreeMap<&Value, Vec<Unshown>> = BTreeMap::new();
        for u in &writes.unknown {
            let needed = if u.value.is_nil() { deletes(&u.key) } else { 1 };
            if shown(&u.key, &u.value) < needed {
                unshown.entry(&u.key).or_default().push(Unshown {
                    invoke: u.invoke,
                    lowest: lowest(u.invoke),
                });
            }
        }
        unshown
    }

    /// Whether a change of `e`'s key that no event showed may lie between
    /// the key's change before `e` and `e`, where its stream (started at
    /// `from`) would not have delivered it: below `from`. A write of unknown
    /// outcome invoked before `e`'s delivery may have landed there if it came
    /// after the key's change before `e` and after what was acknowledged
    /// before its invocation.
    pub fn unsettled(&self, e: &Event, from: i64) -> bool {
        let after = self.previous(&e.key, e.revision).map_or(i64::MIN, |(rev, _)| rev + 1);
        let below = from.min(e.revision);
        self.unshown
            .get(&e.key)
            .is_some_and(|ws| ws.iter().any(|w| w.invoke < e.op && after.max(w.lowest) < below))
    }

    /// The key's last change before `revision`: its revision and value.
    fn previous(&self, key: &Value, revision: i64) -> Option<(i64, &'a Value)> {
        let (&rev, last) = self.keys.get(key)?.range(..revision).next_back()?;
        Some((rev, last.value))
    }

    /// The value `key` held just before `revision`: none if it did not exist
    /// (never written, or deleted).
    pub fn before(&self, key: &Value, revision: i64) -> Option<&'a Value> {
        self.previous(key, revision).map(|(_, v)| v).filter(|v| !v.is_nil())
    }
}

/// For a history index, the lowest revision a write invoked there can have:
/// one above every change acknowledged before it (etcd orders its revisions
/// as it applies writes, in real time).
fn lowest_revisions(writes: &Writes) -> impl Fn(u64) -> i64 {
    let mut acked: Vec<(u64, i64)> = writes
        .changes()
        .iter()
        .filter_map(|c| Some((c.index, c.revision?)))
        .collect();
    acked.sort_unstable();
    let mut highest = i64::MIN;
    for (_, rev) in &mut acked {
        highest = highest.max(*rev);
        *rev = highest;
    }
    move |invoke| {
        let before = acked.partition_point(|&(i, _)| i < invoke);
        before.checked_sub(1).map_or(i64::MIN, |i| acked[i].1.saturating_add(1))
    }
}
