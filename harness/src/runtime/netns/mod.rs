//! The `netns` runtime: every node a local process in a network namespace of its
//! own, all of them on a bridge that lives in a namespace of ours too (so no
//! host firewall rule sees the traffic between nodes), plus one veth that gives
//! the host, where the clients run, an address on the same /24.
//!
//! Everything created is named after the run id: namespaces `splitbrain-<id>-*`,
//! the host link `sb-<id>-h`. `clean` finds leftovers by those prefixes alone.

use std::fs::{File, OpenOptions};
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

use super::host::{STATE_DIR, forget_owner, free_subnet, ip, live_owner, note_owner, require_root, subnet_lock};
use super::{Member, Role, Runtime, Wanted};

/// The namespaces, bridge and links of one run.
pub struct Network {
    pub run_id: String,
    subnet: u8,
    nodes: usize,
    /// Hosts beyond the nodes: the lock workload's resource, as host `nodes`.
    hosts: usize,
}

impl Network {
    fn switch(&self) -> String {
        format!("splitbrain-{}-sw", self.run_id)
    }

    fn host_link(&self) -> String {
        format!("sb-{}-h", self.run_id)
    }

    /// `n1`, `n2`, ... for nodes, `resource` for the host after them.
    fn host_name(&self, host: usize) -> String {
        if host < self.nodes {
            format!("n{}", host + 1)
        } else {
            "resource".into()
        }
    }

    pub fn ns_name(&self, host: usize) -> String {
        format!("splitbrain-{}-{}", self.run_id, self.host_name(host))
    }

    pub fn ns_path(&self, node: usize) -> PathBuf {
        PathBuf::from("/run/netns").join(self.ns_name(node))
    }

    pub fn ip(&self, node: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 237, self.subnet, 11 + node as u8)
    }

    pub fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 237, self.subnet, 1)
    }

    /// Creates the network (plus a namespace for the resource if asked); on
    /// failure removes whatever it had created.
    pub fn create(run_id: &str, nodes: usize, resource: bool) -> Result<Network, String> {
        require_root()?;
        let _held = subnet_lock()?;
        if ip(&["netns", "list"])?.contains(&format!("splitbrain-{run_id}-")) {
            return Err(format!("run id {run_id} is in use; try again"));
        }
        let net = Network {
            run_id: run_id.to_string(),
            subnet: free_subnet(run_id, 237)?,
            nodes,
            hosts: nodes + resource as usize,
        };
        note_owner(run_id)?;
        if let Err(e) = net.build() {
            net.destroy();
            return Err(e);
        }
        Ok(net)
    }

    fn build(&self) -> Result<(), String> {
        let sw = self.switch();
        let host = self.host_link();
        ip(&["netns", "add", &sw])?;
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &sw, "link", "set", "br0", "up"])?;
        ip(&[
            "link", "add", &host, "type", "veth", "peer", "name", "host", "netns", &sw,
        ])?;
        ip(&["-n", &sw, "link", "set", "host", "master", "br0", "up"])?;
        ip(&["addr", "add", &format!("{}/24", self.host_ip()), "dev", &host])?;
        ip(&["link", "set", &host, "up"])?;
        for i in 0..self.hosts {
            let ns = self.ns_name(i);
            let port = self.host_name(i);
            ip(&["netns", "add", &ns])?;
            ip(&[
                "-n", &ns, "link", "add", "eth0", "type", "veth", "peer", "name", &port, "netns", &sw,
            ])?;
            ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"])?;
            ip(&["-n", &ns, "addr", "add", &format!("{}/24", self.ip(i)), "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// Removes the namespaces and the host link. Processes inside must be gone first.
    pub fn destroy(&self) {
        for i in 0..self.hosts {
            kill_all_in(&self.ns_name(i));
            let _ = ip(&["netns", "del", &self.ns_name(i)]);
        }
        let _ = ip(&["netns", "del", &self.switch()]);
        let _ = ip(&["link", "del", &self.host_link()]);
        forget_owner(&self.run_id);
    }
}

/// The run id in one of our names: `splitbrain-<id>-n1`, `sb-<id>-h`.
fn run_of(name: &str, prefix: &str) -> Option<String> {
    let id = name.strip_prefix(prefix)?.split('-').next()?;
    (id.len() == 6 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
}

/// SIGKILLs every process in a namespace (what a killed runner left behind).
fn kill_all_in(ns: &str) -> usize {
    let pids = ip(&["netns", "pids", ns]).unwrap_or_default();
    let mut n = 0;
    for pid in pids.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
        if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).is_ok() {
            n += 1;
        }
    }
    n
}

/// Removes everything a run left behind, found by name prefix. Returns what it removed.
pub fn clean() -> Result<Vec<String>, String> {
    require_root()?;
    let mut removed = Vec::new();
    let list = ip(&["netns", "list"])?;
    let mut live = Vec::new();
    for ns in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(id) = run_of(ns, "splitbrain-") else { continue };
        if let Some(pid) = live_owner(&id) {
            if !live.contains(&id) {
                eprintln!("splitbrain: run {id} is still going (pid {pid}); left alone");
                live.push(id);
            }
            continue;
        }
        let killed = kill_all_in(ns);
        if killed > 0 {
            removed.push(format!("{killed} process(es) in {ns}"));
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        ip(&["netns", "del", ns])?;
        forget_owner(&id);
        removed.push(format!("namespace {ns}"));
    }
    // a drill's runbook socket (`<id>.sock`) that a killed runner left
    for entry in std::fs::read_dir(STATE_DIR).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".sock").filter(|id| live_owner(id).is_none())
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed.push(format!("socket of run {id}"));
        }
    }
    let links = ip(&["-o", "link", "show"])?;
    for link in links
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or(""))
    {
        if run_of(link, "sb-").is_some_and(|id| link == format!("sb-{id}-h") && !live.contains(&id)) {
            ip(&["link", "del", link])?;
            removed.push(format!("link {link}"));
        }
    }
    Ok(removed)
}

