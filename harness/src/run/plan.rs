//! The plan: every flag checked and turned into typed values before anything
//! starts, so that bad input fails fast and nothing after this reads a flag.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nemeses::scenario::Step;
use nemeses::schedule::{Admin, ClockShapeKind, ClockTarget, Clocks, Fault};
use nemeses::{ClockPlan, Kind, Schedule, Shape};
use results::schema::{ClockFlags, TestInfo, UpgradeFlags};

use super::args::*;
use super::workload::RTO;
use super::workload::{self, Workload};
use crate::flags::{CLOCK_OFFSETS, CLOCK_RATES, STROBE_PERIODS, within_seconds};
use crate::systems::{self, System};

/// Everything decided before anything starts.
pub struct Plan {
    pub system: &'static dyn System,
    pub workload: Box<dyn Workload>,
    pub nodes: usize,
    pub kinds: Vec<Kind>,
    pub shapes: Vec<Shape>,
    pub clock: ClockPlan,
    /// `--nemesis upgrade`'s steps in order, each `back` (a rollback) or not.
    pub upgrades: Vec<bool>,
    /// `--scenario`'s steps, in place of the schedule.
    pub scenario: Option<Vec<Step>>,
    /// The runbook a scenario's `runbook` step runs.
    pub runbook: Option<crate::runbook::Chosen>,
    pub concurrency: usize,
    pub seed: u64,
    pub time_limit: Duration,
    pub interval: Duration,
    pub op_timeout: Duration,
    pub recovery_time: Duration,
    /// The builds to provision: the cluster's, and an upgrade's other one.
    pub from: Build,
    pub to: Option<Build>,
    /// `--runtime`, `--image`, `--binary-path`.
    pub runtime: String,
    pub image: Option<String>,
    pub binary_path: Option<PathBuf>,
    /// What every node is configured with beyond the system's defaults.
    pub tuning: systems::Tuning,
    pub results: PathBuf,
    pub test_name: String,
    /// test.json as far as the flags tell it; the run adds what it provisions.
    pub test: TestInfo,
    /// The banner's words for the faults.
    pub faults: String,
    /// What is said once the cluster is up (the clock faults' shape).
    pub notes: Vec<String>,
}

/// A version or an operator's build.
#[derive(Clone, Debug, Default)]
pub struct Build {
    pub version: Option<String>,
    pub binary: Option<PathBuf>,
}

/// Checks a run's flags as `run` would before starting anything (for `suite`).
pub fn validate(args: &Args) -> Result<(), String> {
    plan(args).map(drop)
}

