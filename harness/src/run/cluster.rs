//! The cluster of a run: started on its runtime, and seen by the nemeses
//! through [`nemeses::Cluster`] (kills, partitions, membership, snapshots,
//! runbooks, upgrades, on any runtime).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use checkers::Value;
use nemeses::Cluster;
use results::Recorder;

use super::workload::Clients;
use crate::runtime::{Member, Role, Runtime, Teardown, last_words, node_paths};
use crate::systems::{self, DynDb, NodeSpec, Tuning};

/// The nodes as nemeses see them, on either runtime.
pub struct RunCluster {
    pub run_id: String,
    pub nodes: Vec<Arc<dyn Member>>,
    pub db: Arc<dyn DynDb>,
    pub handle: tokio::runtime::Handle,
    /// The workload's clients, for `client-pause`.
    pub clients: Arc<dyn Clients>,
    /// Provisioned when the run partitions.
    pub iptables: Option<nemeses::partition::Iptables>,
    /// Where a node tells its time (`System::time_url`).
    pub time_url: Option<(u16, &'static str)>,
    pub recovery: Recovery,
    pub upgrade: Option<crate::upgrade::Upgrade>,
    /// What every node is configured with beyond the system's defaults.
    pub tuning: Tuning,
    /// The run's key prefix (the workload's keys, and a catch-up's filler, below it).
    pub prefix: String,
}

/// What a scenario's drill steps need: the nodes' data and command lines, the
/// runbook, and what was lost and snapshotted so far.
pub struct Recovery {
    pub system: &'static str,
    pub dir: PathBuf,
    pub members: Vec<(String, Ipv4Addr)>,
    /// Each node's command line at the start.
    pub argv: Vec<Vec<String>>,
    pub data: Vec<PathBuf>,
    pub rec: Arc<Recorder>,
    pub start: Instant,
    pub runbook: Option<crate::runbook::Chosen>,
    pub lost: std::sync::Mutex<Vec<usize>>,
    pub snapshots: std::sync::Mutex<Vec<PathBuf>>,
}

impl RunCluster {
    fn ips(&self) -> Vec<Ipv4Addr> {
        self.nodes.iter().map(|n| n.ip()).collect()
    }

    /// The run's upgrade, and the nodes as its steps see them.
    pub fn upgrading(&self) -> Result<(&crate::upgrade::Upgrade, crate::upgrade::Nodes<'_>), String> {
        let u = self.upgrade.as_ref().ok_or("this run upgrades nothing")?;
        let nodes = crate::upgrade::Nodes {
            nodes: &self.nodes,
            members: &self.recovery.members,
            data: &self.recovery.data,
            logs: self
                .nodes
                .iter()
                .map(|n| node_paths(&self.recovery.dir, n.name()).0)
                .collect(),
            run_id: &self.run_id,
            tuning: &self.tuning,
        };
        Ok((u, nodes))
    }

    /// The membership as the first running node that answers sees it, by name.
    fn members_seen(&self) -> String {
        let ips = self.ips();
        let views = self.handle.block_on(self.db.members(&ips));
        let seen = views
            .into_iter()
            .enumerate()
            .find_map(|(i, v)| v.ok().filter(|_| self.nodes[i].pid().is_some()));
        let Some(mut seen) = seen else {
            return "unknown (no node answers)".into();
        };
        seen.sort();
        self.names_of(&seen)
    }

    /// Nodes' names for their addresses (an address of none of them as it is).
    fn names_of(&self, ips: &[Ipv4Addr]) -> String {
        let names: Vec<String> = ips
            .iter()
            .map(|ip| match self.nodes.iter().find(|n| n.ip() == *ip) {
                Some(n) => n.name().to_string(),
                None => ip.to_string(),
            })
            .collect();
        names.join(",")
    }

    /// What `node` runs now: the upgrade's new version once it has it.
    fn db_of(&self, node: usize) -> &dyn DynDb {
        match &self.upgrade {
            Some(u) if u.upgraded(node) => u.to.as_ref(),
            _ => self.db.as_ref(),
        }
    }

    fn spec(&self, node: usize) -> NodeSpec<'_> {
        NodeSpec {
            me: node,
            members: &self.recovery.members,
            data_dir: &self.recovery.data[node],
            run_id: &self.run_id,
            tuning: &self.tuning,
        }
    }

