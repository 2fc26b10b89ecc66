//! Drives a schedule against a cluster, recording each fault in the history as
//! process `nemesis`, and heals everything at the end whatever happened.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checkers::{F, Op, Process, Record, Type, Value};

use crate::catch_up::{self, CONFIRM_WITHIN, FILL_WITHIN};
use crate::cluster::Cluster;
use crate::error::Error;
use crate::partition::{self, grudge};
use crate::scenario::{Step, Writes, expect_value, recovered_value};
use crate::schedule::{Action, Fault, Schedule};
use crate::signal;
use crate::skew::ClockNemesis;

/// Faults in force, so that heal undoes exactly them.
#[derive(Default)]
struct InForce {
    description: Option<String>,
    partitioned: bool,
    killed: Vec<usize>,
    paused: Vec<usize>,
    /// A client pause was armed (it ends by itself; heal only closes its window).
    client_paused: bool,
    /// Members removed, which the heal adds back.
    removed: Vec<usize>,
}

pub struct Nemesis {
    cluster: Arc<dyn Cluster>,
    rec: Arc<dyn Record>,
    state: Mutex<InForce>,
    clock: ClockNemesis,
}

impl Nemesis {
    pub fn new(cluster: Arc<dyn Cluster>, rec: Arc<dyn Record>) -> Nemesis {
        Nemesis {
            clock: ClockNemesis::new(cluster.clone(), rec.clone()),
            cluster,
            rec,
            state: Mutex::new(InForce::default()),
        }
    }

    /// The fault in force, for progress lines.
    pub fn active(&self) -> Option<String> {
        self.state.lock().expect("nemesis state").description.clone()
    }

    fn record(&self, f: &str, value: String) {
        self.rec
            .record(Op::new(Process::Nemesis, Type::Info, F::parse(f), Value::str(&value)));
    }

