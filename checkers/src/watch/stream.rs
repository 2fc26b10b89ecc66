//! A stream watcher's ops as the streams they were, each judged on what etcd
//! promises a watch stream: its events in revision order, each once, a
//! revision's events in one response, every change of a watched key from its
//! start to its top (its last event or progress notification) delivered, none
//! below its start or at or below a progress notification's revision, none of
//! a key it did not ask for, creation marks and previous values as the writes
//! say, and every event a write.
//!
//! A list-shaped watcher's ops are resumptions of one sequence: its order
//! spans them all, its completeness each op's own range, as it always has.

use std::collections::{BTreeMap, BTreeSet};

use super::parse::{Ask, Event, Item, Outcome, Progress, Shape, WatchOp};
use super::writes::Change;
use super::{
    Context, WatchViolation, WatchViolationKind, WatcherStats, caught_up, lag_summary, properties, stale_finals,
};
use crate::history::HistoryError;
use crate::value::Value;

/// A revision range a stream promised complete, and the op to blame.
struct Span {
    from: i64,
    top: i64,
    op: u64,
}

/// What one watch stream received.
pub(super) struct Stream {
    shape: Shape,
    /// The revision it started at.
    from: i64,
    /// A map-shaped op opened it at `from`.
    opened: bool,
    ask: Ask,
    pub items: Vec<Item>,
    spans: Vec<Span>,
}

impl Stream {
    fn new(shape: Shape, from: i64, opened: bool, ask: Ask) -> Stream {
        Stream {
            shape,
            from,
            opened,
            ask,
            items: Vec::new(),
            spans: Vec::new(),
        }
    }

    fn events(&self) -> impl Iterator<Item = &Event> {
        self.items.iter().filter_map(|i| match i {
            Item::Event(e) => Some(e),
            Item::Progress(_) => None,
        })
    }

    fn progresses(&self) -> impl Iterator<Item = &Progress> {
        self.items.iter().filter_map(|i| match i {
            Item::Progress(p) => Some(p),
            Item::Event(_) => None,
        })
    }

    /// The revision up to which it promised every change: its last event's,
    /// or its last progress notification's if higher.
    fn top(&self) -> Option<i64> {
        let event = self.events().last().map(|e| e.revision);
        let progress = self.progresses().last().map(|p| p.revision);
        event.max(progress)
    }

    fn watches(&self, key: &Value) -> bool {
        self.ask.key.as_ref().is_none_or(|k| k == key)
    }
}

/// A stream watcher's ops, as its streams.
pub(super) struct Watch {
    pub shape: Shape,
    pub streams: Vec<Stream>,
    /// Starts etcd refused as compacted: the revision asked, the one to resume from.
    compacted: Vec<[i64; 2]>,
    ops: usize,
}

/// The streams of watcher `name`'s ops (at least one).
pub(super) fn watch(name: &str, ops: Vec<WatchOp>) -> Result<Watch, HistoryError> {
    let shape = ops[0].shape;
    if let Some(op) = ops.iter().find(|o| o.shape != shape) {
        return Err(HistoryError {
            line: op.line,
            message: format!(
                "watch invoke: {}'s ops mix the list and the map shapes",
                Value::str(name)
            ),
        });
    }
    let compacted = ops
        .iter()
        .filter_map(|o| match o.outcome {
            Outcome::Compacted(c) => Some([o.from, c]),
            _ => None,
        })
        .collect();
    let count = ops.len();
    let streams = match shape {
        Shape::Lists => vec![sequence(ops)],
        Shape::Maps => streams(name, ops)?,
    };
    Ok(Watch {
        shape,
        streams,
        compacted,
        ops: count,
    })
}

/// A list-shaped watcher's ops: one sequence, each op's range its own.
fn sequence(ops: Vec<WatchOp>) -> Stream {
    let mut s = Stream::new(Shape::Lists, ops[0].from, false, Ask::default());
    for op in ops {
        if let Outcome::Delivered { items, op: done } = op.outcome {
            let top = items.iter().fold(op.from.saturating_sub(1), |top, i| match i {
                Item::Event(e) => top.max(e.revision),
                Item::Progress(_) => top,
            });
            s.spans.push(Span {
                from: op.from,
                top,
                op: done,
            });
            s.items.extend(items);
        }
    }
    s
}

