//! What a recovery drill measures, from its history alone: when the quorum was
//! lost, how long until the first failed write noticed (detection), until a
//! write and a read were accepted again (RTO), which acknowledged writes the
//! read-back after recovery no longer finds (RPO, exact, each key named), which
//! writes that failed or timed out are there anyway, and whether any node's
//! revision went backwards.
//!
//! The history is a drill's: the `set` workload's unique keys (each written
//! once, value = key), nemesis `phase` ops naming the stretches (the RTO counts
//! from [`QUORUM_LOST`]), `snapshot` ops, a `runbook` op when recovery starts, a
//! `read-back` op before the read of every key, and `revision` samples.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{F, History, Op, Process, Type, Value};

/// The phase whose start the RTO and the detection time count from.
pub const QUORUM_LOST: &str = "quorum lost";
/// The phase after recovery, whose history is checked on its own.
pub const VERIFIED: &str = "verified";

/// Keys listed at most, per list, in a report.
const LISTED: usize = 50;

/// As results.json's `drill` holds it; read back leniently (a field missing is empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Recovery {
    /// Seconds into the run the quorum was lost (the `quorum lost` phase).
    pub quorum_lost_s: Option<f64>,
    /// Quorum loss to the first write that failed or timed out.
    pub detection_s: Option<f64>,
    /// Quorum loss to the first write and read both acknowledged once recovery started.
    pub rto_s: Option<f64>,
    /// Acknowledged writes missing from the read-back.
    pub rpo: usize,
    /// Their keys (the first [`LISTED`]).
    pub lost: Vec<i64>,
    /// Lost writes the newest snapshot held: a restore that lost what it had.
    pub lost_from_snapshot: Vec<i64>,
    /// Writes acknowledged after the newest snapshot began and before recovery:
    /// what restoring it loses by design.
    pub acked_since_snapshot: Option<usize>,
    /// Writes that timed out (outcome unknown) yet are present afterwards.
    pub timed_out_present: usize,
    /// Writes that failed (certainly not applied) yet are present afterwards: a lie.
    pub failed_present: Vec<i64>,
    /// Acknowledged writes whose key no node answered for in the read-back.
    pub unread: usize,
    /// Keys that some nodes' linearizable reads found and others did not.
    pub disagree: Vec<i64>,
    pub acknowledged: usize,
    /// Nodes whose revision went down between two samples: (node, from, to, at s).
    pub revision_regressions: Vec<(String, i64, i64, f64)>,
    /// Each snapshot, oldest first, with the writes acknowledged before it began.
    pub snapshots: Vec<Snapshot>,
}

/// A snapshot the drill took, and what it must hold.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Snapshot {
    pub at_s: f64,
    pub node: String,
    pub file: String,
    /// The highest key whose write was acknowledged before the snapshot began.
    pub last_acknowledged: Option<i64>,
    /// How many writes were acknowledged before it began.
    pub acknowledged_before: usize,
}

fn secs(t: u64) -> f64 {
    t as f64 / 1e9
}

fn nemesis<'a>(history: &'a History, f: &str) -> impl Iterator<Item = &'a Op> {
    let f = F::parse(f);
    history
        .ops
        .iter()
        .filter(move |o| o.process == Process::Nemesis && o.f == f)
}

/// When the phase named `name` began, if the drill had one.
pub fn phase_start(history: &History, name: &str) -> Option<u64> {
    nemesis(history, "phase")
        .find(|o| o.value.as_str() == Some(name))
        .and_then(|o| o.time)
}

fn key(op: &Op) -> Option<i64> {
    match op.key {
        Some(Value::Int(k)) => Some(k),
        _ => None,
    }
}

