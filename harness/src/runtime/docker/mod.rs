//! The `docker` runtime: every node a container on a bridge network of the
//! run's own, with a fixed address, its data dir bind-mounted at the same path
//! as on the host (so each system's command line is the same on both runtimes).
//!
//! It drives the engine through its API (bollard). The nemesis thread and
//! teardown-on-drop need each call synchronously, from threads that may be tokio
//! workers of the run, so every call is spawned on a runtime of the engine's own
//! and waited for. Faults are the netns runtime's code: iptables in the
//! container's network namespace (`/proc/<pid>/ns/net`), signals to its host pid.
//!
//! Everything created is labelled `splitbrain=<run id>` and named
//! `splitbrain-<id>-*`; `clean` finds leftovers by the label alone.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerSummary, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig, Network,
    NetworkCreateRequest, NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, ListContainersOptions, ListNetworksOptions, LogsOptions,
    RemoveContainerOptions,
};
use futures_util::TryStreamExt;

use super::{Member, Role, Runtime, Wanted, host};
use crate::systems;

pub mod images;

/// The engine's client and the runtime its calls run on.
struct Engine {
    docker: Docker,
    rt: tokio::runtime::Runtime,
}

/// Connected once; an engine that does not answer is found out by the first call.
fn client() -> Result<&'static Engine, String> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            // built on a thread of its own: the caller may be inside another runtime
            std::thread::spawn(|| {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("docker-engine")
                    .enable_all()
                    .build()
                    .map_err(|e| format!("docker engine runtime: {e}"))?;
                let docker = rt
                    .block_on(async { Docker::connect_with_local_defaults() })
                    .map_err(|e| format!("docker: {e}"))?
                    .with_timeout(Duration::from_secs(120));
                Ok(Engine { docker, rt })
            })
            .join()
            .unwrap_or_else(|_| Err("docker engine client panicked".into()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs one engine call to completion from synchronous code, in or out of a runtime.
pub fn call<T, F>(what: &str, call: impl FnOnce(Docker) -> F) -> Result<T, String>
where
    T: Send + 'static,
    F: Future<Output = Result<T, bollard::errors::Error>> + Send + 'static,
{
    let engine = client()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let fut = call(engine.docker.clone());
    engine.rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .map_err(|_| format!("docker {what}: the engine call was lost"))?
        .map_err(|e| format!("docker {what}: {e}"))
}

/// Whether an engine answers (its version); the error says why not.
pub fn engine() -> Result<String, String> {
    call("version", |d| async move { d.version().await }).map(|v| v.version.unwrap_or_default())
}

/// Whether a local image with this tag exists.
pub fn has_image(tag: &str) -> bool {
    let tag = tag.to_string();
    call("image inspect", |d| async move { d.inspect_image(&tag).await }).is_ok()
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
        host::require_root()?;
        let _held = host::subnet_lock()?;
        let subnet = host::free_subnet(run_id, 238)?;
        let net = DockerNetwork {
            run_id: run_id.to_string(),
            name: format!("splitbrain-{run_id}"),
            subnet,
        };
        host::note_owner(run_id)?;
        let request = NetworkCreateRequest {
            name: net.name.clone(),
            driver: Some("bridge".into()),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(format!("10.238.{subnet}.0/24")),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            labels: Some(HashMap::from([(LABEL.to_string(), run_id.to_string())])),
            ..Default::default()
        };
        call("network create", |d| async move { d.create_network(request).await })?;
        Ok(net)
    }

    pub fn ip(&self, host: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 238, self.subnet, 11 + host as u8)
    }

    /// Removes the run's containers (any left) and the network.
    pub fn destroy(&self) {
        remove_run(&self.run_id);
        host::forget_owner(&self.run_id);
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
            image: Mutex::new(image.to_string()),
            argv: Mutex::new(argv),
            binds,
            log,
            network: self.name.clone(),
            run_id: self.run_id.clone(),
            created: Mutex::new(false),
        }
    }
}

/// Containers (running or not) and networks carrying `label` (`splitbrain` or
/// `splitbrain=<run>`).
fn labelled(label: String) -> Result<(Vec<ContainerSummary>, Vec<Network>), String> {
    let filters = Some(HashMap::from([("label".to_string(), vec![label])]));
    let options = ListContainersOptions {
        all: true,
        filters: filters.clone(),
        ..Default::default()
    };
    let containers = call("ps", |d| async move { d.list_containers(Some(options)).await })?;
    let networks = call("network ls", |d| async move {
        d.list_networks(Some(ListNetworksOptions { filters })).await
    })?;
    Ok((containers, networks))
}

