//! `splitbrain run --runtime docker`: the same tests with every node a container
//! of a locally built image, the same faults (iptables in the container's
//! namespace, real signals), and nothing left behind. Needs root and a Docker
//! engine; builds the images itself (`splitbrain images build`) when missing.

mod common;

use std::path::Path;
use std::process::Command;

use common::{json, one_at_a_time_if, results_dir, run_on as run, show, signal, start_and_wait};

/// Root, an engine, and the images (built on first use); else why not.
fn ready() -> bool {
    if !common::is_root() {
        eprintln!("skipped: needs root");
        return false;
    }
    if !Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("skipped: no docker engine answers");
        return false;
    }
    let built = common::splitbrain(&["images", "build"]);
    assert!(built.status.success(), "{}", show(&built));
    true
}

/// Containers and networks labelled splitbrain, whatever run they belong to.
fn leftovers() -> Vec<String> {
    let list = |args: &[&str]| -> Vec<String> {
        let o = Command::new("docker").args(args).output().expect("docker");
        String::from_utf8_lossy(&o.stdout).lines().map(String::from).collect()
    };
    let mut left = list(&[
        "ps",
        "-a",
        "--filter",
        "label=splitbrain",
        "--format",
        "container {{.Names}}",
    ]);
    left.extend(list(&[
        "network",
        "ls",
        "--filter",
        "label=splitbrain",
        "--format",
        "network {{.Name}}",
    ]));
    left
}

