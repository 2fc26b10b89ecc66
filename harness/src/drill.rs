//! `splitbrain drill`: the stuck-quorum recovery drill, on a real cluster. It is
//! `run` with the set workload (every acknowledged write must stay readable)
//! and a shipped scenario of phases (steady, minority lost, quorum lost,
//! recovery by a runbook, verified), judged by RTO and RPO besides the checks.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use checkers::{Record, Value};
use clap::Parser;
use results::Recorder;
use serde_json::json;

use crate::member::Member;
use crate::run::{self, RuntimeArg};
use crate::systems::{self, DynDb};

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
    #[arg(long, value_enum, default_value_t = RuntimeArg::Auto)]
    pub runtime: RuntimeArg,
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

/// A set-workload run judged as a recovery drill: RTO, RPO and the rest from
/// the history, against `--rto` and `--rpo`, plus the two stretches to check.
pub struct Drill {
    measured: checkers::recovery::Recovery,
    pub violations: Vec<String>,
    /// Client ops up to the quorum loss (all of them without one).
    pub before: checkers::History,
    /// Those from the verified phase on, on keys written there.
    pub after: Option<checkers::History>,
    rto: f64,
    rpo: Option<usize>,
    runbook: Option<crate::runbook::Chosen>,
    /// Each runbook step and how long it took: (what, s).
    steps: Vec<(String, f64)>,
}

impl Drill {
    pub fn judge(
        history: &checkers::History,
        rto: f64,
        rpo: Option<usize>,
        runbook: Option<&crate::runbook::Chosen>,
    ) -> Drill {
        use checkers::recovery::{QUORUM_LOST, VERIFIED, measure, phase_start, stretch};
        let measured = measure(history);
        let lost = phase_start(history, QUORUM_LOST);
        let before = lost.map_or_else(|| history.clone(), |t| stretch(history, 0, t));
        let after = phase_start(history, VERIFIED).map(|t| stretch(history, t, u64::MAX));
        let mut violations = if lost.is_some() {
            measured.violations(Some(rto), rpo)
        } else {
            measured.violations(None, rpo)
        };
        // a runbook that failed says so first, with where its log is
        let failed = history
            .ops
            .iter()
            .filter(|o| o.process == checkers::Process::Nemesis && o.f == checkers::F::parse("runbook"))
            .filter_map(|o| o.value.as_str()?.strip_prefix("failed: "));
        for (i, f) in failed.enumerate() {
            violations.insert(i, f.to_string());
        }
        // runbook steps, each until the next (the last until the runbook ended)
        let marks: Vec<(String, u64)> = history
            .ops
            .iter()
            .filter(|o| o.process == checkers::Process::Nemesis)
            .filter(|o| o.f == checkers::F::parse("step") || o.f == checkers::F::parse("runbook"))
            .map(|o| (o.value.as_str().unwrap_or("").to_string(), o.time.unwrap_or(0)))
            .collect();
        let steps = marks
            .windows(2)
            .filter(|w| w[0].0 != "start" && !w[0].0.is_empty())
            .map(|w| (w[0].0.clone(), (w[1].1 - w[0].1) as f64 / 1e9))
            .collect();
        Drill {
            measured,
            violations,
            before,
            after,
            rto,
            rpo,
            runbook: runbook.cloned(),
            steps,
        }
    }

    pub fn cases(&self) -> Vec<results::junit::Case> {
        let m = &self.measured;
        let about = |needle: &str| self.violations.iter().find(|v| v.contains(needle)).cloned();
        vec![
            results::junit::Case {
                class: "drill",
                name: format!(
                    "RTO {} within {} s",
                    m.rto_s.map_or("none".into(), |r| format!("{r:.1} s")),
                    self.rto
                ),
                failure: about("RTO").or_else(|| about("no RTO")),
            },
            results::junit::Case {
                class: "drill",
                name: format!(
                    "RPO {} writes{}",
                    m.rpo,
                    self.rpo.map_or(String::new(), |r| format!(" within {r}"))
                ),
                failure: about("RPO").or_else(|| about("newest snapshot")),
            },
            results::junit::Case {
                class: "drill",
                name: "no failed write present afterwards".into(),
                failure: about("writes that failed"),
            },
            results::junit::Case {
                class: "drill",
                name: "revisions never go back".into(),
                failure: about("revision went back"),
            },
        ]
    }

