//! The systems under test, one folder each, and the registry the rest of
//! splitbrain finds them in.
//!
//! A system is a [`System`] (what it is called, how it is provisioned, which
//! clients it has) and, once provisioned, a [`Db`] (its servers: command line,
//! readiness, leader). The runner, the runtimes, the nemeses and the workloads
//! know systems only through these traits and the workloads' client traits
//! ([`workloads::Registers`], [`workloads::Locks`]); nothing outside this folder
//! names a system. A capability a system lacks is the default method's error.

mod consul;
mod etcd;
mod zookeeper;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use workloads::{BoxFuture, DynLocks, DynRegisters};

use crate::provision::Binary;

/// Every system splitbrain can test: adding one is a folder beside these and a line here.
const REGISTRY: &[&dyn System] = &[&etcd::Etcd, &zookeeper::ZooKeeper, &consul::Consul];

/// One system under test, before anything is provisioned.
pub trait System: Send + Sync {
    /// Its name on the command line and in results.
    fn name(&self) -> &'static str;
    /// Finds or fetches its binaries: `binary` (an operator's build) over `version`
    /// over the newest that can be had.
    fn provision(&self, version: Option<&str>, binary: Option<&Path>) -> Result<Arc<dyn DynDb>, String>;
    /// The register workload's clients.
    fn registers(&self) -> Result<Arc<dyn DynRegisters>, String> {
        Err(format!("{} has no register client", self.name()))
    }
    /// The lock workload's locks.
    fn locks(&self) -> Result<Arc<dyn DynLocks>, String> {
        Err(format!("{} has no lock", self.name()))
    }
    /// The watch workload's writes, reads and watches of `keys` keys under
    /// `prefix`, each request bounded by `timeout`.
    fn watches(&self, prefix: &str, keys: u64, timeout: Duration) -> Result<Arc<dyn workloads::Watches>, String>;
    /// The admin operations `--nemesis` may run on its members (every system
    /// takes snapshots; etcd also compacts and defragments).
    fn admin_operations(&self) -> &'static [nemeses::schedule::Admin] {
        &[nemeses::schedule::Admin::Snapshot]
    }
    /// Whether its nodes take `setting` (of any value).
    fn takes(&self, _setting: Setting) -> bool {
        false
    }
    /// The election workload's candidates: by default the lock recipe, which is
    /// ZooKeeper's and Consul's documented election recipe too (ephemeral
    /// sequential znodes watching their predecessor; a session acquiring a key).
    fn elections(&self) -> Result<Arc<dyn DynLocks>, String> {
        self.locks()
    }
    /// Whether its nodes are JVMs: HotSpot sleeps until absolute CLOCK_MONOTONIC
    /// deadlines, so a monotonic skew stretches or spins its every timed wait.
    /// Clock faults skew only their wall clock unless asked.
    fn jvm(&self) -> bool {
        false
    }
    /// A port and path of its nodes' HTTP API, whose `Date` header tells the
    /// node's wall clock (the clock nemesis reads it back).
    fn time_url(&self) -> Option<(u16, &'static str)> {
        None
    }
    /// The versions it provisions, newest first (`splitbrain versions`).
    fn versions(&self) -> &'static [Provided];
    /// Whether `provision` takes an operator's build (`--binary`).
    fn takes_binary(&self) -> bool {
        true
    }
    /// Its documented recovery paths from a lost quorum, the default first.
    fn runbooks(&self) -> &'static [Runbook] {
        &[]
    }
    /// How its members are configured for `--nemesis isolate-until-snapshot`
    /// (said in the run's notes), or `None` where splitbrain drives no
    /// catch-up by snapshot on it ([`Db::catch_up`]): the plan refuses it.
    fn snapshot_catch_up(&self) -> Option<String> {
        None
    }
}

/// A version splitbrain provisions on demand, and where from.
#[derive(Debug)]
pub struct Provided {
    pub version: &'static str,
    /// The Debian suite whose packages hold it.
    pub suite: &'static str,
    /// A file that, where the machine has it, is this version installed (used as it is).
    pub installed: Option<&'static str>,
    /// The next version on the system's documented upgrade path, where provisioned.
    pub upgrades_to: Option<&'static str>,
}

