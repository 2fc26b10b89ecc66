//! The lock checker on hand-built lock workload histories: clean runs, the classic
//! stalled-holder lost update against a naive and a fenced resource, token faults,
//! final-value mismatches, unjudgeable and malformed histories, and a long run.

use checkers::lock::ViolationKind;
use checkers::{F, History, LockReport, Op, Process, Type, Value, Verdict, check_lock};

/// Writes a history one op at a time, 1 ms apart, op `n` on line `n + 1`.
#[derive(Default)]
struct Script {
    ops: Vec<Op>,
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

fn list(items: &[Value]) -> Value {
    Value::list(items.to_vec())
}

impl Script {
    fn op(&mut self, process: u64, kind: Type, f: F, key: &str, value: Value) -> &mut Op {
        let n = self.ops.len() as u64;
        let mut op = Op::new(Process::Client(process), kind, f, value).with_key(Value::str(key));
        op.index = n;
        op.time = Some(n * 1_000_000);
        op.line = n as u32 + 1;
        self.ops.push(op);
        self.ops.last_mut().expect("just pushed")
    }

    fn call(&mut self, process: u64, f: F, key: &str, invoke: Value, outcome: Type, done: Value) -> &mut Op {
        self.op(process, Type::Invoke, f.clone(), key, invoke);
        self.op(process, outcome, f, key, done)
    }

    fn acquire(&mut self, process: u64, token: i64) {
        self.call(process, F::Acquire, "lock", Value::Nil, Type::Ok, int(token));
    }

    fn release(&mut self, process: u64, token: i64) {
        self.call(process, F::Release, "lock", int(token), Type::Ok, int(token));
    }

    fn read(&mut self, process: u64, token: i64, counter: i64) {
        let invoke = list(&[int(token), Value::Nil]);
        self.call(
            process,
            F::Read,
            "resource",
            invoke,
            Type::Ok,
            list(&[int(token), int(counter)]),
        );
    }

    fn write(&mut self, process: u64, token: i64, counter: i64, seq: i64) {
        let invoke = list(&[int(token), int(counter)]);
        let done = list(&[int(token), int(counter), int(seq)]);
        self.call(process, F::Write, "resource", invoke, Type::Ok, done);
    }

    /// A write that ends with `outcome` and no seq: refused, failed or unknown.
    fn write_without_seq(&mut self, process: u64, token: i64, counter: i64, outcome: Type, error: Option<&str>) {
        let invoke = list(&[int(token), int(counter)]);
        let done = self.call(process, F::Write, "resource", invoke.clone(), outcome, invoke);
        done.error = error.map(|e| Box::new(Value::str(e)));
    }

    fn final_read(&mut self, counter: i64) {
        let done = list(&[Value::Nil, int(counter)]);
        self.call(99, F::Read, "resource", list(&[Value::Nil, Value::Nil]), Type::Ok, done);
    }

    /// One correct critical section: the counter goes from `counter` to `counter + 1`.
    fn section(&mut self, process: u64, token: i64, counter: i64) {
        self.acquire(process, token);
        self.read(process, token, counter);
        self.write(process, token, counter + 1, counter + 1);
        self.release(process, token);
    }

