//! `run --scenario`: named nodes killed and started in a given order on a real
//! etcd, writes in between; what the scenario expects of writes is judged on
//! the history, and an expectation that does not hold fails the run. Needs root.

mod common;

use common::{fresh_dir, json, results_dir, run_on, show};

fn scenario(path: &str) -> String {
    format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_lost_quorum_blocks_writes_and_its_return_unblocks_them() {
    let Some(_one) = common::cluster_test() else { return };
    let results = results_dir("scenario-quorum");
    let file = scenario("scenarios/quorum-loss.toml");
    let o = run_on(
        "netns",
        &["--system", "etcd", "--scenario", &file, "--seed", "3"],
        &results,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = json(&results, "etcd-register-scenario-quorum-loss", "results.json");
    assert_eq!(r["verdict"], "valid");
    let e = r["expectations"].as_array().expect("expectations judged");
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e.iter().all(|x| x["held"] == true), "{e:?}");
    assert!(
        e[0]["acknowledged"].as_u64().unwrap() > 10,
        "a majority commits: {}",
        e[0]
    );
    assert_eq!(e[1]["acknowledged"], 0);
    assert!(
        e[1]["invoked"].as_u64().unwrap() > 0,
        "writes were tried while blocked: {}",
        e[1]
    );
    // the nodes went down and came back in the scenario's order
    let steps: Vec<String> = common::history(&results, "etcd-register-scenario-quorum-loss")
        .into_iter()
        .filter(|op| op["process"] == "nemesis" && op["f"] != "expect")
        .map(|op| format!("{} {}", op["f"].as_str().unwrap(), op["value"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(steps[..3], ["kill n3", "kill n3,n2", "start n2,n3"], "{steps:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("expect writes blocked within 3 s") && out.contains("held"),
        "{out}"
    );
    let page = std::fs::read_to_string(results.join("etcd-register-scenario-quorum-loss/latest/report.html")).unwrap();
    assert!(
        page.contains("<table id=\"expectations\">") && !page.contains("not held"),
        "the report lists them"
    );
}

#[test]
fn an_expectation_that_does_not_hold_fails_the_run() {
    let Some(_one) = common::cluster_test() else { return };
    let results = fresh_dir("scenario-wrong");
    let file = results.join("wrong.toml");
    // one node down is no stuck quorum: writes go on
    std::fs::write(
        &file,
        "[[step]]\nkill = [\"n3\"]\n[[step]]\nexpect = \"blocked\"\nwithin = 3\n",
    )
    .unwrap();
    let o = run_on(
        "netns",
        &["--system", "etcd", "--scenario", file.to_str().unwrap()],
        &results,
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("NOT HELD"), "{out}");
    let err = String::from_utf8_lossy(&o.stderr);
    // the step that failed is named, with what it saw
    assert!(
        err.contains("FAILED: step 2 (from ") && err.contains("expected writes blocked within 3 s, but"),
        "{err}"
    );
}

#[test]
fn a_bad_scenario_is_one_line_before_anything_starts() {
    let results = fresh_dir("scenario-bad");
    let file = results.join("bad.toml");
    std::fs::write(&file, "[[step]]\nkill = [\"n9\"]\n").unwrap();
    let o = run_on(
        "netns",
        &["--system", "etcd", "--scenario", file.to_str().unwrap()],
        &results,
    );
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("step 1: kill: no node \"n9\": the cluster has n1 to n3"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