    /// Moves `node`'s data dir aside (`<name>.<aside>`) and leaves an empty one,
    /// configured as before: a new machine in its place.
    fn fresh_data(&self, node: usize, aside: &str, db: &dyn DynDb) -> Result<(), String> {
        let data = &self.recovery.data[node];
        let moved = data.with_extension(aside);
        let _ = std::fs::remove_dir_all(&moved);
        std::fs::rename(data, &moved).map_err(|e| format!("{}: {e}", data.display()))?;
        std::fs::create_dir_all(data).map_err(|e| format!("{}: {e}", data.display()))?;
        db.argv(&self.spec(node)).map(drop)
    }

    /// Waits until [`RunCluster::whole`], for at most `within`.
    fn until_whole(&self, within: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            match self.handle.block_on(self.whole()) {
                Ok(()) => return Ok(()),
                Err(e) if start.elapsed() > within => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }

    /// Every node serves, with one leader, and sees exactly the nodes started.
    async fn whole(&self) -> Result<(), String> {
        let ips = self.ips();
        self.db.wait_ready(&ips, Duration::from_millis(500)).await?;
        let mut all = ips.clone();
        all.sort();
        for (i, view) in self.db.members(&ips).await.into_iter().enumerate() {
            let mut seen = view?;
            seen.sort();
            if seen != all {
                return Err(format!(
                    "{} sees members {}",
                    self.nodes[i].name(),
                    self.names_of(&seen)
                ));
            }
        }
        Ok(())
    }
}

impl Cluster for RunCluster {
    fn size(&self) -> usize {
        self.nodes.len()
    }
    fn name(&self, node: usize) -> String {
        self.nodes[node].name().to_string()
    }
    fn ip(&self, node: usize) -> Ipv4Addr {
        self.nodes[node].ip()
    }
    fn netns(&self, node: usize) -> PathBuf {
        self.nodes[node].netns()
    }
    fn pid(&self, node: usize) -> Option<u32> {
        self.nodes[node].pid()
    }
    fn restart(&self, node: usize) -> Result<(), String> {
        self.nodes[node].start()
    }
    fn leader(&self) -> Option<usize> {
        self.handle.block_on(self.db.leader(&self.ips()))
    }
    fn run_id(&self) -> String {
        self.run_id.clone()
    }
    fn iptables(&self) -> Option<&nemeses::partition::Iptables> {
        self.iptables.as_ref()
    }
    fn node_time(&self, node: usize) -> Option<i64> {
        let (port, path) = self.time_url?;
        systems::http_date(self.nodes[node].ip(), port, path)
    }
    fn lose(&self, node: usize) -> Result<(), String> {
        self.nodes[node].kill();
        self.fresh_data(node, "lost", self.db.as_ref())?;
        self.recovery.lost.lock().expect("lost nodes").push(node);
        Ok(())
    }

    fn admin(&self, op: nemeses::schedule::Admin, node: usize) -> Result<String, String> {
        let member = &self.nodes[node];
        let name = member.name();
        if member.pid().is_none() {
            return Ok(format!("{name} is down: nothing done"));
        }
        let what = match op {
            nemeses::schedule::Admin::Snapshot => {
                let r = &self.recovery;
                let dir = r.dir.join("snapshots");
                std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let taken = std::fs::read_dir(&dir).map_or(0, |d| d.count());
                let file = dir.join(format!("{}-{name}.snap", taken + 1));
                let bytes = self
                    .handle
                    .block_on(self.db.snapshot(member.ip(), &r.data[node], &file))?;
                format!("{bytes} bytes into {}", file.display())
            }
            op => self.handle.block_on(self.db.admin(op, member.ip()))?,
        };
        Ok(format!("{name}: {what}"))
    }

    fn remove_member(&self, node: usize) -> Result<String, String> {
        let ips = self.ips();
        let member = &self.nodes[node];
        // from a healthy cluster (what the system refuses for now, it retries itself)
        self.until_whole(Duration::from_secs(20)).map_err(|e| {
            format!(
                "{} not removed: the cluster is not whole after 20 s: {e}",
                member.name()
            )
        })?;
        self.handle
            .block_on(self.db.remove_member(&ips, node))
            .map_err(|e| format!("{} not removed: {e}", member.name()))?;
        // a removed member ends by itself; one that does not is stopped
        let start = Instant::now();
        while member.pid().is_some() && start.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let ended = if member.pid().is_some() {
            member.kill();
            "killed: still running 3 s after its removal"
        } else {
            "it exited"
        };
        self.fresh_data(node, "removed", self.db_of(node))?;
        Ok(format!(
            "remove {} ({ended}; its data dir moved aside); members {}",
            member.name(),
            self.members_seen()
        ))
    }

