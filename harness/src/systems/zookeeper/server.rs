//! ZooKeeper servers: each one's zoo.cfg and java command line, readiness and
//! the leader through the `srvr` four-letter word.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::PORT;
use super::provision::Install;
use crate::provision::Binary;
use crate::systems::{Db, NodeSpec, per_node, wait_until};

/// A provisioned ZooKeeper.
pub struct ZooKeeperDb(pub Install);

impl Db for ZooKeeperDb {
    fn installed(&self) -> &Binary {
        &self.0.java
    }

    fn argv(&self, node: &NodeSpec) -> Result<Vec<String>, String> {
        argv(&self.0, node)
    }

    fn image_roots(&self) -> Vec<PathBuf> {
        let z = &self.0;
        let mut roots = vec![z.java.path.clone()];
        // the whole Java home: the launcher finds its libraries and modules relative to itself
        if let Some(home) = std::fs::canonicalize(&z.java.path)
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

    /// Every server serves and exactly one leads.
    async fn wait_ready(&self, ips: &[Ipv4Addr], within: Duration) -> Result<Duration, String> {
        wait_until("zookeeper", within, || async {
            let m = modes(ips).await;
            let leaders = m.iter().filter(|r| matches!(r, Ok(x) if x == "leader")).count();
            if m.iter().all(|r| r.is_ok()) && leaders == 1 {
                return Ok(());
            }
            Err(m.into_iter().map(|r| r.unwrap_or_else(|e| e)).collect())
        })
        .await
    }

    async fn leader(&self, ips: &[Ipv4Addr]) -> Option<usize> {
        modes(ips)
            .await
            .iter()
            .position(|m| matches!(m, Ok(x) if x == "leader"))
    }

    /// The `server.N=<address>:...` lines of each server's `conf`.
    async fn members(&self, ips: &[Ipv4Addr]) -> Vec<Result<Vec<Ipv4Addr>, String>> {
        per_node(ips, |ip| async move {
            let text = four_letter(ip, "conf").await?;
            Ok(text
                .lines()
                .filter(|l| l.starts_with("server."))
                .filter_map(|l| l.split_once('=')?.1.split(':').next()?.parse().ok())
                .collect())
        })
        .await
    }

    /// The server's data files (snapshots and transaction logs, `version-2`),
    /// copied while it serves: ZooKeeper's snapshots are fuzzy and replayed
    /// with the logs, so a copy of both restores (the 3.8 way).
    async fn snapshot(&self, _ip: Ipv4Addr, data_dir: &Path, out: &Path) -> Result<u64, String> {
        copy_tree(&data_dir.join("data/version-2"), out)
    }

    /// `reconfig -remove <id>`.
    async fn remove_member(&self, ips: &[Ipv4Addr], node: usize) -> Result<(), String> {
        reconfig(ips, node, &[], &[&(node + 1).to_string()]).await
    }

    /// Nothing before the start: the new server starts with the ensemble plus
    /// itself in its config, and joins as a participant once added.
    async fn add_member(&self, _ips: &[Ipv4Addr], _node: usize) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }

    /// `reconfig -add server.N=...` once the new server runs.
    async fn member_joined(&self, ips: &[Ipv4Addr], node: usize) -> Result<String, String> {
        let line = server_line(node, ips[node]);
        let start = std::time::Instant::now();
        loop {
            match reconfig(ips, node, &[&line], &[]).await {
                Ok(()) => return Ok(format!("reconfig -add after {:.1} s", start.elapsed().as_secs_f64())),
                Err(e) if start.elapsed() > Duration::from_secs(30) => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }

    /// The `Zxid` of `srvr`.
    async fn applied(&self, ip: Ipv4Addr) -> Option<u64> {
        let text = four_letter(ip, "srvr").await.ok()?;
        let hex = text.lines().find_map(|l| l.strip_prefix("Zxid: 0x"))?;
        u64::from_str_radix(hex.trim(), 16).ok()
    }

    /// Its zxid reaching `target`, or, when `target` opens an epoch (counter 0:
    /// a new leader's mark, not a transaction, so the others' last transaction
    /// is not known from it), the server in the broadcast phase: it has synced
    /// every committed transaction from the leader, and a follower synced by a
    /// diff keeps the zxid of its last transaction from the epoch before.
    async fn caught_up(&self, ip: Ipv4Addr, target: u64) -> Result<(), String> {
        let at = self.applied(ip).await;
        if at.is_some_and(|a| a >= target) {
            return Ok(());
        }
        let state = four_letter(ip, "mntr").await.ok().and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("zk_peer_state\t"))
                .map(|s| s.trim().to_string())
        });
        let opens_epoch = target & 0xffff_ffff == 0;
        match state {
            Some(s) if opens_epoch && s.ends_with("- broadcast") => Ok(()),
            state => Err(format!(
                "zxid {} of {target:#x} ({})",
                at.map_or("unknown".into(), |a| format!("{a:#x}")),
                state.as_deref().unwrap_or("no peer state")
            )),
        }
    }

    /// The first line of `srvr`: `Zookeeper version: 3.8.0-<commit>, built on ...`.
    async fn node_version(&self, ip: Ipv4Addr) -> Option<(String, Option<String>)> {
        let text = four_letter(ip, "srvr").await.ok()?;
        let v = text.lines().find_map(|l| l.strip_prefix("Zookeeper version: "))?;
        let v = v.split(['-', ',']).next()?.trim().to_string();
        Some((v, None))
    }

    fn runbook_env(&self) -> Result<Vec<(String, String)>, String> {
        Ok(vec![
            ("CLIENT_PORT".into(), PORT.to_string()),
            ("JAVA".into(), self.0.java.path.display().to_string()),
            ("CLASSPATH".into(), self.0.classpath.clone()),
        ])
    }
}