/// The provisioned versions of a system, for error messages: "3.5.16, 3.4.23".
pub fn version_list(provided: &[Provided]) -> String {
    provided.iter().map(|p| p.version).collect::<Vec<_>>().join(", ")
}

/// A recovery runbook splitbrain ships: a script run as an operator's would be
/// (see `drill`), so that what it does can be read, copied and adapted.
#[derive(Debug)]
pub struct Runbook {
    pub name: &'static str,
    pub script: &'static str,
    /// No document of the system describes it: said wherever it is used.
    pub unofficial: bool,
}

/// One node of a cluster to start.
#[derive(Clone, Copy, Debug)]
pub struct NodeSpec<'a> {
    /// Its index in `members`.
    pub me: usize,
    /// Every node's name and address.
    pub members: &'a [(String, Ipv4Addr)],
    /// Its data dir, where any config it needs goes too.
    pub data_dir: &'a Path,
    /// Keeps clusters of different runs apart.
    pub run_id: &'a str,
    /// What the run configures beyond the system's defaults.
    pub tuning: &'a Tuning,
}

/// What a run configures on every node beyond the system's defaults.
#[derive(Clone, Debug, Default)]
pub struct Tuning {
    /// The run changes the membership: a system configures its nodes for it
    /// where that is not the default (ZooKeeper's dynamic reconfiguration).
    pub membership: bool,
    /// Settings the system declares it takes ([`System::takes`]).
    pub settings: Vec<Setting>,
    /// The run brings members back by snapshot (`--nemesis
    /// isolate-until-snapshot`): a system keeps fewer entries for lagging
    /// followers where its version lets it, so that a short cut needs one.
    pub snapshot_catch_up: bool,
}

impl Tuning {
    /// The `--snapshot-count` every node runs with, where the run sets one.
    pub fn snapshot_count(&self) -> Option<u64> {
        self.settings.iter().find_map(|s| match s {
            Setting::SnapshotCount(n) => Some(*n),
            _ => None,
        })
    }
}

/// What a member's catch-up by snapshot needs of the run ([`Db::catch_up`]).
pub struct CatchUpSpec {
    /// The member to be cut off, and the leader that brings it back.
    pub member: Ipv4Addr,
    pub leader: Ipv4Addr,
    /// The member's log, where it may say it applied a snapshot, and the
    /// leader's, where it may say it dropped what the member lacks.
    pub log: PathBuf,
    pub leader_log: PathBuf,
    /// The run's key prefix: filler writes go below it.
    pub prefix: String,
    pub tuning: Tuning,
    /// The run's runtime: the nemesis thread blocks on it.
    pub handle: tokio::runtime::Handle,
}

/// A setting of a system's own that a run may give every node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// Entries between snapshots: small, so that snapshots and a member's
    /// catch-up by snapshot happen within a short run.
    SnapshotCount(u64),
    /// Between progress notifications to watches that asked for them (etcd
    /// 3.4 on; a workload's, no flag of its own).
    ProgressInterval(Duration),
}

impl Setting {
    /// Its flag on `splitbrain run`.
    pub fn flag(self) -> &'static str {
        match self {
            Setting::SnapshotCount(_) => "--snapshot-count",
            Setting::ProgressInterval(_) => "--workload watch",
        }
    }
}

/// The systems that take `setting` (its kind, whatever its value).
pub fn taking(setting: Setting) -> Vec<&'static str> {
    REGISTRY.iter().filter(|s| s.takes(setting)).map(|s| s.name()).collect()
}

/// The systems on which `--nemesis isolate-until-snapshot` runs.
pub fn catching_up_by_snapshot() -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|s| s.snapshot_catch_up().is_some())
        .map(|s| s.name())
        .collect()
}

