//! The watch checker on hand-built watch histories: etcd streams (a clean one,
//! and each kind of violation it must catch: a gap, a duplicate, a reorder, a
//! wrong value, a phantom event, a stale final state, with a compaction's
//! skipped range allowed), and ZooKeeper/Consul-style notified read-backs (a
//! clean one that skips states, and an older state, an index going back, a
//! value nobody wrote, a wrong value, a vanished key, a stale final state);
//! then etcd streams in the map shape, with transactions, progress
//! notifications, creation marks, previous values and member hashes: a clean
//! history with every kind of watcher, and each property broken and caught.

use checkers::watch::WatchViolationKind;
use checkers::{F, History, Op, Process, Type, Value, Verdict, WatchReport, check_watch};

#[derive(Default)]
struct Script {
    ops: Vec<Op>,
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

fn ev(key: &str, value: Option<i64>, rev: i64) -> Value {
    Value::list(vec![Value::str(key), value.map_or(Value::Nil, int), int(rev)])
}

impl Script {
    fn push(&mut self, process: u64, kind: Type, f: &str, key: &str, value: Value) {
        let n = self.ops.len() as u64;
        let mut op = Op::new(Process::Client(process), kind, F::parse(f), value).with_key(Value::str(key));
        op.index = n;
        op.time = Some(n * 1_000_000);
        op.line = n as u32 + 1;
        self.ops.push(op);
    }

    /// An acknowledged put (or delete, `None`) of `key` at `rev`.
    fn write(&mut self, key: &str, value: Option<i64>, rev: i64) {
        let f = if value.is_some() { "write" } else { "delete" };
        let v = value.map_or(Value::Nil, int);
        self.push(1, Type::Invoke, f, key, v.clone());
        self.push(1, Type::Ok, f, key, Value::list(vec![v, int(rev)]));
    }

    fn watch(&mut self, node: &str, from: i64, events: Vec<Value>) {
        self.push(9, Type::Invoke, "watch", node, Value::list(vec![int(from)]));
        self.push(
            9,
            Type::Ok,
            "watch",
            node,
            Value::list(vec![int(from), Value::list(events)]),
        );
    }

    /// A `notify` op: the states read back, and the server's indexes.
    fn notify(&mut self, node: &str, events: Vec<Value>, indexes: &[i64]) {
        self.push(9, Type::Invoke, "notify", node, Value::list(vec![int(0)]));
        let mut done = vec![int(0), Value::list(events)];
        if !indexes.is_empty() {
            done.push(Value::list(indexes.iter().copied().map(int).collect()));
        }
        self.push(9, Type::Ok, "notify", node, Value::list(done));
    }

    fn compacted(&mut self, node: &str, from: i64, at: i64) {
        self.push(9, Type::Invoke, "watch", node, Value::list(vec![int(from)]));
        self.push(9, Type::Fail, "watch", node, Value::list(vec![int(from), int(at)]));
    }

    fn final_read(&mut self, key: &str, value: Option<i64>, rev: i64) {
        self.push(2, Type::Invoke, "read", key, Value::Nil);
        self.push(
            2,
            Type::Ok,
            "read",
            key,
            Value::list(vec![value.map_or(Value::Nil, int), int(rev)]),
        );
    }

    fn check(&self) -> WatchReport {
        check_watch(&History::new(self.ops.clone())).expect("well-formed")
    }

    /// A map-shaped watch op of `node` that opens a stream at `from`, asking
    /// what `ask` says beyond its start, and receives `items`.
    fn open(&mut self, node: &str, from: i64, ask: &[(&str, Value)], items: Vec<Value>) {
        let mut invoke = vec![("from", int(from)), ("open", Value::Bool(true))];
        invoke.extend(ask.iter().cloned());
        self.push(9, Type::Invoke, "watch", node, map(&invoke));
        self.received(node, from, items);
    }

    /// A map-shaped watch op of `node` that carries its stream on from `from`.
    fn carry(&mut self, node: &str, from: i64, items: Vec<Value>) {
        let invoke = map(&[("from", int(from)), ("open", Value::Bool(false))]);
        self.push(9, Type::Invoke, "watch", node, invoke);
        self.received(node, from, items);
    }

    fn received(&mut self, node: &str, from: i64, items: Vec<Value>) {
        let done = map(&[("from", int(from)), ("events", Value::list(items))]);
        self.push(9, Type::Ok, "watch", node, done);
    }

    /// A map-shaped watch that etcd refused: its start was compacted at `at`.
    fn refused(&mut self, node: &str, from: i64, ask: &[(&str, Value)], at: i64) {
        let mut invoke = vec![("from", int(from)), ("open", Value::Bool(true))];
        invoke.extend(ask.iter().cloned());
        self.push(9, Type::Invoke, "watch", node, map(&invoke));
        let done = map(&[("from", int(from)), ("compacted", int(at))]);
        self.push(9, Type::Fail, "watch", node, done);
    }