/// Measures a drill's history (see the module's doc).
pub fn measure(history: &History) -> Recovery {
    let t = |o: &Op| o.time.unwrap_or(0);
    let lost_at = phase_start(history, QUORUM_LOST);
    let recovery_from = nemesis(history, "runbook").next().map(t).or(lost_at);
    let read_back = nemesis(history, "read-back").next().map(t).unwrap_or(u64::MAX);
    // each snapshot with when it began (its op comes when it is done)
    let snapshots: Vec<(&Op, u64)> = nemesis(history, "snapshot")
        .map(|o| match o.value.get("started_ns") {
            Some(Value::Int(s)) => (o, *s as u64),
            _ => (o, t(o)),
        })
        .collect();
    let snapshot_from = snapshots.last().map(|(_, started)| *started);
    let calls = history.completions();
    let (write, read) = (F::parse("write"), F::parse("read"));
    let ok_at = |done: &Option<&Op>| done.filter(|d| d.kind == Type::Ok).map(t);
    let first = |f: &F, after: u64| {
        calls
            .iter()
            .filter(|(inv, _)| inv.f == *f && t(inv) < read_back)
            .filter_map(|(_, done)| ok_at(done))
            .filter(|d| *d > after)
            .min()
    };
    let detection = lost_at.and_then(|from| {
        calls
            .iter()
            .filter(|(inv, _)| inv.f == write)
            .filter_map(|(_, done)| done.filter(|d| d.kind != Type::Ok).map(t))
            .filter(|d| *d >= from)
            .min()
            .map(|d| secs(d - from))
    });
    let rto = lost_at.zip(recovery_from).and_then(|(lost, from)| {
        let (w, r) = (first(&write, from)?, first(&read, from)?);
        Some(secs(w.max(r) - lost))
    });
    // each key's one write, and what the read-back found of it on each node
    let mut found: BTreeMap<i64, Vec<&Value>> = BTreeMap::new();
    for (inv, done) in calls.iter().filter(|(inv, _)| inv.f == read && t(inv) >= read_back) {
        if let (Some(k), Some(d)) = (key(inv), done.filter(|d| d.kind == Type::Ok)) {
            found.entry(k).or_default().push(&d.value);
        }
    }
    let mut m = Recovery {
        quorum_lost_s: lost_at.map(secs),
        detection_s: detection,
        rto_s: rto,
        rpo: 0,
        lost: Vec::new(),
        lost_from_snapshot: Vec::new(),
        acked_since_snapshot: snapshot_from.map(|_| 0),
        timed_out_present: 0,
        failed_present: Vec::new(),
        unread: 0,
        disagree: Vec::new(),
        acknowledged: 0,
        revision_regressions: Vec::new(),
        snapshots: Vec::new(),
    };
    for &(o, started) in &snapshots {
        let before: Vec<i64> = calls
            .iter()
            .filter(|(inv, done)| inv.f == write && ok_at(done).is_some_and(|d| d < started))
            .filter_map(|(inv, _)| key(inv))
            .collect();
        let text = |k: &str| o.value.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        m.snapshots.push(Snapshot {
            at_s: secs(started),
            node: text("node"),
            file: text("file"),
            last_acknowledged: before.iter().max().copied(),
            acknowledged_before: before.len(),
        });
    }
    for (inv, done) in calls.iter().filter(|(inv, _)| inv.f == write) {
        let Some(k) = key(inv) else { continue };
        let answers = found.get(&k);
        // present when every node that answered has it; nodes that disagree are a violation of their own
        let present = answers.map(|a| a.iter().all(|v| **v == inv.value));
        if answers.is_some_and(|a| a.iter().any(|v| **v == inv.value) && present == Some(false)) {
            m.disagree.push(k);
        }
        match (done.map(|d| d.kind), present) {
            (Some(Type::Ok), p) => {
                m.acknowledged += 1;
                let acked = t(done.expect("completed"));
                if let (Some(from), Some(n)) = (snapshot_from, m.acked_since_snapshot.as_mut()) {
                    *n += (acked > from && acked < recovery_from.unwrap_or(u64::MAX)) as usize;
                }
                match p {
                    None => m.unread += 1,
                    Some(true) => {}
                    Some(false) => {
                        m.rpo += 1;
                        if m.lost.len() < LISTED {
                            m.lost.push(k);
                        }
                        if snapshot_from.is_some_and(|from| acked < from) && m.lost_from_snapshot.len() < LISTED {
                            m.lost_from_snapshot.push(k);
                        }
                    }
                }
            }
            (Some(Type::Fail), Some(true)) => m.failed_present.push(k),
            (_, Some(true)) => m.timed_out_present += 1,
            _ => {}
        }
    }
    m.failed_present.truncate(LISTED);
    m.disagree.truncate(LISTED);
    // per node: revisions a client of that node sees must never go down
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for o in nemesis(history, "revision") {
        let (Some(node), Some(Value::Int(rev))) =
            (o.value.get("node").and_then(Value::as_str), o.value.get("revision"))
        else {
            continue;
        };
        if let Some(prev) = last.insert(node.to_string(), *rev).filter(|p| p > rev) {
            m.revision_regressions.push((node.to_string(), prev, *rev, secs(t(o))));
        }
    }
    m
}

