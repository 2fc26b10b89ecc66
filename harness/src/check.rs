//! `splitbrain check`: histories from files in, verdicts out.

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use checkers::format::{self, Format};
use checkers::{History, ModelKind, Options, Value, Verdict};

#[derive(clap::Args)]
pub struct Args {
    /// linearizable (against --model), lock (lock safety of a lock workload's
    /// history) or election (an election workload's: one leader at a time,
    /// terms, failovers) or watch (a watch workload's: every event against the
    /// writes) [default: from the history's ops, else linearizable]
    #[arg(long, value_parser = ["linearizable", "lock", "election", "watch"])]
    pub checker: Option<String>,
    /// Election checker: seconds a failover may take [default: not judged, only
    /// measured]
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::seconds, value_name = "SECONDS")]
    pub failover_within: Option<f64>,
    /// Sequential model [default: from the format, else from the ops' f]
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// Initial model state, as EDN or JSON (`nil`, `0`, `""`, `{:x 0 :y 0}`)
    /// [default: the format's convention, else the model's empty state]
    #[arg(long)]
    pub initial: Option<String>,
    /// History format [default: detected from the content]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Give up (verdict unknown, with the reason) after this many seconds per file,
    /// reading it included; keys already proven invalid stay invalid
    #[arg(long, allow_negative_numbers = true, value_name = "SECONDS", default_value_t = DEFAULT_TIME_LIMIT)]
    pub time_limit: f64,
    /// Give up (verdict unknown, with the reason) when the process would hold more
    /// than this many MB (search state, model states, the history being read)
    /// [default: 4096, or half the machine's memory where that is less]
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::positive::<u64>, value_name = "MB")]
    pub memory_limit: Option<u64>,
    /// Print one JSON report per file instead of text
    #[arg(long)]
    pub json: bool,
    /// Also write the report.html of the (one) history checked to this file
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// History files (`-` for standard input; pipes and FIFOs are read once)
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Seconds a file's check may take unless `--time-limit` says otherwise: every
/// reference history decides in well under a second and a generated 1M-op one in a
/// second or two, while a key still undecided after a minute is in a state
/// explosion that more time seldom resolves (and that holds gigabytes by then).
pub const DEFAULT_TIME_LIMIT: f64 = 60.0;

/// Bytes of a file's start that format detection looks at.
const HEAD: u64 = 64 * 1024;

/// Reads a history file, detecting its format unless one is given.
pub fn read(path: &Path, format: Option<Format>) -> Result<(History, Format), String> {
    read_until(path, format, None).map_err(|u| u.message)
}

/// Why a history was not read: its fault, or a limit the reader gave up at.
pub struct Unread {
    pub message: String,
    pub gave_up: bool,
}

impl From<String> for Unread {
    fn from(message: String) -> Unread {
        Unread {
            message,
            gave_up: false,
        }
    }
}

/// Reads a history file (`-`: standard input) once, from start to end: detection
/// looks at the bytes it buffered, which are then read again from memory, so a pipe
/// or FIFO gives what the same file gives. Reading stops at `deadline`.
pub fn read_until(path: &Path, format: Option<Format>, deadline: Option<Instant>) -> Result<(History, Format), Unread> {
    let name = path.display();
    let mut input: Box<dyn Read> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(File::open(path).map_err(|e| format!("{name}: {e}"))?)
    };
    let mut head = Vec::new();
    input
        .by_ref()
        .take(HEAD)
        .read_to_end(&mut head)
        .map_err(|e| format!("{name}: {e}"))?;
    let format = match format {
        Some(f) => f,
        None => format::detect(&head).ok_or_else(|| {
            let what = if head.is_empty() {
                "empty"
            } else {
                "cannot tell the history format"
            };
            format!("{name}: {what}; pass --format jsonl|edn|porcupine-etcd|porcupine-kv")
        })?,
    };
    let reader = BufReader::with_capacity(1 << 16, Cursor::new(head).chain(input));
    let history = format::read_history_until(reader, format, deadline).map_err(|e| Unread {
        message: format!("{name}: {e}"),
        gave_up: e.gave_up,
    })?;
    Ok((history, format))
}

/// The default `--memory-limit`, in MB: 4 GB, or half the machine where that is less.
fn default_memory_mb() -> u64 {
    let total_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    });
    total_kb.map_or(4096, |kb| (kb / 1024 / 2).min(4096))
}

/// `--memory-limit` in bytes: a positive number of MB that fits the machine's words.
fn memory_limit(mb: Option<u64>) -> Result<usize, String> {
    let mb = mb.unwrap_or_else(default_memory_mb);
    if mb == 0 {
        return Err("--memory-limit must be a positive number of MB".into());
    }
    mb.checked_mul(1 << 20)
        .and_then(|b| usize::try_from(b).ok())
        .filter(|&b| b < usize::MAX / 2)
        .ok_or_else(|| format!("--memory-limit {mb}: too large (MB; at most a few million)"))
}

