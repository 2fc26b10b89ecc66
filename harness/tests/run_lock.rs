//! The lock workload against real etcd, ZooKeeper and Consul clusters: with one
//! holder stalled past its lease (`client-pause`), a naive resource loses
//! updates and the checker says so; a fenced resource rejects the stale holder
//! and the run is valid. Needs root, Java and the Debian archive.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{results_dir, show};

/// Runs the lock workload with client pauses; returns the output and results.json.
fn run_lock(system: &str, resource: &str, extra: &[&str]) -> (Output, serde_json::Value, PathBuf) {
    let results = results_dir(&format!("lock-{system}-{resource}"));
    let o = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .args(["run", "--runtime", "netns", "--system", system, "--workload", "lock"])
        .args(["--resource", resource])
        .args(["--nemesis", "client-pause"])
        .args(extra)
        .arg("--results")
        .arg(&results)
        .output()
        .expect("run splitbrain");
    let path = results
        .join(format!("{system}-lock-{resource}-client-pause"))
        .join("latest/results.json");
    let r = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (o, r, results)
}

fn kinds(r: &serde_json::Value) -> Vec<String> {
    r["check"]["violations"]
        .as_array()
        .map(|v| v.iter().filter_map(|x| x["kind"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn assert_naive_fails(system: &str, extra: &[&str]) {
    let Some(_one) = common::cluster_test() else { return };
    let (o, r, _) = run_lock(system, "naive", extra);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert_eq!(r["verdict"], "invalid", "{}", show(&o));
    let k = kinds(&r);
    assert!(
        k.iter().any(|k| k == "lost_update"),
        "no lost update in {k:?}: {}",
        show(&o)
    );
    assert!(k.iter().any(|k| k == "stale_write_accepted"), "{k:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("INVALID") && out.contains("lost update"), "{out}");
}

fn assert_fenced_holds(system: &str, extra: &[&str]) {
    let Some(_one) = common::cluster_test() else { return };
    let (o, r, results) = run_lock(system, "fenced", extra);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(r["verdict"], "valid");
    let stats = &r["check"]["stats"];
    let rejected = stats["writes_rejected_stale"].as_u64().unwrap() + stats["reads_rejected_stale"].as_u64().unwrap();
    assert!(
        rejected >= 1,
        "the paused holder was never fenced off: {stats}\n{}",
        show(&o)
    );
    assert!(stats["writes_ok"].as_u64().unwrap() > 20, "{stats}");
    // the history is checked the same way offline
    let history = results.join(format!("{system}-lock-fenced-client-pause/latest/history.jsonl"));
    let again = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .arg("check")
        .arg(Path::new(&history))
        .output()
        .expect("check");
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    // as a lease-less mutex (Knossos-style) the lock itself is not one: the
    // stalled holder and the next overlapped; fencing is what kept the resource safe
    let mutex = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .args(["check", "--model", "mutex"])
        .arg(Path::new(&history))
        .output()
        .expect("check");
    assert_eq!(mutex.status.code(), Some(1), "{}", show(&mutex));
}

const SHORT: &[&str] = &["--time-limit", "20", "--nemesis-interval", "4", "--seed", "1"];
/// Consul with every default (TTL 10 s, lock-delay 15 s, faults every 5 s, a seed
/// from the clock): the stall (2 x 10 + 15 + 3 = 38 s) outlasts the session and its
/// lock-delay, and the run waits for it.
const CONSUL: &[&str] = &["--time-limit", "40"];

#[test]
fn etcd_naive_lock_loses_updates_when_a_holder_stalls() {
    assert_naive_fails("etcd", SHORT);
}

#[test]
fn etcd_fenced_lock_holds_when_a_holder_stalls() {
    assert_fenced_holds("etcd", SHORT);
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn zookeeper_naive_lock_loses_updates_when_a_holder_stalls() {
    assert_naive_fails("zookeeper", SHORT);
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn zookeeper_fenced_lock_holds_when_a_holder_stalls() {
    assert_fenced_holds("zookeeper", SHORT);
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn consul_naive_lock_loses_updates_when_a_holder_stalls() {
    assert_naive_fails("consul", CONSUL);
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn consul_fenced_lock_holds_when_a_holder_stalls() {
    assert_fenced_holds("consul", CONSUL);
}

#[test]
fn client_pause_needs_the_lock_workload() {
    let o = common::splitbrain(&["run", "--workload", "register", "--nemesis", "client-pause"]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--workload lock"), "{err}");
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn etcd_gives_no_lock_to_a_waiter_stalled_past_its_lease() {
    let Some(_one) = common::cluster_test() else { return };
    let (o, r, results) = run_lock("etcd", "naive", &["--client-pause-at", "wait", "--time-limit", "20"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(r["verdict"], "valid");
    let history = std::fs::read_to_string(results.join("etcd-lock-naive-client-pause/latest/history.jsonl")).unwrap();
    assert!(
        history.contains("the next client waiting for the lock stalls"),
        "no stall armed"
    );
    // the stalled waiter's acquire did not come back ok: its lease lapsed in the queue
    let unknown = history
        .lines()
        .filter(|l| {
            l.contains("\"f\":\"acquire\"") && !l.contains("\"type\":\"ok\"") && !l.contains("\"type\":\"invoke\"")
        })
        .count();
    assert!(unknown >= 1, "{}", show(&o));
}
