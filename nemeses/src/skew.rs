//! The clock nemesis: which nodes' clocks are skewed how, kept so while the
//! fault is in force. A keeper thread flips strobes, patches a node again when
//! its process was restarted, and records every node's offset once a second
//! (Jepsen's clock-offset ops) as read back from the pages the nodes read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use checkers::{F, Op, Process, Record, Type, Value};

use crate::clock::{Class, Injection, Skew};
use crate::cluster::Cluster;
use crate::error::Error;
use crate::schedule::{ClockFault, ClockShape, Clocks, Targets};

/// Nemesis ops that are not faults (no fault window opens at them).
pub const CLOCK_OFFSETS: &str = "clock-offsets";
pub const CLOCK_SKIPPED: &str = "clock-skipped";

const RECORD_EVERY: Duration = Duration::from_secs(1);
const CHECK_RESTART_EVERY: Duration = Duration::from_millis(200);

struct Skewed {
    /// `None` while the node's process is down (or could not be patched again).
    injection: Option<Injection>,
    fault: ClockFault,
    /// The skew per class while "on" (always, unless a strobe is in its off phase).
    wall: Option<Skew>,
    mono: Option<Skew>,
    on: bool,
    flipped: Instant,
    /// A restarted process that could not be patched: said once, not every round.
    refused: Option<u32>,
}

impl Skewed {
    fn apply(&self) {
        if let Some(inj) = &self.injection {
            inj.set(Class::Wall, self.wall.filter(|_| self.on));
            inj.set(Class::Mono, self.mono.filter(|_| self.on));
        }
    }
}

#[derive(Default)]
struct State {
    nodes: BTreeMap<usize, Skewed>,
    last_restart_check: Option<Instant>,
}

pub struct ClockNemesis {
    cluster: Arc<dyn Cluster>,
    rec: Arc<dyn Record>,
    state: Arc<Mutex<State>>,
    keeper: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
}

fn seconds(ns: i64) -> String {
    format!("{:+.3} s", ns as f64 / 1e9)
}

/// `bump +30.000 s`, `strobe +0.500 s every 10 ms`, `drift x2.000`, `reset`.
pub fn describe(shape: &ClockShape) -> String {
    match shape {
        ClockShape::Bump { offset_ns } => format!("bump {}", seconds(*offset_ns)),
        ClockShape::Strobe { offset_ns, period } => {
            format!("strobe {} every {} ms", seconds(*offset_ns), period.as_millis())
        }
        ClockShape::Drift { rate } => format!("drift x{:.3}", 1.0 + rate),
        ClockShape::Reset => "reset".into(),
    }
}

impl ClockNemesis {
    pub fn new(cluster: Arc<dyn Cluster>, rec: Arc<dyn Record>) -> ClockNemesis {
        ClockNemesis {
            cluster,
            rec,
            state: Arc::new(Mutex::new(State::default())),
            keeper: Mutex::new(None),
        }
    }

    fn record(rec: &dyn Record, f: &str, value: Value) {
        rec.record(Op::new(Process::Nemesis, Type::Info, F::parse(f), value));
    }

