//! A history: ops in real-time order, validated and paired into calls.

use std::fmt;

use rustc_hash::FxHashMap;

use crate::op::{Op, Process, Type};

/// Where ops go as they happen: a run's history file, a test's vector. The
/// recorder stamps each op's `index` and `time`, so the order it sees is the
/// history's real-time order.
pub trait Record: Send + Sync {
    /// Stamps and keeps `op`, returning it as stamped.
    fn record(&self, op: Op) -> Op;
}

/// A history problem, located by the source line of the op that shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryError {
    pub line: u32,
    pub message: String,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for HistoryError {}

/// One client operation: its invocation paired with its completion.
///
/// Kept to two indices and an outcome so that a million calls cost 12 MB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    /// Index of the invoke op in the history.
    pub invoke: u32,
    /// Index of the completion op, if the history has one.
    pub complete: Option<u32>,
    /// Ok, Fail, or Info (also for an invocation that never completed).
    pub outcome: Type,
}

/// A call seen through its history: what models read.
#[derive(Clone, Copy, Debug)]
pub struct CallRef<'a> {
    pub invoke: &'a Op,
    pub complete: Option<&'a Op>,
    pub outcome: Type,
}

impl CallRef<'_> {
    /// The source line to blame for a problem with this call.
    pub fn line(&self) -> u32 {
        self.complete.map_or(self.invoke.line, |c| c.line)
    }
}

/// Ops in the order they happened.
#[derive(Clone, Debug)]
pub struct History {
    pub ops: Vec<Op>,
    /// Whether op times must never decrease (true unless the source orders by position only).
    pub check_time: bool,
    /// The 1-based line of a partial last line the reader left out (a file whose
    /// writer was killed mid-write): the ops are those of the lines before it.
    pub cut_short: Option<u32>,
}

impl History {
    pub fn new(ops: Vec<Op>) -> History {
        History {
            ops,
            check_time: true,
            cut_short: None,
        }
    }

