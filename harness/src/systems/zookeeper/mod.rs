//! ZooKeeper: provisioning (jars and the machine's Java), each server's zoo.cfg
//! and command line, readiness and leader through `srvr`, and its clients
//! (registers as znodes, the ephemeral-sequential lock recipe).

mod client;
mod provision;
mod server;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use workloads::{BoxFuture, Locks, Registers};

use super::{Db, System};

pub const PORT: u16 = 2181;

pub struct ZooKeeper;

impl System for ZooKeeper {
    fn name(&self) -> &'static str {
        "zookeeper"
    }
    fn provision(&self, version: Option<&str>, binary: Option<&Path>) -> Result<Arc<dyn Db>, String> {
        if binary.is_some() {
            return Err("zookeeper has no --binary (it runs jars): pick a version with --version".into());
        }
        Ok(Arc::new(ZooKeeperDb(provision::provision(version)?)))
    }
    fn registers(&self) -> Result<Arc<dyn Registers>, String> {
        Ok(Arc::new(client::ZooKeeperRegisters))
    }
    fn locks(&self) -> Result<Arc<dyn Locks>, String> {
        Ok(Arc::new(client::ZooKeeperLocks))
    }
}

struct ZooKeeperDb(provision::Install);

impl Db for ZooKeeperDb {
    fn version(&self) -> &str {
        &self.0.version
    }
    fn binary(&self) -> &Path {
        &self.0.java
    }
    fn argv(
        &self,
        me: usize,
        members: &[(String, Ipv4Addr)],
        data_dir: &Path,
        _run_id: &str,
    ) -> Result<Vec<String>, String> {
        server::argv(&self.0, me, members, data_dir)
    }
    fn image_roots(&self) -> Vec<PathBuf> {
        let z = &self.0;
        let mut roots = vec![z.java.clone()];
        // the whole Java home: the launcher finds its libraries and modules relative to itself
        if let Some(home) = std::fs::canonicalize(&z.java)
            .ok()
            .and_then(|j| j.parent()?.parent().map(Path::to_path_buf))
        {
            roots.push(home);
        }
        for jar in z.classpath.split(':') {
            let jar = PathBuf::from(jar);
            // bookworm's jar names its dependencies beside it, by absolute path
            match jar.parent() {
                Some(dir) if dir == Path::new("/usr/share/java") => roots.push(dir.to_path_buf()),
                _ => roots.push(jar),
            }
        }
        roots
    }
    fn wait_ready<'a>(&'a self, ips: &'a [Ipv4Addr], within: Duration) -> BoxFuture<'a, Result<Duration, String>> {
        Box::pin(server::wait_ready(ips, within))
    }
    fn leader<'a>(&'a self, ips: &'a [Ipv4Addr]) -> BoxFuture<'a, Option<usize>> {
        Box::pin(server::leader(ips))
    }
}
