//! etcd members: the command line of each, readiness, the leader.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};

use super::PORT;
use crate::provision::Binary;
use nemeses::schedule::Admin;

use crate::systems::{CatchUpSpec, Db, NodeSpec, Setting, per_node, wait_until};

/// A provisioned etcd.
pub struct EtcdDb(pub Binary);

impl Db for EtcdDb {
    fn installed(&self) -> &Binary {
        &self.0
    }

    fn argv(&self, node: &NodeSpec) -> Result<Vec<String>, String> {
        Ok(argv(&self.0, node))
    }

    /// Every member answers and all see the same elected leader.
    async fn wait_ready(&self, ips: &[Ipv4Addr], within: Duration) -> Result<Duration, String> {
        wait_until("etcd", within, || async {
            let s = statuses(ips).await;
            let leaders: Vec<u64> = s.iter().filter_map(|r| r.as_ref().ok()).map(|(_, l)| *l).collect();
            if leaders.len() == ips.len() && leaders[0] != 0 && leaders.iter().all(|l| *l == leaders[0]) {
                return Ok(());
            }
            Err(s
                .into_iter()
                .map(|r| match r {
                    Ok((_, 0)) => "no leader elected".to_string(),
                    Ok((_, l)) => format!("sees leader {l:x}"),
                    Err(e) => e,
                })
                .collect())
        })
        .await
    }

    /// The member most members consider leader.
    async fn leader(&self, ips: &[Ipv4Addr]) -> Option<usize> {
        let s = statuses(ips).await;
        let ids: Vec<Option<u64>> = s.iter().map(|r| r.as_ref().ok().map(|(id, _)| *id)).collect();
        let mut votes: Vec<(u64, usize)> = Vec::new();
        for (_, l) in s.iter().filter_map(|r| r.as_ref().ok()) {
            if *l == 0 {
                continue;
            }
            match votes.iter_mut().find(|(id, _)| id == l) {
                Some((_, n)) => *n += 1,
                None => votes.push((*l, 1)),
            }
        }
        let (leader, _) = votes.into_iter().max_by_key(|(_, n)| *n)?;
        ids.iter().position(|id| *id == Some(leader))
    }

    /// `member list` as each member answers it: the hosts of the peer URLs.
    async fn members(&self, ips: &[Ipv4Addr]) -> Vec<Result<Vec<Ipv4Addr>, String>> {
        per_node(ips, |ip| async move {
            let list = ask(ip, async |c| c.member_list().await).await?;
            Ok(list
                .members()
                .iter()
                .filter_map(|m| m.peer_urls().first().and_then(|u| url_host(u)))
                .collect())
        })
        .await
    }

    /// `snapshot save` through the maintenance API of the member at `ip`.
    async fn snapshot(&self, ip: Ipv4Addr, _data_dir: &Path, out: &Path) -> Result<u64, String> {
        use std::io::Write;
        let ep = endpoint(ip);
        let mut c = client(&ep, Duration::from_secs(10))
            .await
            .map_err(|e| format!("{ep}: {e}"))?;
        let mut stream = c.snapshot().await.map_err(|e| format!("{ep}: snapshot: {e}"))?;
        let mut file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
        let mut bytes = 0;
        while let Some(chunk) = stream.message().await.map_err(|e| format!("{ep}: snapshot: {e}"))? {
            file.write_all(chunk.blob())
                .map_err(|e| format!("{}: {e}", out.display()))?;
            bytes += chunk.blob().len() as u64;
        }
        file.sync_all().map_err(|e| format!("{}: {e}", out.display()))?;
        Ok(bytes)
    }

    /// The revision in the member's status header: what its clients see.
    async fn revision(&self, ip: Ipv4Addr) -> Option<i64> {
        let s = ask(ip, async |c| c.status().await).await.ok()?;
        s.header().map(|h| h.revision())
    }

