//! Leader elections judged by what their leaders did.
//!
//! In the election workload a candidate campaigns; the leader, with its term as
//! the fencing token, runs a periodic job (a read-modify-write of the counter
//! resource, as a lock holder does) while it believes it leads, then resigns.
//! Safety is the lock checker's on terms: two leaders whose jobs both took
//! effect at once, a stale term accepted after a newer one, a term granted
//! twice or out of order. Liveness is failover: after a fault that takes the
//! leader away, how long until the next leader's first job took effect.

use serde::Serialize;

use crate::check::Verdict;
use crate::history::{History, HistoryError};
use crate::lock::{ELECTION_KEY, LockReport, RESOURCE_KEY, check_lock};
use crate::op::{Process, Type};
use crate::value::Value;

/// Nemesis ops that can take a leader away (its node, its network, its clock,
/// or the leader itself stalled past its lease).
const DEPOSING: [&str; 8] = [
    "kill",
    "pause",
    "client-pause",
    "start-partition",
    "clock",
    "member-remove",
    "lose",
    "upgrade",
];

/// One leader's term: from its campaign's ok to its resignation (or its next
/// campaign, or the end), with the jobs the resource accepted from it.
#[derive(Clone, Debug, Serialize)]
pub struct Term {
    pub process: String,
    pub term: i64,
    pub from_s: f64,
    pub to_s: f64,
    pub jobs: usize,
    /// How it ended: `resigned` (its jobs done), or why it stepped down
    /// (`lease lost`, `fenced`); none while it led to the end or was cut short.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
}

