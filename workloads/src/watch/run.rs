//! The watch workload's processes: writers, watchers, the final reads and the
//! members' hashes, each recording its ops as it goes.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use checkers::{F, Op, Process, Record, Type, Value};

use super::{Batch, Delivery, Event, EventStream, Start, WatchError, WatchRequest, WatcherPlan, Watches};
use crate::client::{BoxFuture, ClientError, PROCESS_MIX, Slot, rng_for};
use crate::error::Error;

/// What the watch workload does; shared by all its processes.
pub struct WatchSpec {
    pub watches: Arc<dyn Watches>,
    pub keys: u64,
    pub op_timeout: Duration,
    /// The revision `now` watchers start from: the store's when the run began, plus one.
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
/// Batches between a watcher's progress requests (about a second).
const REQUEST_EVERY: u64 = 5;
/// How long a member may take to reach the revision its hash is asked at.
const HASH_WITHIN: Duration = Duration::from_secs(10);

fn key_value(key: &str) -> Value {
    Value::str(key)
}

fn int_or_nil(v: Option<i64>) -> Value {
    v.map_or(Value::Nil, Value::Int)
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (Value::str(k), v)).collect())
}

/// One change a writer makes: a put or delete of one key, or puts of several
/// keys in one transaction.
enum Change {
    One(String, Option<i64>),
    All(Vec<(String, i64)>),
}

