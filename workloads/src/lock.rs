//! The `lock` workload: processes loop acquire -> read the resource -> think ->
//! write the resource (the value read plus one, carrying the token) -> release,
//! recording every step with its token and outcome.
//!
//! The `election` workload is the same loop with a [`Tenure`]: processes campaign
//! (the recipes of ZooKeeper and Consul are their lock recipes; etcd has its own
//! election API), and the leader runs a periodic job, the same read-modify-write
//! with its term as the token, while it still believes it leads, then resigns.
//!
//! Each process reaches its node through its own [`Proxy`], so the
//! `client-pause` fault can stall one holder between its read and its write for
//! longer than its lease, as a GC pause would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checkers::rng::Rng;
use checkers::{F, Op, Process, Record, Type, Value};

use crate::client::{BoxFuture, ClientError, PROCESS_MIX, Slot, rng_for};
use crate::error::Error;
use crate::proxy::Proxy;
use crate::resource::{Answer, Resource};

/// A system's locks: what the lock workload needs of it. Systems write plain
/// async fns; the workload holds them as [`DynLocks`].
pub trait Locks: Send + Sync + 'static {
    type Lock: Lock + 'static;
    /// The node's port the lock client talks to (through the process's proxy).
    fn port(&self) -> u16;
    /// The lease as the system applies a `ttl` (Consul has a floor).
    fn lease(&self, ttl: Duration) -> Duration {
        ttl
    }
    /// How long the lock stays free after a lease lapses, given `--lock-delay`
    /// (only Consul has such a delay).
    fn lock_delay(&self, _asked: Duration) -> Duration {
        Duration::ZERO
    }
    /// A lock-service connection at `endpoint` (host:port).
    fn connect(
        &self,
        endpoint: &str,
        params: LockParams<'_>,
    ) -> impl Future<Output = Result<Self::Lock, ClientError>> + Send;
}

/// What a lock connection is opened with.
#[derive(Clone, Copy, Debug)]
pub struct LockParams<'a> {
    /// Bound of a request that may wait for the lock.
    pub wait: Duration,
    /// Bound of any other request.
    pub op_timeout: Duration,
    /// Lease / session TTL.
    pub ttl: Duration,
    pub lock_delay: Duration,
    /// Prefix of the lock's name, unique per run.
    pub prefix: &'a str,
}

/// One process's lock: acquire returns the fencing token.
pub trait Lock: Send {
    fn acquire(&mut self) -> impl Future<Output = Result<i64, ClientError>> + Send;
    fn release(&mut self) -> impl Future<Output = Result<(), ClientError>> + Send;
    /// Whether the client still believes it holds the lock (its lease kept alive,
    /// its session connected): what a careful leader checks before each job.
    fn held(&self) -> bool {
        true
    }
}

/// [`Locks`] as a trait object.
pub trait DynLocks: Send + Sync {
    fn port(&self) -> u16;
    fn lease(&self, ttl: Duration) -> Duration;
    fn lock_delay(&self, asked: Duration) -> Duration;
    fn connect<'a>(
        &'a self,
        endpoint: &'a str,
        params: LockParams<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn DynLock>, ClientError>>;
}

impl<L: Locks> DynLocks for L {
    fn port(&self) -> u16 {
        Locks::port(self)
    }
    fn lease(&self, ttl: Duration) -> Duration {
        Locks::lease(self, ttl)
    }
    fn lock_delay(&self, asked: Duration) -> Duration {
        Locks::lock_delay(self, asked)
    }
    fn connect<'a>(
        &'a self,
        endpoint: &'a str,
        params: LockParams<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn DynLock>, ClientError>> {
        Box::pin(async move {
            let l = Locks::connect(self, endpoint, params).await?;
            Ok(Box::new(l) as Box<dyn DynLock>)
        })
    }
}

/// [`Lock`] as a trait object.
pub trait DynLock: Send {
    fn acquire(&mut self) -> BoxFuture<'_, Result<i64, ClientError>>;
    fn release(&mut self) -> BoxFuture<'_, Result<(), ClientError>>;
    fn held(&self) -> bool;
}

impl<L: Lock> DynLock for L {
    fn acquire(&mut self) -> BoxFuture<'_, Result<i64, ClientError>> {
        Box::pin(Lock::acquire(self))
    }
    fn release(&mut self) -> BoxFuture<'_, Result<(), ClientError>> {
        Box::pin(Lock::release(self))
    }
    fn held(&self) -> bool {
        Lock::held(self)
    }
}

