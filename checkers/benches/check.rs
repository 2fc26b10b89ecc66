//! Criterion benches: the shared Porcupine etcd logs (as Porcupine times them,
//! parsing excluded) and generated Jepsen-style cas-register histories.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use checkers::format::{Format, read_history};
use checkers::synth::Synth;
use checkers::{History, ModelKind, Options, Value, check};
use criterion::{Criterion, criterion_group, criterion_main};

/// The reference histories, kept in the repository (see their README).
fn histories() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/histories")
}

fn porcupine_etcd(c: &mut Criterion) {
    let dir = histories().join("porcupine/etcd");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    let logs: Vec<History> = files
        .iter()
        .map(|p| read_history(BufReader::new(File::open(p).expect("open")), Format::PorcupineEtcd).expect("parse"))
        .collect();
    let mut opts = Options::new(ModelKind::CasRegister);
    opts.initial = Some(Value::Nil);
    c.bench_function("porcupine etcd logs, all 52", |b| {
        b.iter(|| {
            for h in &logs {
                check(h, &opts).expect("check");
            }
        })
    });
}

fn generated(c: &mut Criterion) {
    let mut group = c.benchmark_group("generated cas-register");
    group.sample_size(10);
    for (name, synth) in [
        (
            "100k ops",
            Synth {
                ops: 100_000,
                ..Synth::default()
            },
        ),
        (
            "100k ops, 10% info",
            Synth {
                ops: 100_000,
                info_percent: 10,
                ..Synth::default()
            },
        ),
    ] {
        let h = History::new(synth.generate());
        let opts = Options::new(ModelKind::CasRegister);
        group.bench_function(name, |b| b.iter(|| check(&h, &opts).expect("check")));
    }
    group.finish();
}

criterion_group!(benches, porcupine_etcd, generated);
criterion_main!(benches);
