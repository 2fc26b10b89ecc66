//! report.html from known histories: a lock history with a lost update draws the
//! holders with the offending write marked; a register history that cannot be
//! linearized marks its culprit; the page needs nothing from the network.

use std::io::BufReader;

use checkers::format::{Format, read_history};
use checkers::{ModelKind, Options, Value, check, check_lock};
use serde_json::json;

fn history(jsonl: &str) -> checkers::History {
    read_history(BufReader::new(jsonl.as_bytes()), Format::Jsonl).expect("history")
}

fn test_json() -> serde_json::Value {
    json!({"system": "etcd", "version": "3.5.16", "nodes": 3, "workload": "lock", "nemesis": "client-pause",
           "time_limit_s": 20, "seed": 7, "runtime": "netns", "resource": "naive"})
}

/// The page of a test.json and a results.json, as `splitbrain report` reads them.
fn render(test: &serde_json::Value, results: &serde_json::Value, h: &checkers::History) -> String {
    let test = results::report::read_test(test).expect("test.json");
    let results = results::report::read_results(results).expect("results.json");
    results::report::render(&test, &results, h)
}

fn reproduce(test: &serde_json::Value) -> String {
    results::report::reproduce(&results::report::read_test(test).expect("test.json"))
}

/// Process 1 writes with token 2; process 0 then writes with its stale token 1 and
/// the naive resource takes it.
const LOCK: &str = r#"{"process":0,"type":"invoke","f":"acquire","key":"lock","value":null,"time":1000000}
{"process":0,"type":"ok","f":"acquire","key":"lock","value":1,"time":2000000}
{"process":0,"type":"invoke","f":"read","key":"resource","value":[1,null],"time":3000000}
{"process":0,"type":"ok","f":"read","key":"resource","value":[1,0],"time":4000000}
{"process":1,"type":"invoke","f":"acquire","key":"lock","value":null,"time":5000000}
{"process":1,"type":"ok","f":"acquire","key":"lock","value":2,"time":6000000}
{"process":1,"type":"invoke","f":"read","key":"resource","value":[2,null],"time":7000000}
{"process":1,"type":"ok","f":"read","key":"resource","value":[2,0],"time":8000000}
{"process":1,"type":"invoke","f":"write","key":"resource","value":[2,1],"time":9000000}
{"process":1,"type":"ok","f":"write","key":"resource","value":[2,1,1],"time":10000000}
{"process":0,"type":"invoke","f":"write","key":"resource","value":[1,1],"time":11000000}
{"process":0,"type":"ok","f":"write","key":"resource","value":[1,1,2],"time":12000000}
{"process":1,"type":"invoke","f":"release","key":"lock","value":2,"time":13000000}
{"process":1,"type":"ok","f":"release","key":"lock","value":2,"time":14000000}
{"process":0,"type":"invoke","f":"release","key":"lock","value":1,"time":15000000}
{"process":0,"type":"ok","f":"release","key":"lock","value":1,"time":16000000}
"#;

#[test]
fn a_lock_history_shows_holders_and_marks_the_bad_write() {
    let h = history(LOCK);
    let report = check_lock(&h).expect("lock check");
    let results = json!({"verdict": report.verdict, "summary": results::Summary::of(&h), "check": report});
    let page = render(&test_json(), &results, &h);
    assert!(page.contains("id=\"verdict\" class=\"invalid\">INVALID"), "{page}");
    assert!(page.contains("<svg class=\"holders\""), "{page}");
    assert_eq!(page.matches("class=\"section\"").count(), 2, "{page}");
    assert!(
        page.contains("class=\"write violation\"") && page.contains("op 10: process 0 write"),
        "{page}"
    );
    assert!(page.contains("lost update"), "{page}");
    assert!(page.contains("splitbrain run --system etcd --workload lock"), "{page}");
    // self-contained: no script or style from anywhere else
    assert!(!page.contains("http://") || !page.contains("src=\"http"), "{page}");
    assert!(!page.contains("<script src"), "{page}");
}