/// The client pause the nemesis armed, taken by the next holder to reach its
/// critical section. One at a time: pauses piling up on every holder in turn
/// would stall the whole workload rather than one client.
#[derive(Debug, Default)]
pub struct ClientPauses {
    armed: AtomicBool,
    /// Processes paused right now.
    active: AtomicU64,
    /// When the stall under way ends: the run's workload lasts until then.
    ends: Mutex<Option<Instant>>,
}

impl ClientPauses {
    /// Arms a pause unless one is armed or under way; whether it did.
    pub fn request(&self) -> bool {
        self.active.load(Ordering::SeqCst) == 0 && !self.armed.swap(true, Ordering::SeqCst)
    }

    /// Takes the armed pause, counting it active from before the take so that
    /// `request` never sees neither; `done` must follow a successful take.
    fn take(&self) -> bool {
        self.active.fetch_add(1, Ordering::SeqCst);
        let took = self.armed.swap(false, Ordering::SeqCst);
        if !took {
            self.done();
        }
        took
    }

    fn done(&self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
    }

    /// The end of the workload: `until`, or later while a stall is under way, so that
    /// the stalled holder's late write and the others' turns in between are recorded.
    fn end(&self, until: Instant) -> Instant {
        self.ends.lock().expect("pause end").map_or(until, |e| e.max(until))
    }

    fn stall(&self, ends: Option<Instant>) {
        *self.ends.lock().expect("pause end") = ends;
    }
}

/// A leader's term in the election workload: up to `jobs` jobs, one every
/// `every`, each only while the leader still believes it leads.
#[derive(Clone, Copy, Debug)]
pub struct Tenure {
    pub jobs: u32,
    pub every: Duration,
}

/// What the lock workload does (and the election workload, with a tenure);
/// shared by all its processes.
pub struct LockSpec {
    pub locks: Arc<dyn DynLocks>,
    /// Prefix of the lock's name, unique per run.
    pub prefix: String,
    /// Lease / session TTL.
    pub ttl: Duration,
    /// Consul only: how long a lock stays free after its session is invalidated.
    pub lock_delay: Duration,
    /// Bound of a resource access or a release; past it the outcome is unknown.
    pub op_timeout: Duration,
    /// Longest think time inside a critical section (drawn uniformly).
    pub think: Duration,
    pub resource: SocketAddr,
    pub pauses: Arc<ClientPauses>,
    /// Elections: how a leader leads; `None` for the lock workload.
    pub tenure: Option<Tenure>,
    /// Where a client pause stalls its client.
    pub pause_at: PauseAt,
}

/// Where `client-pause` stalls a client: holding the lock (between its read
/// and its write), waiting for it (queued in an acquire or a campaign), or at
/// whichever of the two it reaches first, by a coin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseAt {
    Hold,
    Wait,
    Any,
}

impl PauseAt {
    fn holding(self, rng: &mut Rng) -> bool {
        self == PauseAt::Hold || (self == PauseAt::Any && rng.below(2) == 0)
    }

    fn waiting(self, rng: &mut Rng) -> bool {
        self == PauseAt::Wait || (self == PauseAt::Any && rng.below(2) == 0)
    }
}

/// How long an acquire must have waited before a pause at `wait` stalls it:
/// long enough that it is queued, not merely on its way in.
const WAITING: Duration = Duration::from_millis(200);

/// How a job in a critical section ended.
enum Job {
    /// Read and written (or the read refused): the holder goes on.
    Done,
    /// A fenced resource refused the token: a leader learns it was deposed.
    Stale,
    /// The write's outcome is unknown: this process's story ends.
    Unknown,
}

/// How a lock call that did not complete ok is recorded: `fail` only when it
/// certainly did nothing, else `info` (a timeout included); and why.
fn not_ok<T>(outcome: Result<Result<T, ClientError>, tokio::time::error::Elapsed>) -> (Type, String) {
    match outcome {
        Ok(Err(e)) if e.definite => (Type::Fail, e.message),
        Ok(Err(e)) => (Type::Info, e.message),
        _ => (Type::Info, "timed out".to_string()),
    }
}

fn key(s: &str) -> Value {
    Value::str(s)
}

