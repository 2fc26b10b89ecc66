//! `splitbrain drill`: the stuck-quorum recovery drill, on a real cluster. It is
//! `run` with the set workload (every acknowledged write must stay readable)
//! and a shipped scenario of phases (steady, minority lost, quorum lost,
//! recovery by a runbook, verified), judged by RTO and RPO besides the checks.

use std::path::PathBuf;

use crate::run;
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
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::positive::<usize>, default_value_t = 3)]
    pub nodes: usize,
    /// How to recover: a runbook the system ships (etcd: snapshot,
    /// force-new-cluster; consul: peers-json; zookeeper: restore, survivors (unofficial))
    /// or the path of your own script [default: the system's first]
    #[arg(long, value_name = "NAME|FILE")]
    pub runbook: Option<String>,
    /// Fail when quorum loss to the first write and read accepted again took
    /// longer (seconds)
    #[arg(long, allow_negative_numbers = true, default_value_t = 300.0)]
    pub rto: f64,
    /// Fail when more acknowledged writes were lost [default: any number, but
    /// never one the newest snapshot held]
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::not_negative::<usize>, value_name = "WRITES")]
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
    #[arg(long, default_value = "auto", value_parser = crate::runtime::parser())]
    pub runtime: String,
    /// Docker runtime: the nodes' image [default: splitbrain/<system>:<version>]
    #[arg(long)]
    pub image: Option<String>,
    /// Logical client processes [default: 2 per node]
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::positive::<usize>)]
    pub concurrency: Option<usize>,
    /// Seconds before an op's outcome is unknown
    #[arg(long, allow_negative_numbers = true, default_value_t = 1.0)]
    pub op_timeout: f64,
    /// Seed of the op mix [default: from the clock]
    #[arg(long, allow_negative_numbers = true, value_parser = crate::flags::not_negative::<u64>)]
    pub seed: Option<u64>,
}

/// The `run` a drill is: `run`'s defaults, with the drill's flags set.
fn run_args(args: &Args) -> Result<run::Args, String> {
    let system = systems::find(&args.system)?;
    let runbook = crate::runbook::choose(system, args.runbook.as_deref())?;
    let mut run = run::Args::defaults();
    run.workload = "set".into();
    run.system = args.system.clone();
    run.nodes = args.nodes;
    run.flags.rto = args.rto;
    run.results = args.results.clone();
    run.op_timeout = args.op_timeout;
    // the scenario's own `expect recovered` waited already: no long wait after it
    run.recovery_time = 10.0;
    run.runbook = Some(args.runbook.clone().unwrap_or_else(|| runbook.name.clone()));
    run.runtime = args.runtime.clone();
    run.flags.rpo = args.rpo;
    run.version = args.version.clone();
    run.binary = args.binary.clone();
    run.image = args.image.clone();
    run.concurrency = args.concurrency;
    run.seed = args.seed;
    run.scenario = args.scenario.clone();
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
    use clap::Parser;

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
        assert_eq!(r.workload, "set");
        assert_eq!(r.runbook.as_deref(), Some("snapshot"));
        assert_eq!(r.flags.rpo, Some(7));
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
        let e = run::validate(&run_args(&args(&["--rto", "-5"])).unwrap()).unwrap_err();
        assert!(e.contains("--rto -5"), "{e}");
        let e = run::validate(&run_args(&args(&["--version", "9.9.9"])).unwrap()).unwrap_err();
        assert!(
            e.starts_with("--version 9.9.9: splitbrain does not provision etcd 9.9.9"),
            "{e}"
        );
        let e = run::validate(&run_args(&args(&["--binary", "/nonexistent/etcd"])).unwrap()).unwrap_err();
        assert!(e.starts_with("--binary /nonexistent/etcd: no such file"), "{e}");
    }
}
