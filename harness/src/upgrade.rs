//! The upgrade nemesis's procedure on a running cluster, one member at a time,
//! as the systems document it (`RECOVERY.md`): from a healthy cluster, a
//! snapshot first, a graceful stop, the other version's binary on the same data
//! dir, then wait until the member is healthy and caught up. The member to go
//! next is never the leader while another can go (Consul asks for the leader
//! last; for the others it saves an election per step).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checkers::Value;

use crate::runtime::Member;
use crate::systems::{DynDb, NodeSpec};

/// How long a member may take to be healthy and caught up after its start,
/// and the cluster to be healthy before a step.
const WITHIN: Duration = Duration::from_secs(60);

/// One run's upgrade: both versions, and which members run the new one.
pub struct Upgrade {
    pub from: Arc<dyn DynDb>,
    pub to: Arc<dyn DynDb>,
    /// Docker: each version's image (from, to); `None` on netns.
    pub images: Option<(String, String)>,
    /// Where each step's snapshot goes.
    pub dir: PathBuf,
    upgraded: Mutex<Vec<bool>>,
}

/// What a step needs of the running cluster.
pub struct Nodes<'a> {
    pub nodes: &'a [Arc<dyn Member>],
    pub members: &'a [(String, Ipv4Addr)],
    pub data: &'a [PathBuf],
    pub logs: Vec<PathBuf>,
    pub run_id: &'a str,
    pub tuning: &'a crate::systems::Tuning,
}

impl Upgrade {
    pub fn new(
        from: Arc<dyn DynDb>,
        to: Arc<dyn DynDb>,
        images: Option<(String, String)>,
        dir: PathBuf,
        nodes: usize,
    ) -> Upgrade {
        Upgrade {
            from,
            to,
            images,
            dir,
            upgraded: Mutex::new(vec![false; nodes]),
        }
    }

    /// Whether `node` runs the new version now.
    pub fn upgraded(&self, node: usize) -> bool {
        self.upgraded.lock().expect("upgrade state")[node]
    }

    fn dbs(&self, back: bool) -> (&dyn DynDb, &dyn DynDb) {
        if back {
            (self.to.as_ref(), self.from.as_ref())
        } else {
            (self.from.as_ref(), self.to.as_ref())
        }
    }

    /// The member the next step takes: one not yet on the target version,
    /// the leader only when no other is left.
    pub fn next(&self, leader: Option<usize>, back: bool) -> Result<(usize, String, String), String> {
        let upgraded = self.upgraded.lock().expect("upgrade state");
        let candidates: Vec<usize> = (0..upgraded.len()).filter(|&i| upgraded[i] == back).collect();
        let node = candidates
            .iter()
            .copied()
            .find(|&i| Some(i) != leader)
            .or(candidates.first().copied())
            .ok_or_else(|| format!("no member left to {}", if back { "roll back" } else { "upgrade" }))?;
        let (now, next) = self.dbs(back);
        Ok((node, now.version().to_string(), next.version().to_string()))
    }

    /// Takes `node` to the other version. A rollback that does not come back is
    /// the system refusing it: `Ok(Some(what its log said))`, the member back on
    /// the version it had and healthy again.
    pub async fn step(
        &self,
        c: &Nodes<'_>,
        node: usize,
        back: bool,
        healthy: impl AsyncFn() -> Result<(), String>,
    ) -> Result<Option<String>, String> {
        let (now, next) = self.dbs(back);
        let member = &c.nodes[node];
        let name = member.name().to_string();
        let ips: Vec<Ipv4Addr> = c.members.iter().map(|(_, ip)| *ip).collect();
        until(WITHIN, &healthy)
            .await
            .map_err(|e| format!("{name} stays on {}: the cluster is not healthy: {e}", now.version()))?;
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let taken = std::fs::read_dir(&self.dir).map_or(0, |d| d.count());
        let file = self.dir.join(format!("{}-{name}-{}.snap", taken + 1, now.version()));
        now.snapshot(ips[node], &c.data[node], &file)
            .await
            .map_err(|e| format!("{name}: the snapshot before its upgrade: {e}"))?;
        let old_argv = member.argv();
        let spec = NodeSpec {
            me: node,
            members: c.members,
            data_dir: &c.data[node],
            run_id: c.run_id,
            tuning: c.tuning,
        };
        let argv = next.argv(&spec)?;
        now.leave(ips[node]).await.map_err(|e| format!("{name}: {e}"))?;
        stop(member.as_ref())?;
        self.swap(member.as_ref(), argv, back);
        member.start()?;
        match self.back_and_caught_up(c, node, next, &healthy).await {
            Ok(()) => {
                self.upgraded.lock().expect("upgrade state")[node] = !back;
                Ok(None)
            }
            Err(why) if back => {
                // what the refusing binary said, then the member as it was
                stop(member.as_ref())?;
                let said = crate::runtime::last_words(&c.logs[node]);
                // the config files the old version wrote are the ones it reads again
                now.argv(&spec)?;
                self.swap(member.as_ref(), old_argv, !back);
                member.start()?;
                self.back_and_caught_up(c, node, now, &healthy)
                    .await
                    .map_err(|e| format!("{name} back on {} after a refused rollback: {e}", now.version()))?;
                Ok(Some(if said == "nothing logged" { why } else { said }))
            }
            Err(why) => Err(format!("{name} on {}: {why}", next.version())),
        }
    }