    /// As results.json holds it.
    pub fn results(&self) -> results::schema::Drill {
        results::schema::Drill {
            measured: self.measured.clone(),
            violations: self.violations.clone(),
            rto_limit_s: self.rto,
            rpo_limit: self.rpo,
            runbook: self.runbook.as_ref().map(Into::into),
            steps: self
                .steps
                .iter()
                .map(|(step, took_s)| results::schema::RunbookStep {
                    step: step.clone(),
                    took_s: *took_s,
                })
                .collect(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!(self.results())
    }

    pub fn to_text(&self) -> String {
        let m = &self.measured;
        let s = |x: Option<f64>| x.map_or("none".to_string(), |v| format!("{v:.2} s"));
        let mut out = String::new();
        if let Some(r) = &self.runbook {
            out.push_str(&format!(
                "runbook {}{}\n",
                r.name,
                if r.unofficial { " (unofficial)" } else { "" }
            ));
        }
        for (step, took) in &self.steps {
            out.push_str(&format!("  {took:>6.2} s  {step}\n"));
        }
        for sn in &m.snapshots {
            out.push_str(&format!(
                "snapshot {} from {} at {:.1} s: {} writes acknowledged before it{}\n",
                sn.file.rsplit('/').next().unwrap_or(&sn.file),
                sn.node,
                sn.at_s,
                sn.acknowledged_before,
                sn.last_acknowledged
                    .map_or(String::new(), |k| format!(" (the last key {k})"))
            ));
        }
        if m.quorum_lost_s.is_some() {
            out.push_str(&format!(
                "quorum lost at {}; detected after {}; RTO {} (limit {} s)\n",
                s(m.quorum_lost_s),
                s(m.detection_s),
                s(m.rto_s),
                self.rto
            ));
        }
        out.push_str(&format!(
            "RPO {} of {} acknowledged writes lost{}{}; {} timed out yet present; {} failed yet present; {} unread\n",
            m.rpo,
            m.acknowledged,
            if m.lost.is_empty() {
                String::new()
            } else {
                format!(" (keys {})", checkers::recovery::ranges(&m.lost))
            },
            m.acked_since_snapshot.map_or(String::new(), |n| format!(
                "; {n} acknowledged after the newest snapshot"
            )),
            m.timed_out_present,
            m.failed_present.len(),
            m.unread
        ));
        out
    }
}

/// Set workload: each node's revision twice a second, as a client of that node
/// sees it, so that a restore that sends it back is caught (systems that have
/// one: etcd). Ends at once for the others.
pub async fn sample_revisions(
    db: Arc<dyn DynDb>,
    nodes: Vec<Arc<dyn Member>>,
    rec: Arc<Recorder>,
    stop: Arc<AtomicBool>,
    until: Instant,
) -> Result<(), String> {
    let mut any = false;
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        for n in &nodes {
            if let Some(rev) = db.revision(n.ip()).await {
                any = true;
                rec.record(checkers::Op::new(
                    checkers::Process::Nemesis,
                    checkers::Type::Info,
                    checkers::F::parse("revision"),
                    Value::Map(
                        vec![
                            (Value::str("node"), Value::str(n.name())),
                            (Value::str("revision"), Value::Int(rev)),
                        ]
                        .into(),
                    ),
                ));
            }
        }
        if !any {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
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
    fn a_runbook_that_failed_is_the_first_reason() {
        let op = |f: &str, v: &str, ms: u64| {
            let mut o = checkers::Op::new(
                checkers::Process::Nemesis,
                checkers::Type::Info,
                checkers::F::parse(f),
                Value::str(v),
            );
            o.time = Some(ms * 1_000_000);
            o
        };
        let history = checkers::History::new(vec![
            op("phase", checkers::recovery::QUORUM_LOST, 0),
            op("runbook", "start", 10),
            op(
                "runbook",
                "failed: runbook ours.sh exited with exit status: 2 (its log: x)",
                20,
            ),
        ]);
        let d = Drill::judge(&history, 60.0, None, None);
        assert_eq!(
            d.violations[0],
            "runbook ours.sh exited with exit status: 2 (its log: x)"
        );
        assert!(d.violations[1].contains("no RTO"), "{:?}", d.violations);
    }

    /// results.json's `drill` as it was built key by key before the struct.
    #[test]
    fn results_json_keeps_its_keys() {
        let op = |f: &str, v: &str, ms: u64| {
            let mut o = checkers::Op::new(
                checkers::Process::Nemesis,
                checkers::Type::Info,
                checkers::F::parse(f),
                Value::str(v),
            );
            o.time = Some(ms * 1_000_000);
            o
        };
        let history = checkers::History::new(vec![
            op("phase", checkers::recovery::QUORUM_LOST, 0),
            op("runbook", "start", 10),
            op("step", "stop the survivors", 15),
            op("runbook", "done", 40),
        ]);
        let runbook = crate::runbook::Chosen {
            name: "ours.sh".into(),
            script: "exit 0".into(),
            file: Some("/home/op/ours.sh".into()),
            unofficial: false,
        };
        let d = Drill::judge(&history, 60.0, Some(3), Some(&runbook));
        let mut before = json!(d.measured);
        before["violations"] = json!(d.violations);
        before["rto_limit_s"] = json!(60.0);
        before["rpo_limit"] = json!(3);
        before["runbook"] = json!(runbook);
        before["steps"] = json!([{"step": "stop the survivors", "took_s": 0.025}]);
        assert_eq!(d.to_json(), before);
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
