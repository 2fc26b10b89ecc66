//! `splitbrain bench`: the checker's speed and memory on the shared histories and
//! on generated large ones, as a table for the README. Parsing is excluded, as
//! Porcupine measures; memory is the peak heap the check itself adds.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use checkers::synth::{AppendSynth, AppendViolation, Synth};
use checkers::{F, History, ModelKind, Op, Options, Process, Record, Report, Type, Value, Verdict};
use results::Recorder;
use workloads::{Register, Slot, Target};

use crate::alloc;

#[derive(clap::Args)]
pub struct Args {
    /// Folder with expected.tsv and the histories it lists [default: the repository's
    /// checkers/tests/histories]
    #[arg(long)]
    pub histories: Option<PathBuf>,
    /// Ops in each generated history
    #[arg(long, default_value_t = 1_000_000)]
    pub ops: usize,
    /// Timed runs per shared history; the fastest counts
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Only the generated histories
    #[arg(long)]
    pub generated_only: bool,
    /// Instead: the cost of recording one op into history.jsonl
    #[arg(long)]
    pub record: bool,
    /// Instead: ops/s of the register workload against a 3-node etcd (netns, root),
    /// recorded by the harness versus a bare client loop, each for this many seconds
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::seconds, value_name = "SECONDS")]
    pub etcd: Option<f64>,
    /// Instead: ns per clock_gettime in a process of ours, native and with its vDSO
    /// patched by the clock nemesis (no skew, a bump, a drift)
    #[arg(long)]
    pub clock: bool,
}

struct Row {
    name: String,
    ops: usize,
    verdict: Verdict,
    expected: Option<Verdict>,
    time: Duration,
    peak: usize,
}

fn measure(history: &History, opts: &Options, runs: usize) -> (Report, Duration, usize) {
    let mut best: Option<(Report, Duration, usize)> = None;
    for _ in 0..runs.max(1) {
        let base = alloc::reset_peak();
        let start = Instant::now();
        let report = checkers::check(history, opts).expect("history checked before timing");
        let time = start.elapsed();
        let peak = alloc::peak_since(base);
        if best.as_ref().is_none_or(|(_, t, _)| time < *t) {
            best = Some((report, time, peak));
        }
    }
    best.expect("at least one run")
}

/// The reference histories in the repository: under the working directory when it is
/// the checkout, else where this binary was built from.
fn reference_histories() -> PathBuf {
    let here = PathBuf::from("checkers/tests/histories");
    if here.join("expected.tsv").is_file() {
        return here;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../checkers/tests/histories"))
}

fn shared(args: &Args, rows: &mut Vec<Row>) -> Result<(), String> {
    let dir = args.histories.clone().unwrap_or_else(reference_histories);
    let table = dir.join("expected.tsv");
    let text = std::fs::read_to_string(&table)
        .map_err(|e| format!("{}: {e} (pass --histories DIR, or --generated-only)", table.display()))?;
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [path, format, model, initial, expected] = cols[..] else {
            return Err(format!(
                "{}:{}: expected 5 tab-separated columns",
                table.display(),
                n + 1
            ));
        };
        let format = checkers::format::Format::parse(format).ok_or_else(|| format!("unknown format {format}"))?;
        let (history, _) = crate::check::read(&dir.join(path), Some(format))?;
        let mut opts = Options::new(ModelKind::parse(model).ok_or_else(|| format!("unknown model {model}"))?);
        opts.initial = Some(checkers::format::parse_value(initial).map_err(|e| format!("{path}: initial: {e}"))?);
        checkers::check(&history, &opts).map_err(|e| format!("{path}: {e}"))?;
        let (report, time, peak) = measure(&history, &opts, args.runs);
        rows.push(Row {
            name: path.to_string(),
            ops: report.ops,
            verdict: report.verdict,
            expected: Some(if expected == "valid" {
                Verdict::Valid
            } else {
                Verdict::Invalid
            }),
            time,
            peak,
        });
    }
    Ok(())
}

fn generated(args: &Args, rows: &mut Vec<Row>) {
    let scenarios = [
        (
            "cas-register, no info ops",
            Synth {
                ops: args.ops,
                ..Synth::default()
            },
            Verdict::Valid,
        ),
        (
            "cas-register, 10% info ops + violation",
            Synth {
                ops: args.ops,
                info_percent: 10,
                violation: true,
                ..Synth::default()
            },
            Verdict::Invalid,
        ),
        (
            "cas-register, 10% info ops",
            Synth {
                ops: args.ops,
                info_percent: 10,
                ..Synth::default()
            },
            Verdict::Valid,
        ),
    ];
    for (name, synth, expected) in scenarios {
        eprintln!("generating {name} ({} ops)...", synth.ops);
        let history = History::new(synth.generate());
        let (report, time, peak) = measure(&history, &Options::new(ModelKind::CasRegister), 1);
        rows.push(Row {
            name: format!(
                "generated: {name}, {} keys x {} clients",
                synth.keys, synth.clients_per_key
            ),
            ops: report.ops,
            verdict: report.verdict,
            expected: Some(expected),
            time,
            peak,
        });
    }
}

