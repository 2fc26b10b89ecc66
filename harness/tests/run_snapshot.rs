//! A member brought back by a snapshot (`--nemesis isolate-until-snapshot`):
//! on a real etcd 3.5.16 under load, a follower cut off while the leader writes
//! past what it keeps for followers, then healed; the member's own metrics and
//! log say it applied the snapshot, and the op in the history carries that
//! evidence. Systems splitbrain drives no such catch-up on get one line. Needs
//! root and the Debian archive (or etcd 3.5.16 in the cache).

mod common;

use common::{cluster_test, history, json, refused_in_one_line, results_dir, run_on, show, temp_file};

/// The history's nemesis ops of `f`, in order.
fn ops(h: &[serde_json::Value], f: &str) -> Vec<serde_json::Value> {
    h.iter()
        .filter(|o| o["process"] == "nemesis" && o["f"] == f)
        .cloned()
        .collect()
}

/// An index out of a JSON log line: `"key":N`.
fn index_in(line: &str, key: &str) -> u64 {
    let (_, rest) = line
        .split_once(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("{key} in {line}"));
    rest.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

#[test]
fn an_etcd_member_cut_off_comes_back_by_a_snapshot_it_says_it_applied() {
    let Some(_one) = cluster_test() else { return };
    let results = results_dir("snapshot");
    let o = run_on(
        "netns",
        &[
            "--system",
            "etcd",
            "--version",
            "3.5.16",
            "--workload",
            "register",
            "--nemesis",
            "isolate-until-snapshot",
            "--nemesis-interval",
            "8",
            "--time-limit",
            "20",
            "--seed",
            "5",
        ],
        &results,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let test = "etcd-register-isolate-until-snapshot";
    assert_eq!(json(&results, test, "results.json")["verdict"], "valid");
    // no --snapshot-count given: the catch-up's own, recorded as run
    assert_eq!(json(&results, test, "test.json")["snapshot_count"], 1000);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("--snapshot-count 1000 (none given"), "{stderr}");
    let h = history(&results, test);
    let (cuts, heals, catch_ups) = (ops(&h, "isolate-until-snapshot"), ops(&h, "heal"), ops(&h, "catch-up"));
    // one fault window (at 8 s; the next would start past the time limit)
    assert_eq!((cuts.len(), catch_ups.len()), (1, 1), "{cuts:?} {catch_ups:?}");
    let c = &catch_ups[0]["value"];
    assert_eq!(c["snapshot_applied"], true, "{c}");
    let (member, leader) = (c["member"].as_str().unwrap(), c["leader"].as_str().unwrap());
    assert_ne!(member, leader);
    let cut = cuts[0]["value"].as_str().unwrap();
    assert!(
        cut.starts_with(&format!("{member}: ")) && cut.ends_with(&format!("({leader} leads)")),
        "{cut}"
    );
    assert!(heals[0]["value"].as_str().unwrap().contains(&format!("{member} back")));
    let at = |o: &serde_json::Value| o["time"].as_u64().unwrap();
    assert!(at(&cuts[0]) < at(&heals[0]) && at(&heals[0]) < at(&catch_ups[0]));
    // the leader went past the member, what it keeps, a snapshot count and the margin
    let cut_at = c["applied_at_cut"].as_u64().unwrap();
    assert!(
        c["leader_applied_at_heal"].as_u64().unwrap() > cut_at + 100 + 1000 + 500,
        "{c}"
    );
    assert!(c["filler_writes"].as_u64().unwrap() > 0, "{c}");
    assert!(c["applied_after_heal_ns"].as_u64().unwrap() < 60_000_000_000, "{c}");
    // the leader's log said it dropped the entries the member lacked
    let compacted = c["leader_said"].as_str().unwrap();
    assert!(index_in(compacted, "compact-index") > cut_at, "{compacted}");
    // the member's metric and its log line, as the member itself has them
    let metric = c["evidence"]["metric"].as_str().unwrap();
    assert_eq!(metric, "etcd_network_snapshot_receive_success 0 -> 1", "{c}");
    let line = c["evidence"]["log"].as_str().unwrap();
    assert!(line.contains("\"msg\":\"applied snapshot\""), "{line}");
    assert!(
        index_in(line, "incoming-leader-snapshot-index") > cut_at + 100,
        "{line}"
    );
    let log = std::fs::read_to_string(results.join(test).join(format!("latest/nodes/{member}.log"))).unwrap();
    assert!(log.contains(line), "{member}'s log has the line");
    // every member kept only 100 entries for followers
    assert!(log.contains("\"snapshot-catchup-entries\":100"), "{member}");
}

#[test]
fn a_scenario_step_brings_a_follower_back_by_snapshot() {
    let Some(_one) = cluster_test() else { return };
    let results = results_dir("snapshot-step");
    let scenario = temp_file(
        "catch-up.toml",
        "[[step]]\nwait = 1\n[[step]]\nisolate-until-snapshot = true\n[[step]]\nwait = 1\n",
    );
    let o = run_on(
        "netns",
        &["--system", "etcd", "--version", "3.5.16", "--scenario", &scenario],
        &results,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let h = history(&results, "etcd-register-scenario-catch-up");
    let catch_ups = ops(&h, "catch-up");
    assert_eq!(catch_ups.len(), 1, "{catch_ups:?}");
    let c = &catch_ups[0]["value"];
    assert_eq!(c["snapshot_applied"], true, "{c}");
    // `true` takes n1, or n2 when n1 leads
    assert!(["n1", "n2"].contains(&c["member"].as_str().unwrap()), "{c}");
}

#[test]
fn systems_without_an_automated_catch_up_are_refused_in_one_line() {
    refused_in_one_line(
        &["--system", "zookeeper", "--nemesis", "isolate-until-snapshot"],
        "--nemesis isolate-until-snapshot: only etcd (splitbrain drives no catch-up by snapshot on zookeeper)",
    );
    let scenario = temp_file("catch-up-consul.toml", "[[step]]\nisolate-until-snapshot = \"n2\"\n");
    refused_in_one_line(
        &["--system", "consul", "--scenario", &scenario],
        "scenario: isolate-until-snapshot: only etcd (splitbrain drives no catch-up by snapshot on consul)",
    );
}