    /// The next start of `member` runs `argv` (and on docker the image of the
    /// version it goes to: `to` unless `back`).
    fn swap(&self, member: &dyn Member, argv: Vec<String>, back: bool) {
        if let Some((from, to)) = &self.images {
            member.set_image(if back { from } else { to });
        }
        member.set_argv(argv);
    }

    /// The cluster healthy with `node` in it, and `node` at least as far in the
    /// log as the furthest other member was when it rejoined.
    async fn back_and_caught_up(
        &self,
        c: &Nodes<'_>,
        node: usize,
        db: &dyn DynDb,
        healthy: &impl AsyncFn() -> Result<(), String>,
    ) -> Result<(), String> {
        let start = Instant::now();
        let member = &c.nodes[node];
        let alive = async || {
            if member.pid().is_none() {
                return Err(format!("{} exited", member.name()));
            }
            healthy().await
        };
        until(WITHIN, &alive).await?;
        let ips: Vec<Ipv4Addr> = c.members.iter().map(|(_, ip)| *ip).collect();
        let mut target = None;
        for (i, &ip) in ips.iter().enumerate() {
            if i != node {
                target = target.max(db.applied(ip).await);
            }
        }
        let Some(target) = target else {
            // the system tells no log position: healthy is all we can know
            return Ok(());
        };
        let rest = WITHIN.saturating_sub(start.elapsed());
        until(rest, &async || {
            db.caught_up(ips[node], target)
                .await
                .map_err(|e| format!("{}: {e}", member.name()))
        })
        .await
    }

    /// Each node's version as it reports it, and the cluster's.
    pub async fn versions(&self, c: &Nodes<'_>) -> Value {
        let mut out = Vec::new();
        let mut cluster = None;
        for (i, (name, ip)) in c.members.iter().enumerate() {
            let reported = match c.nodes[i].pid() {
                Some(_) => self.from.node_version(*ip).await,
                None => None,
            };
            let v = match reported {
                Some((v, of_cluster)) => {
                    cluster = cluster.or(of_cluster);
                    v
                }
                None => "down".into(),
            };
            out.push((Value::str(name), Value::str(&v)));
        }
        if let Some(cv) = cluster {
            out.push((Value::str("cluster"), Value::str(&cv)));
        }
        Value::Map(out.into())
    }
}

/// A graceful stop of a member (SIGTERM, then SIGKILL after 20 s).
fn stop(member: &dyn Member) -> Result<(), String> {
    if let Some(pid) = member.pid() {
        nemeses::signal::stop(&[pid], |p| member.pid() == Some(p), Duration::from_secs(20))?;
    }
    Ok(())
}

/// Polls `probe` every 250 ms until it holds or `within` passes (then its last answer).
async fn until(within: Duration, probe: &impl AsyncFn() -> Result<(), String>) -> Result<(), String> {
    let start = Instant::now();
    loop {
        match probe().await {
            Ok(()) => return Ok(()),
            Err(e) if start.elapsed() >= within => return Err(format!("{e} (after {} s)", within.as_secs())),
            Err(e) if e.ends_with(" exited") => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}
