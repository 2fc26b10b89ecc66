//! `splitbrain report RUN_DIR`: report.html from a run folder's files, the same
//! page `run` writes at its end.

use std::path::{Path, PathBuf};

use checkers::History;

fn json(dir: &Path, name: &str) -> Result<serde_json::Value, String> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (give a run folder: DIR/<test>/<timestamp> or its `latest` link)",
            path.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes `dir/report.html` for a run whose test.json is in `dir`; returns its path.
pub fn write(dir: &Path, results: &serde_json::Value, history: &History) -> Result<PathBuf, String> {
    let test = json(dir, "test.json")?;
    let path = dir.join("report.html");
    results::folder::write_atomic(&path, results::report::render(&test, results, history).as_bytes())?;
    Ok(path)
}

/// `splitbrain report RUN_DIR`.
pub fn run(dir: &Path) -> Result<u8, String> {
    let results = json(dir, "results.json")?;
    let (history, _) = crate::check::read(&dir.join("history.jsonl"), Some(checkers::format::Format::Jsonl))?;
    let path = write(dir, &results, &history)?;
    println!("{}", path.display());
    Ok(0)
}
