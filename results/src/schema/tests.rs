//! test.json and results.json as the runner writes them today, for each
//! workload, read into the structs and written back: the same JSON, key for key.

use super::*;
use checkers::{ModelKind, Options, check, check_lock};
use serde_json::json;

fn history(jsonl: &str) -> checkers::History {
    checkers::format::read_history(jsonl.as_bytes(), checkers::format::Format::Jsonl).expect("history")
}

/// A lost update under a naive resource: process 0 writes with its stale token.
const LOCK: &str = r#"{"process":0,"type":"invoke","f":"acquire","key":"lock","value":null,"time":1000000}
{"process":0,"type":"ok","f":"acquire","key":"lock","value":1,"time":2000000}
{"process":1,"type":"invoke","f":"acquire","key":"lock","value":null,"time":5000000}
{"process":1,"type":"ok","f":"acquire","key":"lock","value":2,"time":6000000}
{"process":1,"type":"invoke","f":"write","key":"resource","value":[2,1],"time":9000000}
{"process":1,"type":"ok","f":"write","key":"resource","value":[2,1,1],"time":10000000}
{"process":0,"type":"invoke","f":"write","key":"resource","value":[1,1],"time":11000000}
{"process":0,"type":"ok","f":"write","key":"resource","value":[1,1,2],"time":12000000}
"#;

const REGISTER: &str = r#"{"process":0,"type":"invoke","f":"write","key":1,"value":3,"time":1000000}
{"process":0,"type":"ok","f":"write","key":1,"value":3,"time":2000000}
{"process":"nemesis","type":"info","f":"kill","value":"n1","time":2500000}
{"process":1,"type":"invoke","f":"read","key":1,"value":null,"time":3000000}
{"process":1,"type":"ok","f":"read","key":1,"value":4,"time":4000000}
{"process":"nemesis","type":"info","f":"heal","value":null,"time":5000000}
"#;

/// run.rs's test.json keys every run writes, whatever its workload.
fn test_json(workload: &str, model: &str) -> Value {
    json!({
        "system": "etcd", "version": "3.5.16", "binary": "/var/cache/splitbrain/etcd-3.5.16/etcd",
        "workload": workload, "nemesis": "partition,kill", "partition_shapes": "majority,halves",
        "nodes": 3, "keys": 5, "concurrency": 6, "readers": 0,
        "read_mode": if model == "cas-register" { "linearizable" } else { "" }, "op_timeout_s": 1.0,
        "time_limit_s": 30.0, "nemesis_interval_s": 5.0,
        "seed": 42, "runtime": "netns", "run_id": "1733213390-4021",
        "image": null, "model": model, "initial": null, "resource": null,
        "ttl_s": 3.0, "lock_delay_s": 0.0, "think_s": 0.5,
        "iptables": "/usr/sbin/iptables-legacy", "scenario": null, "runbook": null,
        "rto_s": null, "rpo": null, "drill": null, "clock": null,
    })
}

/// `x` read as `T` and written back is `x`.
fn round_trips<T: serde::de::DeserializeOwned + Serialize>(x: &Value) {
    let read: T = serde_json::from_value(x.clone()).unwrap_or_else(|e| panic!("{e}: {x:#}"));
    let written = serde_json::to_value(&read).expect("serialises");
    assert_eq!(&written, x, "written back differs: {written:#}");
}

#[test]
fn a_register_run_round_trips() {
    let h = history(REGISTER);
    let mut opts = Options::new(ModelKind::CasRegister);
    opts.initial = Some(checkers::Value::Nil);
    let report = check(&h, &opts).expect("check");
    let replica = |node: &str, answer| checkers::divergence::Replica {
        node: node.into(),
        answer,
    };
    let k = checkers::Value::Int(1);
    let divergence = checkers::divergence::check(
        &[(k.clone(), checkers::Value::Int(4))],
        &[
            replica("n1", Ok(vec![(k.clone(), checkers::Value::Int(4))])),
            replica("n2", Ok(vec![])),
            replica("n3", Err("not caught up".into())),
        ],
    );
    assert_eq!(
        serde_json::to_value(Divergence::from(&divergence)).expect("json"),
        divergence.to_json()
    );
    let mut test = test_json("register", "cas-register");
    test["image"] = json!("splitbrain/etcd:3.5.16");
    test["runtime"] = json!("docker");
    round_trips::<TestInfo>(&test);
    let results = json!({"verdict": report.verdict, "interrupted": false,
                         "recovery": {"recovered": true, "after_s": 1.25, "membership": null},
                         "summary": Summary::of(&h), "check": report, "expectations": null,
                         "drill": null, "divergence": divergence.to_json()});
    round_trips::<RunResults>(&results);
    // an interrupted run, whose cluster never served again, of a membership change
    let results = json!({"verdict": "unknown", "interrupted": true,
                         "recovery": {"recovered": false, "error": "no node answered in 30 s",
                                      "membership": {"n1": ["n1", "n2", "n4"], "n2": {"error": "timed out"}}},
                         "summary": Summary::of(&h), "check": {"verdict": "unknown"}, "expectations": null,
                         "drill": null, "divergence": null});
    round_trips::<RunResults>(&results);
}

