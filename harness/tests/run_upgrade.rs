//! `--nemesis upgrade` on real clusters: members upgraded one at a time under
//! load and faults by each system's procedure, every node's version in the
//! history, rollbacks from the mixed cluster and a refused one, and the replicas
//! read on their own at the end (a node kept cut off is said to be behind,
//! never counted as agreeing). Needs root and the Debian archive.

mod common;

use common::{history, json, results_dir, run_on, show};

/// The `versions` ops of the latest run of `test`.
fn versions(results: &std::path::Path, test: &str) -> Vec<serde_json::Value> {
    history(results, test)
        .into_iter()
        .filter(|o| o["process"] == "nemesis" && o["f"] == "versions")
        .map(|o| o["value"].clone())
        .collect()
}

fn upgrade(system: &str, nemesis: &str, from: &str, to: &str, extra: &[&str]) -> (std::process::Output, String) {
    let results = results_dir(&format!("upgrade-{system}-{from}-{}", extra.join("")));
    let mut args = vec![
        "--system",
        system,
        "--nemesis",
        nemesis,
        "--from",
        from,
        "--to",
        to,
        "--time-limit",
        "40",
        "--seed",
        "11",
    ];
    args.extend(extra);
    let o = run_on("netns", &args, &results);
    (o, format!("{}/{system}-register-{nemesis}", results.display()))
}

