//! `splitbrain check` as users script it: exit codes, error lines, JSON.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{shared, splitbrain, temp_file};

/// A Porcupine kv log with a pending append of `x` on each key: a value that
/// begins every other, so reads reveal nothing and only the search decides.
fn search_only(log: &str) -> String {
    let mut text = std::fs::read_to_string(shared(&format!("porcupine/kv/{log}"))).expect("kv log");
    for k in 0..10 {
        text.push_str(&format!(
            "{{:process {}, :type :invoke, :f :append, :key \"{k}\", :value \"x\"}}\n",
            1000 + k
        ));
    }
    temp_file(&format!("search-only-{log}"), &text)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn valid_history_exits_0() {
    let o = splitbrain(&["check", &shared("porcupine/etcd/etcd_002.log")]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).starts_with("VALID"), "{}", stdout(&o));
}

#[test]
fn invalid_history_exits_1_with_a_counterexample() {
    let o = splitbrain(&[
        "check",
        "--initial",
        "0",
        &shared("knossos/cas-register/bad/rethink-fail-minimal.edn"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("INVALID"), "{out}");
    // the read of 3 concurrent with a write of 4, after 0 was written
    assert!(
        out.contains("cannot linearize  process 1: read nil -> ok 3  (lines 4-7)"),
        "{out}"
    );
    assert!(out.contains("write 4"), "{out}");
}

#[test]
fn json_report_names_the_failing_op() {
    let o = splitbrain(&["check", "--json", &shared("porcupine/kv/c01-bad.txt")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["model"], "kv");
    let bad: Vec<&serde_json::Value> = v["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["verdict"] == "invalid")
        .collect();
    assert!(!bad.is_empty());
    assert!(bad[0]["counterexample"]["op"]["f"].is_string());
}

#[test]
fn a_memory_limit_turns_into_unknown_not_a_crash() {
    let o = splitbrain(&[
        "check",
        "--memory-limit",
        "1",
        "--format",
        "porcupine-kv",
        &search_only("c50-ok.txt"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("memory limit"), "{}", stdout(&o));
}

#[test]
fn a_time_limit_turns_into_unknown() {
    let o = splitbrain(&[
        "check",
        "--time-limit",
        "0.000001",
        "--format",
        "porcupine-kv",
        &search_only("c50-ok.txt"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("time limit"), "{}", stdout(&o));
}

#[test]
fn a_time_limit_holds_on_a_history_the_search_cannot_decide() {
    // Porcupine's c50-bad, the search alone: its keys' states explode; half are
    // undecided after 90 s
    let limit = 3.0;
    let start = Instant::now();
    let o = splitbrain(&[
        "check",
        "--time-limit",
        &limit.to_string(),
        "--format",
        "porcupine-kv",
        &search_only("c50-bad.txt"),
    ]);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs_f64(limit + 1.0),
        "took {took:?}\n{}{}",
        stdout(&o),
        stderr(&o)
    );
    let out = stdout(&o);
    // a long check says it is still going (a line, not a spinner: stderr is a pipe)
    assert!(
        stderr(&o).contains("splitbrain: checking") && stderr(&o).contains("of at most 3 s"),
        "{}",
        stderr(&o)
    );
    match o.status.code() {
        Some(2) => assert!(
            out.starts_with("UNKNOWN") && out.contains("time limit reached"),
            "{out}"
        ),
        // decided in time: Porcupine's verdict
        Some(1) => assert!(out.starts_with("INVALID"), "{out}"),
        code => panic!("exit {code:?}\n{out}{}", stderr(&o)),
    }
}

#[test]
fn the_default_time_limit_is_in_the_help() {
    let o = splitbrain(&["check", "--help"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("[default: 60]"), "{}", stdout(&o));
}

#[test]
fn malformed_history_is_one_line_numbered_error_exit_3() {
    let f = temp_file(
        "bad.jsonl",
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"process\":0,\"type\":\"okk\",\"f\":\"read\"}\n",
    );
    let o = splitbrain(&["check", &f]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn completion_without_invocation_is_exit_3() {
    let f = temp_file(
        "orphan.jsonl",
        "{\"process\":4,\"type\":\"ok\",\"f\":\"write\",\"value\":1}\n",
    );
    let o = splitbrain(&["check", &f]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("line 1: process 4 completes write (ok) with no invocation"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unknown_f_for_the_model_is_exit_3() {
    let f = temp_file(
        "lock.jsonl",
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"acquire\"}\n{\"process\":0,\"type\":\"ok\",\"f\":\"acquire\"}\n",
    );
    let o = splitbrain(&["check", "--model", "register", &f]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("unknown f \"acquire\" for model register"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_flags_and_missing_files_are_exit_3() {
    let o = splitbrain(&["check", "--model", "nope", &shared("porcupine/etcd/etcd_002.log")]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("invalid value 'nope' for '--model <MODEL>'; use register, cas-register"),
        "{}",
        stderr(&o)
    );
    let o = splitbrain(&["check", "/nonexistent/history.jsonl"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("/nonexistent/history.jsonl"), "{}", stderr(&o));
    let o = splitbrain(&["check"]);
    assert_eq!(o.status.code(), Some(3));
    for bad in ["0", "-1", "nan", "1e300"] {
        let flag = format!("--time-limit={bad}");
        let o = splitbrain(&["check", &flag, &shared("porcupine/etcd/etcd_002.log")]);
        assert_eq!(o.status.code(), Some(3), "--time-limit {bad}");
        assert!(stderr(&o).contains("--time-limit"), "{}", stderr(&o));
    }
}

#[test]
fn several_files_exit_with_the_worst_verdict() {
    let o = splitbrain(&[
        "check",
        &shared("porcupine/etcd/etcd_002.log"),
        &shared("porcupine/etcd/etcd_000.log"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o).matches("== ").count(), 2);
}

#[test]
fn our_jsonl_round_trips_through_check() {
    // a stale read: write 1 completes, then a read returns the initial nil
    let f = temp_file(
        "stale.jsonl",
        concat!(
            "{\"index\":0,\"time\":10,\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"a\",\"value\":1}\n",
            "{\"index\":1,\"time\":20,\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"key\":\"a\",\"value\":1}\n",
            "{\"index\":2,\"time\":30,\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"a\",\"value\":null}\n",
            "{\"index\":3,\"time\":40,\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"key\":\"a\",\"value\":null}\n",
            "{\"index\":4,\"time\":50,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"partition\",\"value\":\"halves\"}\n",
        ),
    );
    let o = splitbrain(&["check", &f]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("key a: invalid"), "{}", stdout(&o));
}

#[test]
fn check_writes_the_report_page_of_a_history() {
    let page = std::env::temp_dir().join(format!("splitbrain-test-{}-report.html", std::process::id()));
    let o = splitbrain(&[
        "check",
        "--initial",
        "0",
        "--report",
        page.to_str().unwrap(),
        &shared("knossos/cas-register/bad/rethink-fail-minimal.edn"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).expect("report.html written");
    assert!(html.contains("id=\"verdict\" class=\"invalid\">INVALID"), "{html}");
    assert!(
        html.contains("class=\"op culprit\"") && html.contains("cannot linearize"),
        "{html}"
    );
    assert!(html.contains("splitbrain check --model register"), "{html}");
    let _ = std::fs::remove_file(&page);
    // one page, one history
    let o = splitbrain(&[
        "check",
        "--report",
        page.to_str().unwrap(),
        &shared("porcupine/etcd/etcd_002.log"),
        &shared("porcupine/etcd/etcd_000.log"),
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("--report writes the page of one history"),
        "{}",
        stderr(&o)
    );
}
