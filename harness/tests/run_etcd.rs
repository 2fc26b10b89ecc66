//! `splitbrain run` against a real 3-node etcd in network namespaces, with real
//! iptables rules and real signals. Needs root and etcd (.ci/run installs it).
//! The tests share the host's namespaces, so they run one at a time.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{json, leftovers, results_dir, run_on, show, signal, start_and_wait};

fn run(args: &[&str], results: &Path) -> Output {
    run_on("netns", args, results)
}

fn results_json(results: &Path, test: &str) -> serde_json::Value {
    json(results, test, "results.json")
}

#[test]
fn etcd_with_linearizable_reads_stays_valid_under_partition_kill_pause() {
    let Some(_one) = common::cluster_test() else { return };
    let results = results_dir("valid");
    let o = run(
        &[
            "--nemesis",
            "partition,kill,pause",
            "--time-limit",
            "25",
            "--nemesis-interval",
            "4",
            "--seed",
            "7",
        ],
        &results,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = results_json(&results, "etcd-register-partition,kill,pause");
    assert_eq!(r["verdict"], "valid");
    let ops = &r["summary"]["ops"];
    let (ok, fail, info) = (
        ops["ok"].as_u64().unwrap(),
        ops["fail"].as_u64().unwrap(),
        ops["info"].as_u64().unwrap(),
    );
    assert!(ok > 2000, "only {ok} ok ops: {}", show(&o));
    assert!(ok * 3 > ok + fail + info, "ok {ok}, fail {fail}, info {info}");
    // faults were really injected and recorded
    let faults = r["summary"]["faults"].as_array().expect("faults");
    assert!(faults.len() >= 3, "{faults:?}");
    common::assert_full_membership(&r);
    let junit = std::fs::read_to_string(results.join("etcd-register-partition,kill,pause/latest/junit.xml")).unwrap();
    assert!(junit.contains("<testcase") && !junit.contains("<failure"), "{junit}");
    let history =
        std::fs::read_to_string(results.join("etcd-register-partition,kill,pause/latest/history.jsonl")).unwrap();
    assert!(history.contains("\"process\":\"nemesis\""));
    for file in ["test.json", "nodes/n1.log", "nodes/n3.log"] {
        assert!(
            results
                .join("etcd-register-partition,kill,pause/latest")
                .join(file)
                .exists(),
            "{file}"
        );
    }
    assert!(leftovers(&results).is_empty(), "{:?}", leftovers(&results));
}

#[test]
fn etcd_with_serializable_reads_is_caught_serving_stale_reads() {
    let Some(_one) = common::cluster_test() else { return };
    let results = results_dir("stale");
    let o = run(
        &[
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
        ],
        &results,
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("INVALID") && out.contains("cannot linearize") && out.contains("read"),
        "{out}"
    );
    assert_eq!(results_json(&results, "etcd-register-partition")["verdict"], "invalid");
    // CI sees the same: a JUnit case per key, the bad one failing with its op
    let junit = std::fs::read_to_string(results.join("etcd-register-partition/latest/junit.xml")).unwrap();
    assert!(
        junit.contains("<failure") && junit.contains("cannot linearize"),
        "{junit}"
    );
    // and a person sees it: report.html in a real browser
    let run_dir = results.join("etcd-register-partition/latest");
    let png = results.join("report.png");
    if let Some(dom) = common::chromium(&run_dir.join("report.html"), &png) {
        assert!(
            dom.contains("id=\"verdict\" class=\"invalid\">INVALID"),
            "no verdict in the DOM"
        );
        assert!(
            dom.matches("<svg class=\"plot\"").count() >= 2,
            "no throughput and latency plots"
        );
        assert!(
            dom.contains("<g class=\"fault\">") && dom.contains("start-partition"),
            "no fault band"
        );
        assert!(
            dom.contains("cannot linearize") && dom.contains("class=\"op culprit\""),
            "no counterexample view"
        );
        // the culprit the checker names is the op the lanes mark
        let r = results_json(&results, "etcd-register-partition");
        let culprit = r["check"]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|k| k["counterexample"]["op"]["index"].as_u64())
            .expect("an invalid key with its op");
        assert!(
            dom.contains(&format!("class=\"op culprit\" data-index=\"{culprit}\"")),
            "op {culprit} is not marked"
        );
        // a blank page of this size compresses to a few kB; this one has plots and lanes
        let size = std::fs::metadata(&png).unwrap().len();
        assert!(size > 30_000, "screenshot of {size} bytes looks blank");
    }
    // `splitbrain report` writes the same page again from the folder
    std::fs::remove_file(run_dir.join("report.html")).unwrap();
    let again = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .arg("report")
        .arg(&run_dir)
        .output()
        .expect("report");
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    assert!(run_dir.join("report.html").is_file());
    {
        // the results browser lists the run with its verdict and serves its report
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let _serve = common::Background(
            Command::new(env!("CARGO_BIN_EXE_splitbrain"))
                .args(["serve", "--port", &port.to_string(), "--results"])
                .arg(&results)
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("serve"),
        );
        let up = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(up.elapsed() < Duration::from_secs(10), "serve did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let index = format!("http://127.0.0.1:{port}/");
        if let Some(dom) = common::chromium_url(&index, &results.join("serve.png")) {
            assert!(dom.contains("<td class=\"invalid\">invalid</td>"), "{dom}");
            assert!(
                dom.contains("/runs/etcd-register-partition/") && dom.contains("report.html"),
                "{dom}"
            );
            let stamp = std::fs::read_link(&run_dir).unwrap();
            let report = format!("{index}runs/etcd-register-partition/{}/report.html", stamp.display());
            let served = common::chromium_url(&report, &results.join("served.png")).unwrap();
            assert!(
                served.contains("id=\"verdict\" class=\"invalid\""),
                "the report is not served"
            );
        }
        // the browser stops at Ctrl-C, sent when `_serve` drops here
    }
    assert!(leftovers(&results).is_empty(), "{:?}", leftovers(&results));
}

#[test]
fn sigkill_of_the_runner_takes_its_nodes_and_the_next_run_removes_the_rest() {
    let Some(_one) = common::cluster_test() else { return };
    let results = results_dir("sigkill");
    let mut run = start_and_wait("netns", &results);
    run.0.kill().expect("SIGKILL");
    run.0.wait().expect("wait");
    // the members die with their runner (PR_SET_PDEATHSIG), nemesis restarts included
    std::thread::sleep(Duration::from_secs(2));
    let left = leftovers(&results);
    assert!(
        !left.iter().any(|l| l.contains("etcd")),
        "node processes outlived the runner: {left:?}"
    );
    assert!(
        left.iter().any(|l| l.starts_with("splitbrain-")),
        "a SIGKILLed run cannot remove its namespaces: {left:?}"
    );
    // the history's prefix survived the crash
    let history = results.join("etcd-register-partition,pause/latest/history.jsonl");
    assert!(
        std::fs::metadata(&history).map(|m| m.len() > 0).unwrap_or(false),
        "{}",
        history.display()
    );
    // the next run says what it removed and leaves nothing either
    let o = run_on(
        "netns",
        &["--nemesis", "none", "--time-limit", "2"],
        &results_dir("after-sigkill"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("removed what dead runs left") && err.contains("namespace splitbrain-"),
        "{err}"
    );
    assert!(leftovers(&results).is_empty(), "{:?}", leftovers(&results));
}

#[test]
fn clean_spares_a_live_run_and_sigint_alone_leaves_nothing() {
    let Some(_one) = common::cluster_test() else { return };
    let results = results_dir("sigint");
    let mut run = start_and_wait("netns", &results);
    // `clean` while the run is live leaves it alone
    let o = common::splitbrain(&["clean"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is still going"),
        "{}",
        show(&o)
    );
    assert!(!leftovers(&results).is_empty(), "clean removed a live run");
    signal(run.0.id(), "INT");
    let status = run.0.wait().expect("wait");
    assert_eq!(status.code(), Some(3), "an interrupted run exits 3");
    assert!(leftovers(&results).is_empty(), "{:?}", leftovers(&results));
    let r = results_json(&results, "etcd-register-partition,pause");
    assert_eq!(r["interrupted"], true);
}

#[test]
fn bad_flags_and_missing_binaries_get_one_clear_line() {
    let _one = common::one_at_a_time();
    let results = results_dir("flags");
    for (args, says) in [
        (vec!["--system", "cassandra"], "use etcd, zookeeper, consul"),
        (vec!["--workload", "queue"], "use register, lock"),
        (vec!["--resource", "soft"], "use naive, fenced"),
        (vec!["--nemesis", "meteor"], "unknown fault"),
        (vec!["--nodes", "4"], "use 3 or 5"),
        (vec!["--read-mode", "eventual"], "use linearizable, serializable"),
        (
            vec!["--read-mode", "plain"],
            "etcd reads are linearizable, serializable",
        ),
        (vec!["--time-limit=-3"], "positive"),
        (vec!["--binary", "/nonexistent/etcd"], "/nonexistent/etcd"),
        (vec!["--nemesis", "upgrade"], "needs --to VERSION"),
        (vec!["--to", "3.5.16"], "are for --nemesis upgrade"),
        (
            vec!["--nemesis", "upgrade", "--from", "3.3.25", "--to", "3.5.16"],
            "not a documented upgrade path; use 3.4.23 -> 3.5.16 or 3.3.25 -> 3.4.23",
        ),
        (
            vec![
                "--nemesis",
                "kill,upgrade",
                "--from",
                "3.4.23",
                "--to",
                "3.5.16",
                "--time-limit",
                "20",
            ],
            "use --time-limit 45 or more",
        ),
    ] {
        let o = run(&args, &results);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}
