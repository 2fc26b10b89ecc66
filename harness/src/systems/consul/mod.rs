//! Consul: provisioning (bullseye's 1.8.7, or any build), server agents that
//! bootstrap from each other, readiness and leader through the status API, and
//! its clients (registers in KV, locks as sessions with `?acquire=`, watches
//! as blocking queries).

mod client;
mod provision;
mod server;
mod watch;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use workloads::{DynLocks, DynRegisters};

use super::{DynDb, Provided, Runbook, System};

/// The HTTP API's port.
pub const PORT: u16 = 8500;

pub struct Consul;

impl System for Consul {
    fn name(&self) -> &'static str {
        "consul"
    }
    fn time_url(&self) -> Option<(u16, &'static str)> {
        Some((8500, "/v1/status/leader"))
    }
    fn versions(&self) -> &'static [Provided] {
        provision::VERSIONS
    }
    fn runbooks(&self) -> &'static [Runbook] {
        &[Runbook {
            name: "peers-json",
            script: include_str!("runbooks/peers-json.sh"),
            unofficial: false,
        }]
    }
    fn provision(&self, version: Option<&str>, binary: Option<&Path>) -> Result<Arc<dyn DynDb>, String> {
        Ok(Arc::new(server::ConsulDb(provision::provision(version, binary)?)))
    }
    fn registers(&self) -> Result<Arc<dyn DynRegisters>, String> {
        Ok(Arc::new(client::ConsulRegisters))
    }
    fn locks(&self) -> Result<Arc<dyn DynLocks>, String> {
        Ok(Arc::new(client::ConsulLocks))
    }
    fn watches(&self, prefix: &str, keys: u64, timeout: Duration) -> Result<Arc<dyn workloads::Watches>, String> {
        Ok(Arc::new(watch::ConsulWatches::new(prefix, keys, timeout)?))
    }
}