    /// Compaction at a recent revision (all but the last [`KEEP_REVISIONS`]:
    /// a watcher resuming from just before stays served), or a defragmentation
    /// of the member's backend.
    async fn admin(&self, op: Admin, ip: Ipv4Addr) -> Result<String, String> {
        match op {
            Admin::Compact => {
                let rev = self.revision(ip).await.ok_or("no revision answered")?;
                let at = (rev - KEEP_REVISIONS).max(1);
                match ask(ip, async |c| c.compact(at, None).await).await {
                    Ok(_) if at > 1 => {
                        // it took: a read below the compacted revision is refused
                        let below = etcd_client::GetOptions::new().with_revision(at - 1);
                        match ask(ip, async |c| c.get("splitbrain", Some(below)).await).await {
                            Err(e) if e.contains("compacted") => {
                                Ok(format!("at revision {at} of {rev}; a read at {} is refused", at - 1))
                            }
                            other => Err(format!("compacted at {at}, yet a read at {} gave {other:?}", at - 1)),
                        }
                    }
                    Ok(_) => Ok(format!("at revision {at} of {rev}")),
                    // an earlier compaction went further: nothing to do
                    Err(e) if e.contains("compacted") => Ok(format!("at {at}: already compacted ({e})")),
                    Err(e) => Err(e),
                }
            }
            Admin::Defrag => {
                let began = std::time::Instant::now();
                let defragged = async {
                    let mut c = client(&endpoint(ip), Duration::from_secs(30)).await?;
                    c.defragment().await
                };
                defragged.await.map_err(|e| format!("{}: {e}", endpoint(ip)))?;
                Ok(format!("done in {:.2} s", began.elapsed().as_secs_f64()))
            }
            Admin::Snapshot => Err("a snapshot is taken through Db::snapshot".into()),
        }
    }

