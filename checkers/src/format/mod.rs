//! History file formats: our JSONL, Jepsen/Knossos EDN, and Porcupine's test logs.
//!
//! Every reader streams its input (line by line, or byte by byte over a `BufRead`)
//! so that a history of a million ops costs little more than its ops in memory.

use std::fmt;
use std::io::{BufRead, Read, Write};
use std::time::Instant;

use crate::history::History;
use crate::op::Op;
use crate::value::Value;

mod edn;
mod jsonl;
mod porcupine;

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    /// Our own: one JSON object per line.
    Jsonl,
    /// Jepsen / Knossos: a list or vector of op maps, or a sequence of maps.
    Edn,
    /// Jepsen console logs as in Porcupine's etcd test data.
    PorcupineEtcd,
    /// One EDN map per line, as in Porcupine's kv test data.
    PorcupineKv,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Jsonl, Format::Edn, Format::PorcupineEtcd, Format::PorcupineKv];

    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "jsonl" => Format::Jsonl,
            "edn" => Format::Edn,
            "porcupine-etcd" => Format::PorcupineEtcd,
            "porcupine-kv" => Format::PorcupineKv,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::PorcupineEtcd => "porcupine-etcd",
            Format::PorcupineKv => "porcupine-kv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A problem reading a history file, located by its 1-based source line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    pub line: u32,
    pub message: String,
    /// Reading stopped at a limit (time, memory), not at a fault of the input:
    /// the verdict is unknown rather than the input wrong.
    pub gave_up: bool,
}

impl FormatError {
    /// An error on `line`. Control characters the message quotes from the input
    /// (a newline after a backslash, a carriage return in a value) are escaped, so
    /// that the error stays one line.
    pub(crate) fn new(line: u32, message: impl Into<String>) -> FormatError {
        let message: String = message.into();
        let message = if message.chars().any(char::is_control) {
            message
                .chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        } else {
            message
        };
        FormatError {
            line,
            message,
            gave_up: false,
        }
    }

    pub(crate) fn io(line: u32, e: &std::io::Error) -> FormatError {
        match e.get_ref().and_then(|inner| inner.downcast_ref::<Stop>()) {
            Some(stop) => FormatError {
                gave_up: !matches!(stop, Stop::Line),
                ..FormatError::new(line, stop.to_string())
            },
            None => FormatError::new(line, format!("read error: {e}")),
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for FormatError {}

const BOM: &[u8] = b"\xEF\xBB\xBF";
const JEPSEN_UTIL: &[u8] = b"jepsen.util -";

/// Guesses the format of a file from its first bytes (a few KB is plenty).
pub fn detect(head: &[u8]) -> Option<Format> {
    let head = head.strip_prefix(BOM).unwrap_or(head);
    // The first line that is neither blank nor a `;` comment.
    let mut rest = head;
    loop {
        let start = rest.iter().position(|c| !c.is_ascii_whitespace())?;
        rest = &rest[start..];
        if rest[0] == b';' {
            rest = &rest[rest.iter().position(|&c| c == b'\n').map_or(rest.len(), |i| i + 1)..];
        } else {
            break;
        }
    }
    let first_line = &rest[..rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len())];
    if contains(first_line, JEPSEN_UTIL) {
        return Some(Format::PorcupineEtcd);
    }
    match rest[0] {
        b'[' | b'(' => Some(Format::Edn),
        b'{' => {
            let after = &rest[1..];
            match after.iter().find(|c| !c.is_ascii_whitespace()) {
                Some(b'"') => Some(Format::Jsonl),
                Some(b':') => Some(kv_or_edn(rest, first_line)),
                _ => None,
            }
        }
        _ if head.split(|&c| c == b'\n').any(|l| contains(l, JEPSEN_UTIL)) => Some(Format::PorcupineEtcd),
        _ => None,
    }
}

/// `rest` starts with an EDN map: Porcupine kv if it has a `:key` and f is get/put/append.
fn kv_or_edn(rest: &[u8], first_line: &[u8]) -> Format {
    let is_kv = match edn::first_map(rest) {
        Some(pairs) => {
            let get = |k: &str| pairs.iter().find(|(key, _)| key.as_str() == Some(k)).map(|(_, v)| v);
            get("key").is_some() && matches!(get("f").and_then(|f| f.as_str()), Some("get" | "put" | "append"))
        }
        // The head cut the first map short: look at its text.
        None => {
            contains(first_line, b":key ")
                && [&b":f :get"[..], b":f :put", b":f :append"]
                    .iter()
                    .any(|f| contains(first_line, f))
        }
    };
    if is_kv { Format::PorcupineKv } else { Format::Edn }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Skips a UTF-8 byte order mark at the start of the input.
fn skip_bom<R: BufRead>(r: &mut R) -> Result<(), FormatError> {
    let has_bom = r.fill_buf().map_err(|e| FormatError::io(1, &e))?.starts_with(BOM);
    if has_bom {
        r.consume(BOM.len());
    }
    Ok(())
}

/// The longest line a reader takes: past it, the input is not a history (`/dev/zero`,
/// a binary file), and reading on would only hold more of it in memory.
pub const MAX_LINE: usize = 64 << 20;

/// Why a reader stopped before the end of its input.
#[derive(Debug)]
enum Stop {
    Line,
    Time,
    Memory(String),
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Line => write!(
                f,
                "a line longer than {} MB: not a history (a binary file, or a tail of zero bytes?)",
                MAX_LINE >> 20
            ),
            Stop::Time => f.write_str("time limit reached while reading; give more --time-limit"),
            Stop::Memory(why) => write!(f, "{why}, while reading"),
        }
    }
}

impl std::error::Error for Stop {}

/// Bytes read between looks at the clock and the memory gauge.
const LOOK_EVERY: usize = 1 << 20;

/// Input within bounds: no line past [`MAX_LINE`], nothing read past the deadline
/// or past the memory bound of [`crate::gauge`]. Every reader reads through it.
struct Guarded<R> {
    inner: R,
    deadline: Option<Instant>,
    since_newline: usize,
    since_look: usize,
}

impl<R: BufRead> Read for Guarded<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Guarded<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        let stop = |s: Stop| Err(std::io::Error::other(s));
        if self.since_newline > MAX_LINE {
            return stop(Stop::Line);
        }
        if self.since_look >= LOOK_EVERY {
            self.since_look = 0;
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return stop(Stop::Time);
            }
            if let Some(why) = crate::gauge::exceeded() {
                return stop(Stop::Memory(why));
            }
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        // the buffer is still there: fill_buf hands back the same bytes
        if let Ok(buf) = self.inner.fill_buf() {
            let n = n.min(buf.len());
            match buf[..n].iter().rposition(|&c| c == b'\n') {
                Some(at) => self.since_newline = n - at - 1,
                None => self.since_newline += n,
            }
        }
        self.since_look += n;
        self.inner.consume(n);
    }
}

