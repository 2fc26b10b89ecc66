//! The `set` workload: every write puts a key of its own (an element added to a
//! set), so every acknowledged write must stay observable for good, and the read
//! of all keys afterwards counts exactly what a recovery lost (its RPO) and what
//! came back that was never acknowledged. Reads read one of the latest keys
//! acknowledged: each key is a register written once, which the linearizability
//! checker judges as any other.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use checkers::{F, Op, Process, Record, Type, Value};

use crate::client::{Client, PROCESS_MIX, Slot, Target, rng_for};

pub struct Set {
    pub target: Target,
    /// Pause after each op: keeps the keys few enough to read back in seconds.
    pub pace: Duration,
    /// The next key to write, shared by all processes so that keys are unique.
    next: AtomicU64,
    /// One past the highest key acknowledged so far: reads pick just below it.
    acked: AtomicU64,
}

/// Pause after an op that failed, so that a client of a dead node does not spin.
const BACKOFF: Duration = Duration::from_millis(50);

/// How many of the latest acknowledged keys a read picks from.
const RECENT: u64 = 16;

/// Connections per node in the read of every key after the run.
const READERS_PER_NODE: usize = 4;

/// What the read of every key from one node after recovery found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadBack {
    pub keys: u64,
    /// Keys read (present or not).
    pub read: u64,
    /// Keys that no node answered for.
    pub unread: u64,
}

impl Set {
    pub fn new(target: Target, pace: Duration) -> Set {
        Set {
            target,
            pace,
            next: AtomicU64::new(0),
            acked: AtomicU64::new(0),
        }
    }

    /// Keys written so far (every write invoked, whatever its outcome).
    pub fn keys(&self) -> u64 {
        self.next.load(Ordering::SeqCst)
    }

    /// One logical process in `slot`: a new key, then a read of a recent one,
    /// until its `stop` or `until`.
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
        let mut client: Option<Client> = None;
        let mut process = first;
        let mut write = true;
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            let acked = self.acked.load(Ordering::SeqCst);
            let (f, key, value) = if write || acked == 0 {
                let k = self.next.fetch_add(1, Ordering::SeqCst) as i64;
                (F::Write, k, Value::Int(k))
            } else {
                let k = acked - 1 - rng.below(RECENT.min(acked));
                (F::Read, k as i64, Value::Nil)
            };
            write = !write;
            let key = Value::Int(key);
            let p = Process::Client(process);
            rec.record(Op::new(p, Type::Invoke, f.clone(), value.clone()).with_key(key.clone()));
            let sent = Instant::now();
            let (outcome, done) = self.target.invoke_on(&mut client, ip, 0, &f, &key, &value).await;
            if outcome == Type::Ok
                && f == F::Write
                && let Value::Int(k) = key
            {
                self.acked.fetch_max(k as u64 + 1, Ordering::SeqCst);
            }
            rec.record(Op::new(p, outcome, f, done).with_key(key));
            if outcome != Type::Ok || client.is_none() {
                client = None;
                tokio::time::sleep(BACKOFF.saturating_sub(sent.elapsed())).await;
            } else {
                tokio::time::sleep(self.pace).await;
            }
            if outcome == Type::Info {
                process += stride;
            }
        }
        Ok(())
    }

    /// Reads every key written from each node of `ips` on its own, in the
    /// system's strongest read mode, from several connections per node at
    /// once, as processes from `base` on; a read that fails is tried once more
    /// on a fresh connection; all within `within`. One answer per node.
    pub async fn read_back(
        &self,
        ips: &[Ipv4Addr],
        base: u64,
        rec: Arc<dyn Record>,
        within: Duration,
    ) -> Vec<ReadBack> {
        let deadline = Instant::now() + within;
        let strongest = Target {
            read_mode: self.target.registers.read_modes()[0],
            ..self.target.clone()
        };
        let keys = self.keys();
        let lanes = ips.len() * READERS_PER_NODE;
        let mut tasks = Vec::new();
        for lane in 0..lanes {
            let (target, rec) = (strongest.clone(), rec.clone());
            let ip = ips[lane % ips.len()];
            let first = (lane / ips.len()) as u64;
            tasks.push(tokio::spawn(async move {
                let mut read = 0;
                let mut process = base + lane as u64;
                let mut client: Option<Client> = None;
                for k in (first..keys).step_by(READERS_PER_NODE) {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let key = Value::Int(k as i64);
                    for _try in 0..2 {
                        if client.is_none() {
                            client = target.connect(ip, 0).await.ok();
                        }
                        let Some(c) = client.as_mut() else { continue };
                        let p = Process::Client(process);
                        rec.record(Op::new(p, Type::Invoke, F::Read, Value::Nil).with_key(key.clone()));
                        let (outcome, v) = c.invoke(target.op_timeout, &F::Read, &key, &Value::Nil).await;
                        rec.record(Op::new(p, outcome, F::Read, v).with_key(key.clone()));
                        if outcome == Type::Ok {
                            read += 1;
                            break;
                        }
                        client = None;
                        process += lanes as u64;
                    }
                }
                read
            }));
        }
        let mut read = vec![0; ips.len()];
        for (lane, t) in tasks.into_iter().enumerate() {
            read[lane % ips.len()] += t.await.unwrap_or(0);
        }
        read.into_iter()
            .map(|read| ReadBack {
                keys,
                read,
                unread: keys - read,
            })
            .collect()
    }
}
