//! `splitbrain run`: start a real cluster, drive clients at it while nemeses
//! inject faults, heal, read everything once more, tear down, check, report.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use checkers::divergence::{Divergence, Replica};
use checkers::{ModelKind, Options, Record, Value};
use nemeses::scenario::Step;
use nemeses::schedule::{ClockShapeKind, ClockTarget, Clocks, Fault};
use nemeses::{ClockPlan, Cluster, Kind, Schedule, Shape};
use results::{Recorder, RunDir, Summary};
use serde_json::json;
use workloads::{
    ClientPauses, DynLocks, DynRegisters, LockSpec, PauseAt, Register, Set, Slot, Target, Tenure, WatchSpec,
};

use crate::docker::DockerNetwork;
use crate::drill::Drill;
use crate::images;
use crate::member::Member;
use crate::netns::{Network, Node, node_paths};
use crate::systems::{self, DynDb, NodeSpec, System};

// Defaults that `moot_flags` also compares against.
const NEMESIS: &str = "partition,kill,pause";
const CLOCK_SHAPES: &str = "bump,strobe,drift";
const CLOCK_TARGETS: &str = "one,leader,minority";
const CLOCK_OFFSET: f64 = 30.0;
const CLOCK_RATE: f64 = 2.0;
const STROBE_PERIOD: u64 = 10;
/// `--clock-offset`'s seconds, and a scenario clock step's `offset` (of either sign).
pub const CLOCK_OFFSETS: std::ops::RangeInclusive<f64> = 0.001..=3600.0;
/// `--clock-rate`, and a scenario's fast `rate` (a slow one is the inverse of one).
pub const CLOCK_RATES: std::ops::RangeInclusive<f64> = 1.01..=10.0;
/// `--strobe-period`'s milliseconds, and a scenario strobe's `period`.
pub const STROBE_PERIODS: std::ops::RangeInclusive<u64> = 1..=10_000;
const RTO: f64 = 300.0;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// System under test
    #[arg(long, default_value = "etcd", value_parser = systems::system_parser())]
    pub system: String,
    /// Workload
    #[arg(long, value_enum, default_value_t = WorkloadArg::Register)]
    pub workload: WorkloadArg,
    /// Lock workload: the resource the critical sections write
    #[arg(long, value_enum, default_value_t = ResourceArg::Fenced)]
    pub resource: ResourceArg,
    /// Lock workload: lease / session TTL in seconds (Consul's floor is 10)
    #[arg(long, allow_negative_numbers = true, default_value_t = 3.0)]
    pub ttl: f64,
    /// Lock workload on Consul: seconds a lock stays free after its session is
    /// invalidated (Consul's own default is 15)
    #[arg(long, allow_negative_numbers = true, default_value_t = 15.0)]
    pub lock_delay: f64,
    /// Lock workload: longest think time inside a critical section, in seconds
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.05)]
    pub think: f64,
    /// etcd's --snapshot-count for every member (entries between its
    /// snapshots; etcd's default 100000 never snapshots in a short run): small,
    /// so that snapshots, and a member catching up by one, happen within it
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::positive::<u64>, value_name = "ENTRIES")]
    pub snapshot_count: Option<u64>,
    /// Where client-pause stalls a client: hold (a lock holder or leader between
    /// its read and its write), wait (queued in an acquire or a campaign, its
    /// lease lapsing meanwhile), or any (whichever it reaches first, by a coin)
    #[arg(long, value_enum, default_value_t = PauseAtArg::Hold)]
    pub client_pause_at: PauseAtArg,
    /// Election workload: jobs a leader runs in its term, one every
    /// --job-interval, before it resigns
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::positive::<u32>, default_value_t = 20)]
    pub term_jobs: u32,
    /// Election workload: seconds between a leader's jobs
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
    pub job_interval: f64,
    /// Election workload: seconds a failover may take, from a fault that takes
    /// the leader away to the next leader's first job [default: three leases,
    /// plus Consul's lock delay]
    #[arg(long, allow_negative_numbers = true)]
    pub failover_within: Option<f64>,
    /// Faults, comma-separated: partition, kill, pause, client-pause (lock
    /// workload: one holder stalls past its lease), clock (with every other fault
    /// window, see --clock); or none
    #[arg(long, default_value = NEMESIS)]
    pub nemesis: String,
    /// Clock faults' shapes to draw from: bump (jump by --clock-offset), strobe
    /// (flip between true time and --clock-offset every --strobe-period), drift
    /// (run --clock-rate times fast, or its inverse slow), reset (true time)
    #[arg(long, default_value = CLOCK_SHAPES)]
    pub clock: String,
    /// Which clocks a clock fault skews [default: both on Go nodes (etcd, consul),
    /// wall on JVM nodes (zookeeper)]
    #[arg(long, value_enum)]
    pub clock_clocks: Option<ClocksArg>,
    /// Nodes a clock fault picks, drawn from: one, leader, minority
    #[arg(long, default_value = CLOCK_TARGETS)]
    pub clock_target: String,
    /// Seconds a bump jumps and a strobe flips by (ms to minutes: 0.001 to 3600)
    #[arg(long, allow_negative_numbers = true, default_value_t = CLOCK_OFFSET)]
    pub clock_offset: f64,
    /// Speed of a fast drift (a slow drift runs at its inverse): 1.01 to 10
    #[arg(long, allow_negative_numbers = true, default_value_t = CLOCK_RATE)]
    pub clock_rate: f64,
    /// Which way clock faults go: forward, back, or either at random
    #[arg(long, value_enum, default_value_t = DirectionArg::Both)]
    pub clock_direction: DirectionArg,
    /// Milliseconds between a strobe's flips
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::positive::<u64>, default_value_t = STROBE_PERIOD)]
    pub strobe_period: u64,
    /// Partition shapes to draw from: halves, one, majorities-ring, bridge, leader, follower
    #[arg(long, default_value = "halves,one,majorities-ring,bridge,leader,follower")]
    pub partition: String,
    /// Seconds of workload (faults included)
    #[arg(long, allow_negative_numbers = true, default_value_t = 30.0)]
    pub time_limit: f64,
    /// Folder for results: DIR/<system>-<workload>-<nemesis>/<timestamp>/, and a
    /// `latest` link beside the timestamps
    #[arg(long, default_value = "store")]
    pub results: PathBuf,
    /// Cluster size: 3 or 5
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::positive::<usize>, default_value_t = 3)]
    pub nodes: usize,
    /// Version to provision, one `splitbrain versions` lists [default: the newest available]
    #[arg(long)]
    pub version: Option<String>,
    /// Use this binary instead of a provisioned one
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// --nemesis upgrade: the version the cluster starts on (as --version)
    #[arg(long, value_name = "VERSION")]
    pub from: Option<String>,
    /// --nemesis upgrade: the version members are upgraded to, one at a time
    /// (`splitbrain versions` lists them and the documented paths)
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// --nemesis upgrade: start on this build instead of --from's
    #[arg(long, value_name = "PATH")]
    pub from_binary: Option<PathBuf>,
    /// --nemesis upgrade: upgrade to this build (e.g. the one you plan to run)
    #[arg(long, value_name = "PATH")]
    pub to_binary: Option<PathBuf>,
    /// --nemesis upgrade: also roll members back to --from: `mixed` (the
    /// default) from the mixed-version cluster, `full` once every member is
    /// upgraded (where the system refuses it, the refusal is reported)
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "mixed", value_name = "WHEN")]
    pub rollback: Option<RollbackArg>,
    /// Independent registers
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::positive::<u64>, default_value_t = 5)]
    pub keys: u64,
    /// Logical client processes, bound round-robin to nodes [default: 2 per node]
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::positive::<usize>)]
    pub concurrency: Option<usize>,
    /// How many of the processes only read (the first ones, so one per node when
    /// equal to --nodes): they keep reading while a cut-off node still answers
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::not_negative::<usize>, default_value_t = 0)]
    pub readers: usize,
    /// Reads: etcd linearizable|serializable, zookeeper sync|plain,
    /// consul consistent|default|stale [default: the first, the strongest]
    #[arg(long, value_parser = systems::read_mode_parser())]
    pub read_mode: Option<String>,
    /// Seconds before an op's outcome is unknown
    #[arg(long, allow_negative_numbers = true, default_value_t = 1.0)]
    pub op_timeout: f64,
    /// Seconds between a fault and its heal, and between a heal and the next fault
    #[arg(long, allow_negative_numbers = true, default_value_t = 5.0)]
    pub nemesis_interval: f64,
    /// Seed of the op mix and the fault schedule [default: from the clock]
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::not_negative::<u64>)]
    pub seed: Option<u64>,
    /// Where the nodes run
    #[arg(long, value_enum, default_value_t = RuntimeArg::Auto)]
    pub runtime: RuntimeArg,
    /// Docker runtime: the nodes' image [default: splitbrain/<system>:<version>]
    #[arg(long)]
    pub image: Option<String>,
    /// Docker runtime: the system's binary inside --image, when not at the host's path
    #[arg(long)]
    pub binary_path: Option<PathBuf>,
    /// Seconds to wait for the cluster to be healthy after the final heal
    #[arg(long, allow_negative_numbers = true, default_value_t = 30.0)]
    pub recovery_time: f64,
    /// Follow these steps (TOML) instead of the random fault schedule; the
    /// workload runs as long as they take (see the README's Scenarios)
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// A scenario's `runbook` step: a runbook the system ships (etcd snapshot,
    /// force-new-cluster; consul peers-json; zookeeper restore, survivors) or the path of
    /// your own script [default: the system's first]
    #[arg(long, value_name = "NAME|FILE")]
    pub runbook: Option<String>,
    /// Set workload: fail when the recovery (quorum loss to the first write and
    /// read accepted again) took longer, in seconds
    #[arg(long, allow_negative_numbers = true, default_value_t = RTO)]
    pub rto: f64,
    /// Set workload: fail when more acknowledged writes were lost [default: any
    /// number, but never a write the newest snapshot held]
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::not_negative::<usize>, value_name = "WRITES")]
    pub rpo: Option<usize>,
    /// A scenario given as text (`drill`'s shipped ones): (name, TOML).
    #[arg(skip)]
    pub scenario_text: Option<(String, String)>,
    /// The results folder's test name, when not derived from the flags (`drill`).
    #[arg(skip)]
    pub test_name: Option<String>,
}