#[test]
fn a_lock_run_round_trips() {
    let h = history(LOCK);
    let report = check_lock(&h).expect("lock check");
    let mut test = test_json("lock", "lock");
    test["resource"] = json!("naive");
    test["client_pause_at"] = json!("holding");
    test["clock"] = json!({"shapes": "bump,strobe", "clocks": "both", "targets": "leader", "offset_s": 30.0,
                           "rate": 2.0, "direction": "forward", "strobe_period_ms": 10});
    round_trips::<TestInfo>(&test);
    let results = json!({"verdict": report.verdict, "interrupted": false, "recovery": null,
                         "summary": Summary::of(&h), "check": report, "expectations": null,
                         "drill": null, "divergence": null});
    round_trips::<RunResults>(&results);
}

#[test]
fn an_election_run_round_trips() {
    let mut test = test_json("election", "election");
    test["resource"] = json!("fenced");
    test["term_jobs"] = json!(3);
    test["job_interval_s"] = json!(0.5);
    test["failover_within_s"] = json!(null);
    round_trips::<TestInfo>(&test);
    test["failover_within_s"] = json!(12.0);
    round_trips::<TestInfo>(&test);
    let check = json!({"verdict": "valid", "violations": [], "failovers": [
                           {"fault": "kill n2", "at_s": 4.0, "from_term": 1, "to_term": 2, "took_s": 3.5},
                           {"fault": "pause n1", "at_s": 9.0, "from_term": 2, "to_term": null, "took_s": null}],
                       "failover_p50_s": 3.5, "failover_max_s": 3.5, "failover_within_s": 12.0,
                       "terms": [{"process": "0", "term": 1, "from_s": 0.1, "to_s": 4.0, "jobs": 3, "ended": "resigned"}],
                       "safety": {"verdict": "valid", "violations": [], "stats": {"acquires_ok": 2}}});
    let results = json!({"verdict": "valid", "interrupted": false,
                         "recovery": {"recovered": true, "after_s": 0.5, "membership": null},
                         "summary": Summary::of(&history(LOCK)), "check": check, "expectations": null,
                         "drill": null, "divergence": null});
    round_trips::<RunResults>(&results);
}

#[test]
fn a_watch_run_round_trips() {
    let mut test = test_json("watch", "watch");
    test["nemesis"] = json!("scenario-watch-compacted");
    test["scenario"] = json!("scenarios/watch-compacted.toml");
    test["snapshot_count"] = json!(100);
    round_trips::<TestInfo>(&test);
    let check = json!({"verdict": "invalid", "watchers": [
                           {"watcher": "w0", "kind": "stream", "events": 40, "watches": 2, "lag_p50_ms": 3.0,
                            "lag_max_ms": 41.0, "compacted": [12], "back_after_restart": 0, "caught_up": true}],
                       "violations": [{"watcher": "w0", "kind": "gap", "message": "w0 missed revision 7"}]});
    let results = json!({"verdict": "invalid", "interrupted": false, "recovery": null,
                         "summary": Summary::of(&history(REGISTER)), "check": check,
                         "expectations": [
                             {"expect": "writes ok within 5 s", "from_s": 10.0, "to_s": 15.0, "held": true,
                              "invoked": 12, "acknowledged": 12, "first_ok_after_s": 0.25, "step": 2},
                             {"expect": "recovered within 30 s", "from_s": 20.0, "to_s": 50.0, "held": false,
                              "invoked": 3, "acknowledged": 0, "first_ok_after_s": null,
                              "why": "no read acknowledged", "step": 4}],
                         "drill": null, "divergence": null});
    round_trips::<RunResults>(&results);
}