/// Porcupine-style append histories: 50 clients over 10 keys, as its c50 logs
/// (about 200 ops a key), bent the two ways a broken store bends them, and a
/// larger valid one.
fn appends(rows: &mut Vec<Row>) {
    let scenarios = [
        ("kv appends", 2000, None, Verdict::Valid),
        (
            "kv appends, a read missing an acknowledged append",
            2000,
            Some(AppendViolation::Missing),
            Verdict::Invalid,
        ),
        (
            "kv appends, two reads disagreeing on the order",
            2000,
            Some(AppendViolation::Reordered),
            Verdict::Invalid,
        ),
        ("kv appends", 100_000, None, Verdict::Valid),
    ];
    for (name, ops, violation, expected) in scenarios {
        let synth = AppendSynth {
            ops,
            violation,
            ..AppendSynth::default()
        };
        let history = History::new(synth.generate());
        let (report, time, peak) = measure(&history, &Options::new(ModelKind::Kv), 5);
        rows.push(Row {
            name: format!("generated: {name}, {} keys x {} clients", synth.keys, synth.clients),
            ops: report.ops,
            verdict: report.verdict,
            expected: Some(expected),
            time,
            peak,
        });
    }
}

pub fn run(args: &Args) -> Result<u8, String> {
    if args.record {
        return record_cost();
    }
    if let Some(secs) = args.etcd {
        return etcd_overhead(secs);
    }
    if args.clock {
        return clock_cost(args.runs);
    }
    let mut rows = Vec::new();
    if !args.generated_only {
        shared(args, &mut rows)?;
    }
    generated(args, &mut rows);
    appends(&mut rows);
    println!("| history | ops | verdict | time (ms) | peak memory (MB) |");
    println!("|---|---:|---|---:|---:|");
    let mut wrong = 0;
    for r in &rows {
        let right = r.expected.is_none_or(|e| e == r.verdict);
        if !right {
            wrong += 1;
        }
        println!(
            "| {} | {} | {}{} | {:.3} | {:.1} |",
            r.name,
            r.ops,
            r.verdict.as_str(),
            if right { "" } else { " (WRONG)" },
            r.time.as_secs_f64() * 1e3,
            r.peak as f64 / (1 << 20) as f64
        );
    }
    let etcd: Vec<&Row> = rows.iter().filter(|r| r.name.starts_with("porcupine/etcd/")).collect();
    if !etcd.is_empty() {
        let total: Duration = etcd.iter().map(|r| r.time).sum();
        let slowest = etcd.iter().max_by_key(|r| r.time).expect("non-empty");
        println!(
            "\nporcupine etcd logs: {} files, {:.2} ms in total (slowest {} at {:.2} ms)",
            etcd.len(),
            total.as_secs_f64() * 1e3,
            slowest.name,
            slowest.time.as_secs_f64() * 1e3
        );
    }
    println!("{} of {} verdicts as expected", rows.len() - wrong, rows.len());
    Ok(if wrong == 0 { 0 } else { 1 })
}

/// Times `Recorder::record` on a typical op, single-threaded, into a real file.
fn record_cost() -> Result<u8, String> {
    let dir = std::env::temp_dir().join(format!("splitbrain-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let rec = Recorder::create(&dir.join("history.jsonl"), Instant::now())?;
    let op = Op::new(
        Process::Client(3),
        Type::Ok,
        F::Cas,
        Value::list(vec![Value::Int(1), Value::Int(4)]),
    )
    .with_key(Value::Int(2));
    let n = 1_000_000;
    let start = Instant::now();
    for _ in 0..n {
        rec.record(op.clone());
    }
    rec.flush()?;
    let per_op = start.elapsed().as_nanos() as f64 / n as f64;
    let bytes = std::fs::metadata(dir.join("history.jsonl")).map_or(0, |m| m.len());
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "recording one op: {per_op:.0} ns ({n} ops, {:.1} MB of JSONL)",
        bytes as f64 / 1e6
    );
    Ok(0)
}

/// The harness's own cost at run time: the same op mix at the same concurrency,
/// recorded versus not, against one 3-node etcd; rounds alternate to cancel drift.
fn etcd_overhead(secs: f64) -> Result<u8, String> {
    crate::runtime::require_root()?;
    let etcd = crate::systems::find("etcd")?;
    let db = etcd.provision(None, None)?;
    let registers = etcd.registers()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("splitbrain-bench-etcd-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("nodes")).map_err(|e| e.to_string())?;
        let id = crate::run::cluster::run_id();
        let started = crate::run::cluster::start_cluster(
            &id,
            3,
            db.as_ref(),
            &dir,
            None,
            crate::runtime::local().as_ref(),
            &crate::systems::Tuning::default(),
        )
        .await?;
        let (mut teardown, ips) = (started.teardown, started.ips);
        let spec = Arc::new(Register {
            keys: 5,
            values: 5,
            readers: 0,
            target: Target {
                read_mode: registers.read_modes()[0],
                registers,
                op_timeout: Duration::from_secs(1),
                prefix: format!("splitbrain/{id}"),
            },
        });
        let clients = 6;
        let span = Duration::from_secs_f64(secs);
        let (mut bare, mut recorded) = (Vec::new(), Vec::new());
        for round in 0..4u64 {
            // alternate which goes first, so that a cluster slowing down over time hits both alike
            for recorded_turn in [round % 2 == 0, round % 2 != 0] {
                if recorded_turn {
                    recorded.push(recorded_rate(&spec, &ips, clients, span, round, &dir).await?);
                } else {
                    bare.push(bare_rate(&spec, &ips, clients, span, round).await?);
                }
            }
        }
        teardown.now();
        let _ = std::fs::remove_dir_all(&dir);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (b, r) = (mean(&bare), mean(&recorded));
        println!(
            "etcd {} x3, {clients} clients, {secs} s per round, 4 rounds each:",
            db.version()
        );
        println!("  bare etcd-client loop   {b:>8.0} ops/s  (rounds: {bare:.0?})");
        println!("  splitbrain, recorded    {r:>8.0} ops/s  (rounds: {recorded:.0?})");
        println!("  harness / bare          {:>8.1} %", 100.0 * r / b);
        Ok(0)
    })
}

