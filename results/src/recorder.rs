//! The run's history: every op stamped and appended to history.jsonl as it
//! happens, and kept in memory for the checker.
//!
//! Crash safety: a flusher thread pushes the buffered lines to the file and syncs
//! it every [`FLUSH_EVERY`], whatever the run is doing, so a runner killed at any
//! moment (or a machine losing power) leaves at most that much of the tail
//! unwritten. Each line reaches the buffer in one write, so the file only ever
//! ends mid-line when the kill lands inside a write(2): the reader calls that
//! last line "cut short".

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use checkers::format::write_jsonl;
use checkers::{History, Op, Process, Record, Type};

use crate::error::Error;

#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
}

/// How far behind the ops the history on disk may be.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

struct Inner {
    ops: Vec<Op>,
    file: BufWriter<File>,
    /// One op's line, built whole before it goes to `file` in one write.
    line: Vec<u8>,
    /// Lines written since the flusher last synced the file.
    unsynced: bool,
    tally: Tally,
    /// The first write or sync that failed since the last flush.
    write_error: Option<std::io::Error>,
}

pub struct Recorder {
    start: Instant,
    inner: Arc<Mutex<Inner>>,
}

impl Recorder {
    /// Creates the history file and starts its flusher, which ends with the recorder.
    pub fn create(path: &Path, start: Instant) -> Result<Recorder, Error> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let sync = file.try_clone().map_err(|e| Error::io(path, e))?;
        let inner = Arc::new(Mutex::new(Inner {
            ops: Vec::new(),
            file: BufWriter::with_capacity(1 << 16, file),
            line: Vec::with_capacity(256),
            unsynced: false,
            tally: Tally::default(),
            write_error: None,
        }));
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("history-flush".into())
            .spawn(move || flush_every_second(&weak, &sync))
            .map_err(Error::Flusher)?;
        Ok(Recorder { start, inner })
    }

    /// Pushes buffered lines to the file now, and says whether any write failed
    /// (the flusher keeps its errors for this): the runner calls it as it reports
    /// progress and before it checks.
    pub fn flush(&self) -> Result<(), Error> {
        let mut inner = self.inner.lock().expect("recorder");
        if let Some(e) = inner.write_error.take() {
            return Err(Error::History(e));
        }
        inner.file.flush().map_err(Error::History)
    }

    pub fn tally(&self) -> Tally {
        self.inner.lock().expect("recorder").tally
    }

    /// The history so far, flushed to disk.
    pub fn history(&self) -> Result<History, Error> {
        self.flush()?;
        Ok(History::new(self.inner.lock().expect("recorder").ops.clone()))
    }
}

impl Record for Recorder {
    fn record(&self, mut op: Op) -> Op {
        let mut inner = self.inner.lock().expect("recorder");
        // stamped under the lock, so index order, time order and file order agree
        op.time = Some(self.start.elapsed().as_nanos() as u64);
        op.index = inner.ops.len() as u64;
        if op.process != Process::Nemesis {
            match op.kind {
                Type::Invoke => {}
                Type::Ok => inner.tally.ok += 1,
                Type::Fail => inner.tally.fail += 1,
                Type::Info => inner.tally.info += 1,
            }
        }
        let inner = &mut *inner;
        inner.line.clear();
        write_jsonl(&mut inner.line, &op).expect("writing to a Vec");
        if let Err(e) = inner.file.write_all(&inner.line) {
            inner.write_error.get_or_insert(e);
        }
        inner.unsynced = true;
        inner.ops.push(op.clone());
        op
    }
}

/// The flusher: every [`FLUSH_EVERY`], buffered lines to the file, then the file
/// to the disk (outside the lock, so recording never waits on the disk). Ends
/// once the recorder is dropped.
fn flush_every_second(inner: &Weak<Mutex<Inner>>, file: &File) {
    loop {
        std::thread::sleep(FLUSH_EVERY);
        let Some(inner) = inner.upgrade() else { return };
        let unsynced = {
            let mut inner = inner.lock().expect("recorder");
            if let Err(e) = inner.file.flush() {
                inner.write_error.get_or_insert(e);
            }
            std::mem::take(&mut inner.unsynced)
        };
        if unsynced && let Err(e) = file.sync_data() {
            inner.lock().expect("recorder").write_error.get_or_insert(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::{F, Value};

    #[test]
    fn ops_reach_the_file_within_a_second_without_a_flush() {
        let path = std::env::temp_dir().join(format!("splitbrain-recorder-{}.jsonl", std::process::id()));
        let rec = Recorder::create(&path, Instant::now()).unwrap();
        rec.record(Op::new(
            Process::Client(0),
            Type::Invoke,
            F::parse("write"),
            Value::Int(1),
        ));
        std::thread::sleep(FLUSH_EVERY + Duration::from_millis(500));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\"index\":0,") && text.ends_with("}\n"), "{text:?}");
        assert_eq!(rec.history().unwrap().ops.len(), 1);
        std::fs::remove_file(path).unwrap();
    }
}