    /// An acknowledged transaction: every pair at `rev`.
    fn txn(&mut self, pairs: &[(&str, Option<i64>)], rev: i64) {
        self.push(1, Type::Invoke, "txn", "", txn_pairs(pairs));
        self.push(1, Type::Ok, "txn", "", Value::list(vec![txn_pairs(pairs), int(rev)]));
        let n = self.ops.len();
        for op in &mut self.ops[n - 2..] {
            op.key = None;
        }
    }

    /// A write of unknown outcome (`f` write, delete or txn) by process 3.
    fn unknown(&mut self, f: &str, key: &str, value: Value) {
        self.push(3, Type::Invoke, f, key, value.clone());
        self.push(3, Type::Info, f, key, value);
    }

    /// The nemesis compacted at `rev`, as ours says it.
    fn compact(&mut self, rev: i64) {
        let text = format!("n1: at revision {rev} of {}; a read at {} is refused", rev + 2, rev - 1);
        let mut op = Op::new(Process::Nemesis, Type::Info, F::parse("compact"), Value::str(&text));
        op.index = self.ops.len() as u64;
        self.ops.push(op);
    }

    /// Member `member`'s hash at `rev`.
    fn hash(&mut self, member: &str, rev: i64, hash: i64, compacted: i64) {
        self.push(2, Type::Invoke, "hash", member, int(rev));
        let answer = map(&[
            ("revision", int(rev)),
            ("hash", int(hash)),
            ("compact_revision", int(compacted)),
        ]);
        self.push(2, Type::Ok, "hash", member, answer);
    }
}

fn map(fields: &[(&str, Value)]) -> Value {
    Value::Map(fields.iter().map(|(k, v)| (Value::str(k), v.clone())).collect())
}

fn txn_pairs(pairs: &[(&str, Option<i64>)]) -> Value {
    Value::list(
        pairs
            .iter()
            .map(|(k, v)| Value::list(vec![Value::str(k), v.map_or(Value::Nil, int)]))
            .collect(),
    )
}

/// A map-shaped put event: `[key value revision response create prev]`.
fn put(key: &str, value: i64, rev: i64, response: i64, create: bool, prev: Option<i64>) -> Value {
    let prev = prev.map_or(Value::Nil, int);
    Value::list(vec![
        Value::str(key),
        int(value),
        int(rev),
        int(response),
        Value::Bool(create),
        prev,
    ])
}

/// A map-shaped delete event.
fn del(key: &str, rev: i64, response: i64, prev: Option<i64>) -> Value {
    let prev = prev.map_or(Value::Nil, int);
    Value::list(vec![
        Value::str(key),
        Value::Nil,
        int(rev),
        int(response),
        Value::Nil,
        prev,
    ])
}

fn progress(rev: i64, response: i64, requested: bool) -> Value {
    map(&[
        ("progress", int(rev)),
        ("response", int(response)),
        ("requested", Value::Bool(requested)),
    ])
}

/// k1 = 1 (rev 2), k2 = 5 (rev 3), k1 deleted (rev 4), k2 = 6 (rev 5).
fn writes() -> Script {
    let mut s = Script::default();
    s.write("k1", Some(1), 2);
    s.write("k2", Some(5), 3);
    s.write("k1", None, 4);
    s.write("k2", Some(6), 5);
    s.final_read("k1", None, 5);
    s.final_read("k2", Some(6), 5);
    s
}

fn kinds(r: &WatchReport) -> Vec<WatchViolationKind> {
    r.violations.iter().map(|v| v.kind).collect()
}

#[test]
fn every_change_in_order_once_is_valid() {
    let mut s = writes();
    s.watch("n1", 2, vec![ev("k1", Some(1), 2), ev("k2", Some(5), 3)]);
    s.watch("n1", 4, vec![]);
    s.watch("n1", 4, vec![ev("k1", None, 4), ev("k2", Some(6), 5)]);
    let r = s.check();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_text());
    assert_eq!(r.watchers[0].events, 4);
    assert!(r.watchers[0].caught_up);
}

#[test]
fn a_missed_change_is_a_gap() {
    let mut s = writes();
    s.watch(
        "n1",
        2,
        vec![ev("k1", Some(1), 2), ev("k1", None, 4), ev("k2", Some(6), 5)],
    );
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::Gap], "{}", r.to_text());
    assert!(
        r.violations[0].message.contains("never got k2 = 5 (revision 3)"),
        "{}",
        r.violations[0].message
    );
}

#[test]
fn a_compacted_range_is_no_gap() {
    let mut s = writes();
    s.compacted("n1", 2, 4);
    s.watch("n1", 4, vec![ev("k1", None, 4), ev("k2", Some(6), 5)]);
    let r = s.check();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_text());
    assert_eq!(r.watchers[0].compacted, [[2, 4]]);
}

