//! The register workload: read / write / cas on independent registers, judged
//! linearizable per key, and every node read on its own after the run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use checkers::divergence::{Divergence, Replica};
use checkers::{History, ModelKind, Options, Value};
use workloads::{BoxFuture, DynRegisters, Register, Slot, Target};

use super::{Analysis, Clients, Flags, Given, Judging, Settling, Setup, Task, Workload};
use crate::runtime::Member;
use crate::systems::DynDb;

/// How long the replicas may take to catch up and agree (longer after
/// monotonic clock faults).
const CATCH_UP_WITHIN: Duration = Duration::from_secs(10);

/// How long a run's check may take.
pub const CHECK_TIME_LIMIT: Duration = Duration::from_secs(600);

struct Registers {
    registers: Arc<dyn DynRegisters>,
    read_mode: &'static str,
    keys: u64,
    readers: u64,
}

pub fn plan(flags: &Flags, given: &Given) -> Result<Box<dyn Workload>, String> {
    let registers = given.system.registers()?;
    let read_mode = super::read_mode(flags, given.system, registers.as_ref())?;
    let concurrency = given.concurrency;
    if flags.readers > 0 && flags.readers >= concurrency {
        return Err(format!(
            "--readers {}: leave at least one writer among the {concurrency} processes (--concurrency)",
            flags.readers
        ));
    }
    Ok(Box::new(Registers {
        registers,
        read_mode,
        keys: given.keys,
        readers: flags.readers as u64,
    }))
}

impl Workload for Registers {
    fn name(&self) -> &'static str {
        "register"
    }
    fn read_mode(&self) -> &'static str {
        self.read_mode
    }
    fn describe(&self, test: &mut results::schema::TestInfo) {
        test.model = "cas-register".into();
    }
    fn start<'a>(&'a self, setup: &'a Setup<'a>) -> BoxFuture<'a, Result<Arc<dyn Clients>, String>> {
        let spec = Register {
            keys: self.keys,
            values: 5,
            readers: self.readers,
            target: Target {
                registers: self.registers.clone(),
                read_mode: self.read_mode,
                op_timeout: setup.op_timeout,
                prefix: setup.prefix.clone(),
            },
        };
        Box::pin(async move { Ok(Arc::new(RegisterClients(Arc::new(spec))) as Arc<dyn Clients>) })
    }
}

struct RegisterClients(Arc<Register>);

impl Clients for RegisterClients {
    fn process(self: Arc<Self>, slot: Slot) -> Task {
        Box::pin(self.0.clone().run_process(slot))
    }

    fn final_reads<'a>(&'a self, s: &'a Settling<'a>) -> BoxFuture<'a, Option<Divergence>> {
        Box::pin(async move {
            let spec = &self.0;
            let mut read = Vec::new();
            for (i, ip) in s.ips.iter().enumerate() {
                read = spec
                    .final_reads(*ip, workloads::FINAL_READ_PROCESS + i as u64, s.rec.as_ref())
                    .await
                    .unwrap_or_default();
                if read.len() as u64 == spec.keys {
                    break;
                }
            }
            eprintln!("splitbrain: final reads: {} of {} keys", read.len(), spec.keys);
            // a node whose monotonic clock was skewed forward and put back
            // sleeps on its timers up to the offset longer: it may catch up late
            let d = replica_check(s.db, spec, s.nodes, CATCH_UP_WITHIN + s.slack).await;
            if d.lines().is_empty() {
                eprintln!(
                    "splitbrain: every node read on its own agrees: {}",
                    d.agreeing.join(",")
                );
            }
            for line in d.lines() {
                eprintln!("splitbrain: {line}");
            }
            Some(d)
        })
    }

    fn check(&self, history: &History, judging: Judging) -> Result<Analysis, String> {
        let mut cases = judging.cases;
        if let Some(d) = judging.divergence {
            cases.push(results::junit::Case {
                class: "divergence",
                name: "every node read on its own agrees".into(),
                failure: (d.verdict != checkers::Verdict::Valid).then(|| d.lines().join("; ")),
            });
        }
        let report = linearizable(history)?;
        let junit = results::junit::suite(
            judging.test_name,
            &[results::junit::Check::Linearizability(&report, "linearizability")],
            &cases,
            judging.page,
        )?;
        let verdict = judging.divergence.map_or(report.verdict, |d| {
            crate::run::validate::worst(report.verdict, d.verdict)
        });
        Ok(Analysis::of(verdict, &report, report.to_text(), junit))
    }
}

/// The linearizability check of a register history, bounded in time: past the
/// bound the verdict is unknown, with the reason.
pub fn linearizable(history: &History) -> Result<checkers::Report, String> {
    let mut opts = Options::new(ModelKind::CasRegister);
    opts.initial = Some(Value::Nil);
    // a run never hangs in its check
    opts.time_limit = Some(CHECK_TIME_LIMIT);
    checkers::check(history, &opts).map_err(|e| format!("history.jsonl: {e}"))
}

/// Every node read on its own, in rounds until they agree or `within` has
/// passed: writes whose clients gave up (`info`) may still land after the
/// final reads, so only a disagreement that persists is a divergence. In each
/// round a node is read once it has applied as far as the furthest node had at
/// the round's start (one that never gets there is not read, so never counted
/// as agreeing), and the quorum is read again beside them.
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
