//! The watch checker on hand-built etcd watch histories: a clean one, and each
//! kind of violation it must catch (a gap, a duplicate, a reorder, a wrong value,
//! a phantom event, a stale final state), with a compaction's skipped range
//! allowed.

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
