//! etcd: provisioning (trixie's 3.5.16, bookworm's 3.4.23, or any build), each
//! member's command line, readiness and leader through the status API, and its
//! clients (registers over KV and txn, the v3 lock API on a lease of ours).

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

/// Client port; peers talk on 2380.
pub const PORT: u16 = 2379;

pub struct Etcd;

impl System for Etcd {
    fn name(&self) -> &'static str {
        "etcd"
    }
    fn provision(&self, version: Option<&str>, binary: Option<&Path>) -> Result<Arc<dyn Db>, String> {
        Ok(Arc::new(EtcdDb(provision::etcd(version, binary)?)))
    }
    fn registers(&self) -> Result<Arc<dyn Registers>, String> {
        Ok(Arc::new(client::EtcdRegisters))
    }
    fn locks(&self) -> Result<Arc<dyn Locks>, String> {
        Ok(Arc::new(client::EtcdLocks))
    }
}

struct EtcdDb(Binary);

impl Db for EtcdDb {
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
        run_id: &str,
    ) -> Result<Vec<String>, String> {
        Ok(server::argv(
            &self.0.path,
            me,
            members,
            data_dir,
            &format!("splitbrain-{run_id}"),
        ))
    }
    fn wait_ready<'a>(&'a self, ips: &'a [Ipv4Addr], within: Duration) -> BoxFuture<'a, Result<Duration, String>> {
        Box::pin(server::wait_ready(ips, within))
    }
    fn leader<'a>(&'a self, ips: &'a [Ipv4Addr]) -> BoxFuture<'a, Option<usize>> {
        Box::pin(server::leader(ips))
    }
}
