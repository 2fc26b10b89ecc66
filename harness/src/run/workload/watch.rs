//! The watch workload: writers put and delete keys while a watcher on every
//! node watches them; every event checked against the writes (etcd: every
//! change in order, once, as written, and everything else its API guarantees
//! promise, with watchers started in the past, at the compaction and in the
//! future; notify-style watches: only written states, never going back).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use checkers::History;
use checkers::divergence::Divergence;
use workloads::watch::Mix;
use workloads::watch::plan::DEFAULT_MIX;
use workloads::{BoxFuture, Slot, WatchSpec};

use super::{Analysis, Clients, Flags, Given, Judging, Settling, Setup, Task, Traffic, Workload};

/// Process ids of the watchers (one per node): apart from the writers'.
const WATCHER_PROCESS: u64 = 900_000_000;

struct Watching {
    keys: u64,
    /// `--watchers` as given (or its default), and what it asks for on this
    /// system (only `now` where watches cannot start at a revision).
    spec: String,
    mix: Mix,
}

pub fn plan(flags: &Flags, given: &Given) -> Result<Box<dyn Workload>, String> {
    super::no_register_flags(flags, false)?;
    let mut spec = flags.watchers.clone().unwrap_or_else(|| DEFAULT_MIX.to_string());
    let mut mix = Mix::parse(&spec)?;
    // (no client connects here: the system's watches are asked what they can do)
    let watches = given
        .system
        .watches("splitbrain/plan", given.keys, Duration::from_secs(1))?;
    if !watches.revisions() {
        if flags.watchers.is_some() && !mix.only_now() {
            return Err(format!(
                "--watchers {spec}: {} watches begin with every key's current state; it takes only `now`",
                given.system.name()
            ));
        }
        (spec, mix) = ("now".to_string(), Mix::parse("now")?);
    }
    Ok(Box::new(Watching {
        keys: given.keys,
        spec,
        mix,
    }))
}

impl Workload for Watching {
    fn name(&self) -> &'static str {
        "watch"
    }
    fn describe(&self, test: &mut results::schema::TestInfo) {
        test.model = "watch".into();
        test.watchers = Some(self.spec.clone());
    }
    fn settings(&self) -> Vec<crate::systems::Setting> {
        vec![crate::systems::Setting::ProgressInterval(PROGRESS_INTERVAL)]
    }
    fn start<'a>(&'a self, setup: &'a Setup<'a>) -> BoxFuture<'a, Result<Arc<dyn Clients>, String>> {
        Box::pin(async move {
            let watches = setup.system.watches(&setup.prefix, self.keys, setup.op_timeout)?;
            let mut from = Err("no node answered".to_string());
            for ip in setup.ips {
                match watches.revision(*ip).await {
                    Ok(rev) => {
                        from = Ok(rev + 1);
                        break;
                    }
                    Err(e) => from = Err(e.message),
                }
            }
            Ok(Arc::new(WatchClients {
                mix: self.mix.clone(),
                seed: setup.seed,
                time_limit: setup.time_limit,
                spec: Arc::new(WatchSpec {
                    watches,
                    keys: self.keys,
                    op_timeout: setup.op_timeout,
                    from: from.map_err(|e| format!("the revision the watches start from: {e}"))?,
                    target: Default::default(),
                    done: Default::default(),
                }),
            }) as Arc<dyn Clients>)
        })
    }
}

/// What the watchers are planned from, and what every process shares.
struct WatchClients {
    mix: Mix,
    seed: u64,
    time_limit: Duration,
    spec: Arc<WatchSpec>,
}

/// How often etcd sends a progress notification to a watch that asked for them
/// (etcd's default, 10 minutes, sends none in a run).
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

impl Clients for WatchClients {
    fn process(self: Arc<Self>, slot: Slot) -> Task {
        Box::pin(self.spec.clone().run_writer(slot))
    }

    /// The watchers, planned over the cluster's nodes: they outlive the
    /// writers, through the heal and the final reads, until caught up.
    fn lingering(self: Arc<Self>, t: &Traffic) -> Vec<Task> {
        let names: Vec<String> = t.nodes.iter().map(|n| n.name().to_string()).collect();
        let plans = workloads::watch::plan::plan(&self.mix, &names, self.spec.keys, self.seed, self.time_limit);
        plans
            .into_iter()
            .enumerate()
            .map(|(i, plan)| {
                let ip = t.nodes[plan.node].ip();
                Box::pin(self.spec.clone().run_watcher(
                    WATCHER_PROCESS + i as u64,
                    plan,
                    ip,
                    t.rec.clone(),
                    t.stop.clone(),
                )) as Task
            })
            .collect()
    }

    fn release(&self) {
        self.spec.done.store(true, Ordering::SeqCst);
    }

    fn final_reads<'a>(&'a self, s: &'a Settling<'a>) -> BoxFuture<'a, Option<Divergence>> {
        Box::pin(async move {
            let spec = &self.spec;
            match spec
                .final_reads(s.ips, workloads::FINAL_READ_PROCESS, s.rec.as_ref())
                .await
            {
                Ok(rev) => {
                    eprintln!("splitbrain: final reads: {} keys at revision {rev}", spec.keys);
                    let members: Vec<_> = s.nodes.iter().map(|n| (n.name().to_string(), n.ip())).collect();
                    spec.hashes(&members, rev, workloads::FINAL_READ_PROCESS, s.rec.as_ref())
                        .await;
                }
                Err(e) => eprintln!("splitbrain: {e}"),
            }
            None
        })
    }

    fn check(&self, history: &History, judging: Judging) -> Result<Analysis, String> {
        let report = checkers::check_watch(history).map_err(|e| format!("history.jsonl: {e}"))?;
        let mut cases = judging.cases;
        cases.extend(property_cases(&report));
        let junit = results::junit::suite(judging.test_name, &[], &cases, judging.page)?;
        Ok(Analysis::of(report.verdict, &report, report.to_text(), junit))
    }
}

/// A JUnit case per property some watcher exercised (and `same` where the
/// members' hashes were taken), failing with its violations.
fn property_cases(report: &checkers::WatchReport) -> Vec<results::junit::Case> {
    let exercised = |p: &str| {
        report
            .watchers
            .iter()
            .any(|w| w.properties.get(p).is_some_and(|held| *held != "n/a"))
    };
    let mut properties: Vec<&str> = checkers::watch::WATCHER_PROPERTIES
        .into_iter()
        .filter(|p| exercised(p))
        .collect();
    if !report.hashes.is_empty() {
        properties.push("same");
    }
    properties
        .into_iter()
        .map(|p| {
            let broken: Vec<String> = report
                .violations
                .iter()
                .filter(|v| v.kind.property() == p)
                .map(|v| format!("{}: {}", v.watcher, v.message))
                .collect();
            results::junit::Case {
                class: "watch",
                name: format!("{p}: {}", checkers::watch::promise(p)),
                failure: (!broken.is_empty()).then(|| broken.join("; ")),
            }
        })
        .collect()
}
