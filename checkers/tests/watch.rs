//! The watch checker on hand-built watch histories: etcd streams (a clean one,
//! and each kind of violation it must catch: a gap, a duplicate, a reorder, a
//! wrong value, a phantom event, a stale final state, with a compaction's
//! skipped range allowed), and ZooKeeper/Consul-style notified read-backs (a
//! clean one that skips states, and an older state, an index going back, a
//! value nobody wrote, a wrong value, a vanished key, a stale final state).

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