    /// Skews the fault's targets; a node that cannot be patched is skipped with
    /// one line saying why (and an op in the history), never silently. Returns
    /// what it did, for the fault's op.
    pub fn start(&self, fault: &ClockFault) -> Result<String, Error> {
        let c = self.cluster.as_ref();
        let nodes = match &fault.targets {
            Targets::Nodes(n) => n.clone(),
            Targets::Leader => vec![c.leader().unwrap_or(0)],
        };
        let (wall_now, mono_now) = (Class::Wall.now_ns(), Class::Mono.now_ns());
        let skew = |anchor_ns| match fault.shape {
            ClockShape::Bump { offset_ns } | ClockShape::Strobe { offset_ns, .. } => Some(Skew {
                offset_ns,
                ..Skew::default()
            }),
            ClockShape::Drift { rate } => Some(Skew {
                offset_ns: 0,
                rate,
                anchor_ns,
            }),
            ClockShape::Reset => None,
        };
        let mut state = self.state.lock().expect("clock state");
        let mut done = Vec::new();
        for n in nodes {
            let name = c.name(n);
            // a node skewed already keeps its patch and takes the new skew
            // a node skewed already keeps its patch and takes the new skew; a node
            // that is down (killed in the same window) takes it when it restarts
            let injection = match state.nodes.remove(&n).and_then(|s| s.injection) {
                Some(inj) if inj.alive() => Ok(Some(inj)),
                _ => c.pid(n).map_or(Ok(None), |pid| Injection::inject(pid).map(Some)),
            };
            let injection = match injection {
                Ok(inj) => inj,
                // it died under us (killed in the same window): down, as above
                Err(_) if c.pid(n).is_none() => None,
                Err(why) => {
                    eprintln!("splitbrain: clock fault on {name} skipped: {why}");
                    Self::record(self.rec.as_ref(), CLOCK_SKIPPED, Value::str(&format!("{name}: {why}")));
                    continue;
                }
            };
            done.push(match injection {
                Some(_) => name,
                None => format!("{name} (down: on its restart)"),
            });
            let skewed = Skewed {
                injection,
                fault: fault.clone(),
                wall: skew(wall_now).filter(|_| fault.clocks != Clocks::Mono),
                mono: skew(mono_now).filter(|_| fault.clocks != Clocks::Wall),
                on: true,
                flipped: Instant::now(),
                refused: None,
            };
            skewed.apply();
            state.nodes.insert(n, skewed);
        }
        drop(state);
        if done.is_empty() {
            return Err(Error::NoNodeSkewed);
        }
        self.keep();
        Ok(format!(
            "{} {} ({})",
            done.join(","),
            describe(&fault.shape),
            fault.clocks.name()
        ))
    }

