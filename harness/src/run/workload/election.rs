//! The election workload: candidates campaign; the leader runs a periodic job
//! on the resource with its term as the token while it believes it leads, then
//! resigns. It runs on the lock workload's machinery (`lock.rs`), with a
//! tenure, and is judged by election safety and failover time.

use checkers::History;
use workloads::Tenure;

use super::lock::Locking;
use super::{Analysis, Flags, Given, Judging, Workload};

pub fn plan(flags: &Flags, given: &Given) -> Result<Box<dyn Workload>, String> {
    let tenure = Tenure {
        jobs: flags.term_jobs,
        every: super::seconds("job-interval", flags.job_interval)?,
    };
    Ok(Box::new(Locking::new(
        flags,
        given.system.elections()?,
        Some(tenure),
        check,
    )?))
}

/// Election safety, and every failover within `within` seconds.
fn check(history: &History, within: f64, judging: Judging) -> Result<Analysis, String> {
    let report = checkers::check_election(history, within).map_err(|e| format!("history.jsonl: {e}"))?;
    let mut cases = judging.cases;
    cases.push(results::junit::Case {
        class: "election",
        name: format!("every failover within {within} s"),
        failure: (!report.violations.is_empty()).then(|| report.violations.join("; ")),
    });
    let checks = [results::junit::Check::Lock(&report.safety)];
    let junit = results::junit::suite(judging.test_name, &checks, &cases, judging.page)?;
    Ok(Analysis::of(report.verdict, &report, report.to_text(), junit))
}