/// The client ops of `history` checked on their own after a split: those
/// invoked in `[from, to)`, with their completions, on keys first written in
/// that stretch (a key written before has a state this stretch cannot see),
/// plus the nemesis ops.
pub fn stretch(history: &History, from: u64, to: u64) -> History {
    let t = |o: &Op| o.time.unwrap_or(0);
    let write = F::parse("write");
    let mut first_write: BTreeMap<i64, u64> = BTreeMap::new();
    for o in history.ops.iter().filter(|o| o.kind == Type::Invoke && o.f == write) {
        if let Some(k) = key(o) {
            first_write.entry(k).or_insert(t(o));
        }
    }
    let mut inside: BTreeMap<u64, bool> = BTreeMap::new();
    let ops = history
        .ops
        .iter()
        .filter(|o| match o.process {
            Process::Nemesis => true,
            Process::Client(p) if o.kind == Type::Invoke => {
                let keep = (from..to).contains(&t(o))
                    && key(o).is_some_and(|k| first_write.get(&k).is_some_and(|w| *w >= from));
                inside.insert(p, keep);
                keep
            }
            Process::Client(p) => inside.remove(&p).unwrap_or(false),
        })
        .cloned()
        .collect();
    History {
        ops,
        check_time: history.check_time,
        cut_short: history.cut_short,
    }
}

/// Sorted keys as ranges: `1240-1243, 1246, 1250-1253`.
pub fn ranges(keys: &[i64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let mut j = i;
        while j + 1 < keys.len() && keys[j + 1] == keys[j] + 1 {
            j += 1;
        }
        out.push(if j > i {
            format!("{}-{}", keys[i], keys[j])
        } else {
            keys[i].to_string()
        });
        i = j + 1;
    }
    out.join(", ")
}

