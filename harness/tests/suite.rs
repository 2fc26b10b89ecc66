//! `splitbrain suite` as CI uses it: a test whose run does not meet its
//! expectation fails the suite (exit 1) and its JUnit case says why; a bad suite
//! file is one line, exit 3, before anything runs.

mod common;

use std::process::Command;

use common::{fresh_dir, root, show};

fn suite(file: &std::path::Path, results: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .arg("suite")
        .arg(file)
        .arg("--results")
        .arg(results)
        .output()
        .expect("run splitbrain suite")
}

#[test]
fn a_negative_control_that_is_not_caught_fails_the_suite() {
    if !root() {
        return;
    }
    let results = fresh_dir("suite");
    let file = results.join("control.toml");
    // a healthy cluster with no faults is valid, so a test expecting it caught must fail
    std::fs::write(
        &file,
        "[[test]]\nname = \"quiet etcd\"\nruntime = \"netns\"\nnemesis = \"none\"\ntime-limit = 3\nexpect = \"invalid\"\n",
    )
    .unwrap();
    let o = suite(&file, &results);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("quiet etcd") && out.contains("FAIL") && out.contains("0 of 1 passed"),
        "{out}"
    );
    let junit = std::fs::read_to_string(results.join("suite-control/latest/junit.xml")).unwrap();
    assert!(
        junit.contains("<failure") && junit.contains("expected invalid, got valid") && junit.contains("report.html"),
        "{junit}"
    );
}

#[test]
fn a_bad_suite_is_one_line_and_runs_nothing() {
    let results = fresh_dir("suite-bad");
    let file = results.join("bad.toml");
    std::fs::write(&file, "[[test]]\nsystem = \"etcd\"\n[[test]]\nnemesis = \"meteor\"\n").unwrap();
    let o = suite(&file, &results);
    let err = String::from_utf8_lossy(&o.stderr);
    if !root() {
        assert_eq!(o.status.code(), Some(3), "{}", show(&o));
        return;
    }
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("test 2:") && err.contains("meteor"), "{err}");
    assert!(
        !results.join("etcd-register-partition,kill,pause").exists(),
        "a run started"
    );
}