/// `--workload`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkloadArg {
    /// read / write / cas on independent registers
    Register,
    /// acquire, read-modify-write a resource with the token, release
    Lock,
    /// campaign; the leader runs a periodic job on the resource with its term
    /// as the token while it believes it leads, then resigns
    Election,
    /// every write a key of its own, each read back after the run: what a
    /// recovery drill counts its RPO on
    Set,
    /// writers put and delete keys while a watcher on every node watches them
    /// (etcd); every event checked against the writes
    Watch,
}

/// Process ids of the watchers (one per node): apart from the writers'.
const WATCHER_PROCESS: u64 = 900_000_000;
/// How long the watchers may take to catch up after the final reads.
const WATCH_CATCH_UP: Duration = Duration::from_secs(10);

/// What a run configures on every node beyond the system's defaults.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tuning {
    /// `--nemesis member`: nodes are configured for membership changes.
    pub membership: bool,
    pub snapshot_count: Option<u64>,
}

/// `--client-pause-at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PauseAtArg {
    Hold,
    Wait,
    Any,
}

/// `--resource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ResourceArg {
    /// accepts any write
    Naive,
    /// rejects a read or write whose token is below the highest it has seen
    Fenced,
}

/// `--rollback`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RollbackArg {
    /// all members but one upgraded, then the upgraded ones back
    Mixed,
    /// every member upgraded, then one back
    Full,
}

/// `--clock-clocks`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClocksArg {
    /// REALTIME and its variants: dates, timestamps, wall-clock TTLs
    Wall,
    /// MONOTONIC, BOOTTIME and variants: timeouts, leases, elections
    Mono,
    /// both
    Both,
}

/// `--clock-direction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DirectionArg {
    Forward,
    Back,
    Both,
}

/// `--runtime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeArg {
    /// docker when an engine answers and the images exist (`splitbrain images build`), else netns
    Auto,
    /// each node a local process in a network namespace of its own
    Netns,
    /// each node a container from a local image
    Docker,
}

/// How long a run's check may take.
const CHECK_TIME_LIMIT: Duration = Duration::from_secs(600);

/// The workload a run drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    Register,
    /// Elections too: a lock held for a term of jobs.
    Lock {
        fenced: bool,
        election: bool,
    },
    Set,
    Watch,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Register => "register",
            Workload::Lock { election: false, .. } => "lock",
            Workload::Lock { election: true, .. } => "election",
            Workload::Set => "set",
            Workload::Watch => "watch",
        }
    }
}

/// Set workload: each process's pause between ops, so that the read of every
/// key after the run takes seconds, not minutes.
const SET_PACE: Duration = Duration::from_millis(20);

/// Set workload: how long the read of every key after the run may take.
const READ_BACK_WITHIN: Duration = Duration::from_secs(120);

/// Everything decided before anything starts, so bad input fails fast.
struct Plan {
    system: &'static dyn System,
    workload: Workload,
    /// The register workload's clients, or the lock workload's locks.
    registers: Option<Arc<dyn DynRegisters>>,
    locks: Option<Arc<dyn DynLocks>>,
    kinds: Vec<Kind>,
    shapes: Vec<Shape>,
    clock: ClockPlan,
    /// `--nemesis upgrade`'s steps in order, each `back` (a rollback) or not.
    upgrades: Vec<bool>,
    /// `--scenario`'s steps, in place of the schedule.
    scenario: Option<Vec<Step>>,
    /// The runbook a scenario's `runbook` step runs.
    runbook: Option<crate::runbook::Chosen>,
    /// The register workload's; empty for locks.
    read_mode: &'static str,
    concurrency: usize,
    seed: u64,
    time_limit: Duration,
    interval: Duration,
    /// The flags' seconds, checked.
    times: Times,
}

/// Seconds from flags, checked in `plan`, so none can fail to be a `Duration` later.
struct Times {
    op_timeout: Duration,
    ttl: Duration,
    lock_delay: Duration,
    think: Duration,
    job_interval: Duration,
    recovery_time: Duration,
}

/// The seconds a flag (or a scenario's `within`) takes: at least 10 ms and at most
/// a day, so that no schedule or deadline arithmetic can blow up.
pub const SECONDS: std::ops::RangeInclusive<f64> = 0.01..=86_400.0;

/// Seconds from a flag, within [`SECONDS`].
fn positive(name: &str, v: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|_| SECONDS.contains(&v))
        .ok_or_else(|| format!("--{name} must be a positive number of seconds (0.01 to 86400), got {v}"))
}

/// Checks a run's flags as `run` would before starting anything (for `suite`).
pub fn validate(args: &Args) -> Result<(), String> {
    plan(args).map(drop)
}