/// A provisioned system: what the runner and the runtimes need of its servers.
/// Systems write plain async fns; the rest holds them as [`DynDb`].
pub trait Db: Send + Sync + 'static {
    /// What runs as each node's main process (for ZooKeeper, java) and the version.
    fn installed(&self) -> &Binary;
    /// The argv of `node`, writing any config it needs into its data dir.
    fn argv(&self, node: &NodeSpec) -> Result<Vec<String>, String>;
    /// The host files a node runs, which its docker image holds at the same paths.
    fn image_roots(&self) -> Vec<PathBuf> {
        vec![self.installed().path.clone()]
    }
    /// Waits until every node serves and the cluster has a leader; how long it took.
    fn wait_ready(&self, ips: &[Ipv4Addr], within: Duration) -> impl Future<Output = Result<Duration, String>> + Send;
    /// The node the cluster considers leader, if it can tell.
    fn leader(&self, ips: &[Ipv4Addr]) -> impl Future<Output = Option<usize>> + Send;
    /// Each node's view of the membership (the members' addresses), or why it gave none.
    fn members(&self, ips: &[Ipv4Addr]) -> impl Future<Output = Vec<Result<Vec<Ipv4Addr>, String>>> + Send;
    /// Takes a snapshot from the serving node at `ip` (its data dir
    /// `data_dir`) into `out`, the way the system's restore takes it; its size.
    fn snapshot(
        &self,
        _ip: Ipv4Addr,
        _data_dir: &Path,
        _out: &Path,
    ) -> impl Future<Output = Result<u64, String>> + Send {
        async { Err("this system takes no snapshots".to_string()) }
    }
    /// A number that a client of the node at `ip` must only see grow (etcd's revision).
    fn revision(&self, _ip: Ipv4Addr) -> impl Future<Output = Option<i64>> + Send {
        async { None }
    }
    /// How far the node at `ip` has applied the replicated log (etcd's raft
    /// index, ZooKeeper's zxid, Consul's applied index): an upgraded member is
    /// caught up once it reaches what the others had.
    fn applied(&self, _ip: Ipv4Addr) -> impl Future<Output = Option<u64>> + Send {
        async { None }
    }
    /// An admin operation other than a snapshot on the member at `ip` (etcd's
    /// compaction and defragmentation); says what it did.
    fn admin(
        &self,
        op: nemeses::schedule::Admin,
        _ip: Ipv4Addr,
    ) -> impl Future<Output = Result<String, String>> + Send {
        async move { Err(format!("this system has no {} operation", op.name())) }
    }
    /// Whether the node at `ip` has caught up with `target`, the furthest
    /// [`Db::applied`] of the members: by default its own position reaching it;
    /// why not, if not.
    fn caught_up(&self, ip: Ipv4Addr, target: u64) -> impl Future<Output = Result<(), String>> + Send {
        async move {
            match self.applied(ip).await {
                Some(at) if at >= target => Ok(()),
                at => Err(format!(
                    "applied {} of {target}",
                    at.map_or("nothing it tells".into(), |a| a.to_string())
                )),
            }
        }
    }
    /// Removes the member at `ips[node]` from the membership, the system's way
    /// (etcd `member remove` through another member, Consul `leave` on the member).
    fn remove_member(&self, _ips: &[Ipv4Addr], _node: usize) -> impl Future<Output = Result<(), String>> + Send {
        async { Err("this system's membership changes are not automated yet".to_string()) }
    }
    /// Announces `ips[node]` as a new member before it starts on an empty data
    /// dir; the flags its start needs beyond its usual ones.
    fn add_member(&self, _ips: &[Ipv4Addr], _node: usize) -> impl Future<Output = Result<Vec<String>, String>> + Send {
        async { Err("this system's membership changes are not automated yet".to_string()) }
    }
    /// What completes the joining once the new member runs (etcd promotes the
    /// learner once it has caught up); says what it did.
    fn member_joined(&self, _ips: &[Ipv4Addr], _node: usize) -> impl Future<Output = Result<String, String>> + Send {
        async { Ok("joined".to_string()) }
    }
    /// What the system's upgrade procedure does to a member before its stop
    /// (Consul: `consul leave`, so the servers left drop it from the peers).
    fn leave(&self, _ip: Ipv4Addr) -> impl Future<Output = Result<(), String>> + Send {
        async { Ok(()) }
    }
    /// The version the node at `ip` reports, and the cluster's where the system
    /// has one (etcd's `etcdcluster`: the protocol a mixed cluster speaks).
    fn node_version(&self, _ip: Ipv4Addr) -> impl Future<Output = Option<(String, Option<String>)>> + Send {
        async { None }
    }
    /// What a runbook needs beyond the nodes (its tools, ports), as environment
    /// variables without their `SB_` prefix; fetches the tools if need be.
    fn runbook_env(&self) -> Result<Vec<(String, String)>, String> {
        Ok(Vec::new())
    }
    /// Readies a catch-up by snapshot of `spec.member` before the nemesis cuts
    /// it off: the system's filler writes and what says it applied a snapshot.
    fn catch_up(&self, _spec: CatchUpSpec) -> Result<Box<dyn nemeses::catch_up::CatchUp>, String> {
        Err("this system's catch-up by snapshot is not automated".into())
    }
}

