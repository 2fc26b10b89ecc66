//! `splitbrain check` never says VALID about a history it did not read: pipes give
//! what files give, input it cannot read is an error naming the line, a history
//! with no client op is its own answer, and reading is inside the time and memory
//! limits.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{shared, splitbrain, temp_dir, temp_file};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_splitbrain")
}

/// `splitbrain ARGS` with `input` on its standard input.
fn splitbrain_fed(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run splitbrain");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    // written from a thread: a child that stops reading early must not block the test
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    out
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The verdict line (first of stdout) and exit code.
fn verdict(o: &Output) -> (Option<i32>, String) {
    let out = String::from_utf8_lossy(&o.stdout);
    (o.status.code(), out.lines().next().unwrap_or("").to_string())
}

/// An error: exit 3 and one line on stderr that says `says` (beside the lines
/// saying a long check is still going).
fn refused(o: &Output, says: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    let err: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("splitbrain: checking "))
        .collect();
    let err = err.join("\n");
    assert_eq!(o.status.code(), Some(3), "{}", text(o));
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(says), "expected {says:?} in: {err}");
}

/// The line its verdict line says it checked, without the time it took.
fn without_time(line: &str) -> &str {
    line.split(", checked in").next().unwrap_or(line)
}

#[test]
fn pipes_fifos_and_stdin_give_the_verdict_the_file_gives() {
    for file in [
        shared("knossos/cas-register/bad/cas-failure.edn"),
        shared("porcupine/etcd/etcd_000.log"),
        shared("porcupine/kv/c01-bad.txt"),
        shared("porcupine/etcd/etcd_002.log"),
    ] {
        let (code, line) = verdict(&splitbrain(&["check", &file]));
        assert!(matches!(code, Some(0 | 1)), "{file}: {line}");
        let bytes = std::fs::read(&file).expect("read");
        // process substitution, as a shell gives it
        let sub = Command::new("bash")
            .arg("-c")
            .arg(format!("{} check <(cat '{file}')", bin()))
            .output()
            .expect("bash");
        for (how, o) in [
            ("-", splitbrain_fed(&["check", "-"], &bytes)),
            ("/dev/stdin", splitbrain_fed(&["check", "/dev/stdin"], &bytes)),
            ("<(cat)", sub),
        ] {
            let (c, l) = verdict(&o);
            assert_eq!(c, code, "{file} via {how}: {}", text(&o));
            assert_eq!(without_time(&l), without_time(&line), "{file} via {how}");
        }
    }
    // a FIFO
    let fifo = temp_dir().join("history.fifo");
    let _ = std::fs::remove_file(&fifo);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let file = shared("knossos/cas-register/bad/cas-failure.edn");
    let feeder = {
        let (fifo, file) = (fifo.clone(), file.clone());
        std::thread::spawn(move || std::fs::write(&fifo, std::fs::read(&file).expect("read")))
    };
    let o = splitbrain(&["check", &fifo.display().to_string()]);
    feeder.join().expect("feeder").expect("write fifo");
    let (code, line) = verdict(&o);
    assert_eq!(code, Some(1), "{}", text(&o));
    assert!(line.starts_with("INVALID"), "{line}");
    // stdin can be read once
    refused(&splitbrain_fed(&["check", "-", "-"], b""), "read once");
}

#[test]
fn an_edn_process_that_does_not_fit_is_an_error_not_a_skipped_nemesis_op() {
    // the stale read at line 4 would vanish if its process were taken for the nemesis
    for p in ["99999999999999999999999N", "18446744073709551615", "1.5"] {
        let edn = format!(
            "[{{:process 0, :type :invoke, :f :write, :value 1}}\n\
             {{:process 0, :type :ok, :f :write, :value 1}}\n\
             {{:process {p}, :type :invoke, :f :read, :value nil}}\n\
             {{:process {p}, :type :ok, :f :read, :value 0}}]\n"
        );
        let o = splitbrain(&["check", &temp_file("big-process.edn", edn.as_bytes())]);
        refused(&o, "line 3: expected :process");
    }
}

#[test]
fn porcupine_lines_that_do_not_parse_are_errors() {
    let log = std::fs::read_to_string(shared("porcupine/etcd/etcd_002.log")).expect("log");
    // truncated in its last line
    let cut = &log[..log.len() - 4];
    refused(
        &splitbrain(&["check", &temp_file("cut.log", cut.as_bytes())]),
        "cut short",
    );
    // an overflowing process id
    let big = log.replacen("jepsen.util - 1\t", "jepsen.util - 99999999999999999999999\t", 1);
    refused(
        &splitbrain(&["check", &temp_file("big.log", big.as_bytes())]),
        "expected the process",
    );
    // another format, or noise, given as a Porcupine log
    let edn = shared("knossos/cas-register/bad/cas-failure.edn");
    let noise: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    for file in [edn, temp_file("noise.bin", &noise)] {
        let o = splitbrain(&["check", "--format", "porcupine-etcd", &file]);
        refused(&o, "no client operations in");
    }
}