#[test]
fn a_change_delivered_twice_is_a_duplicate() {
    let mut s = writes();
    s.watch("n1", 2, vec![ev("k1", Some(1), 2), ev("k2", Some(5), 3)]);
    // resumed from the revision it had already seen, not the next one
    s.watch(
        "n1",
        3,
        vec![ev("k2", Some(5), 3), ev("k1", None, 4), ev("k2", Some(6), 5)],
    );
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::Duplicate], "{}", r.to_text());
}

#[test]
fn an_older_change_after_a_newer_one_is_a_reorder() {
    let mut s = writes();
    s.watch(
        "n1",
        2,
        vec![
            ev("k1", Some(1), 2),
            ev("k1", None, 4),
            ev("k2", Some(5), 3),
            ev("k2", Some(6), 5),
        ],
    );
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::Reorder], "{}", r.to_text());
}

#[test]
fn an_event_unlike_its_write_is_a_wrong_value_and_one_nobody_wrote_a_phantom() {
    let mut s = writes();
    s.watch(
        "n1",
        2,
        vec![
            ev("k1", Some(1), 2),
            ev("k2", Some(9), 3),
            ev("k1", None, 4),
            ev("k2", Some(6), 5),
            ev("k3", Some(1), 6),
        ],
    );
    let r = s.check();
    assert_eq!(
        kinds(&r),
        [WatchViolationKind::WrongValue, WatchViolationKind::Phantom],
        "{}",
        r.to_text()
    );
    assert!(
        r.violations[0]
            .message
            .contains("k2 = 9 at revision 3, where the write was k2 = 5")
    );
}

#[test]
fn a_watcher_behind_the_final_reads_is_not_judged_on_them() {
    let mut s = writes();
    s.final_read("k2", Some(7), 6);
    s.watch(
        "n1",
        2,
        vec![
            ev("k1", Some(1), 2),
            ev("k2", Some(5), 3),
            ev("k1", None, 4),
            ev("k2", Some(6), 5),
        ],
    );
    let r = s.check();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_text());
    assert!(!r.watchers[0].caught_up);
}

#[test]
fn an_unknown_write_seen_by_a_watcher_is_no_phantom() {
    let mut s = writes();
    s.push(3, Type::Invoke, "write", "k3", int(7));
    s.push(3, Type::Info, "write", "k3", int(7));
    s.watch(
        "n1",
        2,
        vec![
            ev("k1", Some(1), 2),
            ev("k2", Some(5), 3),
            ev("k1", None, 4),
            ev("k2", Some(6), 5),
            ev("k3", Some(7), 6),
        ],
    );
    let r = s.check();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_text());
}

#[test]
fn a_caught_up_watcher_whose_last_value_is_not_the_final_is_stale() {
    let mut s = writes();
    // the final read, at the same revision, disagrees with what the watch delivered
    s.final_read("k2", Some(7), 5);
    s.watch(
        "n1",
        2,
        vec![
            ev("k1", Some(1), 2),
            ev("k2", Some(5), 3),
            ev("k1", None, 4),
            ev("k2", Some(6), 5),
        ],
    );
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::StaleFinal], "{}", r.to_text());
}

/// As ZooKeeper tells them: k1 = 1 (zxid 2), k2 = 5 (3), k1 deleted (4, a
/// revision the delete's answer does not name), k2 = 6 (5); the final reads
/// name each key's last zxid.
fn notified_writes() -> Script {
    let mut s = Script::default();
    s.write("k1", Some(1), 2);
    s.write("k2", Some(5), 3);
    s.push(1, Type::Invoke, "delete", "k1", Value::Nil);
    s.push(1, Type::Ok, "delete", "k1", Value::list(vec![Value::Nil, Value::Nil]));
    s.write("k2", Some(6), 5);
    s.final_read("k1", None, 4);
    s.final_read("k2", Some(6), 5);
    s
}

#[test]
fn notified_states_that_skip_but_never_go_back_are_valid() {
    let mut s = notified_writes();
    // one watcher sees every state, the other skips k2 = 5 and k1 = 1
    s.notify("n1", vec![ev("k1", Some(1), 2), ev("k2", Some(5), 3)], &[3]);
    s.notify("n1", vec![ev("k1", None, 4)], &[4]);
    s.notify("n1", vec![ev("k2", Some(6), 5)], &[5, 5]);
    s.notify(
        "n2",
        vec![ev("k1", None, 1), ev("k2", Some(6), 5), ev("k1", None, 4)],
        &[],
    );
    let r = s.check();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_text());
    assert!(r.watchers.iter().all(|w| w.caught_up && w.kind == "notify"));
    assert!(r.to_text().contains("none older than one it had seen"));
}