fn plan(args: &Args) -> Result<Plan, String> {
    let system = systems::find(&args.system)?;
    let workload = match args.workload {
        WorkloadArg::Register => Workload::Register,
        WorkloadArg::Lock | WorkloadArg::Election => Workload::Lock {
            fenced: args.resource == ResourceArg::Fenced,
            election: args.workload == WorkloadArg::Election,
        },
        WorkloadArg::Set => Workload::Set,
        WorkloadArg::Watch => Workload::Watch,
    };
    if args.nodes != 3 && args.nodes != 5 {
        return Err(format!("--nodes {}: use 3 or 5", args.nodes));
    }
    if !(1..=10_000).contains(&args.keys) {
        return Err(format!("--keys {}: use 1 to 10000", args.keys));
    }
    let kinds = faults(args, system, workload)?;
    let shapes = args
        .partition
        .split(',')
        .map(|s| {
            Shape::parse(s.trim()).ok_or_else(|| {
                format!(
                    "--partition: unknown shape {s:?}; use halves, one, majorities-ring, bridge, leader or follower"
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let clock = clock_plan(args, system)?;
    let upgrades = upgrade_steps(args, system, &kinds)?;
    check_builds(args, system)?;
    let scenario = scenario_steps(args, system, &clock)?;
    let needs_runbook = scenario.iter().flatten().any(|s| matches!(s, Step::Runbook { .. }));
    let runbook = needs_runbook
        .then(|| crate::runbook::choose(system, args.runbook.as_deref()))
        .transpose()?;
    if !(args.rto.is_finite() && args.rto > 0.0) {
        return Err(format!("--rto {}: give seconds, e.g. --rto 120", args.rto));
    }
    let mut time_limit = positive("time-limit", args.time_limit)?;
    if let Some(steps) = &scenario {
        // the workload lasts as long as the steps, and a second more
        time_limit = steps.iter().map(Step::duration).sum::<Duration>() + Duration::from_secs(1);
    }
    let (registers, locks) = match workload {
        Workload::Register | Workload::Set => (Some(system.registers()?), None),
        Workload::Watch => (None, None),
        Workload::Lock { election: false, .. } => (None, Some(system.locks()?)),
        Workload::Lock { election: true, .. } => (None, Some(system.elections()?)),
    };
    let read_mode = match (&registers, &args.read_mode) {
        (Some(r), Some(m)) => r.read_modes().iter().copied().find(|x| x == m).ok_or_else(|| {
            format!(
                "--read-mode {m}: {} reads are {}",
                system.name(),
                r.read_modes().join(", ")
            )
        })?,
        (Some(r), None) => r.read_modes()[0],
        (None, Some(_)) => return Err("--read-mode is for the register workload".into()),
        (None, None) => "",
    };
    let concurrency = args.concurrency.unwrap_or(2 * args.nodes);
    if !(1..=1000).contains(&concurrency) {
        return Err(format!("--concurrency {concurrency}: use 1 to 1000"));
    }
    if args.readers > 0 && workload != Workload::Register {
        return Err("--readers is for the register workload".into());
    }
    if !(1..=100_000).contains(&args.term_jobs) {
        return Err(format!("--term-jobs {}: use 1 to 100000", args.term_jobs));
    }
    if args.readers >= concurrency {
        return Err(format!(
            "--readers {}: leave at least one writer among the {concurrency} processes (--concurrency)",
            args.readers
        ));
    }
    let interval = positive("nemesis-interval", args.nemesis_interval)?;
    if !upgrades.is_empty() && scenario.is_none() {
        let placed = Schedule::new(&kinds, &shapes, &clock, &upgrades, args.nodes, interval, time_limit, 0).upgrades();
        if placed < upgrades.len() {
            // a step after each heal (every other interval), or every interval alone
            let per = if kinds.iter().any(|k| *k != Kind::Upgrade) {
                2
            } else {
                1
            };
            return Err(format!(
                "--nemesis upgrade takes {} steps, one per {} s, and --time-limit {} holds {placed}: use --time-limit {} or more",
                upgrades.len(),
                per as f64 * args.nemesis_interval,
                args.time_limit,
                ((upgrades.len() * per + 1) as f64 * args.nemesis_interval).ceil() + 10.0
            ));
        }
    }
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 % 1_000_000)
    });
    Ok(Plan {
        system,
        workload,
        registers,
        locks,
        kinds,
        shapes,
        clock,
        scenario,
        runbook,
        read_mode,
        concurrency,
        seed,
        time_limit,
        interval,
        upgrades,
        times: times(args)?,
    })
}

/// `--nemesis`'s faults, checked against the system and the workload.
fn faults(args: &Args, system: &dyn System, workload: Workload) -> Result<Vec<Kind>, String> {
    let kinds = if args.nemesis == "none" {
        Vec::new()
    } else {
        args.nemesis
            .split(',')
            .map(|k| {
                Kind::parse(k.trim()).ok_or_else(|| {
                    format!("--nemesis: unknown fault {k:?}; use partition, kill, pause, client-pause, clock, upgrade, member, compact, defrag, snapshot or none")
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    if args.snapshot_count.is_some() && system.name() != "etcd" {
        return Err(format!("--snapshot-count is etcd's flag; {} has none", system.name()));
    }
    if args.snapshot_count == Some(0) {
        return Err("--snapshot-count 0: give the entries between snapshots, e.g. 100".into());
    }
    for admin in [Kind::Compact, Kind::Defrag, Kind::Snapshot] {
        if kinds.contains(&admin) && !system.admin_operations().contains(&admin.name()) {
            return Err(format!(
                "--nemesis {}: {} has no such operation; its admin faults are {}",
                admin.name(),
                system.name(),
                system.admin_operations().join(", ")
            ));
        }
    }
    if kinds.contains(&Kind::ClientPause) && !matches!(workload, Workload::Lock { .. }) {
        return Err(
            "--nemesis client-pause stalls a lock holder or a leader: use it with --workload lock or election".into(),
        );
    }
    Ok(kinds)
}

/// `--scenario`'s steps (or `drill`'s shipped ones), their admin steps the system's.
fn scenario_steps(args: &Args, system: &dyn System, clock: &ClockPlan) -> Result<Option<Vec<Step>>, String> {
    let scenario = match (&args.scenario_text, &args.scenario) {
        (Some((name, text)), _) => {
            Some(crate::scenario::parse(text, args.nodes, clock).map_err(|e| format!("scenario {name}: {e}"))?)
        }
        (None, Some(path)) => Some(crate::scenario::read(path, args.nodes, clock)?),
        (None, None) => None,
    };
    for step in scenario.iter().flatten() {
        if let Step::Fault(Fault::Admin(admin, _)) = step
            && !system.admin_operations().contains(&admin.name())
        {
            return Err(format!(
                "scenario: {} is not an operation of {}; its admin operations are {}",
                admin.name(),
                system.name(),
                system.admin_operations().join(", ")
            ));
        }
    }
    Ok(scenario)
}

/// The seconds flags that become `Duration`s, checked.
fn times(args: &Args) -> Result<Times, String> {
    if let Some(within) = args.failover_within {
        positive("failover-within", within)?;
    }
    Ok(Times {
        op_timeout: positive("op-timeout", args.op_timeout)?,
        ttl: positive("ttl", args.ttl)?,
        lock_delay: Duration::try_from_secs_f64(args.lock_delay)
            .ok()
            .filter(|_| args.lock_delay <= *SECONDS.end())
            .ok_or_else(|| format!("--lock-delay {}: use 0 to 86400 seconds", args.lock_delay))?,
        think: positive("think", args.think)?,
        job_interval: positive("job-interval", args.job_interval)?,
        recovery_time: positive("recovery-time", args.recovery_time)?,
    })
}

/// `--nemesis upgrade`'s steps (`true` a rollback), from its flags, checked:
/// a version pair off the documented path is refused (a build of your own is not).
fn upgrade_steps(args: &Args, system: &dyn System, kinds: &[Kind]) -> Result<Vec<bool>, String> {
    let flags = args.to.is_some() || args.to_binary.is_some() || args.from.is_some() || args.from_binary.is_some();
    if !kinds.contains(&Kind::Upgrade) {
        if flags || args.rollback.is_some() {
            return Err(
                "--from, --to and --rollback are for --nemesis upgrade: add it, e.g. --nemesis upgrade,kill".into(),
            );
        }
        return Ok(Vec::new());
    }
    if args.to.is_none() && args.to_binary.is_none() {
        return Err(
            "--nemesis upgrade needs --to VERSION or --to-binary PATH (`splitbrain versions` lists them)".into(),
        );
    }
    if args.from.is_some() && args.version.is_some() && args.from != args.version {
        return Err("--from and --version disagree: give one".into());
    }
    if let (Some(from), Some(to)) = (args.from.as_ref().or(args.version.as_ref()), &args.to) {
        let known = system.versions();
        // the same version again exercises the procedure alone (said at the start)
        let documented = from == to
            || known
                .iter()
                .any(|p| p.version == from.as_str() && p.upgrades_to == Some(to.as_str()));
        if !documented && args.from_binary.is_none() && args.to_binary.is_none() {
            let paths: Vec<String> = known
                .iter()
                .filter_map(|p| Some(format!("{} -> {}", p.version, p.upgrades_to?)))
                .collect();
            return Err(format!(
                "{} {from} -> {to} is not a documented upgrade path; use {} (one step at a time), or --from-binary / --to-binary for your own builds",
                system.name(),
                if paths.is_empty() {
                    "--to-binary".to_string()
                } else {
                    paths.join(" or ")
                }
            ));
        }
    }
    let n = args.nodes;
    Ok(match args.rollback {
        None => vec![false; n],
        Some(RollbackArg::Mixed) => [vec![false; n - 1], vec![true; n - 1]].concat(),
        Some(RollbackArg::Full) => [vec![false; n], vec![true]].concat(),
    })
}

/// The builds a run provisions, checked before anything starts: the cluster's
/// (`--from` over `--version`, `--from-binary` over `--binary`, as `run` takes
/// them) and an upgrade's (`--to`, `--to-binary`).
fn check_builds(args: &Args, system: &dyn System) -> Result<(), String> {
    let version = match &args.from {
        Some(v) => ("from", Some(v.as_str())),
        None => ("version", args.version.as_deref()),
    };
    let binary = match &args.from_binary {
        Some(b) => ("from-binary", Some(b.as_path())),
        None => ("binary", args.binary.as_deref()),
    };
    systems::check_build(system, version, binary)?;
    systems::check_build(
        system,
        ("to", args.to.as_deref()),
        ("to-binary", args.to_binary.as_deref()),
    )
}

/// The clock nemesis's options, checked.
fn clock_plan(args: &Args, system: &dyn System) -> Result<ClockPlan, String> {
    let list = |flag: &str, value: &str, names: &[&str]| -> Result<Vec<usize>, String> {
        value
            .split(',')
            .map(|v| {
                names
                    .iter()
                    .position(|n| *n == v.trim())
                    .ok_or_else(|| format!("--{flag}: unknown value {v:?}; use {}", names.join(", ")))
            })
            .collect()
    };
    let shapes = list("clock", &args.clock, &["bump", "strobe", "drift", "reset"])?
        .into_iter()
        .map(|i| {
            [
                ClockShapeKind::Bump,
                ClockShapeKind::Strobe,
                ClockShapeKind::Drift,
                ClockShapeKind::Reset,
            ][i]
        })
        .collect();
    let targets = list("clock-target", &args.clock_target, &["one", "leader", "minority"])?
        .into_iter()
        .map(|i| [ClockTarget::One, ClockTarget::Leader, ClockTarget::Minority][i])
        .collect();
    let offset = Duration::try_from_secs_f64(args.clock_offset)
        .ok()
        .filter(|_| CLOCK_OFFSETS.contains(&args.clock_offset))
        .ok_or_else(|| {
            format!(
                "--clock-offset {}: use 0.001 to 3600 seconds (the direction is --clock-direction)",
                args.clock_offset
            )
        })?;
    if !CLOCK_RATES.contains(&args.clock_rate) {
        return Err(format!(
            "--clock-rate {}: use 1.01 to 10 (2 runs twice as fast; slow drifts run at 1/2)",
            args.clock_rate
        ));
    }
    if !STROBE_PERIODS.contains(&args.strobe_period) {
        return Err(format!("--strobe-period {}: use 1 to 10000 ms", args.strobe_period));
    }
    let clocks = match args.clock_clocks {
        None if system.jvm() => Clocks::Wall,
        None => Clocks::Both,
        Some(ClocksArg::Wall) => Clocks::Wall,
        Some(ClocksArg::Mono) => Clocks::Mono,
        Some(ClocksArg::Both) => Clocks::Both,
    };
    Ok(ClockPlan {
        shapes,
        targets,
        clocks,
        offset,
        speed: args.clock_rate,
        strobe_period: Duration::from_millis(args.strobe_period),
        direction: match args.clock_direction {
            DirectionArg::Forward => 1,
            DirectionArg::Back => -1,
            DirectionArg::Both => 0,
        },
    })
}

/// The nodes as nemeses see them, on either runtime.
struct RunCluster {
    run_id: String,
    nodes: Vec<Arc<dyn Member>>,
    db: Arc<dyn DynDb>,
    handle: tokio::runtime::Handle,
    /// The lock workload's, for `client-pause`.
    lock: Option<Arc<LockSpec>>,
    /// Provisioned when the run partitions.
    iptables: Option<nemeses::partition::Iptables>,
    /// Where a node tells its time (`System::time_url`).
    time_url: Option<(u16, &'static str)>,
    recovery: Recovery,
    upgrade: Option<crate::upgrade::Upgrade>,
    /// `--nemesis member`: nodes are configured for membership changes.
    membership: bool,
    snapshot_count: Option<u64>,
}

/// What a scenario's drill steps need: the nodes' data and command lines, the
/// runbook, and what was lost and snapshotted so far.
struct Recovery {
    system: &'static str,
    dir: PathBuf,
    members: Vec<(String, Ipv4Addr)>,
    /// Each node's command line at the start.
    argv: Vec<Vec<String>>,
    data: Vec<PathBuf>,
    rec: Arc<Recorder>,
    start: Instant,
    runbook: Option<crate::runbook::Chosen>,
    lost: std::sync::Mutex<Vec<usize>>,
    snapshots: std::sync::Mutex<Vec<PathBuf>>,
}

impl RunCluster {
    fn ips(&self) -> Vec<Ipv4Addr> {
        self.nodes.iter().map(|n| n.ip()).collect()
    }

    /// The run's upgrade, and the nodes as its steps see them.
    fn upgrading(&self) -> Result<(&crate::upgrade::Upgrade, crate::upgrade::Nodes<'_>), String> {
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
            membership: self.membership,
            snapshot_count: self.snapshot_count,
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
            membership: self.membership,
            snapshot_count: self.snapshot_count,
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
        // from a healthy cluster; etcd also refuses while a member is not yet
        // connected long enough ("unhealthy cluster"): retried for 20 s
        let start = Instant::now();
        loop {
            let tried = self.handle.block_on(async {
                self.whole().await?;
                self.db.remove_member(&ips, node).await
            });
            match tried {
                Ok(()) => break,
                // an answer lost as the member shut down (Consul's leave)
                Err(_) if member.pid().is_none() => break,
                Err(e) if start.elapsed() > Duration::from_secs(20) => {
                    return Err(format!("{} not removed within 20 s: {e}", member.name()));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
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
        let start = Instant::now();
        let whole = loop {
            match self.handle.block_on(self.whole()) {
                Ok(()) => break Ok(()),
                Err(e) if start.elapsed() > Duration::from_secs(60) => break Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        };
        whole.map_err(|e| {
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
        let lock = self.lock.as_ref().ok_or("client-pause needs the lock workload")?;
        Ok(if lock.pauses.request() {
            let who = match (lock.tenure.is_some(), lock.pause_at) {
                (false, PauseAt::Hold) => "lock holder",
                (false, PauseAt::Wait) => "client waiting for the lock",
                (false, PauseAt::Any) => "lock holder or waiter",
                (true, PauseAt::Hold) => "leader, before a job's write,",
                (true, PauseAt::Wait) => "candidate waiting in its campaign",
                (true, PauseAt::Any) => "leader or candidate",
            };
            format!(
                "the next {who} stalls {:.1} s (lease {:.1} s)",
                lock.pause().as_secs_f64(),
                lock.lease().as_secs_f64()
            )
        } else {
            "none armed: the last one is still pending or under way".into()
        })
    }
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
    runtime: &Runtime,
    tuning: Tuning,
) -> Result<(Teardown, Vec<Ipv4Addr>, Duration, Option<SocketAddr>), String> {
    let mut teardown = Teardown {
        nodes: Vec::new(),
        services: Vec::new(),
        network: None,
    };
    // absolute: containers bind-mount data dirs at the same paths
    let dir = &std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let network = teardown.network.insert(match runtime {
        Runtime::Netns => Net::Netns(Network::create(id, nodes, resource.is_some())?),
        Runtime::Docker { .. } => Net::Docker(DockerNetwork::create(id)?),
    });
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
            let node = network.member(nodes, "resource", argv, log, vec![exe], images::RUNNER);
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
        let mut argv = db.argv(&NodeSpec {
            me: i,
            members: &members,
            data_dir: &data,
            run_id: id,
            membership: tuning.membership,
            snapshot_count: tuning.snapshot_count,
        })?;
        let image = match runtime {
            Runtime::Docker { image, binary_path } => {
                if let Some(b) = binary_path {
                    argv[0] = b.display().to_string();
                }
                image.clone()
            }
            Runtime::Netns => String::new(),
        };
        // all the nodes' folder, not just this data dir: a runbook may move data
        // dirs aside and restore new ones at the same paths
        teardown
            .nodes
            .push(network.member(i, name, argv, log, vec![dir.join("nodes")], &image));
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
    Ok((teardown, ips, ready, resource_addr))
}

/// How long the replicas may take to catch up and agree (longer after
/// monotonic clock faults).
const CATCH_UP_WITHIN: Duration = Duration::from_secs(10);

/// Every node read on its own, in rounds until they agree or
/// [`CATCH_UP_WITHIN`] has passed: writes whose clients gave up (`info`) may
/// still land after the final reads, so only a disagreement that persists is a
/// divergence. In each round a node is read once it has applied as far as the
/// furthest node had at the round's start (one that never gets there is not
/// read, so never counted as agreeing), and the quorum is read again beside them.
async fn replica_check(db: &dyn DynDb, spec: &Register, nodes: &[Arc<dyn Member>], within: Duration) -> Divergence {
    let deadline = Instant::now() + within;
    loop {
        let mut target = None;
        for n in nodes {
            target = target.max(db.applied(n.ip()).await);
        }
        let mut replicas = Vec::new();
        for n in nodes {
            let caught_up = loop {
                let Some(t) = target else { break Ok(()) };
                match db.caught_up(n.ip(), t).await {
                    Ok(()) => break Ok(()),
                    Err(e) if Instant::now() >= deadline => {
                        break Err(format!("not caught up within {} s: {e}", within.as_secs()));
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            };
            let answer = match caught_up {
                Ok(()) => spec.replica_reads(n.ip(), false).await,
                Err(e) => Err(e),
            };
            replicas.push(Replica {
                node: n.name().to_string(),
                answer,
            });
        }
        let mut quorum = Vec::new();
        for n in nodes {
            if let Ok(read) = spec.replica_reads(n.ip(), true).await {
                quorum = read;
                break;
            }
        }
        let d = checkers::divergence::check(&quorum, &replicas);
        if d.verdict == checkers::Verdict::Valid || Instant::now() >= deadline {
            return d;
        }
        eprintln!(
            "splitbrain: replicas disagree for now ({}); reading them again",
            d.lines().join("; ")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
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

/// The last line of a log that is not blank or indented (a usage text's lines are).
pub(crate) fn last_words(log: &Path) -> String {
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

/// Each node's view of the membership after recovery, by node name (`n1`: the
/// names it sees, or why it gave none); says so when the views differ from the
/// cluster that was started.
async fn membership_after(db: &dyn DynDb, ips: &[Ipv4Addr]) -> serde_json::Value {
    let name = |ip: &Ipv4Addr| match ips.iter().position(|x| x == ip) {
        Some(i) => format!("n{}", i + 1),
        None => ip.to_string(),
    };
    let all: Vec<String> = ips.iter().map(name).collect();
    let mut views = serde_json::Map::new();
    let mut odd = Vec::new();
    for (i, view) in db.members(ips).await.into_iter().enumerate() {
        let seen = view.map(|v| {
            let mut names: Vec<String> = v.iter().map(name).collect();
            names.sort();
            names
        });
        if seen.as_ref() != Ok(&all) {
            odd.push(format!(
                "n{} sees {}",
                i + 1,
                seen.as_ref().map_or_else(|e| e.clone(), |v| v.join(","))
            ));
        }
        views.insert(
            format!("n{}", i + 1),
            seen.map_or_else(|e| json!({"error": e}), |v| json!(v)),
        );
    }
    if odd.is_empty() {
        eprintln!(
            "splitbrain: membership after recovery: every node sees {}",
            all.join(",")
        );
    } else {
        eprintln!("splitbrain: membership after recovery differs: {}", odd.join("; "));
    }
    serde_json::Value::Object(views)
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

/// The nemesis thread: stopped and joined (it heals on its way out) on every way
/// out, so that it never restarts a node while the nodes are torn down.
struct NemesisThread {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl NemesisThread {
    fn done(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    fn finish(&mut self) -> Result<(), String> {
        self.stop.store(true, Ordering::SeqCst);
        match self.handle.take() {
            Some(h) => h.join().map_err(|_| "nemesis thread panicked".to_string())?,
            None => Ok(()),
        }
    }
}

impl Drop for NemesisThread {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Where a run's nodes live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Runtime {
    Netns,
    /// `image` for the nodes; `binary_path` is the binary inside it when it is
    /// not at the host's path.
    Docker {
        image: String,
        binary_path: Option<PathBuf>,
    },
}

impl Runtime {
    pub fn name(&self) -> &'static str {
        match self {
            Runtime::Netns => "netns",
            Runtime::Docker { .. } => "docker",
        }
    }
}

/// A run's network on either runtime.
enum Net {
    Netns(Network),
    Docker(DockerNetwork),
}

impl Net {
    fn ip(&self, host: usize) -> Ipv4Addr {
        match self {
            Net::Netns(n) => n.ip(host),
            Net::Docker(n) => n.ip(host),
        }
    }

    /// Host `host` running `argv`; a container also needs its image and the
    /// host paths it must see (bind-mounted where they are).
    fn member(
        &self,
        host: usize,
        name: &str,
        argv: Vec<String>,
        log: PathBuf,
        binds: Vec<PathBuf>,
        image: &str,
    ) -> Arc<dyn Member> {
        match self {
            Net::Netns(n) => Arc::new(Node::new(name.into(), n.ip(host), n.ns_path(host), log, argv)),
            Net::Docker(n) => Arc::new(n.container(host, name, image, argv, binds, log)),
        }
    }

    fn destroy(&self) {
        match self {
            Net::Netns(n) => n.destroy(),
            Net::Docker(n) => n.destroy(),
        }
    }
}

/// Kills the nodes and removes the network on every way out, errors and panics included.
pub struct Teardown {
    nodes: Vec<Arc<dyn Member>>,
    /// Processes of ours beside the nodes (the resource), out of the nemeses' reach.
    services: Vec<Arc<dyn Member>>,
    network: Option<Net>,
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

pub fn run_id() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{:06x}", (nanos as u64 ^ (std::process::id() as u64) << 20) & 0xff_ffff)
}

/// Flags that the rest of the command line makes moot, said rather than ignored.
fn moot_flags(args: &Args, plan: &Plan) {
    let clock_flags = args.clock != CLOCK_SHAPES
        || args.clock_clocks.is_some()
        || args.clock_target != CLOCK_TARGETS
        || args.clock_offset != CLOCK_OFFSET
        || args.clock_rate != CLOCK_RATE
        || args.clock_direction != DirectionArg::Both
        || args.strobe_period != STROBE_PERIOD;
    let clocked = match &plan.scenario {
        Some(steps) => steps.iter().any(|s| matches!(s, Step::Fault(Fault::Clock(_)))),
        None => plan.kinds.contains(&Kind::Clock),
    };
    if clock_flags && !clocked {
        eprintln!(
            "splitbrain: warning: the --clock* flags do nothing without clock faults (--nemesis clock, or a clock step)"
        );
    }
    if args.runbook.is_some() && plan.runbook.is_none() {
        eprintln!("splitbrain: warning: --runbook does nothing without a scenario's runbook step");
    }
    if (args.rpo.is_some() || args.rto != RTO) && plan.workload != Workload::Set {
        eprintln!("splitbrain: warning: --rto and --rpo judge the set workload (drills) only");
    }
    if plan.scenario.is_some() && args.nemesis != NEMESIS {
        eprintln!(
            "splitbrain: warning: --nemesis {} is not used: --scenario's steps are the faults",
            args.nemesis
        );
    }
}

pub fn run(args: &Args) -> Result<u8, String> {
    let plan = plan(args)?;
    moot_flags(args, &plan);
    crate::netns::require_root()?;
    match crate::leftovers() {
        Ok(removed) if !removed.is_empty() => {
            eprintln!("splitbrain: removed what dead runs left: {}", removed.join(", "))
        }
        Ok(_) => {}
        Err(e) => eprintln!("splitbrain: warning: cannot clean up after dead runs: {e}"),
    }
    let db = plan.system.provision(
        args.from.as_deref().or(args.version.as_deref()),
        args.from_binary.as_deref().or(args.binary.as_deref()),
    )?;
    let to = match plan.upgrades.is_empty() {
        true => None,
        false => Some(plan.system.provision(args.to.as_deref(), args.to_binary.as_deref())?),
    };
    // ZooKeeper's binary is the java that runs each version's jars
    if let Some(to) = to
        .as_ref()
        .filter(|to| to.binary() == db.binary() && to.version() == db.version())
    {
        eprintln!(
            "splitbrain: warning: --nemesis upgrade from {0} to {0}, the same binary: only the procedure is exercised",
            to.version()
        );
    }
    let partitions = match &plan.scenario {
        Some(steps) => steps
            .iter()
            .any(|s| matches!(s, Step::Fault(Fault::Partition { .. } | Fault::Isolate(_)))),
        None => plan.kinds.contains(&Kind::Partition),
    };
    let iptables = partitions.then(crate::provision::iptables).transpose()?;
    let runtime = choose_runtime(args, &plan, db.as_ref(), to.as_deref())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(run_async(args, plan, db, to, runtime, iptables))
}

/// The runtime `--runtime` asks for; `auto` says what it chose and why.
fn choose_runtime(args: &Args, plan: &Plan, db: &dyn DynDb, to: Option<&dyn DynDb>) -> Result<Runtime, String> {
    let image = args.image.clone().unwrap_or_else(|| systems::image(plan.system, db));
    let mut needed = vec![image.clone()];
    // an upgrade's other version: an image of its own
    needed.extend(to.map(|to| systems::image(plan.system, to)));
    needed.dedup();
    if plan.workload != Workload::Register {
        needed.push(images::RUNNER.to_string());
    }
    let docker = || -> Result<Runtime, String> {
        crate::docker::engine().map_err(|e| format!("no docker engine answers ({e})"))?;
        if let Some(missing) = needed.iter().find(|t| !crate::docker::has_image(t)) {
            let version = missing.rsplit(':').next().unwrap_or_default();
            return Err(format!(
                "image {missing} is missing: run `splitbrain images build --system {} --version {version}`",
                plan.system.name()
            ));
        }
        Ok(Runtime::Docker {
            image: image.clone(),
            binary_path: args.binary_path.clone(),
        })
    };
    match args.runtime {
        RuntimeArg::Netns => Ok(Runtime::Netns),
        RuntimeArg::Docker => docker().map_err(|e| format!("--runtime docker: {e}; or use --runtime netns")),
        RuntimeArg::Auto => Ok(match docker() {
            Ok(r) => {
                eprintln!(
                    "splitbrain: runtime docker (an engine answers and {} exists)",
                    needed.join(", ")
                );
                r
            }
            Err(why) => {
                eprintln!("splitbrain: runtime netns ({why})");
                Runtime::Netns
            }
        }),
    }
}

async fn run_async(
    args: &Args,
    plan: Plan,
    db: Arc<dyn DynDb>,
    to: Option<Arc<dyn DynDb>>,
    runtime: Runtime,
    iptables: Option<nemeses::partition::Iptables>,
) -> Result<u8, String> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let terminated = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminated => {}
            }
            eprintln!("splitbrain: interrupted: healing and tearing down (the history so far is kept)");
            stop.store(true, Ordering::SeqCst);
        });
    }
    let id = run_id();
    // a scenario names the test by its file: its steps are the faults
    let faults = match &args.scenario {
        Some(path) => format!(
            "scenario-{}",
            path.file_stem().map_or("steps".into(), |s| s.to_string_lossy())
        ),
        None => args.nemesis.clone(),
    };
    let test_name = match plan.workload {
        _ if args.test_name.is_some() => args.test_name.clone().unwrap_or_default(),
        // a runbook names the test too: two drills of one system stay apart
        Workload::Register | Workload::Set | Workload::Watch => format!(
            "{}-{}-{faults}{}",
            plan.system.name(),
            plan.workload.name(),
            plan.runbook
                .as_ref()
                .map_or(String::new(), |r| format!("-{}", r.name.trim_end_matches(".sh")))
        ),
        Workload::Lock { fenced, .. } => format!(
            "{}-{}-{}-{faults}",
            plan.system.name(),
            plan.workload.name(),
            if fenced { "fenced" } else { "naive" },
        ),
    };
    let dir = RunDir::create(&args.results, &test_name)?;
    let mut test_json = json!({
        "system": plan.system.name(), "version": db.version(), "binary": db.binary(),
        "workload": plan.workload.name(), "nemesis": args.nemesis, "partition_shapes": args.partition,
        "nodes": args.nodes, "keys": args.keys, "concurrency": plan.concurrency,
        "readers": args.readers,
        "read_mode": plan.read_mode, "op_timeout_s": args.op_timeout,
        "time_limit_s": args.time_limit, "nemesis_interval_s": args.nemesis_interval,
        "seed": plan.seed, "runtime": runtime.name(), "run_id": id,
        "image": match &runtime { Runtime::Docker { image, .. } => json!(image), Runtime::Netns => json!(null) },
        "model": match plan.workload { Workload::Lock { .. } | Workload::Watch => plan.workload.name(), _ => "cas-register" },
        "initial": null,
        "resource": match plan.workload { Workload::Lock { fenced: true, .. } => json!("fenced"),
                                          Workload::Lock { fenced: false, .. } => json!("naive"),
                                          _ => json!(null) },
        "ttl_s": args.ttl, "lock_delay_s": args.lock_delay, "think_s": args.think,
        "iptables": iptables.as_ref().map(|t| t.program()),
        "scenario": match (&args.scenario_text, &args.scenario) {
            (Some((name, _)), _) => json!(name), (None, Some(p)) => json!(p.display().to_string()), _ => json!(null) },
        "runbook": plan.runbook,
        "rto_s": (plan.workload == Workload::Set).then_some(args.rto), "rpo": args.rpo,
        "drill": args.scenario_text.as_ref().map(|(name, _)| name),

        "clock": plan.kinds.contains(&Kind::Clock).then(|| json!({
            "shapes": args.clock, "clocks": plan.clock.clocks.name(), "targets": args.clock_target,
            "offset_s": args.clock_offset, "rate": args.clock_rate,
            "direction": match args.clock_direction {
                DirectionArg::Forward => "forward", DirectionArg::Back => "back", DirectionArg::Both => "both" },
            "strobe_period_ms": args.strobe_period,
        })),
    });
    if let Some(n) = args.snapshot_count {
        test_json["snapshot_count"] = json!(n);
    }
    if plan.kinds.contains(&Kind::ClientPause) {
        test_json["client_pause_at"] =
            json!(clap::ValueEnum::to_possible_value(&args.client_pause_at).map(|v| v.get_name().to_string()));
    }
    if matches!(plan.workload, Workload::Lock { election: true, .. }) {
        test_json["term_jobs"] = json!(args.term_jobs);
        test_json["job_interval_s"] = json!(args.job_interval);
        test_json["failover_within_s"] = json!(args.failover_within);
    }
    if let Some(to) = &to {
        test_json["from"] = json!(db.version());
        test_json["to"] = json!(args.to.as_ref().map_or(to.version(), |v| v.as_str()));
        test_json["from_binary"] = json!(args.from_binary);
        test_json["to_binary"] = json!(args.to_binary);
        test_json["rollback"] = json!(args.rollback.map(|r| match r {
            RollbackArg::Mixed => "mixed",
            RollbackArg::Full => "full",
        }));
    }
    dir.write_json("test.json", &test_json)?;
    eprintln!(
        "splitbrain: {} {} x{} ({} runtime, run {id}), {} clients{}, {}, seed {}",
        plan.system.name(),
        db.version(),
        args.nodes,
        runtime.name(),
        plan.concurrency,
        match plan.read_mode {
            "" => String::new(),
            mode => format!(", {mode} reads"),
        },
        match &plan.scenario {
            Some(steps) => format!(
                "scenario {} ({} steps in place of the fault schedule), at most {:.1} s",
                args.scenario_text.as_ref().map_or_else(
                    || args
                        .scenario
                        .as_ref()
                        .map_or(String::new(), |p| p.display().to_string()),
                    |(name, _)| name.clone()
                ),
                steps.len(),
                plan.time_limit.as_secs_f64()
            ),
            _ => format!(
                "nemesis {} every {} s, {} s",
                args.nemesis, args.nemesis_interval, args.time_limit
            ),
        },
        plan.seed
    );
    eprintln!("splitbrain: results in {}", dir.path.display());

    let fenced = match plan.workload {
        Workload::Lock { fenced, .. } => Some(fenced),
        Workload::Register | Workload::Set | Workload::Watch => None,
    };
    let tuning = Tuning {
        membership: plan.kinds.contains(&Kind::Member),
        snapshot_count: args.snapshot_count,
    };
    // a Ctrl-C while nodes start drops the setup, and with it the teardown guard
    let (mut teardown, ips, ready, resource) = tokio::select! {
        started = start_cluster(&id, args.nodes, db.as_ref(), &dir.path, fenced, &runtime, tuning) => started?,
        () = workloads::stopped(&stop) => return Err("interrupted during setup; nothing is left behind".into()),
    };
    eprintln!("splitbrain: cluster ready after {:.1} s", ready.as_secs_f64());

    let start = Instant::now();
    let rec = Arc::new(Recorder::create(&dir.file("history.jsonl"), start)?);
    let op_timeout = plan.times.op_timeout;
    let prefix = format!("splitbrain/{id}");
    let watch = match plan.workload {
        Workload::Watch => {
            let watches = plan.system.watches(&prefix, args.keys, op_timeout)?;
            let mut from = Err("no node answered".to_string());
            for ip in &ips {
                match watches.revision(*ip).await {
                    Ok(rev) => {
                        from = Ok(rev + 1);
                        break;
                    }
                    Err(e) => from = Err(e.message),
                }
            }
            Some(Arc::new(WatchSpec {
                watches,
                keys: args.keys,
                op_timeout,
                from: from.map_err(|e| format!("the revision the watches start from: {e}"))?,
                target: Default::default(),
                done: Default::default(),
            }))
        }
        _ => None,
    };
    let set = plan
        .registers
        .clone()
        .filter(|_| plan.workload == Workload::Set)
        .map(|registers| {
            Arc::new(Set::new(
                Target {
                    registers,
                    read_mode: plan.read_mode,
                    op_timeout,
                    prefix: prefix.clone(),
                },
                SET_PACE,
            ))
        });
    let spec = plan
        .registers
        .clone()
        .filter(|_| plan.workload == Workload::Register)
        .map(|registers| {
            Arc::new(Register {
                keys: args.keys,
                values: 5,
                readers: args.readers as u64,
                target: Target {
                    registers,
                    read_mode: plan.read_mode,
                    op_timeout,
                    prefix: prefix.clone(),
                },
            })
        });
    let lock = plan.locks.clone().zip(resource).map(|(locks, resource)| {
        Arc::new(LockSpec {
            locks,
            prefix: prefix.clone(),
            ttl: plan.times.ttl,
            lock_delay: plan.times.lock_delay,
            op_timeout,
            think: plan.times.think,
            resource,
            pauses: Arc::new(ClientPauses::default()),
            pause_at: match args.client_pause_at {
                PauseAtArg::Hold => PauseAt::Hold,
                PauseAtArg::Wait => PauseAt::Wait,
                PauseAtArg::Any => PauseAt::Any,
            },
            tenure: matches!(plan.workload, Workload::Lock { election: true, .. }).then(|| Tenure {
                jobs: args.term_jobs,
                every: plan.times.job_interval,
            }),
        })
    });
    if let Some(l) = lock.as_ref().filter(|l| l.ttl < l.lease()) {
        eprintln!(
            "splitbrain: {} leases live at least {} s: --ttl {} raised to that",
            plan.system.name(),
            l.lease().as_secs(),
            args.ttl
        );
    }
    if plan.kinds.contains(&Kind::Clock) {
        let c = &plan.clock;
        eprintln!(
            "splitbrain: clock faults: {} of {} s (drift x{}), {} clocks, on {}",
            args.clock,
            args.clock_offset,
            args.clock_rate,
            c.clocks.name(),
            args.clock_target
        );
        if plan.system.jvm() && c.clocks != Clocks::Wall {
            eprintln!(
                "splitbrain: warning: {} clocks on JVM nodes: HotSpot sleeps until absolute monotonic deadlines, \
                 so a forward skew stretches its every timed wait and a backward one makes them spin",
                c.clocks.name()
            );
        }
    }
    if let Some(l) = lock.as_ref().filter(|_| plan.kinds.contains(&Kind::ClientPause)) {
        let delay = match l.lock_delay() {
            Duration::ZERO => String::new(),
            d => format!(" + lock-delay {} s", d.as_secs_f64()),
        };
        eprintln!(
            "splitbrain: client-pause: a holder stalls {:.1} s (2 x lease {} s{delay} + 3 s), past its lease{}; \
             the run waits for a stall under way",
            l.pause().as_secs_f64(),
            l.lease().as_secs_f64(),
            if delay.is_empty() { "" } else { " and the lock-delay" },
        );
    }
    let until = start + plan.time_limit;
    // the workers' own stop: the run's, or a scenario that is over
    let work_stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for p in 0..plan.concurrency {
        let ip = ips[p % ips.len()];
        let slot = Slot {
            first: p as u64,
            stride: plan.concurrency as u64,
            ip,
            rec: rec.clone(),
            stop: work_stop.clone(),
            until,
            seed: plan.seed,
        };
        workers.push(match (&lock, &spec, &set) {
            (Some(l), _, _) => tokio::spawn(l.clone().run_process(slot)),
            (_, Some(r), _) => tokio::spawn(r.clone().run_process(slot)),
            (_, _, Some(s)) => tokio::spawn(s.clone().run_process(slot)),
            (None, None, None) => match &watch {
                Some(w) => tokio::spawn(w.clone().run_writer(slot)),
                None => unreachable!("a plan has registers, locks or watches"),
            },
        });
    }
    // watchers, one per node: they outlive the writers, through the heal and the
    // final reads, until caught up
    let watchers: Vec<_> = watch
        .iter()
        .flat_map(|w| {
            teardown.nodes.iter().enumerate().map(|(i, n)| {
                let w = w.clone();
                tokio::spawn(w.run_watcher(
                    WATCHER_PROCESS + i as u64,
                    n.name().to_string(),
                    n.ip(),
                    rec.clone(),
                    stop.clone(),
                ))
            })
        })
        .collect();
    if set.is_some() {
        workers.push(tokio::spawn(crate::drill::sample_revisions(
            db.clone(),
            teardown.nodes.clone(),
            rec.clone(),
            work_stop.clone(),
            until,
        )));
    }
    let absolute = std::fs::canonicalize(&dir.path).map_err(|e| format!("{}: {e}", dir.path.display()))?;
    let cluster = Arc::new(RunCluster {
        run_id: id.clone(),
        nodes: teardown.nodes.clone(),
        db: db.clone(),
        handle: tokio::runtime::Handle::current(),
        lock: lock.clone(),
        iptables,
        time_url: plan.system.time_url(),
        recovery: Recovery {
            system: plan.system.name(),
            members: teardown.nodes.iter().map(|n| (n.name().to_string(), n.ip())).collect(),
            argv: teardown.nodes.iter().map(|n| n.argv()).collect(),
            data: teardown
                .nodes
                .iter()
                .map(|n| node_paths(&absolute, n.name()).1)
                .collect(),
            dir: absolute.clone(),
            rec: rec.clone(),
            start,
            runbook: plan.runbook.clone(),
            lost: Default::default(),
            snapshots: Default::default(),
        },
        upgrade: to.map(|to| {
            let images = match &runtime {
                Runtime::Docker { image, .. } => Some((image.clone(), systems::image(plan.system, to.as_ref()))),
                Runtime::Netns => None,
            };
            crate::upgrade::Upgrade::new(db.clone(), to, images, absolute.join("upgrade"), args.nodes)
        }),
        membership: plan.kinds.contains(&Kind::Member),
        snapshot_count: args.snapshot_count,
    });
    let schedule = Schedule::new(
        &plan.kinds,
        &plan.shapes,
        &plan.clock,
        &plan.upgrades,
        args.nodes,
        plan.interval,
        plan.time_limit,
        plan.seed,
    );
    if let Ok((u, nodes)) = cluster.upgrading() {
        // where the upgrade starts from, as the nodes tell it
        rec.record(checkers::Op::new(
            checkers::Process::Nemesis,
            checkers::Type::Info,
            checkers::F::parse("versions"),
            u.versions(&nodes).await,
        ));
    }
    let nemesis = Arc::new(nemeses::run::Nemesis::new(cluster.clone(), rec.clone()));
    let nemesis_stop = Arc::new(AtomicBool::new(false));
    // declared after `teardown`, so dropped (stopped and joined) before the nodes go
    let mut nemesis_thread = NemesisThread {
        stop: nemesis_stop.clone(),
        handle: Some({
            let (nemesis, nemesis_stop) = (nemesis.clone(), nemesis_stop.clone());
            let steps = plan.scenario.clone();
            std::thread::spawn(move || match steps {
                Some(steps) => nemesis.run_scenario(&steps, &nemesis_stop),
                None => nemesis.run(&schedule, start, &nemesis_stop),
            })
        }),
    };

    // progress every 2 s until the workers are done: a bar on a terminal, lines in logs
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
        let bar = indicatif::ProgressBar::new(plan.time_limit.as_secs().max(1));
        bar.set_style(
            indicatif::ProgressStyle::with_template("[{elapsed:>4}] {bar:30} {pos}/{len} s  {msg}")
                .expect("progress template"),
        );
        bar
    });
    let mut last = (Instant::now(), 0usize);
    let mut ticker = tokio::time::interval(Duration::from_secs(2));
    ticker.tick().await;
    while !workers.iter().all(|w| w.is_finished()) {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => { continue; }
        }
        if stop.load(Ordering::Relaxed) {
            nemesis_stop.store(true, Ordering::SeqCst);
            work_stop.store(true, Ordering::SeqCst);
        }
        // a scenario's steps are the run: once they are done, so is the workload
        if plan.scenario.is_some() && nemesis_thread.done() {
            work_stop.store(true, Ordering::SeqCst);
        }
        rec.flush()?;
        let t = rec.tally();
        let done = t.ok + t.fail + t.info;
        let rate = (done - last.1) as f64 / last.0.elapsed().as_secs_f64();
        last = (Instant::now(), done);
        let status = format!(
            "{rate:>6.0} ops/s  ok {}  fail {}  info {}  fault: {}",
            t.ok,
            t.fail,
            t.info,
            nemesis.active().unwrap_or_else(|| "none".into())
        );
        match &bar {
            Some(bar) => {
                bar.set_position(start.elapsed().as_secs().min(bar.length().unwrap_or(0)));
                bar.set_message(status);
            }
            None => eprintln!("[{:>4.0}s] {status}", start.elapsed().as_secs_f64()),
        }
    }
    if let Some(bar) = bar {
        bar.finish();
    }
    for w in workers {
        w.await.map_err(|e| format!("client task: {e}"))??;
    }
    let nemesis_result = tokio::task::block_in_place(|| nemesis_thread.finish());

    let mut recovered = None;
    let mut membership = None;
    let mut divergence = None;
    if !stop.load(Ordering::Relaxed) {
        eprintln!("splitbrain: healed; waiting for the cluster to recover");
        recovered = tokio::select! {
            r = db.wait_ready(&ips, plan.times.recovery_time) => Some(r),
            () = workloads::stopped(&stop) => None,
        };
        let final_reads = async {
            match (&lock, &spec) {
                (Some(l), _) => match l.final_read(1_000_000_000, rec.as_ref()).await {
                    Ok(v) => eprintln!("splitbrain: final read: the resource holds {v}"),
                    Err(e) => eprintln!("splitbrain: {e}"),
                },
                (None, None) if watch.is_some() => {
                    let w = watch.as_ref().expect("the watch workload");
                    match w.final_reads(&ips, 1_000_000_000, rec.as_ref()).await {
                        Ok(rev) => eprintln!("splitbrain: final reads: {} keys at revision {rev}", args.keys),
                        Err(e) => eprintln!("splitbrain: {e}"),
                    }
                }
                (None, None) => {
                    if let Some(set) = set.as_ref().filter(|_| {
                        let whole = matches!(recovered, Some(Ok(_)));
                        if !whole {
                            eprintln!("splitbrain: the cluster did not recover: no read-back, the RPO is unknown");
                        }
                        whole
                    }) {
                        rec.record(checkers::Op::new(
                            checkers::Process::Nemesis,
                            checkers::Type::Info,
                            checkers::F::parse("read-back"),
                            Value::Int(set.keys() as i64),
                        ));
                        let started = Instant::now();
                        let back = set.read_back(&ips, 1_000_000_000, rec.clone(), READ_BACK_WITHIN).await;
                        let per_node: Vec<String> = back
                            .iter()
                            .enumerate()
                            .map(|(i, b)| format!("n{} {}", i + 1, b.read))
                            .collect();
                        eprintln!(
                            "splitbrain: read back {} keys from each node in {:.1} s: {}",
                            set.keys(),
                            started.elapsed().as_secs_f64(),
                            per_node.join(", ")
                        );
                    }
                }
                (None, Some(spec)) => {
                    let mut read = Vec::new();
                    for (i, ip) in ips.iter().enumerate() {
                        read = spec
                            .final_reads(*ip, 1_000_000_000 + i as u64, rec.as_ref())
                            .await
                            .unwrap_or_default();
                        if read.len() as u64 == args.keys {
                            break;
                        }
                    }
                    eprintln!("splitbrain: final reads: {} of {} keys", read.len(), args.keys);
                    // a node whose monotonic clock was skewed forward and put back
                    // sleeps on its timers up to the offset longer: it may catch up late
                    let mono = plan.kinds.contains(&Kind::Clock) && plan.clock.clocks != Clocks::Wall;
                    let within = CATCH_UP_WITHIN + if mono { plan.clock.offset } else { Duration::ZERO };
                    let d = replica_check(db.as_ref(), spec, &teardown.nodes, within).await;
                    if d.lines().is_empty() {
                        eprintln!(
                            "splitbrain: every node read on its own agrees: {}",
                            d.agreeing.join(",")
                        );
                    }
                    for line in d.lines() {
                        eprintln!("splitbrain: {line}");
                    }
                    return Some(d);
                }
            }
            None
        };
        if recovered.is_some() {
            divergence = tokio::select! {
                d = final_reads => d,
                () = workloads::stopped(&stop) => None,
            };
            membership = Some(membership_after(db.as_ref(), &ips).await);
        }
        if let Some(w) = &watch {
            // the watchers catch up with the final reads' revision, or give up
            let deadline = Instant::now() + WATCH_CATCH_UP;
            while !watchers.iter().all(|h| h.is_finished())
                && Instant::now() < deadline
                && !stop.load(Ordering::Relaxed)
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            w.done.store(true, Ordering::SeqCst);
        }
        if let Ok((u, nodes)) = cluster.upgrading() {
            // where the upgrade ended, once the cluster settled (etcd raises its
            // cluster version a few seconds after the last member)
            let versions = u.versions(&nodes).await;
            eprintln!("splitbrain: versions at the end: {versions}");
            rec.record(checkers::Op::new(
                checkers::Process::Nemesis,
                checkers::Type::Info,
                checkers::F::parse("versions"),
                versions,
            ));
        }
    }
    if let Some(w) = &watch {
        w.done.store(true, Ordering::SeqCst);
    }
    for h in watchers {
        h.await.map_err(|e| format!("watcher task: {e}"))??;
    }
    teardown.now();
    let interrupted = stop.load(Ordering::Relaxed);
    let history = rec.history()?;
    nemesis_result?;
    let recovery = match &recovered {
        Some(Ok(d)) => json!({"recovered": true, "after_s": d.as_secs_f64(), "membership": membership}),
        Some(Err(e)) => json!({"recovered": false, "error": e, "membership": membership}),
        None => json!(null),
    };
    let summary = Summary::of(&history);
    let page = dir.file("report.html").display().to_string();
    let expectations = nemeses::scenario::judge(&history);
    let mut cases: Vec<results::junit::Case> = expectations
        .iter()
        .map(|j| results::junit::Case {
            class: "scenario",
            name: format!("expect {} from {:.1} s", j.expect, j.from_s),
            failure: (!j.held).then(|| j.failure()),
        })
        .collect();
    let drill =
        (plan.workload == Workload::Set).then(|| Drill::judge(&history, args.rto, args.rpo, plan.runbook.as_ref()));
    if let Some(d) = &drill {
        cases.extend(d.cases());
    }
    if let Some(d) = &divergence {
        cases.push(results::junit::Case {
            class: "divergence",
            name: "every node read on its own agrees".into(),
            failure: (d.verdict != checkers::Verdict::Valid).then(|| d.lines().join("; ")),
        });
    }
    let (verdict, report_json, report_text, junit) = if watch.is_some() {
        let report = checkers::check_watch(&history).map_err(|e| format!("history.jsonl: {e}"))?;
        for w in &report.watchers {
            let mine: Vec<&str> = report
                .violations
                .iter()
                .filter(|v| v.watcher == w.watcher)
                .map(|v| v.message.as_str())
                .collect();
            cases.push(results::junit::Case {
                class: "watch",
                name: if w.kind == "notify" {
                    format!("{} read only written states, never going back", w.watcher)
                } else {
                    format!("{} saw every change in order, once, as written", w.watcher)
                },
                failure: (!mine.is_empty()).then(|| mine.join("; ")),
            });
        }
        let junit = results::junit::suite(&test_name, &[], &cases, &page)?;
        (report.verdict, json!(report), report.to_text(), junit)
    } else if let Some(l) = lock.as_ref().filter(|l| l.tenure.is_some()) {
        // a few leases for the lease to lapse and the next leader to be elected
        let within = args
            .failover_within
            .unwrap_or((l.lease() * 3 + l.lock_delay()).as_secs_f64());
        let report = checkers::check_election(&history, within).map_err(|e| format!("history.jsonl: {e}"))?;
        cases.push(results::junit::Case {
            class: "election",
            name: format!("every failover within {within} s"),
            failure: (!report.violations.is_empty()).then(|| report.violations.join("; ")),
        });
        let checks = [results::junit::Check::Lock(&report.safety)];
        let junit = results::junit::suite(&test_name, &checks, &cases, &page)?;
        (report.verdict, json!(report), report.to_text(), junit)
    } else if lock.is_some() {
        let report = checkers::lock::check_lock(&history).map_err(|e| format!("history.jsonl: {e}"))?;
        let junit = results::junit::suite(&test_name, &[results::junit::Check::Lock(&report)], &cases, &page)?;
        (report.verdict, json!(report), report.to_text(), junit)
    } else {
        let mut opts = Options::new(ModelKind::CasRegister);
        opts.initial = Some(Value::Nil);
        // a run never hangs in its check: past this the verdict is unknown, with the reason
        opts.time_limit = Some(CHECK_TIME_LIMIT);
        let check = |h: &checkers::History| checkers::check(h, &opts).map_err(|e| format!("history.jsonl: {e}"));
        match &drill {
            // a recovery may lose writes by design (its RPO, judged on its own): the
            // stretch before the loss and the one after recovery are checked apart
            Some(d) => {
                let before = check(&d.before)?;
                let after = d.after.as_ref().map(check).transpose()?;
                let mut checks = vec![results::junit::Check::Linearizability(&before, "before-loss")];
                let mut text = format!("before the quorum loss: {}", before.to_text());
                if let Some(a) = &after {
                    checks.push(results::junit::Check::Linearizability(a, "after-recovery"));
                    text.push_str(&format!("after recovery: {}", a.to_text()));
                }
                let junit = results::junit::suite(&test_name, &checks, &cases, &page)?;
                let verdict = after
                    .as_ref()
                    .map_or(before.verdict, |a| worst(before.verdict, a.verdict));
                let mut report_json = json!(before);
                report_json["after_recovery"] = json!(after);
                (verdict, report_json, text, junit)
            }
            None => {
                let report = check(&history)?;
                let junit = results::junit::suite(
                    &test_name,
                    &[results::junit::Check::Linearizability(&report, "linearizability")],
                    &cases,
                    &page,
                )?;
                let verdict = divergence
                    .as_ref()
                    .map_or(report.verdict, |d| worst(report.verdict, d.verdict));
                (verdict, json!(report), report.to_text(), junit)
            }
        }
    };
    results::folder::write_atomic(&dir.file("junit.xml"), junit.as_bytes())?;
    let missed: Vec<&nemeses::scenario::Judged> = expectations.iter().filter(|j| !j.held).collect();
    let results_json = json!({"verdict": verdict, "interrupted": interrupted, "recovery": recovery,
                              "summary": summary, "check": report_json,
                              "expectations": (!expectations.is_empty()).then_some(&expectations),
                              "drill": drill.as_ref().map(|d| d.to_json()),
                              "divergence": divergence.as_ref().map(|d| d.to_json())});
    dir.write_json("results.json", &results_json)?;
    crate::report::write(&dir.path, &results_json, &history)?;
    println!("{}", summary.to_text());
    print!("{report_text}");
    for j in &expectations {
        println!(
            "expect {} from {:.1} s: {} ({} of {} writes invoked acknowledged{}){}",
            j.expect,
            j.from_s,
            if j.held { "held" } else { "NOT HELD" },
            j.acknowledged,
            j.invoked,
            j.first_ok_after_s
                .map_or(String::new(), |t| format!(", the first after {t:.2} s")),
            j.why.as_ref().map_or(String::new(), |w| format!(": {w}")),
        );
    }
    if let Some(d) = &drill {
        print!("{}", d.to_text());
    }
    if let Some(d) = &divergence {
        match d.verdict {
            checkers::Verdict::Valid => println!("replicas: every node read on its own agrees"),
            v => println!("replicas: {}: {}", v.as_str().to_uppercase(), d.lines().join("; ")),
        }
    }
    println!("results: {}", dir.path.display());
    if let Some(Err(e)) = recovered {
        eprintln!("splitbrain: warning: {e}");
    }
    if interrupted {
        eprintln!(
            "splitbrain: run interrupted; the partial history was checked: {}",
            verdict.as_str()
        );
        return Ok(crate::EXIT_ERROR);
    }
    let mut failed: Vec<String> = missed.iter().map(|j| j.failure()).collect();
    if let Some(d) = &drill {
        failed.extend(d.violations.iter().cloned());
    }
    if !failed.is_empty() {
        for f in &failed {
            eprintln!("splitbrain: FAILED: {f}");
        }
        return Ok((verdict.exit_code() as u8).max(1));
    }
    // an upgrade cut short by the time limit validated less than was asked
    let stepped = history
        .ops
        .iter()
        .filter(|o| o.process == checkers::Process::Nemesis)
        .filter(|o| o.f == checkers::F::parse("upgrade") || o.f == checkers::F::parse("rollback"))
        .count();
    if stepped < plan.upgrades.len() {
        eprintln!(
            "splitbrain: INCOMPLETE: {stepped} of {} upgrade steps ran before the time limit (a step took longer than \
             its window): raise --time-limit; the verdict is unknown",
            plan.upgrades.len()
        );
        return Ok((verdict.exit_code() as u8).max(2));
    }
    Ok(verdict.exit_code() as u8)
}

/// The worse of two verdicts: invalid over unknown over valid.
fn worst(a: checkers::Verdict, b: checkers::Verdict) -> checkers::Verdict {
    use checkers::Verdict::*;
    match (a, b) {
        (Invalid, _) | (_, Invalid) => Invalid,
        (Unknown, _) | (_, Unknown) => Unknown,
        _ => Valid,
    }
}
