//! The fuzz corpus on stable Rust: every file under `fuzz/corpus/<target>/` replayed, then
//! mutants of it for `SPLITBRAIN_FUZZ_SECS` (default 10 s in all), through the same
//! invariant checks as the cargo-fuzz targets (`fuzz/src/history.rs`, included here).

#[path = "../../fuzz/src/history.rs"]
mod history;
#[path = "../../fuzz/src/mutate.rs"]
mod mutate;

use std::path::{Path, PathBuf};

use checkers::format::Format;

/// A corpus folder and what its inputs are checked with.
type Target = (&'static str, fn(&[u8]));

/// Each cargo-fuzz target.
const TARGETS: [Target; 5] = [
    ("edn", |d| history::check_read(d, Format::Edn)),
    ("jsonl", |d| history::check_read(d, Format::Jsonl)),
    ("porcupine_etcd", |d| history::check_read(d, Format::PorcupineEtcd)),
    ("porcupine_kv", |d| history::check_read(d, Format::PorcupineKv)),
    ("detect", history::check_detect),
];

/// Pieces of the three formats for the mutator to insert.
const TOKENS: &[&[u8]] = &[
    b":index ",
    b"\"index\":",
    b":process ",
    b":nemesis",
    b":type :invoke",
    b":type :ok",
    b":type :fail",
    b":type :info",
    b":f :cas",
    b":f :read",
    b":f :write",
    b":f :get",
    b":f :put",
    b":f :append",
    b":key ",
    b":value ",
    b":time ",
    b"nil",
    b"#inst \"2017-01-01\"",
    b"#{1 2}",
    b"#_",
    b"\\newline",
    b"\\u00e9",
    b"[1 2]",
    b"{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n",
    b"\"value\":",
    b"\"time\":",
    b"INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\n",
    b"jepsen.util - ",
    b"\t:ok\t",
    b"\t:fail\t",
    b"\"f\":\"watch\"",
    b"\"f\":\"txn\"",
    b"\"f\":\"hash\"",
    b"{\"from\":2,\"open\":true}",
    b"{\"progress\":3,\"response\":1}",
    b"[\"k1\",1,2,1,true,null]",
];

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    mutate::corpus(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(target),
    )
}

#[test]
fn every_corpus_file_keeps_the_invariants() {
    let failed: Vec<PathBuf> = TARGETS
        .iter()
        .flat_map(|&(target, check)| mutate::replay(&corpus(target), check))
        .collect();
    assert!(failed.is_empty(), "these inputs break an invariant: {failed:#?}");
}

#[test]
fn mutants_of_the_corpus_keep_the_invariants() {
    let time = mutate::budget(TARGETS.len() as u32);
    for (target, check) in TARGETS {
        let n = mutate::fuzz(target, &corpus(target), TOKENS, time, check);
        eprintln!("{target}: {n} mutants in {time:?}");
    }
}
