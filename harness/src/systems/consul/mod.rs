//! Consul: provisioning (bullseye's 1.8.7, or any build), server agents that
//! bootstrap from each other, readiness and leader through the status API, and
//! its clients (registers in KV, locks as sessions with `?acquire=`).

mod client;
mod provision;
mod server;

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use workloads::{BoxFuture, Locks, Registers};

use super::{Db, System};
use crate::provision::Binary;

/// The HTTP API's port.
pub const PORT: u16 = 8500;

pub struct Consul;

impl System for Consul {
    fn name(&self) -> &'static str {
        "consul"
    }
    fn provision(&self, version: Option<&str>, binary: Option<&Path>) -> Result<Arc<dyn Db>, String> {
        Ok(Arc::new(ConsulDb(provision::provision(version, binary)?)))
    }
    fn registers(&self) -> Result<Arc<dyn Registers>, String> {
        Ok(Arc::new(client::ConsulRegisters))
    }
    fn locks(&self) -> Result<Arc<dyn Locks>, String> {
        Ok(Arc::new(client::ConsulLocks))
    }
}

struct ConsulDb(Binary);

impl Db for ConsulDb {
    fn version(&self) -> &str {
        &self.0.version
    }
    fn binary(&self) -> &Path {
        &self.0.path
    }
    fn argv(
        &self,
        me: usize,
        members: &[(String, Ipv4Addr)],
        data_dir: &Path,
        _run_id: &str,
    ) -> Result<Vec<String>, String> {
        server::argv(&self.0.path, me, members, data_dir)
    }
    fn wait_ready<'a>(&'a self, ips: &'a [Ipv4Addr], within: Duration) -> BoxFuture<'a, Result<Duration, String>> {
        Box::pin(server::wait_ready(ips, within))
    }
    fn leader<'a>(&'a self, ips: &'a [Ipv4Addr]) -> BoxFuture<'a, Option<usize>> {
        Box::pin(server::leader(ips))
    }
}