#[test]
fn an_older_state_or_an_index_going_back_is_caught() {
    let mut s = notified_writes();
    s.notify("n1", vec![ev("k2", Some(6), 5)], &[5]);
    s.notify("n1", vec![ev("k2", Some(5), 3)], &[3]);
    let r = s.check();
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(kinds(&r), vec![WatchViolationKind::Older, WatchViolationKind::Older]);
    let msgs: Vec<&str> = r.violations.iter().map(|v| v.message.as_str()).collect();
    assert!(msgs[0].contains("index 3 after 5"), "{msgs:?}");
    assert!(
        msgs[1].contains("k2 = 5 at revision 3 after 6 at revision 5"),
        "{msgs:?}"
    );
    // the two notify ops (invoke/ok pairs after the 12 ops of the writes and reads)
    assert_eq!(r.violations[1].ops, vec![13, 15]);
}

#[test]
fn a_notified_value_nobody_wrote_or_at_the_wrong_revision_is_caught() {
    let mut s = notified_writes();
    s.notify("n1", vec![ev("k2", Some(7), 6)], &[]);
    s.notify("n2", vec![ev("k2", Some(5), 5)], &[]);
    let r = s.check();
    // n2 also ends caught up on its wrong value
    use WatchViolationKind::*;
    assert_eq!(kinds(&r), vec![Phantom, WrongValue, StaleFinal]);
    assert!(r.violations[1].message.contains("where the write made 6 at revision 5"));
}

#[test]
fn a_key_gone_without_a_delete_is_a_phantom() {
    let mut s = notified_writes();
    s.notify("n1", vec![ev("k2", Some(6), 5)], &[]);
    s.notify("n1", vec![ev("k2", None, 6)], &[]);
    let r = s.check();
    assert_eq!(kinds(&r), vec![WatchViolationKind::Phantom]);
    assert!(r.violations[0].message.contains("no delete of it was written"));
}

#[test]
fn a_caught_up_notified_watcher_with_a_stale_value_is_caught() {
    let mut s = notified_writes();
    s.notify("n1", vec![ev("k1", Some(1), 2), ev("k2", Some(6), 5)], &[]);
    let r = s.check();
    assert_eq!(kinds(&r), vec![WatchViolationKind::StaleFinal]);
}

#[test]
fn a_change_landing_after_the_final_reads_is_no_stale_final() {
    // a write whose client gave up lands after the final reads: k2 = 7 at 6
    let mut s = notified_writes();
    s.push(3, Type::Invoke, "write", "k2", int(7));
    s.push(3, Type::Info, "write", "k2", int(7));
    s.notify("n1", vec![ev("k1", None, 4), ev("k2", Some(7), 6)], &[]);
    let r = s.check();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_text());
}

#[test]
fn going_back_after_the_server_restarted_is_counted_not_flagged() {
    let mut s = notified_writes();
    s.notify("n1", vec![ev("k2", Some(6), 5)], &[5]);
    // n1 is killed and restarted; it answers from an older snapshot, then catches up
    let mut kill = Op::new(Process::Nemesis, Type::Info, F::parse("kill"), Value::str("n1"));
    kill.index = s.ops.len() as u64;
    s.ops.push(kill);
    s.notify("n1", vec![ev("k2", Some(5), 3)], &[3]);
    s.notify("n1", vec![ev("k2", Some(6), 5)], &[5]);
    // n2 was not restarted: the same going back is caught
    s.notify("n2", vec![ev("k2", Some(6), 5)], &[5]);
    s.notify("n2", vec![ev("k2", Some(5), 3)], &[3]);
    s.notify("n2", vec![ev("k2", Some(6), 5)], &[5]);
    let r = s.check();
    assert_eq!(kinds(&r), vec![WatchViolationKind::Older, WatchViolationKind::Older]);
    assert!(r.violations.iter().all(|v| v.watcher == "n2"));
    assert_eq!(r.watchers[0].back_after_restart, 1);
    assert!(
        r.to_text().contains("after 1 of its server's restarts"),
        "{}",
        r.to_text()
    );
}

/// As etcd tells them: k1 = 1 (rev 2), k2 = 5 (3), a transaction of k1 = 2
/// and k2 = 6 (4), k1 deleted (5), k1 = 3 (6); final reads at 6.
fn etcd_writes() -> Script {
    let mut s = Script::default();
    s.write("k1", Some(1), 2);
    s.write("k2", Some(5), 3);
    s.txn(&[("k1", Some(2)), ("k2", Some(6))], 4);
    s.write("k1", None, 5);
    s.write("k1", Some(3), 6);
    s.final_read("k1", Some(3), 6);
    s.final_read("k2", Some(6), 6);
    s
}

/// The events of revision `rev` of [`etcd_writes`] in watch response
/// `response`, with previous values where `prev_kv`.
fn at(rev: i64, response: i64, prev_kv: bool) -> Vec<Value> {
    let p = |v: i64| prev_kv.then_some(v);
    match rev {
        2 => vec![put("k1", 1, 2, response, true, None)],
        3 => vec![put("k2", 5, 3, response, true, None)],
        4 => vec![
            put("k1", 2, 4, response, false, p(1)),
            put("k2", 6, 4, response, false, p(5)),
        ],
        5 => vec![del("k1", 5, response, p(2))],
        6 => vec![put("k1", 3, 6, response, true, None)],
        _ => vec![],
    }
}