/// [`Db`] as a trait object.
pub trait DynDb: Send + Sync {
    fn version(&self) -> &str;
    fn binary(&self) -> &Path;
    fn argv(&self, node: &NodeSpec) -> Result<Vec<String>, String>;
    fn image_roots(&self) -> Vec<PathBuf>;
    fn wait_ready<'a>(&'a self, ips: &'a [Ipv4Addr], within: Duration) -> BoxFuture<'a, Result<Duration, String>>;
    fn leader<'a>(&'a self, ips: &'a [Ipv4Addr]) -> BoxFuture<'a, Option<usize>>;
    fn members<'a>(&'a self, ips: &'a [Ipv4Addr]) -> BoxFuture<'a, Vec<Result<Vec<Ipv4Addr>, String>>>;
    fn snapshot<'a>(&'a self, ip: Ipv4Addr, data_dir: &'a Path, out: &'a Path) -> BoxFuture<'a, Result<u64, String>>;
    fn revision(&self, ip: Ipv4Addr) -> BoxFuture<'_, Option<i64>>;
    fn runbook_env(&self) -> Result<Vec<(String, String)>, String>;
    fn applied(&self, ip: Ipv4Addr) -> BoxFuture<'_, Option<u64>>;
    fn caught_up(&self, ip: Ipv4Addr, target: u64) -> BoxFuture<'_, Result<(), String>>;
    fn admin(&self, op: nemeses::schedule::Admin, ip: Ipv4Addr) -> BoxFuture<'_, Result<String, String>>;
    fn leave(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<(), String>>;
    fn remove_member<'a>(&'a self, ips: &'a [Ipv4Addr], node: usize) -> BoxFuture<'a, Result<(), String>>;
    fn add_member<'a>(&'a self, ips: &'a [Ipv4Addr], node: usize) -> BoxFuture<'a, Result<Vec<String>, String>>;
    fn member_joined<'a>(&'a self, ips: &'a [Ipv4Addr], node: usize) -> BoxFuture<'a, Result<String, String>>;
    fn node_version(&self, ip: Ipv4Addr) -> BoxFuture<'_, Option<(String, Option<String>)>>;
    fn catch_up(&self, spec: CatchUpSpec) -> Result<Box<dyn nemeses::catch_up::CatchUp>, String>;
}

