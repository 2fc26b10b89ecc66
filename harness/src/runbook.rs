//! A drill's recovery runbook, run for real against the stuck cluster: one
//! that splitbrain ships for each documented path (scripts, so an operator can
//! read and adapt them), or the operator's own `--runbook FILE`.
//!
//! The script gets everything in its environment (`SB_*`: nodes' names,
//! addresses and data dirs, survivors and lost nodes, binaries and tools, the
//! snapshots) and one helper, `$SB_NODE`, for what it cannot do from the host:
//! start, stop or kill a node (in its namespace or container, with extra flags),
//! wait until nodes serve, and mark its steps, each a nemesis op in the history.
//! It runs in a process group of its own, killed at its time limit.

use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use checkers::{F, Op, Process, Record, Type, Value};

use crate::runtime::Member;
use crate::systems::{DynDb, System};

/// Where a runbook's helper finds the drill: short, as a unix socket's path
/// has room for 107 bytes.
const SOCKETS: &str = "/run/splitbrain";

/// The runbook a drill runs (as test.json and results.json name it: no script).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Chosen {
    /// A shipped runbook's name, or the file's.
    pub name: String,
    #[serde(skip)]
    pub script: String,
    /// An operator's file (run as it is: with its own interpreter when executable).
    pub file: Option<PathBuf>,
    pub unofficial: bool,
}

impl From<&Chosen> for results::schema::Runbook {
    fn from(c: &Chosen) -> results::schema::Runbook {
        results::schema::Runbook {
            name: c.name.clone(),
            file: c.file.clone(),
            unofficial: c.unofficial,
        }
    }
}

/// `--runbook`: a name `system` ships (its default when none), or a script's path.
pub fn choose(system: &dyn System, arg: Option<&str>) -> Result<Chosen, String> {
    let shipped = system.runbooks();
    let names: Vec<&str> = shipped.iter().map(|r| r.name).collect();
    let Some(arg) = arg else {
        let r = shipped
            .first()
            .ok_or_else(|| format!("{} has no runbook: give one with --runbook FILE", system.name()))?;
        return Ok(Chosen {
            name: r.name.into(),
            script: r.script.into(),
            file: None,
            unofficial: r.unofficial,
        });
    };
    if let Some(r) = shipped.iter().find(|r| r.name == arg) {
        return Ok(Chosen {
            name: r.name.into(),
            script: r.script.into(),
            file: None,
            unofficial: r.unofficial,
        });
    }
    let path = Path::new(arg);
    if !path.is_file() {
        return Err(format!(
            "--runbook {arg}: no such runbook or file; {}'s runbooks are {}, or give the path of your own script",
            system.name(),
            names.join(", ")
        ));
    }
    let script = std::fs::read_to_string(path).map_err(|e| format!("--runbook {arg}: {e}"))?;
    Ok(Chosen {
        name: path
            .file_name()
            .map_or(arg.into(), |n| n.to_string_lossy().into_owned()),
        script,
        file: Some(std::fs::canonicalize(path).map_err(|e| format!("--runbook {arg}: {e}"))?),
        unofficial: false,
    })
}

/// What a runbook acts on.
pub struct Stage<'a> {
    pub runbook: &'a Chosen,
    pub system: &'a str,
    pub db: &'a dyn DynDb,
    pub nodes: &'a [Arc<dyn Member>],
    /// Each node's command line when the cluster started.
    pub argv: &'a [Vec<String>],
    pub data: &'a [PathBuf],
    pub lost: &'a [usize],
    /// Oldest first.
    pub snapshots: &'a [PathBuf],
    pub run_id: &'a str,
    /// Where the runbook, its log and its scratch files go.
    pub dir: &'a Path,
    pub rec: &'a dyn Record,
    pub handle: &'a tokio::runtime::Handle,
}