/// Revisions `revs` of [`etcd_writes`], each in a response of its own from `response`.
fn revisions(revs: std::ops::RangeInclusive<i64>, response: i64, prev_kv: bool) -> Vec<Value> {
    revs.enumerate()
        .flat_map(|(i, rev)| at(rev, response + i as i64, prev_kv))
        .collect()
}

fn start(how: &str) -> (&'static str, Value) {
    ("start", Value::str(how))
}

fn yes(field: &'static str) -> (&'static str, Value) {
    (field, Value::Bool(true))
}

fn property(r: &WatchReport, watcher: &str, property: &str) -> &'static str {
    let w = r.watchers.iter().find(|w| w.watcher == watcher).expect("the watcher");
    w.properties[property]
}

#[test]
fn a_clean_etcd_history_with_every_kind_of_watcher_is_valid() {
    let mut s = etcd_writes();
    s.compact(4);
    // now: from the revision after the current, over two ops of one stream
    s.open("now@n1", 2, &[start("now")], revisions(2..=4, 1, false));
    s.carry("now@n1", 5, revisions(5..=6, 4, false));
    s.open("first@n2", 1, &[start("first")], revisions(2..=6, 1, false));
    // past: refused below the compaction, resumed from it
    let past = [start("past"), ("offset", int(-4))];
    s.refused("past@n3", 2, &past, 4);
    s.open("past@n3", 4, &past, revisions(4..=6, 1, false));
    s.open("compaction@n1", 4, &[start("compaction")], revisions(4..=6, 1, false));
    s.open(
        "future@n2",
        5,
        &[start("future"), ("offset", int(1))],
        revisions(5..=6, 1, false),
    );
    let mut k2 = at(3, 1, false);
    k2.extend(vec![put("k2", 6, 4, 2, false, None), progress(6, 3, true)]);
    s.open("k2@n3", 2, &[start("now"), ("key", Value::str("k2"))], k2);
    s.open("prev@n1", 2, &[start("now"), yes("prev_kv")], revisions(2..=6, 1, true));
    let mut bookmarked = revisions(2..=4, 1, false);
    bookmarked.push(progress(4, 4, false));
    bookmarked.extend(revisions(5..=6, 5, false));
    bookmarked.push(progress(6, 7, true));
    s.open("progress@n2", 2, &[start("now"), yes("progress_notify")], bookmarked);
    s.hash("n1", 6, 77, 4);
    s.hash("n2", 6, 77, 4);
    s.hash("n3", 6, 77, 4);
    let r = s.check();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_text());
    assert_eq!(r.writes_ok, 6);
    assert!(r.watchers.iter().all(|w| w.caught_up), "{}", r.to_text());
    let past = r.watchers.iter().find(|w| w.watcher == "past@n3").unwrap();
    assert_eq!((past.start.as_deref(), past.offset), (Some("past"), Some(-4)));
    assert_eq!(past.compacted, [[2, 4]]);
    let progressed = r.watchers.iter().find(|w| w.watcher == "progress@n2").unwrap();
    assert_eq!(
        (progressed.progress, progressed.progress_requested, progressed.responses),
        (2, 1, 7)
    );
    assert_eq!(property(&r, "progress@n2", "bookmarkable"), "held");
    assert_eq!(property(&r, "now@n1", "bookmarkable"), "n/a");
    assert_eq!(property(&r, "k2@n3", "filter"), "held");
    assert_eq!(property(&r, "now@n1", "filter"), "n/a");
    assert_eq!(property(&r, "prev@n1", "prev-kv"), "held");
    assert_eq!(property(&r, "now@n1", "prev-kv"), "n/a");
    assert_eq!(property(&r, "now@n1", "atomic"), "held");
    assert_eq!(r.hashes.len(), 3);
    assert!(r.to_text().contains("the members' hashes agree"), "{}", r.to_text());
}

#[test]
fn a_list_shaped_watcher_cannot_exercise_the_map_shaped_properties() {
    let mut s = writes();
    s.watch("n1", 2, vec![ev("k1", Some(1), 2), ev("k2", Some(5), 3)]);
    let r = s.check();
    for p in [
        "atomic",
        "resumable",
        "is-create",
        "prev-kv",
        "bookmarkable",
        "filter",
        "latest",
    ] {
        assert_eq!(property(&r, "n1", p), "n/a", "{p}");
    }
    assert_eq!(property(&r, "n1", "reliable"), "held");
}

#[test]
fn an_older_revision_after_a_newer_in_a_stream_is_a_reorder() {
    let mut s = etcd_writes();
    let mut events = revisions(2..=6, 1, false);
    events.swap(0, 1);
    s.open("n1", 2, &[], events);
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::Reorder], "{}", r.to_text());
    assert_eq!(r.violations[0].property, "ordered");
    assert_eq!(property(&r, "n1", "ordered"), "broken");
    assert_eq!(property(&r, "n1", "unique"), "held");
}

