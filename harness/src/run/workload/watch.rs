//! The watch workload: writers put and delete keys while a watcher on every
//! node watches them; every event checked against the writes (etcd: every
//! change in order, once, as written; notify-style watches: only written
//! states, never going back).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use checkers::History;
use checkers::divergence::Divergence;
use workloads::{BoxFuture, Slot, WatchSpec};

use super::{Analysis, Clients, Flags, Given, Judging, Settling, Setup, Task, Traffic, Workload};

/// Process ids of the watchers (one per node): apart from the writers'.
const WATCHER_PROCESS: u64 = 900_000_000;

struct Watching {
    keys: u64,
}

pub fn plan(flags: &Flags, given: &Given) -> Result<Box<dyn Workload>, String> {
    super::no_register_flags(flags, false)?;
    Ok(Box::new(Watching { keys: given.keys }))
}

impl Workload for Watching {
    fn name(&self) -> &'static str {
        "watch"
    }
    fn describe(&self, test: &mut results::schema::TestInfo) {
        test.model = "watch".into();
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
            Ok(Arc::new(WatchClients(Arc::new(WatchSpec {
                watches,
                keys: self.keys,
                op_timeout: setup.op_timeout,
                from: from.map_err(|e| format!("the revision the watches start from: {e}"))?,
                target: Default::default(),
                done: Default::default(),
            }))) as Arc<dyn Clients>)
        })
    }
}

struct WatchClients(Arc<WatchSpec>);

impl Clients for WatchClients {
    fn process(self: Arc<Self>, slot: Slot) -> Task {
        Box::pin(self.0.clone().run_writer(slot))
    }

    /// A watcher per node: they outlive the writers, through the heal and the
    /// final reads, until caught up.
    fn lingering(self: Arc<Self>, t: &Traffic) -> Vec<Task> {
        t.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Box::pin(self.0.clone().run_watcher(
                    WATCHER_PROCESS + i as u64,
                    n.name().to_string(),
                    n.ip(),
                    t.rec.clone(),
                    t.stop.clone(),
                )) as Task
            })
            .collect()
    }

    fn release(&self) {
        self.0.done.store(true, Ordering::SeqCst);
    }

    fn final_reads<'a>(&'a self, s: &'a Settling<'a>) -> BoxFuture<'a, Option<Divergence>> {
        Box::pin(async move {
            match self
                .0
                .final_reads(s.ips, workloads::FINAL_READ_PROCESS, s.rec.as_ref())
                .await
            {
                Ok(rev) => eprintln!("splitbrain: final reads: {} keys at revision {rev}", self.0.keys),
                Err(e) => eprintln!("splitbrain: {e}"),
            }
            None
        })
    }

    fn check(&self, history: &History, judging: Judging) -> Result<Analysis, String> {
        let report = checkers::check_watch(history).map_err(|e| format!("history.jsonl: {e}"))?;
        let mut cases = judging.cases;
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
        let junit = results::junit::suite(judging.test_name, &[], &cases, judging.page)?;
        Ok(Analysis::of(report.verdict, &report, report.to_text(), junit))
    }
}
