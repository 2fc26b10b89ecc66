//! etcd: provisioning (trixie's 3.5.16, bookworm's 3.4.23, or any build), each
//! member's command line, readiness and leader through the status API, and its
//! clients (registers over KV and txn, the v3 lock and election APIs on a lease of ours).

mod catch_up;
mod client;
mod provision;
mod server;

use std::path::Path;
use std::sync::Arc;

use nemeses::schedule::Admin;
use workloads::{DynLocks, DynRegisters};

use super::{DynDb, Provided, Runbook, Setting, System};

/// Client port; peers talk on 2380.
pub const PORT: u16 = 2379;

pub struct Etcd;

impl System for Etcd {
    fn name(&self) -> &'static str {
        "etcd"
    }
    fn time_url(&self) -> Option<(u16, &'static str)> {
        Some((2379, "/version"))
    }
    fn versions(&self) -> &'static [Provided] {
        provision::VERSIONS
    }
    fn runbooks(&self) -> &'static [Runbook] {
        &[
            Runbook {
                name: "snapshot",
                script: include_str!("runbooks/snapshot.sh"),
                unofficial: false,
            },
            Runbook {
                name: "force-new-cluster",
                script: include_str!("runbooks/force-new-cluster.sh"),
                unofficial: false,
            },
        ]
    }
    fn provision(&self, version: Option<&str>, binary: Option<&Path>) -> Result<Arc<dyn DynDb>, String> {
        Ok(Arc::new(server::EtcdDb(provision::etcd(version, binary)?)))
    }
    fn registers(&self) -> Result<Arc<dyn DynRegisters>, String> {
        Ok(Arc::new(client::EtcdRegisters))
    }
    fn locks(&self) -> Result<Arc<dyn DynLocks>, String> {
        Ok(Arc::new(client::EtcdLocks))
    }
    fn watches(
        &self,
        prefix: &str,
        _keys: u64,
        timeout: std::time::Duration,
    ) -> Result<Arc<dyn workloads::Watches>, String> {
        Ok(Arc::new(client::EtcdWatches::new(prefix, timeout)))
    }
    fn takes(&self, setting: Setting) -> bool {
        matches!(setting, Setting::SnapshotCount(_) | Setting::ProgressInterval(_))
    }
    fn admin_operations(&self) -> &'static [Admin] {
        &[Admin::Compact, Admin::Defrag, Admin::Snapshot]
    }
    fn elections(&self) -> Result<Arc<dyn DynLocks>, String> {
        Ok(Arc::new(client::EtcdElections))
    }
    fn snapshot_catch_up(&self) -> Option<String> {
        Some(catch_up::note())
    }
}