/// A map-shaped watcher's ops: a stream for each op that opened one, carried
/// on by the ops after it; each stream's range from its start to its top.
fn streams(name: &str, ops: Vec<WatchOp>) -> Result<Vec<Stream>, HistoryError> {
    let mut streams: Vec<Stream> = Vec::new();
    let mut last_op = Vec::new();
    for op in ops {
        if op.open {
            streams.push(Stream::new(Shape::Maps, op.from, true, op.ask));
            last_op.push(None);
        }
        let (Some(s), Some(last)) = (streams.last_mut(), last_op.last_mut()) else {
            return Err(HistoryError {
                line: op.line,
                message: format!(
                    "watch invoke: {}'s first op carries on a stream (open false) it never opened",
                    Value::str(name)
                ),
            });
        };
        if let Outcome::Delivered { items, op: done } = op.outcome {
            s.items.extend(items);
            *last = Some(done);
        }
    }
    for (s, op) in streams.iter_mut().zip(last_op) {
        if let (Some(top), Some(op)) = (s.top(), op) {
            s.spans.push(Span { from: s.from, top, op });
        }
    }
    Ok(streams)
}

/// Judges watcher `name`'s streams; its stats.
pub(super) fn judge(name: &str, watch: &Watch, cx: &Context, violations: &mut Vec<WatchViolation>) -> WatcherStats {
    let mut s = stats(name, watch);
    let mut lags = Vec::new();
    for stream in &watch.streams {
        let mut j = Judge {
            name,
            stream,
            cx,
            violations,
            lags: &mut lags,
        };
        j.items();
        j.atomic();
        j.coverage();
        if caught_up(stream.top(), cx.last_change) {
            s.caught_up = true;
            j.finals();
        }
    }
    lag_summary(lags, &mut s);
    s
}

/// What a watcher asked and received, before judging.
fn stats(name: &str, watch: &Watch) -> WatcherStats {
    let first = &watch.streams[0].ask;
    let items = || watch.streams.iter().flat_map(|s| &s.items);
    let progress: Vec<&Progress> = watch.streams.iter().flat_map(Stream::progresses).collect();
    let responses: BTreeSet<i64> = items()
        .filter_map(|i| match i {
            Item::Event(e) => e.response,
            Item::Progress(p) => Some(p.response),
        })
        .collect();
    WatcherStats {
        watcher: name.to_string(),
        kind: "watch".to_string(),
        events: watch.streams.iter().map(|s| s.events().count()).sum(),
        watches: watch.ops,
        compacted: watch.compacted.clone(),
        start: first.start.clone(),
        offset: first.offset,
        key: first.key.as_ref().map(super::parse::name),
        prev_kv: first.prev_kv,
        progress_notify: first.progress_notify,
        progress: progress.len(),
        progress_requested: progress.iter().filter(|p| p.requested).count(),
        responses: responses.len(),
        properties: properties(|p| applies(watch, p)),
        ..WatcherStats::default()
    }
}

/// Whether `watch` could exercise `property`: lists carry no responses,
/// starts or creation marks; a watcher that got no progress notification,
/// watched every key, or asked no previous values cannot break those.
fn applies(watch: &Watch, property: &str) -> bool {
    let any = |asked: &dyn Fn(&Stream) -> bool| watch.streams.iter().any(asked);
    match property {
        "ordered" | "unique" | "reliable" | "written" => true,
        "atomic" | "resumable" | "is-create" => watch.shape == Shape::Maps,
        "bookmarkable" => any(&|s| s.progresses().next().is_some()),
        "filter" => any(&|s| s.ask.key.is_some()),
        "prev-kv" => any(&|s| s.ask.prev_kv),
        _ => false,
    }
}

/// Where a stream's order stands: the event before, the events so far (by
/// revision and key), the highest progress notification and its op.
#[derive(Default)]
struct Order<'a> {
    prev: Option<&'a Event>,
    seen: BTreeSet<(i64, &'a Value)>,
    progress: Option<(i64, u64)>,
}

/// One stream being judged.
struct Judge<'a, 'c> {
    name: &'a str,
    stream: &'a Stream,
    cx: &'a Context<'c>,
    violations: &'a mut Vec<WatchViolation>,
    lags: &'a mut Vec<f64>,
}

