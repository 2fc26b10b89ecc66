//! The clock nemesis against real etcd clusters: a soak of hundreds of skews
//! injected, changed and removed under load leaves the cluster healthy and the
//! run valid; leases that expire early on a leader whose clocks jump forward let
//! a naive lock resource lose updates, and the checker says so. The other
//! systems and shapes are in ci/clock.toml. Needs root and the Debian archive.

mod common;

use common::{assert_full_membership, history, json, results_dir, run_on, show};

fn nemesis_ops<'a>(h: &'a [serde_json::Value], f: &str) -> Vec<&'a serde_json::Value> {
    h.iter().filter(|o| o["process"] == "nemesis" && o["f"] == f).collect()
}

#[test]
fn hundreds_of_skews_on_a_loaded_etcd_leave_it_healthy_and_valid() {
    let Some(_one) = common::cluster_test() else { return };
    let results = results_dir("clock-soak");
    // a fault and a heal every 0.1 s: each patches or restores a node's vDSO
    let o = run_on(
        "netns",
        &[
            "--system",
            "etcd",
            "--nemesis",
            "clock",
            "--nemesis-interval",
            "0.1",
            "--time-limit",
            "22",
            "--seed",
            "7",
        ],
        &results,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let test = "etcd-register-clock";
    let r = json(&results, test, "results.json");
    assert_eq!(r["verdict"], "valid");
    assert_full_membership(&r);
    let h = history(&results, test);
    let (faults, heals) = (nemesis_ops(&h, "clock").len(), nemesis_ops(&h, "heal").len());
    assert!(faults + heals >= 200, "{faults} skews and {heals} heals");
    assert!(nemesis_ops(&h, "clock-skipped").is_empty(), "{}", show(&o));
    // every shape was drawn, and the offsets were kept
    for shape in ["bump", "strobe", "drift"] {
        assert!(
            nemesis_ops(&h, "clock")
                .iter()
                .any(|op| op["value"].as_str().unwrap().contains(shape)),
            "no {shape}"
        );
    }
    let offsets = nemesis_ops(&h, "clock-offsets");
    assert!(offsets.len() >= 20, "{} clock-offsets ops", offsets.len());
    assert!(offsets.iter().any(|op| op["value"].to_string().contains("30000000000")));
    let page = std::fs::read_to_string(results.join(test).join("latest/report.html")).unwrap();
    assert!(page.contains("Clock offsets"), "the report plots the offsets");
}

fn lock_on_the_leader(resource: &str, seed: &str) -> (std::process::Output, serde_json::Value) {
    let results = results_dir(&format!("clock-lock-{resource}-{seed}"));
    let o = run_on(
        "netns",
        &[
            "--system",
            "etcd",
            "--workload",
            "lock",
            "--resource",
            resource,
            "--nemesis",
            "clock",
            "--clock",
            "bump,strobe",
            "--clock-direction",
            "forward",
            "--clock-target",
            "leader",
            "--think",
            "0.5",
            "--nemesis-interval",
            "3",
            "--time-limit",
            "30",
            "--seed",
            seed,
        ],
        &results,
    );
    assert_ne!(o.status.code(), Some(3), "{}", show(&o));
    let r = json(&results, &format!("etcd-lock-{resource}-clock"), "results.json");
    (o, r)
}

#[test]
fn leases_expiring_early_on_a_skewed_leader_are_caught_with_a_naive_resource() {
    let Some(_one) = common::cluster_test() else { return };
    // caught in 4 of 5 runs of 30 s measured (a leader that steps down as its
    // clock jumps expires no lease): a second run with another seed makes a
    // miss of both rare
    let (mut o, mut r) = lock_on_the_leader("naive", "1");
    if o.status.code() == Some(0) {
        eprintln!("missed in the first run; a second with another seed");
        (o, r) = lock_on_the_leader("naive", "2");
    }
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert_eq!(r["verdict"], "invalid");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("conflicting overlap"), "{out}");
}

#[test]
fn a_fenced_resource_holds_under_the_same_clock_faults() {
    let Some(_one) = common::cluster_test() else { return };
    let (o, r) = lock_on_the_leader("fenced", "1");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(r["verdict"], "valid");
}