impl Stage<'_> {
    fn record(&self, f: &str, what: &str) {
        self.rec
            .record(Op::new(Process::Nemesis, Type::Info, F::parse(f), Value::str(what)));
    }

    fn node(&self, name: &str) -> Result<usize, String> {
        self.nodes
            .iter()
            .position(|n| n.name() == name)
            .ok_or_else(|| format!("no node {name}: the nodes are {}", self.names(0..self.nodes.len())))
    }

    fn names(&self, nodes: impl Iterator<Item = usize>) -> String {
        nodes.map(|i| self.nodes[i].name()).collect::<Vec<_>>().join(" ")
    }

    fn env(&self, helper: &Path, socket: &Path) -> Result<Vec<(String, String)>, String> {
        let survivors = (0..self.nodes.len()).filter(|i| !self.lost.contains(i));
        let list = |p: &[PathBuf]| p.iter().map(|s| s.display().to_string()).collect::<Vec<_>>().join(" ");
        let mut env = vec![
            ("SYSTEM".to_string(), self.system.to_string()),
            ("VERSION".into(), self.db.version().into()),
            ("RUN_ID".into(), self.run_id.into()),
            ("WORK".into(), self.dir.display().to_string()),
            ("NODES".into(), self.names(0..self.nodes.len())),
            ("SURVIVORS".into(), self.names(survivors)),
            ("LOST".into(), self.names(self.lost.iter().copied())),
            ("BIN".into(), self.db.binary().display().to_string()),
            (
                "SNAPSHOT".into(),
                self.snapshots.last().map_or(String::new(), |s| s.display().to_string()),
            ),
            ("SNAPSHOTS".into(), list(self.snapshots)),
            ("NODE".into(), helper.display().to_string()),
            ("SOCKET".into(), socket.display().to_string()),
        ];
        for (i, n) in self.nodes.iter().enumerate() {
            let up = n.name().to_uppercase();
            env.push((format!("{up}_IP"), n.ip().to_string()));
            env.push((format!("{up}_DATA"), self.data[i].display().to_string()));
        }
        env.extend(self.db.runbook_env()?);
        Ok(env.into_iter().map(|(k, v)| (format!("SB_{k}"), v)).collect())
    }

    /// Runs the runbook within `within`; how it ended, or why it failed.
    pub fn run(&self, within: Duration, stop: &AtomicBool) -> Result<String, String> {
        std::fs::create_dir_all(self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let script = self.dir.join("runbook.sh");
        std::fs::write(&script, &self.runbook.script).map_err(|e| format!("{}: {e}", script.display()))?;
        let exe = std::env::current_exe().map_err(|e| format!("own binary: {e}"))?;
        let helper = self.dir.join("sb-node");
        std::fs::write(
            &helper,
            format!("#!/bin/sh\nexec '{}' runbook-node \"$@\"\n", exe.display()),
        )
        .map_err(|e| format!("{}: {e}", helper.display()))?;
        executable(&helper)?;
        let socket = PathBuf::from(format!("{SOCKETS}/{}.sock", self.run_id));
        std::fs::create_dir_all(SOCKETS).map_err(|e| format!("{SOCKETS}: {e}"))?;
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).map_err(|e| format!("{}: {e}", socket.display()))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let log_path = self.dir.join("runbook.log");
        let log = std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let mut cmd = match &self.runbook.file {
            Some(f) if is_executable(f) => Command::new(f),
            Some(f) => {
                let mut c = Command::new("bash");
                c.arg(f);
                c
            }
            None => {
                let mut c = Command::new("bash");
                c.arg(&script);
                c
            }
        };
        cmd.envs(self.env(&helper, &socket)?)
            .current_dir(self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0);
        let start = Instant::now();
        let deadline = start + within;
        let done = AtomicBool::new(false);
        let ended = std::thread::scope(|s| {
            s.spawn(|| self.serve(&listener, deadline, &done));
            let ended = self.supervise(&mut cmd, deadline, stop, &log_path);
            done.store(true, Ordering::SeqCst);
            ended
        });
        let _ = std::fs::remove_file(&socket);
        let took = start.elapsed().as_secs_f64();
        ended.map(|()| format!("{} done after {took:.1} s", self.runbook.name))
    }

    /// Waits for the script, killing its whole group at the deadline or on `stop`.
    fn supervise(&self, cmd: &mut Command, deadline: Instant, stop: &AtomicBool, log: &Path) -> Result<(), String> {
        let mut child = cmd.spawn().map_err(|e| format!("runbook {}: {e}", self.runbook.name))?;
        let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
        loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "runbook {} exited with {status} (its log: {})",
                        self.runbook.name,
                        log.display()
                    ))
                };
            }
            if Instant::now() >= deadline || stop.load(Ordering::Relaxed) {
                let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                return Err(format!(
                    "runbook {} did not finish within its time limit: killed (its log: {})",
                    self.runbook.name,
                    log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Answers `$SB_NODE` until `done`, one request per connection.
    fn serve(&self, listener: &UnixListener, deadline: Instant, done: &AtomicBool) {
        while !done.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => self.answer(stream, deadline),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    fn answer(&self, stream: UnixStream, deadline: Instant) {
        let _ = stream.set_nonblocking(false);
        let mut line = String::new();
        if BufReader::new(&stream).read_line(&mut line).is_err() {
            return;
        }
        let reply = match serde_json::from_str::<Vec<String>>(&line) {
            Ok(args) => self.request(&args, deadline),
            Err(e) => Err(format!("bad request: {e}")),
        };
        let mut stream = stream;
        let _ = match reply {
            Ok(said) => writeln!(stream, "ok {said}"),
            Err(e) => writeln!(stream, "error {e}"),
        };
    }

    /// One `$SB_NODE` command.
    fn request(&self, args: &[String], deadline: Instant) -> Result<String, String> {
        let usage =
            "use: start NAME [--flag=value ...] | stop NAME | kill NAME | wait NAME... [--within S] | step TEXT";
        let (cmd, rest) = args.split_first().ok_or(usage)?;
        match cmd.as_str() {
            "step" => {
                let text = rest.join(" ");
                eprintln!("splitbrain: runbook {}: {text}", self.runbook.name);
                self.record("step", &text);
                Ok(text)
            }
            "start" => {
                let (name, flags) = rest.split_first().ok_or(usage)?;
                let i = self.node(name)?;
                let argv = with_flags(&self.argv[i], flags);
                self.nodes[i].set_argv(argv);
                self.nodes[i].start()?;
                let what = format!("start {name} {}", flags.join(" ")).trim_end().to_string();
                self.record("node", &what);
                Ok(what)
            }
            "stop" | "kill" => {
                let i = self.node(rest.first().ok_or(usage)?)?;
                let node = &self.nodes[i];
                if cmd == "stop"
                    && let Some(pid) = node.pid()
                {
                    let within = Duration::from_secs(20).min(deadline.saturating_duration_since(Instant::now()));
                    nemeses::signal::stop(&[pid], |_| node.pid().is_some(), within)?;
                }
                node.kill();
                let what = format!("{cmd} {}", node.name());
                self.record("node", &what);
                Ok(what)
            }
            "wait" => {
                let (names, within) = match rest.iter().position(|a| a == "--within") {
                    Some(p) => {
                        let within = rest
                            .get(p + 1)
                            .and_then(|s| s.parse::<f64>().ok())
                            .filter(|s| *s > 0.0)
                            .and_then(|s| Duration::try_from_secs_f64(s).ok())
                            .ok_or("--within: give seconds")?;
                        (&rest[..p], within.min(Duration::from_secs(86_400)))
                    }
                    None => (rest, Duration::from_secs(60)),
                };
                if names.is_empty() {
                    return Err(usage.into());
                }
                let ips: Vec<Ipv4Addr> = names
                    .iter()
                    .map(|n| self.node(n).map(|i| self.nodes[i].ip()))
                    .collect::<Result<_, _>>()?;
                let within = within.min(deadline.saturating_duration_since(Instant::now()));
                let took = self.handle.block_on(self.db.wait_ready(&ips, within))?;
                Ok(format!("{} serve after {:.1} s", names.join(" "), took.as_secs_f64()))
            }
            _ => Err(usage.into()),
        }
    }
}

/// `argv` with `flags` applied: a `--name=value` replaces the same `--name=` of
/// `argv` (so no system's rule for repeated flags matters), anything else is
/// added unless there already.
pub fn with_flags(argv: &[String], flags: &[String]) -> Vec<String> {
    let mut out = argv.to_vec();
    for flag in flags {
        let prefix = flag.split_once('=').map(|(name, _)| format!("{name}="));
        match prefix.and_then(|p| out.iter().position(|a| a.starts_with(&p))) {
            Some(i) => out[i] = flag.clone(),
            None if !out.contains(flag) => out.push(flag.clone()),
            None => {}
        }
    }
    out
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

fn executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `splitbrain runbook-node ARGS`: `$SB_NODE` inside a runbook; sends its
/// arguments to the drill and says what it answered.
pub fn helper(args: &[String]) -> Result<u8, String> {
    let socket = std::env::var("SB_SOCKET").map_err(|_| "runbook-node runs inside a drill's runbook (no SB_SOCKET)")?;
    let mut stream = UnixStream::connect(&socket).map_err(|e| format!("{socket}: {e}"))?;
    writeln!(stream, "{}", serde_json::to_string(args).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let mut reply = String::new();
    BufReader::new(&stream)
        .read_line(&mut reply)
        .map_err(|e| format!("{socket}: {e}"))?;
    match reply.trim_end().split_once(' ') {
        Some(("ok", said)) => {
            println!("{said}");
            Ok(0)
        }
        Some(("error", why)) => Err(why.to_string()),
        _ => Err(format!("no answer from the drill at {socket}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_replace_their_namesakes_and_add_the_rest() {
        let argv: Vec<String> = [
            "etcd",
            "--name=n2",
            "--initial-cluster-state=new",
            "--initial-cluster=a,b,c",
        ]
        .map(String::from)
        .into();
        let flags: Vec<String> = [
            "--initial-cluster=a,b",
            "--initial-cluster-state=existing",
            "--force-new-cluster",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            with_flags(&argv, &flags),
            [
                "etcd",
                "--name=n2",
                "--initial-cluster-state=existing",
                "--initial-cluster=a,b",
                "--force-new-cluster"
            ]
        );
        assert_eq!(with_flags(&argv, &flags[2..3]).len(), 5);
        assert_eq!(with_flags(&with_flags(&argv, &flags[2..3]), &flags[2..3]).len(), 5);
    }
}