fn pair(token: Option<i64>, v: Option<i64>) -> Value {
    let int = |x: Option<i64>| x.map_or(Value::Nil, Value::Int);
    Value::list(vec![int(token), int(v)])
}

/// How much longer than an acquire a campaign may wait: candidates queue behind
/// whole terms.
const CAMPAIGN_WAIT: Duration = Duration::from_secs(30);

/// Pause after an error, so that a process bound to a dead node does not spin.
const BACKOFF: Duration = Duration::from_millis(50);

impl LockSpec {
    /// How long a paused holder stalls: past its lease however the system counts
    /// it (Consul invalidates a session up to twice its TTL after the last renewal),
    /// past Consul's lock-delay after that (a shorter stall is exactly what
    /// lock-delay absorbs), and 3 s more for the next holder to get in and write
    /// (a waiter on Consul looks again at least every second).
    pub fn pause(&self) -> Duration {
        self.lease() * 2 + self.lock_delay() + Duration::from_secs(3)
    }

    /// How long the lock stays free after a lease lapses.
    pub fn lock_delay(&self) -> Duration {
        self.locks.lock_delay(self.lock_delay)
    }

    /// The lease as the system will apply it.
    pub fn lease(&self) -> Duration {
        self.locks.lease(self.ttl)
    }

    /// How long an acquire may wait: past a lapsed lease and a lock delay; a
    /// campaign longer, behind the other candidates' terms.
    fn acquire_timeout(&self) -> Duration {
        let queue = self.tenure.map_or(Duration::ZERO, |_| CAMPAIGN_WAIT);
        self.pause() + self.lock_delay() + self.op_timeout + queue
    }

    async fn connect(&self, endpoint: &str) -> Result<Box<dyn DynLock>, ClientError> {
        let params = LockParams {
            wait: self.acquire_timeout(),
            op_timeout: self.op_timeout,
            ttl: self.ttl,
            lock_delay: self.lock_delay,
            prefix: &self.prefix,
        };
        self.locks.connect(endpoint, params).await
    }

    /// The wait after a failed acquire: a candidate bound to a dead node tries
    /// again twice a second rather than twenty times.
    fn backoff(&self) -> Duration {
        if self.tenure.is_some() { BACKOFF * 10 } else { BACKOFF }
    }

    /// The names its ops go by: `acquire` / `release` of the `lock`, or
    /// `campaign` / `resign` in the `election`.
    fn vocabulary(&self) -> (F, F, &'static str) {
        match self.tenure {
            None => (F::Acquire, F::Release, "lock"),
            Some(_) => (F::parse("campaign"), F::parse("resign"), "election"),
        }
    }