/// The model and initial state a format implies when the user gives none.
pub fn defaults(format: Format, history: &History) -> (ModelKind, Option<Value>) {
    match format {
        Format::PorcupineEtcd => (ModelKind::CasRegister, Some(Value::Nil)),
        Format::PorcupineKv => (ModelKind::Kv, Some(Value::str(""))),
        Format::Jsonl | Format::Edn => (checkers::infer_model(history), None),
    }
}

/// Whether a history is the lock workload's (`f` acquire) or the election
/// workload's (`f` campaign): those calls plus accesses to the resource.
fn guards_resource_with(history: &History, f: &str) -> bool {
    let resource = Value::str("resource");
    history.ops.iter().any(|o| o.f.as_str() == f) && history.ops.iter().any(|o| o.key.as_ref() == Some(&resource))
}

/// A file's report: JSON with `--json`, else text.
enum Shown {
    Json(serde_json::Value),
    Text(String),
}

/// A file's verdict and its report, within the time limit counted from `start`.
fn check_file(args: &Args, path: &Path, initial: &Option<Value>, start: Instant) -> Result<(Verdict, Shown), String> {
    let deadline = start.checked_add(Duration::from_secs_f64(args.time_limit));
    let (mut history, format) = match read_until(path, args.format, deadline) {
        Ok(read) => read,
        Err(Unread { message, gave_up: true }) => return Ok(gave_up_reading(args, message)),
        Err(Unread { message, .. }) => return Err(message),
    };
    if history.client_ops() == 0 {
        return Err(format!("no client operations in {}", path.display()));
    }
    crate::cut::say(path, &history);
    let watch = match args.checker.as_deref() {
        Some(c) => c == "watch",
        None => args.model.is_none() && history.ops.iter().any(|o| matches!(o.f.as_str(), "watch" | "notify")),
    };
    if watch {
        let report = checkers::check_watch(&history).map_err(|e| format!("{}: {e}", path.display()))?;
        return show(args, path, "watch", &history, report.verdict, &report, || {
            report.to_text()
        });
    }
    let election = match args.checker.as_deref() {
        Some(c) => c == "election",
        None => args.model.is_none() && guards_resource_with(&history, "campaign"),
    };
    if election {
        let within = args.failover_within.unwrap_or(f64::INFINITY);
        let report = checkers::check_election(&history, within).map_err(|e| format!("{}: {e}", path.display()))?;
        return show(args, path, "election", &history, report.verdict, &report, || {
            report.to_text()
        });
    }
    let lock = match args.checker.as_deref() {
        Some(c) => c == "lock",
        None => args.model.is_none() && guards_resource_with(&history, "acquire"),
    };
    if lock {
        let report = checkers::check_lock(&history).map_err(|e| format!("{}: {e}", path.display()))?;
        return show(args, path, "lock", &history, report.verdict, &report, || {
            report.to_text()
        });
    }
    if args.model == Some(ModelKind::Mutex) && guards_resource_with(&history, "acquire") {
        // Knossos-style: the lock alone, as if it had no lease; the resource's ops aside
        let lock = Value::str("lock");
        history.ops.retain(|o| o.key.is_none() || o.key.as_ref() == Some(&lock));
    }
    let (model, default_initial) = defaults(format, &history);
    let mut opts = Options::new(args.model.unwrap_or(model));
    opts.initial = initial
        .clone()
        .or(if args.model.is_none() { default_initial } else { None });
    // what reading took comes off the search's time (zero left: unknown at once)
    opts.time_limit = Some(Duration::from_secs_f64(args.time_limit).saturating_sub(start.elapsed()));
    opts.memory_limit = Some(memory_limit(args.memory_limit)?);
    let report = checkers::check(&history, &opts).map_err(|e| format!("{}: {e}", path.display()))?;
    show(args, path, opts.model.name(), &history, report.verdict, &report, || {
        report.to_text()
    })
}

/// The verdict when reading stopped at `--time-limit` or `--memory-limit`: unknown,
/// with where it stopped, as when the search stops there.
fn gave_up_reading(args: &Args, reason: String) -> (Verdict, Shown) {
    let shown = if args.json {
        Shown::Json(serde_json::json!({ "verdict": Verdict::Unknown, "reason": reason }))
    } else {
        Shown::Text(format!("UNKNOWN: {reason}\n"))
    };
    (Verdict::Unknown, shown)
}

/// What a checked file shows (JSON or text) and, with `--report`, its page. A report
/// can be large: each form is built only when asked for.
fn show<R: serde::Serialize>(
    args: &Args,
    path: &Path,
    model: &str,
    history: &History,
    verdict: Verdict,
    report: &R,
    text: impl FnOnce() -> String,
) -> Result<(Verdict, Shown), String> {
    if let Some(out) = &args.report {
        let check = serde_json::to_value(report).map_err(|e| e.to_string())?;
        page(out, path, model, history, verdict, check)?;
    }
    let shown = if args.json {
        Shown::Json(serde_json::to_value(report).expect("report serialises"))
    } else {
        Shown::Text(text())
    };
    Ok((verdict, shown))
}