    fn check(&self) -> LockReport {
        check_lock(&History::new(self.ops.clone())).expect("a well-formed history")
    }
}

/// The report's first line: the verdict.
fn headline(report: &LockReport) -> String {
    report.to_text().lines().next().unwrap_or_default().to_string()
}

fn kinds(report: &LockReport) -> Vec<ViolationKind> {
    let mut kinds: Vec<ViolationKind> = report.violations.iter().map(|v| v.kind).collect();
    kinds.dedup();
    kinds
}

/// Process 0 takes the lock with token 1 and reads 0, then stalls; its lease lapses
/// and process 1 takes token 2, reads 0, writes 1 and releases; then process 0 wakes.
fn stalled_holder() -> Script {
    let mut s = Script::default();
    s.acquire(0, 1);
    s.read(0, 1, 0);
    s.acquire(1, 2);
    s.read(1, 2, 0);
    s.write(1, 2, 1, 1);
    s.release(1, 2);
    s
}

#[test]
fn a_clean_serial_history_is_valid() {
    let mut s = Script::default();
    for i in 0..9 {
        s.section(i as u64 % 3, i + 1, i);
    }
    s.final_read(9);
    let report = s.check();
    assert_eq!(report.verdict, Verdict::Valid, "{}", report.to_text());
    let st = &report.stats;
    assert_eq!((st.acquires_ok, st.acquires_failed, st.acquires_info), (9, 0, 0));
    assert_eq!((st.critical_sections, st.writes_ok, st.final_value), (9, 9, Some(9)));
    assert_eq!((st.lost_updates, st.overlaps, st.writes_rejected_stale), (0, 0, 0));
    assert!(headline(&report).starts_with("VALID: "));
}

#[test]
fn a_naive_resource_accepts_the_stalled_holders_write() {
    let mut s = stalled_holder();
    s.write(0, 1, 1, 2);
    s.release(0, 1);
    s.final_read(1);
    let report = s.check();
    assert_eq!(report.verdict, Verdict::Invalid);
    assert_eq!(
        kinds(&report),
        [
            ViolationKind::LostUpdate,
            ViolationKind::StaleWriteAccepted,
            ViolationKind::ConflictingOverlap
        ]
    );
    assert_eq!(report.stats.lost_updates, 1);
    assert_eq!((report.stats.overlaps, report.stats.conflicting_overlaps), (1, 1));
    assert!(
        report.violations[0]
            .message
            .contains("seq 2 wrote 1 after seq 1 wrote 1")
    );
    let overlap = &report.violations[2];
    let procs: Vec<&str> = overlap.ops.iter().map(|o| o.process.as_str()).collect();
    assert_eq!(procs, ["0", "0", "1", "1"], "acquire and write of each holder");
    let text = report.to_text();
    assert!(headline(&report).starts_with("INVALID: 3 violations"), "{text}");
    assert!(text.contains("process 0 write token 1 value 1 seq 2"), "{text}");
    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(json["verdict"], "invalid");
    assert_eq!(json["violations"][0]["kind"], "lost_update");
}

#[test]
fn a_fenced_resource_refuses_the_stalled_holder() {
    let mut s = stalled_holder();
    s.write_without_seq(0, 1, 1, Type::Fail, Some("stale token"));
    s.release(0, 1);
    s.final_read(1);
    let report = s.check();
    assert_eq!(report.verdict, Verdict::Valid, "{}", report.to_text());
    assert_eq!(report.stats.writes_rejected_stale, 1);
    assert_eq!((report.stats.overlaps, report.stats.conflicting_overlaps), (1, 0));
    assert_eq!(report.harmless_overlaps.len(), 1);
    assert!(report.harmless_overlaps[0].message.contains("stale token"));
}

#[test]
fn a_lease_lapsing_after_the_holders_write_is_harmless() {
    let mut s = Script::default();
    s.acquire(0, 1);
    s.read(0, 1, 0);
    s.write(0, 1, 1, 1);
    s.section(1, 2, 1);
    s.release(0, 1);
    s.final_read(2);
    let report = s.check();
    assert_eq!(report.verdict, Verdict::Valid, "{}", report.to_text());
    assert_eq!(report.stats.overlaps, 1);
    assert!(report.harmless_overlaps[0].message.contains("wrote before"));
}

#[test]
fn other_fails_are_not_stale_rejections() {
    let mut s = Script::default();
    s.section(0, 1, 0);
    s.acquire(1, 2);
    s.read(1, 2, 1);
    s.write_without_seq(1, 2, 2, Type::Fail, Some("connection refused"));
    s.release(1, 2);
    s.final_read(1);
    let report = s.check();
    assert_eq!(report.verdict, Verdict::Valid, "{}", report.to_text());
    assert_eq!((report.stats.writes_failed, report.stats.writes_rejected_stale), (1, 0));
}

#[test]
fn duplicate_tokens_are_invalid() {
    let mut s = Script::default();
    s.section(0, 5, 0);
    s.section(1, 5, 1);
    let report = s.check();
    assert_eq!(kinds(&report), [ViolationKind::DuplicateToken]);
    assert_eq!(report.verdict, Verdict::Invalid);
}

#[test]
fn tokens_going_backwards_in_acquisition_order_are_invalid() {
    let mut s = Script::default();
    s.section(0, 5, 0);
    s.acquire(1, 3);
    s.read(1, 3, 1);
    s.release(1, 3);
    let report = s.check();
    assert_eq!(kinds(&report), [ViolationKind::TokenOrder]);
    assert!(
        report.violations[0]
            .message
            .contains("token 3 after process 0 had got token 5")
    );
}

#[test]
fn concurrent_acquisitions_may_get_tokens_in_either_order() {
    let mut s = Script::default();
    s.op(0, Type::Invoke, F::Acquire, "lock", Value::Nil);
    s.op(1, Type::Invoke, F::Acquire, "lock", Value::Nil);
    s.op(1, Type::Ok, F::Acquire, "lock", int(2));
    s.op(0, Type::Ok, F::Acquire, "lock", int(1));
    s.release(0, 1);
    s.read(1, 2, 0);
    s.write(1, 2, 1, 1);
    s.release(1, 2);
    let report = s.check();
    assert!(kinds(&report).is_empty(), "{}", report.to_text());
}

#[test]
fn a_final_value_that_disagrees_with_the_last_write_is_invalid() {
    let mut s = Script::default();
    s.section(0, 1, 0);
    s.section(1, 2, 1);
    s.final_read(5);
    let report = s.check();
    assert_eq!(kinds(&report), [ViolationKind::FinalValue]);
    assert_eq!(report.stats.final_value, Some(5));
}

#[test]
fn the_final_value_is_not_judged_when_an_unknown_write_may_have_come_last() {
    let mut s = Script::default();
    s.section(0, 1, 0);
    s.acquire(1, 2);
    s.read(1, 2, 1);
    s.write_without_seq(1, 2, 2, Type::Info, None);
    s.final_read(2);
    let report = s.check();
    assert_eq!(report.verdict, Verdict::Valid, "{}", report.to_text());
    assert_eq!(report.stats.writes_info, 1);
}

#[test]
fn no_acknowledged_write_is_unknown() {
    let mut s = Script::default();
    s.acquire(0, 1);
    s.read(0, 1, 0);
    s.write_without_seq(0, 1, 1, Type::Fail, Some("unreachable"));
    s.release(0, 1);
    let report = s.check();
    assert_eq!(report.verdict, Verdict::Unknown);
    assert!(report.reason.as_deref().is_some_and(|r| r.contains("no write")));
    assert!(headline(&report).starts_with("UNKNOWN: no write"));
}

#[test]
fn no_acquired_lock_is_unknown() {
    let mut s = Script::default();
    s.call(0, F::Acquire, "lock", Value::Nil, Type::Fail, Value::Nil);
    let report = s.check();
    assert_eq!(report.verdict, Verdict::Unknown);
    assert_eq!(report.stats.acquires_failed, 1);
}

#[test]
fn malformed_values_are_errors_with_their_line() {
    let mut s = Script::default();
    s.call(0, F::Acquire, "lock", Value::Nil, Type::Ok, Value::str("mine"));
    let e = check_lock(&History::new(s.ops)).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("fencing token"), "{e}");