    /// One logical process in `slot`, until its `stop` or `until`.
    pub async fn run_process(self: Arc<Self>, slot: Slot) -> Result<(), String> {
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
        let proxy = Proxy::start(SocketAddr::from((ip, self.locks.port()))).await?;
        let endpoint = proxy.addr.to_string();
        let (acquire, _, name) = self.vocabulary();
        let mut locker: Option<Box<dyn DynLock>> = None;
        let mut resource: Option<Resource> = None;
        let mut process = first;
        while !stop.load(Ordering::Relaxed) && Instant::now() < self.pauses.end(until) {
            let p = Process::Client(process);
            let record = |kind, f, k: &str, v: Value| {
                rec.record(Op::new(p, kind, f, v).with_key(key(k)));
            };
            let error = |kind, f, k: &str, v: Value, why: &str| {
                let mut op = Op::new(p, kind, f, v).with_key(key(k));
                op.error = Some(Box::new(Value::str(why)));
                rec.record(op);
            };

            // acquire (campaign)
            record(Type::Invoke, acquire.clone(), name, Value::Nil);
            let acquired = async {
                if locker.is_none() {
                    locker = Some(self.connect(&endpoint).await?);
                }
                locker.as_mut().expect("connected").acquire().await
            };
            // no longer than the run, so that its end does not wait on a queue
            let wait = self
                .acquire_timeout()
                .min(self.pauses.end(until).saturating_duration_since(Instant::now()) + self.op_timeout);
            let outcome = self.acquire_or_stall(acquired, wait, &proxy, &mut rng, &stop).await;
            let token = match outcome {
                Ok(Ok(token)) => {
                    record(Type::Ok, acquire.clone(), name, Value::Int(token));
                    token
                }
                outcome => {
                    let (kind, why) = not_ok(outcome);
                    error(kind, acquire.clone(), name, Value::Nil, &why);
                    // dropping the connection ends its lease or session
                    locker = None;
                    if kind == Type::Info {
                        process += stride;
                    }
                    tokio::time::sleep(self.backoff()).await;
                    continue;
                }
            };

            // the critical section (a leader's jobs): read, (maybe stall), think, write
            let jobs = self.tenure.map_or(1, |t| t.jobs);
            let mut unknown = false;
            // why a leader stepped down before its term's jobs were done
            let mut why: Option<&str> = None;
            for n in 0..jobs {
                if n > 0 {
                    let every = self.tenure.map_or(Duration::ZERO, |t| t.every);
                    tokio::select! {
                        () = tokio::time::sleep(every) => {}
                        () = crate::client::stopped(&stop) => {}
                    }
                    if stop.load(Ordering::Relaxed) || Instant::now() >= self.pauses.end(until) {
                        break;
                    }
                }
                // a careful leader acts only while its lease or session lives (a
                // lock holder here does not look: that is the lock workload's point)
                if self.tenure.is_some() && !locker.as_ref().is_some_and(|l| l.held()) {
                    why = Some("lease lost");
                    break;
                }
                match self
                    .job(token, &mut resource, &proxy, &mut rng, &stop, &record, &error)
                    .await
                {
                    Job::Done => {}
                    Job::Stale => {
                        why = Some("fenced");
                        break;
                    }
                    Job::Unknown => {
                        unknown = true;
                        break;
                    }
                }
            }
            if unknown {
                // the write may have landed: this process's story ends here, and
                // dropping its lock connection lets the lease go
                resource = None;
                locker = None;
                process += stride;
                continue;
            }

            // release (resign: a leader stepping down says why, [term why])
            let said = match (self.tenure, why) {
                (Some(_), Some(why)) => Value::list(vec![Value::Int(token), Value::str(why)]),
                _ => Value::Int(token),
            };
            if self.release_held(&mut locker, said, &record, &error).await {
                process += stride;
            }
        }
        Ok(())
    }

    /// Releases (resigns) the lock `locker` holds, saying `said`; whether the
    /// outcome is unknown (the process is then retired). A connection whose
    /// release did not go through is dropped: its lease or session ends.
    async fn release_held(
        &self,
        locker: &mut Option<Box<dyn DynLock>>,
        said: Value,
        record: &impl Fn(Type, F, &str, Value),
        error: &impl Fn(Type, F, &str, Value, &str),
    ) -> bool {
        let (_, release, name) = self.vocabulary();
        record(Type::Invoke, release.clone(), name, said.clone());
        let released = locker.as_mut().expect("held").release();
        match tokio::time::timeout(self.op_timeout, released).await {
            Ok(Ok(())) => {
                record(Type::Ok, release, name, said);
                false
            }
            outcome => {
                let (kind, why) = not_ok(outcome);
                error(kind, release, name, said, &why);
                *locker = None;
                tokio::time::sleep(BACKOFF).await;
                kind == Type::Info
            }
        }
    }

    /// `acquired` within `wait`; with `--client-pause-at wait` (or `any`), a
    /// pause armed and the client still waiting after [`WAITING`], the client
    /// stalls right there (its connection frozen: its lease or session lapses
    /// while it is queued), then waits on.
    async fn acquire_or_stall(
        &self,
        acquired: impl Future<Output = Result<i64, ClientError>>,
        wait: Duration,
        proxy: &Proxy,
        rng: &mut Rng,
        stop: &AtomicBool,
    ) -> Result<Result<i64, ClientError>, tokio::time::error::Elapsed> {
        let began = Instant::now();
        let mut acquired = std::pin::pin!(acquired);
        if self.pause_at.waiting(rng) {
            if let Ok(done) = tokio::time::timeout(WAITING.min(wait), acquired.as_mut()).await {
                return Ok(done);
            }
            if self.pauses.take() {
                self.pauses.stall(Some(Instant::now() + self.pause()));
                proxy.freeze(true);
                let thaw = async {
                    tokio::select! {
                        () = tokio::time::sleep(self.pause()) => {}
                        () = crate::client::stopped(stop) => {}
                    }
                    proxy.freeze(false);
                };
                let rest = wait.saturating_sub(began.elapsed()).max(self.pause());
                let (outcome, ()) = tokio::join!(tokio::time::timeout(rest, acquired.as_mut()), thaw);
                self.pauses.stall(None);
                self.pauses.done();
                return outcome;
            }
        }
        tokio::time::timeout(wait.saturating_sub(began.elapsed()), acquired).await
    }

