//! The election checker on hand-built election histories: a clean handover after
//! a kill (failover measured), a deposed leader whose job took effect after its
//! successor's (two leaders at once), a stale term accepted, a term granted twice,
//! a slow failover and one that never came.

use checkers::lock::ViolationKind;
use checkers::{ElectionReport, F, History, Op, Process, Type, Value, Verdict, check_election};

/// An election history written op by op at given times (ms).
#[derive(Default)]
struct Script {
    ops: Vec<Op>,
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

fn list(items: &[i64]) -> Value {
    Value::list(items.iter().map(|&i| Value::Int(i)).collect())
}

impl Script {
    fn push(&mut self, mut op: Op, ms: u64) {
        let n = self.ops.len() as u64;
        op.index = n;
        op.time = Some(ms * 1_000_000);
        op.line = n as u32 + 1;
        self.ops.push(op);
    }

    fn call(&mut self, process: u64, f: &str, key: &str, invoke: Value, done: Value, ms: u64) {
        let p = Process::Client(process);
        let k = Value::str(key);
        self.push(Op::new(p, Type::Invoke, F::parse(f), invoke).with_key(k.clone()), ms);
        self.push(Op::new(p, Type::Ok, F::parse(f), done).with_key(k), ms + 1);
    }

    fn campaign(&mut self, process: u64, term: i64, ms: u64) {
        self.call(process, "campaign", "election", Value::Nil, int(term), ms);
    }

    fn resign(&mut self, process: u64, term: i64, ms: u64) {
        self.call(process, "resign", "election", int(term), int(term), ms);
    }

    /// A job: read `counter`, write `counter + 1`, logged at `seq`.
    fn job(&mut self, process: u64, term: i64, counter: i64, seq: i64, ms: u64) {
        let p = Process::Client(process);
        let k = Value::str("resource");
        let read = |t| Op::new(p, t, F::Read, Value::Nil).with_key(k.clone());
        self.push(
            read(Type::Invoke).with_value(Value::list(vec![int(term), Value::Nil])),
            ms,
        );
        self.push(read(Type::Ok).with_value(list(&[term, counter])), ms + 1);
        let write = |t, v| Op::new(p, t, F::Write, v).with_key(k.clone());
        self.push(write(Type::Invoke, list(&[term, counter + 1])), ms + 2);
        self.push(write(Type::Ok, list(&[term, counter + 1, seq])), ms + 3);
    }

    fn nemesis(&mut self, f: &str, what: &str, ms: u64) {
        self.push(Op::new(Process::Nemesis, Type::Info, F::parse(f), Value::str(what)), ms);
    }

    fn check(&self, within: f64) -> ElectionReport {
        let mut ops = self.ops.clone();
        ops.sort_by_key(|o| (o.time, o.index));
        for (i, op) in ops.iter_mut().enumerate() {
            op.index = i as u64;
        }
        check_election(&History::new(ops), within).expect("a well-formed history")
    }
}

trait WithValue {
    fn with_value(self, v: Value) -> Self;
}

impl WithValue for Op {
    fn with_value(mut self, v: Value) -> Op {
        self.value = v;
        self
    }
}

/// Leader 1 (term 10) acts every 100 ms from 0 to 900 ms; its node is killed at
/// 1000 ms; leader 2 (term 20) campaigns and acts from `next_ms` on.
fn kill_then_handover(next_ms: u64) -> Script {
    let mut s = Script::default();
    s.campaign(1, 10, 0);
    for n in 0..10 {
        s.job(1, 10, n, n + 1, 10 + n as u64 * 100);
    }
    s.nemesis("kill", "n1", 1000);
    s.campaign(2, 20, next_ms - 20);
    for n in 0..5 {
        s.job(2, 20, 10 + n, 11 + n, next_ms + n as u64 * 100);
    }
    s.resign(2, 20, next_ms + 600);
    s.nemesis("start", "n1", next_ms + 700);
    s
}

#[test]
fn a_clean_handover_after_a_kill_is_valid_and_its_failover_measured() {
    let r = kill_then_handover(3000).check(10.0);
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_text());
    assert_eq!(r.terms.len(), 2);
    assert_eq!(r.failovers.len(), 1, "{:?}", r.failovers);
    let f = &r.failovers[0];
    assert_eq!((f.from_term, f.to_term), (10, Some(20)));
    assert_eq!(f.fault, "kill n1");
    // from the fault (the old leader's last job came before it) to the new one's first
    let took = f.took_s.unwrap();
    assert!((took - 2.003).abs() < 0.01, "{took}");
    assert_eq!(r.failover_max_s, Some(took));
}

#[test]
fn a_failover_slower_than_allowed_is_a_violation() {
    let r = kill_then_handover(3000).check(1.5);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(r.violations[0].contains("kill n1 at 1.0 s"), "{:?}", r.violations);
    assert!(r.violations[0].contains("beyond 1.5 s"), "{:?}", r.violations);
}

