//! What append reads reveal, on hand-built kv histories, Porcupine's and
//! generated 50-client ones: reads that disagree on the order of two appends,
//! or miss an acknowledged one, are caught and named, every key decided; the
//! counterexample lists each state once, long values shortened in the middle.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use checkers::format::{Format, read_history};
use checkers::synth::{AppendSynth, AppendViolation};
use checkers::{F, History, ModelKind, Op, Options, Process, Type, Value, Verdict, check};

/// Ops of one key from `(process, type, f, value)`, in order.
fn history(ops: &[(u64, Type, F, &str)]) -> History {
    let ops = ops
        .iter()
        .enumerate()
        .map(|(i, (p, t, f, v))| {
            let value = if *f == F::Get && *t == Type::Invoke {
                Value::Nil
            } else {
                Value::str(v)
            };
            let mut op = Op::new(Process::Client(*p), *t, f.clone(), value).with_key(Value::str("k"));
            op.index = i as u64;
            op.line = i as u32 + 1;
            op
        })
        .collect();
    History::new(ops)
}

#[test]
fn two_reads_disagreeing_on_the_order_of_appends_are_caught_and_named() {
    use Type::{Invoke, Ok};
    // a and b appended at once; one read sees ab, a later one ba
    let h = history(&[
        (0, Invoke, F::Append, "xay"),
        (1, Invoke, F::Append, "xby"),
        (0, Ok, F::Append, "xay"),
        (1, Ok, F::Append, "xby"),
        (2, Invoke, F::Get, ""),
        (2, Ok, F::Get, "xayxby"),
        (3, Invoke, F::Get, ""),
        (3, Ok, F::Get, "xbyxay"),
    ]);
    let report = check(&h, &Options::new(ModelKind::Kv)).unwrap();
    assert_eq!(report.verdict, Verdict::Invalid);
    let text = report.keys[0].to_text();
    assert!(text.contains("the reads reveal it"), "{text}");
    assert!(text.contains("disagree on the order of the writes"), "{text}");
    assert!(
        text.contains("ok xbyxay") && text.contains("ok xayxby"),
        "both reads named: {text}"
    );
}

#[test]
fn concurrent_appends_a_read_orders_are_valid_without_a_search() {
    use Type::{Invoke, Ok};
    let h = history(&[
        (0, Invoke, F::Append, "xay"),
        (1, Invoke, F::Append, "xby"),
        (2, Invoke, F::Put, "xpy"),
        (2, Ok, F::Put, "xpy"),
        (1, Ok, F::Append, "xby"),
        (0, Ok, F::Append, "xay"),
        (3, Invoke, F::Get, ""),
        (3, Ok, F::Get, "xpyxbyxay"),
    ]);
    let report = check(&h, &Options::new(ModelKind::Kv)).unwrap();
    assert_eq!(report.verdict, Verdict::Valid);
    // decided from the reveals: the search never ran, so it counted no configuration
    assert_eq!(report.keys[0].max_configurations, 0);
}

#[test]
fn a_counterexample_lists_each_state_once_and_shortens_long_ones() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/histories/porcupine/kv/c10-bad.txt");
    let h = read_history(BufReader::new(File::open(path).unwrap()), Format::PorcupineKv).unwrap();
    let report = check(&h, &Options::new(ModelKind::Kv)).unwrap();
    assert_eq!(report.verdict, Verdict::Invalid);
    let mut shortened = false;
    for k in report.keys.iter().filter(|k| k.verdict == Verdict::Invalid) {
        let cx = k.counterexample.as_ref().unwrap();
        let mut states: Vec<&str> = cx.states.iter().map(|s| s.state.as_str()).collect();
        let n = states.len();
        states.sort_unstable();
        states.dedup();
        assert_eq!(states.len(), n, "a state listed twice: {}", k.to_text());
        shortened |= cx.states.iter().any(|s| s.state.contains(" chars…"));
        assert!(
            cx.states.iter().all(|s| s.state.chars().count() < 120),
            "{}",
            k.to_text()
        );
    }
    assert!(shortened, "c10-bad's long states are shortened");
}

/// 50 clients, 10 keys, about 200 ops a key, as Porcupine's c50 logs.
fn synth(violation: Option<AppendViolation>, seed: u64) -> checkers::Report {
    let ops = AppendSynth {
        violation,
        seed,
        ..AppendSynth::default()
    }
    .generate();
    let mut opts = Options::new(ModelKind::Kv);
    opts.time_limit = Some(Duration::from_secs(10));
    let start = Instant::now();
    let report = check(&History::new(ops), &opts).unwrap();
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    report
}

#[test]
fn generated_50_client_append_histories_are_decided_on_every_key() {
    for seed in 1..=3 {
        let report = synth(None, seed);
        assert_eq!(report.keys.len(), 10);
        assert_eq!(report.verdict, Verdict::Valid, "{}", report.to_text());

        let report = synth(Some(AppendViolation::Missing), seed);
        assert_eq!(report.verdict, Verdict::Invalid, "{}", report.to_text());
        let bad: Vec<&str> = report
            .keys
            .iter()
            .filter(|k| k.verdict != Verdict::Valid)
            .map(|k| k.key.as_deref().unwrap_or_default())
            .collect();
        assert_eq!(bad, ["0"], "only the bent key: {}", report.to_text());

        let report = synth(Some(AppendViolation::Reordered), seed);
        assert_eq!(report.verdict, Verdict::Invalid, "{}", report.to_text());
        let zero = &report.keys[0];
        assert_eq!(zero.verdict, Verdict::Invalid);
        let text = zero.to_text();
        assert!(text.contains("disagree on the order of the writes"), "{text}");
    }
}

#[test]
fn a_state_reached_several_ways_is_listed_once_with_what_sets_the_ways_apart() {
    use Type::{Invoke, Ok};
    // two puts of the same value at once, and a read during both of what nobody wrote
    let h = history(&[
        (0, Invoke, F::Put, "xvy"),
        (1, Invoke, F::Put, "xvy"),
        (2, Invoke, F::Get, ""),
        (2, Ok, F::Get, "xzy"),
        (0, Ok, F::Put, "xvy"),
        (1, Ok, F::Put, "xvy"),
    ]);
    let report = check(&h, &Options::new(ModelKind::Kv)).unwrap();
    assert_eq!(report.verdict, Verdict::Invalid);
    let cx = report.keys[0].counterexample.as_ref().unwrap();
    let v = cx.states.iter().find(|s| s.state == "\"xvy\"").expect("the state xvy");
    assert_eq!(cx.states.iter().filter(|s| s.state == "\"xvy\"").count(), 1);
    // after process 0's put, process 1's, or both
    assert_eq!(v.other_ways, 2, "{:?}", v);
    assert!(v.after.is_empty());
    assert_eq!(v.differing.len(), 3);
    let text = report.keys[0].to_text();
    assert!(text.contains("and then one of: ["), "{text}");
    assert!(
        text.contains("[put xvy by 0]") && text.contains("[put xvy by 1]"),
        "{text}"
    );
    assert!(
        text.contains("none of which allows it:"),
        "two states, both shown: {text}"
    );
}