#[test]
fn a_change_twice_in_a_stream_is_a_duplicate() {
    let mut s = etcd_writes();
    let mut events = revisions(2..=6, 1, false);
    // k1 of the transaction again, in the same response
    events.insert(3, put("k1", 2, 4, 3, false, None));
    s.open("n1", 2, &[], events);
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::Duplicate], "{}", r.to_text());
    assert_eq!(r.violations[0].property, "unique");
}

#[test]
fn a_txn_revision_split_across_two_responses_is_caught() {
    let mut s = etcd_writes();
    let mut events = revisions(2..=3, 1, false);
    events.extend([put("k1", 2, 4, 3, false, None), put("k2", 6, 4, 4, false, None)]);
    events.extend(revisions(5..=6, 5, false));
    s.open("n1", 2, &[], events);
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::Split], "{}", r.to_text());
    assert_eq!(r.violations[0].property, "atomic");
    assert!(
        r.violations[0]
            .message
            .contains("revision 4 in 2 watch responses (3, 4)")
    );
}

#[test]
fn a_txn_revision_across_two_ops_of_one_response_is_no_split() {
    let mut s = etcd_writes();
    let mut events = revisions(2..=3, 1, false);
    events.push(put("k1", 2, 4, 3, false, None));
    s.open("n1", 2, &[], events);
    let mut rest = vec![put("k2", 6, 4, 3, false, None)];
    rest.extend(revisions(5..=6, 4, false));
    s.carry("n1", 4, rest);
    let r = s.check();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_text());
}

/// etcd #15271 (seen here on 3.4.23 and 3.3.25): a member that catches up by
/// snapshot sends its watchers events they had, from where they were synced.
#[test]
fn a_stream_that_travels_back_in_time_is_duplicates_and_a_bookmark_not_a_split() {
    let mut s = etcd_writes();
    let mut events = revisions(2..=6, 1, false);
    events.push(progress(6, 6, true));
    // replayed from revision 4 on, in responses of their own
    events.extend(revisions(4..=6, 7, false));
    s.open("n1", 2, &[], events);
    let r = s.check();
    let found = kinds(&r);
    assert!(found.contains(&WatchViolationKind::Duplicate), "{}", r.to_text());
    assert!(found.contains(&WatchViolationKind::Bookmark), "{}", r.to_text());
    assert!(!found.contains(&WatchViolationKind::Split), "{}", r.to_text());
    assert_eq!(property(&r, "n1", "atomic"), "held");
}

#[test]
fn a_change_missed_below_a_progress_notification_is_a_gap() {
    let mut s = etcd_writes();
    // k2 = 5 (3) never sent, k1 deleted (5) never sent, though progress said 5
    let mut events = revisions(2..=2, 1, false);
    events.extend(revisions(4..=4, 2, false));
    events.push(progress(5, 3, true));
    s.open("n1", 2, &[], events);
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::Gap; 2], "{}", r.to_text());
    assert!(r.violations[0].message.contains("never got k2 = 5 (revision 3)"));
    assert!(r.violations[1].message.contains("never got k1 = nil (revision 5)"));
    // a missing key of a transaction is a gap too
    let mut s = etcd_writes();
    let mut events = revisions(2..=3, 1, false);
    events.push(put("k1", 2, 4, 3, false, None));
    events.extend(revisions(5..=6, 4, false));
    s.open("n1", 2, &[], events);
    let r = s.check();
    // and it ended caught up with k2 = 5
    use WatchViolationKind::*;
    assert_eq!(kinds(&r), [Gap, StaleFinal], "{}", r.to_text());
    assert!(r.violations[0].message.contains("never got k2 = 6 (revision 4)"));
}

#[test]
fn a_filtered_watcher_owes_only_its_key() {
    let mut s = etcd_writes();
    s.open(
        "n1",
        2,
        &[("key", Value::str("k2"))],
        vec![put("k2", 6, 4, 1, false, None)],
    );
    let r = s.check();
    // k2 = 5 (3) lay before its first event: skipped, not owed k1's changes
    assert_eq!(kinds(&r), [WatchViolationKind::Skipped], "{}", r.to_text());
}

#[test]
fn a_stream_opened_at_the_compaction_that_skips_its_change_is_caught() {
    let mut s = etcd_writes();
    s.compact(4);
    s.open("n1", 4, &[start("compaction")], revisions(5..=6, 1, false));
    let r = s.check();
    assert_eq!(
        kinds(&r),
        [WatchViolationKind::Skipped, WatchViolationKind::Skipped],
        "{}",
        r.to_text()
    );
    assert_eq!(r.violations[0].property, "resumable");
    assert!(
        r.violations[0]
            .message
            .contains("opened a watch at revision 4 whose first event is at revision 5: it never got k1 = 2"),
        "{}",
        r.violations[0].message
    );
}

