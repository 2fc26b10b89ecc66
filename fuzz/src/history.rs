//! The invariants every history reader keeps on any input, whatever its bytes: it never
//! panics; the ops it returns carry their source line and their position as index; an
//! error names a line of the input (or the one just past its end) and shows as one line.
//! The watch checker, which reads op values of its own shapes, keeps them too on every
//! history read.

use checkers::format::{Format, FormatError, detect, parse_value, read_history};
use checkers::{History, Verdict, check_watch};

/// Reads `data` as `format` and panics if the result breaks an invariant.
pub fn check_read(data: &[u8], format: Format) {
    let lines = count_lines(data);
    match read_history(data, format) {
        Ok(history) => {
            // A file may give its own `index`; only then may it differ from the position.
            let gives_index = data.windows(5).any(|w| w.eq_ignore_ascii_case(b"index"));
            for (i, op) in history.ops.iter().enumerate() {
                assert!(
                    op.line > 0 && op.line as usize <= lines,
                    "{format}: op {i} on line {} of {lines}",
                    op.line
                );
                if !gives_index {
                    assert_eq!(op.index, i as u64, "{format}: op {i} has index {}", op.index);
                }
            }
            check_watched(&history, lines, format);
        }
        Err(e) => check_error(&e, lines, format),
    }
}

/// The watch checker on a history read: it never panics; an error names a line of the
/// input (none only where there is no client op to name) and shows as one line; the
/// verdict is invalid exactly when it found a violation.
fn check_watched(history: &History, lines: usize, format: Format) {
    match check_watch(history) {
        Ok(report) => {
            assert_eq!(
                report.verdict == Verdict::Invalid,
                !report.violations.is_empty(),
                "{format}: watch verdict {:?} with {} violations",
                report.verdict,
                report.violations.len()
            );
            assert!(!report.to_text().is_empty());
        }
        Err(e) => {
            let line = e.line as usize;
            assert!(
                line <= lines && (line > 0 || history.client_ops() == 0),
                "{format}: watch error on line {line} of {lines}: {e}"
            );
            let shown = e.to_string();
            assert!(
                !shown.contains(['\n', '\r']),
                "{format}: watch error of more than one line: {shown:?}"
            );
        }
    }
}

/// Detects the format as `splitbrain check` does, reads with it, and parses the input
/// as a command-line value, whose error is one line when the value is (it quotes it).
pub fn check_detect(data: &[u8]) {
    if let Some(format) = detect(data) {
        check_read(data, format);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let one_line = !text.contains(['\n', '\r']);
        if let Err(e) = parse_value(text).map_err(|e| e.to_string()) {
            assert!(
                !one_line || !e.contains(['\n', '\r']),
                "parse_value: error of more than one line: {e:?}"
            );
        }
    }
}

fn check_error(e: &FormatError, lines: usize, format: Format) {
    assert!(
        e.line >= 1 && e.line as usize <= lines + 1,
        "{format}: error on line {} of {lines}: {e}",
        e.line
    );
    let shown = e.to_string();
    assert!(
        !shown.contains(['\n', '\r']),
        "{format}: error of more than one line: {shown:?}"
    );
}

/// Lines as the readers number them: each `\n` ends one, and text after the last is one more.
fn count_lines(data: &[u8]) -> usize {
    let newlines = data.iter().filter(|&&c| c == b'\n').count();
    newlines + usize::from(data.last().is_some_and(|&c| c != b'\n'))
}
