//! The two files that say what a run was and what came of it: `test.json`
//! ([`TestInfo`]) and `results.json` ([`RunResults`]). The runner writes them,
//! the report, `splitbrain report` and the browser read them back, so both sides
//! share these structs instead of spelling keys apart.
//!
//! Written, each holds exactly the keys runs have always written: `null` where
//! a run had nothing to say, and a key left out only where runs leave it out (a
//! flag of one workload or one nemesis). Read, they are lenient: a folder from an
//! older version lacks keys that came later, and each lacking one is its default.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use checkers::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Summary;

/// `test.json`: what ran, with every flag that shapes the run, so that the
/// report can print the command that runs it again.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TestInfo {
    pub system: String,
    pub version: String,
    pub binary: PathBuf,
    /// `register`, `lock`, `election`, `set` or `watch`.
    pub workload: String,
    pub nemesis: String,
    pub partition_shapes: String,
    pub nodes: usize,
    pub keys: u64,
    pub concurrency: usize,
    pub readers: usize,
    /// Empty where the workload reads nothing of its own (the locks).
    pub read_mode: String,
    pub op_timeout_s: f64,
    pub time_limit_s: f64,
    pub nemesis_interval_s: f64,
    /// Always there for a run; `None` on the page of a history checked on its own.
    pub seed: Option<u64>,
    /// `netns` or `docker`.
    pub runtime: String,
    pub run_id: String,
    /// The docker runtime's image.
    pub image: Option<String>,
    /// The checker's model: `cas-register`, `lock`, `election` or `watch`.
    pub model: String,
    /// The model's initial state: `null`, the register's nil.
    pub initial: Value,
    /// The lock workload's resource: `fenced` or `naive`.
    pub resource: Option<String>,
    pub ttl_s: f64,
    pub lock_delay_s: f64,
    pub think_s: f64,
    /// The iptables program the partitions ran, where one was found.
    pub iptables: Option<PathBuf>,
    /// A scenario's file, or a drill's shipped scenario by name.
    pub scenario: Option<String>,
    pub runbook: Option<Runbook>,
    /// The set workload's (a drill's) limits.
    pub rto_s: Option<f64>,
    pub rpo: Option<usize>,
    /// The shipped drill scenario a `splitbrain drill` ran.
    pub drill: Option<String>,
    /// Only when a clock fault ran.
    pub clock: Option<ClockFlags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_count: Option<u64>,
    /// The watch workload's `--watchers` mix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watchers: Option<String>,
    /// Only when the client-pause nemesis ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_pause_at: Option<String>,
    /// Only for the election workload.
    #[serde(flatten)]
    pub election: Option<ElectionFlags>,
    /// Only for an upgrade (`--to`).
    #[serde(flatten)]
    pub upgrade: Option<UpgradeFlags>,
    /// A history checked on its own names itself in place of a run...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// ...and says how to check it again, as no `run` flags do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reproduce: Option<String>,
}

/// The runbook a drill ran, as test.json and results.json name it (not its script).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Runbook {
    /// A shipped runbook's name, or the file's.
    pub name: String,
    /// An operator's own script.
    pub file: Option<PathBuf>,
    /// No document of the system describes it.
    pub unofficial: bool,
}

/// The clock nemesis's flags.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClockFlags {
    /// `--clock`: `bump,strobe`, ...
    pub shapes: String,
    /// `wall`, `mono` or `both`.
    pub clocks: String,
    pub targets: String,
    pub offset_s: f64,
    pub rate: f64,
    /// `forward`, `back` or `both`.
    pub direction: String,
    pub strobe_period_ms: u64,
}

/// The election workload's flags; test.json has them beside the others.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ElectionFlags {
    pub term_jobs: u32,
    #[serde(default)]
    pub job_interval_s: f64,
    /// `null`: the default, a few leases.
    #[serde(default)]
    pub failover_within_s: Option<f64>,
}

/// An upgrade's ends; test.json has them beside the others.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UpgradeFlags {
    #[serde(default)]
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub from_binary: Option<PathBuf>,
    #[serde(default)]
    pub to_binary: Option<PathBuf>,
    /// `mixed` or `full`: the upgrade was rolled back.
    #[serde(default)]
    pub rollback: Option<String>,
}

