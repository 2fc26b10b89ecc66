//! The command that runs a test again, from its test.json.

use std::fmt::Write;

use super::html::{given, json, shown, text};
use crate::schema::TestInfo;

/// The command that runs this test again, from test.json.
pub fn reproduce(test: &TestInfo) -> String {
    // a drill through a shipped scenario is `drill` again
    if test.drill.is_some() {
        return drill(test);
    }
    let mut cmd = format!(
        "splitbrain run --system {} --workload {} --nemesis {} --time-limit {} --nodes {} --seed {}",
        shown(&test.system),
        shown(&test.workload),
        shown(&test.nemesis),
        shown(&test.time_limit_s),
        shown(&test.nodes),
        shown(&test.seed),
    );
    let upgrade = test.upgrade.as_ref();
    let flags = [
        ("--version", json(&test.version)),
        ("--runtime", json(&test.runtime)),
        ("--nemesis-interval", json(&test.nemesis_interval_s)),
        ("--partition", json(&test.partition_shapes)),
        ("--concurrency", json(&test.concurrency)),
        ("--readers", json(&test.readers)),
        ("--read-mode", json(&test.read_mode)),
        ("--resource", json(&test.resource)),
        ("--scenario", json(&test.scenario)),
        ("--rto", json(&test.rto_s)),
        ("--rpo", json(&test.rpo)),
        ("--from", json(&upgrade.map(|u| &u.from))),
        ("--to", json(&upgrade.map(|u| &u.to))),
        ("--from-binary", json(&upgrade.map(|u| &u.from_binary))),
        ("--to-binary", json(&upgrade.map(|u| &u.to_binary))),
        ("--rollback", json(&upgrade.map(|u| &u.rollback))),
        ("--snapshot-count", json(&test.snapshot_count)),
        ("--watchers", json(&test.watchers)),
    ];
    let locked = test.workload == "lock" || test.workload == "election";
    let lock = [
        ("--ttl", json(&test.ttl_s)),
        ("--think", json(&test.think_s)),
        ("--lock-delay", json(&test.lock_delay_s)),
        ("--client-pause-at", json(&test.client_pause_at)),
    ];
    let election = test.election.as_ref().filter(|_| test.workload == "election");
    let election = [
        ("--term-jobs", json(&election.map(|e| e.term_jobs))),
        ("--job-interval", json(&election.map(|e| e.job_interval_s))),
        ("--failover-within", json(&election.and_then(|e| e.failover_within_s))),
    ];
    let clock = test.clock.as_ref();
    let clock = [
        ("--clock", json(&clock.map(|c| &c.shapes))),
        ("--clock-clocks", json(&clock.map(|c| &c.clocks))),
        ("--clock-target", json(&clock.map(|c| &c.targets))),
        ("--clock-offset", json(&clock.map(|c| c.offset_s))),
        ("--clock-direction", json(&clock.map(|c| &c.direction))),
        ("--clock-rate", json(&clock.map(|c| c.rate))),
        ("--strobe-period", json(&clock.map(|c| c.strobe_period_ms))),
    ];
    // a shipped runbook by its name, an operator's by its file
    let runbook = test.runbook.as_ref();
    let runbook = [(
        "--runbook",
        match runbook {
            Some(r) if r.file.is_some() => json(&r.file),
            r => json(&r.map(|r| &r.name)),
        },
    )];
    let given_flags = flags
        .into_iter()
        .chain(lock.into_iter().filter(|_| locked))
        .chain(election)
        .chain(clock)
        .chain(runbook);
    for (flag, v) in given_flags.filter(|(_, v)| given(v)) {
        let _ = write!(cmd, " {flag} {}", text(&v));
    }
    cmd
}

/// `splitbrain drill` with the flags it took.
fn drill(test: &TestInfo) -> String {
    let runbook = test
        .runbook
        .as_ref()
        .map(|r| r.file.as_ref().map_or(r.name.clone(), |f| f.display().to_string()));
    let mut cmd = format!(
        "splitbrain drill --system {} --nodes {} --runbook {} --rto {} --seed {}",
        shown(&test.system),
        shown(&test.nodes),
        shown(&runbook),
        shown(&test.rto_s),
        shown(&test.seed),
    );
    for (flag, v) in [
        ("--rpo", json(&test.rpo)),
        ("--version", json(&test.version)),
        ("--runtime", json(&test.runtime)),
    ] {
        if given(&v) {
            let _ = write!(cmd, " {flag} {}", text(&v));
        }
    }
    cmd
}
