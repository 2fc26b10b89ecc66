//! The workloads a run drives, one module each, and the registry `--workload`
//! picks from. A workload owns what is its own: the clients it builds once the
//! cluster is up, its processes, its final reads, the checker that judges it
//! and its fields in test.json. Adding one is a module and a line in [`REGISTRY`].

mod election;
mod flags;
mod lock;
mod register;
mod set;
mod watch;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use checkers::divergence::Divergence;
use checkers::{History, Verdict};
use results::Recorder;
use results::junit::Case;
use workloads::{BoxFuture, Slot};

pub use flags::{Flags, PauseAtArg, RTO, ResourceArg};

use crate::runtime::Member;
use crate::systems::{DynDb, System};

/// Every workload: its name, what `--help` says of it, and its plan.
const REGISTRY: &[Entry] = &[
    Entry {
        name: "register",
        about: "read / write / cas on independent registers",
        plan: register::plan,
    },
    Entry {
        name: "lock",
        about: "acquire, read-modify-write a resource with the token, release",
        plan: lock::plan,
    },
    Entry {
        name: "election",
        about: "campaign; the leader runs a periodic job on the resource with its term as the token while it believes it leads, then resigns",
        plan: election::plan,
    },
    Entry {
        name: "set",
        about: "every write a key of its own, each read back after the run: what a recovery drill counts its RPO on",
        plan: set::plan,
    },
    Entry {
        name: "watch",
        about: "writers put and delete keys while a watcher on every node watches them; every event checked against the writes",
        plan: watch::plan,
    },
];

struct Entry {
    name: &'static str,
    about: &'static str,
    plan: PlanFn,
}

/// A workload's plan: the workload its flags ask for, checked.
type PlanFn = fn(&Flags, &Given) -> Result<Box<dyn Workload>, String>;

/// What a workload's plan takes beside its flags.
pub struct Given {
    pub system: &'static dyn System,
    /// `--keys`.
    pub keys: u64,
    /// Logical client processes.
    pub concurrency: usize,
}

/// `--workload`: the registry's names, each with what it does.
pub fn parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        REGISTRY
            .iter()
            .map(|e| clap::builder::PossibleValue::new(e.name).help(e.about)),
    )
}

/// The workload `name`, its flags checked against the system.
pub fn plan(name: &str, flags: &Flags, given: &Given) -> Result<Box<dyn Workload>, String> {
    let entry = REGISTRY.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<&str> = REGISTRY.iter().map(|e| e.name).collect();
        format!("--workload {name}: use {}", names.join(", "))
    })?;
    if flags.watchers.is_some() && entry.name != "watch" {
        return Err("--watchers is for the watch workload".into());
    }
    (entry.plan)(flags, given)
}

/// A workload as planned, before the cluster starts.
pub trait Workload: Send + Sync {
    fn name(&self) -> &'static str;
    /// The results folder's test name after the system's: the workload, the
    /// faults and (`-name`, or empty) the runbook.
    fn test_name(&self, faults: &str, runbook: &str) -> String {
        format!("{}-{faults}{runbook}", self.name())
    }
    /// Our own service beside the nodes: the lock workload's resource, fenced or not.
    fn resource(&self) -> Option<bool> {
        None
    }
    /// Its reads' mode, for the banner ("" where it has none).
    fn read_mode(&self) -> &'static str {
        ""
    }
    /// Its own fields in test.json (the model, its flags).
    fn describe(&self, test: &mut results::schema::TestInfo);
    /// Settings of the system's own it asks every node for, where the system
    /// takes them (the watch workload: etcd's progress notifications every second).
    fn settings(&self) -> Vec<crate::systems::Setting> {
        Vec::new()
    }
    /// Whether it takes `--nemesis client-pause` (a lock holder or leader stalls).
    fn pauses_clients(&self) -> bool {
        false
    }
    /// Its clients, once the cluster is up.
    fn start<'a>(&'a self, setup: &'a Setup<'a>) -> BoxFuture<'a, Result<Arc<dyn Clients>, String>>;
}

/// What a workload's clients are built from.
pub struct Setup<'a> {
    pub system: &'static dyn System,
    /// Prefix of every key and lock name, unique per run.
    pub prefix: String,
    pub ips: &'a [Ipv4Addr],
    /// Where our service listens, when the workload has one.
    pub resource: Option<SocketAddr>,
    pub op_timeout: Duration,
    /// Whether the run's faults include client-pause.
    pub client_pauses: bool,
    /// The runbook a scenario's runbook step runs (a drill judges it).
    pub runbook: Option<crate::runbook::Chosen>,
    /// The run's seed: what a workload plans beyond its processes comes from it.
    pub seed: u64,
    pub time_limit: Duration,
}