#[test]
fn an_invalid_register_history_marks_its_culprit() {
    let h = history(
        r#"{"process":0,"type":"invoke","f":"write","key":1,"value":3,"time":1000000}
{"process":0,"type":"ok","f":"write","key":1,"value":3,"time":2000000}
{"process":1,"type":"invoke","f":"read","key":1,"value":null,"time":3000000}
{"process":1,"type":"ok","f":"read","key":1,"value":4,"time":4000000}
"#,
    );
    let mut opts = Options::new(ModelKind::CasRegister);
    opts.initial = Some(Value::Nil);
    let report = check(&h, &opts).expect("check");
    let results = json!({"verdict": report.verdict, "summary": results::Summary::of(&h), "check": report});
    let page = render(&test_json(), &results, &h);
    assert!(page.contains("class=\"op culprit\" data-index=\"2\""), "{page}");
    assert!(page.contains("cannot linearize"), "{page}");
    assert!(page.matches("<svg class=\"plot\"").count() == 2, "{page}");
}

/// n1's wall clock bumped +30 s and n2's both clocks -5 s for two samples, then
/// the heal; n3 never moves.
const CLOCK: &str = r#"{"process":0,"type":"invoke","f":"read","key":1,"value":null,"time":500000000}
{"process":0,"type":"ok","f":"read","key":1,"value":null,"time":600000000}
{"process":"nemesis","type":"info","f":"clock","value":"n1 bump +30.000 s (wall)","time":1000000000}
{"process":"nemesis","type":"info","f":"clock-offsets","value":{"n1":{"mono":0,"wall":30000000000},"n2":{"mono":-5000000000,"wall":-5000000000},"n3":{"mono":0,"wall":0}},"time":1000000000}
{"process":"nemesis","type":"info","f":"clock-offsets","value":{"n1":{"mono":0,"wall":30000000000},"n2":{"mono":-5000000000,"wall":-5000000000},"n3":{"mono":0,"wall":0}},"time":2000000000}
{"process":"nemesis","type":"info","f":"heal","value":null,"time":3000000000}
{"process":"nemesis","type":"info","f":"clock-offsets","value":{"n1":{"mono":0,"wall":0},"n2":{"mono":0,"wall":0},"n3":{"mono":0,"wall":0}},"time":3000000000}
"#;

#[test]
fn clock_offsets_are_plotted_as_steps_only_for_clocks_that_moved() {
    let h = history(CLOCK);
    let results = json!({"verdict": "valid", "summary": results::Summary::of(&h)});
    let page = render(&test_json(), &results, &h);
    let plot = page
        .split("<h3>")
        .find(|s| s.contains("data-title=\"Clock offsets\""))
        .expect("a clock offsets plot");
    let names: Vec<&str> = plot
        .split("data-name=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(names, ["n1 wall", "n2 wall", "n2 mono"], "{plot}");
    assert!(
        plot.contains("stroke-dasharray=\"4 3\"") && plot.contains("class=\"zero\""),
        "{plot}"
    );
    assert!(plot.contains(">-5.0 s<") && plot.contains(">30.0 s<"), "{plot}");
    // three samples held as steps: 1 + 2 + 2 points
    let points = plot
        .split("points=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("");
    assert_eq!(points.split(' ').count(), 5, "{plot}");

    let h = history(LOCK);
    let results = json!({"verdict": "invalid", "summary": results::Summary::of(&h)});
    let page = render(&test_json(), &results, &h);
    assert!(!page.contains("Clock offsets"), "{page}");
    assert!(!page.contains("class=\"zero\""), "{page}");
}

#[test]
fn the_reproduce_line_carries_the_lock_and_clock_flags() {
    let test = json!({
        "system": "etcd", "workload": "lock", "nemesis": "clock", "time_limit_s": 30.0,
        "nodes": 3, "seed": 4, "runtime": "netns", "resource": "naive",
        "ttl_s": 3.0, "think_s": 0.5, "lock_delay_s": 15.0,
        "clock": {"shapes": "bump,strobe", "clocks": "both", "targets": "leader", "offset_s": 30.0,
                  "direction": "forward", "rate": 2.0, "strobe_period_ms": 10},
    });
    let cmd = reproduce(&test);
    for flag in [
        "--resource naive",
        "--think 0.5",
        "--clock bump,strobe",
        "--clock-target leader",
        "--clock-direction forward",
        "--strobe-period 10",
    ] {
        assert!(cmd.contains(flag), "{flag} missing from {cmd}");
    }
    let register = json!({"system": "etcd", "workload": "register", "nemesis": "kill", "ttl_s": 3.0});
    let cmd = reproduce(&register);
    assert!(!cmd.contains("--ttl") && !cmd.contains("--clock"), "{cmd}");
}