#[test]
fn a_future_watch_with_an_event_before_its_start_is_caught() {
    let mut s = etcd_writes();
    s.open(
        "n1",
        5,
        &[start("future"), ("offset", int(2))],
        revisions(4..=6, 1, false),
    );
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::BeforeStart; 2], "{}", r.to_text());
    assert!(r.violations[0].message.contains("below 5 where its watch started"));
}

#[test]
fn an_event_at_or_below_a_progress_notification_is_caught() {
    let mut s = etcd_writes();
    let mut events = revisions(2..=3, 1, false);
    events.push(progress(4, 3, true));
    events.extend(revisions(4..=6, 4, false));
    s.open("n1", 2, &[], events);
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::Bookmark; 2], "{}", r.to_text());
    assert_eq!(r.violations[0].property, "bookmarkable");
    assert!(
        r.violations[0]
            .message
            .contains("after a progress notification at revision 4")
    );
}

#[test]
fn a_progress_notification_going_down_is_caught() {
    let mut s = etcd_writes();
    let mut events = revisions(2..=6, 1, false);
    events.extend([progress(6, 6, false), progress(5, 7, true)]);
    s.open("n1", 2, &[yes("progress_notify")], events);
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::Bookmark], "{}", r.to_text());
    assert!(
        r.violations[0]
            .message
            .contains("at revision 5 after one at revision 6")
    );
}

#[test]
fn an_event_of_a_key_not_asked_for_is_caught() {
    let mut s = etcd_writes();
    s.open(
        "n1",
        3,
        &[("key", Value::str("k2"))],
        vec![
            put("k2", 5, 3, 1, true, None),
            put("k1", 2, 4, 2, false, None),
            put("k2", 6, 4, 2, false, None),
        ],
    );
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::Unasked], "{}", r.to_text());
    assert_eq!(r.violations[0].property, "filter");
}

#[test]
fn a_wrong_creation_mark_is_caught() {
    let mut s = etcd_writes();
    let mut events = revisions(2..=5, 1, false);
    // k1 = 2 (4) is an update, k1 = 3 (6) a creation after the delete
    events[2] = put("k1", 2, 4, 3, true, None);
    events.push(put("k1", 3, 6, 5, false, None));
    s.open("n1", 2, &[], events);
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::IsCreate; 2], "{}", r.to_text());
    assert_eq!(r.violations[0].property, "is-create");
    assert!(
        r.violations[0]
            .message
            .contains("marked a creation, but k1 was 1 before it")
    );
    assert!(
        r.violations[1]
            .message
            .contains("not marked a creation, but k1 did not exist")
    );
}

#[test]
fn a_wrong_or_missing_previous_value_is_caught() {
    let mut s = etcd_writes();
    let mut events = revisions(2..=6, 1, true);
    events[2] = put("k1", 2, 4, 3, false, Some(7));
    events[4] = del("k1", 5, 4, None);
    events[5] = put("k1", 3, 6, 5, true, Some(2));
    s.open("n1", 2, &[yes("prev_kv")], events);
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::PrevKv; 3], "{}", r.to_text());
    assert_eq!(r.violations[0].property, "prev-kv");
    let msgs: Vec<&str> = r.violations.iter().map(|v| v.message.as_str()).collect();
    assert!(msgs[0].contains("with previous value 7, where it was 1"), "{msgs:?}");
    assert!(msgs[1].contains("with no previous value, where it was 2"), "{msgs:?}");
    assert!(
        msgs[2].contains("with previous value 2, where k1 did not exist"),
        "{msgs:?}"
    );
}

#[test]
fn a_missing_previous_value_at_a_compacted_revision_is_allowed() {
    let mut s = etcd_writes();
    s.compact(4);
    let mut events = revisions(4..=6, 1, true);
    events[0] = put("k1", 2, 4, 1, false, None);
    s.open("n1", 4, &[yes("prev_kv")], events.clone());
    let r = s.check();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_text());
    // not below a compaction at 3, nor before the compaction was made
    let mut s = etcd_writes();
    s.compact(3);
    s.open("n1", 4, &[yes("prev_kv")], events.clone());
    s.compact(4);
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::PrevKv], "{}", r.to_text());
}

#[test]
fn an_unknown_txns_events_are_no_phantoms() {
    let mut s = etcd_writes();
    s.unknown("txn", "", txn_pairs(&[("k1", Some(8)), ("k3", Some(9))]));
    let mut events = revisions(2..=6, 1, true);
    events.extend([put("k1", 8, 7, 6, false, Some(3)), put("k3", 9, 7, 6, true, None)]);
    s.open("n1", 2, &[yes("prev_kv")], events.clone());
    s.open("n2", 2, &[yes("prev_kv")], events);
    let r = s.check();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_text());
}

