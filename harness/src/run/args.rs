//! `splitbrain run`'s flags, as the user gives them; [`super::plan`] checks them.

use std::path::PathBuf;

use crate::systems;

// Defaults that `moot_flags` also compares against.
pub const NEMESIS: &str = "partition,kill,pause";
pub const CLOCK_SHAPES: &str = "bump,strobe,drift";
pub const CLOCK_TARGETS: &str = "one,leader,minority";
pub const CLOCK_OFFSET: f64 = 30.0;
pub const CLOCK_RATE: f64 = 2.0;
pub const STROBE_PERIOD: u64 = 10;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// System under test
    #[arg(long, default_value = "etcd", value_parser = systems::system_parser())]
    pub system: String,
    /// Workload
    #[arg(long, default_value = "register", value_parser = super::workload::parser())]
    pub workload: String,
    /// The workloads' own flags.
    #[command(flatten)]
    pub flags: super::workload::Flags,
    /// etcd's --snapshot-count for every member (entries between its
    /// snapshots; etcd's default 100000 never snapshots in a short run): small,
    /// so that snapshots, and a member catching up by one, happen within it
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::positive::<u64>, value_name = "ENTRIES")]
    pub snapshot_count: Option<u64>,
    #[arg(long, default_value = NEMESIS, help = "Faults, comma-separated, or none", long_help = nemesis_help())]
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
    /// Partition shapes to draw from
    #[arg(long, default_value = "halves,one,majorities-ring,bridge,leader,follower", long_help = shapes_help())]
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
    #[arg(long, default_value = "auto", value_parser = crate::runtime::parser())]
    pub runtime: String,
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
    /// A scenario given as text (`drill`'s shipped ones): (name, TOML).
    #[arg(skip)]
    pub scenario_text: Option<(String, String)>,
    /// The results folder's test name, when not derived from the flags (`drill`).
    #[arg(skip)]
    pub test_name: Option<String>,
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

impl Args {
    /// `run`'s defaults, from the same declarations as its command line's
    /// (what `drill` sets its own flags on).
    pub fn defaults() -> Args {
        #[derive(clap::Parser)]
        struct Run {
            #[command(flatten)]
            run: Args,
        }
        <Run as clap::Parser>::parse_from(["run"]).run
    }
}

/// `--nemesis`'s long help: every fault kind with what it does.
fn nemesis_help() -> String {
    let width = nemeses::Kind::names().iter().map(|n| n.len()).max().unwrap_or(0) + 2;
    let kinds: Vec<String> = nemeses::Kind::ALL
        .iter()
        .map(|k| format!("  {:<width$}{}", k.name(), k.about()))
        .collect();
    format!("Faults, comma-separated, or none:\n{}", kinds.join("\n"))
}

/// `--partition`'s long help: the shapes there are.
fn shapes_help() -> String {
    format!("Partition shapes to draw from: {}", nemeses::Shape::names().join(", "))
}