/// `--report FILE.html`: the run report's page for a history checked on its own.
fn page(
    out: &Path,
    path: &Path,
    model: &str,
    history: &History,
    verdict: Verdict,
    check: serde_json::Value,
) -> Result<(), String> {
    let checker = if ["lock", "election", "watch"].contains(&model) {
        format!("--checker {model}")
    } else {
        format!("--model {model}")
    };
    let test = results::schema::TestInfo {
        title: Some(format!("{} ({model})", path.display())),
        reproduce: Some(format!("splitbrain check {checker} {}", path.display())),
        workload: model.into(),
        ..Default::default()
    };
    let results = results::schema::RunResults {
        verdict,
        interrupted: false,
        recovery: None,
        summary: Some(results::Summary::of(history)),
        check,
        expectations: None,
        drill: None,
        divergence: None,
    };
    results::folder::write_atomic(out, results::report::render(&test, &results, history).as_bytes())?;
    Ok(())
}

pub fn run(args: &Args) -> Result<u8, String> {
    if args.report.is_some() && args.files.len() != 1 {
        return Err("--report writes the page of one history: give one file".into());
    }
    if !(args.time_limit > 0.0 && Duration::try_from_secs_f64(args.time_limit).is_ok()) {
        return Err("--time-limit must be a positive number of seconds".into());
    }
    let memory = memory_limit(args.memory_limit)?;
    crate::alloc::sample_resident();
    checkers::gauge::install(crate::alloc::held);
    checkers::gauge::set_limit(memory);
    if args.files.iter().filter(|f| f.as_path() == Path::new("-")).count() > 1 {
        return Err("standard input (`-`) can be read once: give it once".into());
    }
    let initial = match &args.initial {
        None => None,
        Some(text) => Some(format::parse_value(text).map_err(|e| format!("--initial {text:?}: {e}"))?),
    };
    let mut worst: Option<u8> = None;
    let mut json = Vec::new();
    for path in &args.files {
        let progress = Progress::start(path, args.time_limit);
        let checked = check_file(args, path, &initial, Instant::now());
        drop(progress);
        let code = match checked {
            Ok((verdict, shown)) => {
                match shown {
                    Shown::Json(mut v) => {
                        v["file"] = serde_json::Value::String(path.display().to_string());
                        json.push(v);
                    }
                    Shown::Text(text) => {
                        if args.files.len() > 1 {
                            println!("== {}", path.display());
                        }
                        print!("{text}");
                    }
                }
                verdict.exit_code() as u8
            }
            Err(e) => {
                eprintln!("splitbrain: {e}");
                crate::EXIT_ERROR
            }
        };
        worst = Some(worst.map_or(code, |w| severity(w).max(severity(code)).1));
    }
    if args.json {
        let out = if json.len() == 1 {
            json.pop().expect("one report")
        } else {
            serde_json::Value::Array(json)
        };
        println!("{}", serde_json::to_string_pretty(&out).expect("json"));
    }
    Ok(worst.unwrap_or(0))
}

/// How long past `--time-limit` a file's check may go on before the process gives
/// up on it: the search stops within milliseconds of the limit, but a read from a
/// pipe that never writes nor closes blocks where no deadline can reach.
const HARD_STOP: Duration = Duration::from_secs(10);

/// Says that a long check is still going: after 2 s, a spinner on a terminal, else a
/// line every 10 s (CI logs); exits the process, exit 3, at the limit plus
/// [`HARD_STOP`]. Stops when dropped.
struct Progress {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(path: &Path, limit: f64) -> Progress {
        use std::sync::atomic::Ordering;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, what) = (done.clone(), path.display().to_string());
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let wait = |d: Duration| {
                let until = Instant::now() + d;
                while Instant::now() < until {
                    if flag.load(Ordering::Relaxed) {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                true
            };
            let give_up = Duration::from_secs_f64(limit).saturating_add(HARD_STOP);
            let watchdog = {
                let what = what.clone();
                move || {
                    if start.elapsed() >= give_up {
                        eprintln!(
                            "splitbrain: {what}: still not done {:.0} s past --time-limit (an input that blocks?); giving up",
                            HARD_STOP.as_secs_f64()
                        );
                        std::process::exit(crate::EXIT_ERROR.into());
                    }
                }
            };
            if !wait(Duration::from_secs(2)) {
                return;
            }
            let line = |t: f64| format!("checking {what}: {t:.0} s of at most {limit:.0} s");
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                let spinner = indicatif::ProgressBar::new_spinner();
                spinner.enable_steady_tick(Duration::from_millis(120));
                while wait(Duration::from_millis(500)) {
                    watchdog();
                    spinner.set_message(line(start.elapsed().as_secs_f64()));
                }
                spinner.finish_and_clear();
            } else {
                let mut said = Duration::ZERO;
                loop {
                    watchdog();
                    if start.elapsed() >= said {
                        eprintln!("splitbrain: {}", line(start.elapsed().as_secs_f64()));
                        said = start.elapsed() + Duration::from_secs(10);
                    }
                    if !wait(Duration::from_millis(500)) {
                        return;
                    }
                }
            }
        });
        Progress {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Orders exit codes for several files: error over invalid over unknown over valid.
fn severity(code: u8) -> (u8, u8) {
    let rank = match code {
        0 => 0,
        2 => 1,
        1 => 2,
        _ => 3,
    };
    (rank, code)
}
