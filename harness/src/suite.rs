//! `splitbrain suite FILE.toml`: a matrix of runs, one after another, judged
//! against what each expects, with one JUnit file for all and a summary table.
//!
//! ```toml
//! [defaults]
//! time-limit = 15
//!
//! [[test]]
//! system = ["etcd", "zookeeper"]     # a list expands into one test per value
//! nemesis = "partition,kill"
//!
//! [[test]]
//! name = "serializable reads are caught"
//! read-mode = "serializable"
//! nemesis = "partition"
//! partition = "leader"
//! expect = "invalid"                 # a negative control: passes only when caught
//! ```
//!
//! Keys are `splitbrain run`'s flags by their names; every test is checked by
//! `run`'s own parser before anything starts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use toml::Value;

use crate::EXIT_ERROR;

#[derive(clap::Args)]
pub struct Args {
    /// The suite: `[defaults]` and `[[test]]` tables of `run` flags
    pub file: PathBuf,
    /// Where the runs' folders and the suite's own (`suite-<name>/<timestamp>/`) go
    #[arg(long, default_value = "store")]
    pub results: PathBuf,
}

/// One test of the matrix, expanded: its name, `run`'s arguments, what it expects.
pub(crate) struct Test {
    name: String,
    args: Vec<String>,
    expect: &'static str,
}

/// How a test ended, ordered as exit codes are: worse is larger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Pass = 0,
    Fail = 1,
    Unknown = 2,
    Error = 3,
}

fn flag_value(key: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(i) => Ok(i.to_string()),
        Value::Float(f) => Ok(f.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!("{key} = {other}: use a string, a number or a list of them")),
    }
}

/// At most this many tests in a suite. Its lists' cross product is counted
/// before any test is built, so a matrix that would run for weeks (or not fit in
/// memory) is refused at once, with its size.
const MAX_TESTS: usize = 1000;

/// Keys of a `[[test]]` that are the suite's, not `run` flags: never expanded.
const OWN_KEYS: [&str; 3] = ["name", "expect", "results"];

/// How many tests one `[[test]]` expands to: the product of its lists' lengths,
/// or `None` past `usize::MAX`. An empty list expands to none: an error.
fn expands_to(t: &toml::Table) -> Result<Option<usize>, String> {
    let mut count = Some(1usize);
    for (key, v) in t.iter().filter(|(k, _)| !OWN_KEYS.contains(&k.as_str())) {
        if let Value::Array(items) = v {
            if items.is_empty() {
                return Err(format!("{key} = []: an empty list expands to no test"));
            }
            count = count.and_then(|c| c.checked_mul(items.len()));
        }
    }
    Ok(count)
}

/// The `[[test]]` tables with `[defaults]` applied, checked to expand to 1 to
/// [`MAX_TESTS`] tests in all.
fn tables(doc: &toml::Table) -> Result<Vec<toml::Table>, String> {
    for key in doc.keys() {
        if key != "defaults" && key != "test" {
            return Err(format!("unknown table [{key}]: use [defaults] and [[test]]"));
        }
    }
    let defaults = match doc.get("defaults") {
        Some(Value::Table(t)) => t.clone(),
        Some(_) => return Err("[defaults] must be a table".into()),
        None => toml::Table::new(),
    };
    let list = match doc.get("test") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => return Err("no tests: add a [[test]] table".into()),
    };
    let mut total = 0usize;
    let mut out = Vec::new();
    for (n, t) in list.iter().enumerate() {
        let Value::Table(t) = t else {
            return Err(format!("test {}: must be a [[test]] table", n + 1));
        };
        let mut merged = defaults.clone();
        merged.extend(t.clone());
        let count = expands_to(&merged).map_err(|e| format!("test {}: {e}", n + 1))?;
        let Some(count) = count.filter(|c| *c <= MAX_TESTS) else {
            return Err(format!(
                "test {}: its lists expand to {} tests; a suite runs at most {MAX_TESTS}: shorten them or split the file",
                n + 1,
                count.map_or(format!("more than {}", usize::MAX), |c| c.to_string()),
            ));
        };
        total += count;
        if total > MAX_TESTS {
            return Err(format!(
                "tests 1 to {} expand to {total} tests; a suite runs at most {MAX_TESTS}: split the file",
                n + 1
            ));
        }
        out.push(merged);
    }
    Ok(out)
}

