//! `splitbrain run` against real ZooKeeper and Consul clusters in network
//! namespaces: the strong read modes stay valid under faults, the weak ones are
//! caught serving stale reads. Needs root, Java and the Debian archive.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    let root = String::from_utf8_lossy(&out.stdout).trim() == "0";
    if !root {
        eprintln!("skipped: needs root for network namespaces");
    }
    root
}

fn run(name: &str, args: &[&str]) -> (Output, PathBuf) {
    let results = std::env::temp_dir().join(format!("splitbrain-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&results);
    let o = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .args(["run", "--runtime", "netns"])
        .args(args)
        .arg("--results")
        .arg(&results)
        .output()
        .expect("run splitbrain");
    (o, results)
}

fn show(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn verdict(results: &Path, test: &str) -> serde_json::Value {
    let path = results.join(test).join("latest/results.json");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("results.json")).expect("json");
    r
}

fn assert_valid_under_faults(system: &str, read_mode: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !root() {
        return;
    }
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
    let r = verdict(&results, &format!("{system}-register-partition,kill,pause"));
    assert_eq!(r["verdict"], "valid");
    let ok = r["summary"]["ops"]["ok"].as_u64().unwrap();
    assert!(ok > 1000, "only {ok} ok ops: {}", show(&o));
    assert!(r["summary"]["faults"].as_array().unwrap().len() >= 3);
}

fn assert_stale_reads_caught(system: &str, read_mode: &str, shape: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !root() {
        return;
    }
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
        verdict(&results, &format!("{system}-register-partition"))["verdict"],
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