/// `results.json`: the verdict and everything judged on the history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResults {
    /// The checks' verdict (a drill's or an expectation's failure is beside it).
    pub verdict: Verdict,
    /// Ctrl-C or SIGTERM: the partial history was checked.
    #[serde(default)]
    pub interrupted: bool,
    /// `null` where no recovery was waited for.
    #[serde(default)]
    pub recovery: Option<ClusterRecovery>,
    /// Always there for a run; an older hand-made file may lack it.
    #[serde(default)]
    pub summary: Option<Summary>,
    /// The checker's report, shaped by the checker: a linearizability report
    /// (with `after_recovery` for a drill), a lock, election or watch report.
    #[serde(default)]
    pub check: Value,
    /// A scenario's expectations; `null` without any.
    #[serde(default)]
    pub expectations: Option<Vec<Expectation>>,
    /// The set workload's recovery drill.
    #[serde(default)]
    pub drill: Option<Drill>,
    /// The replicas read on their own after the run, where the system can.
    #[serde(default)]
    pub divergence: Option<Divergence>,
}

/// Whether the cluster served again once the faults were healed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterRecovery {
    pub recovered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Each node's view of the membership, by node name (`n1`); `null` unless
    /// the membership nemesis ran.
    pub membership: Option<BTreeMap<String, MemberView>>,
}

impl ClusterRecovery {
    pub fn after(took: Duration, membership: Option<BTreeMap<String, MemberView>>) -> ClusterRecovery {
        ClusterRecovery {
            recovered: true,
            after_s: Some(took.as_secs_f64()),
            error: None,
            membership,
        }
    }

    pub fn failed(error: String, membership: Option<BTreeMap<String, MemberView>>) -> ClusterRecovery {
        ClusterRecovery {
            recovered: false,
            after_s: None,
            error: Some(error),
            membership,
        }
    }
}

/// One node's view of the membership after recovery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MemberView {
    /// The members' names it sees, sorted.
    Sees(Vec<String>),
    /// Why it gave none.
    Unknown { error: String },
}

/// A scenario's expectation as judged on the history.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Expectation {
    /// The step's description: `writes ok within 5 s`.
    pub expect: String,
    pub from_s: f64,
    pub to_s: f64,
    pub held: bool,
    /// Writes invoked in the stretch, and how many of them were acknowledged.
    pub invoked: usize,
    pub acknowledged: usize,
    /// From the start of the stretch to the first acknowledgement, if any.
    pub first_ok_after_s: Option<f64>,
    /// Why a `recovered` did not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Its step in the scenario, from 1.
    pub step: usize,
}

/// A recovery drill as judged: what was measured, against which limits, the
/// runbook and its steps, and what failed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Drill {
    #[serde(flatten)]
    pub measured: checkers::recovery::Recovery,
    /// Each measure that broke its limit, and each runbook failure, as a line.
    pub violations: Vec<String>,
    /// `--rto`.
    pub rto_limit_s: f64,
    /// `--rpo`; `null`: any number of writes.
    pub rpo_limit: Option<usize>,
    pub runbook: Option<Runbook>,
    pub steps: Vec<RunbookStep>,
}

/// A runbook step (a `step` mark to the next) and how long it took.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunbookStep {
    pub step: String,
    pub took_s: f64,
}

/// The replicas compared with each other after the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Divergence {
    pub verdict: Verdict,
    /// Nodes whose every key agreed.
    #[serde(default)]
    pub agreeing: Vec<String>,
    #[serde(default)]
    pub unread: Vec<Unread>,
    #[serde(default)]
    pub disagreements: Vec<Disagreement>,
}

/// A node not read on its own, and why.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Unread {
    pub node: String,
    pub why: String,
}

/// A key the replicas do not agree on. Keys and values are the history's, as JSON.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Disagreement {
    pub key: Value,
    /// The final linearizable read's value; `null` where none succeeded.
    pub linearizable: Value,
    /// Each node read and its value, `"missing"` where its answer lacked the key.
    pub values: BTreeMap<String, Value>,
}

impl From<&checkers::divergence::Divergence> for Divergence {
    fn from(d: &checkers::divergence::Divergence) -> Divergence {
        Divergence {
            verdict: d.verdict,
            agreeing: d.agreeing.clone(),
            unread: d
                .unread
                .iter()
                .map(|(node, why)| Unread {
                    node: node.clone(),
                    why: why.clone(),
                })
                .collect(),
            disagreements: d
                .disagreements
                .iter()
                .map(|x| Disagreement {
                    key: x.key.to_json(),
                    linearizable: x.linearizable.as_ref().map_or(Value::Null, checkers::Value::to_json),
                    values: x
                        .values
                        .iter()
                        .map(|(n, v)| (n.clone(), v.as_ref().map_or("missing".into(), checkers::Value::to_json)))
                        .collect(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
