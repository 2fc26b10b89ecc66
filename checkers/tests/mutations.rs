//! Histories of every format, mutated (truncated, bytes flipped, lines deleted or
//! repeated): each mutant either fails to parse, with one line naming a line of
//! the input, or is judged on exactly what was read: the ops the report counts
//! are the calls parsed, a history with no client op is never a verdict, and the
//! same ops written out as our JSONL get the same verdict. A reader that skipped
//! what it could not parse would break the last: the verdict would be about a
//! history other than the one the file holds.

use std::path::PathBuf;
use std::time::Duration;

use checkers::format::{Format, read_history, write_jsonl};
use checkers::rng::Rng;
use checkers::{History, ModelKind, Options, Value, Verdict, check};

fn histories() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/histories")
}

/// Our JSONL of a history read from one of the reference files.
fn as_jsonl(path: &str, format: Format) -> Vec<u8> {
    let bytes = std::fs::read(histories().join(path)).expect("history");
    let h = read_history(&bytes[..], format).expect("parses");
    let mut out = Vec::new();
    for op in &h.ops {
        write_jsonl(&mut out, op).expect("write");
    }
    out
}

/// The sources: a small history of each format, valid and invalid ones.
fn sources() -> Vec<(String, Format, Vec<u8>)> {
    let file = |p: &str, f: Format| (p.to_string(), f, std::fs::read(histories().join(p)).expect("history"));
    vec![
        file("porcupine/etcd/etcd_002.log", Format::PorcupineEtcd),
        file("porcupine/etcd/etcd_000.log", Format::PorcupineEtcd),
        file("porcupine/kv/c01-ok.txt", Format::PorcupineKv),
        file("porcupine/kv/c01-bad.txt", Format::PorcupineKv),
        file("knossos/cas-register/bad/cas-failure.edn", Format::Edn),
        file("knossos/cas-register/good/memstress3-0.edn", Format::Edn),
        (
            "etcd_000 as jsonl".to_string(),
            Format::Jsonl,
            as_jsonl("porcupine/etcd/etcd_000.log", Format::PorcupineEtcd),
        ),
        (
            "cas-failure as jsonl".to_string(),
            Format::Jsonl,
            as_jsonl("knossos/cas-register/bad/cas-failure.edn", Format::Edn),
        ),
    ]
}

/// One mutation of `bytes`, and what it did.
fn mutate(bytes: &[u8], rng: &mut Rng) -> (Vec<u8>, String) {
    let mut out = bytes.to_vec();
    let at = |rng: &mut Rng, n: usize| rng.below(n.max(1) as u64) as usize;
    let lines: Vec<usize> = std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == b'\n')
                .map(|(i, _)| i + 1),
        )
        .filter(|&i| i < bytes.len())
        .collect();
    let line_span = |i: usize| {
        let start = lines[i];
        let end = lines.get(i + 1).copied().unwrap_or(bytes.len());
        start..end
    };
    match rng.below(4) {
        0 => {
            let n = at(rng, bytes.len());
            out.truncate(n);
            (out, format!("truncated to {n} bytes"))
        }
        1 => {
            let flips = 1 + at(rng, 3);
            let mut said = Vec::new();
            for _ in 0..flips {
                let i = at(rng, out.len());
                let b = rng.below(256) as u8;
                said.push(format!("byte {i} to 0x{b:02x}"));
                out[i] = b;
            }
            (out, said.join(", "))
        }
        2 => {
            let i = at(rng, lines.len());
            out.drain(line_span(i));
            (out, format!("line {} deleted", i + 1))
        }
        _ => {
            let i = at(rng, lines.len());
            let copy = bytes[line_span(i)].to_vec();
            let to = lines[at(rng, lines.len())];
            out.splice(to..to, copy);
            (out, format!("line {} repeated at byte {to}", i + 1))
        }
    }
}

/// The options `splitbrain check` takes for a format when given none.
fn options(format: Format, history: &History) -> Options {
    let (model, initial) = match format {
        Format::PorcupineEtcd => (ModelKind::CasRegister, Some(Value::Nil)),
        Format::PorcupineKv => (ModelKind::Kv, Some(Value::str(""))),
        Format::Jsonl | Format::Edn => (checkers::infer_model(history), None),
    };
    let mut opts = Options::new(model);
    opts.initial = initial;
    opts.time_limit = Some(Duration::from_secs(5));
    opts
}

