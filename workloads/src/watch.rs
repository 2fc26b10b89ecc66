//! The `watch` workload: writers put and delete a few keys, each acknowledged
//! change recorded with its revision, while one watcher per node watches every
//! key from the revision the run began at and records what it receives, as a
//! careful client does: a stream that breaks is resumed from the revision after
//! the last event received, and one whose start was compacted away resumes from
//! the compaction (the events between are gone, and recorded as such).
//!
//! A writer's ok carries `[value revision]`, the revision nil where the system
//! does not tell it (a ZooKeeper delete, a Consul delete); a delete that found
//! nothing to delete fails (nothing changed).
//!
//! A watcher's history is a sequence of ops, one per batch: invoked with the
//! revision it covers from, done with the events `[key value-or-nil revision]`
//! in the order received (`fail [from compacted]` for a compacted start). The
//! op is `watch` where the system streams every change (etcd) and `notify`
//! where it tells only that a key changed and the watcher reads it back
//! (ZooKeeper's one-shot watches, Consul's blocking queries): there the events
//! are the states read, and the ok also lists the indexes the server answered
//! with (Consul's `X-Consul-Index`), `[from events indexes]`. Watchers run past
//! the writers, through the heal and the final reads, until they have caught
//! up with the final revision.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use checkers::{F, Op, Process, Record, Type, Value};

use crate::client::{BoxFuture, ClientError, PROCESS_MIX, Slot, rng_for};
use crate::error::Error;

/// A change as a watch delivers it: key (without the run's prefix), value (none
/// for a delete), revision.
pub type Event = (String, Option<i64>, i64);

/// Why a watch stream ended.
#[derive(Debug)]
pub enum WatchError {
    /// The revision asked for is compacted: resume from this one.
    Compacted(i64),
    Other(String),
}

/// What a system's watch promises, and so what its checker holds it to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Every change, in revision order, resumable from a revision (etcd).
    Every,
    /// That a key changed; the watcher reads the key back, so it sees the
    /// latest state, never an older one, and may skip states in between
    /// (ZooKeeper's watches, Consul's blocking queries).
    Latest,
}

impl Delivery {
    /// The watcher's op name in the history.
    pub fn op(self) -> &'static str {
        match self {
            Delivery::Every => "watch",
            Delivery::Latest => "notify",
        }
    }
}

/// What one wake-up of a watch brings: events, and the server's index where
/// it answers with one (Consul).
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<Event>,
    pub index: Option<i64>,
}

/// A system's watches: what the watch workload needs of it.
pub trait Watches: Send + Sync {
    /// What its watches promise.
    fn delivery(&self) -> Delivery {
        Delivery::Every
    }
    /// Puts `value` at `key` (or deletes it, `None`) through the node at `ip`:
    /// the revision of the change where the system tells it. A delete of a
    /// key that was not there is a definite error: it changed nothing.
    fn change<'a>(
        &'a self,
        ip: Ipv4Addr,
        key: &'a str,
        value: Option<i64>,
    ) -> BoxFuture<'a, Result<Option<i64>, ClientError>>;
    /// Reads `key` through the node at `ip`, linearizably: its value and a
    /// revision a watcher that saw this state has reached (etcd: the store's;
    /// ZooKeeper and Consul: the key's last change).
    fn read<'a>(&'a self, ip: Ipv4Addr, key: &'a str) -> BoxFuture<'a, Result<(Option<i64>, i64), ClientError>>;
    /// The store's revision now, through the node at `ip`.
    fn revision(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<i64, ClientError>>;
    /// Watches every key through the node at `ip` from revision `from` (where
    /// the delivery is [`Delivery::Latest`], `from` is ignored: a new watch
    /// begins with every key's current state).
    fn watch(&self, ip: Ipv4Addr, from: i64) -> BoxFuture<'_, Result<Box<dyn EventStream>, WatchError>>;
}

/// An open watch.
pub trait EventStream: Send {
    /// The next events (at least one, or a new index), or why the stream
    /// ended. Cancel-safe: the watcher polls it with a timeout.
    fn next(&mut self) -> BoxFuture<'_, Result<Batch, WatchError>>;
}

/// Where a watch's task sends what it learns.
pub type Feed = tokio::sync::mpsc::Sender<Result<Batch, WatchError>>;

