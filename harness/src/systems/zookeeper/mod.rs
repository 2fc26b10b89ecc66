//! ZooKeeper: provisioning (jars and the machine's Java), each server's zoo.cfg
//! and command line, readiness and leader through `srvr`, and its clients
//! (registers as znodes, the ephemeral-sequential lock recipe, one-shot watches).

mod client;
mod provision;
mod server;
mod watch;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use workloads::{DynLocks, DynRegisters};

use super::{DynDb, Provided, Runbook, System};

pub const PORT: u16 = 2181;

pub struct ZooKeeper;

impl System for ZooKeeper {
    fn name(&self) -> &'static str {
        "zookeeper"
    }
    fn jvm(&self) -> bool {
        true
    }
    fn versions(&self) -> &'static [Provided] {
        provision::VERSIONS
    }
    fn runbooks(&self) -> &'static [Runbook] {
        &[
            Runbook {
                name: "restore",
                script: include_str!("runbooks/restore.sh"),
                unofficial: false,
            },
            Runbook {
                name: "survivors",
                script: include_str!("runbooks/survivors.sh"),
                unofficial: true,
            },
        ]
    }
    fn takes_binary(&self) -> bool {
        false
    }
    fn provision(&self, version: Option<&str>, binary: Option<&Path>) -> Result<Arc<dyn DynDb>, String> {
        if binary.is_some() {
            return Err("zookeeper has no --binary (it runs jars): pick a version with --version".into());
        }
        Ok(Arc::new(server::ZooKeeperDb(provision::provision(version)?)))
    }
    fn registers(&self) -> Result<Arc<dyn DynRegisters>, String> {
        Ok(Arc::new(client::ZooKeeperRegisters))
    }
    fn locks(&self) -> Result<Arc<dyn DynLocks>, String> {
        Ok(Arc::new(client::ZooKeeperLocks))
    }
    fn watches(&self, prefix: &str, keys: u64, timeout: Duration) -> Result<Arc<dyn workloads::Watches>, String> {
        Ok(Arc::new(watch::ZooKeeperWatches::new(prefix, keys, timeout)))
    }
}