/// The tests of a suite file, lists expanded, each checked by `run`'s parser.
pub(crate) fn tests(text: &str) -> Result<Vec<Test>, String> {
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e
            .span()
            .map_or(1, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        format!("line {line}: {}", e.message().trim())
    })?;
    let mut out = Vec::new();
    for (n, merged) in tables(&doc)?.into_iter().enumerate() {
        // expand lists into every combination, in the order the keys come
        let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
        let mut name = None;
        let mut expect = "valid";
        // the keys given as lists: they tell the expanded tests apart
        let mut varied: Vec<&str> = Vec::new();
        for (key, v) in &merged {
            match key.as_str() {
                "name" => name = Some(flag_value(key, v)?),
                "expect" => {
                    expect = match v.as_str() {
                        Some("valid") => "valid",
                        Some("invalid") => "invalid",
                        _ => return Err(format!("test {}: expect = {v}: use \"valid\" or \"invalid\"", n + 1)),
                    }
                }
                "results" => return Err(format!("test {}: results is the suite's own (--results)", n + 1)),
                _ => {
                    let values = match v {
                        Value::Array(items) => {
                            varied.push(key);
                            items
                                .iter()
                                .map(|i| flag_value(key, i))
                                .collect::<Result<Vec<_>, _>>()?
                        }
                        one => vec![flag_value(key, one)?],
                    };
                    combos = combos
                        .into_iter()
                        .flat_map(|c| {
                            values.iter().map(move |val| {
                                let mut c = c.clone();
                                c.push((key.clone(), val.clone()));
                                c
                            })
                        })
                        .collect();
                }
            }
        }
        for combo in combos {
            let mut args = vec!["run".to_string()];
            for (k, v) in &combo {
                args.push(format!("--{k}"));
                args.push(v.clone());
            }
            // run's own parser and its own checks, as if typed
            let cli = crate::Cli::try_parse_from(std::iter::once("splitbrain".to_string()).chain(args.iter().cloned()))
                .map_err(|e| format!("test {}: {}", n + 1, crate::usage_error(&e)))?;
            if let crate::Command::Run(run) = cli.command {
                crate::run::validate(&run).map_err(|e| format!("test {}: {e}", n + 1))?;
            }
            let label = |all: bool| {
                combo
                    .iter()
                    .filter(|(k, _)| all || varied.contains(&k.as_str()))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let name = match &name {
                Some(base) if varied.is_empty() => base.clone(),
                Some(base) => format!("{base} [{}]", label(false)),
                None => label(true),
            };
            out.push(Test { name, args, expect });
        }
    }
    Ok(out)
}

/// Runs one test as a child `splitbrain run`; its verdict and run folder.
fn run_one(test: &Test, results: &Path) -> (Option<String>, Option<PathBuf>, String) {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return (None, None, format!("own binary: {e}")),
    };
    let out = Command::new(exe)
        .args(&test.args)
        .arg("--results")
        .arg(results)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => return (None, None, format!("cannot start splitbrain run: {e}")),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    print!("{stdout}");
    let dir = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("results: "))
        .map(PathBuf::from);
    let verdict = match out.status.code() {
        Some(0) => Some("valid".to_string()),
        Some(1) => Some("invalid".to_string()),
        Some(2) => Some("unknown".to_string()),
        _ => None,
    };
    (
        verdict,
        dir,
        stdout
            .lines()
            .find(|l| l.contains("VALID") || l.contains("UNKNOWN"))
            .unwrap_or("")
            .to_string(),
    )
}