#[test]
fn watchers_that_disagree_on_an_unknown_write_are_caught() {
    let mut s = etcd_writes();
    s.unknown("write", "k3", int(9));
    s.unknown("write", "k3", int(10));
    let mut events = revisions(2..=6, 1, false);
    events.push(put("k3", 9, 7, 6, true, None));
    s.open("n1", 2, &[], events);
    let mut events = revisions(2..=6, 1, false);
    events.push(put("k3", 10, 7, 6, true, None));
    s.open("n2", 2, &[], events);
    let r = s.check();
    assert_eq!(kinds(&r), [WatchViolationKind::WrongValue], "{}", r.to_text());
    assert_eq!(r.violations[0].property, "written");
    assert!(
        r.violations[0]
            .message
            .contains("n2 got k3 = 10 at revision 7, where n1 got k3 = 9")
    );
}

#[test]
fn an_unknown_write_no_event_showed_leaves_its_key_unjudged() {
    // k2 may have been deleted (unknown) before it was put again at 8: a
    // watcher that started at 8 cannot tell, nor can the checker
    let mut s = etcd_writes();
    s.unknown("delete", "k2", Value::Nil);
    s.write("k2", Some(7), 8);
    s.open("n1", 8, &[yes("prev_kv")], vec![put("k2", 7, 8, 1, true, None)]);
    let r = s.check();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_text());
    // where no unknown write could explain it, the same events are caught
    let mut s = etcd_writes();
    s.write("k2", Some(7), 8);
    s.open("n1", 8, &[yes("prev_kv")], vec![put("k2", 7, 8, 1, true, None)]);
    let r = s.check();
    use WatchViolationKind::*;
    assert_eq!(kinds(&r), [IsCreate, PrevKv], "{}", r.to_text());
    // a stream that started before the unknown delete would have shown it
    // (it came after revision 6, acknowledged before it): judged
    let mut s = etcd_writes();
    s.unknown("delete", "k2", Value::Nil);
    s.write("k2", Some(7), 8);
    let mut events = revisions(2..=6, 1, true);
    events.push(put("k2", 7, 8, 6, true, None));
    s.open("n1", 2, &[yes("prev_kv")], events);
    let r = s.check();
    assert_eq!(kinds(&r), [IsCreate, PrevKv], "{}", r.to_text());
}

#[test]
fn members_hashes_that_differ_are_caught_and_equal_ones_valid() {
    let mut s = etcd_writes();
    s.open("n1", 2, &[], revisions(2..=6, 1, false));
    s.hash("n1", 6, 77, 4);
    s.hash("n2", 6, 77, 4);
    s.hash("n3", 6, 78, 4);
    s.hash("n2", 5, 66, 4);
    s.hash("n3", 5, 66, 3);
    s.push(2, Type::Invoke, "hash", "n1", int(5));
    s.push(2, Type::Fail, "hash", "n1", Value::str("unavailable"));
    let r = s.check();
    use WatchViolationKind::HashMismatch;
    assert_eq!(kinds(&r), [HashMismatch, HashMismatch], "{}", r.to_text());
    let who: Vec<&str> = r.violations.iter().map(|v| v.watcher.as_str()).collect();
    assert_eq!(who, ["n2 vs n3", "n1 vs n3"]);
    assert_eq!(r.violations[0].property, "same");
    assert_eq!((r.hashes.len(), r.hashes_failed), (5, 1));
    assert_eq!(r.hashes[0].revision, 5);
}

#[test]
fn a_malformed_map_shaped_op_is_an_error_naming_its_line() {
    let mut s = etcd_writes();
    s.open("n1", 2, &[], vec![Value::list(vec![Value::str("k1"), int(1), int(2)])]);
    let e = check_watch(&History::new(s.ops.clone())).unwrap_err();
    assert_eq!(e.line, s.ops.len() as u32, "{e}");
    assert!(e.message.contains("item 0 of events"), "{e}");
    let mut s = etcd_writes();
    s.push(9, Type::Invoke, "watch", "n1", map(&[("from", int(2))]));
    let e = check_watch(&History::new(s.ops.clone())).unwrap_err();
    assert_eq!(e.line, s.ops.len() as u32, "{e}");
    assert!(e.message.contains("open Bool"), "{e}");
    let mut s = etcd_writes();
    s.carry("n1", 2, vec![]);
    let e = check_watch(&History::new(s.ops.clone())).unwrap_err();
    assert!(e.message.contains("never opened"), "{e}");
}

#[test]
fn each_kind_names_the_property_it_breaks() {
    use WatchViolationKind::*;
    let named = [
        (Reorder, "ordered"),
        (Duplicate, "unique"),
        (Split, "atomic"),
        (Gap, "reliable"),
        (Skipped, "resumable"),
        (BeforeStart, "resumable"),
        (Bookmark, "bookmarkable"),
        (Unasked, "filter"),
        (IsCreate, "is-create"),
        (PrevKv, "prev-kv"),
        (WrongValue, "written"),
        (Phantom, "written"),
        (StaleFinal, "written"),
        (HashMismatch, "same"),
        (Older, "latest"),
    ];
    for (kind, property) in named {
        assert_eq!(kind.property(), property, "{kind:?}");
    }
}
