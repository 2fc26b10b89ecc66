//! A scenario: an explicit sequence of steps in place of the random schedule,
//! so that a targeted fault sequence (stop these nodes in this order, write in
//! between, start that one again) is reproducible and reviewable. What it
//! expects of writes is recorded as `expect` ops and judged on the history
//! afterwards, beside the checker's verdict.

use std::time::Duration;

use checkers::{F, History, Process, Type, Value};

use crate::schedule::Fault;

/// What a scenario expects of acknowledged writes during a stretch of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writes {
    /// At least one write invoked in the stretch is acknowledged within it.
    Ok,
    /// No write invoked in the stretch is acknowledged within it (a stuck quorum).
    Blocked,
}

impl Writes {
    pub fn name(self) -> &'static str {
        match self {
            Writes::Ok => "ok",
            Writes::Blocked => "blocked",
        }
    }
}

/// One step; node indices are 0-based.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Wait(Duration),
    /// A fault, started as the schedule starts one (a killed node stays down
    /// until `Start` or the final heal).
    Fault(Fault),
    /// Starts killed nodes again on their data.
    Start(Vec<usize>),
    /// SIGCONT to paused nodes.
    Resume(Vec<usize>),
    /// Undoes every fault in force.
    Heal,
    /// Writes `writes` for the next `within`: the step lasts that long.
    Expect {
        writes: Writes,
        within: Duration,
    },
}

impl Step {
    /// How long the step itself takes (waits and expectations).
    pub fn duration(&self) -> Duration {
        match self {
            Step::Wait(d) | Step::Expect { within: d, .. } => *d,
            _ => Duration::ZERO,
        }
    }
}

/// An expectation as judged on a history.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Judged {
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
}

/// The `expect` op's value: `{writes: ok|blocked, within_ns: N}`.
pub fn expect_value(writes: Writes, within: Duration) -> Value {
    Value::Map(
        vec![
            (Value::str("writes"), Value::str(writes.name())),
            (Value::str("within_ns"), Value::Int(within.as_nanos() as i64)),
        ]
        .into(),
    )
}

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Map(m) => m.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
        _ => None,
    }
}

/// Judges every `expect` op of `history` on the client writes invoked in its
/// stretch (a write is an op of f `write`; its completion is the process's next
/// op).
pub fn judge(history: &History) -> Vec<Judged> {
    let ns = |t: u64| t as f64 / 1e9;
    // each write invocation with its outcome and completion time
    let mut writes: Vec<(u64, Option<u64>)> = Vec::new();
    let mut open: Vec<(u64, usize)> = Vec::new();
    for op in &history.ops {
        let Process::Client(p) = op.process else { continue };
        let t = op.time.unwrap_or(0);
        if op.kind == Type::Invoke {
            if op.f == F::parse("write") {
                open.push((p, writes.len()));
                writes.push((t, None));
            }
        } else if let Some(i) = open.iter().position(|(q, _)| *q == p) {
            let (_, w) = open.swap_remove(i);
            if op.kind == Type::Ok {
                writes[w].1 = Some(t);
            }
        }
    }
    history
        .ops
        .iter()
        .filter(|o| o.process == Process::Nemesis && o.f == F::parse("expect"))
        .filter_map(|o| {
            let want = field(&o.value, "writes")?.as_str()?;
            let Value::Int(within) = field(&o.value, "within_ns")? else {
                return None;
            };
            let from = o.time.unwrap_or(0);
            let to = from + *within as u64;
            let inside: Vec<&(u64, Option<u64>)> = writes.iter().filter(|(t, _)| (from..to).contains(t)).collect();
            // acknowledged within the stretch: a write still pending at its end
            // that succeeds once the quorum is back did not succeed while blocked
            let acked: Vec<u64> = inside
                .iter()
                .filter_map(|(_, done)| *done)
                .filter(|d| *d < to)
                .collect();
            let first = acked.iter().min().map(|t| ns(t - from));
            let held = match want {
                "blocked" => acked.is_empty(),
                _ => !acked.is_empty(),
            };
            Some(Judged {
                expect: format!("writes {want} within {} s", ns(*within as u64)),
                from_s: ns(from),
                to_s: ns(to),
                held,
                invoked: inside.len(),
                acknowledged: acked.len(),
                first_ok_after_s: first,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::Op;

    fn at(mut op: Op, ms: u64) -> Op {
        op.time = Some(ms * 1_000_000);
        op
    }

    fn write(p: u64, kind: Type, ms: u64) -> Op {
        at(Op::new(Process::Client(p), kind, F::parse("write"), Value::Int(1)), ms)
    }

    #[test]
    fn expectations_are_judged_on_the_writes_invoked_in_their_stretch() {
        let expect = |writes, ms| {
            at(
                Op::new(
                    Process::Nemesis,
                    Type::Info,
                    F::parse("expect"),
                    expect_value(writes, Duration::from_secs(1)),
                ),
                ms,
            )
        };
        let history = History {
            check_time: true,
            ops: vec![
                expect(Writes::Ok, 0),
                write(1, Type::Invoke, 100),
                write(1, Type::Ok, 300),
                expect(Writes::Blocked, 1000),
                // invoked before the stretch: does not count against it
                write(2, Type::Invoke, 900),
                write(2, Type::Ok, 1200),
                write(1, Type::Invoke, 1100),
                write(1, Type::Info, 2100),
                expect(Writes::Blocked, 3000),
                write(3, Type::Invoke, 3100),
                write(3, Type::Ok, 3200),
                // pending at the end of the stretch, acknowledged after: not in it
                write(4, Type::Invoke, 1900),
                write(4, Type::Ok, 2500),
            ],
        };
        let j = judge(&history);
        assert_eq!(j.len(), 3);
        assert!(j[0].held && j[0].acknowledged == 1);
        assert_eq!(j[0].first_ok_after_s, Some(0.3));
        assert!(j[1].held, "{:?}", j[1]);
        assert_eq!((j[1].invoked, j[1].acknowledged), (2, 0));
        assert!(!j[2].held, "an acknowledged write while blocked is expected");
        assert_eq!(j[2].expect, "writes blocked within 1 s");
    }
}