/// Copies the files under `from` into a new folder `to`; the bytes copied.
fn copy_tree(from: &Path, to: &Path) -> Result<u64, String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let mut bytes = 0;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", from.display()))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        bytes += if src.is_dir() {
            copy_tree(&src, &dst)?
        } else {
            std::fs::copy(&src, &dst).map_err(|e| format!("{}: {e}", src.display()))?
        };
    }
    Ok(bytes)
}

/// Writes server `node`'s zoo.cfg and myid under its data dir; returns its argv.
fn argv(install: &Install, node: &NodeSpec) -> Result<Vec<String>, String> {
    let NodeSpec {
        me,
        members,
        data_dir,
        tuning,
        ..
    } = *node;
    let membership = tuning.membership;
    if membership && install.java.version.starts_with("3.4.") {
        return Err("zookeeper 3.4 has no dynamic reconfiguration: --nemesis member needs 3.5 or later".into());
    }
    let data = data_dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    std::fs::write(data.join("myid"), format!("{}\n", me + 1)).map_err(|e| e.to_string())?;
    let servers: String = members
        .iter()
        .enumerate()
        .map(|(i, (_, ip))| match membership {
            true => format!("{}\n", server_line(i, *ip)),
            // 3.4 reads only this form
            false => format!("server.{}={ip}:2888:3888\n", i + 1),
        })
        .collect();
    // fast elections and sessions for tests: a tick of 200 ms
    let cfg = format!(
        "tickTime=200\ninitLimit=20\nsyncLimit=8\ndataDir={}\nclientPort={PORT}\nclientPortAddress={}\n{servers}\
         standaloneEnabled=false\nreconfigEnabled={membership}\nadmin.enableServer=false\n\
         4lw.commands.whitelist=srvr,mntr,ruok,conf\nminSessionTimeout=1000\nmaxSessionTimeout=10000\n\
         autopurge.purgeInterval=0\npreAllocSize=1024\nsnapCount=10000\ncnxTimeout=500\n",
        data.display(),
        members[me].1
    );
    let path = data_dir.join("zoo.cfg");
    std::fs::write(&path, cfg).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok([
        install.java.path.display().to_string(),
        "-Xmx128m".into(),
        "-Xms32m".into(),
        "-XX:+UseSerialGC".into(),
        "-XX:TieredStopAtLevel=1".into(),
        "-XX:-UsePerfData".into(),
        "-Djava.net.preferIPv4Stack=true".into(),
        "-Dorg.slf4j.simpleLogger.showDateTime=true".into(),
        // reconfig needs a super user: a fixed digest of test clusters (see ADMIN)
        format!("-Dzookeeper.DigestAuthenticationProvider.superDigest={SUPER_DIGEST}"),
        "-cp".into(),
        install.classpath.clone(),
        "org.apache.zookeeper.server.quorum.QuorumPeerMain".into(),
        path.display().to_string(),
    ]
    .into())
}

/// The super user that may reconfigure: `super:splitbrain`, whose digest
/// (base64 of its SHA-1) the servers are started with.
const ADMIN: &[u8] = b"super:splitbrain";
const SUPER_DIGEST: &str = "super:YgI5Dx4Hj+WzUbnCPbXhwJm1Zzs=";

/// Server `i`'s line of the ensemble, its client port included (what
/// reconfig takes, and what a static config also reads).
fn server_line(i: usize, ip: Ipv4Addr) -> String {
    format!("server.{}={ip}:2888:3888:participant;{ip}:{PORT}", i + 1)
}

/// `reconfig` through the first server other than `node` that serves, as the
/// super user.
async fn reconfig(ips: &[Ipv4Addr], node: usize, joining: &[&str], leaving: &[&str]) -> Result<(), String> {
    let mut last = format!("no server other than {} serves", ips[node]);
    for (_, &ip) in ips.iter().enumerate().filter(|(i, _)| *i != node) {
        let asked = async {
            let client = zookeeper_client::Client::connector()
                .with_session_timeout(Duration::from_secs(4))
                .with_connection_timeout(Duration::from_secs(2))
                .with_auth("digest", ADMIN)
                .connect(&format!("{ip}:{PORT}"))
                .await
                .map_err(|e| format!("{ip}: {e}"))?;
            let update = zookeeper_client::EnsembleUpdate::Incremental {
                joinings: joining.iter().copied(),
                leavings: leaving.iter().copied(),
            };
            client
                .update_ensemble(update, None)
                .await
                .map(drop)
                .map_err(|e| format!("{ip}: reconfig: {e}"))
        };
        match tokio::time::timeout(Duration::from_secs(10), asked).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => last = e,
            Err(_) => last = format!("{ip}: reconfig: no answer within 10 s"),
        }
    }
    Err(last)
}

/// A four-letter word's answer, or why there was none.
async fn four_letter(ip: Ipv4Addr, word: &str) -> Result<String, String> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect((ip, PORT)).await?;
        s.write_all(word.as_bytes()).await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    match tokio::time::timeout(Duration::from_secs(1), exchange).await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(format!("{ip}: {e}")),
        Err(_) => Err(format!("{ip}: no answer to {word} within 1 s")),
    }
}

/// Each server's mode (leader, follower), or why it is not serving.
async fn modes(ips: &[Ipv4Addr]) -> Vec<Result<String, String>> {
    per_node(ips, |ip| async move {
        let text = four_letter(ip, "srvr").await?;
        text.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::to_string)
            .ok_or_else(|| format!("{ip}: {}", text.lines().next().unwrap_or("not serving")))
    })
    .await
}
