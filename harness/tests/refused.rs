//! Input that parses but must not be accepted, refused before anything starts:
//! exit 3 and one line on stderr saying what is wrong. As root each command runs
//! as `nobody`, so that one wrongly accepted ends at "needs root" (and fails the
//! test) instead of starting a cluster.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output};

const NOBODY: u32 = 65534;

fn splitbrain(args: &[&str]) -> Output {
    let mut cmd = if nix::unistd::geteuid().is_root() {
        let mut cmd = Command::new(binary_for_nobody());
        cmd.uid(NOBODY).gid(NOBODY);
        cmd
    } else {
        Command::new(env!("CARGO_BIN_EXE_splitbrain"))
    };
    cmd.args(args).current_dir("/");
    cmd.output().expect("run splitbrain")
}

/// A folder `nobody` can enter and read.
fn shared_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("splitbrain-refused-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// The binary where `nobody` can run it: the build folder may be inside one only
/// root can enter (CI clones into a `mktemp -d` folder, mode 0700). A hard link
/// where the file system allows, else a copy; made once.
fn binary_for_nobody() -> &'static PathBuf {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        let built = PathBuf::from(env!("CARGO_BIN_EXE_splitbrain"));
        let path = shared_dir().join("splitbrain");
        let _ = std::fs::remove_file(&path);
        if std::fs::hard_link(&built, &path).is_err() {
            std::fs::copy(&built, &path).expect("copy the binary");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    })
}

/// A file `nobody` can read.
fn file(name: &str, text: &str) -> String {
    let path: PathBuf = shared_dir().join(name);
    std::fs::write(&path, text).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    path.display().to_string()
}

fn refused(cases: &[(&[&str], &str)]) {
    for (args, says) in cases {
        let o = splitbrain(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&o.stdout));
    }
}

#[test]
fn negative_numbers_reach_the_bounds_checks() {
    refused(&[
        (
            &["run", "--time-limit", "-1"],
            "--time-limit must be a positive number of seconds (0.01 to 86400), got -1",
        ),
        (
            &["run", "--keys", "-3"],
            "invalid value '-3' for '--keys <KEYS>': must be positive",
        ),
        (
            &["run", "--nemesis-interval", "-2"],
            "--nemesis-interval must be a positive number of seconds (0.01 to 86400), got -2",
        ),
        (
            &["run", "--seed", "-1"],
            "invalid value '-1' for '--seed <SEED>': must be 0 or more",
        ),
        (
            &["run", "--clock-offset", "-30"],
            "--clock-offset -30: use 0.001 to 3600 seconds",
        ),
        (
            &["run", "--strobe-period", "-10"],
            "'--strobe-period <STROBE_PERIOD>': must be positive",
        ),
        (&["drill", "--rto", "-5"], "--rto -5: give seconds"),
        (
            &["drill", "--nodes", "-3"],
            "invalid value '-3' for '--nodes <NODES>': must be positive",
        ),
        (&["drill", "--rpo", "-1"], "'--rpo <WRITES>': must be 0 or more"),
        (
            &["check", "--time-limit", "-1", "h.jsonl"],
            "--time-limit must be a positive number of seconds",
        ),
        (
            &["check", "--memory-limit", "-1", "h.jsonl"],
            "invalid value '-1' for '--memory-limit <MB>': must be positive",
        ),
        (
            &["check", "--failover-within", "-1", "h.jsonl"],
            "'--failover-within <SECONDS>': must be a positive number of seconds",
        ),
    ]);
}

#[test]
fn watcher_mixes_a_run_cannot_open_are_refused_at_plan_time() {
    refused(&[
        (
            &[
                "run",
                "--system",
                "zookeeper",
                "--workload",
                "watch",
                "--watchers",
                "now,past",
            ],
            "--watchers now,past: zookeeper watches begin with every key's current state; it takes only `now`",
        ),
        (
            &[
                "run",
                "--system",
                "consul",
                "--workload",
                "watch",
                "--watchers",
                "future=2",
            ],
            "it takes only `now`",
        ),
        (
            &["run", "--workload", "register", "--watchers", "now"],
            "--watchers is for the watch workload",
        ),
        (
            &["run", "--workload", "watch", "--watchers", "later"],
            "--watchers later: not a watcher's start; use now, first, past, compaction or future",
        ),
        (
            &["run", "--workload", "watch", "--watchers", "past=0"],
            "--watchers past=0: a count is 1 to 16",
        ),
        (
            &["run", "--workload", "watch", "--watchers", "now=3"],
            "`now` is one per node, it takes no count",
        ),
    ]);
}