    fn add_member(&self, node: usize) -> Result<String, String> {
        let ips = self.ips();
        let member = &self.nodes[node];
        let db = self.db_of(node);
        let flags = self.handle.block_on(db.add_member(&ips, node))?;
        let argv = db.argv(&self.spec(node))?;
        member.set_argv(crate::runbook::with_flags(&argv, &flags));
        member.start()?;
        let joined = self.handle.block_on(db.member_joined(&ips, node))?;
        self.until_whole(Duration::from_secs(60)).map_err(|e| {
            format!(
                "{} added back, but the cluster is not whole after 60 s: {e}",
                member.name()
            )
        })?;
        Ok(format!(
            "add {} ({joined}); members {}",
            member.name(),
            self.members_seen()
        ))
    }

    fn snapshot(&self) -> Result<Value, String> {
        let r = &self.recovery;
        let lost = r.lost.lock().expect("lost nodes").clone();
        let node = (0..self.nodes.len())
            .find(|i| !lost.contains(i) && self.nodes[*i].pid().is_some())
            .ok_or("no node is running to take a snapshot from")?;
        let name = self.nodes[node].name();
        let mut snapshots = r.snapshots.lock().expect("snapshots");
        let dir = r.dir.join("drill").join("snapshots");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let file = dir.join(format!("{}-{name}.snap", snapshots.len() + 1));
        let started = r.start.elapsed();
        let bytes = self
            .handle
            .block_on(self.db.snapshot(self.nodes[node].ip(), &r.data[node], &file))
            .map_err(|e| format!("snapshot from {name}: {e}"))?;
        eprintln!(
            "splitbrain: snapshot {} from {name}: {bytes} bytes after {:.1} s",
            file.display(),
            (r.start.elapsed() - started).as_secs_f64()
        );
        snapshots.push(file.clone());
        Ok(Value::Map(
            vec![
                (Value::str("node"), Value::str(name)),
                (Value::str("file"), Value::str(&file.display().to_string())),
                (Value::str("bytes"), Value::Int(bytes as i64)),
                (Value::str("started_ns"), Value::Int(started.as_nanos() as i64)),
            ]
            .into(),
        ))
    }

    fn runbook(&self, within: Duration, stop: &AtomicBool) -> Result<String, String> {
        let r = &self.recovery;
        let runbook = r.runbook.as_ref().ok_or("no runbook chosen")?;
        let lost = std::mem::take(&mut *r.lost.lock().expect("lost nodes"));
        let snapshots = r.snapshots.lock().expect("snapshots").clone();
        eprintln!(
            "splitbrain: runbook {}{} (at most {} s): lost {}",
            runbook.name,
            if runbook.unofficial {
                " (UNOFFICIAL: no document of the system describes it)"
            } else {
                ""
            },
            within.as_secs(),
            lost.iter().map(|&i| self.nodes[i].name()).collect::<Vec<_>>().join(",")
        );
        crate::runbook::Stage {
            runbook,
            system: r.system,
            db: self.db.as_ref(),
            nodes: &self.nodes,
            argv: &r.argv,
            data: &r.data,
            lost: &lost,
            snapshots: &snapshots,
            run_id: &self.run_id,
            dir: &r.dir.join("drill"),
            rec: r.rec.as_ref(),
            handle: &self.handle,
        }
        .run(within, stop)
    }

    fn catch_up(&self, node: usize, leader: usize) -> Result<Box<dyn nemeses::catch_up::CatchUp>, String> {
        let spec = systems::CatchUpSpec {
            member: self.nodes[node].ip(),
            leader: self.nodes[leader].ip(),
            log: node_paths(&self.recovery.dir, self.nodes[node].name()).0,
            leader_log: node_paths(&self.recovery.dir, self.nodes[leader].name()).0,
            prefix: self.prefix.clone(),
            tuning: self.tuning.clone(),
            handle: self.handle.clone(),
        };
        // the leader's build decides what it keeps for followers
        self.db_of(leader).catch_up(spec)
    }

    fn healthy(&self) -> Result<(), String> {
        self.handle.block_on(self.whole())
    }

    fn upgrade_next(&self, back: bool) -> Result<(usize, String, String), String> {
        let (u, _) = self.upgrading()?;
        u.next(self.leader(), back)
    }

    fn upgrade(&self, node: usize, back: bool) -> Result<Option<String>, String> {
        let (u, nodes) = self.upgrading()?;
        self.handle
            .block_on(u.step(&nodes, node, back, async || self.whole().await))
    }

    fn versions(&self) -> Value {
        match self.upgrading() {
            Ok((u, nodes)) => self.handle.block_on(u.versions(&nodes)),
            Err(_) => Value::Nil,
        }
    }

