//! The drill's run-time parts: a set-workload run judged as a recovery drill
//! (RTO, RPO, the stretches before the loss and after the recovery), and the
//! revision sampler that catches a restore sending a node back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use checkers::{Record, Value};
use results::Recorder;

use crate::runtime::Member;
use crate::systems::DynDb;

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
    use serde_json::json;

    use super::*;

    /// A nemesis op `f` saying `v`, at `ms`.
    fn op(f: &str, v: &str, ms: u64) -> checkers::Op {
        let mut o = checkers::Op::new(
            checkers::Process::Nemesis,
            checkers::Type::Info,
            checkers::F::parse(f),
            Value::str(v),
        );
        o.time = Some(ms * 1_000_000);
        o
    }

    #[test]
    fn a_runbook_that_failed_is_the_first_reason() {
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
        assert_eq!(json!(d.results()), before);
    }
}