impl WatchSpec {
    /// One writer in `slot`, until its `stop` or `until`: puts (4 in 5) and
    /// deletes; where the system has transactions, 1 in 5 changes puts 2 or 3
    /// keys at once.
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
        let txns = self.watches.revisions() && self.keys >= 2;
        let mut process = first;
        let mut n = 0i64;
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            // values unique per process (the process id in the high digits)
            let mut value = || {
                n += 1;
                process as i64 * 1_000_000 + n
            };
            let change = if txns && rng.below(5) == 0 {
                let first_key = rng.below(self.keys);
                let count = 2 + rng.below(2.min(self.keys - 1));
                let keys = (0..count).map(|i| format!("k{}", (first_key + i) % self.keys));
                Change::All(keys.map(|k| (k, value())).collect())
            } else {
                let key = format!("k{}", rng.below(self.keys));
                Change::One(key, (rng.below(5) != 0).then(&mut value))
            };
            let kind = self.write(process, ip, &change, rec.as_ref()).await;
            if kind == Type::Info {
                process += stride;
            }
            tokio::time::sleep(PACE).await;
        }
        Ok(())
    }

    /// Makes one change and records it: `write`/`delete` of a key done with
    /// `[value revision]`, or a `txn` of `[[key value] ...]` done with
    /// `[pairs revision]`.
    async fn write(&self, process: u64, ip: Ipv4Addr, change: &Change, rec: &dyn Record) -> Type {
        let p = Process::Client(process);
        let (f, key, value) = match change {
            Change::One(key, v) => {
                let f = if v.is_some() { F::Write } else { F::parse("delete") };
                (f, Some(key_value(key)), int_or_nil(*v))
            }
            Change::All(pairs) => {
                let pairs = pairs
                    .iter()
                    .map(|(k, v)| Value::list(vec![key_value(k), Value::Int(*v)]));
                (F::parse("txn"), None, Value::list(pairs.collect()))
            }
        };
        let op = |kind, v: Value| {
            let op = Op::new(p, kind, f.clone(), v);
            match &key {
                Some(k) => op.with_key(k.clone()),
                None => op,
            }
        };
        rec.record(op(Type::Invoke, value.clone()));
        let done = match change {
            Change::One(key, v) => tokio::time::timeout(self.op_timeout, self.watches.change(ip, key, *v)).await,
            Change::All(pairs) => tokio::time::timeout(self.op_timeout, self.watches.change_all(ip, pairs))
                .await
                .map(|r| r.map(Some)),
        };
        let (kind, v) = match done {
            Ok(Ok(rev)) => (Type::Ok, Value::list(vec![value, int_or_nil(rev)])),
            Ok(Err(e)) if e.definite => (Type::Fail, value),
            _ => (Type::Info, value),
        };
        rec.record(op(kind, v));
        kind
    }

    /// The revision `plan`'s first watch starts at, asked of the node at `ip`
    /// when it opens.
    async fn first_revision(&self, plan: &WatcherPlan, ip: Ipv4Addr) -> Result<i64, String> {
        Ok(match plan.start {
            Start::Now => self.from,
            Start::First => 1,
            Start::Past(o) | Start::Future(o) => (self.bounded(self.watches.revision(ip)).await? + o).max(1),
            Start::Compaction => self.bounded(self.watches.compact_revision(ip)).await?.max(1),
        })
    }

    /// A revision asked of a node, within the op timeout.
    async fn bounded(&self, asked: BoxFuture<'_, Result<i64, ClientError>>) -> Result<i64, String> {
        match tokio::time::timeout(self.op_timeout, asked).await {
            Ok(Ok(rev)) => Ok(rev),
            Ok(Err(e)) => Err(e.message),
            Err(_) => Err("timed out".to_string()),
        }
    }

    /// One watcher as `plan` says, on the node at `ip`, until the run stops or
    /// it has caught up with [`WatchSpec::target`] once that is set.
    pub async fn run_watcher(
        self: Arc<Self>,
        process: u64,
        plan: WatcherPlan,
        ip: Ipv4Addr,
        rec: Arc<dyn Record>,
        stop: Arc<AtomicBool>,
    ) -> Result<(), String> {
        let opens = Instant::now() + plan.delay;
        while Instant::now() < opens {
            if stop.load(Ordering::Relaxed) || self.done.load(Ordering::SeqCst) {
                return Ok(());
            }
            tokio::time::sleep(BACKOFF.min(opens.saturating_duration_since(Instant::now()))).await;
        }
        let mut log = WatchLog {
            p: Process::Client(process),
            f: F::parse(self.watches.delivery().op()),
            shape: self.watches.delivery(),
            plan: &plan,
            rec,
            responses: 0,
            requested: false,
            items: Vec::new(),
            indexes: Vec::new(),
        };
        let mut from = loop {
            match self.first_revision(&plan, ip).await {
                Ok(rev) => break rev,
                Err(_) if !stop.load(Ordering::Relaxed) && !self.done.load(Ordering::SeqCst) => {
                    tokio::time::sleep(BACKOFF).await
                }
                Err(_) => return Ok(()),
            }
        };
        while !stop.load(Ordering::Relaxed) && !self.caught_up(from - 1) {
            let want = WatchRequest {
                from,
                key: plan.key.clone(),
                prev_kv: plan.prev_kv,
                progress_notify: plan.progress_notify,
            };
            log.invoke(from, true);
            let opened = tokio::time::timeout(self.op_timeout, self.watches.watch(ip, &want)).await;
            match opened {
                Ok(Ok(stream)) => {
                    if self.follow(stream, &mut from, &mut log, &stop).await {
                        break;
                    }
                }
                Ok(Err(WatchError::Compacted(at))) => {
                    log.compacted(from, at);
                    from = from.max(at);
                    continue;
                }
                Ok(Err(WatchError::Other(e))) => log.failed(from, &e),
                Err(_) => log.failed(from, "timed out opening the watch"),
            }
            tokio::time::sleep(BACKOFF).await;
        }
        Ok(())
    }

    fn caught_up(&self, last: i64) -> bool {
        let target = self.target.load(Ordering::SeqCst);
        self.done.load(Ordering::SeqCst) || (target > 0 && last >= target)
    }

    /// Takes in an open stream, one op per [`BATCH`], moving `from` past what
    /// it delivered; asks for progress where the plan says and, once the
    /// final reads set a target, every batch (how a filtered watcher learns it
    /// has caught up). True when the watcher is done, false when the stream
    /// broke (recorded) and is to be opened again.
    async fn follow(
        &self,
        mut stream: Box<dyn EventStream>,
        from: &mut i64,
        log: &mut WatchLog<'_>,
        stop: &AtomicBool,
    ) -> bool {
        let mut batch_from = *from;
        let mut began = Instant::now();
        let mut batches = 0u64;
        loop {
            let left = BATCH.saturating_sub(began.elapsed());
            match tokio::time::timeout(left, stream.next()).await {
                Ok(Ok(got)) => {
                    for e in &got.events {
                        *from = (*from).max(e.revision + 1);
                    }
                    if let Some(p) = got.progress {
                        *from = (*from).max(p + 1);
                    }
                    log.took(got);
                }
                Ok(Err(e)) => {
                    log.ok(batch_from);
                    if let WatchError::Compacted(at) = e {
                        log.invoke(*from, false);
                        log.compacted(*from, at);
                        *from = (*from).max(at);
                    }
                    return false;
                }
                Err(_) => {}
            }
            if began.elapsed() >= BATCH {
                log.ok(batch_from);
                if stop.load(Ordering::Relaxed) || self.caught_up(*from - 1) {
                    return true;
                }
                batches += 1;
                let due = log.plan.request_progress && batches.is_multiple_of(REQUEST_EVERY);
                if (due || self.target.load(Ordering::SeqCst) > 0) && log.shape == Delivery::Every {
                    log.requested |= stream.request_progress().await.is_ok();
                }
                batch_from = *from;
                log.invoke(batch_from, false);
                began = Instant::now();
            }
        }
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

    /// Each member's key-value hash at `revision` (retried while a member has
    /// not reached it yet), recorded as `hash` ops keyed by the member's name:
    /// every member must hold the same store. Nothing where the system has no
    /// such hash.
    pub async fn hashes(&self, members: &[(String, Ipv4Addr)], revision: i64, process: u64, rec: &dyn Record) {
        let p = Process::Client(process);
        let f = F::parse("hash");
        for (name, ip) in members {
            let until = Instant::now() + HASH_WITHIN;
            let got = loop {
                let got = tokio::time::timeout(self.op_timeout, self.watches.hash(*ip, revision)).await;
                match got {
                    Ok(Ok(h)) => break Ok(h),
                    Ok(Err(_)) | Err(_) if Instant::now() < until => tokio::time::sleep(BACKOFF).await,
                    Ok(Err(e)) => break Err(e.message),
                    Err(_) => break Err("timed out".to_string()),
                }
            };
            let op = |kind, v| Op::new(p, kind, f.clone(), v).with_key(key_value(name));
            match got {
                Ok(None) => return,
                Ok(Some(h)) => {
                    rec.record(op(Type::Invoke, Value::Int(revision)));
                    let done = map(vec![
                        ("revision", Value::Int(h.revision)),
                        ("hash", Value::Int(i64::from(h.hash))),
                        ("compact_revision", Value::Int(h.compact_revision)),
                    ]);
                    rec.record(op(Type::Ok, done));
                }
                Err(e) => {
                    rec.record(op(Type::Invoke, Value::Int(revision)));
                    rec.record(op(Type::Fail, Value::str(&e)));
                }
            }
        }
    }
}

