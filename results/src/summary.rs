//! Numbers from a history: ops by outcome, throughput, latency, and how long
//! each fault kept every client from completing anything.

use std::collections::BTreeMap;
use std::fmt::Write;

use checkers::{F, History, Process, Type};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultWindow {
    pub fault: String,
    pub start_s: f64,
    pub end_s: f64,
    /// Longest stretch inside the window with no op completing ok.
    pub unavailable_s: f64,
}

/// results.json's `summary`; read back leniently, as older runs wrote fewer fields.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    pub ops: Counts,
    pub by_f: BTreeMap<String, Counts>,
    pub duration_s: f64,
    pub ops_per_s: f64,
    pub ok_per_s: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
    pub faults: Vec<FaultWindow>,
}

fn count(c: &mut Counts, t: Type) {
    match t {
        Type::Ok => c.ok += 1,
        Type::Fail => c.fail += 1,
        _ => c.info += 1,
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// The longest stretch of [start, end] containing none of `oks` (sorted).
fn longest_gap(oks: &[u64], start: u64, end: u64) -> u64 {
    let from = oks.partition_point(|&t| t < start);
    let mut last = start;
    let mut gap = 0;
    for &t in oks[from..].iter().take_while(|&&t| t <= end) {
        gap = gap.max(t - last);
        last = t;
    }
    gap.max(end - last)
}

impl Summary {
    pub fn of(history: &History) -> Summary {
        let mut s = Summary::default();
        let Ok(calls) = history.pair() else { return s };
        let mut latencies = Vec::new();
        let mut oks = Vec::new();
        for c in &calls {
            let call = history.call(c);
            count(&mut s.ops, c.outcome);
            count(s.by_f.entry(call.invoke.f.to_string()).or_default(), c.outcome);
            if let (Type::Ok, Some(done)) = (c.outcome, call.complete)
                && let (Some(a), Some(b)) = (call.invoke.time, done.time)
            {
                latencies.push(b.saturating_sub(a));
                oks.push(b);
            }
        }
        let end = history.ops.iter().filter_map(|o| o.time).max().unwrap_or(0);
        s.duration_s = secs(end);
        if end > 0 {
            s.ops_per_s = calls.len() as f64 / secs(end);
            s.ok_per_s = s.ops.ok as f64 / secs(end);
        }
        latencies.sort_unstable();
        let pct =
            |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)));
        s.latency_ms_p50 = pct(0.5).map_or(0.0, |&l| l as f64 / 1e6);
        s.latency_ms_p99 = pct(0.99).map_or(0.0, |&l| l as f64 / 1e6);
        s.latency_ms_max = latencies.last().map_or(0.0, |&l| l as f64 / 1e6);
        oks.sort_unstable();
        let mut open: Option<(String, u64)> = None;
        // measurements and notices (the clock nemesis's, a scenario's expectations) are not faults
        let notice = |op: &checkers::Op| {
            [
                "clock-offsets",
                "clock-skipped",
                "expect",
                "phase",
                "snapshot",
                "runbook",
                "step",
                "node",
                "read-back",
                "revision",
                "rollback-refused",
                "hold",
                "catch-up",
            ]
            .iter()
            .any(|f| op.f == F::parse(f))
        };
        for op in history
            .ops
            .iter()
            .filter(|o| o.process == Process::Nemesis && !notice(o))
        {
            let t = op.time.unwrap_or(0);
            // a scenario's start and resume bring nodes back: the window closes there
            // an upgrade step's window closes with the versions read after it
            let heal = ["heal", "start", "resume", "recovered", "versions"]
                .iter()
                .any(|f| op.f == F::parse(f));
            let what = op.value.as_str().map_or_else(|| op.value.to_string(), str::to_string);
            match open.take() {
                // faults started together (a partition and a clock skew) share a window
                Some((fault, start)) if !heal => open = Some((format!("{fault} + {} {what}", op.f), start)),
                Some((fault, start)) => s.faults.push(FaultWindow {
                    fault,
                    start_s: secs(start),
                    end_s: secs(t),
                    unavailable_s: secs(longest_gap(&oks, start, t)),
                }),
                None if !heal => open = Some((format!("{} {what}", op.f), t)),
                None => {}
            }
        }
        if let Some((fault, start)) = open {
            let gap = longest_gap(&oks, start, end.max(start));
            s.faults.push(FaultWindow {
                fault,
                start_s: secs(start),
                end_s: secs(end),
                unavailable_s: secs(gap),
            });
        }
        s
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "ops: {} ok, {} fail, {} info in {:.1} s ({:.0} ops/s, {:.0} ok/s)",
            self.ops.ok, self.ops.fail, self.ops.info, self.duration_s, self.ops_per_s, self.ok_per_s
        );
        for (f, c) in &self.by_f {
            let _ = writeln!(out, "  {f:<6} {} ok, {} fail, {} info", c.ok, c.fail, c.info);
        }
        let _ = writeln!(
            out,
            "latency of ok ops: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.latency_ms_p50, self.latency_ms_p99, self.latency_ms_max
        );
        if !self.faults.is_empty() {
            let _ = writeln!(out, "faults (longest stretch with no ok op while in force):");
            for w in &self.faults {
                let _ = writeln!(
                    out,
                    "  {:>5.1}-{:<5.1} s  unavailable {:.1} s  {}",
                    w.start_s, w.end_s, w.unavailable_s, w.fault
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::{Op, Value};

    #[test]
    fn gaps_include_the_window_edges() {
        assert_eq!(longest_gap(&[5, 6, 20], 0, 30), 14);
        assert_eq!(longest_gap(&[], 10, 30), 20);
        assert_eq!(longest_gap(&[12], 10, 30), 18);
    }

    #[test]
    fn summarises_ops_latency_and_fault_windows() {
        let at = |mut op: Op, t: u64| {
            op.time = Some(t * 1_000_000_000);
            op
        };
        let w = |t| Op::new(Process::Client(0), t, F::Write, Value::Int(1));
        let n = |f: &str| Op::new(Process::Nemesis, Type::Info, F::parse(f), Value::str("n1"));
        let h = History::new(vec![
            at(w(Type::Invoke), 0),
            at(w(Type::Ok), 1),
            at(n("kill"), 2),
            at(w(Type::Invoke), 2),
            at(w(Type::Ok), 7),
            at(n("heal"), 8),
            at(w(Type::Invoke), 9),
            at(w(Type::Info), 10),
        ]);
        let s = Summary::of(&h);
        assert_eq!((s.ops.ok, s.ops.info), (2, 1));
        assert_eq!(s.faults.len(), 1);
        assert_eq!(s.faults[0].unavailable_s, 5.0);
        assert_eq!(s.latency_ms_max, 5000.0);
        assert!(s.to_text().contains("unavailable 5.0 s  kill n1"));
    }
}