#[test]
fn etcd_in_containers_stays_valid_under_partition_kill_pause() {
    let Some(_one) = one_at_a_time_if(ready) else { return };
    let results = results_dir("valid");
    let o = run(
        "docker",
        &[
            "--nemesis",
            "partition,kill,pause",
            "--time-limit",
            "20",
            "--nemesis-interval",
            "3",
        ],
        &results,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let test = "etcd-register-partition,kill,pause";
    let r = json(&results, test, "results.json");
    assert_eq!(r["verdict"], "valid");
    assert!(r["summary"]["ops"]["ok"].as_u64().unwrap() > 1000, "{}", show(&o));
    assert!(r["summary"]["faults"].as_array().unwrap().len() >= 3);
    assert_eq!(json(&results, test, "test.json")["runtime"], "docker");
    // the members' logs were saved from the containers before they went
    let log = results.join(test).join("latest/nodes/n1.log");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("etcd"), "{}: {text}", log.display());
    assert!(leftovers().is_empty(), "{:?}", leftovers());
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn etcd_serializable_reads_in_containers_are_caught() {
    let Some(_one) = one_at_a_time_if(ready) else { return };
    let results = results_dir("stale");
    let args = [
        "--read-mode",
        "serializable",
        "--nemesis",
        "partition",
        "--partition",
        "leader",
        "--readers",
        "3",
        "--time-limit",
        "15",
    ];
    let o = run("docker", &args, &results);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("cannot linearize"));
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn zookeeper_and_consul_run_in_containers() {
    let Some(_one) = one_at_a_time_if(ready) else { return };
    for system in ["zookeeper", "consul"] {
        let results = results_dir(system);
        let args = [
            "--system",
            system,
            "--nemesis",
            "partition,kill,pause",
            "--time-limit",
            "15",
            "--nemesis-interval",
            "3",
        ];
        let o = run("docker", &args, &results);
        assert_eq!(o.status.code(), Some(0), "{system}: {}", show(&o));
        let r = json(
            &results,
            &format!("{system}-register-partition,kill,pause"),
            "results.json",
        );
        assert!(
            r["summary"]["ops"]["ok"].as_u64().unwrap() > 500,
            "{system}: {}",
            show(&o)
        );
    }
    assert!(leftovers().is_empty(), "{:?}", leftovers());
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn the_lock_workload_runs_in_containers() {
    let Some(_one) = one_at_a_time_if(ready) else { return };
    let results = results_dir("lock");
    let args = [
        "--workload",
        "lock",
        "--resource",
        "naive",
        "--nemesis",
        "client-pause",
        "--time-limit",
        "20",
        "--nemesis-interval",
        "4",
    ];
    let o = run("docker", &args, &results);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("lost update"),
        "{}",
        show(&o)
    );
    assert!(leftovers().is_empty(), "{:?}", leftovers());
}

/// The nemesis ops of a run's history: what each fault and heal did.
fn faults(results: &Path, test: &str) -> Vec<(String, String)> {
    common::history(results, test)
        .into_iter()
        .filter(|op| op["process"] == "nemesis")
        .map(|op| {
            (
                op["f"].as_str().unwrap_or("").into(),
                op["value"].as_str().unwrap_or("").into(),
            )
        })
        .collect()
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn same_seed_same_fault_schedule_on_both_runtimes() {
    let Some(_one) = one_at_a_time_if(ready) else { return };
    let args = [
        "--nemesis",
        "kill,pause",
        "--seed",
        "11",
        "--time-limit",
        "10",
        "--nemesis-interval",
        "2",
    ];
    let mut seen = Vec::new();
    for runtime in ["netns", "docker"] {
        let results = results_dir(&format!("seed-{runtime}"));
        let o = run(runtime, &args, &results);
        assert_eq!(o.status.code(), Some(0), "{runtime}: {}", show(&o));
        seen.push(faults(&results, "etcd-register-kill,pause"));
    }
    assert!(seen[0].len() >= 4, "{:?}", seen[0]);
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn sigkill_then_clean_and_sigint_alone_leave_no_container_or_network() {
    let Some(_one) = one_at_a_time_if(ready) else { return };
    let mut run = start_and_wait("docker", &results_dir("sigkill"));
    run.0.kill().expect("SIGKILL");
    run.0.wait().expect("wait");
    assert!(
        !leftovers().is_empty(),
        "a SIGKILLed run should leave its containers behind"
    );
    let o = common::splitbrain(&["clean"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("removed container"),
        "{}",
        show(&o)
    );
    assert!(leftovers().is_empty(), "{:?}", leftovers());

    let mut run = start_and_wait("docker", &results_dir("sigint"));
    signal(run.0.id(), "INT");
    assert_eq!(
        run.0.wait().expect("wait").code(),
        Some(3),
        "an interrupted run exits 3"
    );
    assert!(leftovers().is_empty(), "{:?}", leftovers());
}

#[test]
fn a_missing_image_is_one_clear_line() {
    let Some(_one) = one_at_a_time_if(ready) else { return };
    let o = run(
        "docker",
        &["--image", "splitbrain/etcd:0.0.0-none"],
        &results_dir("noimage"),
    );
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    // (another run going on this machine is said and left alone: not this run's error)
    let said: Vec<&str> = err.lines().filter(|l| !l.ends_with("left alone")).collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(err.contains("images build") && err.contains("--runtime netns"), "{err}");
}

#[test]
fn an_etcd_drill_on_containers_restores_re_created_members() {
    let Some(_one) = one_at_a_time_if(ready) else { return };
    let results = results_dir("docker-drill");
    // force-new-cluster starts members with other flags: containers made anew
    let o = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .args(["drill", "--system", "etcd", "--runtime", "docker", "--seed", "6"])
        .args(["--runbook", "force-new-cluster", "--results"])
        .arg(&results)
        .output()
        .expect("drill");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = json(&results, "etcd-drill-force-new-cluster", "results.json");
    assert_eq!(r["drill"]["violations"], serde_json::json!([]), "{}", r["drill"]);
    assert!(r["drill"]["rto_s"].as_f64().is_some(), "{}", r["drill"]);
    common::assert_full_membership(&r);
    assert_eq!(leftovers(), Vec::<String>::new());
    // each member's log holds the containers it ran in, one after another
    let log = std::fs::read_to_string(results.join("etcd-drill-force-new-cluster/latest/nodes/n1.log")).unwrap();
    assert!(
        log.contains("\"force-new-cluster\":true") && log.contains("\"force-new-cluster\":false"),
        "{}",
        &log[..log.len().min(2000)]
    );
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn an_upgrade_in_containers_moves_each_member_to_the_new_versions_image() {
    let Some(_one) = one_at_a_time_if(ready) else { return };
    // one image per version: the one to upgrade from as well
    let built = common::splitbrain(&["images", "build", "--system", "etcd", "--version", "3.4.23"]);
    assert!(built.status.success(), "{}", show(&built));
    let results = results_dir("upgrade");
    let o = run(
        "docker",
        &[
            "--nemesis",
            "upgrade",
            "--from",
            "3.4.23",
            "--to",
            "3.5.16",
            "--time-limit",
            "25",
        ],
        &results,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let test = "etcd-register-upgrade";
    assert_eq!(json(&results, test, "test.json")["runtime"], "docker");
    assert_eq!(json(&results, test, "results.json")["verdict"], "valid");
    let last = common::history(&results, test)
        .into_iter()
        .rfind(|op| op["f"] == "versions")
        .expect("versions recorded");
    for node in ["n1", "n2", "n3"] {
        assert_eq!(last["value"][node], "3.5.16", "{last}");
    }
    // each member's log holds both containers', old version and new
    let log = std::fs::read_to_string(results.join(test).join("latest/nodes/n1.log")).unwrap_or_default();
    assert!(log.contains("3.4.23") && log.contains("3.5.16"), "{log}");
    assert!(leftovers().is_empty(), "{:?}", leftovers());
}
