//! `splitbrain run` against real ZooKeeper and Consul clusters in network
//! namespaces: the strong read modes stay valid under faults, the weak ones are
//! caught serving stale reads. Needs root, Java and the Debian archive.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{json, results_dir, run_on, show};

fn run(name: &str, args: &[&str]) -> (Output, PathBuf) {
    let results = results_dir(name);
    (run_on("netns", args, &results), results)
}

fn assert_valid_under_faults(system: &str, read_mode: &str) {
    let Some(_one) = common::cluster_test() else { return };
    let (o, results) = run(
        &format!("{system}-valid"),
        &[
            "--system",
            system,
            "--read-mode",
            read_mode,
            "--nemesis",
            "partition,kill,pause",
            "--time-limit",
            "20",
            "--nemesis-interval",
            "3",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = json(
        &results,
        &format!("{system}-register-partition,kill,pause"),
        "results.json",
    );
    assert_eq!(r["verdict"], "valid");
    let ok = r["summary"]["ops"]["ok"].as_u64().unwrap();
    assert!(ok > 1000, "only {ok} ok ops: {}", show(&o));
    assert!(r["summary"]["faults"].as_array().unwrap().len() >= 3);
    common::assert_full_membership(&r);
}

fn assert_stale_reads_caught(system: &str, read_mode: &str, shape: &str) {
    let Some(_one) = common::cluster_test() else { return };
    let (o, results) = run(
        &format!("{system}-stale"),
        &[
            "--system",
            system,
            "--read-mode",
            read_mode,
            "--nemesis",
            "partition",
            "--partition",
            shape,
            // a reader on every node, so the cut-off one is read from for as long as it answers
            "--readers",
            "3",
            "--time-limit",
            "15",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("cannot linearize") && out.contains("read"), "{out}");
    assert_eq!(
        json(&results, &format!("{system}-register-partition"), "results.json")["verdict"],
        "invalid"
    );
}

#[test]
fn zookeeper_sync_reads_stay_valid_under_partition_kill_pause() {
    assert_valid_under_faults("zookeeper", "sync");
}

#[test]
fn zookeeper_plain_reads_from_a_cut_off_follower_are_caught() {
    assert_stale_reads_caught("zookeeper", "plain", "follower");
}

#[test]
fn consul_consistent_reads_stay_valid_under_partition_kill_pause() {
    assert_valid_under_faults("consul", "consistent");
}

#[test]
fn consul_stale_reads_are_caught() {
    assert_stale_reads_caught("consul", "stale", "leader");
}

/// Ctrl-C while ZooKeeper's JVMs are still starting (before the cluster is ready)
/// ends the run within a second, with nothing left behind.
#[test]
fn ctrl_c_during_setup_ends_the_run_within_a_second() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let Some(_one) = common::cluster_test() else { return };
    let results = results_dir("zk-setup-sigint");
    let mut child = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .args([
            "run",
            "--runtime",
            "netns",
            "--system",
            "zookeeper",
            "--time-limit",
            "30",
        ])
        .arg("--results")
        .arg(&results)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn splitbrain");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("stderr line");
        let started = line.contains("results in");
        seen.push(line);
        if started {
            break;
        }
    }
    // the namespaces exist and the JVMs are starting; they take seconds to elect
    std::thread::sleep(Duration::from_millis(300));
    common::signal(child.id(), "INT");
    let sent = Instant::now();
    let status = child.wait().expect("wait");
    let took = sent.elapsed();
    seen.extend(lines.map_while(Result::ok));
    assert_eq!(status.code(), Some(3), "{seen:?}");
    assert!(took < Duration::from_secs(1), "took {took:?} to stop: {seen:?}");
    assert!(seen.iter().any(|l| l.contains("interrupted during setup")), "{seen:?}");
    assert!(!seen.iter().any(|l| l.contains("cluster ready")), "{seen:?}");
    let left = common::leftovers(&results);
    assert!(left.is_empty(), "left behind: {left:?}");
}