/// A watch whose work runs in a task of its own, sending each wake-up down a
/// channel: the watcher's batches time out its `next` often, which must not
/// cancel a request in flight (a blocking query, a read back). Dropping it
/// ends the task.
pub struct Fed {
    rx: tokio::sync::mpsc::Receiver<Result<Batch, WatchError>>,
    task: tokio::task::JoinHandle<()>,
}

impl Fed {
    /// Spawns `feed` with the channel's sending end.
    pub fn spawn<T>(feed: impl FnOnce(Feed) -> T) -> Box<dyn EventStream>
    where
        T: std::future::Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let task = tokio::spawn(feed(tx));
        Box::new(Fed { rx, task })
    }
}

impl EventStream for Fed {
    fn next(&mut self) -> BoxFuture<'_, Result<Batch, WatchError>> {
        Box::pin(async move {
            self.rx
                .recv()
                .await
                .unwrap_or_else(|| Err(WatchError::Other("the watch ended".into())))
        })
    }
}

impl Drop for Fed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the watch workload does; shared by all its processes.
pub struct WatchSpec {
    pub watches: Arc<dyn Watches>,
    pub keys: u64,
    pub op_timeout: Duration,
    /// The revision watchers start from: the store's when the run began, plus one.
    pub from: i64,
    /// Set after the final reads: the revision every watcher must reach.
    pub target: AtomicI64,
    /// Set once watchers are to stop catching up, caught up or not.
    pub done: AtomicBool,
}

/// How long a watch op gathers events before it is recorded.
const BATCH: Duration = Duration::from_millis(200);
/// Between a writer's changes: bounds the events every watcher must take in.
const PACE: Duration = Duration::from_millis(10);
/// Pause after a watcher's error, so that one bound to a dead node does not spin.
const BACKOFF: Duration = Duration::from_millis(200);

fn key_value(key: &str) -> Value {
    Value::str(key)
}

fn int_or_nil(v: Option<i64>) -> Value {
    v.map_or(Value::Nil, Value::Int)
}

