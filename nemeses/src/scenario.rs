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
    /// The cluster is whole again within the stretch (every node serves, the
    /// configured membership), and a write and a read invoked in it succeed.
    Recovered,
}

impl Writes {
    pub fn name(self) -> &'static str {
        match self {
            Writes::Ok => "ok",
            Writes::Blocked => "blocked",
            Writes::Recovered => "recovered",
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
    /// Writes `writes` for the next `within`: the step lasts that long, except
    /// `Recovered`, which ends as soon as the cluster is whole again.
    Expect {
        writes: Writes,
        within: Duration,
    },
    /// Names the stretch from here to the next phase (a band in the report).
    Phase(String),
    /// SIGTERM, then SIGKILL after 20 s: a graceful stop; `Start` brings them back.
    Stop(Vec<usize>),
    /// Killed with their data discarded: members lost for good, which only a
    /// runbook brings back (no heal restarts them).
    Lose(Vec<usize>),
    /// A snapshot the way the runbook needs it, kept off the cluster.
    Snapshot,
    /// The recovery runbook, given at most `within`; it ends when the runbook does.
    Runbook {
        within: Duration,
    },
    /// The last step: the faults in force stay through the final reads, unhealed.
    Hold,
}

impl Step {
    /// How long the step itself takes at most (waits, expectations, runbooks,
    /// a catch-up by snapshot).
    pub fn duration(&self) -> Duration {
        match self {
            Step::Wait(d) | Step::Expect { within: d, .. } | Step::Runbook { within: d } => *d,
            // writes until the leader is far enough, then waits for the snapshot
            Step::Fault(Fault::IsolateUntilSnapshot { .. }) => {
                crate::catch_up::FILL_WITHIN + crate::catch_up::CONFIRM_WITHIN
            }
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
    /// From the start of the stretch to the first acknowledgement, if any
    /// (`recovered`: to the first write and read both acknowledged).
    pub first_ok_after_s: Option<f64>,
    /// Why a `recovered` did not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Its step in the scenario, from 1.
    pub step: usize,
}

impl Judged {
    /// One line on an expectation that did not hold, naming its step.
    pub fn failure(&self) -> String {
        let what = match self.expect.strip_prefix("recovered ") {
            Some(within) => format!("not recovered {within}"),
            None => format!(
                "expected {}, but {} of {} acknowledged",
                self.expect, self.acknowledged, self.invoked
            ),
        };
        let why = self.why.as_ref().map_or(String::new(), |w| format!(": {w}"));
        format!("step {} (from {:.1} s): {what}{why}", self.step, self.from_s)
    }
}

/// The `expect` op's value: `{writes: ok|blocked|recovered, within_ns: N, step: K}`
/// (K counts the scenario's steps from 1).
pub fn expect_value(writes: Writes, within: Duration, step: usize) -> Value {
    Value::Map(
        vec![
            (Value::str("writes"), Value::str(writes.name())),
            (Value::str("within_ns"), Value::Int(within.as_nanos() as i64)),
            (Value::str("step"), Value::Int(step as i64)),
        ]
        .into(),
    )
}

/// The `recovered` op's value: whether the cluster was whole, after how long, and why not.
pub fn recovered_value(healthy: Result<(), String>, after: Duration) -> Value {
    let mut m = vec![
        (Value::str("healthy"), Value::Bool(healthy.is_ok())),
        (Value::str("after_ns"), Value::Int(after.as_nanos() as i64)),
    ];
    if let Err(why) = healthy {
        m.push((Value::str("why"), Value::str(&why)));
    }
    Value::Map(m.into())
}

/// `s` cut to about `max` bytes, in the middle, at char boundaries.
fn shortened(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut head = max / 2;
    while !s.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = s.len() - max / 2;
    while !s.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{} ... {}", &s[..head], &s[tail..])
}

/// Client calls of f `write` or `read`: (is a write, invoked at, acknowledged at).
fn calls(history: &History) -> Vec<(bool, u64, Option<u64>)> {
    let (write, read) = (F::parse("write"), F::parse("read"));
    let t = |o: &checkers::Op| o.time.unwrap_or(0);
    history
        .completions()
        .into_iter()
        .filter(|(inv, _)| inv.f == write || inv.f == read)
        .map(|(inv, done)| (inv.f == write, t(inv), done.filter(|d| d.kind == Type::Ok).map(t)))
        .collect()
}

/// Judges every `expect` op of `history` on the client writes (and, for
/// `recovered`, reads) invoked in its stretch (an op's completion is the
/// process's next op); `recovered` also takes the nemesis's health probe.
pub fn judge(history: &History) -> Vec<Judged> {
    let ns = |t: u64| t as f64 / 1e9;
    let calls = calls(history);
    let nemesis: Vec<&checkers::Op> = history.ops.iter().filter(|o| o.process == Process::Nemesis).collect();
    nemesis
        .iter()
        .enumerate()
        .filter(|(_, o)| o.f == F::parse("expect"))
        .filter_map(|(i, o)| {
            let want = o.value.get("writes")?.as_str()?;
            let Value::Int(within) = o.value.get("within_ns")? else {
                return None;
            };
            let from = o.time.unwrap_or(0);
            let to = from + *within as u64;
            // acknowledged within the stretch: a write still pending at its end
            // that succeeds once the quorum is back did not succeed while blocked
            let acked = |write: bool| -> Vec<u64> {
                calls
                    .iter()
                    .filter(|(w, t, _)| *w == write && (from..to).contains(t))
                    .filter_map(|(_, _, done)| *done)
                    .filter(|d| *d < to)
                    .collect()
            };
            let writes = acked(true);
            let invoked = calls.iter().filter(|(w, t, _)| *w && (from..to).contains(t)).count();
            let mut first = writes.iter().min().copied();
            let mut why = None;
            let held = match want {
                "blocked" => writes.is_empty(),
                "recovered" => {
                    let probe = nemesis[i + 1..].iter().find(|n| n.f == F::parse("recovered"));
                    let healthy = probe.and_then(|p| p.value.get("healthy")) == Some(&Value::Bool(true));
                    if !healthy {
                        why = Some(
                            probe
                                .and_then(|p| p.value.get("why")?.as_str().map(str::to_string))
                                .unwrap_or_else(|| "no health probe".into()),
                        );
                    }
                    let read = acked(false).into_iter().min();
                    // recovered once both a write and a read went through
                    first = first.zip(read).map(|(w, r)| w.max(r));
                    if healthy && first.is_none() {
                        why = Some("healthy, but no write and read both succeeded".into());
                    }
                    healthy && first.is_some()
                }
                _ => !writes.is_empty(),
            };
            Some(Judged {
                expect: match want {
                    "recovered" => format!("recovered within {} s", ns(*within as u64)),
                    _ => format!("writes {want} within {} s", ns(*within as u64)),
                },
                from_s: ns(from),
                to_s: ns(to),
                held,
                invoked,
                acknowledged: writes.len(),
                first_ok_after_s: first.map(|t| ns(t - from)),
                why: why.map(|w| shortened(&w, 300)),
                step: match o.value.get("step") {
                    Some(Value::Int(k)) => *k as usize,
                    _ => 0,
                },
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
                    expect_value(writes, Duration::from_secs(1), 1),
                ),
                ms,
            )
        };
        let history = History {
            check_time: true,
            cut_short: None,
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
        assert_eq!(
            j[2].failure(),
            "step 1 (from 3.0 s): expected writes blocked within 1 s, but 1 of 1 acknowledged"
        );
    }
}
