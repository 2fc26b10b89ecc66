//! The clock injection on a real process of our own (the `clockprobe` binary,
//! busy on two threads): every clock it reads through the vDSO is skewed as asked,
//! other processes' are not, and removal gives real time back.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use std::sync::{Arc, Mutex};

use checkers::{Op, Record, Value};
use nemeses::Cluster;
use nemeses::clock::{Class, Injection, Skew};
use nemeses::schedule::{ClockFault, ClockShape, Clocks, Targets};
use nemeses::skew::ClockNemesis;

struct Probe {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// One reading of the probe and of our own clocks right after: (probe - real) per clock, in ns.
#[derive(Debug)]
struct Offsets {
    realtime: i64,
    monotonic: i64,
    gettimeofday: i64,
    time: i64,
    /// Half the time the question took: how far off a reading can be from the midpoint.
    slack: i64,
}

fn real(class: Class) -> i64 {
    class.now_ns()
}

impl Probe {
    fn start() -> Probe {
        let mut child = Command::new(env!("CARGO_BIN_EXE_clockprobe"))
            .args(["--threads", "2"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("clockprobe");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        Probe { child, stdin, stdout }
    }

    fn ask(&mut self, what: &str) -> String {
        writeln!(self.stdin, "{what}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the probe died");
        line
    }

    fn offsets(&mut self) -> Offsets {
        let (wall0, mono0) = (real(Class::Wall), real(Class::Mono));
        let line = self.ask("read");
        let (wall1, mono1) = (real(Class::Wall), real(Class::Mono));
        let v: Vec<i64> = line.split_whitespace().map(|w| w.parse().unwrap()).collect();
        let (wall, mono) = ((wall0 + wall1) / 2, (mono0 + mono1) / 2);
        Offsets {
            realtime: v[0] - wall,
            monotonic: v[1] - mono,
            gettimeofday: v[2] * 1000 - wall,
            time: v[3] * 1_000_000_000 - wall,
            slack: (wall1 - wall0) / 2,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const MS: i64 = 1_000_000;

impl Offsets {
    /// Each named clock within 1 ms of `want` (beyond the time the question took).
    fn all_near(&self, clocks: &[(&str, i64)], want: i64) -> bool {
        clocks.iter().all(|(_, got)| (got - want).abs() <= MS + self.slack)
    }
    fn wall(&self) -> [(&'static str, i64); 2] {
        [("realtime", self.realtime), ("gettimeofday", self.gettimeofday)]
    }
    fn mono(&self) -> [(&'static str, i64); 1] {
        [("monotonic", self.monotonic)]
    }
}

fn bump(offset_ns: i64) -> Option<Skew> {
    Some(Skew {
        offset_ns,
        ..Skew::default()
    })
}

#[test]
fn bump_moves_every_clock_by_the_amount_and_reset_gives_real_time_back() {
    let mut probe = Probe::start();
    let mut other = Probe::start();
    let inj = Injection::inject(probe.pid()).unwrap();
    let o = probe.offsets();
    assert!(
        o.all_near(&o.wall(), 0) && o.all_near(&o.mono(), 0),
        "patched, no skew: {o:?}"
    );

    inj.set(Class::Wall, bump(90_000 * MS));
    inj.set(Class::Mono, bump(-30_000 * MS));
    let o = probe.offsets();
    assert!(o.all_near(&o.wall(), 90_000 * MS), "{o:?}");
    // time() has whole seconds of the coarse clock
    assert!((o.time - 90_000 * MS).abs() < 1_010 * MS + o.slack, "{o:?}");
    assert!(o.all_near(&o.mono(), -30_000 * MS), "{o:?}");
    assert!(inj.calls(Class::Wall) > 0 && inj.calls(Class::Mono) > 0);
    let calls = inj.calls(Class::Mono);
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        inj.calls(Class::Mono) > calls,
        "its busy threads keep reading the skewed clock"
    );

    // other processes, and we, are untouched
    let o = other.offsets();
    assert!(
        o.all_near(&o.wall(), 0) && o.all_near(&o.mono(), 0),
        "another process: {o:?}"
    );

    inj.set(Class::Wall, None);
    inj.set(Class::Mono, None);
    let o = probe.offsets();
    assert!(o.all_near(&o.wall(), 0) && o.all_near(&o.mono(), 0), "reset: {o:?}");

    inj.set(Class::Wall, bump(-5_000 * MS));
    inj.remove().unwrap();
    let o = probe.offsets();
    assert!(o.all_near(&o.wall(), 0), "removed: {o:?}");
    // and it can be patched again
    let again = Injection::inject(probe.pid()).unwrap();
    again.set(Class::Mono, bump(1_000 * MS));
    let o = probe.offsets();
    assert!(o.all_near(&o.mono(), 1_000 * MS), "{o:?}");
    again.remove().unwrap();
}

#[test]
fn drift_has_the_asked_slope() {
    let mut probe = Probe::start();
    let inj = Injection::inject(probe.pid()).unwrap();
    for rate in [1.0, -0.5, 0.01] {
        let skew = Skew {
            offset_ns: 0,
            rate,
            anchor_ns: real(Class::Mono),
        };
        inj.set(Class::Mono, Some(skew));
        let (a, ta) = (probe.offsets(), real(Class::Mono));
        std::thread::sleep(Duration::from_secs(1));
        let (b, tb) = (probe.offsets(), real(Class::Mono));
        // the offset grows by rate x elapsed: within 1% of the rate (and of the
        // time the questions took)
        let slope = (b.monotonic - a.monotonic) as f64 / (tb - ta) as f64;
        let tolerance = rate.abs() * 0.01 + (a.slack + b.slack) as f64 / (tb - ta) as f64;
        assert!((slope - rate).abs() < tolerance, "rate {rate}: slope {slope}");
    }
    inj.remove().unwrap();
}

#[test]
fn offsets_change_with_the_target_running_many_times() {
    let mut probe = Probe::start();
    let inj = Injection::inject(probe.pid()).unwrap();
    for i in 0..200 {
        let off = if i % 2 == 0 { 250 * MS } else { -250 * MS };
        inj.set(Class::Wall, bump(off));
        let o = probe.offsets();
        assert!(o.all_near(&o.wall(), off), "{o:?}");
    }
    inj.remove().unwrap();
    // inject and remove repeatedly while its threads hammer the clock
    for _ in 0..20 {
        let inj = Injection::inject(probe.pid()).unwrap();
        inj.set(Class::Mono, bump(7 * MS));
        let o = probe.offsets();
        assert!(o.all_near(&o.mono(), 7 * MS), "{o:?}");
        inj.remove().unwrap();
    }
    assert!(probe.child.try_wait().unwrap().is_none(), "the probe still runs");
    let o = probe.offsets();
    assert!(o.all_near(&o.mono(), 0), "{o:?}");
}

#[test]
fn what_cannot_be_patched_says_why() {
    let probe = Probe::start();
    let inj = Injection::inject(probe.pid()).unwrap();
    let again = Injection::inject(probe.pid()).err().unwrap();
    assert!(again.contains("already patched"), "{again}");
    inj.remove().unwrap();
    let gone = Injection::inject(u32::MAX / 2).err().unwrap();
    assert!(gone.contains("no process"), "{gone}");

    // traced by someone else already: refused, said, and the target runs on
    let mut traced = Probe::start();
    let pid = nix::unistd::Pid::from_raw(traced.pid() as i32);
    nix::sys::ptrace::seize(pid, nix::sys::ptrace::Options::empty()).unwrap();
    let refused = Injection::inject(traced.pid()).err().unwrap();
    assert!(refused.contains("refused"), "{refused}");
    nix::sys::ptrace::detach(pid, None).ok();
    let o = traced.offsets();
    assert!(o.all_near(&o.wall(), 0), "{o:?}");
}

/// Probes standing in for nodes: the clock nemesis sees them through `Cluster`.
struct Probes {
    probes: Mutex<Vec<Option<Probe>>>,
}

impl Cluster for Probes {
    fn size(&self) -> usize {
        self.probes.lock().unwrap().len()
    }
    fn name(&self, node: usize) -> String {
        format!("n{}", node + 1)
    }
    fn ip(&self, _: usize) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::LOCALHOST
    }
    fn netns(&self, _: usize) -> std::path::PathBuf {
        "/proc/self/ns/net".into()
    }
    fn pid(&self, node: usize) -> Option<u32> {
        self.probes.lock().unwrap()[node].as_ref().map(Probe::pid)
    }
    fn restart(&self, node: usize) -> Result<(), String> {
        self.probes.lock().unwrap()[node] = Some(Probe::start());
        Ok(())
    }
    fn leader(&self) -> Option<usize> {
        Some(1)
    }
    fn run_id(&self) -> String {
        "test".into()
    }
    fn iptables(&self) -> Option<&nemeses::iptables::Iptables> {
        None
    }
    fn pause_client(&self) -> Result<String, String> {
        Err("no clients".into())
    }
}

#[derive(Default)]
struct Ops(Mutex<Vec<Op>>);

impl Record for Ops {
    fn record(&self, op: Op) -> Op {
        self.0.lock().unwrap().push(op.clone());
        op
    }
}

impl Ops {
    fn named(&self, f: &str) -> Vec<Value> {
        let ops = self.0.lock().unwrap();
        ops.iter()
            .filter(|o| o.f.to_string() == f)
            .map(|o| o.value.clone())
            .collect()
    }
}

#[test]
fn the_clock_nemesis_skews_its_targets_again_after_a_restart_and_heals() {
    let cluster = Arc::new(Probes {
        probes: Mutex::new(vec![Some(Probe::start()), Some(Probe::start()), None]),
    });
    let ops = Arc::new(Ops::default());
    let nemesis = ClockNemesis::new(cluster.clone(), ops.clone());
    let fault = ClockFault {
        targets: Targets::Leader,
        shape: ClockShape::Bump { offset_ns: 4_000 * MS },
        clocks: Clocks::Wall,
    };
    assert_eq!(nemesis.start(&fault).unwrap(), "n2 bump +4.000 s (wall)");
    let skewed = |c: &Probes, node: usize| {
        let o = c.probes.lock().unwrap()[node].as_mut().unwrap().offsets();
        (o.all_near(&o.wall(), 4_000 * MS), o.all_near(&o.mono(), 0), o)
    };
    let (wall, mono, o) = skewed(&cluster, 1);
    assert!(wall && mono, "the leader's wall clock only: {o:?}");
    let (wall, _, o) = skewed(&cluster, 0);
    assert!(!wall, "n1 is not a target: {o:?}");

    // n2 restarts (a kill, an upgrade): its new process is skewed too
    cluster.restart(1).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !skewed(&cluster, 1).0 {
        assert!(std::time::Instant::now() < deadline, "not re-applied within 2 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        ops.named("clock").iter().any(|v| v.to_string().contains("restarted")),
        "the re-application is in the history"
    );

    // a node that is down takes the skew when it comes back
    let down = ClockFault {
        targets: Targets::Nodes(vec![2]),
        ..fault.clone()
    };
    assert_eq!(
        nemesis.start(&down).unwrap(),
        "n3 (down: on its restart) bump +4.000 s (wall)"
    );
    cluster.restart(2).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !skewed(&cluster, 2).0 {
        assert!(
            std::time::Instant::now() < deadline,
            "not applied on its start within 2 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(nemesis.heal(), ["n2", "n3"]);
    let (wall, _, o) = skewed(&cluster, 1);
    assert!(!wall && o.all_near(&o.wall(), 0), "healed: {o:?}");
    let offsets = ops.named("clock-offsets");
    assert!(offsets.len() >= 2, "{offsets:?}");
    let first = offsets[0].to_string();
    assert!(first.contains("4000000000") && first.contains("n1"), "{first}");
    let last = offsets.last().unwrap().to_string();
    assert!(!last.contains("4000000000"), "the heal records true time: {last}");
}