pub fn plan(args: &Args) -> Result<Plan, String> {
    let system = systems::find(&args.system)?;
    if args.nodes != 3 && args.nodes != 5 {
        return Err(format!("--nodes {}: use 3 or 5", args.nodes));
    }
    if !(1..=10_000).contains(&args.keys) {
        return Err(format!("--keys {}: use 1 to 10000", args.keys));
    }
    let concurrency = args.concurrency.unwrap_or(2 * args.nodes);
    let given = workload::Given {
        system,
        keys: args.keys,
        concurrency,
    };
    let workload = workload::plan(&args.workload, &args.flags, &given)?;
    let kinds = faults(args, system, workload.as_ref())?;
    let shapes = args
        .partition
        .split(',')
        .map(|s| {
            Shape::parse(s.trim()).ok_or_else(|| {
                let names = Shape::names();
                let (last, rest) = names.split_last().expect("shapes");
                format!("--partition: unknown shape {s:?}; use {} or {last}", rest.join(", "))
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
    if !(args.flags.rto.is_finite() && args.flags.rto > 0.0) {
        return Err(format!("--rto {}: give seconds, e.g. --rto 120", args.flags.rto));
    }
    let mut time_limit = within_seconds("time-limit", args.time_limit)?;
    if let Some(steps) = &scenario {
        // the workload lasts as long as the steps, and a second more
        time_limit = steps.iter().map(Step::duration).sum::<Duration>() + Duration::from_secs(1);
    }
    if !(1..=1000).contains(&concurrency) {
        return Err(format!("--concurrency {concurrency}: use 1 to 1000"));
    }
    if !(1..=100_000).contains(&args.flags.term_jobs) {
        return Err(format!("--term-jobs {}: use 1 to 100000", args.flags.term_jobs));
    }
    let interval = within_seconds("nemesis-interval", args.nemesis_interval)?;
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
    let times = times(args)?;
    let mut tuning = tuning(args, &kinds, scenario.as_deref());
    tuning
        .settings
        .extend(workload.settings().into_iter().filter(|s| system.takes(*s)));
    let mut plan = Plan {
        system,
        workload,
        nodes: args.nodes,
        kinds,
        shapes,
        clock,
        scenario,
        runbook,
        concurrency,
        seed,
        time_limit,
        interval,
        upgrades,
        op_timeout: times.0,
        recovery_time: times.1,
        from: Build {
            version: args.from.clone().or(args.version.clone()),
            binary: args.from_binary.clone().or(args.binary.clone()),
        },
        to: (args.to.is_some() || args.to_binary.is_some()).then(|| Build {
            version: args.to.clone(),
            binary: args.to_binary.clone(),
        }),
        runtime: args.runtime.clone(),
        image: args.image.clone(),
        binary_path: args.binary_path.clone(),
        tuning,
        results: args.results.clone(),
        test_name: String::new(),
        test: TestInfo::default(),
        faults: String::new(),
        notes: Vec::new(),
    };
    plan.test_name = test_name(args, &plan);
    plan.test = test_record(args, &plan);
    plan.faults = faults_said(args, &plan);
    plan.notes = clock_notes(args, &plan);
    plan.notes.extend(catch_up_note(args, &plan));
    Ok(plan)
}

/// What the nodes are configured with beyond the system's defaults, for the
/// faults the run has (the schedule's `kinds`, or the scenario's steps).
fn tuning(args: &Args, kinds: &[Kind], scenario: Option<&[Step]>) -> systems::Tuning {
    let catch_up = match scenario {
        Some(steps) => steps
            .iter()
            .any(|s| matches!(s, Step::Fault(Fault::IsolateUntilSnapshot { .. }))),
        None => kinds.contains(&Kind::IsolateUntilSnapshot),
    };
    let snapshot_count = args.snapshot_count.or(catch_up.then_some(CATCH_UP_SNAPSHOT_COUNT));
    systems::Tuning {
        membership: kinds.contains(&Kind::Member),
        settings: snapshot_count
            .map(systems::Setting::SnapshotCount)
            .into_iter()
            .collect(),
        snapshot_catch_up: catch_up,
    }
}

/// `--snapshot-count` where a run brings a member back by snapshot and none
/// is given: etcd's own 100000 would take minutes of filler writes before a
/// snapshot, this one seconds.
const CATCH_UP_SNAPSHOT_COUNT: u64 = 1000;

/// Refuses a catch-up by snapshot (`what`: the flag or step that asks for it)
/// on a system splitbrain drives none on.
fn catch_up_supported(system: &dyn System, what: &str) -> Result<(), String> {
    if system.snapshot_catch_up().is_some() {
        return Ok(());
    }
    Err(format!(
        "{what}: only {} (splitbrain drives no catch-up by snapshot on {})",
        systems::catching_up_by_snapshot().join(" and "),
        system.name()
    ))
}

/// What a catch-up by snapshot configures the members with, said once the
/// cluster is up.
fn catch_up_note(args: &Args, plan: &Plan) -> Option<String> {
    if !plan.tuning.snapshot_catch_up {
        return None;
    }
    let count = match args.snapshot_count {
        Some(n) => format!("--snapshot-count {n} as given"),
        None => format!("--snapshot-count {CATCH_UP_SNAPSHOT_COUNT} (none given: a snapshot within seconds)"),
    };
    let system = plan.system.snapshot_catch_up().unwrap_or_default();
    Some(format!("isolate-until-snapshot: {count}; {system}"))
}

/// `--nemesis`'s faults, checked against the system and the workload.
fn faults(args: &Args, system: &dyn System, workload: &dyn Workload) -> Result<Vec<Kind>, String> {
    let kinds = if args.nemesis == "none" {
        Vec::new()
    } else {
        args.nemesis
            .split(',')
            .map(|k| {
                Kind::parse(k.trim()).ok_or_else(|| {
                    format!(
                        "--nemesis: unknown fault {k:?}; use {} or none",
                        Kind::names().join(", ")
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    if let Some(setting) = args.snapshot_count.map(systems::Setting::SnapshotCount)
        && !system.takes(setting)
    {
        return Err(format!(
            "{} is {}'s flag; {} has none",
            setting.flag(),
            systems::taking(setting).join(" and "),
            system.name()
        ));
    }
    if args.snapshot_count == Some(0) {
        return Err("--snapshot-count 0: give the entries between snapshots, e.g. 100".into());
    }
    for (kind, admin) in [
        (Kind::Compact, Admin::Compact),
        (Kind::Defrag, Admin::Defrag),
        (Kind::Snapshot, Admin::Snapshot),
    ] {
        if kinds.contains(&kind) && !system.admin_operations().contains(&admin) {
            return Err(format!(
                "--nemesis {}: {} has no such operation; its admin faults are {}",
                admin.name(),
                system.name(),
                admin_names(system)
            ));
        }
    }
    if kinds.contains(&Kind::IsolateUntilSnapshot) {
        catch_up_supported(system, "--nemesis isolate-until-snapshot")?;
    }
    if kinds.contains(&Kind::ClientPause) && !workload.pauses_clients() {
        return Err(
            "--nemesis client-pause stalls a lock holder or a leader: use it with --workload lock or election".into(),
        );
    }
    Ok(kinds)
}

/// A system's admin operations, by name.
fn admin_names(system: &dyn System) -> String {
    let names: Vec<&str> = system.admin_operations().iter().map(|a| a.name()).collect();
    names.join(", ")
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
        if let Step::Fault(Fault::IsolateUntilSnapshot { .. }) = step {
            catch_up_supported(system, "scenario: isolate-until-snapshot")?;
        }
        if let Step::Fault(Fault::Admin(admin, _)) = step
            && !system.admin_operations().contains(admin)
        {
            return Err(format!(
                "scenario: {} is not an operation of {}; its admin operations are {}",
                admin.name(),
                system.name(),
                admin_names(system)
            ));
        }
    }
    Ok(scenario)
}

/// The seconds flags, checked (every one, whatever the workload): the run's
/// own `--op-timeout` and `--recovery-time`.
fn times(args: &Args) -> Result<(Duration, Duration), String> {
    if let Some(within) = args.flags.failover_within {
        within_seconds("failover-within", within)?;
    }
    within_seconds("ttl", args.flags.ttl)?;
    args.flags.lock_delay()?;
    within_seconds("think", args.flags.think)?;
    within_seconds("job-interval", args.flags.job_interval)?;
    Ok((
        within_seconds("op-timeout", args.op_timeout)?,
        within_seconds("recovery-time", args.recovery_time)?,
    ))
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

/// Flags that the rest of the command line makes moot, said rather than ignored.
pub fn moot_flags(args: &Args, plan: &Plan) {
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
    if (args.flags.rpo.is_some() || args.flags.rto != RTO) && plan.workload.name() != "set" {
        eprintln!("splitbrain: warning: --rto and --rpo judge the set workload (drills) only");
    }
    if plan.scenario.is_some() && args.nemesis != NEMESIS {
        eprintln!(
            "splitbrain: warning: --nemesis {} is not used: --scenario's steps are the faults",
            args.nemesis
        );
    }
}

/// The results folder's test name: the system, the workload and its faults (a
/// scenario's by its file), or the one `drill` gives.
fn test_name(args: &Args, plan: &Plan) -> String {
    if let Some(name) = &args.test_name {
        return name.clone();
    }
    // a scenario names the test by its file: its steps are the faults
    let faults = match &args.scenario {
        Some(path) => format!(
            "scenario-{}",
            path.file_stem().map_or("steps".into(), |s| s.to_string_lossy())
        ),
        None => args.nemesis.clone(),
    };
    // a runbook names the test too: two drills of one system stay apart
    let runbook = plan
        .runbook
        .as_ref()
        .map_or(String::new(), |r| format!("-{}", r.name.trim_end_matches(".sh")));
    format!("{}-{}", plan.system.name(), plan.workload.test_name(&faults, &runbook))
}

/// test.json as the flags tell it: the run adds the versions, the runtime and
/// the run id once it has them.
fn test_record(args: &Args, plan: &Plan) -> TestInfo {
    let mut test = TestInfo {
        system: plan.system.name().into(),
        workload: plan.workload.name().into(),
        nemesis: args.nemesis.clone(),
        partition_shapes: args.partition.clone(),
        nodes: args.nodes,
        keys: args.keys,
        concurrency: plan.concurrency,
        readers: args.flags.readers,
        read_mode: plan.workload.read_mode().into(),
        op_timeout_s: args.op_timeout,
        time_limit_s: args.time_limit,
        nemesis_interval_s: args.nemesis_interval,
        seed: Some(plan.seed),
        ttl_s: args.flags.ttl,
        lock_delay_s: args.flags.lock_delay,
        think_s: args.flags.think,
        scenario: match (&args.scenario_text, &args.scenario) {
            (Some((name, _)), _) => Some(name.clone()),
            (None, Some(p)) => Some(p.display().to_string()),
            _ => None,
        },
        runbook: plan.runbook.as_ref().map(Into::into),
        rpo: args.flags.rpo,
        drill: args.scenario_text.as_ref().map(|(name, _)| name.clone()),
        clock: plan.kinds.contains(&Kind::Clock).then(|| ClockFlags {
            shapes: args.clock.clone(),
            clocks: plan.clock.clocks.name().into(),
            targets: args.clock_target.clone(),
            offset_s: args.clock_offset,
            rate: args.clock_rate,
            direction: match args.clock_direction {
                DirectionArg::Forward => "forward",
                DirectionArg::Back => "back",
                DirectionArg::Both => "both",
            }
            .into(),
            strobe_period_ms: args.strobe_period,
        }),
        // what every member ran with, a catch-up's default included
        snapshot_count: plan.tuning.snapshot_count(),
        client_pause_at: plan.kinds.contains(&Kind::ClientPause).then(|| {
            clap::ValueEnum::to_possible_value(&args.flags.client_pause_at)
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
        }),
        upgrade: (!plan.upgrades.is_empty()).then(|| UpgradeFlags {
            // the versions provisioned fill in what the flags leave open
            from: String::new(),
            to: args.to.clone().unwrap_or_default(),
            from_binary: args.from_binary.clone(),
            to_binary: args.to_binary.clone(),
            rollback: args.rollback.map(|r| match r {
                RollbackArg::Mixed => "mixed".into(),
                RollbackArg::Full => "full".into(),
            }),
        }),
        ..Default::default()
    };
    plan.workload.describe(&mut test);
    test
}

/// The banner's words for the faults: the scenario's steps, or the schedule's.
fn faults_said(args: &Args, plan: &Plan) -> String {
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
    }
}

/// The clock faults' shape, and a warning where they skew a JVM's monotonic clock.
fn clock_notes(args: &Args, plan: &Plan) -> Vec<String> {
    if !plan.kinds.contains(&Kind::Clock) {
        return Vec::new();
    }
    let c = &plan.clock;
    let mut notes = vec![format!(
        "clock faults: {} of {} s (drift x{}), {} clocks, on {}",
        args.clock,
        args.clock_offset,
        args.clock_rate,
        c.clocks.name(),
        args.clock_target
    )];
    if plan.system.jvm() && c.clocks != Clocks::Wall {
        notes.push(format!(
            "warning: {} clocks on JVM nodes: HotSpot sleeps until absolute monotonic deadlines, \
             so a forward skew stretches its every timed wait and a backward one makes them spin",
            c.clocks.name()
        ));
    }
    notes
}