    pub fn call(&self, c: &Call) -> CallRef<'_> {
        CallRef {
            invoke: &self.ops[c.invoke as usize],
            complete: c.complete.map(|i| &self.ops[i as usize]),
            outcome: c.outcome,
        }
    }

    /// Each client invocation with its completion (the process's next op), if
    /// any, in the order invoked: for reading a history, where [`History::pair`]
    /// checks it (an invocation followed by another of the same process is left
    /// without completion).
    pub fn completions(&self) -> Vec<(&Op, Option<&Op>)> {
        let mut open: FxHashMap<u64, usize> = FxHashMap::default();
        let mut out: Vec<(&Op, Option<&Op>)> = Vec::new();
        for op in &self.ops {
            let Process::Client(p) = op.process else { continue };
            if op.kind == Type::Invoke {
                open.insert(p, out.len());
                out.push((op, None));
            } else if let Some(i) = open.remove(&p) {
                out[i].1 = Some(op);
            }
        }
        out
    }

    /// Pairs each client invocation with its completion, checking the history's shape.
    ///
    /// Nemesis ops are skipped. An invocation with no completion by the end of the
    /// history is an `info` call: it may have taken effect, or not.
    pub fn pair(&self) -> Result<Vec<Call>, HistoryError> {
        if self.ops.len() >= u32::MAX as usize {
            return Err(HistoryError {
                line: 0,
                message: format!(
                    "history has {} ops; at most {} are supported",
                    self.ops.len(),
                    u32::MAX - 1
                ),
            });
        }
        let mut calls: Vec<Call> = Vec::with_capacity(self.ops.len() / 2 + 1);
        // process -> index into `calls` of its call in flight
        let mut open: FxHashMap<u64, usize> = FxHashMap::default();
        let mut last_time: Option<(u64, u32)> = None;
        for (i, op) in self.ops.iter().enumerate() {
            let err = |message: String| HistoryError { line: op.line, message };
            if let Some(t) = op.time.filter(|_| self.check_time) {
                if let Some((prev, prev_line)) = last_time
                    && t < prev
                {
                    return Err(err(format!(
                        "time goes backwards: {t} ns here, {prev} ns at the op before{}",
                        if prev_line > 0 {
                            format!(" (line {prev_line})")
                        } else {
                            String::new()
                        }
                    )));
                }
                last_time = Some((t, op.line));
            }
            let Process::Client(p) = op.process else { continue };
            match op.kind {
                Type::Invoke => {
                    if let Some(&c) = open.get(&p) {
                        let first = &self.ops[calls[c].invoke as usize];
                        return Err(err(format!(
                            "process {p} invokes {} while its {} invoked at line {} has not completed",
                            op.f, first.f, first.line
                        )));
                    }
                    open.insert(p, calls.len());
                    calls.push(Call {
                        invoke: i as u32,
                        complete: None,
                        outcome: Type::Info,
                    });
                }
                outcome => {
                    let Some(c) = open.remove(&p) else {
                        return Err(err(format!(
                            "process {p} completes {} ({}) with no invocation in flight",
                            op.f,
                            outcome.as_str()
                        )));
                    };
                    let inv = &self.ops[calls[c].invoke as usize];
                    if inv.f != op.f {
                        return Err(err(format!(
                            "process {p} completes {} but invoked {} at line {}",
                            op.f, inv.f, inv.line
                        )));
                    }
                    if op.key.is_some() && inv.key != op.key {
                        return Err(err(format!(
                            "process {p} completes on key {} but invoked on key {} at line {}",
                            op.key.as_ref().map_or("none".to_string(), |k| k.to_string()),
                            inv.key.as_ref().map_or("none".to_string(), |k| k.to_string()),
                            inv.line
                        )));
                    }
                    calls[c].complete = Some(i as u32);
                    calls[c].outcome = outcome;
                }
            }
        }
        Ok(calls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::F;
    use crate::value::Value;

    fn op(p: u64, kind: Type, f: F, line: u32) -> Op {
        let mut o = Op::new(Process::Client(p), kind, f, Value::Nil);
        o.line = line;
        o
    }

    #[test]
    fn pairs_and_leaves_open_calls_info() {
        let h = History::new(vec![
            op(0, Type::Invoke, F::Write, 1),
            op(1, Type::Invoke, F::Read, 2),
            op(0, Type::Ok, F::Write, 3),
        ]);
        let calls = h.pair().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(
            calls[0],
            Call {
                invoke: 0,
                complete: Some(2),
                outcome: Type::Ok
            }
        );
        assert_eq!(
            calls[1],
            Call {
                invoke: 1,
                complete: None,
                outcome: Type::Info
            }
        );
    }

    #[test]
    fn completion_without_invocation_is_an_error() {
        let h = History::new(vec![op(0, Type::Ok, F::Write, 7)]);
        let e = h.pair().unwrap_err();
        assert_eq!(e.line, 7);
        assert!(e.message.contains("no invocation"), "{e}");
    }

    #[test]
    fn two_invocations_in_flight_is_an_error() {
        let h = History::new(vec![op(3, Type::Invoke, F::Write, 1), op(3, Type::Invoke, F::Read, 2)]);
        let e = h.pair().unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("has not completed"), "{e}");
    }

    #[test]
    fn time_going_backwards_is_an_error() {
        let mut a = op(0, Type::Invoke, F::Write, 1);
        a.time = Some(10);
        let mut b = op(0, Type::Ok, F::Write, 2);
        b.time = Some(5);
        let e = History::new(vec![a, b]).pair().unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("backwards"), "{e}");
    }

    #[test]
    fn mismatched_f_is_an_error() {
        let h = History::new(vec![op(0, Type::Invoke, F::Write, 1), op(0, Type::Ok, F::Read, 2)]);
        assert!(h.pair().unwrap_err().message.contains("invoked write"));
    }

    #[test]
    fn nemesis_ops_are_skipped() {
        let mut n = op(0, Type::Info, F::parse("start"), 1);
        n.process = Process::Nemesis;
        assert!(History::new(vec![n]).pair().unwrap().is_empty());
    }
}