impl Recovery {
    /// What failed, one reason per line; empty when the drill's data held.
    pub fn violations(&self, rto_limit: Option<f64>, rpo_limit: Option<usize>) -> Vec<String> {
        let mut v = Vec::new();
        if !self.lost_from_snapshot.is_empty() {
            v.push(format!(
                "{} acknowledged writes the newest snapshot held are lost (keys {}): the restore did not use the newest snapshot",
                self.lost_from_snapshot.len(),
                ranges(&self.lost_from_snapshot)
            ));
        }
        if let Some(limit) = rpo_limit.filter(|l| self.rpo > *l) {
            v.push(format!(
                "RPO {} acknowledged writes lost, beyond --rpo {limit} (keys {})",
                self.rpo,
                ranges(&self.lost)
            ));
        }
        if !self.failed_present.is_empty() {
            v.push(format!(
                "{} writes that failed are present afterwards (keys {}): a failure that took effect",
                self.failed_present.len(),
                ranges(&self.failed_present)
            ));
        }
        match (self.rto_s, rto_limit) {
            (Some(rto), Some(limit)) if rto > limit => v.push(format!("RTO {rto:.1} s, beyond --rto {limit} s")),
            (None, _) if self.quorum_lost_s.is_some() => {
                v.push("no write and read were both acknowledged after recovery: no RTO".into())
            }
            _ => {}
        }
        if !self.disagree.is_empty() {
            v.push(format!(
                "the nodes disagree after recovery: some read keys {} and others do not",
                ranges(&self.disagree)
            ));
        }
        if self.unread > 0 {
            v.push(format!(
                "{} of {} acknowledged writes could not be read back: the RPO is unknown",
                self.unread, self.acknowledged
            ));
        }
        for (node, from, to, at) in &self.revision_regressions {
            v.push(format!(
                "{node}'s revision went back from {from} to {to} at {at:.1} s: a client of {node} sees time run backwards"
            ));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(p: Process, kind: Type, f: &str, key: Option<i64>, value: Value, ms: u64) -> Op {
        let mut o = Op::new(p, kind, F::parse(f), value);
        o.key = key.map(Value::Int);
        o.time = Some(ms * 1_000_000);
        o
    }
    fn nem(f: &str, value: Value, ms: u64) -> Op {
        op(Process::Nemesis, Type::Info, f, None, value, ms)
    }
    fn write(p: u64, k: i64, kind: Type, from: u64, to: u64) -> [Op; 2] {
        [
            op(Process::Client(p), Type::Invoke, "write", Some(k), Value::Int(k), from),
            op(Process::Client(p), kind, "write", Some(k), Value::Int(k), to),
        ]
    }
    fn read(p: u64, k: i64, v: Value, from: u64, to: u64) -> [Op; 2] {
        [
            op(Process::Client(p), Type::Invoke, "read", Some(k), Value::Nil, from),
            op(Process::Client(p), Type::Ok, "read", Some(k), v, to),
        ]
    }
    fn sorted(mut ops: Vec<Op>) -> History {
        ops.sort_by_key(|o| o.time);
        History::new(ops)
    }
    fn snapshot(started: u64, ms: u64) -> Op {
        nem(
            "snapshot",
            Value::Map(vec![(Value::str("started_ns"), Value::Int(started as i64 * 1_000_000))].into()),
            ms,
        )
    }
    fn revision(node: &str, rev: i64, ms: u64) -> Op {
        nem(
            "revision",
            Value::Map(
                vec![
                    (Value::str("node"), Value::str(node)),
                    (Value::str("revision"), Value::Int(rev)),
                ]
                .into(),
            ),
            ms,
        )
    }

    /// Keys 0-1 acked before the snapshot, 2 after it, 3 timed out, 4 failed;
    /// after the restore 0, 1, 3 and 4 are there and 2 is not.
    fn drill(snapshot_ms: u64) -> History {
        let mut ops = Vec::new();
        ops.extend(write(1, 0, Type::Ok, 100, 110));
        ops.extend(write(1, 1, Type::Ok, 200, 210));
        ops.push(snapshot(snapshot_ms, snapshot_ms + 20));
        ops.extend(write(1, 2, Type::Ok, 400, 410));
        ops.push(nem("phase", Value::str(QUORUM_LOST), 1000));
        ops.extend(write(2, 3, Type::Info, 1100, 2100));
        ops.extend(write(3, 4, Type::Fail, 1200, 1300));
        ops.push(nem("runbook", Value::str("start"), 3000));
        ops.extend(write(4, 5, Type::Ok, 3500, 4000));
        ops.extend(read(5, 5, Value::Int(5), 4100, 4500));
        ops.push(nem("read-back", Value::str("all"), 6000));
        for node in 0..2 {
            for k in 0..6 {
                let v = if k == 2 { Value::Nil } else { Value::Int(k) };
                ops.extend(read(100 + 10 * node + k as u64, k, v, 6100 + k as u64, 6200));
            }
        }
        sorted(ops)
    }

    #[test]
    fn a_restore_loses_exactly_what_came_after_its_snapshot() {
        let m = measure(&drill(300));
        assert_eq!(m.quorum_lost_s, Some(1.0));
        assert_eq!(m.detection_s, Some(0.3), "the failed write at 1.3 s noticed first");
        assert_eq!(m.rto_s, Some(3.5), "the read at 4.5 s, after the write at 4.0 s");
        assert_eq!((m.rpo, m.lost.clone()), (1, vec![2]));
        assert_eq!(
            m.acked_since_snapshot,
            Some(1),
            "key 2 (key 5 came after the recovery began)"
        );
        assert!(m.lost_from_snapshot.is_empty());
        assert_eq!(m.snapshots.len(), 1);
        assert_eq!(
            (m.snapshots[0].last_acknowledged, m.snapshots[0].acknowledged_before),
            (Some(1), 2)
        );
        assert_eq!(m.timed_out_present, 1);
        assert_eq!(m.failed_present, vec![4], "a failed write that took effect is caught");
        let v = m.violations(None, Some(1));
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("writes that failed are present"), "{v:?}");
    }

    #[test]
    fn an_older_snapshot_and_a_slow_recovery_are_caught() {
        // the snapshot began at 500 ms: key 2 (acked at 410) was in it, yet is lost
        let m = measure(&drill(500));
        assert_eq!(m.lost_from_snapshot, vec![2]);
        let v = m.violations(Some(2.0), Some(0));
        assert!(v.iter().any(|x| x.contains("newest snapshot held are lost")), "{v:?}");
        assert!(v.iter().any(|x| x.contains("beyond --rpo 0")), "{v:?}");
        assert!(v.iter().any(|x| x.contains("RTO 3.5 s, beyond --rto 2 s")), "{v:?}");
    }

    #[test]
    fn no_recovery_means_no_rto_and_revisions_must_not_go_back() {
        let mut ops = vec![nem("phase", Value::str(QUORUM_LOST), 0)];
        ops.extend(write(1, 0, Type::Info, 10, 1010));
        ops.push(revision("n1", 10, 100));
        ops.push(revision("n2", 12, 150));
        ops.push(revision("n1", 11, 200));
        ops.push(revision("n1", 4, 300));
        let m = measure(&sorted(ops));
        assert_eq!(m.rto_s, None);
        assert_eq!(m.revision_regressions, vec![("n1".to_string(), 11, 4, 0.3)]);
        let v = m.violations(None, None);
        assert!(v.iter().any(|x| x.contains("no RTO")), "{v:?}");
        assert!(
            v.iter().any(|x| x.contains("n1's revision went back from 11 to 4")),
            "{v:?}"
        );
    }

    #[test]
    fn nodes_that_disagree_after_recovery_are_caught() {
        let mut h = drill(300);
        // one node's read-back of key 1 finds nothing
        let i = h
            .ops
            .iter()
            .rposition(|o| o.key == Some(Value::Int(1)) && o.kind == Type::Ok)
            .unwrap();
        h.ops[i].value = Value::Nil;
        let m = measure(&h);
        assert_eq!(m.disagree, vec![1]);
        assert_eq!(m.rpo, 2, "not found on every node: counted lost too");
        let v = m.violations(None, None);
        assert!(
            v.iter()
                .any(|x| x.contains("the nodes disagree after recovery: some read keys 1")),
            "{v:?}"
        );
    }

    #[test]
    fn keys_read_as_ranges() {
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1-3, 5, 7-8");
        assert_eq!(ranges(&[]), "");
    }

    #[test]
    fn a_stretch_keeps_only_keys_written_inside_it() {
        let h = drill(300);
        let after = stretch(&h, 3_000_000_000, u64::MAX);
        let keys: Vec<Option<i64>> = after
            .ops
            .iter()
            .filter(|o| matches!(o.process, Process::Client(_)))
            .map(key)
            .collect();
        assert!(keys.iter().all(|k| *k == Some(5)), "{keys:?}");
        assert_eq!(keys.len(), 8, "the write, the read and the two read-backs of key 5");
    }
}
