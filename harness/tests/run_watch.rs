//! The watch workload on real clusters: writers put and delete keys under
//! faults while a watcher on every node watches them. On etcd (partitions,
//! kills, compactions) every watcher ends caught up, having seen every
//! acknowledged change in order, once, as written; on ZooKeeper (one-shot
//! watches read back) and Consul (blocking queries) every state read was
//! written and none went back (the checker's own tests fabricate the
//! violations it catches: `checkers/tests/watch.rs`). Needs root and the
//! Debian archive.

mod common;

use common::{chromium, json, results_dir, run_on, show};

/// The watchers of a run, by name.
fn watchers(check: &serde_json::Value) -> Vec<&serde_json::Value> {
    check["watchers"].as_array().expect("watchers").iter().collect()
}

#[test]
fn etcd_watches_keep_every_promise_under_partition_kill_compact_and_a_snapshot_catch_up() {
    let Some(_one) = common::cluster_test() else { return };
    let results = results_dir("watch");
    let faults = "partition,kill,compact,isolate-until-snapshot";
    let o = run_on(
        "netns",
        &[
            "--system",
            "etcd",
            "--version",
            "3.5.16",
            "--workload",
            "watch",
            "--nemesis",
            faults,
            "--nemesis-interval",
            "3",
            "--time-limit",
            "30",
            // the catch-up by snapshot first (any member that fell behind by
            // more than the 100 entries kept comes back by snapshot, and the
            // leader then keeps its log 30 s), then a partition, a compaction,
            // a kill
            "--seed",
            "352",
        ],
        &results,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let test = format!("etcd-watch-{faults}");
    let r = json(&results, &test, "results.json");
    assert_eq!(r["verdict"], "valid");
    let check = &r["check"];
    assert!(check["writes_ok"].as_u64().unwrap() > 1000, "{check}");
    let all = watchers(check);
    // one per node from now, and the default mix beside them
    for start in ["now", "first", "past", "compaction", "future"] {
        assert!(all.iter().any(|w| w["start"] == start), "no {start} watcher: {check}");
    }
    assert!(all.iter().any(|w| w["key"].is_string()), "a filtered watcher");
    assert!(
        all.iter().any(|w| w["prev_kv"] == true),
        "a watcher with previous values"
    );
    assert!(
        all.iter().any(|w| w["progress"].as_u64() > Some(0)),
        "progress answered"
    );
    for w in &all {
        assert_eq!(w["caught_up"], true, "{w}");
        assert!(w["watches"].as_u64().unwrap() > 5, "{w}");
        // every property it could exercise held
        for (property, held) in w["properties"].as_object().expect("properties") {
            assert!(held == "held" || held == "n/a", "{property}: {w}");
        }
        assert_eq!(w["properties"]["reliable"], "held", "{w}");
    }
    // the watchers from now on prefix watches saw the same number of events
    let now: Vec<_> = all
        .iter()
        .filter(|w| w["start"] == "now" && w["key"].is_null())
        .collect();
    assert!(
        !now.is_empty() && now.iter().all(|w| w["events"] == now[0]["events"]),
        "{check}"
    );
    // every member holds the same store at the final revision
    let hashes = check["hashes"].as_array().expect("hashes");
    assert!(!hashes.is_empty(), "{check}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("compact n") && err.contains("is refused"), "{err}");
    let history = std::fs::read_to_string(results.join(&test).join("latest/history.jsonl")).unwrap();
    // the isolated member came back by a snapshot, which its watcher went through
    let catch_up = history
        .lines()
        .find(|l| l.contains("\"f\":\"catch-up\""))
        .expect("the snapshot catch-up ran");
    assert!(catch_up.contains("\"snapshot_applied\":true"), "{catch_up}");
    let junit = std::fs::read_to_string(results.join(&test).join("latest/junit.xml")).unwrap();
    for property in [
        "ordered",
        "unique",
        "atomic",
        "reliable",
        "resumable",
        "bookmarkable",
        "filter",
        "is-create",
        "prev-kv",
        "same",
    ] {
        assert!(junit.contains(&format!("name=\"{property}")), "{property}: {junit}");
    }
    assert!(!junit.contains("<failure"), "{junit}");
    let page = results.join(&test).join("latest/report.html");
    if let Some(dom) = chromium(&page, &results.join("report.png")) {
        assert!(
            dom.contains("<h2>Watchers</h2>") && dom.contains("id=\"watchers\""),
            "{dom}"
        );
        assert!(
            dom.contains("bookmarkable") && dom.contains("is-create"),
            "a column per property"
        );
        assert!(!dom.contains("Lock safety"), "a watch run is no lock run");
    }
}

#[test]
fn an_etcd_watcher_whose_member_was_down_resumes_past_a_compaction() {
    let Some(_one) = common::cluster_test() else { return };
    let results = results_dir("watch-compacted");
    let file = format!("{}/../scenarios/watch-compacted.toml", env!("CARGO_MANIFEST_DIR"));
    let o = run_on(
        "netns",
        &["--system", "etcd", "--workload", "watch", "--scenario", &file],
        &results,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = json(&results, "etcd-watch-scenario-watch-compacted", "results.json");
    let check = &r["check"];
    let acknowledged = check["writes_ok"].as_u64().unwrap();
    let watchers = check["watchers"].as_array().unwrap();
    // n3's watcher was refused its compacted start, resumed from the
    // compaction, missed what lay between, and caught up
    let n3 = watchers.iter().find(|w| w["watcher"] == "n3").unwrap();
    let [from, to] = n3["compacted"][0]
        .as_array()
        .map(|c| [c[0].as_i64().unwrap(), c[1].as_i64().unwrap()])
        .expect("n3 resumed past a compaction");
    assert!(from < to, "{n3}");
    assert!(n3["events"].as_u64().unwrap() < acknowledged, "{n3}");
    assert_eq!(n3["caught_up"], true, "{n3}");
    // a change whose client timed out (info) may have been applied: each
    // such op may add one event beyond the acknowledged ones (a transaction up to 3)
    let info = |f: &str| r["summary"]["by_f"][f]["info"].as_u64().unwrap_or(0);
    let uncertain = info("write") + info("delete") + 3 * info("txn");
    // (the prefix watchers from now: the others start later, or watch one key)
    let others = watchers
        .iter()
        .filter(|w| w["watcher"] != "n3" && w["start"] == "now" && w["key"].is_null());
    for w in others {
        let events = w["events"].as_u64().unwrap();
        assert!(
            (acknowledged..=acknowledged + uncertain).contains(&events),
            "{w}: {acknowledged} acknowledged, {uncertain} uncertain"
        );
    }
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("n3") && out.contains("1 resumed past a compaction"),
        "{out}"
    );
}

/// A `notify` watch run on `system` under kills and partitions: valid, every
/// watcher caught up, having read many states.
fn notified_watchers_read_only_written_states(system: &str) {
    let Some(_one) = common::cluster_test() else { return };
    let results = results_dir(&format!("watch-{system}"));
    let o = run_on(
        "netns",
        &[
            "--system",
            system,
            "--workload",
            "watch",
            "--nemesis",
            "kill,partition",
            "--nemesis-interval",
            "3",
            "--time-limit",
            "20",
            "--seed",
            "3",
        ],
        &results,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = json(&results, &format!("{system}-watch-kill,partition"), "results.json");
    let check = &r["check"];
    assert!(check["writes_ok"].as_u64().unwrap() > 500, "{check}");
    let watchers = check["watchers"].as_array().unwrap();
    assert_eq!(watchers.len(), 3);
    for w in watchers {
        assert_eq!(w["kind"], "notify", "{w}");
        assert_eq!(w["caught_up"], true, "{w}");
        assert!(w["events"].as_u64().unwrap() > 100, "{w}");
    }
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("VALID: every watcher read only states that were written"),
        "{out}"
    );
    assert!(show(&o).contains("kill n"), "the schedule killed a node: {}", show(&o));
}

#[test]
fn zookeeper_watchers_read_back_only_written_states_under_kill_partition() {
    notified_watchers_read_only_written_states("zookeeper");
}

#[test]
fn consul_blocking_queries_read_only_written_states_under_kill_partition() {
    notified_watchers_read_only_written_states("consul");
}