async fn bare_rate(
    spec: &Arc<Register>,
    ips: &[std::net::Ipv4Addr],
    clients: u64,
    span: Duration,
    seed: u64,
) -> Result<f64, String> {
    let until = Instant::now() + span;
    let tasks: Vec<_> = (0..clients)
        .map(|p| tokio::spawn(spec.clone().bare_loop(p, ips[p as usize % ips.len()], until, seed)))
        .collect();
    let mut done = 0;
    for t in tasks {
        done += t.await.map_err(|e| e.to_string())??;
    }
    Ok(done as f64 / span.as_secs_f64())
}

async fn recorded_rate(
    spec: &Arc<Register>,
    ips: &[std::net::Ipv4Addr],
    clients: u64,
    span: Duration,
    seed: u64,
    dir: &std::path::Path,
) -> Result<f64, String> {
    let start = Instant::now();
    let rec = Arc::new(Recorder::create(&dir.join(format!("history-{seed}.jsonl")), start)?);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..clients)
        .map(|p| {
            tokio::spawn(spec.clone().run_process(Slot {
                first: p,
                stride: clients,
                ip: ips[p as usize % ips.len()],
                rec: rec.clone(),
                stop: stop.clone(),
                until: start + span,
                seed,
            }))
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let t = rec.tally();
    Ok((t.ok + t.fail + t.info) as f64 / span.as_secs_f64())
}

/// The cost of one clock read in a process whose vDSO the clock nemesis patched,
/// next to the same process unpatched. The probe (this binary) times
/// CLOCK_MONOTONIC reads itself; a drift changes the probe's own yardstick by
/// its rate, which is taken out again.
fn clock_cost(runs: usize) -> Result<u8, String> {
    use nemeses::clock::{Class, Injection, Skew};
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    const CALLS: u64 = 20_000_000;
    let exe = std::env::current_exe().map_err(|e| format!("own binary: {e}"))?;
    let mut child = Command::new(exe)
        .arg("clock-probe")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("clock probe: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut ready = String::new();
    stdout.read_line(&mut ready).map_err(|e| format!("clock probe: {e}"))?;
    let mut ask = |what: &str| -> Result<String, String> {
        writeln!(stdin, "{what}").map_err(|e| format!("clock probe: {e}"))?;
        let mut line = String::new();
        stdout.read_line(&mut line).map_err(|e| format!("clock probe: {e}"))?;
        Ok(line.trim().to_string())
    };
    let mut best = |rate: f64| -> Result<f64, String> {
        let mut best = f64::MAX;
        for _ in 0..runs.max(1) {
            let ns: f64 = ask(&format!("bench {CALLS}"))?
                .parse()
                .map_err(|e| format!("clock probe: {e}"))?;
            best = best.min(ns / (1.0 + rate));
        }
        Ok(best)
    };
    let native = best(0.0)?;
    let injection = Injection::inject(child.id())?;
    let patched = best(0.0)?;
    let bump = Skew {
        offset_ns: 30_000_000_000,
        ..Skew::default()
    };
    injection.set(Class::Mono, Some(bump));
    let bumped = best(0.0)?;
    let drift = Skew {
        offset_ns: 0,
        rate: 0.01,
        anchor_ns: Class::Mono.now_ns(),
    };
    injection.set(Class::Mono, Some(drift));
    let drifting = best(0.01)?;
    injection.remove()?;
    let _ = child.kill();
    let _ = child.wait();
    println!("| clock_gettime(CLOCK_MONOTONIC) | ns per call | vs native |");
    println!("|---|---:|---:|");
    for (what, ns) in [
        ("native vDSO", native),
        ("patched, no skew", patched),
        ("patched, bump +30 s", bumped),
        ("patched, drift x1.01", drifting),
    ] {
        println!("| {what} | {ns:.2} | {:+.1}% |", (ns / native - 1.0) * 100.0);
    }
    Ok(0)
}
