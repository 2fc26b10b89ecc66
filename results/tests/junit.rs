//! `junit.xml` read back by a JUnit parser: a valid key passes, an invalid key is a
//! failure naming the op that cannot be linearized, an undecided key is an error,
//! and a lock history with a lost update fails its one case.

use std::io::BufReader;

use checkers::format::{Format, read_history};
use checkers::{ModelKind, Options, Value, check, check_lock};
use junit_parser::TestStatus;

fn history(jsonl: &str) -> checkers::History {
    read_history(BufReader::new(jsonl.as_bytes()), Format::Jsonl).expect("history")
}

fn parse(xml: &str) -> junit_parser::TestSuites {
    junit_parser::from_reader(BufReader::new(xml.as_bytes())).expect("junit.xml parses")
}

/// Key 1 reads a value nobody wrote (a stale or invented read); key 2 is fine.
const REGISTERS: &str = r#"{"process":0,"type":"invoke","f":"write","key":1,"value":3}
{"process":0,"type":"ok","f":"write","key":1,"value":3}
{"process":1,"type":"invoke","f":"read","key":1,"value":null}
{"process":1,"type":"ok","f":"read","key":1,"value":4}
{"process":2,"type":"invoke","f":"write","key":2,"value":1}
{"process":2,"type":"ok","f":"write","key":2,"value":1}
{"process":3,"type":"invoke","f":"read","key":2,"value":null}
{"process":3,"type":"ok","f":"read","key":2,"value":1}
"#;

#[test]
fn registers_one_case_a_key_the_invalid_one_failing_with_its_op() {
    let mut opts = Options::new(ModelKind::CasRegister);
    opts.initial = Some(Value::Nil);
    let report = check(&history(REGISTERS), &opts).expect("check");
    let xml = results::junit::linearizability("etcd-register-partition", &report, "store/x/report.html").unwrap();
    let suites = parse(&xml);
    assert_eq!(suites.suites.len(), 1);
    let suite = &suites.suites[0];
    assert_eq!(suite.name, "etcd-register-partition");
    assert_eq!(suite.cases.len(), 2, "{xml}");
    let case = |name: &str| {
        suite
            .cases
            .iter()
            .find(|c| c.name.ends_with(name))
            .unwrap_or_else(|| panic!("no case {name} in {xml}"))
    };
    assert!(matches!(case("key 2").status, TestStatus::Success), "{xml}");
    match &case("key 1").status {
        TestStatus::Failure(f) => {
            assert!(f.message.contains("cannot linearize"), "{}", f.message);
            assert!(f.message.contains("read"), "{}", f.message);
            assert!(f.text.contains("store/x/report.html"), "{}", f.text);
        }
        other => panic!("key 1 should fail: {other:?}\n{xml}"),
    }
    assert_eq!(suites.failures, 1);
}

#[test]
fn an_undecided_key_is_an_error_with_the_reason() {
    let mut opts = Options::new(ModelKind::CasRegister);
    opts.initial = Some(Value::Nil);
    // no time at all: every key is unknown
    opts.time_limit = Some(std::time::Duration::ZERO);
    let report = check(&history(REGISTERS), &opts).expect("check");
    let xml = results::junit::linearizability("t", &report, "store/x/report.html").unwrap();
    let suites = parse(&xml);
    for case in &suites.suites[0].cases {
        match &case.status {
            TestStatus::Error(e) => assert!(e.message.contains("time limit"), "{}", e.message),
            other => panic!("{other:?}\n{xml}"),
        }
    }
}

/// Process 0 holds the lock (token 1) and reads 0; its lease lapses, process 1
/// takes the lock (token 2), reads 0 and writes 1; process 0 then writes 1 with
/// its stale token and the naive resource accepts it: one increment lost.
const LOCK: &str = r#"{"process":0,"type":"invoke","f":"acquire","key":"lock","value":null}
{"process":0,"type":"ok","f":"acquire","key":"lock","value":1}
{"process":0,"type":"invoke","f":"read","key":"resource","value":[1,null]}
{"process":0,"type":"ok","f":"read","key":"resource","value":[1,0]}
{"process":1,"type":"invoke","f":"acquire","key":"lock","value":null}
{"process":1,"type":"ok","f":"acquire","key":"lock","value":2}
{"process":1,"type":"invoke","f":"read","key":"resource","value":[2,null]}
{"process":1,"type":"ok","f":"read","key":"resource","value":[2,0]}
{"process":1,"type":"invoke","f":"write","key":"resource","value":[2,1]}
{"process":1,"type":"ok","f":"write","key":"resource","value":[2,1,1]}
{"process":0,"type":"invoke","f":"write","key":"resource","value":[1,1]}
{"process":0,"type":"ok","f":"write","key":"resource","value":[1,1,2]}
{"process":1,"type":"invoke","f":"release","key":"lock","value":2}
{"process":1,"type":"ok","f":"release","key":"lock","value":2}
{"process":0,"type":"invoke","f":"release","key":"lock","value":1}
{"process":0,"type":"ok","f":"release","key":"lock","value":1}
"#;

#[test]
fn a_lost_update_fails_the_lock_case() {
    let report = check_lock(&history(LOCK)).expect("lock check");
    let xml = results::junit::lock("etcd-lock-naive-client-pause", &report, "store/x/report.html").unwrap();
    let suites = parse(&xml);
    let case = &suites.suites[0].cases[0];
    assert!(case.name.ends_with("lock safety"), "{}", case.name);
    match &case.status {
        TestStatus::Failure(f) => assert!(!f.message.is_empty() && f.text.contains("lost update"), "{f:?}"),
        other => panic!("the lock case should fail: {other:?}\n{xml}"),
    }
}
