//! The `docker` runtime: every node a container on a bridge network of the
//! run's own, with a fixed address, its data dir bind-mounted at the same path
//! as on the host (so each system's command line is the same on both runtimes).
//!
//! It drives the engine through the `docker` CLI: every call is synchronous,
//! which is what the nemesis thread and teardown-on-drop need, and the CLI comes
//! with every engine. Faults are the netns runtime's code: iptables in the
//! container's network namespace (`/proc/<pid>/ns/net`), signals to its host pid.
//!
//! Everything created is labelled `splitbrain=<run id>` and named
//! `splitbrain-<id>-*`; `clean` finds leftovers by the label alone.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::member::Member;
use crate::netns;

/// Runs `docker` with `args`; the error names the command and what docker said.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("docker: {e} (install docker.io, or use --runtime netns)"))?;
    if !out.status.success() {
        return Err(format!(
            "docker {}: {}",
            args.first().copied().unwrap_or(""),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether an engine answers; the error says why not.
pub fn engine() -> Result<String, String> {
    docker(&["version", "--format", "{{.Server.Version}}"]).map(|v| v.trim().to_string())
}

/// Whether a local image with this tag exists.
pub fn has_image(tag: &str) -> bool {
    docker(&["image", "inspect", "--format", "{{.Id}}", tag]).is_ok()
}

const LABEL: &str = "splitbrain";

/// The bridge network of one run.
pub struct DockerNetwork {
    pub run_id: String,
    name: String,
    subnet: u8,
}

impl DockerNetwork {
    /// Creates the run's network on a free 10.238.X.0/24.
    pub fn create(run_id: &str) -> Result<DockerNetwork, String> {
        netns::require_root()?;
        let _held = netns::subnet_lock()?;
        let subnet = netns::free_subnet(run_id, 238)?;
        let net = DockerNetwork {
            run_id: run_id.to_string(),
            name: format!("splitbrain-{run_id}"),
            subnet,
        };
        netns::note_owner(run_id)?;
        docker(&[
            "network",
            "create",
            "--driver",
            "bridge",
            "--subnet",
            &format!("10.238.{subnet}.0/24"),
            "--label",
            &format!("{LABEL}={run_id}"),
            &net.name,
        ])?;
        Ok(net)
    }

    pub fn ip(&self, host: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 238, self.subnet, 11 + host as u8)
    }

    /// Removes the run's containers (any left) and the network.
    pub fn destroy(&self) {
        remove_run(&self.run_id);
        netns::forget_owner(&self.run_id);
    }

    /// A container for host `host` of this network (not started yet).
    pub fn container(
        &self,
        host: usize,
        name: &str,
        image: &str,
        argv: Vec<String>,
        binds: Vec<PathBuf>,
        log: PathBuf,
    ) -> Container {
        Container {
            name: name.to_string(),
            container: format!("splitbrain-{}-{name}", self.run_id),
            ip: self.ip(host),
            image: image.to_string(),
            argv,
            binds,
            log,
            network: self.name.clone(),
            label: format!("{LABEL}={}", self.run_id),
            created: Mutex::new(false),
        }
    }
}

/// Removes every container and the network labelled with this run.
fn remove_run(run_id: &str) -> Vec<String> {
    let mut removed = Vec::new();
    let filter = format!("label={LABEL}={run_id}");
    let ids = docker(&["ps", "-aq", "--filter", &filter]).unwrap_or_default();
    for id in ids.split_whitespace() {
        if docker(&["rm", "-f", "-v", id]).is_ok() {
            removed.push(format!("container {id}"));
        }
    }
    let nets = docker(&["network", "ls", "-q", "--filter", &filter]).unwrap_or_default();
    for id in nets.split_whitespace() {
        if docker(&["network", "rm", id]).is_ok() {
            removed.push(format!("network {id}"));
        }
    }
    removed
}

/// Removes containers and networks of runs whose runner is gone.
pub fn clean() -> Result<Vec<String>, String> {
    if engine().is_err() {
        return Ok(Vec::new());
    }
    let mut runs: Vec<String> = Vec::new();
    let labels = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label={LABEL}"),
        "--format",
        "{{.Label \"splitbrain\"}}",
    ])? + &docker(&[
        "network",
        "ls",
        "--filter",
        &format!("label={LABEL}"),
        "--format",
        "{{.Label \"splitbrain\"}}",
    ])?;
    for id in labels.split_whitespace() {
        if !runs.iter().any(|r| r == id) {
            runs.push(id.to_string());
        }
    }
    let mut removed = Vec::new();
    for id in runs {
        if let Some(pid) = netns::live_owner(&id) {
            eprintln!("splitbrain: run {id} is still going (pid {pid}); left alone");
            continue;
        }
        removed.extend(remove_run(&id));
        netns::forget_owner(&id);
    }
    Ok(removed)
}

/// One node as a container.
pub struct Container {
    name: String,
    container: String,
    ip: Ipv4Addr,
    image: String,
    argv: Vec<String>,
    binds: Vec<PathBuf>,
    log: PathBuf,
    network: String,
    label: String,
    /// Created once; a restart after a kill starts the same container again.
    created: Mutex<bool>,
}

impl Member for Container {
    fn name(&self) -> &str {
        &self.name
    }

    fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    fn netns(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.pid().unwrap_or(0)))
    }

    fn pid(&self) -> Option<u32> {
        let out = docker(&["inspect", "--format", "{{.State.Pid}}", &self.container]).ok()?;
        out.trim().parse::<u32>().ok().filter(|&p| p > 0)
    }

    fn start(&self) -> Result<(), String> {
        let mut created = self.created.lock().expect("container state");
        if *created {
            docker(&["start", &self.container]).map(|_| ())
        } else {
            let ip = self.ip.to_string();
            let mut args: Vec<String> = [
                "run",
                "-d",
                "--name",
                &self.container,
                "--hostname",
                &self.name,
                "--network",
                &self.network,
                "--ip",
                &ip,
                "--label",
                &self.label,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            for b in &self.binds {
                args.push("-v".into());
                args.push(format!("{0}:{0}", b.display()));
            }
            args.push("--entrypoint".into());
            args.push(self.argv[0].clone());
            args.push(self.image.clone());
            args.extend(self.argv[1..].iter().cloned());
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            docker(&refs)?;
            *created = true;
            Ok(())
        }
    }

    fn kill(&self) {
        let _ = docker(&["kill", "--signal", "KILL", &self.container]);
    }

    fn remove(&self) {
        let created = *self.created.lock().expect("container state");
        if created
            && let Ok(logs) = Command::new("docker")
                .args(["logs", "--timestamps", &self.container])
                .output()
        {
            let mut text = logs.stdout;
            text.extend_from_slice(&logs.stderr);
            let _ = std::fs::write(&self.log, text);
        }
        let _ = docker(&["rm", "-f", "-v", &self.container]);
    }
}
