//! The set workload: every write a key of its own, each read back from every
//! node after the run; judged linearizable and, as a recovery drill, by its
//! RTO and RPO.

use std::sync::Arc;
use std::time::{Duration, Instant};

use checkers::divergence::Divergence;
use checkers::{History, Record, Value};
use workloads::{BoxFuture, DynRegisters, Set, Slot, Target};

use super::{Analysis, Clients, Flags, Given, Judged, Judging, Settling, Setup, Task, Traffic, Workload};
use crate::run::drill::{Drill, sample_revisions};
use crate::runbook::Chosen;

/// Each process's pause between ops, so that the read of every key after the
/// run takes seconds, not minutes.
const SET_PACE: Duration = Duration::from_millis(20);

/// How long the read of every key after the run may take.
const READ_BACK_WITHIN: Duration = Duration::from_secs(120);

struct Sets {
    registers: Arc<dyn DynRegisters>,
    read_mode: &'static str,
    rto: f64,
    rpo: Option<usize>,
}

pub fn plan(flags: &Flags, given: &Given) -> Result<Box<dyn Workload>, String> {
    let registers = given.system.registers()?;
    let read_mode = super::read_mode(flags, given.system, registers.as_ref())?;
    super::no_register_flags(flags, true)?;
    Ok(Box::new(Sets {
        registers,
        read_mode,
        rto: flags.rto,
        rpo: flags.rpo,
    }))
}

impl Workload for Sets {
    fn name(&self) -> &'static str {
        "set"
    }
    fn read_mode(&self) -> &'static str {
        self.read_mode
    }
    fn describe(&self, test: &mut results::schema::TestInfo) {
        test.model = "cas-register".into();
        test.rto_s = Some(self.rto);
    }
    fn start<'a>(&'a self, setup: &'a Setup<'a>) -> BoxFuture<'a, Result<Arc<dyn Clients>, String>> {
        let set = Set::new(
            Target {
                registers: self.registers.clone(),
                read_mode: self.read_mode,
                op_timeout: setup.op_timeout,
                prefix: setup.prefix.clone(),
            },
            SET_PACE,
        );
        let clients = SetClients {
            set: Arc::new(set),
            rto: self.rto,
            rpo: self.rpo,
            runbook: setup.runbook.clone(),
        };
        Box::pin(async move { Ok(Arc::new(clients) as Arc<dyn Clients>) })
    }
}

struct SetClients {
    set: Arc<Set>,
    rto: f64,
    rpo: Option<usize>,
    runbook: Option<Chosen>,
}

impl Clients for SetClients {
    fn process(self: Arc<Self>, slot: Slot) -> Task {
        Box::pin(self.set.clone().run_process(slot))
    }

    fn beside(self: Arc<Self>, t: &Traffic) -> Vec<Task> {
        vec![Box::pin(sample_revisions(
            t.db.clone(),
            t.nodes.clone(),
            t.rec.clone(),
            t.work_stop.clone(),
            t.until,
        ))]
    }

    fn final_reads<'a>(&'a self, s: &'a Settling<'a>) -> BoxFuture<'a, Option<Divergence>> {
        Box::pin(async move {
            if !s.recovered {
                eprintln!("splitbrain: the cluster did not recover: no read-back, the RPO is unknown");
                return None;
            }
            let set = &self.set;
            s.rec.record(checkers::Op::new(
                checkers::Process::Nemesis,
                checkers::Type::Info,
                checkers::F::parse("read-back"),
                Value::Int(set.keys() as i64),
            ));
            let started = Instant::now();
            let back = set
                .read_back(s.ips, workloads::FINAL_READ_PROCESS, s.rec.clone(), READ_BACK_WITHIN)
                .await;
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
            None
        })
    }

    fn check(&self, history: &History, judging: Judging) -> Result<Analysis, String> {
        let drill = Drill::judge(history, self.rto, self.rpo, self.runbook.as_ref());
        let mut cases = judging.cases;
        cases.extend(drill.cases());
        // a recovery may lose writes by design (its RPO, judged on its own): the
        // stretch before the loss and the one after recovery are checked apart
        let before = super::register::linearizable(&drill.before)?;
        let after = drill.after.as_ref().map(super::register::linearizable).transpose()?;
        let mut checks = vec![results::junit::Check::Linearizability(&before, "before-loss")];
        let mut text = format!("before the quorum loss: {}", before.to_text());
        if let Some(a) = &after {
            checks.push(results::junit::Check::Linearizability(a, "after-recovery"));
            text.push_str(&format!("after recovery: {}", a.to_text()));
        }
        let junit = results::junit::suite(judging.test_name, &checks, &cases, judging.page)?;
        let verdict = after.as_ref().map_or(before.verdict, |a| {
            crate::run::validate::worst(before.verdict, a.verdict)
        });
        let mut check = serde_json::json!(before);
        check["after_recovery"] = serde_json::json!(after);
        Ok(Analysis {
            verdict,
            check,
            text,
            junit,
            drill: Some(Judged {
                results: drill.results(),
                text: drill.to_text(),
                violations: drill.violations.clone(),
            }),
        })
    }
}
