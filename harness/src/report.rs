//! `splitbrain report RUN_DIR`: report.html from a run folder's files, the same
//! page `run` writes at its end. A file the page cannot read as a run's (null, a
//! list, an unknown verdict, a field of the wrong type) is an error naming the
//! file and the field, never a page drawn from what is not there.

use std::path::{Path, PathBuf};

use checkers::History;
use results::schema::{RunResults, TestInfo};

/// `dir/name` read as `read` reads it (see [`results::report::read_results`]).
fn json<T>(
    dir: &Path,
    name: &str,
    read: fn(&serde_json::Value) -> Result<T, results::report::ShapeError>,
) -> Result<T, String> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (give a run folder: DIR/<test>/<timestamp> or its `latest` link)",
            path.display()
        )
    })?;
    let value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    read(&value).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes `dir/report.html` for a run whose test.json is in `dir`; returns its path.
pub fn write(dir: &Path, results: &RunResults, history: &History) -> Result<PathBuf, String> {
    let test: TestInfo = json(dir, "test.json", results::report::read_test)?;
    let path = dir.join("report.html");
    results::folder::write_atomic(&path, results::report::render(&test, results, history).as_bytes())?;
    Ok(path)
}

/// `splitbrain report RUN_DIR`. A run killed before its check left a history but
/// no results.json: no verdict to show, so the user is sent to `check`.
pub fn run(dir: &Path) -> Result<u8, String> {
    let history_path = dir.join("history.jsonl");
    if !dir.join("results.json").exists() && history_path.is_file() {
        return Err(format!(
            "{}: no results.json: the run ended before its check (killed?); check what it recorded with `splitbrain check --report {} {}`",
            dir.display(),
            dir.join("report.html").display(),
            history_path.display()
        ));
    }
    let results = json(dir, "results.json", results::report::read_results)?;
    let (history, _) = crate::check::read(&history_path, Some(checkers::format::Format::Jsonl))?;
    crate::cut::say(&history_path, &history);
    let path = write(dir, &results, &history)?;
    println!("{}", path.display());
    Ok(0)
}
