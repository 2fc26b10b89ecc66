//! A run killed at any moment leaves results `check` and `report` can read: the
//! history up to its last complete op (flushed every second), and no half-written
//! results file. The cluster test needs root and etcd (.ci/run installs them).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Background, fresh_dir, leftovers, results_dir, root, show, splitbrain};

/// A register history of `calls` write / read pairs on one key, one JSON op a line.
fn register_history(calls: usize) -> String {
    let mut text = String::new();
    for i in 0..calls {
        let (f, value) = if i % 2 == 0 {
            ("write", i.to_string())
        } else {
            ("read", (i - 1).to_string())
        };
        for (n, kind) in ["invoke", "ok"].into_iter().enumerate() {
            let index = 2 * i + n;
            text.push_str(&format!(
                "{{\"index\":{index},\"time\":{},\"process\":0,\"type\":\"{kind}\",\"f\":\"{f}\",\"key\":\"k\",\"value\":{value}}}\n",
                index * 1000
            ));
        }
    }
    text
}

/// The history's lines a reader must accept (all but a last one without its
/// newline, which must be the only partial one) and the client invokes among them.
fn complete_lines(history: &Path) -> (Vec<serde_json::Value>, usize) {
    let text = std::fs::read_to_string(history).unwrap_or_else(|e| panic!("{}: {e}", history.display()));
    let mut lines: Vec<&str> = text.split('\n').collect();
    let partial = lines.pop().expect("split gives one piece at least");
    if !partial.is_empty() {
        eprintln!("the kill cut the last line: {partial:?}");
    }
    let ops: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a complete line that is not JSON ({e}): {l}")))
        .collect();
    let invokes = ops
        .iter()
        .filter(|o| o["type"] == "invoke" && o["process"] != "nemesis")
        .count();
    (ops, invokes)
}

#[test]
fn check_reads_a_history_cut_mid_line_up_to_its_last_complete_op() {
    let dir = fresh_dir("cut");
    let whole = register_history(6);
    // line 8 (the 4th call's completion) loses its end, as a kill mid-write leaves it
    let line8 = whole.match_indices('\n').nth(6).expect("8 lines").0 + 1;
    let path = dir.join("history.jsonl");
    std::fs::write(&path, &whole[..line8 + 20]).expect("write");
    let o = splitbrain(&["check", "--json", path.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    // 7 complete lines: 3 calls done and the 4th invoked, never seen to complete
    assert_eq!(report["ops"], 4, "{report}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cut short at line 8") && err.contains("checked the 7 complete lines"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // the same broken line anywhere but last is no crash's doing: an error
    std::fs::write(&path, format!("{}\n{}", &whole[..line8 + 20], &whole[line8..])).expect("write");
    let o = splitbrain(&["check", path.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    std::fs::remove_dir_all(dir).expect("clean up");
}

#[test]
fn report_of_a_run_killed_before_its_check_sends_the_user_to_check() {
    let dir = fresh_dir("no-results");
    std::fs::write(dir.join("test.json"), "{}\n").expect("write");
    std::fs::write(dir.join("history.jsonl"), register_history(2)).expect("write");
    let o = splitbrain(&["report", dir.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("no results.json") && err.contains(&format!("splitbrain check --report {}", dir.display())),
        "{err}"
    );
    assert!(!dir.join("report.html").exists(), "no verdict, no page");
    std::fs::remove_dir_all(dir).expect("clean up");
}

/// Starts a 20 s etcd run and returns it once its cluster is ready, with the
/// instant it said so: the history's time 0, give or take the pipe.
fn start_run(results: &Path) -> (Background, Instant) {
    let args = [
        "run",
        "--runtime",
        "netns",
        "--system",
        "etcd",
        "--workload",
        "register",
    ];
    let args = [&args[..], &["--nemesis", "none", "--time-limit", "20"]].concat();
    common::start_until(&args, results, "its cluster was ready", |line| {
        line.contains("cluster ready")
    })
}

#[test]
fn a_sigkilled_run_leaves_a_history_at_most_a_second_behind_that_check_reads() {
    if !root() {
        return;
    }
    let results = results_dir("crash");
    let (mut run, ready) = start_run(&results);
    std::thread::sleep(Duration::from_millis(4500));
    run.0.kill().expect("SIGKILL");
    let killed_at = ready.elapsed().as_secs_f64();
    run.0.wait().expect("wait");
    let o = splitbrain(&["clean"]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(leftovers(&results).is_empty(), "{:?}", leftovers(&results));

    let folder = results.join("etcd-register-none/latest");
    let history = folder.join("history.jsonl");
    let (ops, invokes) = complete_lines(&history);
    let last = ops.last().expect("ops on disk")["time"].as_u64().expect("time") as f64 / 1e9;
    eprintln!(
        "killed at {killed_at:.2} s; last op on disk at {last:.2} s: {:.2} s behind; {} ops",
        killed_at - last,
        ops.len()
    );
    assert!(last >= 3.0, "only {last:.2} s of ops on disk");
    assert!(
        last >= killed_at - 1.5,
        "the history was {:.2} s behind",
        killed_at - last
    );
    assert!(!folder.join("results.json").exists(), "killed before its check");

    let o = splitbrain(&["check", "--json", history.to_str().expect("utf-8")]);
    assert!(matches!(o.status.code(), Some(0..=2)), "{}", show(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(report["ops"], invokes, "{report}");
    let o = splitbrain(&["report", folder.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("splitbrain check"),
        "{}",
        show(&o)
    );
    let _ = std::fs::remove_dir_all(&results);
}
