//! The suite and scenario TOML parsers fuzzed on stable Rust: every file under
//! `fuzz/corpus/{suite,scenario}/` replayed, then mutants of them for
//! `SPLITBRAIN_FUZZ_SECS` (default 10 s in all). The harness has no library target
//! for cargo-fuzz to link, so this is their only fuzzing; the invariant is that
//! any text gets `Ok` or `Err`, never a panic.

#[path = "../../fuzz/src/mutate.rs"]
mod mutate;

use std::path::{Path, PathBuf};

use nemeses::ClockPlan;

use crate::{scenario, suite};

/// A corpus folder and how its inputs are parsed.
type Parser = (&'static str, fn(&[u8]));

/// Each TOML parser.
const PARSERS: [Parser; 2] = [
    ("suite", |d| {
        let _ = suite::tests(&String::from_utf8_lossy(d));
    }),
    // Five nodes: the largest cluster any seed names (n1 to n5).
    ("scenario", |d| {
        let _ = scenario::parse(&String::from_utf8_lossy(d), 5, &ClockPlan::default());
    }),
];

/// Pieces of suite and scenario files for the mutator to insert.
const TOKENS: &[&[u8]] = &[
    b"[[step]]\n",
    b"[[test]]\n",
    b"[defaults]\n",
    b"period = 1e30\n",
    b"offset = ",
    b"rate = ",
    b"clocks = ",
    b"nodes = ",
    b"within = ",
    b"wait = ",
    b"kill = ",
    b"lose = ",
    b"partition = ",
    b"clock = ",
    b"expect = ",
    b"phase = ",
    b"hold = true\n",
    b"snapshot = true\n",
    b"runbook = true\n",
    b"compact = ",
    b"time-limit = ",
    b"nemesis = ",
    b"nemesis-interval = ",
    b"[\"n1\", \"n99\"]",
    b"\"n0\"",
    b"\"leader\"",
    b"\"majority\"",
    b"nan",
    b"inf",
    b"-inf",
    b"-1",
    b"9223372036854775807",
    b"[]",
    b"{}",
    b"1979-05-27T07:32:00Z",
    b"'''",
    b"\"\"\"",
];

fn corpus(parser: &str) -> Vec<(PathBuf, Vec<u8>)> {
    mutate::corpus(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(parser),
    )
}

#[test]
fn every_corpus_file_parses_without_a_panic() {
    let failed: Vec<PathBuf> = PARSERS
        .iter()
        .flat_map(|&(parser, check)| mutate::replay(&corpus(parser), check))
        .collect();
    assert!(failed.is_empty(), "these inputs panic: {failed:#?}");
}

#[test]
fn mutants_of_the_corpus_parse_without_a_panic() {
    let time = mutate::budget(PARSERS.len() as u32);
    for (parser, check) in PARSERS {
        let n = mutate::fuzz(parser, &corpus(parser), TOKENS, time, check);
        eprintln!("{parser}: {n} mutants in {time:?}");
    }
}