impl<D: Db> DynDb for D {
    fn version(&self) -> &str {
        &self.installed().version
    }
    fn binary(&self) -> &Path {
        &self.installed().path
    }
    fn argv(&self, node: &NodeSpec) -> Result<Vec<String>, String> {
        Db::argv(self, node)
    }
    fn image_roots(&self) -> Vec<PathBuf> {
        Db::image_roots(self)
    }
    fn wait_ready<'a>(&'a self, ips: &'a [Ipv4Addr], within: Duration) -> BoxFuture<'a, Result<Duration, String>> {
        Box::pin(Db::wait_ready(self, ips, within))
    }
    fn leader<'a>(&'a self, ips: &'a [Ipv4Addr]) -> BoxFuture<'a, Option<usize>> {
        Box::pin(Db::leader(self, ips))
    }
    fn members<'a>(&'a self, ips: &'a [Ipv4Addr]) -> BoxFuture<'a, Vec<Result<Vec<Ipv4Addr>, String>>> {
        Box::pin(Db::members(self, ips))
    }
    fn snapshot<'a>(&'a self, ip: Ipv4Addr, data_dir: &'a Path, out: &'a Path) -> BoxFuture<'a, Result<u64, String>> {
        Box::pin(Db::snapshot(self, ip, data_dir, out))
    }
    fn revision(&self, ip: Ipv4Addr) -> BoxFuture<'_, Option<i64>> {
        Box::pin(Db::revision(self, ip))
    }
    fn runbook_env(&self) -> Result<Vec<(String, String)>, String> {
        Db::runbook_env(self)
    }
    fn applied(&self, ip: Ipv4Addr) -> BoxFuture<'_, Option<u64>> {
        Box::pin(Db::applied(self, ip))
    }
    fn caught_up(&self, ip: Ipv4Addr, target: u64) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(Db::caught_up(self, ip, target))
    }
    fn admin(&self, op: nemeses::schedule::Admin, ip: Ipv4Addr) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(Db::admin(self, op, ip))
    }
    fn node_version(&self, ip: Ipv4Addr) -> BoxFuture<'_, Option<(String, Option<String>)>> {
        Box::pin(Db::node_version(self, ip))
    }
    fn leave(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(Db::leave(self, ip))
    }
    fn remove_member<'a>(&'a self, ips: &'a [Ipv4Addr], node: usize) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(Db::remove_member(self, ips, node))
    }
    fn add_member<'a>(&'a self, ips: &'a [Ipv4Addr], node: usize) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(Db::add_member(self, ips, node))
    }
    fn member_joined<'a>(&'a self, ips: &'a [Ipv4Addr], node: usize) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(Db::member_joined(self, ips, node))
    }
    fn catch_up(&self, spec: CatchUpSpec) -> Result<Box<dyn nemeses::catch_up::CatchUp>, String> {
        Db::catch_up(self, spec)
    }
}

/// The system called `name`, or the names to use instead.
pub fn find(name: &str) -> Result<&'static dyn System, String> {
    REGISTRY
        .iter()
        .copied()
        .find(|s| s.name() == name)
        .ok_or_else(|| format!("--system {name}: use {}", names().join(", ")))
}

pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|s| s.name()).collect()
}

/// `--system`: the registry's names, listed by `--help` and in the error for any other.
pub fn system_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(names())
}

/// `--read-mode`: every read mode of every system (each system checks its own).
pub fn read_mode_parser() -> clap::builder::PossibleValuesParser {
    let mut modes: Vec<&'static str> = Vec::new();
    for s in REGISTRY {
        for m in s.registers().map(|r| r.read_modes()).unwrap_or(&[]) {
            if !modes.contains(m) {
                modes.push(m);
            }
        }
    }
    clap::builder::PossibleValuesParser::new(modes)
}

/// Refuses, before anything starts or is fetched, what `provision` would refuse
/// later: an operator's build that is not there (or that the system cannot take),
/// or, without one, a version it does not provision. Each is `(flag, value)`, the
/// flag named in the message.
pub fn check_build(
    system: &dyn System,
    (version_flag, version): (&str, Option<&str>),
    (binary_flag, binary): (&str, Option<&Path>),
) -> Result<(), String> {
    let name = system.name();
    match binary {
        Some(_) if !system.takes_binary() => Err(format!(
            "--{binary_flag}: {name} runs jars, no binary of its own: pick a version with --{version_flag}"
        )),
        Some(path) if !path.is_file() => Err(format!(
            "--{binary_flag} {}: no such file; give the path of your {name} build",
            path.display()
        )),
        // the build is used whatever the version says
        Some(_) => Ok(()),
        None => match version {
            Some(v) if !system.versions().iter().any(|p| p.version == v) => Err(format!(
                "--{version_flag} {v}: splitbrain does not provision {name} {v}; use {} (`splitbrain versions` lists them){}",
                version_list(system.versions()),
                if system.takes_binary() {
                    format!(", or --{binary_flag} PATH")
                } else {
                    String::new()
                }
            )),
            _ => Ok(()),
        },
    }
}