/// What a mutant's verdict is, or why there is none: `Err` with one line.
fn judge(bytes: &[u8], format: Format, options_of: Option<&Options>) -> Result<(Verdict, usize, History), String> {
    let lines = bytes.iter().filter(|&&c| c == b'\n').count() + 1;
    let history = read_history(bytes, format).map_err(|e| {
        assert!(
            e.line >= 1 && e.line as usize <= lines,
            "line {} of {lines}: {e}",
            e.line
        );
        assert!(!e.message.is_empty() && !e.message.contains('\n'), "one line: {e:?}");
        e.to_string()
    })?;
    let opts = options_of.cloned().unwrap_or_else(|| options(format, &history));
    let report = check(&history, &opts).map_err(|e| {
        assert!(!e.message.contains('\n'), "one line: {e:?}");
        e.to_string()
    });
    if history.client_ops() == 0 {
        let why = report.expect_err("a history with no client op is never a verdict");
        assert!(why.contains("no client operations"), "{why}");
        return Err(why);
    }
    let report = report?;
    let calls = history.pair().expect("checked, so paired").len();
    assert_eq!(report.ops, calls, "the report counts the calls parsed");
    Ok((report.verdict, calls, history))
}

#[test]
fn a_mutated_history_is_refused_in_one_line_or_judged_on_what_was_read() {
    let mut rng = Rng::new(22);
    let (mut refused, mut judged) = (0, 0);
    for (name, format, bytes) in sources() {
        for _ in 0..60 {
            let (mutant, how) = mutate(&bytes, &mut rng);
            let Ok((verdict, calls, history)) = judge(&mutant, format, None) else {
                refused += 1;
                continue;
            };
            judged += 1;
            // the same ops, as our JSONL, get the same verdict: nothing of the file
            // but what was read decided it
            let mut jsonl = Vec::new();
            for op in &history.ops {
                write_jsonl(&mut jsonl, op).expect("write");
            }
            let mut again = read_history(&jsonl[..], Format::Jsonl).expect("our JSONL reads back");
            again.check_time = history.check_time;
            let opts = options(format, &history);
            let report = check(&again, &opts).expect("judged once, judged again");
            assert_eq!(report.ops, calls, "{name}, {how}");
            if verdict != Verdict::Unknown && report.verdict != Verdict::Unknown {
                assert_eq!(report.verdict, verdict, "{name}, {how}");
            }
        }
    }
    // both ways out are taken, so the test tests something
    assert!(refused > 20 && judged > 20, "refused {refused}, judged {judged}");
}

#[test]
fn a_history_cut_anywhere_reads_the_ops_of_its_whole_lines_or_is_refused() {
    // a killed writer, a full disk, a copy cut short: what is read is the whole
    // file's first ops (our JSONL notes a partial last line), never an op made up
    // of part of one, and a vector cut before its end is an error
    for (name, format, bytes) in sources() {
        let whole = read_history(&bytes[..], format).expect("the source parses");
        for cut in (1..bytes.len()).step_by(bytes.len() / 97 + 1) {
            let part = &bytes[..cut];
            let read = read_history(part, format);
            let whole_lines = part.iter().filter(|&&c| c == b'\n').count() as u32;
            let at_line_end = part.ends_with(b"\n");
            match (format, read) {
                (Format::Edn, read) => {
                    assert!(read.is_err(), "{name} cut at {cut}: a vector cut short is an error");
                }
                (_, Err(e)) => {
                    assert!(!at_line_end, "{name} cut at {cut}, a line's end: {e}");
                    assert_eq!(e.line, whole_lines + 1, "{name} cut at {cut}: {e}");
                }
                (_, Ok(h)) => {
                    let n = h.ops.len();
                    assert_eq!(
                        h.ops[..],
                        whole.ops[..n],
                        "{name} cut at {cut}: the whole file's first {n} ops"
                    );
                    // a last line that parses whole (cut just before its newline) is an op
                    let last_whole = h.ops.last().is_some_and(|o| o.line == whole_lines + 1);
                    let expect_cut =
                        (format == Format::Jsonl && !at_line_end && !last_whole).then_some(whole_lines + 1);
                    assert_eq!(h.cut_short, expect_cut, "{name} cut at {cut}");
                }
            }
        }
    }
}