    /// One read-modify-write of the resource with `token`, stalling first when
    /// a client pause is armed (and may be taken while holding).
    #[allow(clippy::too_many_arguments)]
    async fn job(
        &self,
        token: i64,
        resource: &mut Option<Resource>,
        proxy: &Proxy,
        rng: &mut Rng,
        stop: &AtomicBool,
        record: &impl Fn(Type, F, &str, Value),
        error: &impl Fn(Type, F, &str, Value, &str),
    ) -> Job {
        let t = Some(token);
        if resource.is_none() {
            *resource = Resource::connect(self.resource, self.op_timeout).await.ok();
        }
        record(Type::Invoke, F::Read, "resource", pair(t, None));
        let read = match resource.as_mut() {
            Some(r) => tokio::time::timeout(self.op_timeout, r.read(t)).await.ok(),
            None => None,
        };
        let v = match read {
            Some(Ok(Answer::Ok(v))) => {
                record(Type::Ok, F::Read, "resource", pair(t, Some(v)));
                v
            }
            Some(Ok(Answer::Stale(_))) => {
                error(Type::Fail, F::Read, "resource", pair(t, None), "stale token");
                return Job::Stale;
            }
            _ => {
                // a read changes nothing the checker judges: fail, not info
                error(Type::Fail, F::Read, "resource", pair(t, None), "unreachable");
                *resource = None;
                return Job::Done;
            }
        };
        // the run waits for a stall under way (one at a time), however long
        if self.pause_at.holding(rng) && self.pauses.take() {
            self.pauses.stall(Some(Instant::now() + self.pause()));
            proxy.freeze(true);
            let stalled = tokio::time::sleep(self.pause());
            tokio::select! {
                () = stalled => {}
                () = crate::client::stopped(stop) => {}
            }
            proxy.freeze(false);
            self.pauses.stall(None);
            self.pauses.done();
        }
        tokio::time::sleep(self.think.mul_f64(rng.below(1001) as f64 / 1000.0)).await;
        record(Type::Invoke, F::Write, "resource", pair(t, Some(v + 1)));
        let wrote = match resource.as_mut() {
            Some(r) => tokio::time::timeout(self.op_timeout, r.write(t, v + 1)).await.ok(),
            None => None,
        };
        match wrote {
            Some(Ok(Answer::Ok(seq))) => {
                let done = Value::list(vec![Value::Int(token), Value::Int(v + 1), Value::Int(seq)]);
                record(Type::Ok, F::Write, "resource", done);
                Job::Done
            }
            Some(Ok(Answer::Stale(_))) => {
                error(Type::Fail, F::Write, "resource", pair(t, Some(v + 1)), "stale token");
                Job::Stale
            }
            _ => {
                error(Type::Info, F::Write, "resource", pair(t, Some(v + 1)), "no answer");
                Job::Unknown
            }
        }
    }

    /// Reads the resource once with no token, after the cluster healed: the
    /// value every acknowledged critical section should add up to.
    pub async fn final_read(&self, process: u64, rec: &dyn Record) -> Result<i64, Error> {
        let p = Process::Client(process);
        rec.record(Op::new(p, Type::Invoke, F::Read, pair(None, None)).with_key(key("resource")));
        let read = async {
            let mut r = Resource::connect(self.resource, self.op_timeout).await?;
            r.read(None).await
        };
        let outcome = tokio::time::timeout(self.op_timeout * 5, read)
            .await
            .map_err(|_| Error::TimedOut)
            .and_then(|r| r);
        match outcome {
            Ok(Answer::Ok(v)) => {
                rec.record(Op::new(p, Type::Ok, F::Read, pair(None, Some(v))).with_key(key("resource")));
                Ok(v)
            }
            other => {
                // the outcome as it reads, the error in its words: `Err("timed out")`
                let e = Error::FinalResource(format!("{:?}", other.map_err(|e| e.to_string())));
                let mut op = Op::new(p, Type::Fail, F::Read, pair(None, None)).with_key(key("resource"));
                op.error = Some(Box::new(Value::str(&e.to_string())));
                rec.record(op);
                Err(e)
            }
        }
    }
}