/// The local image of the docker runtime for a system's version.
pub fn image(system: &dyn System, db: &dyn DynDb) -> String {
    format!("splitbrain/{}:{}", system.name(), db.version())
}

/// Asks each node in turn: its answer, or why it gave none.
async fn per_node<T, Fut>(ips: &[Ipv4Addr], ask: impl Fn(Ipv4Addr) -> Fut) -> Vec<Result<T, String>>
where
    Fut: Future<Output = Result<T, String>>,
{
    let mut out = Vec::with_capacity(ips.len());
    for &ip in ips {
        out.push(ask(ip).await);
    }
    out
}

/// Polls `probe` every 250 ms until it says ready or `within` passes; then the
/// error names the system and each node's last answer.
async fn wait_until<F, Fut>(system: &str, within: Duration, mut probe: F) -> Result<Duration, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Vec<String>>>,
{
    let start = Instant::now();
    loop {
        let why = match probe().await {
            Ok(()) => return Ok(start.elapsed()),
            Err(why) => why,
        };
        if start.elapsed() > within {
            return Err(format!(
                "{system} not ready after {} s: {}",
                within.as_secs(),
                why.join("; ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A plain HTTP/1.0 GET of a node's API: the response's head and body, or
/// `None` when it does not answer within `limit`. For the few small answers
/// the harness itself reads (dates, versions), without a client's pool.
fn http_get(ip: Ipv4Addr, port: u16, path: &str, limit: Duration) -> Option<(String, String)> {
    use std::io::{Read, Write};
    let deadline = Instant::now() + limit;
    let mut s = std::net::TcpStream::connect_timeout(&(ip, port).into(), limit).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n").ok()?;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    while text.len() < 1 << 20 {
        s.set_read_timeout(Some(deadline.checked_duration_since(Instant::now())?))
            .ok()?;
        match s.read(&mut buf).ok()? {
            0 => break,
            n => text.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&text);
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.to_string(), body.to_string()))
}

/// The JSON body of a GET, when the node answers within a second.
pub fn http_json(ip: Ipv4Addr, port: u16, path: &str) -> Option<serde_json::Value> {
    let (_, body) = http_get(ip, port, path, Duration::from_secs(1))?;
    serde_json::from_str(&body).ok()
}

/// What a node's HTTP server says the time is (its `Date` header, whole seconds),
/// in ns since the epoch; `None` when it does not answer within 300 ms.
pub fn http_date(ip: Ipv4Addr, port: u16, path: &str) -> Option<i64> {
    let (head, _) = http_get(ip, port, path, Duration::from_millis(300))?;
    let date = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("date")))?
        .1;
    http_date_seconds(date.trim()).map(|s| s * 1_000_000_000)
}

/// Seconds since the epoch of an IMF-fixdate (`Tue, 01 Dec 2026 16:40:21 GMT`).
fn http_date_seconds(date: &str) -> Option<i64> {
    let f: Vec<&str> = date.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = f[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| *x == month)? as i64 + 1;
    let (y, d): (i64, i64) = (year.parse().ok()?, day.parse().ok()?);
    let hms: Vec<i64> = time.split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let [h, min, sec] = hms[..] else { return None };
    // days since 1970-01-01 of a proleptic Gregorian date, counting years from March
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + min * 60 + sec)
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates() {
        assert_eq!(super::http_date_seconds("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            super::http_date_seconds("Tue, 01 Dec 2026 16:40:21 GMT"),
            Some(1_796_143_221)
        );
        assert_eq!(
            super::http_date_seconds("Sun, 29 Feb 2004 12:00:00 GMT"),
            Some(1_078_056_000)
        );
        assert_eq!(super::http_date_seconds("yesterday"), None);
    }
}
