//! Where a run's nodes live: one folder per runtime (`netns/`, `docker/`) and
//! the registry `--runtime` picks from. A runtime creates the run's network and
//! its members (nodes and our own services); each member starts, stops, kills
//! and tells its pid, address and namespace, so that the nemeses and the run
//! never ask which runtime they are on. Adding one is a folder and a line in
//! [`REGISTRY`].

pub mod docker;
mod host;
mod member;
pub mod netns;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use host::require_root;
pub use member::Member;

use crate::systems::{DynDb, System};

/// Every runtime, in the order `--runtime auto` tries them.
const REGISTRY: &[Entry] = &[
    Entry {
        name: "docker",
        about: "each node a container from a local image",
        auto: true,
        choose: docker::choose,
        clean: docker::clean,
    },
    Entry {
        name: "netns",
        about: "each node a local process in a network namespace of its own",
        auto: true,
        choose: netns::choose,
        clean: netns::clean,
    },
];

/// One runtime in the registry.
struct Entry {
    name: &'static str,
    about: &'static str,
    /// Whether `auto` may pick it (one that needs an inventory may not).
    auto: bool,
    /// The runtime for a run, or why it cannot serve one here.
    choose: fn(&Wanted) -> Result<Box<dyn Runtime>, String>,
    /// Removes what dead runs left on this host.
    clean: fn() -> Result<Vec<String>, String>,
}

/// What a run asks of its runtime.
pub struct Wanted<'a> {
    pub system: &'static dyn System,
    pub db: &'a dyn DynDb,
    /// An upgrade's other version.
    pub to: Option<&'a dyn DynDb>,
    /// Whether our own service (the lock workload's resource) runs beside the nodes.
    pub service: bool,
    /// `--image`, `--binary-path`.
    pub image: Option<String>,
    pub binary_path: Option<PathBuf>,
}

/// A place where nodes run.
pub trait Runtime: Send + Sync {
    fn name(&self) -> &'static str;
    /// The run's network, with addresses for `nodes` nodes and, with `service`,
    /// one more for our own service.
    fn network(&self, run_id: &str, nodes: usize, service: bool) -> Result<Box<dyn Network>, String>;
    /// The image the nodes run (test.json), where nodes run images.
    fn image(&self) -> Option<String> {
        None
    }
    /// The image a node of `db` runs: an upgrade switches members to it.
    fn image_of(&self, _system: &dyn System, _db: &dyn DynDb) -> Option<String> {
        None
    }
}

/// Who a member is: a node of the cluster, or a service of ours beside them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Node,
    Service,
}

/// One run's network on a runtime.
pub trait Network: Send + Sync {
    /// Host `host`'s address: the nodes first, then the service.
    fn ip(&self, host: usize) -> Ipv4Addr;
    /// Host `host` running `argv` (not started), logging to `log`; `shared` are
    /// the host paths it must see where they are.
    fn member(
        &self,
        host: usize,
        name: &str,
        role: Role,
        argv: Vec<String>,
        log: PathBuf,
        shared: Vec<PathBuf>,
    ) -> Arc<dyn Member>;
    /// Removes what `network` created.
    fn destroy(&self);
}

/// `--runtime`: `auto` and the registry's names.
pub fn parser() -> clap::builder::PossibleValuesParser {
    let mut values = vec![
        clap::builder::PossibleValue::new("auto")
            .help("the first of docker, netns that can run here (docker: an engine answers and the images exist)"),
    ];
    values.extend(
        REGISTRY
            .iter()
            .map(|e| clap::builder::PossibleValue::new(e.name).help(e.about)),
    );
    clap::builder::PossibleValuesParser::new(values)
}

/// The runtime `name` (`auto`: the first that can run, said with why).
pub fn choose(name: &str, wanted: &Wanted) -> Result<Box<dyn Runtime>, String> {
    if name != "auto" {
        let entry = REGISTRY
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| format!("--runtime {name}: use auto, {}", names().join(", ")))?;
        return (entry.choose)(wanted).map_err(|e| {
            let other = REGISTRY.iter().find(|o| o.auto && o.name != name).map(|o| o.name);
            match other {
                Some(o) => format!("--runtime {name}: {e}; or use --runtime {o}"),
                None => format!("--runtime {name}: {e}"),
            }
        });
    }
    let mut why = Vec::new();
    for entry in REGISTRY.iter().filter(|e| e.auto) {
        match (entry.choose)(wanted) {
            Ok(r) => {
                match why.is_empty() {
                    true => eprintln!(
                        "splitbrain: runtime {} ({})",
                        r.name(),
                        ready_because(r.as_ref(), wanted)
                    ),
                    false => eprintln!("splitbrain: runtime {} ({})", r.name(), why.join("; ")),
                }
                return Ok(r);
            }
            Err(e) => why.push(e),
        }
    }
    Err(format!("no runtime can run here: {}", why.join("; ")))
}

/// Why `auto` took the first runtime it tried.
fn ready_because(r: &dyn Runtime, wanted: &Wanted) -> String {
    match r.image() {
        Some(_) => format!("an engine answers and {} exists", docker::needed(wanted).join(", ")),
        None => "it can run here".into(),
    }
}

pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|e| e.name).collect()
}

/// The netns runtime, for what always runs local processes (`bench`).
pub fn local() -> Box<dyn Runtime> {
    Box::new(netns::Netns)
}

/// Removes what runs whose runner is gone left behind, on every runtime.
pub fn clean() -> Result<Vec<String>, String> {
    let mut removed = Vec::new();
    for entry in REGISTRY.iter().rev() {
        removed.extend((entry.clean)()?);
    }
    Ok(removed)
}

/// Kills the nodes and removes the network on every way out, errors and panics included.
pub struct Teardown {
    pub nodes: Vec<Arc<dyn Member>>,
    /// Processes of ours beside the nodes (the resource), out of the nemeses' reach.
    pub services: Vec<Arc<dyn Member>>,
    pub network: Option<Box<dyn Network>>,
}

impl Teardown {
    pub fn now(&mut self) {
        // drained: a second call (the drop after an explicit one) finds nothing to do
        for n in self.nodes.drain(..).chain(self.services.drain(..)) {
            n.remove();
        }
        if let Some(net) = self.network.take() {
            net.destroy();
        }
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        self.now();
    }
}

/// Where a node's files go inside the run folder.
pub fn node_paths(run_dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        run_dir.join("nodes").join(format!("{name}.log")),
        run_dir.join("nodes").join(format!("{name}.data")),
    )
}

/// The last line of a node's log that is not blank or indented (a usage
/// text's lines are): why a node that exited did.
pub fn last_words(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let said: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with([' ', '\t']))
        .collect();
    // a usage text follows the line that says what was wrong
    let line = said
        .iter()
        .rev()
        .find(|l| !l.to_lowercase().starts_with("usage"))
        .copied()
        .unwrap_or("nothing logged");
    // a structured (zap) line: its message and fields, without the noise
    if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(line) {
        let noise = ["level", "ts", "caller", "stacktrace", "msg"];
        let mut said = fields.get("msg").and_then(|m| m.as_str()).unwrap_or("").to_string();
        for (k, v) in fields.iter().filter(|(k, _)| !noise.contains(&k.as_str())) {
            said.push_str(&format!(
                ", {k} {}",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            ));
        }
        return said.chars().take(300).collect();
    }
    line.chars().take(300).collect()
}
