//! Time limits hold: a deadline turns the search into `unknown` (with the reason)
//! promptly, wherever the search is, and keys already proven invalid stay invalid.

use std::io::BufReader;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use checkers::format::{Format, read_history};
use checkers::synth::Synth;
use checkers::{History, ModelKind, Options, Value, Verdict, check, dfs};

/// The reference histories, kept in the repository (see their README).
fn histories() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/histories")
}

/// Porcupine's c50-bad: ten keys of up to a dozen concurrent appends, with a
/// pending append of `x` on each: a value that begins every other, so reads
/// reveal nothing (`checkers::pinned` stands aside) and the search alone does
/// not decide them in minutes.
fn c50_bad_text() -> String {
    let mut text = std::fs::read_to_string(histories().join("porcupine/kv/c50-bad.txt")).expect("c50-bad.txt");
    for k in 0..10 {
        text.push_str(&format!(
            "{{:process {}, :type :invoke, :f :append, :key \"{k}\", :value \"x\"}}\n",
            1000 + k
        ));
    }
    text
}

fn kv(text: &str) -> History {
    read_history(BufReader::new(text.as_bytes()), Format::PorcupineKv).expect("parse")
}

fn kv_options(time_limit: Duration) -> Options {
    let mut opts = Options::new(ModelKind::Kv);
    opts.initial = Some(Value::str(""));
    opts.time_limit = Some(time_limit);
    opts
}

#[test]
fn a_deadline_in_the_past_is_unknown_at_once() {
    let history = kv(&c50_bad_text());
    let start = Instant::now();
    let report = check(&history, &kv_options(Duration::ZERO)).expect("check");
    let took = start.elapsed();
    assert_eq!(report.verdict, Verdict::Unknown);
    assert_eq!(report.keys.len(), 10);
    for k in &report.keys {
        assert_eq!(k.verdict, Verdict::Unknown, "{k:?}");
        assert!(k.reason.as_deref().is_some_and(|r| r.contains("time limit")), "{k:?}");
    }
    assert!(took < Duration::from_millis(500), "took {took:?}");

    // a large history that would be valid, with info ops and without the depth-first race
    let history = History::new(
        Synth {
            ops: 200_000,
            info_percent: 10,
            ..Synth::default()
        }
        .generate(),
    );
    let mut opts = Options::new(ModelKind::CasRegister);
    opts.time_limit = Some(Duration::ZERO);
    opts.depth_first = false;
    let start = Instant::now();
    let report = check(&history, &opts).expect("check");
    assert_eq!(report.verdict, Verdict::Unknown);
    assert!(report.keys.iter().all(|k| k.verdict == Verdict::Unknown));
    // reading and splitting the history is all it does
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
}

#[test]
fn the_depth_first_search_stops_at_a_past_deadline() {
    let calls: Vec<dfs::Call> = (0..100)
        .map(|i| dfs::Call {
            invoke: 2 * i,
            ret: 2 * i + 1,
        })
        .collect();
    let mut steps = 0;
    let found = dfs::linearizable(&calls, 0, usize::MAX, Some(Instant::now()), |s, _| {
        steps += 1;
        Some(s)
    });
    assert!(!found);
    assert_eq!(steps, 0);
    // and without a deadline it finds the obvious linearization
    assert!(dfs::linearizable(&calls, 0, usize::MAX, None, |s, _| Some(s)));
}

#[test]
fn a_time_limit_holds_while_keys_explode() {
    let limit = Duration::from_secs(1);
    let history = kv(&c50_bad_text());
    let start = Instant::now();
    let report = check(&history, &kv_options(limit)).expect("check");
    let took = start.elapsed();
    // the check waits 30 ms for searches to stop on their own
    assert!(took < limit + Duration::from_secs(1), "took {took:?}");
    assert_ne!(report.verdict, Verdict::Valid);
    for k in report.keys.iter().filter(|k| k.verdict == Verdict::Unknown) {
        assert!(k.reason.as_deref().is_some_and(|r| r.contains("time limit")), "{k:?}");
    }
}

#[test]
fn a_key_proven_invalid_stays_invalid_when_the_time_runs_out() {
    // c50-bad's first key, which explodes, and a key "z" with a stale read
    let mut text = String::from(concat!(
        "{:process 100, :type :invoke, :f :put, :key \"z\", :value \"a\"}\n",
        "{:process 100, :type :ok, :f :put, :key \"z\", :value \"a\"}\n",
        "{:process 100, :type :invoke, :f :get, :key \"z\", :value nil}\n",
        "{:process 100, :type :ok, :f :get, :key \"z\", :value \"\"}\n",
    ));
    for line in c50_bad_text().lines().filter(|l| l.contains(":key \"0\"")) {
        text.push_str(line);
        text.push('\n');
    }
    let limit = Duration::from_secs(1);
    let start = Instant::now();
    let report = check(&kv(&text), &kv_options(limit)).expect("check");
    assert!(
        start.elapsed() < limit + Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(report.verdict, Verdict::Invalid);
    let key = |k: &str| report.keys.iter().find(|r| r.key.as_deref() == Some(k)).expect("key");
    let z = key("z");
    assert_eq!(z.verdict, Verdict::Invalid);
    let cx = z.counterexample.as_ref().expect("a counterexample");
    assert_eq!(cx.op.f, "get");
    let zero = key("0");
    assert_eq!(zero.verdict, Verdict::Unknown, "{zero:?}");
    assert!(zero.reason.as_deref().is_some_and(|r| r.contains("time limit")));
    let text = report.to_text();
    assert!(text.contains("time limit reached"), "{text}");
}