    let mut s = Script::default();
    s.acquire(0, 1);
    s.call(
        0,
        F::Write,
        "resource",
        list(&[int(1), int(1)]),
        Type::Ok,
        list(&[int(1), int(1)]),
    );
    let e = check_lock(&History::new(s.ops)).unwrap_err();
    assert_eq!(e.line, 4);
    assert!(e.message.contains("[token counter seq]"), "{e}");

    let mut s = Script::default();
    s.call(
        0,
        F::Read,
        "resource",
        Value::str("x"),
        Type::Ok,
        list(&[int(1), int(1)]),
    );
    assert_eq!(check_lock(&History::new(s.ops)).unwrap_err().line, 1);
}

#[test]
fn ops_on_other_keys_are_ignored() {
    let mut s = Script::default();
    s.section(0, 1, 0);
    s.call(0, F::Write, "elsewhere", Value::str("anything"), Type::Ok, Value::Nil);
    s.final_read(1);
    assert_eq!(s.check().verdict, Verdict::Valid);
}

#[test]
fn two_writes_at_one_log_position_are_an_error() {
    let mut s = Script::default();
    s.section(0, 1, 0);
    s.acquire(1, 2);
    s.write(1, 2, 2, 1);
    let e = check_lock(&History::new(s.ops)).unwrap_err();
    assert_eq!(e.line, 12);
    assert!(e.message.contains("seq 1"), "{e}");
}

#[test]
fn a_holder_that_never_releases_overlaps_everyone_after_it() {
    let mut s = Script::default();
    s.acquire(0, 1);
    s.call(
        0,
        F::Read,
        "resource",
        list(&[int(1), Value::Nil]),
        Type::Info,
        Value::Nil,
    );
    for i in 0..30 {
        s.section(1 + i as u64 % 3, i + 2, i);
    }
    let report = s.check();
    assert_eq!(report.verdict, Verdict::Valid, "{}", report.to_text());
    assert_eq!((report.stats.overlaps, report.harmless_overlaps.len()), (30, 20));
}

#[test]
fn the_printed_list_of_violations_is_capped() {
    let mut s = Script::default();
    for i in 0..30 {
        s.section(i as u64 % 4, 7, i);
    }
    let report = s.check();
    assert_eq!(report.violations.len(), 29);
    assert!(report.to_text().contains("... and 9 more"), "{}", report.to_text());
}

#[test]
fn twenty_thousand_serial_critical_sections_check_fine() {
    let mut s = Script::default();
    for i in 0..20_000 {
        s.section(i as u64 % 10, 100 + 3 * i, i);
    }
    s.final_read(20_000);
    let report = s.check();
    assert_eq!(report.verdict, Verdict::Valid, "{}", report.to_text());
    assert_eq!(report.stats.critical_sections, 20_000);
    assert_eq!(report.stats.final_value, Some(20_000));
}