    /// Starts the keeper thread if it is not running.
    fn keep(&self) {
        let mut keeper = self.keeper.lock().expect("clock keeper");
        if keeper.is_some() {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (state, cluster, rec, halt) = (self.state.clone(), self.cluster.clone(), self.rec.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            // offsets on a thread of their own: asking a cut-off node for its time
            // takes up to a second, and strobes must not wait for it
            let recorder = {
                let (state, cluster, rec, halt) = (state.clone(), cluster.clone(), rec.clone(), halt.clone());
                std::thread::spawn(move || {
                    while !halt.load(Ordering::Relaxed) {
                        let now = offsets(&state.lock().expect("clock state"), cluster.as_ref());
                        record_offsets(now, cluster.as_ref(), rec.as_ref());
                        let next = Instant::now() + RECORD_EVERY;
                        while !halt.load(Ordering::Relaxed) && Instant::now() < next {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                })
            };
            while !halt.load(Ordering::Relaxed) {
                let step = tick(&state, cluster.as_ref(), rec.as_ref());
                std::thread::sleep(step);
            }
            let _ = recorder.join();
        });
        *keeper = Some((stop, handle));
    }

    /// True time again on every skewed node, and their vDSOs restored. Returns
    /// the nodes healed.
    pub fn heal(&self) -> Vec<String> {
        if let Some((stop, handle)) = self.keeper.lock().expect("clock keeper").take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
        let mut state = self.state.lock().expect("clock state");
        let mut healed = Vec::new();
        let mut errors = Vec::new();
        for (n, skewed) in std::mem::take(&mut state.nodes) {
            healed.push(self.cluster.name(n));
            if let Some(inj) = skewed.injection
                && let Err(e) = inj.remove()
            {
                errors.push(format!("{}: {e}", self.cluster.name(n)));
            }
        }
        let now = (!healed.is_empty()).then(|| offsets(&state, self.cluster.as_ref()));
        drop(state);
        if let Some(now) = now {
            record_offsets(now, self.cluster.as_ref(), self.rec.as_ref());
        }
        // the skew is off already (reset before removal): a node left patched
        // reads true time, so this is worth a line, not the end of the run
        if !errors.is_empty() {
            eprintln!("splitbrain: warning: restoring clocks: {}", errors.join("; "));
        }
        healed
    }
}

impl Drop for ClockNemesis {
    fn drop(&mut self) {
        self.heal();
    }
}

/// Every node's offsets now, as its pages say: `{n1: {wall: ns, mono: ns}, ...}`,
/// read under the state's lock.
fn offsets(state: &State, c: &dyn Cluster) -> Vec<(String, i64, i64)> {
    let (wall_now, mono_now) = (Class::Wall.now_ns(), Class::Mono.now_ns());
    (0..c.size())
        .map(|n| {
            let inj = state.nodes.get(&n).and_then(|s| s.injection.as_ref());
            let at = |class: Class, now| inj.and_then(|i| i.get(class)).map_or(0, |s| s.offset_at(now));
            (c.name(n), at(Class::Wall, wall_now), at(Class::Mono, mono_now))
        })
        .collect()
}

/// Records offsets, with what each node says its wall clock is where it tells
/// (`seen`: whole seconds, so within half a second).
fn record_offsets(offsets: Vec<(String, i64, i64)>, c: &dyn Cluster, rec: &dyn Record) {
    let nodes = offsets
        .into_iter()
        .enumerate()
        .map(|(n, (name, wall, mono))| {
            let mut fields = vec![
                (Value::str("wall"), Value::Int(wall)),
                (Value::str("mono"), Value::Int(mono)),
            ];
            if let Some(t) = c.node_time(n) {
                // the header truncates to the second: its middle is the best guess
                let seen = t + 500_000_000 - Class::Wall.now_ns();
                fields.push((Value::str("seen"), Value::Int(seen / 1_000_000 * 1_000_000)));
            }
            (Value::str(&name), Value::Map(fields.into()))
        })
        .collect::<Vec<_>>();
    ClockNemesis::record(rec, CLOCK_OFFSETS, Value::Map(nodes.into()));
}

/// One round of upkeep; returns how long to sleep before the next.
fn tick(state: &Mutex<State>, c: &dyn Cluster, rec: &dyn Record) -> Duration {
    let mut state = state.lock().expect("clock state");
    let now = Instant::now();
    let mut next = Duration::from_millis(50);
    for skewed in state.nodes.values_mut() {
        if let ClockShape::Strobe { period, .. } = skewed.fault.shape {
            if now.duration_since(skewed.flipped) >= period {
                skewed.on = !skewed.on;
                skewed.flipped = now;
                skewed.apply();
            }
            next = next.min(period.saturating_sub(now.duration_since(skewed.flipped)));
        }
    }
    if state
        .last_restart_check
        .is_none_or(|t| now.duration_since(t) >= CHECK_RESTART_EVERY)
    {
        state.last_restart_check = Some(now);
        for (&n, skewed) in state.nodes.iter_mut() {
            if skewed.injection.as_ref().is_some_and(Injection::alive) {
                continue;
            }
            skewed.injection = None;
            // restarted (by the kill nemesis, an upgrade): the new process gets the skew too
            if let Some(pid) = c.pid(n).filter(|p| skewed.refused != Some(*p)) {
                match Injection::inject(pid) {
                    Ok(inj) => {
                        skewed.injection = Some(inj);
                        skewed.apply();
                        ClockNemesis::record(
                            rec,
                            "clock",
                            Value::str(&format!(
                                "{} {} ({}) again, on its restarted process",
                                c.name(n),
                                describe(&skewed.fault.shape),
                                skewed.fault.clocks.name()
                            )),
                        );
                    }
                    Err(why) => {
                        skewed.refused = Some(pid);
                        eprintln!("splitbrain: clock fault on restarted {}: not applied: {why}", c.name(n))
                    }
                }
            }
        }
    }
    next.max(Duration::from_millis(1))
}