/// Every node on `version` at the end, valid, replicas agreeing.
fn assert_upgraded(o: &std::process::Output, test: &str, version: &str) {
    assert_eq!(o.status.code(), Some(0), "{}", show(o));
    let (dir, name) = test.rsplit_once('/').unwrap();
    let dir = std::path::Path::new(dir);
    let r = json(dir, name, "results.json");
    assert_eq!(r["verdict"], "valid");
    assert_eq!(r["divergence"]["verdict"], "valid", "{}", r["divergence"]);
    let v = versions(dir, name);
    assert!(
        v.len() >= 5,
        "versions before, after each of 3 steps, at the end: {v:?}"
    );
    let last = v.last().unwrap();
    for node in ["n1", "n2", "n3"] {
        assert_eq!(last[node], version, "{last}");
    }
    // a mixed-version stretch was recorded
    assert!(v.iter().any(|x| x["n1"] != x["n3"] || x["n1"] != x["n2"]), "{v:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("upgrade n"), "the steps are fault windows: {out}");
}

#[test]
fn etcd_3_4_to_3_5_under_partitions_and_kills_stays_valid() {
    let Some(_one) = common::cluster_test() else { return };
    let (o, test) = upgrade("etcd", "partition,kill,upgrade", "3.4.23", "3.5.16", &[]);
    assert_upgraded(&o, &test, "3.5.16");
    let (dir, name) = test.rsplit_once('/').unwrap();
    let v = versions(std::path::Path::new(dir), name);
    assert_eq!(v[0]["cluster"], "3.4.0", "{v:?}");
    assert_eq!(v.last().unwrap()["cluster"], "3.5.0", "{v:?}");
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn etcd_3_3_to_3_4_stays_valid() {
    let Some(_one) = common::cluster_test() else { return };
    let (o, test) = upgrade("etcd", "kill,upgrade", "3.3.25", "3.4.23", &[]);
    assert_upgraded(&o, &test, "3.4.23");
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn zookeeper_3_8_to_3_9_under_partitions_and_kills_stays_valid() {
    let Some(_one) = common::cluster_test() else { return };
    let (o, test) = upgrade("zookeeper", "partition,kill,upgrade", "3.8.0", "3.9.3", &[]);
    assert_upgraded(&o, &test, "3.9.3");
}

#[test]
fn etcd_refuses_a_rollback_after_a_full_upgrade_and_the_run_says_so() {
    let Some(_one) = common::cluster_test() else { return };
    let (o, test) = upgrade(
        "etcd",
        "upgrade",
        "3.4.23",
        "3.5.16",
        &["--rollback", "full", "--nemesis-interval", "6"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let (dir, name) = test.rsplit_once('/').unwrap();
    let dir = std::path::Path::new(dir);
    let refused: Vec<serde_json::Value> = history(dir, name)
        .into_iter()
        .filter(|o| o["f"] == "rollback-refused")
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let said = refused[0]["value"].as_str().unwrap();
    assert!(said.contains("invalid downgrade"), "{said}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("REFUSED (invalid downgrade"), "{err}");
    // the member is back on the new version, and the cluster whole and valid
    let last = versions(dir, name).pop().unwrap();
    assert_eq!(last["n1"], "3.5.16", "{last}");
    assert_eq!(last["cluster"], "3.5.0", "{last}");
    assert_eq!(json(dir, name, "results.json")["verdict"], "valid");
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn zookeeper_rolls_back_from_the_mixed_cluster() {
    let Some(_one) = common::cluster_test() else { return };
    let (o, test) = upgrade(
        "zookeeper",
        "upgrade",
        "3.8.0",
        "3.9.3",
        &["--rollback", "--nemesis-interval", "4"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let (dir, name) = test.rsplit_once('/').unwrap();
    let dir = std::path::Path::new(dir);
    let h = history(dir, name);
    let steps: Vec<&str> = h
        .iter()
        .filter(|o| o["f"] == "upgrade" || o["f"] == "rollback")
        .map(|o| o["f"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["upgrade", "upgrade", "rollback", "rollback"]);
    let last = versions(dir, name).pop().unwrap();
    for node in ["n1", "n2", "n3"] {
        assert_eq!(last[node], "3.8.0", "{last}");
    }
}

#[test]
fn a_node_kept_cut_off_through_the_final_reads_is_behind_never_agreeing() {
    let Some(_one) = common::cluster_test() else { return };
    let results = results_dir("cut-off");
    let scenario = results.with_extension("toml");
    std::fs::write(
        &scenario,
        "[[step]]\nwait = 2\n[[step]]\nisolate = [\"n3\"]\n[[step]]\nwait = 4\n[[step]]\nhold = true\n",
    )
    .unwrap();
    let o = run_on(
        "netns",
        &[
            "--system",
            "etcd",
            "--scenario",
            scenario.to_str().unwrap(),
            "--recovery-time",
            "2",
        ],
        &results,
    );
    assert_eq!(o.status.code(), Some(2), "unknown: {}", show(&o));
    let name = format!(
        "etcd-register-scenario-{}",
        scenario.file_stem().unwrap().to_string_lossy()
    );
    let d = &json(&results, &name, "results.json")["divergence"];
    assert_eq!(d["verdict"], "unknown", "{d}");
    assert_eq!(d["agreeing"], serde_json::json!(["n1", "n2"]), "{d}");
    assert_eq!(d["unread"][0]["node"], "n3", "{d}");
    assert!(
        d["unread"][0]["why"].as_str().unwrap().starts_with("not caught up"),
        "{d}"
    );
    let _ = std::fs::remove_file(&scenario);
}

#[test]
fn versions_lists_and_fetches_every_etcd_version_with_the_documented_paths() {
    let _one = common::one_at_a_time();
    let o = common::splitbrain(&["versions", "--system", "etcd", "--fetch"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for (version, suite) in [("3.5.16", "trixie"), ("3.4.23", "bookworm"), ("3.3.25", "bullseye")] {
        let line = out
            .lines()
            .find(|l| l.starts_with("etcd") && l.contains(version))
            .unwrap_or_else(|| panic!("no {version}: {out}"));
        assert!(
            line.contains(&format!("Debian {suite}")) && line.contains("ready ("),
            "{line}"
        );
    }
    assert!(out.contains("etcd       3.4.23 -> 3.5.16, 3.3.25 -> 3.4.23"), "{out}");
    let bad = common::splitbrain(&["versions", "--system", "mongo"]);
    assert_eq!(bad.status.code(), Some(3));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("use etcd, zookeeper, consul") && err.lines().count() == 1,
        "{err}"
    );
}