pub fn run(args: &Args) -> Result<u8, String> {
    let text = std::fs::read_to_string(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let tests = tests(&text).map_err(|e| format!("{}: {e}", args.file.display()))?;
    // every test checked first, so a bad file says so wherever it is run
    crate::runtime::require_root()?;
    let stem = args
        .file
        .file_stem()
        .map_or("suite".into(), |s| s.to_string_lossy().into_owned());
    let dir = results::RunDir::create(&args.results, &format!("suite-{stem}"))?;
    eprintln!(
        "splitbrain: suite {stem}: {} tests; results in {}",
        tests.len(),
        dir.path.display()
    );
    let mut suite = TestSuite::new(stem.as_str());
    let mut rows = Vec::new();
    let mut worst = Outcome::Pass;
    let started = Instant::now();
    for (i, test) in tests.iter().enumerate() {
        eprintln!(
            "splitbrain: suite test {}/{}: {} (expects {})",
            i + 1,
            tests.len(),
            test.name,
            test.expect
        );
        let t0 = Instant::now();
        let (verdict, run_dir, line) = run_one(test, &args.results);
        let took = t0.elapsed();
        let outcome = match verdict.as_deref() {
            Some(v) if v == test.expect => Outcome::Pass,
            Some("unknown") => Outcome::Unknown,
            Some(_) => Outcome::Fail,
            None => Outcome::Error,
        };
        worst = worst.max(outcome);
        let got = verdict.clone().unwrap_or_else(|| "error".into());
        let folder = run_dir.as_ref().map_or("-".to_string(), |d| d.display().to_string());
        let status = match outcome {
            Outcome::Pass => TestCaseStatus::success(),
            bad => {
                let kind = if bad == Outcome::Fail {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut s = TestCaseStatus::non_success(kind);
                s.set_message(format!("expected {}, got {got}", test.expect));
                s.set_description(format!(
                    "{line}\nsplitbrain {}\nreport: {folder}/report.html",
                    test.args.join(" ")
                ));
                s
            }
        };
        let mut case = TestCase::new(test.name.as_str(), status);
        case.set_classname(format!(
            "{stem}.{}",
            if test.expect == "invalid" {
                "negative-control"
            } else {
                "run"
            }
        ))
        .set_time(took);
        case.add_property(quick_junit::Property::new("report", format!("{folder}/report.html")));
        suite.add_test_case(case);
        rows.push((test.name.clone(), test.expect, got, outcome, took, folder));
    }
    suite.set_time(started.elapsed());
    let mut report = quick_junit::Report::new(format!("splitbrain suite {stem}"));
    report.add_test_suite(suite);
    let xml = report.to_string().map_err(|e| format!("junit.xml: {e}"))?;
    results::folder::write_atomic(&dir.file("junit.xml"), xml.as_bytes())?;
    let table = summary(&rows);
    results::folder::write_atomic(&dir.file("summary.txt"), table.as_bytes())?;
    println!("\n{table}suite: junit.xml and summary.txt in {}", dir.path.display());
    Ok(match worst {
        Outcome::Pass => 0,
        Outcome::Fail => 1,
        Outcome::Unknown => 2,
        Outcome::Error => EXIT_ERROR,
    })
}

type Row = (String, &'static str, String, Outcome, Duration, String);

fn summary(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:<width$}  {:<8} {:<8} {:<7} {:>6}  run\n",
        "test", "expects", "got", "result", "time"
    );
    for (name, expect, got, outcome, took, folder) in rows {
        let result = match outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Unknown => "UNKNOWN",
            Outcome::Error => "ERROR",
        };
        out.push_str(&format!(
            "{name:<width$}  {expect:<8} {got:<8} {result:<7} {:>5.0}s  {folder}\n",
            took.as_secs_f64()
        ));
    }
    let passed = rows.iter().filter(|r| r.3 == Outcome::Pass).count();
    out.push_str(&format!("{passed} of {} passed\n", rows.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_expand_and_defaults_apply() {
        let t = tests(
            "[defaults]\ntime-limit = 10\n[[test]]\nsystem = [\"etcd\", \"zookeeper\"]\nnemesis = \"partition,kill\"\n\
             [[test]]\nname = \"stale\"\nread-mode = \"serializable\"\nexpect = \"invalid\"\n",
        )
        .unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(
            t[0].args,
            [
                "run",
                "--nemesis",
                "partition,kill",
                "--system",
                "etcd",
                "--time-limit",
                "10"
            ]
        );
        assert_eq!(t[1].name, "nemesis=partition,kill system=zookeeper time-limit=10");
        assert_eq!((t[2].name.as_str(), t[2].expect), ("stale", "invalid"));
    }

    #[test]
    fn the_shipped_suites_are_valid() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for file in ["ci/smoke.toml", "ci/clock.toml", "ci/drills.toml"] {
            let text = std::fs::read_to_string(root.join(file))
                .unwrap()
                .replace("\"scenarios/", &format!("\"{}/scenarios/", root.display()));
            let t = tests(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(!t.is_empty(), "{file}");
        }
    }

    #[test]
    fn a_matrix_is_counted_before_it_is_built() {
        let ten = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]";
        let keys = [
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
        ];
        let huge: String = keys.iter().map(|k| format!("{k} = {ten}\n")).collect();
        let started = std::time::Instant::now();
        let e = tests(&format!("[[test]]\n{huge}")).err().expect("10^10 tests accepted");
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
        assert_eq!(
            e,
            "test 1: its lists expand to 10000000000 tests; a suite runs at most 1000: shorten them or split the file"
        );
        // 10^20: past usize, said as such rather than overflowing
        let over: String = (0..20).map(|i| format!("k{i} = {ten}\n")).collect();
        let e = tests(&format!("[[test]]\n{over}")).err().unwrap();
        assert!(e.contains(&format!("more than {}", usize::MAX)), "{e}");
        // each test under the cap, all of them over it
        let e = tests(&"[[test]]\nseed = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nkeys = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nrpo = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n".repeat(2))
            .err()
            .unwrap();
        assert_eq!(
            e,
            "tests 1 to 2 expand to 2000 tests; a suite runs at most 1000: split the file"
        );
    }

    #[test]
    fn bad_suites_are_one_line_naming_the_test() {
        for (text, says) in [
            (
                "[[test]]\nsystem = \"cassandra\"\n",
                "test 1: invalid value 'cassandra' for '--system",
            ),
            ("[[test]]\ntime-limt = 3\n", "test 1: unexpected argument '--time-limt'"),
            ("[[test]]\nexpect = \"maybe\"\n", "use \"valid\" or \"invalid\""),
            ("[default]\n", "unknown table [default]"),
            ("", "no tests: add a [[test]] table"),
            ("[[test]\n", "line 1: unclosed array table"),
            ("test = []\n", "no tests: add a [[test]] table"),
            (
                "[[test]]\nsystem = []\n",
                "test 1: system = []: an empty list expands to no test",
            ),
            (
                "[[test]]\nversion = \"9.9.9\"\n",
                "test 1: --version 9.9.9: splitbrain does not provision etcd 9.9.9",
            ),
            (
                "[[test]]\nbinary = \"/nonexistent/etcd\"\n",
                "test 1: --binary /nonexistent/etcd: no such file",
            ),
            (
                "[[test]]\nkeys = -3\n",
                "test 1: invalid value '-3' for '--keys <KEYS>': must be positive",
            ),
            (
                "[[test]]\ntime-limit = -1\n",
                "test 1: --time-limit must be a positive number of seconds",
            ),
        ] {
            let e = tests(text).err().unwrap_or_else(|| panic!("{text:?} was accepted"));
            assert!(e.contains(says), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{text:?}: {e}");
        }
    }
}