/// One node: a command to run in a namespace, its log, and its process.
pub struct Node {
    pub name: String,
    pub ip: Ipv4Addr,
    pub netns: PathBuf,
    pub log: PathBuf,
    argv: Mutex<Vec<String>>,
    child: Mutex<Option<Child>>,
}

impl Member for Node {
    fn name(&self) -> &str {
        &self.name
    }
    fn ip(&self) -> Ipv4Addr {
        self.ip
    }
    fn netns(&self) -> PathBuf {
        self.netns.clone()
    }
    fn pid(&self) -> Option<u32> {
        Node::pid(self)
    }
    fn start(&self) -> Result<(), String> {
        Node::start(self)
    }
    fn kill(&self) {
        Node::kill(self)
    }
    fn argv(&self) -> Vec<String> {
        self.argv.lock().expect("node argv").clone()
    }
    fn set_argv(&self, argv: Vec<String>) {
        *self.argv.lock().expect("node argv") = argv;
    }
}

impl Node {
    pub fn new(name: String, ip: Ipv4Addr, netns: PathBuf, log: PathBuf, argv: Vec<String>) -> Node {
        Node {
            name,
            ip,
            netns,
            log,
            argv: Mutex::new(argv),
            child: Mutex::new(None),
        }
    }

    /// Starts the node's process inside its namespace, appending to its log.
    pub fn start(&self) -> Result<(), String> {
        let mut slot = self.child.lock().expect("node child");
        if let Some(mut old) = slot.take() {
            let _ = old.kill();
            let _ = old.wait();
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let ns = File::open(&self.netns).map_err(|e| format!("{}: {e}", self.netns.display()))?;
        let argv = self.argv.lock().expect("node argv").clone();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            // its own process group: a Ctrl-C at the terminal reaches the runner, which tears down in order
            .process_group(0);
        nemeses::iptables::enter_netns(&mut cmd, &ns);
        let child = spawn_tied(cmd).map_err(|e| format!("{}: starting {}: {e}", self.name, argv[0]))?;
        *slot = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
        let slot = self.child.lock().expect("node child");
        let pid = slot.as_ref()?.id();
        // a peek at exits only, reaping nothing: a wait would also take the ptrace
        // stops the clock nemesis waits for while it holds the node
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(Id::Pid(nix::unistd::Pid::from_raw(pid as i32)), flags) {
            Ok(WaitStatus::StillAlive) => Some(pid),
            _ => None,
        }
    }

    /// SIGKILLs the process (also when it is stopped) and reaps it.
    pub fn kill(&self) {
        if let Some(mut child) = self.child.lock().expect("node child").take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A spawn request for the spawner thread, and where its answer goes.
type Spawn = (Command, Sender<std::io::Result<Child>>);

/// Spawns `cmd` so that it gets SIGKILL when the runner dies, even by SIGKILL.
///
/// PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the
/// process, and nodes are started (and restarted by the nemesis) from threads that
/// come and go; so one thread that lives as long as the runner forks them all.
fn spawn_tied(mut cmd: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<Sender<Spawn>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = channel::<Spawn>();
        std::thread::Builder::new()
            .name("spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawner thread");
        Mutex::new(tx)
    });
    let runner = std::process::id();
    // SAFETY: prctl, getppid and _exit are async-signal-safe; this runs in the child only.
    unsafe {
        cmd.pre_exec(move || {
            if nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // the runner died between the fork and the prctl: nobody would kill us
            if nix::libc::getppid() as u32 != runner {
                nix::libc::_exit(1);
            }
            Ok(())
        });
    }
    let (tx, rx) = channel();
    spawner
        .lock()
        .expect("spawner")
        .send((cmd, tx))
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?
}

/// The netns runtime: it runs wherever we are root.
pub struct Netns;

/// Netns, which needs nothing but root.
pub fn choose(_wanted: &Wanted) -> Result<Box<dyn Runtime>, String> {
    Ok(Box::new(Netns))
}

impl Runtime for Netns {
    fn name(&self) -> &'static str {
        "netns"
    }
    fn network(&self, run_id: &str, nodes: usize, service: bool) -> Result<Box<dyn super::Network>, String> {
        Ok(Box::new(Network::create(run_id, nodes, service)?))
    }
}

impl super::Network for Network {
    fn ip(&self, host: usize) -> Ipv4Addr {
        Network::ip(self, host)
    }
    fn member(
        &self,
        host: usize,
        name: &str,
        _role: Role,
        argv: Vec<String>,
        log: PathBuf,
        _shared: Vec<PathBuf>,
    ) -> Arc<dyn Member> {
        Arc::new(Node::new(
            name.into(),
            Network::ip(self, host),
            self.ns_path(host),
            log,
            argv,
        ))
    }
    fn destroy(&self) {
        Network::destroy(self)
    }
}
