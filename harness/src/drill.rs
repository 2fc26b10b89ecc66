//! `splitbrain drill`: the stuck-quorum recovery drill, on a real cluster. It is
//! `run` with the set workload (every acknowledged write must stay readable)
//! and a shipped scenario of phases (steady, minority lost, quorum lost,
//! recovery by a runbook, verified), judged by RTO and RPO besides the checks.

use std::path::PathBuf;

use clap::Parser;

use crate::run::{self, RuntimeArg};
use crate::systems;

/// The shipped drills, by cluster size.
const DRILL_3: &str = include_str!("../../scenarios/drill-3.toml");
const DRILL_5: &str = include_str!("../../scenarios/drill-5.toml");

#[derive(clap::Args, Debug)]
pub struct Args {
    /// System under test
    #[arg(long, default_value = "etcd", value_parser = systems::system_parser())]
    pub system: String,
    /// Cluster size: 3 or 5
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// How to recover: a runbook the system ships (etcd: snapshot,
    /// force-new-cluster; consul: peers-json; zookeeper: restore, survivors (unofficial))
    /// or the path of your own script [default: the system's first]
    #[arg(long, value_name = "NAME|FILE")]
    pub runbook: Option<String>,
    /// Fail when quorum loss to the first write and read accepted again took
    /// longer (seconds)
    #[arg(long, default_value_t = 300.0)]
    pub rto: f64,
    /// Fail when more acknowledged writes were lost [default: any number, but
    /// never one the newest snapshot held]
    #[arg(long, value_name = "WRITES")]
    pub rpo: Option<usize>,
    /// The drill's steps (TOML, see the README's Scenarios) [default: the
    /// shipped scenarios/drill-3.toml or drill-5.toml]
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Folder for results: DIR/<system>-drill-<runbook>/<timestamp>/
    #[arg(long, default_value = "store")]
    pub results: PathBuf,
    /// Version to provision [default: the newest available]
    #[arg(long)]
    pub version: Option<String>,
    /// Use this binary instead of a provisioned one
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Where the nodes run
    #[arg(long, value_enum, default_value_t = RuntimeArg::Auto)]
    pub runtime: RuntimeArg,
    /// Docker runtime: the nodes' image [default: splitbrain/<system>:<version>]
    #[arg(long)]
    pub image: Option<String>,
    /// Logical client processes [default: 2 per node]
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Seconds before an op's outcome is unknown
    #[arg(long, default_value_t = 1.0)]
    pub op_timeout: f64,
    /// Seed of the op mix [default: from the clock]
    #[arg(long)]
    pub seed: Option<u64>,
}

/// `run`'s flags, parsed as `run` parses them.
#[derive(Parser)]
struct RunFlags {
    #[command(flatten)]
    run: run::Args,
}

/// The `run` a drill is.
fn run_args(args: &Args) -> Result<run::Args, String> {
    let system = systems::find(&args.system)?;
    let runbook = crate::runbook::choose(system, args.runbook.as_deref())?;
    let mut argv: Vec<String> = ["run", "--workload", "set"].map(String::from).into();
    let mut flag = |name: &str, value: String| argv.extend([format!("--{name}"), value]);
    flag("system", args.system.clone());
    flag("nodes", args.nodes.to_string());
    flag("rto", args.rto.to_string());
    flag("results", args.results.display().to_string());
    flag("op-timeout", args.op_timeout.to_string());
    // the scenario's own `expect recovered` waited already: no long wait after it
    flag("recovery-time", "10".into());
    flag("runbook", args.runbook.clone().unwrap_or_else(|| runbook.name.clone()));
    flag(
        "runtime",
        clap::ValueEnum::to_possible_value(&args.runtime)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default(),
    );
    for (name, value) in [
        ("rpo", args.rpo.map(|r| r.to_string())),
        ("version", args.version.clone()),
        ("binary", args.binary.as_ref().map(|b| b.display().to_string())),
        ("image", args.image.clone()),
        ("concurrency", args.concurrency.map(|c| c.to_string())),
        ("seed", args.seed.map(|s| s.to_string())),
        ("scenario", args.scenario.as_ref().map(|s| s.display().to_string())),
    ] {
        if let Some(v) = value {
            flag(name, v);
        }
    }
    let mut run = RunFlags::try_parse_from(&argv)
        .map_err(|e| e.render().to_string().lines().next().unwrap_or("bad flags").to_string())?
        .run;
    if args.scenario.is_none() {
        run.scenario_text = Some(match args.nodes {
            3 => ("drill-3".into(), DRILL_3.into()),
            5 => ("drill-5".into(), DRILL_5.into()),
            n => return Err(format!("--nodes {n}: use 3 or 5")),
        });
    }
    let stem = runbook.name.trim_end_matches(".sh").to_string();
    run.test_name = Some(format!("{}-drill-{stem}", args.system));
    if runbook.unofficial {
        eprintln!(
            "splitbrain: runbook {} is UNOFFICIAL: no {} document describes it",
            runbook.name, args.system
        );
    }
    Ok(run)
}

pub fn run(args: &Args) -> Result<u8, String> {
    run::run(&run_args(args)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        #[derive(Parser)]
        struct Drill {
            #[command(flatten)]
            drill: Args,
        }
        let mut argv = vec!["drill"];
        argv.extend(extra);
        Drill::try_parse_from(argv).unwrap().drill
    }

    #[test]
    fn a_drill_is_a_run_of_the_set_workload_through_the_shipped_scenario() {
        let r = run_args(&args(&["--system", "etcd", "--rpo", "7"])).unwrap();
        assert_eq!(r.workload, run::WorkloadArg::Set);
        assert_eq!(r.runbook.as_deref(), Some("snapshot"));
        assert_eq!(r.rpo, Some(7));
        assert_eq!(r.test_name.as_deref(), Some("etcd-drill-snapshot"));
        assert_eq!(r.scenario_text.as_ref().map(|(n, _)| n.as_str()), Some("drill-3"));
        run::validate(&r).unwrap();
        let five = run_args(&args(&["--system", "consul", "--nodes", "5"])).unwrap();
        assert_eq!(five.scenario_text.as_ref().map(|(n, _)| n.as_str()), Some("drill-5"));
        assert_eq!(five.test_name.as_deref(), Some("consul-drill-peers-json"));
        run::validate(&five).unwrap();
    }

    #[test]
    fn bad_drills_say_what_to_do() {
        let e = run_args(&args(&["--system", "etcd", "--runbook", "nope"])).unwrap_err();
        assert!(e.contains("etcd's runbooks are snapshot, force-new-cluster"), "{e}");
        let e = run_args(&args(&["--nodes", "4"])).unwrap_err();
        assert!(e.contains("--nodes 4: use 3 or 5"), "{e}");
        let e = run::validate(&run_args(&args(&["--rto=0"])).unwrap()).unwrap_err();
        assert!(e.contains("--rto 0"), "{e}");
    }
}
