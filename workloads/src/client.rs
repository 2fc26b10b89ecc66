//! What the workloads need of a system's clients (traits each system implements
//! in its own folder), and one client connection per logical process.

use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use checkers::rng::Rng;
use checkers::{F, Record, Type, Value};

/// Resolves once `stop` is set (an interrupted run), within 50 ms: for the
/// runner's waits and the workloads' alike.
pub async fn stopped(stop: &std::sync::atomic::AtomicBool) {
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The process id of the final reads after the heal (the register workload's
/// read from node `i` is this + `i`). Far above the clients' ids, which start at
/// 0 and grow by a stride for each process retired, and the watchers': a client
/// whose last op ended `info` may still have it in flight, and no process may
/// have two.
pub const FINAL_READ_PROCESS: u64 = 1_000_000_000;

/// Spreads consecutive process ids over the seed's bits (the golden ratio's odd
/// constant), so that each process of a run has a stream of its own.
pub(crate) const PROCESS_MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// The random stream of process `process` in a run of `seed`, its id spread by
/// the odd multiplier `mix` ([`PROCESS_MIX`] but in the register workload).
pub(crate) fn rng_for(seed: u64, process: u64, mix: u64) -> Rng {
    Rng::new(seed ^ process.wrapping_mul(mix))
}

/// One logical process's place in a run, whatever the workload: it is bound
/// to the node at `ip`; its ids are `first`, then `first + stride`, ... as
/// earlier ones are retired; it records into `rec` until `stop` or `until`.
pub struct Slot {
    pub first: u64,
    pub stride: u64,
    pub ip: Ipv4Addr,
    pub rec: Arc<dyn Record>,
    pub stop: Arc<AtomicBool>,
    pub until: Instant,
    /// The run's seed; each workload derives the process's own from it.
    pub seed: u64,
}

/// Why a call did not complete. `definite`: the request certainly never took
/// effect (it was never sent), so a write may be recorded as `fail`, not `info`.
#[derive(Debug)]
pub struct ClientError {
    pub definite: bool,
    pub message: String,
}

/// The `[old new]` of a cas value.
pub fn cas_pair(value: &Value) -> (&Value, &Value) {
    match value.as_list() {
        Some([old, new]) => (old, new),
        _ => panic!("a cas value is [old new], got {value}"),
    }
}

/// A future a trait object can return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl ClientError {
    /// The request certainly never took effect.
    pub fn definite(message: String) -> ClientError {
        ClientError {
            definite: true,
            message,
        }
    }

    /// The request may have taken effect.
    pub fn maybe(message: String) -> ClientError {
        ClientError {
            definite: false,
            message,
        }
    }
}

/// A system's register clients: what the register workload needs of it. Systems
/// write plain async fns; the workload holds them as [`DynRegisters`].
pub trait Registers: Send + Sync + 'static {
    type Client: RegisterClient + 'static;
    /// Read modes, the strongest first (the default, and the final reads').
    fn read_modes(&self) -> &'static [&'static str];
    /// A connection (for ZooKeeper, a session) to the node at `ip`, for registers
    /// `0..keys` under the target's prefix, reading in its read mode.
    fn connect(
        &self,
        ip: Ipv4Addr,
        target: &Target,
        keys: u64,
    ) -> impl Future<Output = Result<Self::Client, ClientError>> + Send;
}

/// One connection's read / write / cas on registers.
pub trait RegisterClient: Send {
    /// Performs `f` on `key`: the outcome and the completion's value (a cas that
    /// found another value is `fail`); an error when it did not complete.
    fn call(
        &mut self,
        f: &F,
        key: &Value,
        value: &Value,
    ) -> impl Future<Output = Result<(Type, Value), ClientError>> + Send;
}

/// [`Registers`] as a trait object.
pub trait DynRegisters: Send + Sync {
    fn read_modes(&self) -> &'static [&'static str];
    fn connect<'a>(&'a self, ip: Ipv4Addr, target: &'a Target, keys: u64)
    -> BoxFuture<'a, Result<Client, ClientError>>;
}

impl<R: Registers> DynRegisters for R {
    fn read_modes(&self) -> &'static [&'static str] {
        Registers::read_modes(self)
    }
    fn connect<'a>(
        &'a self,
        ip: Ipv4Addr,
        target: &'a Target,
        keys: u64,
    ) -> BoxFuture<'a, Result<Client, ClientError>> {
        Box::pin(async move {
            let c = Registers::connect(self, ip, target, keys).await?;
            Ok(Client(Box::new(c)))
        })
    }
}

/// [`RegisterClient`] as a trait object.
trait DynRegisterClient: Send {
    fn call<'a>(
        &'a mut self,
        f: &'a F,
        key: &'a Value,
        value: &'a Value,
    ) -> BoxFuture<'a, Result<(Type, Value), ClientError>>;
}

impl<C: RegisterClient> DynRegisterClient for C {
    fn call<'a>(
        &'a mut self,
        f: &'a F,
        key: &'a Value,
        value: &'a Value,
    ) -> BoxFuture<'a, Result<(Type, Value), ClientError>> {
        Box::pin(RegisterClient::call(self, f, key, value))
    }
}

/// What every connection of a run shares.
#[derive(Clone)]
pub struct Target {
    pub registers: Arc<dyn DynRegisters>,
    /// One of the system's [`Registers::read_modes`].
    pub read_mode: &'static str,
    /// An op that takes longer has an unknown outcome.
    pub op_timeout: Duration,
    /// Prefix of every key, unique per run.
    pub prefix: String,
}

impl Target {
    /// One op through `client`, connecting it to the node at `ip` first when
    /// there is none; without a connection the request never left (`fail`).
    pub async fn invoke_on(
        &self,
        client: &mut Option<Client>,
        ip: Ipv4Addr,
        keys: u64,
        f: &F,
        key: &Value,
        value: &Value,
    ) -> (Type, Value) {
        if client.is_none() {
            match self.connect(ip, keys).await {
                Ok(c) => *client = Some(c),
                Err(_) => return (Type::Fail, if *f == F::Read { Value::Nil } else { value.clone() }),
            }
        }
        let c = client.as_mut().expect("connected just now");
        c.invoke(self.op_timeout, f, key, value).await
    }

    /// Opens a connection to the node at `ip`, within twice the op timeout.
    pub async fn connect(&self, ip: Ipv4Addr, keys: u64) -> Result<Client, ClientError> {
        match tokio::time::timeout(self.op_timeout * 2, self.registers.connect(ip, self, keys)).await {
            Ok(connected) => connected,
            Err(_) => Err(ClientError::definite(format!("connecting to {ip}: timed out"))),
        }
    }
}

/// A register connection of one logical process.
pub struct Client(Box<dyn DynRegisterClient>);

impl Client {
    /// Performs one op: its outcome type and completion value. A timeout or an
    /// error leaves a read `fail` (it changed nothing) and a write `info`, unless
    /// the request certainly never left.
    pub async fn invoke(&mut self, timeout: Duration, f: &F, key: &Value, value: &Value) -> (Type, Value) {
        match tokio::time::timeout(timeout, self.0.call(f, key, value)).await {
            Ok(Ok(done)) => done,
            _ if *f == F::Read => (Type::Fail, Value::Nil),
            Ok(Err(e)) if e.definite => (Type::Fail, value.clone()),
            _ => (Type::Info, value.clone()),
        }
    }
}
