//! Per-system automation behind one face: provisioning, each node's command
//! line and config, readiness, and who leads. The runner knows nothing else of
//! the systems.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use workloads::System;

use crate::{consul, etcd, provision, zookeeper};

pub enum Db {
    Etcd(provision::Binary),
    ZooKeeper(zookeeper::Install),
    Consul(provision::Binary),
}

impl Db {
    pub fn provision(system: System, version: Option<&str>, binary: Option<&Path>) -> Result<Db, String> {
        match system {
            System::Etcd => Ok(Db::Etcd(provision::etcd(version, binary)?)),
            System::ZooKeeper if binary.is_some() => {
                Err("--binary is for etcd and consul; pick a zookeeper with --version".into())
            }
            System::ZooKeeper => Ok(Db::ZooKeeper(zookeeper::provision(version)?)),
            System::Consul => Ok(Db::Consul(consul::provision(version, binary)?)),
        }
    }

    pub fn version(&self) -> &str {
        match self {
            Db::Etcd(b) => &b.version,
            Db::ZooKeeper(z) => &z.version,
            Db::Consul(b) => &b.version,
        }
    }

    pub fn binary(&self) -> &Path {
        match self {
            Db::Etcd(b) => &b.path,
            Db::ZooKeeper(z) => &z.java,
            Db::Consul(b) => &b.path,
        }
    }

    /// The argv of node `me`, writing any config it needs into `data_dir`.
    pub fn argv(
        &self,
        me: usize,
        members: &[(String, Ipv4Addr)],
        data_dir: &Path,
        run_id: &str,
    ) -> Result<Vec<String>, String> {
        match self {
            Db::Etcd(b) => Ok(etcd::argv(
                &b.path,
                me,
                members,
                data_dir,
                &format!("splitbrain-{run_id}"),
            )),
            Db::ZooKeeper(z) => zookeeper::argv(z, me, members, data_dir),
            Db::Consul(b) => consul::argv(&b.path, me, members, data_dir),
        }
    }

    /// The local image tag of the docker runtime for this system and version.
    pub fn image(&self) -> String {
        let system = match self {
            Db::Etcd(_) => "etcd",
            Db::ZooKeeper(_) => "zookeeper",
            Db::Consul(_) => "consul",
        };
        format!("splitbrain/{system}:{}", self.version())
    }

    /// The host files a node runs, which its image holds at the same paths.
    pub fn image_roots(&self) -> Vec<PathBuf> {
        match self {
            Db::Etcd(b) | Db::Consul(b) => vec![b.path.clone()],
            Db::ZooKeeper(z) => {
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
        }
    }

    /// Waits until every node serves and the cluster has a leader.
    pub async fn wait_ready(&self, ips: &[Ipv4Addr], within: Duration) -> Result<Duration, String> {
        match self {
            Db::Etcd(_) => etcd::wait_ready(&endpoints(ips), within).await,
            Db::ZooKeeper(_) => zookeeper::wait_ready(ips, within).await,
            Db::Consul(_) => consul::wait_ready(ips, within).await,
        }
    }

    /// The node most nodes consider leader.
    pub async fn leader(&self, ips: &[Ipv4Addr]) -> Option<usize> {
        match self {
            Db::Etcd(_) => etcd::leader(&endpoints(ips)).await,
            Db::ZooKeeper(_) => zookeeper::leader(ips).await,
            Db::Consul(_) => consul::leader(ips).await,
        }
    }
}

fn endpoints(ips: &[Ipv4Addr]) -> Vec<String> {
    ips.iter().map(|ip| etcd::endpoint(*ip)).collect()
}
