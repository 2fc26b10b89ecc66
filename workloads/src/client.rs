//! One client connection per logical process, whatever the system.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use checkers::{F, Record, Type, Value};

use crate::consul::Consul;
use crate::etcd::Etcd;
use crate::system::{ReadMode, System};
use crate::zookeeper::ZooKeeper;

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

pub enum Client {
    /// Boxed: etcd's client holds every gRPC service stub (3.5 kB).
    Etcd(Box<Etcd>),
    ZooKeeper(ZooKeeper),
    Consul(Consul),
}

/// What every connection of a run shares.
#[derive(Clone, Debug)]
pub struct Target {
    pub system: System,
    pub read_mode: ReadMode,
    /// An op that takes longer has an unknown outcome.
    pub op_timeout: Duration,
    /// Prefix of every key, unique per run.
    pub prefix: String,
}

impl Target {
    /// Opens a connection (for ZooKeeper, a session) to the node at `ip`.
    pub async fn connect(&self, ip: Ipv4Addr, keys: u64) -> Result<Client, ClientError> {
        let t = self.op_timeout;
        let connecting = async {
            Ok(match self.system {
                System::Etcd => Client::Etcd(
                    Etcd::connect(ip, t, self.read_mode == ReadMode::Serializable, &self.prefix)
                        .await
                        .map_err(|message| ClientError {
                            definite: true,
                            message,
                        })
                        .map(Box::new)?,
                ),
                System::ZooKeeper => Client::ZooKeeper(
                    ZooKeeper::connect(ip, t, self.read_mode == ReadMode::Sync, &self.prefix, keys).await?,
                ),
                System::Consul => {
                    let mode = match self.read_mode {
                        ReadMode::Consistent => "?consistent",
                        ReadMode::Stale => "?stale",
                        _ => "",
                    };
                    Client::Consul(
                        Consul::connect(ip, t, mode, &self.prefix).map_err(|message| ClientError {
                            definite: true,
                            message,
                        })?,
                    )
                }
            })
        };
        tokio::time::timeout(t * 2, connecting).await.unwrap_or_else(|_| {
            Err(ClientError {
                definite: true,
                message: format!("connecting to {ip}: timed out"),
            })
        })
    }
}

impl Client {
    /// Performs one op: its outcome type and completion value. A timeout or an
    /// error leaves a read `fail` (it changed nothing) and a write `info`, unless
    /// the request certainly never left.
    pub async fn invoke(&mut self, timeout: Duration, f: &F, key: &Value, value: &Value) -> (Type, Value) {
        let call = async {
            match self {
                Client::Etcd(c) => c.call(f, key, value).await,
                Client::ZooKeeper(c) => c.call(f, key, value).await,
                Client::Consul(c) => c.call(f, key, value).await,
            }
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(done)) => done,
            _ if *f == F::Read => (Type::Fail, Value::Nil),
            Ok(Err(e)) if e.definite => (Type::Fail, value.clone()),
            _ => (Type::Info, value.clone()),
        }
    }
}
