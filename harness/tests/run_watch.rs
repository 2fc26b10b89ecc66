//! The watch workload on a real etcd: writers put and delete keys under
//! partitions, kills and compactions while a watcher on every node watches
//! them; every watcher ends caught up, having seen every acknowledged change in
//! order, once, as written (the checker's own tests fabricate the violations it
//! catches: `checkers/tests/watch.rs`). Needs root and the Debian archive.

mod common;

use common::{chromium, json, refused_in_one_line, results_dir, root, run_on, show};

#[test]
fn etcd_watchers_see_every_change_under_partition_kill_compact() {
    if !root() {
        return;
    }
    let results = results_dir("watch");
    let o = run_on(
        "netns",
        &[
            "--system",
            "etcd",
            "--workload",
            "watch",
            "--nemesis",
            "partition,kill,compact",
            "--nemesis-interval",
            "3",
            "--time-limit",
            "30",
            "--seed",
            "5",
        ],
        &results,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let test = "etcd-watch-partition,kill,compact";
    let r = json(&results, test, "results.json");
    assert_eq!(r["verdict"], "valid");
    let check = &r["check"];
    let acknowledged = check["writes_ok"].as_u64().unwrap();
    assert!(acknowledged > 1000, "{check}");
    let watchers = check["watchers"].as_array().unwrap();
    assert_eq!(watchers.len(), 3);
    for w in watchers {
        assert_eq!(w["caught_up"], true, "{w}");
        assert!(w["events"].as_u64().unwrap() >= acknowledged, "{w}");
        assert!(w["watches"].as_u64().unwrap() > 10, "{w}");
    }
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("VALID: every watcher saw every change"), "{out}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("compact n") && err.contains("is refused"), "{err}");
    let junit = std::fs::read_to_string(results.join(test).join("latest/junit.xml")).unwrap();
    assert_eq!(junit.matches("saw every change in order").count(), 3, "{junit}");
    let page = results.join(test).join("latest/report.html");
    if let Some(dom) = chromium(&page, &results.join("report.png")) {
        assert!(
            dom.contains("<h2>Watchers</h2>") && dom.contains("id=\"watchers\""),
            "{dom}"
        );
        assert!(!dom.contains("Lock safety"), "a watch run is no lock run");
    }
}

#[test]
fn a_watch_on_a_system_without_a_watch_client_is_one_line() {
    refused_in_one_line(
        &["--system", "zookeeper", "--workload", "watch"],
        "--workload watch: zookeeper has no watch client yet",
    );
}
