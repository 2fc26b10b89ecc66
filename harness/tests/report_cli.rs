//! `splitbrain report RUN_DIR` on run folders whose files are not a run's: each
//! is one line naming the file and the field, exit 3, and no page written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TEST: &str = r#"{"system": "etcd", "version": "3.5.16", "nodes": 3, "workload": "register", "seed": 7}"#;
const RESULTS: &str = r#"{"verdict": "valid", "summary": {"duration_s": 1.0, "faults": []}, "check": {"keys": []}}"#;
const HISTORY: &str = r#"{"process":0,"type":"invoke","f":"write","key":"k","value":1,"time":1000000}
{"process":0,"type":"ok","f":"write","key":"k","value":1,"time":2000000}
"#;

/// A fresh run folder holding these three files.
fn run_dir(name: &str, test: &str, results: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("splitbrain-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("run dir");
    for (file, text) in [
        ("test.json", test),
        ("results.json", results),
        ("history.jsonl", HISTORY),
    ] {
        std::fs::write(dir.join(file), text).expect("write");
    }
    dir
}

fn report(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .arg("report")
        .arg(dir)
        .output()
        .expect("run splitbrain")
}

#[test]
fn a_run_folder_of_the_runner_shape_gets_its_page() {
    let dir = run_dir("good", TEST, RESULTS);
    let o = report(&dir);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let page = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(page.contains("id=\"verdict\" class=\"valid\""), "{page}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_file_that_is_not_a_run_is_named_in_one_line_with_its_field() {
    for (name, test, results, file, said) in [
        (
            "null",
            TEST,
            "null",
            "results.json",
            "null at the top, not a JSON object",
        ),
        ("array", TEST, "[]", "results.json", "[] at the top"),
        (
            "banana",
            TEST,
            r#"{"verdict": "banana"}"#,
            "results.json",
            "field `verdict` is \"banana\"",
        ),
        ("no-verdict", TEST, "{}", "results.json", "field `verdict` is null"),
        (
            "number-verdict",
            TEST,
            r#"{"verdict": 1}"#,
            "results.json",
            "field `verdict` is 1",
        ),
        (
            "summary",
            TEST,
            r#"{"verdict": "valid", "summary": "1 s"}"#,
            "results.json",
            "field `summary`",
        ),
        (
            "faults",
            TEST,
            r#"{"verdict": "valid", "summary": {"faults": {}}}"#,
            "results.json",
            "field `summary.faults`",
        ),
        (
            "keys",
            TEST,
            r#"{"verdict": "invalid", "check": {"keys": [3]}}"#,
            "results.json",
            "field `check.keys`",
        ),
        ("not-json", TEST, "{", "results.json", "EOF"),
        ("test-null", "null", RESULTS, "test.json", "null at the top"),
        ("test-array", "[1, 2]", RESULTS, "test.json", "[1,2] at the top"),
        (
            "system",
            r#"{"system": ["etcd"]}"#,
            RESULTS,
            "test.json",
            "field `system` is [\"etcd\"]",
        ),
        (
            "runbook",
            r#"{"system": "etcd", "runbook": "x"}"#,
            RESULTS,
            "test.json",
            "field `runbook`",
        ),
    ] {
        let dir = run_dir(name, test, results);
        let o = report(&dir);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
        assert!(err.contains(&dir.join(file).display().to_string()), "{name}: {err}");
        assert!(err.contains(said), "{name}: {err}");
        assert!(!dir.join("report.html").exists(), "{name}: a page was written");
        let _ = std::fs::remove_dir_all(dir);
    }
}