/// Removes every container and the network labelled with this run.
fn remove_run(run_id: &str) -> Vec<String> {
    let mut removed = Vec::new();
    let (containers, networks) = labelled(format!("{LABEL}={run_id}")).unwrap_or_default();
    for id in containers.into_iter().filter_map(|c| c.id) {
        if remove_container(&id).is_ok() {
            removed.push(format!("container {}", short(&id)));
        }
    }
    for id in networks.into_iter().filter_map(|n| n.id) {
        let gone = id.clone();
        if call("network rm", |d| async move { d.remove_network(&gone).await }).is_ok() {
            removed.push(format!("network {}", short(&id)));
        }
    }
    removed
}

/// An engine id as `docker ps` shows it.
fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Removes a container, running or not, with its anonymous volumes.
fn remove_container(id: &str) -> Result<(), String> {
    let id = id.to_string();
    call("rm", |d| async move {
        d.remove_container(
            &id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await
    })
}

/// Removes containers and networks of runs whose runner is gone.
pub fn clean() -> Result<Vec<String>, String> {
    if engine().is_err() {
        return Ok(Vec::new());
    }
    let (containers, networks) = labelled(LABEL.to_string())?;
    let mut runs: Vec<String> = Vec::new();
    let labels = containers
        .into_iter()
        .filter_map(|c| c.labels)
        .chain(networks.into_iter().filter_map(|n| n.labels));
    for mut l in labels {
        if let Some(id) = l.remove(LABEL)
            && !runs.contains(&id)
        {
            runs.push(id);
        }
    }
    let mut removed = Vec::new();
    for id in runs {
        if let Some(pid) = host::live_owner(&id) {
            eprintln!("splitbrain: run {id} is still going (pid {pid}); left alone");
            continue;
        }
        removed.extend(remove_run(&id));
        host::forget_owner(&id);
    }
    Ok(removed)
}

/// One node as a container.
pub struct Container {
    name: String,
    container: String,
    ip: Ipv4Addr,
    image: Mutex<String>,
    argv: Mutex<Vec<String>>,
    binds: Vec<PathBuf>,
    log: PathBuf,
    network: String,
    run_id: String,
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
        let name = self.container.clone();
        let inspect = call("inspect", |d| async move { d.inspect_container(&name, None).await }).ok()?;
        let pid = inspect.state?.pid?;
        u32::try_from(pid).ok().filter(|&p| p > 0)
    }

    fn start(&self) -> Result<(), String> {
        let mut created = self.created.lock().expect("container state");
        if !*created {
            let argv = self.argv.lock().expect("container argv").clone();
            let body = ContainerCreateBody {
                hostname: Some(self.name.clone()),
                image: Some(self.image.lock().expect("container image").clone()),
                entrypoint: Some(vec![argv[0].clone()]),
                cmd: Some(argv[1..].to_vec()),
                labels: Some(HashMap::from([(LABEL.to_string(), self.run_id.clone())])),
                host_config: Some(HostConfig {
                    binds: Some(self.binds.iter().map(|b| format!("{0}:{0}", b.display())).collect()),
                    network_mode: Some(self.network.clone()),
                    ..Default::default()
                }),
                networking_config: Some(NetworkingConfig {
                    endpoints_config: Some(HashMap::from([(
                        self.network.clone(),
                        EndpointSettings {
                            ipam_config: Some(EndpointIpamConfig {
                                ipv4_address: Some(self.ip.to_string()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                    )])),
                }),
                ..Default::default()
            };
            let options = CreateContainerOptions {
                name: Some(self.container.clone()),
                ..Default::default()
            };
            call(
                "create",
                |d| async move { d.create_container(Some(options), body).await },
            )?;
            *created = true;
        }
        let name = self.container.clone();
        call("start", |d| async move { d.start_container(&name, None).await })
    }

    fn kill(&self) {
        let name = self.container.clone();
        let _ = call("kill", |d| async move {
            d.kill_container(&name, Some(KillContainerOptions { signal: "KILL".into() }))
                .await
        });
    }

    fn argv(&self) -> Vec<String> {
        self.argv.lock().expect("container argv").clone()
    }

    /// A container's command is fixed when it is created: a new one is made at
    /// the next start (the log of this one kept).
    fn set_argv(&self, argv: Vec<String>) {
        let mut current = self.argv.lock().expect("container argv");
        if *current != argv {
            *current = argv;
            drop(current);
            self.remove();
            *self.created.lock().expect("container state") = false;
        }
    }

    /// Like the command, fixed at creation: a new container at the next start.
    fn set_image(&self, image: &str) {
        let mut current = self.image.lock().expect("container image");
        if *current != image {
            *current = image.to_string();
            drop(current);
            self.remove();
            *self.created.lock().expect("container state") = false;
        }
    }

    fn remove(&self) {
        let created = *self.created.lock().expect("container state");
        if created {
            let name = self.container.clone();
            let logs = call("logs", |d| async move {
                d.logs(
                    &name,
                    Some(LogsOptions {
                        stdout: true,
                        stderr: true,
                        timestamps: true,
                        ..Default::default()
                    }),
                )
                .try_fold(Vec::new(), |mut text, chunk| async move {
                    text.extend_from_slice(&chunk.into_bytes());
                    Ok(text)
                })
                .await
            });
            // appended: a container made again (new flags) keeps its predecessor's log
            if let Ok(text) = logs {
                use std::io::Write;
                let file = std::fs::OpenOptions::new().create(true).append(true).open(&self.log);
                let _ = file.and_then(|mut f| f.write_all(&text));
            }
        }
        let _ = remove_container(&self.container);
    }
}

/// The docker runtime: the nodes' image, and the binary inside it when it is
/// not at the host's path.
pub struct DockerRuntime {
    image: String,
    binary_path: Option<PathBuf>,
}

/// The images a run needs: the nodes', an upgrade's other version's, and the
/// runner image our service runs in.
pub fn needed(wanted: &Wanted) -> Vec<String> {
    let image = wanted
        .image
        .clone()
        .unwrap_or_else(|| systems::image(wanted.system, wanted.db));
    let mut needed = vec![image];
    // an upgrade's other version: an image of its own
    needed.extend(wanted.to.map(|to| systems::image(wanted.system, to)));
    needed.dedup();
    if wanted.service {
        needed.push(images::RUNNER.to_string());
    }
    needed
}

/// Docker, when an engine answers and every image the run needs exists.
pub fn choose(wanted: &Wanted) -> Result<Box<dyn Runtime>, String> {
    engine().map_err(|e| format!("no docker engine answers ({e})"))?;
    let needed = needed(wanted);
    if let Some(missing) = needed.iter().find(|t| !has_image(t)) {
        let version = missing.rsplit(':').next().unwrap_or_default();
        return Err(format!(
            "image {missing} is missing: run `splitbrain images build --system {} --version {version}`",
            wanted.system.name()
        ));
    }
    Ok(Box::new(DockerRuntime {
        image: needed[0].clone(),
        binary_path: wanted.binary_path.clone(),
    }))
}

impl Runtime for DockerRuntime {
    fn name(&self) -> &'static str {
        "docker"
    }
    fn network(&self, run_id: &str, _nodes: usize, _service: bool) -> Result<Box<dyn super::Network>, String> {
        Ok(Box::new(RunNetwork {
            net: DockerNetwork::create(run_id)?,
            image: self.image.clone(),
            binary_path: self.binary_path.clone(),
        }))
    }
    fn image(&self) -> Option<String> {
        Some(self.image.clone())
    }
    fn image_of(&self, system: &dyn systems::System, db: &dyn systems::DynDb) -> Option<String> {
        Some(systems::image(system, db))
    }
}

/// A run's bridge network and what its containers run.
struct RunNetwork {
    net: DockerNetwork,
    image: String,
    binary_path: Option<PathBuf>,
}

impl super::Network for RunNetwork {
    fn ip(&self, host: usize) -> Ipv4Addr {
        self.net.ip(host)
    }
    fn member(
        &self,
        host: usize,
        name: &str,
        role: Role,
        mut argv: Vec<String>,
        log: PathBuf,
        shared: Vec<PathBuf>,
    ) -> std::sync::Arc<dyn Member> {
        let image = match role {
            Role::Node => {
                if let Some(b) = &self.binary_path {
                    argv[0] = b.display().to_string();
                }
                self.image.as_str()
            }
            Role::Service => images::RUNNER,
        };
        std::sync::Arc::new(self.net.container(host, name, image, argv, shared, log))
    }
    fn destroy(&self) {
        self.net.destroy()
    }
}