/// Reads a whole history, streaming: ops get their source `line` and `index` (0, 1, 2, ...
/// in file order unless the file gives an index).
pub fn read_history<R: BufRead>(r: R, format: Format) -> Result<History, FormatError> {
    read_history_until(r, format, None)
}

/// [`read_history`], giving up at `deadline` (an error naming the line reached).
pub fn read_history_until<R: BufRead>(r: R, format: Format, deadline: Option<Instant>) -> Result<History, FormatError> {
    let mut r = Guarded {
        inner: r,
        deadline,
        since_newline: 0,
        // the first fill looks at once: a deadline already past stops before reading
        since_look: LOOK_EVERY,
    };
    skip_bom(&mut r)?;
    let (ops, cut_short) = match format {
        Format::Jsonl => jsonl::read(r)?,
        Format::Edn | Format::PorcupineKv => (edn::read(r)?, None),
        Format::PorcupineEtcd => (porcupine::read_etcd(r)?, None),
    };
    let mut history = History::new(ops);
    history.cut_short = cut_short;
    // Jepsen stamps :time before it logs an op, so concurrent invocations can be
    // logged slightly out of time order; Knossos orders by position, and so do we.
    history.check_time = format == Format::Jsonl;
    Ok(history)
}

/// A command-line value that is neither JSON nor EDN; says what the EDN reader
/// found wrong (the text is on one line, so its line number says nothing).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a JSON or EDN value: {}", .0.message)]
pub struct ValueError(pub FormatError);

/// Parses a value given on the command line, as JSON or else as EDN (`nil`, `{:x 0}`).
pub fn parse_value(text: &str) -> Result<Value, ValueError> {
    if let Ok(j) = serde_json::from_str::<serde_json::Value>(text) {
        return Ok(Value::from_json(&j));
    }
    edn::parse_one(text, 0).map_err(ValueError)
}

/// Calls `f` with each line (with its newline) and its 1-based number, streaming.
pub(crate) fn for_each_line<R: BufRead>(
    mut r: R,
    mut f: impl FnMut(&[u8], u32) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let mut buf = Vec::new();
    let mut line = 0u32;
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FormatError::io(line + 1, &e)),
        }
        line += 1;
        f(&buf, line)?;
    }
}