#[test]
fn a_history_with_no_client_op_is_never_valid_in_any_format() {
    let cases: [(&str, &str, &[u8]); 7] = [
        ("empty.jsonl", "jsonl", b""),
        ("blank.jsonl", "jsonl", b"\n\n  \n"),
        (
            "nemesis.jsonl",
            "jsonl",
            b"{\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"start\"}\n",
        ),
        ("nemesis.edn", "edn", b"[{:process :nemesis, :type :info, :f :start}]"),
        ("empty.edn", "edn", b"[]"),
        (
            "other-lines.log",
            "porcupine-etcd",
            b"INFO  jepsen.core - starting\nINFO  jepsen.util - :nemesis\t:info\t:start\tnil\n",
        ),
        ("empty.txt", "porcupine-kv", b"\n"),
    ];
    for (name, format, bytes) in cases {
        let file = temp_file(name, bytes);
        for checker in ["linearizable", "lock", "election", "watch"] {
            let o = splitbrain(&["check", "--format", format, "--checker", checker, &file]);
            refused(&o, &format!("no client operations in {file}"));
        }
    }
    // with no format given, an empty file is one line too
    refused(&splitbrain(&["check", &temp_file("empty", b"")]), "empty");
}

#[test]
fn a_line_past_the_cap_stops_reading_with_its_number() {
    for format in ["jsonl", "edn", "porcupine-etcd", "porcupine-kv"] {
        let start = Instant::now();
        let o = splitbrain(&["check", "--format", format, "/dev/zero"]);
        refused(&o, "line 1: a line longer than 64 MB");
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{format}: {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn the_time_limit_covers_reading() {
    // an endless stream of ops: reading stops at the limit, and the verdict is unknown
    let start = Instant::now();
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "yes '{{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}}' | {} check --time-limit 2 -",
            bin()
        ))
        .output()
        .expect("bash");
    let (code, line) = verdict(&o);
    assert_eq!(code, Some(2), "{}", text(&o));
    assert!(line.contains("time limit reached while reading"), "{line}");
    assert!(start.elapsed() < Duration::from_secs(8), "{:?}", start.elapsed());
    // an input that never ends nor writes: the watchdog gives up past the limit
    let start = Instant::now();
    let mut child = Command::new(bin())
        .args(["check", "--time-limit", "1", "--format", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let _stdin = child.stdin.take();
    let o = child.wait_with_output().expect("wait");
    refused(&o, "past --time-limit");
    assert!(start.elapsed() < Duration::from_secs(15), "{:?}", start.elapsed());
}

/// Peak resident memory of a child, polled from `/proc` until it exits.
fn peak_rss_kb(mut child: std::process::Child) -> (Output, u64) {
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while child.try_wait().expect("try_wait").is_none() {
        let hwm = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
        peak = peak.max(hwm.unwrap_or(0));
        std::thread::sleep(Duration::from_millis(5));
    }
    (child.wait_with_output().expect("output"), peak)
}

#[test]
fn the_memory_limit_bounds_the_process() {
    // Porcupine's c50-bad with a pending append on each key: the search alone
    // reaches gigabytes within seconds
    let mut log = std::fs::read_to_string(shared("porcupine/kv/c50-bad.txt")).expect("c50-bad");
    for k in 0..10 {
        log.push_str(&format!(
            "{{:process {}, :type :invoke, :f :append, :key \"{k}\", :value \"x\"}}\n",
            1000 + k
        ));
    }
    let file = temp_file("c50-pending.txt", log.as_bytes());
    let child = Command::new(bin())
        .args(["check", "--memory-limit", "300", "--time-limit", "120", &file])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (o, peak_kb) = peak_rss_kb(child);
    // a key proven invalid before the bound stays invalid; the others are unknown
    let (code, line) = verdict(&o);
    assert!(matches!(code, Some(1 | 2)), "{}", text(&o));
    assert!(line.starts_with("UNKNOWN") || line.starts_with("INVALID"), "{line}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("memory limit reached"),
        "{}",
        text(&o)
    );
    assert!(
        peak_kb < 380 * 1024,
        "peak resident {} MB past --memory-limit 300",
        peak_kb / 1024
    );
    for bad in ["0", "99999999999999999", "-5", "x"] {
        let o = splitbrain(&["check", "--memory-limit", bad, &file]);
        assert_eq!(o.status.code(), Some(3), "--memory-limit {bad}: {}", text(&o));
    }
}