#[test]
fn a_drill_of_the_set_workload_round_trips() {
    let mut test = test_json("set", "cas-register");
    test["nemesis"] = json!("none");
    test["scenario"] = json!("drill-3");
    test["drill"] = json!("drill-3");
    test["runbook"] = json!({"name": "snapshot", "file": null, "unofficial": false});
    test["rto_s"] = json!(300.0);
    test["rpo"] = json!(5);
    round_trips::<TestInfo>(&test);
    // harness/src/drill.rs's `to_json`: the measures, then its own keys
    let measured = checkers::recovery::Recovery {
        quorum_lost_s: Some(10.5),
        detection_s: Some(0.25),
        rto_s: None,
        rpo: 2,
        lost: vec![7, 8],
        acked_since_snapshot: Some(3),
        timed_out_present: 1,
        failed_present: vec![11],
        disagree: vec![12],
        acknowledged: 40,
        revision_regressions: vec![("n2".into(), 30, 12, 14.5)],
        snapshots: vec![checkers::recovery::Snapshot {
            at_s: 8.0,
            node: "n1".into(),
            file: "/tmp/drill/snap-n1.db".into(),
            last_acknowledged: None,
            acknowledged_before: 0,
        }],
        ..Default::default()
    };
    let mut drill = json!(measured);
    drill["violations"] = json!(["no RTO: no write and read both acknowledged after the quorum loss"]);
    drill["rto_limit_s"] = json!(300.0);
    drill["rpo_limit"] = json!(null);
    drill["runbook"] = json!({"name": "my-restore.sh", "file": "/home/op/my-restore.sh", "unofficial": false});
    drill["steps"] = json!([{"step": "stop the survivors", "took_s": 1.5}]);
    let h = history(REGISTER);
    let mut opts = Options::new(ModelKind::CasRegister);
    opts.initial = Some(checkers::Value::Nil);
    let mut check = json!(check(&h, &opts).expect("check"));
    check["after_recovery"] = json!(null);
    let results = json!({"verdict": "invalid", "interrupted": false,
                         "recovery": {"recovered": true, "after_s": 2.0, "membership": null},
                         "summary": Summary::of(&h), "check": check,
                         "expectations": [{"expect": "recovered within 60 s", "from_s": 20.0, "to_s": 80.0,
                                           "held": true, "invoked": 9, "acknowledged": 9,
                                           "first_ok_after_s": 4.0, "step": 5}],
                         "drill": drill, "divergence": null});
    round_trips::<RunResults>(&results);
}

#[test]
fn an_upgrade_round_trips() {
    let mut test = test_json("register", "cas-register");
    test["nemesis"] = json!("upgrade");
    test["from"] = json!("3.5.16");
    test["to"] = json!("3.6.0");
    test["from_binary"] = json!(null);
    test["to_binary"] = json!("/opt/etcd-3.6.0/etcd");
    test["rollback"] = json!("mixed");
    round_trips::<TestInfo>(&test);
    let read: TestInfo = serde_json::from_value(test).expect("test.json");
    assert_eq!(read.upgrade.map(|u| u.to).as_deref(), Some("3.6.0"));
}

#[test]
fn an_older_folder_reads_with_defaults() {
    let test: TestInfo = serde_json::from_value(json!({"system": "etcd", "nodes": 3})).expect("test.json");
    assert_eq!((test.system.as_str(), test.nodes, test.seed), ("etcd", 3, None));
    assert!(test.election.is_none() && test.upgrade.is_none() && test.clock.is_none());
    let results: RunResults = serde_json::from_value(json!({"verdict": "valid"})).expect("results.json");
    assert_eq!(results.verdict, Verdict::Valid);
    assert!(results.summary.is_none() && results.check.is_null() && results.drill.is_none());
    let drill: Drill = serde_json::from_value(json!({"rpo": 1})).expect("drill");
    assert_eq!((drill.measured.rpo, drill.measured.quorum_lost_s), (1, None));
    // a history checked on its own: nothing of a run beside its title and command
    let page = TestInfo {
        title: Some("h.jsonl (lock)".into()),
        workload: "lock".into(),
        ..TestInfo::default()
    };
    let written = serde_json::to_value(&page).expect("json");
    assert!(
        written.get("term_jobs").is_none() && written.get("to").is_none(),
        "{written}"
    );
}