/// Writes one op as one JSON line (with its trailing newline).
pub fn write_jsonl<W: Write>(w: &mut W, op: &Op) -> std::io::Result<()> {
    jsonl::write(w, op)
}

/// Shortens a value's text for an error message.
pub(crate) fn shorten(s: String) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return s;
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;
    use std::path::{Path, PathBuf};

    pub(crate) fn histories_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/histories")
    }

    fn expected() -> Vec<(PathBuf, Format)> {
        let dir = histories_dir();
        let tsv = std::fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv");
        tsv.lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut cols = l.split('\t');
                let path = dir.join(cols.next().unwrap());
                let format = Format::parse(cols.next().unwrap()).expect("known format");
                (path, format)
            })
            .collect()
    }

    fn read_file(path: &Path, format: Format) -> Result<History, FormatError> {
        let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        read_history(BufReader::new(f), format)
    }

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.name()), Some(f));
        }
        assert_eq!(Format::parse("json"), None);
    }

    #[test]
    fn every_expected_file_parses_and_pairs() {
        let files = expected();
        assert!(files.len() >= 100, "only {} files listed", files.len());
        for (path, format) in files {
            let h = read_file(&path, format).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!h.ops.is_empty(), "{}: no ops", path.display());
            for (i, op) in h.ops.iter().enumerate() {
                assert!(op.line > 0);
                assert_eq!(op.index, i as u64);
            }
            h.pair().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }

    #[test]
    fn detect_finds_each_format_in_real_files() {
        let dir = histories_dir();
        let head = |p: &str| {
            let bytes = std::fs::read(dir.join(p)).unwrap();
            bytes[..bytes.len().min(4096)].to_vec()
        };
        assert_eq!(
            detect(&head("porcupine/etcd/etcd_000.log")),
            Some(Format::PorcupineEtcd)
        );
        assert_eq!(
            detect(&head("porcupine/etcd/etcd_100.log")),
            Some(Format::PorcupineEtcd)
        );
        assert_eq!(detect(&head("porcupine/kv/c01-ok.txt")), Some(Format::PorcupineKv));
        assert_eq!(
            detect(&head("knossos/cas-register/good/memstress3-0.edn")),
            Some(Format::Edn)
        );
        assert_eq!(
            detect(&head("knossos/multi-register/good/multi-register.edn")),
            Some(Format::Edn)
        );
        assert_eq!(
            detect(&head("knossos/cas-register/bad/rethink-fail-minimal.edn")),
            Some(Format::Edn)
        );
        for (path, format) in expected() {
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(
                detect(&bytes[..bytes.len().min(4096)]),
                Some(format),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn detect_small_samples() {
        assert_eq!(detect(b"\n{\"process\":0}"), Some(Format::Jsonl));
        assert_eq!(detect(b"{ \"process\":0}"), Some(Format::Jsonl));
        assert_eq!(detect(b"; comment\n; more\n  [{:process 0}]"), Some(Format::Edn));
        assert_eq!(detect(b"({:process 0})"), Some(Format::Edn));
        assert_eq!(
            detect(b"{:process 0, :type :invoke, :f :read, :value nil}\n"),
            Some(Format::Edn)
        );
        assert_eq!(
            detect(b"{:process 0, :type :invoke, :f :put, :key \"a\", :value \"x\"}\n"),
            Some(Format::PorcupineKv)
        );
        // Cut short: falls back to the text of the first line.
        assert_eq!(
            detect(b"{:process 0, :type :invoke, :f :get, :key \"a\", :val"),
            Some(Format::PorcupineKv)
        );
        assert_eq!(
            detect(b"2017-01-01 INFO jepsen.core - starting\nINFO  jepsen.util - 0\t:invoke\t:read\tnil\n"),
            Some(Format::PorcupineEtcd)
        );
        assert_eq!(detect(b"\xEF\xBB\xBF{\"f\":\"read\"}"), Some(Format::Jsonl));
        assert_eq!(detect(b"   \n"), None);
        assert_eq!(detect(b"hello"), None);
    }

    #[test]
    fn error_display_names_the_line() {
        let e = FormatError::new(12, "expected x");
        assert_eq!(e.to_string(), "line 12: expected x");
    }

    #[test]
    fn bom_is_skipped() {
        let h = read_history(
            &b"\xEF\xBB\xBF{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n"[..],
            Format::Jsonl,
        )
        .unwrap();
        assert_eq!(h.ops.len(), 1);
    }
}