    /// `member remove`, asked of the first other member that answers. etcd refuses while a member
    /// has not been connected long enough ("unhealthy cluster"): retried for 20 s.
    async fn remove_member(&self, ips: &[Ipv4Addr], node: usize) -> Result<(), String> {
        let start = std::time::Instant::now();
        loop {
            let removed = match find_member(ips, node).await {
                Ok((via, id, _)) => ask(via, async |c| c.member_remove(id).await).await.map(drop),
                Err(e) => Err(e),
            };
            match removed {
                Ok(()) => return Ok(()),
                Err(e) if start.elapsed() > Duration::from_secs(20) => {
                    return Err(format!("refused for 20 s: {e}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    /// `member add`, as a learner where the version has them (3.4+); the new
    /// member starts with `--initial-cluster-state=existing`.
    async fn add_member(&self, ips: &[Ipv4Addr], node: usize) -> Result<Vec<String>, String> {
        let via = other(ips, node).await?;
        let url = format!("http://{}:{PEER_PORT}", ips[node]);
        let options = learners(&self.0.version).then_some(etcd_client::MemberAddOptions::new().with_is_learner());
        ask(via, async |c| c.member_add([url.clone()], options).await).await?;
        Ok(vec!["--initial-cluster-state=existing".into()])
    }

    /// Promotes the learner once it has caught up (etcd refuses before).
    async fn member_joined(&self, ips: &[Ipv4Addr], node: usize) -> Result<String, String> {
        if !learners(&self.0.version) {
            return Ok("added as a voter: no learners before 3.4".into());
        }
        let start = std::time::Instant::now();
        loop {
            let (via, id, learner) = find_member(ips, node).await?;
            if !learner {
                return Ok(format!("learner promoted after {:.1} s", start.elapsed().as_secs_f64()));
            }
            match ask(via, async |c| c.member_promote(id).await).await {
                Ok(_) => continue,
                Err(e) if start.elapsed() > Duration::from_secs(30) => {
                    return Err(format!(
                        "the learner at {} was not promoted within 30 s: {e}",
                        ips[node]
                    ));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    /// The raft index in the member's status.
    async fn applied(&self, ip: Ipv4Addr) -> Option<u64> {
        ask(ip, async |c| c.status().await).await.ok().map(|s| s.raft_index())
    }

    /// `GET /version`: the member's `etcdserver` and the `etcdcluster` it runs.
    async fn node_version(&self, ip: Ipv4Addr) -> Option<(String, Option<String>)> {
        let v = tokio::task::spawn_blocking(move || crate::systems::http_json(ip, PORT, "/version"))
            .await
            .ok()??;
        let server = v["etcdserver"].as_str()?.to_string();
        Some((server, v["etcdcluster"].as_str().map(str::to_string)))
    }

    fn catch_up(&self, spec: CatchUpSpec) -> Result<Box<dyn nemeses::catch_up::CatchUp>, String> {
        Ok(Box::new(super::catch_up::EtcdCatchUp::new(&self.0, spec)?))
    }

    fn runbook_env(&self) -> Result<Vec<(String, String)>, String> {
        let (ctl, utl) = super::provision::tools(&self.0)?;
        Ok(vec![
            ("ETCDCTL".into(), ctl.display().to_string()),
            // empty before 3.5: etcdctl restores then
            ("ETCDUTL".into(), utl.map_or(String::new(), |u| u.display().to_string())),
            ("CLIENT_PORT".into(), PORT.to_string()),
            ("PEER_PORT".into(), PEER_PORT.to_string()),
        ])
    }
}

/// Learners came with 3.4.
fn learners(version: &str) -> bool {
    !version.starts_with("3.3.")
}

/// The first member other than `node` that answers.
async fn other(ips: &[Ipv4Addr], node: usize) -> Result<Ipv4Addr, String> {
    for (i, &ip) in ips.iter().enumerate() {
        if i != node && ask(ip, async |c| c.status().await).await.is_ok() {
            return Ok(ip);
        }
    }
    Err(format!("no member other than {} answers", ips[node]))
}

/// The member whose peer URL is at `ips[node]`, as another member lists it:
/// (that other member, its id, whether it is a learner).
async fn find_member(ips: &[Ipv4Addr], node: usize) -> Result<(Ipv4Addr, u64, bool), String> {
    let via = other(ips, node).await?;
    let list = ask(via, async |c| c.member_list().await).await?;
    let m = list
        .members()
        .iter()
        .find(|m| m.peer_urls().first().and_then(|u| url_host(u)) == Some(ips[node]))
        .ok_or_else(|| format!("{via} lists no member at {}", ips[node]))?;
    Ok((via, m.id(), m.is_learner()))
}

/// The address in `http://10.237.1.11:2380`.
fn url_host(url: &str) -> Option<Ipv4Addr> {
    url.split("://").nth(1)?.split(':').next()?.parse().ok()
}

const PEER_PORT: u16 = 2380;

pub(super) fn endpoint(ip: Ipv4Addr) -> String {
    format!("http://{ip}:{PORT}")
}

/// The argv of member `node`; the cluster token is the run's.
fn argv(etcd: &Binary, node: &NodeSpec) -> Vec<String> {
    let NodeSpec {
        me,
        members,
        data_dir,
        run_id,
        tuning,
        ..
    } = *node;
    let token = format!("splitbrain-{run_id}");
    let (name, ip) = &members[me];
    let cluster: Vec<String> = members
        .iter()
        .map(|(n, a)| format!("{n}=http://{a}:{PEER_PORT}"))
        .collect();
    let mut argv: Vec<String> = [
        etcd.path.display().to_string(),
        format!("--name={name}"),
        format!("--data-dir={}", data_dir.display()),
        format!("--listen-peer-urls=http://{ip}:{PEER_PORT}"),
        format!("--initial-advertise-peer-urls=http://{ip}:{PEER_PORT}"),
        format!("--listen-client-urls=http://{ip}:{PORT}"),
        format!("--advertise-client-urls=http://{ip}:{PORT}"),
        format!("--initial-cluster={}", cluster.join(",")),
        "--initial-cluster-state=new".into(),
        format!("--initial-cluster-token={token}"),
    ]
    .into();
    // 3.3 has only capnslog, and its flag is singular
    if etcd.version.starts_with("3.3.") {
        argv.push("--log-output=stderr".into());
    } else {
        argv.extend(["--logger=zap".into(), "--log-outputs=stderr".into()]);
    }
    for setting in &tuning.settings {
        match setting {
            Setting::SnapshotCount(n) => argv.push(format!("--snapshot-count={n}")),
            // 3.3 has no such flag: its watches get progress every 10 minutes
            Setting::ProgressInterval(d) if !etcd.version.starts_with("3.3.") => argv.push(format!(
                "--experimental-watch-progress-notify-interval={}ms",
                d.as_millis()
            )),
            Setting::ProgressInterval(_) => {}
        }
    }
    if tuning.snapshot_catch_up && super::catch_up::takes_catch_up_flag(&etcd.version) {
        argv.push(super::catch_up::catch_up_flag());
    }
    argv
}

pub(super) async fn client(endpoint: &str, timeout: Duration) -> Result<Client, etcd_client::Error> {
    let opts = ConnectOptions::new()
        .with_timeout(timeout)
        .with_connect_timeout(timeout);
    Client::connect([endpoint], Some(opts)).await
}

/// Each member's (own id, leader id it sees), or why it did not answer.
async fn statuses(ips: &[Ipv4Addr]) -> Vec<Result<(u64, u64), String>> {
    per_node(ips, |ip| async move {
        let s = ask(ip, async |c| c.status().await).await?;
        Ok((s.header().map_or(0, |h| h.member_id()), s.leader()))
    })
    .await
}

/// Revisions a compaction leaves behind it.
const KEEP_REVISIONS: i64 = 100;

/// One call to the member at `ip`, connecting included, within 1 s.
pub(super) async fn ask<T>(
    ip: Ipv4Addr,
    call: impl AsyncFnOnce(&mut Client) -> Result<T, etcd_client::Error>,
) -> Result<T, String> {
    let ep = endpoint(ip);
    let asked = async {
        let mut c = client(&ep, Duration::from_millis(500)).await?;
        call(&mut c).await
    };
    match tokio::time::timeout(Duration::from_secs(1), asked).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(format!("{ep}: {e}")),
        Err(_) => Err(format!("{ep}: no answer within 1 s")),
    }
}
