//! `--nemesis member` on real clusters: a member removed the system's way under
//! load (etcd `member remove`, ZooKeeper `reconfig -remove`, Consul `leave`) and
//! added back fresh (etcd as a learner, then promoted; ZooKeeper `reconfig
//! -add`), never below a majority of the configured size; the run stays valid
//! and the replicas agree. Needs root and the Debian archive.

mod common;

use common::{assert_full_membership, history, json, results_dir, run_on, show};

fn members(system: &str, extra: &[&str]) {
    let results = results_dir(&format!("member-{system}"));
    let mut args = vec![
        "--system",
        system,
        "--nemesis",
        "member",
        "--time-limit",
        "30",
        "--seed",
        "4",
    ];
    args.extend(extra);
    let o = run_on("netns", &args, &results);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let test = format!("{system}-register-member");
    let r = json(&results, &test, "results.json");
    assert_eq!(r["verdict"], "valid");
    assert_eq!(r["divergence"]["verdict"], "valid", "{}", r["divergence"]);
    assert_full_membership(&r);
    let h = history(&results, &test);
    let removed: Vec<&str> = h
        .iter()
        .filter(|o| o["f"] == "member-remove")
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert!(!removed.is_empty(), "a member was removed");
    // the node set follows each change, and never drops below two of three
    for r in &removed {
        let (_, after) = r.rsplit_once("members ").expect("the members after");
        assert_eq!(after.split(',').count(), 2, "{r}");
    }
    let added: Vec<&str> = h
        .iter()
        .filter(|o| o["f"] == "heal")
        .filter_map(|o| o["value"].as_str())
        .filter(|v| v.contains("add n"))
        .collect();
    assert_eq!(added.len(), removed.len(), "each removed member added back: {added:?}");
    assert!(added.iter().all(|a| a.ends_with("members n1,n2,n3")), "{added:?}");
    if system == "etcd" {
        assert!(added.iter().all(|a| a.contains("learner promoted")), "{added:?}");
    }
}

#[test]
fn etcd_members_removed_and_added_back_as_learners_under_load_stay_valid() {
    let Some(_one) = common::cluster_test() else { return };
    members("etcd", &[]);
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn consul_servers_that_leave_and_join_again_under_load_stay_valid() {
    let Some(_one) = common::cluster_test() else { return };
    members("consul", &[]);
}

#[test]
#[ignore = "matrix: cargo test --workspace -- --include-ignored"]
fn zookeeper_servers_reconfigured_out_and_in_under_load_stay_valid() {
    let Some(_one) = common::cluster_test() else { return };
    members("zookeeper", &[]);
}
