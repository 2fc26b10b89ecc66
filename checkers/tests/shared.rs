//! Every history in tests/histories/expected.tsv gets its expected verdict.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use checkers::format::{Format, parse_value, read_history};
use checkers::{ModelKind, Options, Verdict, check};

/// The reference histories, kept in the repository (see their README).
fn histories() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/histories")
}

#[test]
fn every_shared_history_gets_its_expected_verdict() {
    let dir = histories();
    let table = std::fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv");
    let mut wrong = Vec::new();
    let mut checked = 0;
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [path, format, model, initial, expected] = cols[..] else {
            panic!("bad row {line:?}")
        };
        let file = File::open(dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let history = read_history(BufReader::new(file), Format::parse(format).expect("format"))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut opts = Options::new(ModelKind::parse(model).expect("model"));
        opts.initial = Some(parse_value(initial).expect("initial"));
        let report = check(&history, &opts).unwrap_or_else(|e| panic!("{path}: {e}"));
        let want = if expected == "valid" {
            Verdict::Valid
        } else {
            Verdict::Invalid
        };
        if report.verdict != want {
            wrong.push(format!(
                "{path}: expected {expected}, got {}\n{}",
                report.verdict.as_str(),
                report.to_text()
            ));
        }
        if want == Verdict::Invalid {
            let bad = report
                .keys
                .iter()
                .find(|k| k.verdict == Verdict::Invalid)
                .expect("an invalid key");
            assert!(bad.counterexample.is_some(), "{path}: invalid without a counterexample");
        }
        checked += 1;
    }
    assert!(checked >= 100, "only {checked} rows in expected.tsv");
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