/// What a workload's tasks beside its processes run with.
pub struct Traffic {
    pub db: Arc<dyn DynDb>,
    pub nodes: Vec<Arc<dyn Member>>,
    pub rec: Arc<Recorder>,
    /// The processes' stop (the run's, or a scenario that is over).
    pub work_stop: Arc<AtomicBool>,
    /// The run's own stop (an interrupt).
    pub stop: Arc<AtomicBool>,
    pub until: Instant,
}

/// What the final reads run with, once the faults are healed.
pub struct Settling<'a> {
    pub db: &'a dyn DynDb,
    pub nodes: &'a [Arc<dyn Member>],
    pub ips: &'a [Ipv4Addr],
    pub rec: &'a Arc<Recorder>,
    /// Whether the cluster was whole again in `--recovery-time`.
    pub recovered: bool,
    /// Longer a replica may take to catch up (after monotonic clock faults).
    pub slack: Duration,
}

/// What a checker is judged beside: the run's own cases and where its report is.
pub struct Judging<'a> {
    pub test_name: &'a str,
    /// The scenario's expectations, as cases; the workload adds its own.
    pub cases: Vec<Case>,
    pub page: &'a str,
    /// What the replicas read on their own said (the register workload's).
    pub divergence: Option<&'a Divergence>,
}

/// A checker's verdict on a history, in every form the results take.
pub struct Analysis {
    pub verdict: Verdict,
    /// results.json's `check`.
    pub check: serde_json::Value,
    /// Printed after the summary.
    pub text: String,
    pub junit: String,
    /// A drill's judgement: results.json's `drill`, its text, what it failed.
    pub drill: Option<Judged>,
}

impl Analysis {
    /// A checker's report as it is, with no drill judged beside it.
    fn of(verdict: Verdict, report: &impl serde::Serialize, text: String, junit: String) -> Analysis {
        Analysis {
            verdict,
            check: serde_json::json!(report),
            text,
            junit,
            drill: None,
        }
    }
}

/// A judgement beside the checker's: as results.json holds it, its text and what it failed.
pub struct Judged {
    pub results: results::schema::Drill,
    pub text: String,
    pub violations: Vec<String>,
}

/// A task of a workload's.
pub type Task = BoxFuture<'static, Result<(), String>>;

/// A workload's clients, once the cluster is up.
pub trait Clients: Send + Sync {
    /// One logical process in `slot`.
    fn process(self: Arc<Self>, slot: Slot) -> Task;
    /// Tasks that run beside the processes and end with them.
    fn beside(self: Arc<Self>, _traffic: &Traffic) -> Vec<Task> {
        Vec::new()
    }
    /// Tasks that outlive the processes, through the heal and the final reads,
    /// until they are done or [`Clients::release`]d (the watchers).
    fn lingering(self: Arc<Self>, _traffic: &Traffic) -> Vec<Task> {
        Vec::new()
    }
    /// Tells lingering tasks to end, done or not.
    fn release(&self) {}
    /// `--nemesis client-pause`: arms the next stall.
    fn pause_client(&self) -> Result<String, String> {
        Err("client-pause needs the lock workload".into())
    }
    /// Reads after the heal; the register workload's replicas read on their own.
    fn final_reads<'a>(&'a self, settling: &'a Settling<'a>) -> BoxFuture<'a, Option<Divergence>>;
    /// The checker's verdict on the history.
    fn check(&self, history: &History, judging: Judging) -> Result<Analysis, String>;
}

/// `--read-mode`, checked against the system's register reads (the first, the
/// strongest, by default).
fn read_mode(
    flags: &Flags,
    system: &dyn System,
    registers: &dyn workloads::DynRegisters,
) -> Result<&'static str, String> {
    let modes = registers.read_modes();
    match &flags.read_mode {
        Some(m) => modes
            .iter()
            .copied()
            .find(|x| x == m)
            .ok_or_else(|| format!("--read-mode {m}: {} reads are {}", system.name(), modes.join(", "))),
        None => Ok(modes[0]),
    }
}

/// Refuses the register workload's flags on another workload.
fn no_register_flags(flags: &Flags, reads: bool) -> Result<(), String> {
    if !reads && flags.read_mode.is_some() {
        return Err("--read-mode is for the register workload".into());
    }
    if flags.readers > 0 {
        return Err("--readers is for the register workload".into());
    }
    Ok(())
}

/// A flag's seconds as a `Duration`, within [`crate::flags::SECONDS`].
fn seconds(name: &str, v: f64) -> Result<Duration, String> {
    crate::flags::within_seconds(name, v)
}