#[test]
fn unknown_versions_and_missing_binaries_are_refused_at_plan_time() {
    let unknown = "--version 9.9.9: splitbrain does not provision etcd 9.9.9; use 3.5.16, 3.4.23, 3.3.25";
    let missing = "--binary /nonexistent/etcd: no such file";
    let suite_version = file(
        "version.toml",
        "[[test]]\nname = \"ok\"\n[[test]]\nversion = \"9.9.9\"\n",
    );
    let suite_binary = file("binary.toml", "[[test]]\nbinary = \"/nonexistent/etcd\"\n");
    refused(&[
        (&["run", "--version", "9.9.9"], unknown),
        (&["run", "--binary", "/nonexistent/etcd"], missing),
        (
            &["run", "--system", "zookeeper", "--version", "3.9.9"],
            "--version 3.9.9: splitbrain does not provision zookeeper 3.9.9; use 3.9.3, 3.8.0, 3.4.13",
        ),
        (
            &["run", "--system", "zookeeper", "--binary", "/bin/true"],
            "--binary: zookeeper runs jars, no binary of its own",
        ),
        (
            &["run", "--nemesis", "upgrade", "--to", "9.9.9"],
            "--to 9.9.9: splitbrain does not provision etcd 9.9.9",
        ),
        (&["drill", "--version", "9.9.9"], unknown),
        (&["drill", "--binary", "/nonexistent/etcd"], missing),
        (&["suite", &suite_version], &format!("version.toml: test 2: {unknown}")),
        (&["suite", &suite_binary], &format!("binary.toml: test 1: {missing}")),
    ]);
}

#[test]
fn scenario_values_get_the_flags_bounds() {
    let strobe = file(
        "strobe.toml",
        "[[step]]\nwait = 1\n[[step]]\nclock = \"strobe\"\nnodes = [\"n1\"]\nperiod = 1e30\n",
    );
    let twice = file("twice.toml", "[[step]]\nkill = [\"n1\", \"n1\"]\n");
    let soon = file(
        "soon.toml",
        "[[step]]\nkill = [\"n3\"]\n[[step]]\nexpect = \"ok\"\nwithin = 0\n",
    );
    refused(&[
        (
            &["run", "--scenario", &strobe],
            "strobe.toml: step 2: period = 1e30: use 1 to 10000 milliseconds",
        ),
        (
            &["drill", "--scenario", &twice],
            "twice.toml: step 1: kill = [\"n1\", \"n1\"]: n1 is named twice",
        ),
        (
            &["run", "--scenario", &soon],
            "soon.toml: step 2: within = 0: use 0.01 to 86400 seconds",
        ),
    ]);
}

#[test]
fn suites_that_expand_to_nothing_or_too_much_are_refused() {
    let ten = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]";
    let huge: String = [
        "seed",
        "keys",
        "readers",
        "concurrency",
        "think",
        "ttl",
        "op-timeout",
        "rto",
        "rpo",
        "term-jobs",
    ]
    .iter()
    .map(|k| format!("{k} = {ten}\n"))
    .collect();
    let huge = file("huge.toml", &format!("[[test]]\n{huge}"));
    let none = file("none.toml", "# nothing yet\n");
    let empty = file("empty.toml", "[[test]]\nsystem = []\n");
    let started = std::time::Instant::now();
    refused(&[
        (
            &["suite", &huge],
            "huge.toml: test 1: its lists expand to 10000000000 tests; a suite runs at most 1000",
        ),
        (&["suite", &none], "none.toml: no tests: add a [[test]] table"),
        (
            &["suite", &empty],
            "empty.toml: test 1: system = []: an empty list expands to no test",
        ),
    ]);
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}

#[test]
fn no_arguments_print_the_usage_and_a_mistyped_command_its_likely_name() {
    let o = splitbrain(&[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("Usage: splitbrain <COMMAND>") && err.contains("check"),
        "{err}"
    );
    refused(&[
        (&["chek"], "unrecognized subcommand 'chek'; did you mean check?"),
        (&["sute"], "unrecognized subcommand 'sute'; did you mean suite?"),
    ]);
}