    fn pause_client(&self) -> Result<String, String> {
        self.clients.pause_client()
    }
}

/// A cluster that is up: its guard, addresses, how long it took, and where
/// our service listens.
pub struct Started {
    pub teardown: Teardown,
    pub ips: Vec<Ipv4Addr>,
    pub ready: Duration,
    pub resource: Option<SocketAddr>,
    /// The run folder, absolute.
    pub dir: PathBuf,
}

/// Starts a cluster in fresh namespaces and waits until it is ready; the
/// returned guard tears it down. Logs and data go under `dir/nodes`. With
/// `resource` (fenced or not) the lock workload's resource service runs in a
/// namespace of its own, at the returned address.
pub async fn start_cluster(
    id: &str,
    nodes: usize,
    db: &dyn DynDb,
    dir: &Path,
    resource: Option<bool>,
    runtime: &dyn Runtime,
    tuning: &Tuning,
) -> Result<Started, String> {
    let mut teardown = Teardown {
        nodes: Vec::new(),
        services: Vec::new(),
        network: None,
    };
    // absolute: containers bind-mount data dirs at the same paths
    let dir = &std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let network = teardown.network.insert(runtime.network(id, nodes, resource.is_some())?);
    let resource_addr = match resource {
        Some(fenced) => {
            let ip = network.ip(nodes);
            let addr = SocketAddr::from((ip, workloads::resource::PORT));
            let exe = std::env::current_exe().map_err(|e| format!("own binary: {e}"))?;
            let mut argv = vec![
                exe.display().to_string(),
                "resource".into(),
                "--listen".into(),
                addr.to_string(),
            ];
            if fenced {
                argv.push("--fenced".into());
            }
            let (log, _) = node_paths(dir, "resource");
            let node = network.member(nodes, "resource", Role::Service, argv, log, vec![exe]);
            node.start()?;
            teardown.services.push(node);
            Some(addr)
        }
        None => None,
    };
    let members: Vec<(String, Ipv4Addr)> = (0..nodes).map(|i| (format!("n{}", i + 1), network.ip(i))).collect();
    for (i, (name, _)) in members.iter().enumerate() {
        let (log, data) = node_paths(dir, name);
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        let argv = db.argv(&NodeSpec {
            me: i,
            members: &members,
            data_dir: &data,
            run_id: id,
            tuning,
        })?;
        // all the nodes' folder, not just this data dir: a runbook may move data
        // dirs aside and restore new ones at the same paths
        teardown
            .nodes
            .push(network.member(i, name, Role::Node, argv, log, vec![dir.join("nodes")]));
    }
    for n in &teardown.nodes {
        n.start()?;
    }
    let ips: Vec<Ipv4Addr> = members.iter().map(|(_, ip)| *ip).collect();
    let ready = ready_or_exited(db, &teardown.nodes, &ips, dir, Duration::from_secs(60)).await?;
    if let Some(addr) = resource_addr {
        wait_listening(addr, Duration::from_secs(10))
            .await
            .map_err(|e| format!("{e} (its log: {})", dir.join("nodes/resource.log").display()))?;
    }
    Ok(Started {
        teardown,
        ips,
        ready,
        resource: resource_addr,
        dir: dir.clone(),
    })
}

/// Waits until the cluster is ready, or fails as soon as a node has exited (with
/// the last line it logged: a flag its version lacks, a data dir it refuses).
async fn ready_or_exited(
    db: &dyn DynDb,
    nodes: &[Arc<dyn Member>],
    ips: &[Ipv4Addr],
    dir: &Path,
    within: Duration,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let last = match db.wait_ready(ips, Duration::from_secs(2)).await {
            Ok(_) => return Ok(start.elapsed()),
            Err(e) => e,
        };
        if let Some(gone) = nodes.iter().find(|n| n.pid().is_none()) {
            let (log, _) = node_paths(dir, gone.name());
            return Err(format!(
                "{} exited at start: {} (its log: {})",
                gone.name(),
                last_words(&log),
                log.display()
            ));
        }
        if start.elapsed() >= within {
            return Err(format!("{last} (node logs in {})", dir.join("nodes").display()));
        }
    }
}

/// Waits until something accepts connections at `addr`.
async fn wait_listening(addr: SocketAddr, within: Duration) -> Result<(), String> {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if start.elapsed() > within {
            return Err(format!(
                "the resource service at {addr} did not start within {} s",
                within.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

pub fn run_id() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{:06x}", (nanos as u64 ^ (std::process::id() as u64) << 20) & 0xff_ffff)
}
