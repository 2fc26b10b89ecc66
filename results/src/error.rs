//! What can go wrong writing a run's files: the message names the file, as the
//! runner prints it.

use std::path::{Path, PathBuf};

/// A results file that could not be written (or its writer started).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{}: not a file name", .0.display())]
    NotAFile(PathBuf),
    #[error("{0}")]
    Json(serde_json::Error),
    /// The thread that keeps history.jsonl on disk did not start.
    #[error("history flusher thread: {0}")]
    Flusher(std::io::Error),
    /// A write or sync of history.jsonl failed (kept until the next flush).
    #[error("history.jsonl: {0}")]
    History(std::io::Error),
    #[error("junit.xml: {0}")]
    Junit(quick_junit::SerializeError),
}

impl Error {
    pub(crate) fn io(path: &Path, error: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

/// So that the runner's `?` in functions that return `Result<_, String>` keeps working.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}