#[test]
fn a_failover_that_never_comes_is_a_violation() {
    let mut s = Script::default();
    s.campaign(1, 10, 0);
    s.job(1, 10, 0, 1, 10);
    s.nemesis("kill", "n1", 100);
    s.nemesis("start", "n1", 5000);
    s.campaign(3, 30, 9000); // acts never
    let r = s.check(2.0);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.failovers[0].took_s, None);
    assert!(r.violations[0].contains("no other leader acted"), "{:?}", r.violations);
}

#[test]
fn a_term_stepping_down_during_a_fault_is_a_failover_one_resigning_a_handover() {
    let run = |said: Value| {
        let mut s = Script::default();
        s.campaign(1, 10, 0);
        s.job(1, 10, 0, 1, 10);
        s.nemesis("pause", "n2", 100);
        s.call(1, "resign", "election", said.clone(), said, 200);
        s.campaign(2, 20, 250);
        s.job(2, 20, 1, 2, 300);
        s.nemesis("resume", "n2", 5000);
        s.check(10.0)
    };
    let done = run(int(10));
    assert_eq!(done.terms[0].ended.as_deref(), Some("resigned"));
    assert!(done.failovers.is_empty(), "its jobs done: {:?}", done.failovers);
    let stepped = run(Value::list(vec![int(10), Value::str("lease lost")]));
    assert_eq!(stepped.terms[0].ended.as_deref(), Some("lease lost"));
    assert_eq!(stepped.failovers.len(), 1, "{:?}", stepped.failovers);
    assert_eq!(stepped.failovers[0].to_term, Some(20));
}

#[test]
fn a_fault_the_leader_outlives_is_no_failover() {
    let mut s = Script::default();
    s.campaign(1, 10, 0);
    s.nemesis("kill", "n3", 150);
    for n in 0..5 {
        s.job(1, 10, n, n + 1, 10 + n as u64 * 100);
    }
    s.nemesis("start", "n3", 300);
    s.job(1, 10, 5, 6, 600);
    let r = s.check(1.0);
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.to_text());
    assert!(r.failovers.is_empty(), "{:?}", r.failovers);
}

#[test]
fn two_leaders_acting_at_once_are_caught_with_both_named() {
    // leader 1 (term 10) stalls between its read and its write; leader 2 (term 20)
    // is elected and acts; leader 1's late write lands on the naive resource
    let mut s = Script::default();
    s.campaign(1, 10, 0);
    s.job(1, 10, 0, 1, 10);
    let p1 = Process::Client(1);
    let k = Value::str("resource");
    s.push(
        Op::new(p1, Type::Invoke, F::Read, Value::list(vec![int(10), Value::Nil])).with_key(k.clone()),
        100,
    );
    s.push(Op::new(p1, Type::Ok, F::Read, list(&[10, 1])).with_key(k.clone()), 101);
    s.campaign(2, 20, 3000);
    s.job(2, 20, 1, 2, 3100);
    s.push(
        Op::new(p1, Type::Invoke, F::Write, list(&[10, 2])).with_key(k.clone()),
        5000,
    );
    s.push(Op::new(p1, Type::Ok, F::Write, list(&[10, 2, 3])).with_key(k), 5001);
    let r = s.check(10.0);
    assert_eq!(r.verdict, Verdict::Invalid);
    let kinds: Vec<ViolationKind> = r.safety.violations.iter().map(|v| v.kind).collect();
    assert!(kinds.contains(&ViolationKind::StaleWriteAccepted), "{kinds:?}");
    assert!(kinds.contains(&ViolationKind::LostUpdate), "{kinds:?}");
    assert!(kinds.contains(&ViolationKind::ConflictingOverlap), "{kinds:?}");
    let stale = r
        .safety
        .violations
        .iter()
        .find(|v| v.kind == ViolationKind::StaleWriteAccepted)
        .unwrap();
    assert!(
        stale.message.contains("term 10 accepted after seq 2 with term 20"),
        "{}",
        stale.message
    );
    let processes: Vec<&str> = stale.ops.iter().map(|o| o.process.as_str()).collect();
    assert_eq!(processes, ["2", "1"]);
}

#[test]
fn a_term_granted_twice_or_out_of_order_is_caught() {
    let mut s = Script::default();
    s.campaign(1, 10, 0);
    s.job(1, 10, 0, 1, 10);
    s.resign(1, 10, 100);
    s.campaign(2, 10, 200);
    s.job(2, 10, 1, 2, 210);
    s.resign(2, 10, 300);
    s.campaign(3, 7, 400);
    s.job(3, 7, 2, 3, 410);
    let r = s.check(10.0);
    assert_eq!(r.verdict, Verdict::Invalid);
    let kinds: Vec<ViolationKind> = r.safety.violations.iter().map(|v| v.kind).collect();
    assert!(kinds.contains(&ViolationKind::DuplicateToken), "{kinds:?}");
    assert!(kinds.contains(&ViolationKind::TokenOrder), "{kinds:?}");
}