/// Records one watcher's ops in its system's shape: lists for the read-back
/// watchers (`[from events indexes]`), maps for etcd's.
struct WatchLog<'a> {
    p: Process,
    f: F,
    shape: Delivery,
    plan: &'a WatcherPlan,
    rec: Arc<dyn Record>,
    /// Responses taken in so far: each event names the one it came in.
    responses: i64,
    /// A progress request is out on this stream, unanswered.
    requested: bool,
    /// The batch so far: its events (and progress notifications), and the
    /// server indexes a read-back watcher was answered with.
    items: Vec<Value>,
    indexes: Vec<Value>,
}

impl WatchLog<'_> {
    fn record(&self, kind: Type, value: Value) {
        self.rec
            .record(Op::new(self.p, kind, self.f.clone(), value).with_key(key_value(&self.plan.name)));
    }

    fn invoke(&mut self, from: i64, open: bool) {
        if self.shape == Delivery::Latest {
            return self.record(Type::Invoke, Value::list(vec![Value::Int(from)]));
        }
        let plan = self.plan;
        let mut v = vec![
            ("from", Value::Int(from)),
            ("open", Value::Bool(open)),
            ("start", Value::str(plan.start.kind())),
        ];
        v.extend(plan.start.offset().map(|o| ("offset", Value::Int(o))));
        v.extend(plan.key.as_deref().map(|k| ("key", Value::str(k))));
        v.push(("prev_kv", Value::Bool(plan.prev_kv)));
        v.push(("progress_notify", Value::Bool(plan.progress_notify)));
        if open {
            self.requested = false;
        }
        self.record(Type::Invoke, map(v));
    }

    /// Adds what one wake-up brought to the batch.
    fn took(&mut self, got: Batch) {
        self.responses += 1;
        let response = Value::Int(self.responses);
        if self.shape == Delivery::Latest {
            self.items.extend(
                got.events
                    .into_iter()
                    .map(|e| Value::list(vec![key_value(&e.key), int_or_nil(e.value), Value::Int(e.revision)])),
            );
            self.indexes.extend(got.index.map(Value::Int));
            return;
        }
        self.items.extend(got.events.into_iter().map(|e: Event| {
            Value::list(vec![
                key_value(&e.key),
                int_or_nil(e.value),
                Value::Int(e.revision),
                response.clone(),
                e.create.map_or(Value::Nil, Value::Bool),
                int_or_nil(e.prev),
            ])
        }));
        if let Some(p) = got.progress {
            self.items.push(map(vec![
                ("progress", Value::Int(p)),
                ("response", response),
                ("requested", Value::Bool(std::mem::take(&mut self.requested))),
            ]));
        }
    }

    /// The batch done, and a new one begun: `{from events}` (etcd) or
    /// `[from events indexes]`.
    fn ok(&mut self, from: i64) {
        let events = Value::list(std::mem::take(&mut self.items));
        if self.shape == Delivery::Every {
            return self.record(Type::Ok, map(vec![("from", Value::Int(from)), ("events", events)]));
        }
        let mut done = vec![Value::Int(from), events];
        if !self.indexes.is_empty() {
            done.push(Value::list(std::mem::take(&mut self.indexes)));
        }
        self.record(Type::Ok, Value::list(done));
    }

    fn compacted(&self, from: i64, at: i64) {
        self.record(
            Type::Fail,
            if self.shape == Delivery::Every {
                map(vec![("from", Value::Int(from)), ("compacted", Value::Int(at))])
            } else {
                Value::list(vec![Value::Int(from), Value::Int(at)])
            },
        );
    }

    fn failed(&self, from: i64, error: &str) {
        self.record(
            Type::Fail,
            if self.shape == Delivery::Every {
                map(vec![("from", Value::Int(from)), ("error", Value::str(error))])
            } else {
                Value::list(vec![Value::Int(from)])
            },
        );
    }
}