impl WatchSpec {
    /// One writer in `slot`, until its `stop` or `until`: puts (4 in 5) and deletes.
    pub async fn run_writer(self: Arc<Self>, slot: Slot) -> Result<(), String> {
        let Slot {
            first,
            stride,
            ip,
            rec,
            stop,
            until,
            seed,
        } = slot;
        let mut rng = rng_for(seed, first, PROCESS_MIX);
        let mut process = first;
        let mut n = 0i64;
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            let key = format!("k{}", rng.below(self.keys));
            // values unique per process (the process id in the high digits)
            n += 1;
            let value = (rng.below(5) != 0).then_some(process as i64 * 1_000_000 + n);
            let f = if value.is_some() { F::Write } else { F::parse("delete") };
            let p = Process::Client(process);
            rec.record(Op::new(p, Type::Invoke, f.clone(), int_or_nil(value)).with_key(key_value(&key)));
            let done = tokio::time::timeout(self.op_timeout, self.watches.change(ip, &key, value)).await;
            let (kind, v) = match done {
                Ok(Ok(rev)) => (Type::Ok, Value::list(vec![int_or_nil(value), int_or_nil(rev)])),
                Ok(Err(e)) if e.definite => (Type::Fail, int_or_nil(value)),
                _ => (Type::Info, int_or_nil(value)),
            };
            rec.record(Op::new(p, kind, f, v).with_key(key_value(&key)));
            if kind == Type::Info {
                process += stride;
            }
            tokio::time::sleep(PACE).await;
        }
        Ok(())
    }

    /// One watcher on the node at `ip`, named `node` in its ops, until the run
    /// stops or it has caught up with [`WatchSpec::target`] once that is set.
    pub async fn run_watcher(
        self: Arc<Self>,
        process: u64,
        node: String,
        ip: Ipv4Addr,
        rec: Arc<dyn Record>,
        stop: Arc<AtomicBool>,
    ) -> Result<(), String> {
        let p = Process::Client(process);
        let f = F::parse(self.watches.delivery().op());
        let mut from = self.from;
        let caught_up = |last: i64| {
            let target = self.target.load(Ordering::SeqCst);
            self.done.load(Ordering::SeqCst) || (target > 0 && last >= target)
        };
        let record = |kind, value: Value| rec.record(Op::new(p, kind, f.clone(), value).with_key(key_value(&node)));
        // one op: `[from events]`, and the server's indexes where it gave any
        let flush = |from: i64, batch: &mut Batch, indexes: &mut Vec<Value>| {
            let events = std::mem::take(&mut batch.events)
                .into_iter()
                .map(|(key, value, rev)| Value::list(vec![key_value(&key), int_or_nil(value), Value::Int(rev)]))
                .collect();
            let mut done = vec![Value::Int(from), Value::list(events)];
            if !indexes.is_empty() {
                done.push(Value::list(std::mem::take(indexes)));
            }
            record(Type::Ok, Value::list(done));
        };
        'watching: while !stop.load(Ordering::Relaxed) && !caught_up(from - 1) {
            // each op covers the stream from where the last one left off
            let mut batch_from = from;
            record(Type::Invoke, Value::list(vec![Value::Int(batch_from)]));
            let opened = tokio::time::timeout(self.op_timeout, self.watches.watch(ip, from)).await;
            let mut stream = match opened {
                Ok(Ok(s)) => s,
                Ok(Err(WatchError::Compacted(at))) => {
                    record(Type::Fail, Value::list(vec![Value::Int(batch_from), Value::Int(at)]));
                    from = from.max(at);
                    continue;
                }
                Ok(Err(WatchError::Other(_))) | Err(_) => {
                    record(Type::Fail, Value::list(vec![Value::Int(batch_from)]));
                    tokio::time::sleep(BACKOFF).await;
                    continue;
                }
            };
            let mut batch = Batch::default();
            let mut indexes = Vec::new();
            let mut began = Instant::now();
            loop {
                let left = BATCH.saturating_sub(began.elapsed());
                match tokio::time::timeout(left, stream.next()).await {
                    Ok(Ok(got)) => {
                        for &(_, _, rev) in &got.events {
                            from = from.max(rev + 1);
                        }
                        batch.events.extend(got.events);
                        indexes.extend(got.index.map(Value::Int));
                    }
                    Ok(Err(e)) => {
                        flush(batch_from, &mut batch, &mut indexes);
                        if let WatchError::Compacted(at) = e {
                            record(Type::Invoke, Value::list(vec![Value::Int(from)]));
                            record(Type::Fail, Value::list(vec![Value::Int(from), Value::Int(at)]));
                            from = from.max(at);
                        }
                        tokio::time::sleep(BACKOFF).await;
                        continue 'watching;
                    }
                    Err(_) => {}
                }
                if began.elapsed() >= BATCH {
                    flush(batch_from, &mut batch, &mut indexes);
                    if stop.load(Ordering::Relaxed) || caught_up(from - 1) {
                        break 'watching;
                    }
                    batch_from = from;
                    record(Type::Invoke, Value::list(vec![Value::Int(batch_from)]));
                    began = Instant::now();
                }
            }
        }
        Ok(())
    }

    /// Reads every key once, after the cluster healed, with its revision (see
    /// [`Watches::read`]): the state a caught-up watcher must have seen; sets
    /// the target.
    pub async fn final_reads(&self, ips: &[Ipv4Addr], process: u64, rec: &dyn Record) -> Result<i64, Error> {
        let p = Process::Client(process);
        let mut top = 0;
        for k in 0..self.keys {
            let key = format!("k{k}");
            rec.record(Op::new(p, Type::Invoke, F::Read, Value::Nil).with_key(key_value(&key)));
            let mut last = String::from("no node");
            let mut got = None;
            for &ip in ips {
                match tokio::time::timeout(self.op_timeout, self.watches.read(ip, &key)).await {
                    Ok(Ok(r)) => {
                        got = Some(r);
                        break;
                    }
                    Ok(Err(e)) => last = e.message,
                    Err(_) => last = "timed out".into(),
                }
            }
            match got {
                Some((value, rev)) => {
                    top = top.max(rev);
                    let v = Value::list(vec![int_or_nil(value), Value::Int(rev)]);
                    rec.record(Op::new(p, Type::Ok, F::Read, v).with_key(key_value(&key)));
                }
                None => {
                    let mut op = Op::new(p, Type::Fail, F::Read, Value::Nil).with_key(key_value(&key));
                    op.error = Some(Box::new(Value::str(&last)));
                    rec.record(op);
                    return Err(Error::FinalRead { key, last });
                }
            }
        }
        self.target.store(top, Ordering::SeqCst);
        Ok(top)
    }
}
