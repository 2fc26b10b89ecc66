//! The lock workload: acquire, read-modify-write a resource of ours with the
//! fencing token, release; judged by lock safety. The election workload is
//! this with a tenure (`election.rs`).

use std::sync::Arc;
use std::time::Duration;

use checkers::History;
use checkers::divergence::Divergence;
use workloads::{BoxFuture, ClientPauses, DynLocks, LockSpec, PauseAt, Slot, Tenure};

use super::{Analysis, Clients, Flags, Given, Judging, PauseAtArg, ResourceArg, Settling, Setup, Task, Workload};

/// The lock or election workload, as planned.
pub struct Locking {
    pub locks: Arc<dyn DynLocks>,
    pub fenced: bool,
    pub ttl: Duration,
    pub lock_delay: Duration,
    pub think: Duration,
    pub pause_at: PauseAt,
    /// Elections: a leader's term, and how long a failover may take (`None`:
    /// three leases and the lock delay).
    pub election: Option<(Tenure, Option<f64>)>,
    /// `--job-interval` as given, for test.json.
    pub job_interval: f64,
    /// The checker that judges it.
    pub judge: Judge,
}

/// A lock or election checker: the history, how long a failover may take.
pub type Judge = fn(&History, f64, Judging) -> Result<Analysis, String>;

pub fn plan(flags: &Flags, given: &Given) -> Result<Box<dyn Workload>, String> {
    Ok(Box::new(Locking::new(flags, given.system.locks()?, None, check)?))
}

impl Locking {
    /// The workload `flags` ask for with `locks`, an election with `tenure`.
    pub fn new(
        flags: &Flags,
        locks: Arc<dyn DynLocks>,
        tenure: Option<Tenure>,
        judge: Judge,
    ) -> Result<Locking, String> {
        super::no_register_flags(flags, false)?;
        Ok(Locking {
            locks,
            fenced: flags.resource == ResourceArg::Fenced,
            ttl: super::seconds("ttl", flags.ttl)?,
            lock_delay: flags.lock_delay()?,
            think: super::seconds("think", flags.think)?,
            pause_at: match flags.client_pause_at {
                PauseAtArg::Hold => PauseAt::Hold,
                PauseAtArg::Wait => PauseAt::Wait,
                PauseAtArg::Any => PauseAt::Any,
            },
            election: tenure.map(|t| (t, flags.failover_within)),
            job_interval: flags.job_interval,
            judge,
        })
    }
}

impl Workload for Locking {
    fn name(&self) -> &'static str {
        match self.election {
            None => "lock",
            Some(_) => "election",
        }
    }
    fn test_name(&self, faults: &str, _runbook: &str) -> String {
        let resource = if self.fenced { "fenced" } else { "naive" };
        format!("{}-{resource}-{faults}", self.name())
    }
    fn resource(&self) -> Option<bool> {
        Some(self.fenced)
    }
    fn pauses_clients(&self) -> bool {
        true
    }
    fn describe(&self, test: &mut results::schema::TestInfo) {
        test.model = self.name().into();
        test.resource = Some((if self.fenced { "fenced" } else { "naive" }).into());
        test.election = self.election.map(|(tenure, within)| results::schema::ElectionFlags {
            term_jobs: tenure.jobs,
            job_interval_s: self.job_interval,
            failover_within_s: within,
        });
    }
    fn start<'a>(&'a self, setup: &'a Setup<'a>) -> BoxFuture<'a, Result<Arc<dyn Clients>, String>> {
        Box::pin(async move {
            let resource = setup.resource.ok_or("the lock workload's resource is not running")?;
            let spec = LockSpec {
                locks: self.locks.clone(),
                prefix: setup.prefix.clone(),
                ttl: self.ttl,
                lock_delay: self.lock_delay,
                op_timeout: setup.op_timeout,
                think: self.think,
                resource,
                pauses: Arc::new(ClientPauses::default()),
                pause_at: self.pause_at,
                tenure: self.election.map(|(t, _)| t),
            };
            if spec.ttl < spec.lease() {
                eprintln!(
                    "splitbrain: {} leases live at least {} s: --ttl {} raised to that",
                    setup.system.name(),
                    spec.lease().as_secs(),
                    self.ttl.as_secs_f64()
                );
            }
            if setup.client_pauses {
                say_client_pause(&spec);
            }
            // a few leases for the lease to lapse and the next leader to be elected
            let within = self
                .election
                .and_then(|(_, within)| within)
                .unwrap_or((spec.lease() * 3 + spec.lock_delay()).as_secs_f64());
            Ok(Arc::new(LockClients {
                spec: Arc::new(spec),
                failover_within: within,
                judge: self.judge,
            }) as Arc<dyn Clients>)
        })
    }
}

/// What a client pause will do, said at the start.
fn say_client_pause(l: &LockSpec) {
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

struct LockClients {
    spec: Arc<LockSpec>,
    /// Elections: how long a failover may take, in seconds.
    failover_within: f64,
    judge: Judge,
}

impl Clients for LockClients {
    fn process(self: Arc<Self>, slot: Slot) -> Task {
        Box::pin(self.spec.clone().run_process(slot))
    }

    fn pause_client(&self) -> Result<String, String> {
        let lock = &self.spec;
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

    fn final_reads<'a>(&'a self, s: &'a Settling<'a>) -> BoxFuture<'a, Option<Divergence>> {
        Box::pin(async move {
            match self
                .spec
                .final_read(workloads::FINAL_READ_PROCESS, s.rec.as_ref())
                .await
            {
                Ok(v) => eprintln!("splitbrain: final read: the resource holds {v}"),
                Err(e) => eprintln!("splitbrain: {e}"),
            }
            None
        })
    }

    fn check(&self, history: &History, judging: Judging) -> Result<Analysis, String> {
        (self.judge)(history, self.failover_within, judging)
    }
}

/// Lock safety (a lock run has no failover to time).
fn check(history: &History, _within: f64, judging: Judging) -> Result<Analysis, String> {
    let report = checkers::lock::check_lock(history).map_err(|e| format!("history.jsonl: {e}"))?;
    let junit = results::junit::suite(
        judging.test_name,
        &[results::junit::Check::Lock(&report)],
        &judging.cases,
        judging.page,
    )?;
    Ok(Analysis::of(report.verdict, &report, report.to_text(), junit))
}
