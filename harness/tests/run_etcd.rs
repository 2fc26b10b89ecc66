//! `splitbrain run` against a real 3-node etcd in network namespaces, with real
//! iptables rules and real signals. Needs root and etcd (.ci/run installs it).
//! The tests share the host's namespaces, so they run one at a time.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    let root = String::from_utf8_lossy(&out.stdout).trim() == "0";
    if !root {
        eprintln!("skipped: needs root for network namespaces");
    }
    root
}

fn results_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("splitbrain-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run(args: &[&str], results: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .args(["run", "--runtime", "netns"])
        .args(args)
        .arg("--results")
        .arg(results)
        .output()
        .expect("run splitbrain")
}

fn results_json(results: &Path, test: &str) -> serde_json::Value {
    let path = results.join(test).join("latest/results.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("results.json")
}

fn show(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Namespaces, links and processes a run with this results folder left behind.
fn leftovers(results: &Path) -> Vec<String> {
    let mut left = Vec::new();
    let ns = Command::new("ip").args(["netns", "list"]).output().expect("ip netns");
    left.extend(
        String::from_utf8_lossy(&ns.stdout)
            .lines()
            .filter(|l| l.starts_with("splitbrain-"))
            .map(String::from),
    );
    let links = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .expect("ip link");
    left.extend(
        String::from_utf8_lossy(&links.stdout)
            .lines()
            .filter_map(|l| l.split(':').nth(1))
            .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
            .filter(|n| n.starts_with("sb-") && n.ends_with("-h")),
    );
    let procs = Command::new("pgrep")
        .arg("-af")
        .arg(results.to_str().expect("utf-8 path"))
        .output()
        .expect("pgrep");
    left.extend(String::from_utf8_lossy(&procs.stdout).lines().map(String::from));
    left
}

#[test]
fn etcd_with_linearizable_reads_stays_valid_under_partition_kill_pause() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !root() {
        return;
    }
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
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !root() {
        return;
    }
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
    assert!(leftovers(&results).is_empty(), "{:?}", leftovers(&results));
}

/// A run in the background, interrupted if the test fails before it is done with it.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.0.id().to_string())
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

/// Starts a long run and returns once its cluster is up and a fault is in force.
fn start_and_wait(results: &Path) -> Background {
    let mut child = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .args([
            "run",
            "--runtime",
            "netns",
            "--time-limit",
            "120",
            "--nemesis",
            "partition,pause",
            "--nemesis-interval",
            "3",
        ])
        .arg("--results")
        .arg(results)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn splitbrain");
    let stderr = child.stderr.take().expect("stderr");
    let run = Background(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = BufReader::new(stderr).lines();
    while let Some(Ok(line)) = lines.next() {
        if line.contains("fault: start-partition") || line.contains("fault: pause") {
            // keep draining stderr so the run never blocks on a full pipe
            std::thread::spawn(move || lines.for_each(drop));
            return run;
        }
        assert!(Instant::now() < deadline, "no fault within 60 s");
    }
    panic!("splitbrain exited before any fault");
}

#[test]
fn sigkill_of_the_runner_then_clean_leaves_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !root() {
        return;
    }
    let results = results_dir("sigkill");
    let mut run = start_and_wait(&results);
    run.0.kill().expect("SIGKILL");
    run.0.wait().expect("wait");
    assert!(
        !leftovers(&results).is_empty(),
        "a SIGKILLed run should leave its cluster behind"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .arg("clean")
        .output()
        .expect("clean");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("removed namespace"),
        "{}",
        show(&o)
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(leftovers(&results).is_empty(), "{:?}", leftovers(&results));
    // the history's prefix survived the crash
    let history = results.join("etcd-register-partition,pause/latest/history.jsonl");
    assert!(
        std::fs::metadata(&history).map(|m| m.len() > 0).unwrap_or(false),
        "{}",
        history.display()
    );
}

#[test]
fn clean_spares_a_live_run_and_sigint_alone_leaves_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !root() {
        return;
    }
    let results = results_dir("sigint");
    let mut run = start_and_wait(&results);
    // `clean` while the run is live leaves it alone
    let o = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .arg("clean")
        .output()
        .expect("clean");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is still going"),
        "{}",
        show(&o)
    );
    assert!(!leftovers(&results).is_empty(), "clean removed a live run");
    nix_kill(run.0.id(), "INT");
    let status = run.0.wait().expect("wait");
    assert_eq!(status.code(), Some(3), "an interrupted run exits 3");
    assert!(leftovers(&results).is_empty(), "{:?}", leftovers(&results));
    let r = results_json(&results, "etcd-register-partition,pause");
    assert_eq!(r["interrupted"], true);
}

fn nix_kill(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(ok.success());
}

#[test]
fn bad_flags_and_missing_binaries_get_one_clear_line() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let results = results_dir("flags");
    for (args, says) in [
        (vec!["--system", "cassandra"], "use etcd, zookeeper or consul"),
        (vec!["--nemesis", "meteor"], "unknown fault"),
        (vec!["--nodes", "4"], "use 3 or 5"),
        (
            vec!["--read-mode", "eventual"],
            "etcd reads are linearizable, serializable",
        ),
        (vec!["--time-limit=-3"], "positive"),
        (vec!["--binary", "/nonexistent/etcd"], "/nonexistent/etcd"),
    ] {
        let o = run(&args, &results);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}