/// A fault that took the leader away, and how long its successor took.
#[derive(Clone, Debug, Serialize)]
pub struct Failover {
    /// The nemesis op: `kill n2`.
    pub fault: String,
    pub at_s: f64,
    /// The term leading when the fault began.
    pub from_term: i64,
    /// The next term to act, and when its first job took effect after the fault.
    pub to_term: Option<i64>,
    pub took_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ElectionReport {
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Slow or missing failovers, said.
    pub violations: Vec<String>,
    /// The lock checks with terms as tokens.
    pub safety: LockReport,
    pub terms: Vec<Term>,
    pub failovers: Vec<Failover>,
    pub failover_p50_s: Option<f64>,
    pub failover_max_s: Option<f64>,
    pub failover_within_s: f64,
}

/// A job the resource accepted: when it completed, and its term.
struct Job {
    at: f64,
    term: i64,
}

fn secs(t: Option<u64>) -> f64 {
    t.map_or(0.0, |ns| ns as f64 / 1e9)
}

/// Checks an election history; `within` bounds each failover, in seconds.
pub fn check_election(history: &History, within: f64) -> Result<ElectionReport, HistoryError> {
    let safety = check_lock(history)?;
    let end = history
        .ops
        .iter()
        .filter_map(|o| o.time)
        .max()
        .map_or(0.0, |t| t as f64 / 1e9);
    let mut terms: Vec<Term> = Vec::new();
    let mut open: Vec<(Process, usize)> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    for (invoke, complete) in history.completions() {
        let key = invoke.key.as_ref().and_then(Value::as_str);
        let f = invoke.f.as_str();
        let ok = complete.filter(|c| c.kind == Type::Ok);
        if key == Some(ELECTION_KEY) && (f == "campaign" || f == "resign") {
            if let Some(i) = open.iter().position(|(p, _)| *p == invoke.process) {
                let (_, t) = open.remove(i);
                terms[t].to_s = secs(invoke.time);
                if f == "resign" {
                    // a resignation's value is its term, or [term why] when it stepped down
                    terms[t].ended = Some(match invoke.value.as_list() {
                        Some([_, why]) => why.as_str().unwrap_or("stepped down").to_string(),
                        _ => "resigned".to_string(),
                    });
                }
            }
            if let (Some(done), "campaign", Value::Int(term)) = (ok, f, ok.map_or(&Value::Nil, |d| &d.value)) {
                open.push((invoke.process, terms.len()));
                terms.push(Term {
                    process: invoke.process.to_string(),
                    term: *term,
                    from_s: secs(done.time),
                    to_s: end,
                    jobs: 0,
                    ended: None,
                });
            }
        } else if key == Some(RESOURCE_KEY)
            && f == "write"
            && let Some(done) = ok
            && let Some(Value::Int(term)) = done.value.as_list().and_then(|l| l.first())
        {
            jobs.push(Job {
                at: secs(done.time),
                term: *term,
            });
            if let Some(t) = terms.iter_mut().rev().find(|t| t.term == *term) {
                t.jobs += 1;
            }
        }
    }
    jobs.sort_by(|a, b| a.at.total_cmp(&b.at));
    terms.sort_by(|a, b| a.from_s.total_cmp(&b.from_s));

    let failovers = failovers(history, &terms, &jobs);
    let mut violations = Vec::new();
    for f in &failovers {
        match f.took_s {
            Some(took) if took > within => violations.push(format!(
                "{} at {:.1} s: the next leader (term {}) acted after {took:.1} s, beyond {within} s",
                f.fault,
                f.at_s,
                f.to_term.unwrap_or_default()
            )),
            None if end - f.at_s > within => violations.push(format!(
                "{} at {:.1} s: no other leader acted in the {:.1} s left",
                f.fault,
                f.at_s,
                end - f.at_s
            )),
            _ => {}
        }
    }
    let mut took: Vec<f64> = failovers.iter().filter_map(|f| f.took_s).collect();
    took.sort_by(f64::total_cmp);
    let (verdict, reason) = match safety.verdict {
        Verdict::Invalid => (Verdict::Invalid, None),
        _ if !violations.is_empty() => (Verdict::Invalid, None),
        v => (v, safety.reason.clone()),
    };
    Ok(ElectionReport {
        verdict,
        reason,
        violations,
        terms,
        failover_p50_s: took.get(took.len() / 2).copied(),
        failover_max_s: took.last().copied(),
        failover_within_s: within,
        failovers,
        safety,
    })
}

/// Nemesis ops that end faults.
const HEALING: [&str; 3] = ["heal", "start", "resume"];

/// For each deposing fault that began while a term led and whose window that
/// term did not outlive (its last job came before the next heal), the
/// leaderless gap: from the fault, or the old leader's last job if later (it
/// may act on until its lease runs out), to the first job of a newer term. A
/// term that resigned on its own under the fault, its jobs done, handed over:
/// no failover.
fn failovers(history: &History, terms: &[Term], jobs: &[Job]) -> Vec<Failover> {
    let nemesis: Vec<&crate::op::Op> = history
        .ops
        .iter()
        .filter(|o| o.process == Process::Nemesis && o.kind == Type::Info)
        .collect();
    let mut out = Vec::new();
    for (i, op) in nemesis.iter().enumerate() {
        if !DEPOSING.contains(&op.f.as_str()) {
            continue;
        }
        let at = secs(op.time);
        // the leader: the newest term that had acted by then and had not resigned
        let Some(leader) = jobs
            .iter()
            .rev()
            .filter(|j| j.at <= at)
            .map(|j| j.term)
            .find(|&term| terms.iter().any(|t| t.term == term && t.from_s <= at && t.to_s > at))
        else {
            continue;
        };
        let heal = nemesis[i + 1..]
            .iter()
            .find(|o| HEALING.contains(&o.f.as_str()))
            .map_or(f64::INFINITY, |o| secs(o.time));
        let last = |before: f64| {
            jobs.iter()
                .filter(|j| j.term == leader && j.at < before)
                .map(|j| j.at)
                .fold(at, f64::max)
        };
        if last(f64::INFINITY) >= heal {
            continue; // it led on through the fault
        }
        let resigned = terms
            .iter()
            .rev()
            .find(|t| t.term == leader)
            .is_some_and(|t| t.ended.as_deref() == Some("resigned"));
        if resigned {
            continue;
        }
        let next = jobs.iter().find(|j| j.at > at && j.term > leader);
        let fault = match op.value.as_str() {
            Some(what) => format!("{} {what}", op.f),
            None => op.f.to_string(),
        };
        out.push(Failover {
            fault,
            at_s: at,
            from_term: leader,
            to_term: next.map(|n| n.term),
            took_s: next.map(|n| n.at - last(n.at)),
        });
    }
    out
}

impl ElectionReport {
    pub fn to_text(&self) -> String {
        let s = &self.safety.stats;
        let what = match (self.verdict, &self.reason) {
            (Verdict::Unknown, Some(reason)) => reason.clone(),
            (Verdict::Invalid, _) => format!(
                "{} safety violations, {} failovers too slow",
                self.safety.violations.len(),
                self.violations.len()
            ),
            _ => "one leader acting at a time, every failover in time".to_string(),
        };
        let mut out = format!("{}: {what}\n", self.verdict.as_str().to_uppercase());
        out.push_str(&format!(
            "  terms: {} won, {} campaigns failed, {} unknown; terms that overlapped {} ({} both acting)\n",
            s.acquires_ok, s.acquires_failed, s.acquires_info, s.overlaps, s.conflicting_overlaps
        ));
        out.push_str(&format!(
            "  jobs: {} took effect, {} refused as stale, {} unknown; final counter {} ({} increments overwritten)\n",
            s.writes_ok,
            s.writes_rejected_stale,
            s.writes_info,
            s.final_value.map_or("unread".to_string(), |v| v.to_string()),
            s.lost_updates
        ));
        let allowed = match self.failover_within_s.is_finite() {
            true => format!("allowed {} s", self.failover_within_s),
            false => "not judged".to_string(),
        };
        out.push_str(&format!(
            "  failovers: {} (p50 {}, max {}, {allowed})\n",
            self.failovers.len(),
            self.failover_p50_s.map_or("-".into(), |s| format!("{s:.1} s")),
            self.failover_max_s.map_or("-".into(), |s| format!("{s:.1} s")),
        ));
        for f in &self.failovers {
            out.push_str(&format!(
                "    {:>6.1} s  {}: term {} -> {}\n",
                f.at_s,
                f.fault,
                f.from_term,
                match (f.to_term, f.took_s) {
                    (Some(t), Some(took)) => format!("term {t} acting after {took:.2} s"),
                    _ => "no other leader acted".to_string(),
                }
            ));
        }
        for v in &self.violations {
            out.push_str(&format!("\nslow failover: {v}\n"));
        }
        for v in self.safety.violations.iter().take(20) {
            out.push_str(&format!("\n{}: {}\n", v.kind.as_str(), v.message));
            for op in &v.ops {
                out.push_str(&format!("    {op}\n"));
            }
        }
        out
    }
}