impl<'a> Judge<'a, '_> {
    fn flag(&mut self, kind: WatchViolationKind, message: String, ops: Vec<u64>) {
        self.violations.push(WatchViolation::new(kind, self.name, message, ops));
    }

    /// Each event and progress notification, in the order received.
    fn items(&mut self) {
        let stream = self.stream;
        let mut order = Order::default();
        for item in &stream.items {
            match item {
                Item::Event(e) => {
                    self.ordered(&order, e);
                    self.after_progress(&order, e);
                    self.started(e);
                    self.asked(e);
                    if self.written(e) {
                        self.is_create(e);
                        self.prev_kv(e);
                    }
                    order.prev = Some(e);
                    order.seen.insert((e.revision, &e.key));
                }
                Item::Progress(p) => self.progressed(&mut order, p),
            }
        }
    }

    /// Ordered and unique. Lists (one change per revision) need each revision
    /// above the one before; maps allow a transaction's keys at one revision.
    fn ordered(&mut self, order: &Order, e: &Event) {
        let Some(prev) = order.prev else { return };
        let (kind, what) = match self.stream.shape {
            Shape::Lists if e.revision > prev.revision => return,
            Shape::Lists if e.revision == prev.revision && e.key == prev.key => {
                (WatchViolationKind::Duplicate, "again")
            }
            Shape::Maps if order.seen.contains(&(e.revision, &e.key)) => (WatchViolationKind::Duplicate, "again"),
            Shape::Maps if e.revision >= prev.revision => return,
            _ => (WatchViolationKind::Reorder, "after a later one"),
        };
        let name = self.name;
        self.flag(
            kind,
            format!(
                "{name} got {} at revision {} {what} (revision {} of {})",
                e.key, e.revision, prev.revision, prev.key
            ),
            vec![prev.op, e.op],
        );
    }

    /// Bookmarkable: a progress notification at P said every event up to P was sent.
    fn after_progress(&mut self, order: &Order, e: &Event) {
        if let Some((p, op)) = order.progress
            && e.revision <= p
        {
            let name = self.name;
            self.flag(
                WatchViolationKind::Bookmark,
                format!(
                    "{name} got {} at revision {} after a progress notification at revision {p}",
                    e.key, e.revision
                ),
                vec![op, e.op],
            );
        }
    }

    /// Bookmarkable: progress notifications never go back.
    fn progressed(&mut self, order: &mut Order, p: &Progress) {
        if let Some((before, op)) = order.progress {
            if p.revision < before {
                let name = self.name;
                self.flag(
                    WatchViolationKind::Bookmark,
                    format!(
                        "{name} got a progress notification at revision {} after one at revision {before}",
                        p.revision
                    ),
                    vec![op, p.op],
                );
            }
            if p.revision <= before {
                return;
            }
        }
        order.progress = Some((p.revision, p.op));
    }

    /// Resumable: nothing below the revision the stream was opened at.
    fn started(&mut self, e: &Event) {
        if self.stream.shape == Shape::Maps && e.revision < self.stream.from {
            let (name, from) = (self.name, self.stream.from);
            self.flag(
                WatchViolationKind::BeforeStart,
                format!(
                    "{name} got {} at revision {}, below {from} where its watch started",
                    e.key, e.revision
                ),
                vec![e.op],
            );
        }
    }

    /// Filter: only the key asked for.
    fn asked(&mut self, e: &Event) {
        if let Some(k) = &self.stream.ask.key
            && *k != e.key
        {
            let name = self.name;
            self.flag(
                WatchViolationKind::Unasked,
                format!("{name} watched {k} alone, yet got {} at revision {}", e.key, e.revision),
                vec![e.op],
            );
        }
    }

    /// Written: the event is a change at its revision, or one a write of
    /// unknown outcome would make. Whether it is.
    fn written(&mut self, e: &Event) -> bool {
        let writes = self.cx.writes;
        let at: Vec<&Change> = writes.at(e.revision).collect();
        if let Some(c) = at.iter().find(|c| c.key == e.key && c.value == e.value) {
            if let (Some(done), Some(got)) = (c.at, e.at) {
                self.lags.push(got.saturating_sub(done) as f64 / 1e6);
            }
            return true;
        }
        let name = self.name;
        match at.iter().find(|c| c.key == e.key).or(at.first()) {
            Some(c) => self.flag(
                WatchViolationKind::WrongValue,
                format!(
                    "{name} got {} = {} at revision {}, where the write was {} = {}",
                    e.key, e.value, e.revision, c.key, c.value
                ),
                vec![c.index, e.op],
            ),
            None if writes.unknown(&e.key, &e.value) => return true,
            None => self.flag(
                WatchViolationKind::Phantom,
                format!(
                    "{name} got {} = {} at revision {}, which no write made",
                    e.key, e.value, e.revision
                ),
                vec![e.op],
            ),
        }
        false
    }

    /// Is-create: a put is a creation if and only if its key did not exist before it.
    fn is_create(&mut self, e: &Event) {
        let Some(marked) = e.create.filter(|_| !e.value.is_nil()) else {
            return;
        };
        let timeline = self.cx.timeline;
        if timeline.unsettled(e, self.stream.from) {
            return;
        }
        let before = timeline.before(&e.key, e.revision);
        if marked == before.is_none() {
            return;
        }
        let (name, k) = (self.name, &e.key);
        let message = match before {
            Some(v) => format!(
                "{name} got {k} = {} at revision {} marked a creation, but {k} was {v} before it",
                e.value, e.revision
            ),
            None => format!(
                "{name} got {k} = {} at revision {} not marked a creation, but {k} did not exist before it",
                e.value, e.revision
            ),
        };
        self.flag(WatchViolationKind::IsCreate, message, vec![e.op]);
    }

    /// Prev-kv: the value the key held before the event, where it held one.
    /// etcd reads it at the revision before, which a compaction at or past the
    /// event's revision makes unreadable: none sent then is no violation.
    fn prev_kv(&mut self, e: &Event) {
        let timeline = self.cx.timeline;
        if !self.stream.ask.prev_kv || timeline.unsettled(e, self.stream.from) {
            return;
        }
        let (name, k, rev) = (self.name, &e.key, e.revision);
        let message = match (timeline.before(k, rev), &e.prev) {
            (Some(_), Value::Nil) if self.compacted_before(e) => return,
            (Some(v), Value::Nil) => {
                format!("{name} got {k} at revision {rev} with no previous value, where it was {v}")
            }
            (Some(v), p) if p != v => {
                format!("{name} got {k} at revision {rev} with previous value {p}, where it was {v}")
            }
            (None, p) if !p.is_nil() => {
                format!("{name} got {k} at revision {rev} with previous value {p}, where {k} did not exist")
            }
            _ => return,
        };
        self.flag(WatchViolationKind::PrevKv, message, vec![e.op]);
    }

    /// A compaction at or past `e`'s revision, made before the op that delivered it ended.
    fn compacted_before(&self, e: &Event) -> bool {
        self.cx
            .compactions
            .iter()
            .any(|c| c.revision >= e.revision && c.index < e.op)
    }

    /// Atomic: a revision's events (a transaction's keys) in one response.
    /// Only each event's first delivery counts: one delivered again is a
    /// duplicate (unique), not a revision split.
    fn atomic(&mut self) {
        let mut responses: BTreeMap<i64, BTreeMap<i64, u64>> = BTreeMap::new();
        let mut seen: BTreeSet<(i64, &Value)> = BTreeSet::new();
        for e in self.stream.events() {
            if !seen.insert((e.revision, &e.key)) {
                continue;
            }
            if let Some(r) = e.response {
                responses.entry(e.revision).or_default().entry(r).or_insert(e.op);
            }
        }
        let name = self.name;
        for (rev, rs) in responses.iter().filter(|(_, rs)| rs.len() > 1) {
            let numbers: Vec<String> = rs.keys().map(i64::to_string).collect();
            let ops: BTreeSet<u64> = rs.values().copied().collect();
            self.flag(
                WatchViolationKind::Split,
                format!(
                    "{name} got the events of revision {rev} in {} watch responses ({})",
                    rs.len(),
                    numbers.join(", ")
                ),
                ops.into_iter().collect(),
            );
        }
    }

    /// Reliable (and, before an opened stream's first event, resumable):
    /// every acknowledged change of a watched key in a range the stream
    /// promised complete was delivered in it.
    fn coverage(&mut self) {
        let stream = self.stream;
        let maps = stream.shape == Shape::Maps;
        let delivered: BTreeSet<(i64, Option<&Value>)> =
            stream.events().map(|e| (e.revision, maps.then_some(&e.key))).collect();
        let first = stream.events().next().map(|e| e.revision);
        for span in stream.spans.iter().filter(|s| s.from <= s.top) {
            for c in self.cx.writes.within(span.from..=span.top) {
                let rev = c.revision.unwrap_or_default();
                if !stream.watches(&c.key) || delivered.contains(&(rev, maps.then_some(&c.key))) || self.no_change(c) {
                    continue;
                }
                let (name, (k, v)) = (self.name, (&c.key, &c.value));
                match first {
                    Some(f) if stream.opened && rev < f => self.flag(
                        WatchViolationKind::Skipped,
                        format!(
                            "{name} opened a watch at revision {} whose first event is at revision {f}: it never got {k} = {v} (revision {rev})",
                            stream.from
                        ),
                        vec![c.index, span.op],
                    ),
                    _ => self.flag(
                        WatchViolationKind::Gap,
                        format!(
                            "{name} watched revisions {} to {} but never got {k} = {v} (revision {rev})",
                            span.from, span.top
                        ),
                        vec![c.index, span.op],
                    ),
                }
            }
        }
    }

    /// A transaction's delete of a key that did not exist: it changed
    /// nothing, and no watcher gets an event of it.
    fn no_change(&self, c: &Change) -> bool {
        c.txn
            && c.value.is_nil()
            && self
                .cx
                .timeline
                .before(&c.key, c.revision.unwrap_or_default())
                .is_none()
    }

    /// Written: a stream caught up ends with each key's final value.
    fn finals(&mut self) {
        let mut seen = BTreeMap::new();
        for e in self.stream.events() {
            seen.insert(&e.key, (&e.value, e.revision, e.op));
        }
        stale_finals(self.name, &seen, self.cx.finals, self.violations);
    }
}
