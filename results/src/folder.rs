//! `DIR/<system>-<workload>-<nemesis>/<timestamp>/` with a `latest` link beside it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::error::Error;

pub struct RunDir {
    pub path: PathBuf,
}

/// UTC `YYYYMMDDTHHMMSS` from the system clock, without a date crate.
fn timestamp() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl RunDir {
    /// Creates a fresh run folder and points `latest` at it.
    pub fn create(root: &Path, test: &str) -> Result<RunDir, Error> {
        let parent = root.join(test);
        let mut path = parent.join(timestamp());
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = parent.join(format!("{}-{n}", timestamp()));
        }
        std::fs::create_dir_all(path.join("nodes")).map_err(|e| Error::io(&path, e))?;
        let latest = parent.join("latest");
        let _ = std::fs::remove_file(&latest);
        let name = path.file_name().expect("timestamp name");
        std::os::unix::fs::symlink(name, &latest).map_err(|e| Error::io(&latest, e))?;
        Ok(RunDir { path })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// `value` as JSON, its keys in order whichever form wrote it (a struct or a
    /// `json!`), so that a file reads the same however the runner built it.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), Error> {
        let value = serde_json::to_value(value).map_err(Error::Json)?;
        let text = serde_json::to_string_pretty(&value).map_err(Error::Json)?;
        write_atomic(&self.file(name), (text + "\n").as_bytes())
    }
}

/// Writes `path` whole or not at all: a temporary file beside it, synced, then
/// renamed over it (and the folder synced), so a run killed or a machine losing
/// power mid-write leaves the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let err = |e| Error::io(path, e);
    let name = path.file_name().ok_or_else(|| Error::NotAFile(path.to_path_buf()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_distinct_folders_and_a_latest_link() {
        let root = std::env::temp_dir().join(format!("splitbrain-results-{}", std::process::id()));
        let a = RunDir::create(&root, "etcd-register-none").unwrap();
        let b = RunDir::create(&root, "etcd-register-none").unwrap();
        assert_ne!(a.path, b.path);
        assert!(b.path.join("nodes").is_dir());
        let latest = std::fs::canonicalize(root.join("etcd-register-none/latest")).unwrap();
        assert_eq!(latest, std::fs::canonicalize(&b.path).unwrap());
        assert_eq!(timestamp().len(), 15);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("splitbrain-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("results.json");
        write_atomic(&path, b"old\n").unwrap();
        write_atomic(&path, b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["results.json"]);
        // a folder that is not there: an error naming the file, nothing written
        let missing = dir.join("gone/report.html");
        assert!(
            write_atomic(&missing, b"x")
                .unwrap_err()
                .to_string()
                .contains("gone/report.html")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
