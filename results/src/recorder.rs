//! The run's history: every op stamped and appended to history.jsonl as it
//! happens, and kept in memory for the checker.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use checkers::format::write_jsonl;
use checkers::{History, Op, Process, Record, Type};

#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
}

struct Inner {
    ops: Vec<Op>,
    file: BufWriter<File>,
    tally: Tally,
    write_error: Option<String>,
}

pub struct Recorder {
    start: Instant,
    inner: Mutex<Inner>,
}

impl Recorder {
    pub fn create(path: &Path, start: Instant) -> Result<Recorder, String> {
        let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Recorder {
            start,
            inner: Mutex::new(Inner {
                ops: Vec::new(),
                file: BufWriter::with_capacity(1 << 16, file),
                tally: Tally::default(),
                write_error: None,
            }),
        })
    }

    /// Pushes buffered lines to the file: the runner calls it every 2 s, so a
    /// crash loses at most that much of the history's tail.
    pub fn flush(&self) -> Result<(), String> {
        let mut inner = self.inner.lock().expect("recorder");
        if let Some(e) = inner.write_error.take() {
            return Err(e);
        }
        inner.file.flush().map_err(|e| format!("history.jsonl: {e}"))
    }

    pub fn tally(&self) -> Tally {
        self.inner.lock().expect("recorder").tally
    }

    /// The history so far, flushed to disk.
    pub fn history(&self) -> Result<History, String> {
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
        if let Err(e) = write_jsonl(&mut inner.file, &op) {
            inner.write_error.get_or_insert(format!("history.jsonl: {e}"));
        }
        inner.ops.push(op.clone());
        op
    }
}
