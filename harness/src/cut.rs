//! A history cut short: a run killed mid-write leaves a partial last line, which
//! the reader leaves out. `check` and `report` say so in one line, since the
//! verdict is then about the complete lines only.

use std::path::Path;

use checkers::History;

/// The line saying that `history`, read from `path`, was cut short, if it was.
pub fn note(path: &Path, history: &History) -> Option<String> {
    history.cut_short.map(|line| {
        format!(
            "{}: cut short at line {line} (a partial last line, as a killed run leaves); checked the {} complete lines before it",
            path.display(),
            line - 1
        )
    })
}

/// Prints [`note`] on stderr, where it stays apart from a `--json` report.
pub fn say(path: &Path, history: &History) {
    if let Some(note) = note(path, history) {
        eprintln!("splitbrain: {note}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_cut_history_gets_a_note_and_it_counts_the_complete_lines() {
        let mut history = History::new(Vec::new());
        assert_eq!(note(Path::new("h.jsonl"), &history), None);
        history.cut_short = Some(41);
        let note = note(Path::new("run/history.jsonl"), &history).expect("a note");
        assert!(note.starts_with("run/history.jsonl: cut short at line 41 "), "{note}");
        assert!(note.ends_with("checked the 40 complete lines before it"), "{note}");
    }
}
