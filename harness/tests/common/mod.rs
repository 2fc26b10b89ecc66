//! Helpers shared by the integration tests that run real clusters. Each test
//! binary uses some of them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// This test binary's clusters, one at a time: they share the host's
/// namespaces, links and containers, and the watchers must keep up on two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Holds this binary's other cluster tests off until dropped; taken also after
/// one of them panicked holding it.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// [`one_at_a_time`] when `may_run` (which says why not) lets the test run; else
/// `None`, and the test skips.
pub fn one_at_a_time_if(may_run: impl FnOnce() -> bool) -> Option<MutexGuard<'static, ()>> {
    let one = one_at_a_time();
    may_run().then_some(one)
}

/// A cluster test's start: `let Some(_one) = cluster_test() else { return };`
/// runs it alone, and only as root (else said and skipped).
pub fn cluster_test() -> Option<MutexGuard<'static, ()>> {
    one_at_a_time_if(root)
}

/// Whether this process is root, said by `id -u`.
pub fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Whether we may create namespaces; says so when not.
pub fn root() -> bool {
    let root = is_root();
    if !root {
        eprintln!("skipped: needs root for network namespaces");
    }
    root
}

/// `splitbrain ARGS`, to completion.
pub fn splitbrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .args(args)
        .output()
        .expect("run splitbrain")
}

/// The reference histories, kept in the repository (see their README).
fn histories() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../checkers/tests/histories")
}

/// The path of a reference history, `path` below [`histories`].
pub fn shared(path: &str) -> String {
    histories().join(path).display().to_string()
}

/// This test process's folder for the files it hands `splitbrain`.
pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("splitbrain-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A file in [`temp_dir`] holding `contents`; its path.
pub fn temp_file(name: &str, contents: impl AsRef<[u8]>) -> String {
    let path = temp_dir().join(name);
    std::fs::write(&path, contents).expect("write");
    path.display().to_string()
}

pub fn show(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A fresh results folder for one test of this test process.
pub fn results_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("splitbrain-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// [`results_dir`], made: for the files a test writes before its run.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = results_dir(name);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `splitbrain run --runtime RUNTIME ARGS --results RESULTS`, to completion.
pub fn run_on(runtime: &str, args: &[&str], results: &Path) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .args(["run", "--runtime", runtime])
        .args(args)
        .arg("--results")
        .arg(results)
        .output()
        .expect("run splitbrain");
    // shown only when the test fails, whatever it asserts first
    eprintln!("{}", tail(&show(&o), 6000));
    o
}

/// `splitbrain run ARGS` refuses them before starting anything: exit 3, one
/// line on stderr that says `said`.
pub fn refused_in_one_line(args: &[&str], said: &str) {
    let o = splitbrain(&[&["run"], args].concat());
    assert_eq!(o.status.code(), Some(3), "{args:?}: {}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(said), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
}

/// The last `n` bytes of `s` (at a char boundary).
fn tail(s: &str, n: usize) -> &str {
    let mut at = s.len().saturating_sub(n);
    while !s.is_char_boundary(at) {
        at += 1;
    }
    &s[at..]
}

/// A file of the latest run of `test`, as JSON.
pub fn json(results: &Path, test: &str, file: &str) -> serde_json::Value {
    let path = results.join(test).join("latest").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("json")
}

/// The ops of the latest run of `test`, from its history.jsonl.
pub fn history(results: &Path, test: &str) -> Vec<serde_json::Value> {
    let path = results.join(test).join("latest/history.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("history line"))
        .collect()
}

/// Asserts that after recovery every node saw the whole 3-node cluster.
pub fn assert_full_membership(results: &serde_json::Value) {
    let m = &results["recovery"]["membership"];
    for node in ["n1", "n2", "n3"] {
        assert_eq!(m[node], serde_json::json!(["n1", "n2", "n3"]), "{node}: {m}");
    }
}

/// Debian's chromium, headless: the page's DOM after it loaded, and a screenshot.
/// `None` (said) where no chromium is installed (`.ci/run` installs it).
pub fn chromium(page: &Path, png: &Path) -> Option<String> {
    let url = format!("file://{}", std::fs::canonicalize(page).expect("page").display());
    chromium_url(&url, png)
}

/// [`chromium`] for any URL (the results browser's pages).
pub fn chromium_url(url: &str, png: &Path) -> Option<String> {
    let bin = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|b| Path::new(b).is_file());
    let Some(bin) = bin else {
        eprintln!("skipped the browser check: no chromium (apt-get install chromium)");
        return None;
    };
    let headless = |extra: &[String]| {
        Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1000,1600",
            ])
            .args(extra)
            .arg(url)
            .output()
            .expect("run chromium")
    };
    let dom = headless(&["--dump-dom".to_string()]);
    assert!(dom.status.success(), "{}", show(&dom));
    let shot = headless(&[format!("--screenshot={}", png.display())]);
    assert!(shot.status.success(), "{}", show(&shot));
    Some(String::from_utf8_lossy(&dom.stdout).into_owned())
}

/// Sends a signal by name (INT, TERM) with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(ok.success());
}

/// A run in the background, interrupted if the test fails before it is done with it.
pub struct Background(pub Child);

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
pub fn start_and_wait(runtime: &str, results: &Path) -> Background {
    let args = ["run", "--runtime", runtime, "--time-limit", "120"];
    let faults = ["--nemesis", "partition,pause", "--nemesis-interval", "3"];
    let (run, _) = start_until(&[&args[..], &faults[..]].concat(), results, "any fault", |line| {
        line.contains("fault: start-partition") || line.contains("fault: pause")
    });
    run
}

/// Starts `splitbrain ARGS --results RESULTS` and returns it, with the instant it
/// did, once a line on its stderr is `awaited` (within 60 s).
pub fn start_until(args: &[&str], results: &Path, what: &str, awaited: impl Fn(&str) -> bool) -> (Background, Instant) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .args(args)
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
        if awaited(&line) {
            let at = Instant::now();
            // keep draining stderr so the run never blocks on a full pipe
            std::thread::spawn(move || lines.for_each(drop));
            return (run, at);
        }
        assert!(Instant::now() < deadline, "no {what} within 60 s");
    }
    panic!("splitbrain exited before {what}");
}

/// Namespaces, links and processes a run with this results folder left behind.
pub fn leftovers(results: &Path) -> Vec<String> {
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
