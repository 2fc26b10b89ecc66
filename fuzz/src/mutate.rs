//! A small deterministic mutator, so that `cargo test` fuzzes the parsers on stable Rust
//! for a bounded time: a seeded xorshift picks corpus inputs and stacks byte flips,
//! truncations, line deletions and duplications, splices of two inputs, interesting
//! tokens and numbers, and very long lines on them. No coverage feedback: that is libFuzzer's job.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// No mutated input grows past this, so that memory stays bounded whatever the mutations.
pub const MAX_LEN: usize = 256 * 1024;

/// How long a "very long line" is.
const LONG_LINE: usize = 100_000;

/// Numbers past every bound: too big, too small, not finite, not integers.
const NUMBERS: &[&[u8]] = &[
    b"99999999999999999999999N",
    b"99999999999999999999999",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"1.5",
    b"1.5M",
    b"1e30",
    b"-1e400",
    b"NaN",
    b"nan",
    b"inf",
    b"-0",
    b"-1",
];

/// Tokens that break any parser's string or encoding assumptions.
const COMMON: &[&[u8]] = &[
    b"\0",
    b"\\0",
    b"\\u0000",
    b"\"",
    b"\\",
    b"\r\n",
    b"\r",
    b"\xEF\xBB\xBF",
    b"\xff\xfe",
    b"\xe2\x80\xa8",
    b"\xc3",
];

/// Single bytes worth writing over another: delimiters, quotes, control and non-UTF-8.
const BYTES: &[u8] = b"\0\n\r\t \"'\\{}[]():;,#=.-+0179eN\x7f\x80\xc3\xff";

/// The files of a corpus folder, in name order; panics if there are none.
pub fn corpus(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, bytes)
        })
        .collect();
    assert!(!files.is_empty(), "{}: an empty corpus", dir.display());
    files.sort();
    files
}

/// Runs `check` on every corpus file; the files it panicked on, all of them, so that one
/// failure names every input that needs a fix.
pub fn replay(files: &[(PathBuf, Vec<u8>)], check: impl Fn(&[u8])) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|(_, bytes)| panic::catch_unwind(AssertUnwindSafe(|| check(bytes))).is_err())
        .map(|(path, _)| path.clone())
        .collect()
}

/// `SPLITBRAIN_FUZZ_SECS` (default 10 s) shared by `parts` parsers.
pub fn budget(parts: u32) -> Duration {
    let secs: f64 = std::env::var("SPLITBRAIN_FUZZ_SECS")
        .ok()
        .map(|s| s.parse().expect("SPLITBRAIN_FUZZ_SECS: a number of seconds"))
        .unwrap_or(10.0);
    Duration::from_secs_f64(secs.max(0.0) / f64::from(parts))
}

/// Checks mutants of the corpus for `time`; the number checked. The sequence of inputs
/// depends only on the seed (`SPLITBRAIN_FUZZ_SEED`, or one fixed per `name`); an input
/// that panics is saved to the temp folder and named in the panic.
pub fn fuzz(name: &str, files: &[(PathBuf, Vec<u8>)], tokens: &[&[u8]], time: Duration, check: impl Fn(&[u8])) -> u64 {
    let seed = std::env::var("SPLITBRAIN_FUZZ_SEED").map_or_else(
        // FNV-1a of the name: each parser its own fixed sequence.
        |_| {
            name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            })
        },
        |s| s.parse().expect("SPLITBRAIN_FUZZ_SEED: an integer"),
    );
    let mut rng = Rng(seed | 1);
    let deadline = Instant::now() + time;
    let mut n = 0u64;
    while Instant::now() < deadline {
        let mut input = files[rng.below(files.len())].1.clone();
        // One mutation, then each further one half as likely: most inputs stay close
        // enough to their seed to get past the parser's first checks.
        loop {
            mutate(&mut rng, &mut input, files, tokens);
            if rng.below(2) == 0 {
                break;
            }
        }
        if panic::catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            let path = std::env::temp_dir().join(format!("splitbrain-fuzz-{name}-{seed}-{n}"));
            std::fs::write(&path, &input).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            panic!(
                "{name}: mutant {n} of seed {seed} panicked; the input is in {}",
                path.display()
            );
        }
        n += 1;
    }
    n
}

/// xorshift64: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform enough in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `d`, in place, never past `MAX_LEN`.
fn mutate(rng: &mut Rng, d: &mut Vec<u8>, files: &[(PathBuf, Vec<u8>)], tokens: &[&[u8]]) {
    let token = |rng: &mut Rng| {
        let i = rng.below(NUMBERS.len() + COMMON.len() + tokens.len());
        [NUMBERS, COMMON, tokens]
            .into_iter()
            .flatten()
            .nth(i)
            .copied()
            .unwrap_or_default()
    };
    let len = d.len();
    match rng.below(11) {
        0 if len > 0 => d[rng.below(len)] ^= 1 << rng.below(8),
        1 if len > 0 => d[rng.below(len)] = BYTES[rng.below(BYTES.len())],
        2 => d.truncate(rng.below(len + 1)),
        3 => {
            let (start, end) = line_at(d, rng.below(len + 1));
            d.drain(start..end);
        }
        4 => {
            let (start, end) = line_at(d, rng.below(len + 1));
            let line = d[start..end].to_vec();
            d.splice(start..start, line);
        }
        5 => {
            let other = &files[rng.below(files.len())].1;
            let from = rng.below(other.len() + 1);
            d.truncate(rng.below(len + 1));
            d.extend_from_slice(&other[from..]);
        }
        6 => {
            let t = token(rng);
            let mut at = rng.below(len + 1);
            if rng.below(2) == 0 {
                at = line_at(d, at).0;
            }
            d.splice(at..at, t.iter().copied());
        }
        7 => {
            let unit: &[u8] = if rng.below(2) == 0 {
                token(rng)
            } else {
                &BYTES[rng.below(BYTES.len())..][..1]
            };
            let mut line: Vec<u8> = unit.iter().copied().cycle().take(LONG_LINE).collect();
            line.push(b'\n');
            let (start, _) = line_at(d, rng.below(len + 1));
            d.splice(start..start, line);
        }
        8 => {
            let start = rng.below(len + 1);
            let end = start + rng.below((len - start).min(64) + 1);
            d.drain(start..end);
        }
        9 => {
            // One run of digits, each as likely as any other, becomes another number.
            let starts: Vec<usize> = (0..len)
                .filter(|&i| d[i].is_ascii_digit() && (i == 0 || !d[i - 1].is_ascii_digit()))
                .collect();
            if !starts.is_empty() {
                let start = starts[rng.below(starts.len())];
                let end = d[start..]
                    .iter()
                    .position(|c| !c.is_ascii_digit())
                    .map_or(len, |p| start + p);
                d.splice(start..end, NUMBERS[rng.below(NUMBERS.len())].iter().copied());
            }
        }
        _ => {
            let start = rng.below(len + 1);
            let end = start + rng.below((len - start).min(64) + 1);
            let piece = d[start..end].repeat(1 + rng.below(64));
            let at = rng.below(len + 1);
            d.splice(at..at, piece);
        }
    }
    d.truncate(MAX_LEN);
}

/// The line around byte `i`, with its newline: `start..end`.
fn line_at(d: &[u8], i: usize) -> (usize, usize) {
    let start = d[..i].iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
    let end = d[i..].iter().position(|&c| c == b'\n').map_or(d.len(), |p| i + p + 1);
    (start, end)
}
