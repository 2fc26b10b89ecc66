//! The `register` workload: independent registers under read, write and cas.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use checkers::rng::Rng;
use checkers::{F, Op, Process, Record, Type, Value};

use crate::client::{Client, Slot, Target, rng_for};
use crate::error::Error;

/// What the register workload does; shared by all its processes.
#[derive(Clone)]
pub struct Register {
    /// Registers `0..keys`, stored under the target's prefix.
    pub keys: u64,
    /// Values written are `0..values`.
    pub values: u64,
    /// Processes `0..readers` only read: read-heavy clients (config readers,
    /// discovery watchers) keep reading through the window in which a cut-off
    /// node still answers, where a mixed client soon blocks on a write.
    pub readers: u64,
    pub target: Target,
}

/// Pause after an op that did not complete ok because of an error, so that a
/// client bound to a dead node does not spin.
const BACKOFF: Duration = Duration::from_millis(50);

/// The op a process does next: f, key, value.
fn next_op(rng: &mut Rng, spec: &Register, reader: bool) -> (F, Value, Value) {
    let key = Value::Int(rng.below(spec.keys) as i64);
    let v = |rng: &mut Rng| Value::Int(rng.below(spec.values) as i64);
    match if reader { 0 } else { rng.below(3) } {
        0 => (F::Read, key, Value::Nil),
        1 => {
            let value = v(rng);
            (F::Write, key, value)
        }
        _ => {
            let (old, new) = (v(rng), v(rng));
            (F::Cas, key, Value::list(vec![old, new]))
        }
    }
}

/// The register workload's multiplier for [`rng_for`], older than the others'
/// [`PROCESS_MIX`](crate::client::PROCESS_MIX): kept so that a seed still gives
/// the op mix it gave.
const MIX: u64 = 0x2545_f491_4f6c_dd1d;

impl Register {
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
        let mut rng = rng_for(seed, first, MIX);
        let mut client: Option<Client> = None;
        let mut process = first;
        let reader = first < self.readers;
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            let (f, key, value) = next_op(&mut rng, &self, reader);
            let p = Process::Client(process);
            rec.record(Op::new(p, Type::Invoke, f.clone(), value.clone()).with_key(key.clone()));
            let sent = Instant::now();
            let (outcome, done) = self
                .target
                .invoke_on(&mut client, ip, self.keys, &f, &key, &value)
                .await;
            let errored = outcome == Type::Info || (outcome == Type::Fail && f != F::Cas) || client.is_none();
            rec.record(Op::new(p, outcome, f, done).with_key(key));
            if errored {
                // a fresh connection after any error (a ZooKeeper session may have
                // expired), and a pause so that a client of a dead node does not spin
                client = None;
                tokio::time::sleep(BACKOFF.saturating_sub(sent.elapsed())).await;
            }
            if outcome == Type::Info {
                process += stride;
            }
        }
        Ok(())
    }

    /// The same op mix as `run_process`, with nothing recorded: the baseline the
    /// harness's own overhead is measured against. Returns the ops completed.
    pub async fn bare_loop(self: Arc<Self>, first: u64, ip: Ipv4Addr, until: Instant, seed: u64) -> Result<u64, Error> {
        let mut rng = rng_for(seed, first, MIX);
        let mut client = self.target.connect(ip, self.keys).await.map_err(Error::Client)?;
        let mut done = 0;
        let reader = first < self.readers;
        while Instant::now() < until {
            let (f, key, value) = next_op(&mut rng, &self, reader);
            client.invoke(self.target.op_timeout, &f, &key, &value).await;
            done += 1;
        }
        Ok(done)
    }

    /// Reads every key once as process `process`, in the system's strongest read
    /// mode: the final reads after the cluster healed. Returns the keys that came
    /// back ok, with their values.
    pub async fn final_reads(
        &self,
        ip: Ipv4Addr,
        process: u64,
        rec: &dyn Record,
    ) -> Result<Vec<(Value, Value)>, Error> {
        let strongest = Target {
            read_mode: self.target.registers.read_modes()[0],
            ..self.target.clone()
        };
        let mut client = strongest.connect(ip, self.keys).await.map_err(Error::Client)?;
        let mut ok = Vec::new();
        for k in 0..self.keys {
            let key = Value::Int(k as i64);
            let p = Process::Client(process);
            rec.record(Op::new(p, Type::Invoke, F::Read, Value::Nil).with_key(key.clone()));
            let (outcome, v) = client.invoke(self.target.op_timeout, &F::Read, &key, &Value::Nil).await;
            if outcome == Type::Ok {
                ok.push((key.clone(), v.clone()));
            }
            rec.record(Op::new(p, outcome, F::Read, v).with_key(key));
        }
        Ok(ok)
    }

    /// Every key as the node at `ip` itself holds it: the system's weakest read
    /// mode (etcd serializable, ZooKeeper plain, Consul stale), answered from
    /// that replica's own state. Not recorded: such reads need not be
    /// linearizable, and the divergence check compares them apart.
    /// `strongest` reads the same way through the quorum instead, unrecorded:
    /// the value to compare them with at the same moment.
    pub async fn replica_reads(&self, ip: Ipv4Addr, strongest: bool) -> Result<Vec<(Value, Value)>, String> {
        let modes = self.target.registers.read_modes();
        let local = Target {
            read_mode: if strongest { modes[0] } else { modes[modes.len() - 1] },
            ..self.target.clone()
        };
        let mut client = local.connect(ip, self.keys).await.map_err(|e| e.message)?;
        let mut out = Vec::new();
        for k in 0..self.keys {
            let key = Value::Int(k as i64);
            match client.invoke(self.target.op_timeout, &F::Read, &key, &Value::Nil).await {
                (Type::Ok, v) => out.push((key, v)),
                _ => return Err(format!("its own read of key {key} failed or timed out")),
            }
        }
        Ok(out)
    }
}