    fn names(&self, nodes: &[usize]) -> String {
        nodes
            .iter()
            .map(|&i| self.cluster.name(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts one fault; `stop` ends one that takes its time (a catch-up by
    /// snapshot) early.
    pub fn start(&self, fault: &Fault, stop: &AtomicBool) -> Result<(), Error> {
        if let Fault::IsolateUntilSnapshot { node, pick } = fault {
            return self.isolate_until_snapshot(*node, *pick, stop);
        }
        let c = self.cluster.as_ref();
        let mut state = self.state.lock().expect("nemesis state");
        let (f, what) = match fault {
            Fault::Partition { .. } | Fault::Isolate(_) => {
                let (name, g) = match fault {
                    Fault::Partition { shape, pick } => (shape.name(), grudge(*shape, c.size(), *pick, c.leader())),
                    Fault::Isolate(nodes) => ("isolate", partition::split(c.size(), nodes)),
                    _ => unreachable!("a partition"),
                };
                // set first: a partition applied halfway must still be healed
                state.partitioned = true;
                partition::apply(c, &g)?;
                ("start-partition", format!("{name}: {}", partition::describe(c, &g)))
            }
            Fault::Kill(nodes) => {
                for &n in nodes {
                    if let Some(pid) = c.pid(n) {
                        signal::kill_hard(pid)?;
                        state.killed.push(n);
                    }
                }
                ("kill", self.names(&state.killed))
            }
            Fault::Pause(nodes) => {
                for &n in nodes {
                    if let Some(pid) = c.pid(n) {
                        signal::pause(pid)?;
                        state.paused.push(n);
                    }
                }
                ("pause", self.names(&state.paused))
            }
            Fault::ClientPause => {
                let what = c.pause_client().map_err(Error::Cluster)?;
                state.client_paused = true;
                ("client-pause", what)
            }
            Fault::Member(node) => {
                let what = c.remove_member(*node).map_err(Error::Cluster)?;
                state.removed.push(*node);
                ("member-remove", what)
            }
            Fault::Admin(op, node) => (op.name(), c.admin(*op, *node).map_err(Error::Cluster)?),
            Fault::IsolateUntilSnapshot { .. } => unreachable!("started above, without the lock"),
            Fault::Clock(fault) => match self.clock.start(fault) {
                Ok(what) => ("clock", what),
                // said already, node by node: the run goes on without this fault
                Err(_) => return Ok(()),
            },
        };
        self.record(f, what.clone());
        let description = format!("{f} {what}");
        state.description = Some(match state.description.take() {
            Some(other) => format!("{other} + {description}"),
            None => description,
        });
        Ok(())
    }

    /// `--nemesis isolate-until-snapshot`: a follower (`node`, or the one
    /// `pick` singles out other than the leader) cut off from every peer, the
    /// system's filler writes, the heal, and the member's word that it applied
    /// a snapshot; recorded as `isolate-until-snapshot` (the cut), `heal` and
    /// `catch-up` (what happened, or why it is not known). It holds the state's
    /// lock only briefly, so that progress lines go on while it writes; a cut
    /// it could not lift is left marked for the next heal.
    fn isolate_until_snapshot(&self, node: Option<usize>, pick: usize, stop: &AtomicBool) -> Result<(), Error> {
        let c = self.cluster.as_ref();
        let f = "isolate-until-snapshot";
        let Some(leader) = c.leader() else {
            self.not_cut("no leader answers".into());
            return Ok(());
        };
        let node = node.unwrap_or_else(|| partition::follower(c.size(), pick, Some(leader)));
        let (member, led_by) = (c.name(node), c.name(leader));
        if node == leader {
            self.not_cut(format!("{member} leads; only a follower is cut off"));
            return Ok(());
        }
        let mut catching_up = match c.catch_up(node, leader) {
            Ok(catching_up) => catching_up,
            Err(e) => {
                self.not_cut(e);
                return Ok(());
            }
        };
        let g = partition::split(c.size(), &[node]);
        let (others, before) = {
            let mut state = self.state.lock().expect("nemesis state");
            let before = state.description.clone();
            let mine = format!("{f} {member}");
            state.description = Some(before.as_ref().map_or(mine.clone(), |o| format!("{o} + {mine}")));
            // set first: a cut applied halfway must still be healed
            (std::mem::replace(&mut state.partitioned, true), before)
        };
        partition::apply(c, &g)?;
        self.record(f, format!("{member}: {} ({led_by} leads)", partition::describe(c, &g)));
        let filled = catching_up.fill(FILL_WITHIN, stop);
        // a partition in force before (a scenario's) stays; else our chain goes too
        let healed = if others {
            partition::lift(c, &g)
        } else {
            partition::heal(c)
        };
        let applied = match (&healed, &filled) {
            (Ok(()), Ok(_)) => {
                self.record("heal", format!("partition ({member} back)"));
                catching_up.confirm(CONFIRM_WITHIN, stop)
            }
            (Ok(()), Err(_)) => {
                self.record("heal", format!("partition ({member} back)"));
                Err("not looked for: the writes did not take the leader far enough".into())
            }
            (Err(e), _) => Err(format!("not looked for: the cut could not be lifted: {e}")),
        };
        let value = catch_up::outcome(&member, &led_by, &filled, &applied);
        self.rec
            .record(Op::new(Process::Nemesis, Type::Info, F::parse("catch-up"), value));
        eprintln!("splitbrain: {}", catch_up::said(&member, &filled, &applied));
        let mut state = self.state.lock().expect("nemesis state");
        state.description = before;
        if healed.is_ok() {
            state.partitioned = others;
        }
        healed
    }

    /// A catch-up by snapshot that cut nothing off: a `catch-up` op saying
    /// why (a notice, not a fault window), and the same on stderr.
    fn not_cut(&self, why: String) {
        let why = format!("nothing done: {why}");
        let value = Value::Map(
            vec![
                (Value::str("snapshot_applied"), Value::Bool(false)),
                (Value::str("why"), Value::str(&why)),
            ]
            .into(),
        );
        self.rec
            .record(Op::new(Process::Nemesis, Type::Info, F::parse("catch-up"), value));
        eprintln!("splitbrain: isolate-until-snapshot: {why}");
    }

    /// Undoes every fault in force: rules removed, paused nodes resumed, killed
    /// nodes restarted. Tries everything before reporting the first error.
    pub fn heal(&self) -> Result<(), Error> {
        let c = self.cluster.as_ref();
        let mut state = self.state.lock().expect("nemesis state");
        let mut errors = Vec::new();
        let mut healed = Vec::new();
        if state.partitioned {
            match partition::heal(c) {
                Ok(()) => healed.push("partition".to_string()),
                Err(e) => errors.push(e),
            }
            state.partitioned = false;
        }
        for n in std::mem::take(&mut state.paused) {
            match c.pid(n).map(signal::resume) {
                Some(Err(e)) => errors.push(e),
                _ => healed.push(format!("resume {}", c.name(n))),
            }
        }
        let clocked = self.clock.heal();
        if !clocked.is_empty() {
            healed.push(format!("clock {}", clocked.join(",")));
        }
        if std::mem::take(&mut state.client_paused) {
            healed.push("client-pause window".to_string());
        }
        for n in std::mem::take(&mut state.killed) {
            match c.restart(n) {
                Ok(()) => healed.push(format!("restart {}", c.name(n))),
                Err(e) => errors.push(Error::Cluster(e)),
            }
        }
        for n in std::mem::take(&mut state.removed) {
            match c.add_member(n) {
                Ok(what) => healed.push(what),
                Err(e) => errors.push(Error::Cluster(e)),
            }
        }
        // a window of admin operations alone has nothing to undo, yet it ends here
        let window = state.description.take().is_some();
        drop(state);
        if !healed.is_empty() {
            self.record("heal", healed.join(", "));
        } else if window {
            self.record("heal", "nothing to undo".into());
        }
        errors.into_iter().next().map_or(Ok(()), Err)
    }

    /// One upgrade step: `upgrade` (or `rollback`) names the member and the
    /// versions, `rollback-refused` what the system said, `versions` what every
    /// node reports after it (which closes the step's window).
    fn upgrade(&self, back: bool) -> Result<(), Error> {
        let c = self.cluster.as_ref();
        let (node, from, to) = c.upgrade_next(back).map_err(Error::Cluster)?;
        let f = if back { "rollback" } else { "upgrade" };
        self.record(f, format!("{} {from} -> {to}", c.name(node)));
        let began = Instant::now();
        let refused = c.upgrade(node, back);
        if let Ok(Some(message)) = &refused {
            self.record("rollback-refused", format!("{}: {message}", c.name(node)));
        }
        self.rec.record(Op::new(
            Process::Nemesis,
            Type::Info,
            F::parse("versions"),
            c.versions(),
        ));
        let refused = refused.map_err(Error::Cluster)?;
        eprintln!(
            "splitbrain: {f} {} {from} -> {to}: {} after {:.1} s",
            c.name(node),
            refused
                .as_ref()
                .map_or("done".to_string(), |m| format!("REFUSED ({m})")),
            began.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Starts killed nodes again, or resumes paused ones, of `nodes`.
    fn bring_back(&self, nodes: &[usize], killed: bool) -> Result<(), Error> {
        let c = self.cluster.as_ref();
        let mut state = self.state.lock().expect("nemesis state");
        let list = if killed { &mut state.killed } else { &mut state.paused };
        let mut back = Vec::new();
        for &n in nodes {
            if let Some(i) = list.iter().position(|&k| k == n) {
                list.remove(i);
                if killed {
                    c.restart(n).map_err(Error::Cluster)?;
                } else if let Some(pid) = c.pid(n) {
                    signal::resume(pid)?;
                }
                back.push(n);
            }
        }
        drop(state);
        self.record(if killed { "start" } else { "resume" }, self.names(&back));
        Ok(())
    }

    /// SIGTERM to each of `nodes`, then SIGKILL to any still running after 20 s;
    /// `Start` brings them back.
    fn stop_gracefully(&self, nodes: &[usize]) -> Result<(), Error> {
        let c = self.cluster.as_ref();
        let running: Vec<(usize, u32)> = nodes.iter().filter_map(|&n| Some((n, c.pid(n)?))).collect();
        let pids: Vec<u32> = running.iter().map(|&(_, pid)| pid).collect();
        let alive = |pid: u32| running.iter().any(|&(n, p)| p == pid && c.pid(n) == Some(pid));
        signal::stop(&pids, alive, Duration::from_secs(20))?;
        let stopped: Vec<usize> = running.iter().map(|&(n, _)| n).collect();
        let mut state = self.state.lock().expect("nemesis state");
        state.killed.extend(&stopped);
        drop(state);
        self.record("stop", self.names(&stopped));
        Ok(())
    }

    /// Polls the cluster's health every 250 ms until it is whole or `within`
    /// passes; records the `expect` op and the probe's answer.
    fn await_recovery(&self, within: Duration, step: usize, stop: &AtomicBool) {
        self.rec.record(Op::new(
            Process::Nemesis,
            Type::Info,
            F::parse("expect"),
            expect_value(Writes::Recovered, within, step),
        ));
        let start = Instant::now();
        let healthy = loop {
            let h = self.cluster.healthy();
            if h.is_ok() || start.elapsed() >= within || stop.load(Ordering::Relaxed) {
                break h;
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        self.rec.record(Op::new(
            Process::Nemesis,
            Type::Info,
            F::parse("recovered"),
            recovered_value(healthy, start.elapsed()),
        ));
    }

    /// Runs a scenario's steps in order from `start`, then heals; `stop` ends it
    /// early (still healed). `String`: the runner's thread returns it as it is.
    pub fn run_scenario(&self, steps: &[Step], stop: &AtomicBool) -> Result<(), String> {
        let mut result: Result<(), Error> = Ok(());
        for (i, step) in steps.iter().enumerate() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if *step == Step::Hold && !stop.load(Ordering::Relaxed) {
                self.record("hold", "the faults in force stay through the final reads".into());
                return result.map_err(String::from);
            }
            let mut timed = true;
            let done = match step {
                Step::Hold => unreachable!("returned above"),
                Step::Wait(_) => Ok(()),
                Step::Fault(fault) => {
                    // it lasts as long as it takes, bounded by its own limits
                    timed = !matches!(fault, Fault::IsolateUntilSnapshot { .. });
                    self.start(fault, stop)
                }
                Step::Start(nodes) => self.bring_back(nodes, true),
                Step::Resume(nodes) => self.bring_back(nodes, false),
                Step::Stop(nodes) => self.stop_gracefully(nodes),
                Step::Heal => self.heal(),
                Step::Phase(name) => {
                    self.record("phase", name.clone());
                    Ok(())
                }
                Step::Lose(nodes) => nodes
                    .iter()
                    .try_for_each(|&n| self.cluster.lose(n))
                    .map(|()| self.record("lose", self.names(nodes)))
                    .map_err(Error::Cluster),
                Step::Snapshot => self
                    .cluster
                    .snapshot()
                    .map(|taken| {
                        self.rec
                            .record(Op::new(Process::Nemesis, Type::Info, F::parse("snapshot"), taken));
                    })
                    .map_err(Error::Cluster),
                Step::Runbook { within } => {
                    timed = false;
                    self.record("runbook", "start".into());
                    // a runbook that fails is judged (the cluster is not recovered), not an error
                    let ended = self
                        .cluster
                        .runbook(*within, stop)
                        .unwrap_or_else(|e| format!("failed: {e}"));
                    self.record("runbook", ended);
                    Ok(())
                }
                Step::Expect {
                    writes: Writes::Recovered,
                    within,
                } => {
                    timed = false;
                    self.await_recovery(*within, i + 1, stop);
                    Ok(())
                }
                Step::Expect { writes, within } => {
                    self.rec.record(Op::new(
                        Process::Nemesis,
                        Type::Info,
                        F::parse("expect"),
                        expect_value(*writes, *within, i + 1),
                    ));
                    Ok(())
                }
            };
            if let Err(e) = done {
                result = Err(e);
                break;
            }
            let until = Instant::now() + if timed { step.duration() } else { Duration::ZERO };
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())));
            }
        }
        self.heal().and(result).map_err(String::from)
    }

    /// Runs the schedule from `start` until `stop`, then heals. Meant
    /// for a thread of its own: it sleeps in short steps so that `stop` is prompt.
    /// `String`: the runner's thread returns it as it is.
    pub fn run(&self, schedule: &Schedule, start: Instant, stop: &AtomicBool) -> Result<(), String> {
        let mut result: Result<(), Error> = Ok(());
        let mut lag = Duration::ZERO;
        for (at, action) in &schedule.steps {
            let due = start + *at + lag;
            while Instant::now() < due {
                if stop.load(Ordering::Relaxed) {
                    return self.heal().and(result).map_err(String::from);
                }
                std::thread::sleep(Duration::from_millis(20).min(due.saturating_duration_since(Instant::now())));
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let step = match action {
                Action::Start(fault @ Fault::IsolateUntilSnapshot { .. }) => {
                    let began = Instant::now();
                    let done = self.start(fault, stop);
                    // the faults after it keep their spacing
                    lag += began.elapsed();
                    done
                }
                Action::Start(fault) => self.start(fault, stop),
                Action::Heal => self.heal(),
                Action::Upgrade { back } => {
                    let began = Instant::now();
                    let done = self.upgrade(*back);
                    // the faults after it keep their spacing
                    lag += began.elapsed();
                    done
                }
            };
            if let Err(e) = step {
                result = Err(e);
                break;
            }
        }
        // the last fault stays in force until the workload ends
        while result.is_ok() && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.heal().and(result).map_err(String::from)
    }
}
