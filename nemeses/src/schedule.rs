//! When which fault starts and heals: a pure function of the options and the
//! seed, so that a run's fault schedule can be replayed on any runtime.

use std::time::Duration;

use checkers::rng::Rng;

/// Kinds of fault `--nemesis` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Partition,
    Kill,
    Pause,
    /// Stalls one lock holder (a client, not a node) past its lease.
    ClientPause,
    /// Skews the clocks of some nodes (on a timeline of its own, beside the others).
    Clock,
    /// Upgrades (and rolls back) members one at a time, in the heal windows.
    Upgrade,
    /// Removes a member from the membership; the heal adds it back, fresh.
    Member,
    /// An operator's admin operation on one member while it serves (etcd's
    /// compaction, defragmentation; a snapshot on any system).
    Compact,
    Defrag,
    Snapshot,
    /// Cuts a follower off until only a snapshot can bring it back, then heals
    /// and waits for the member to say it applied one.
    IsolateUntilSnapshot,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Partition,
        Kind::Kill,
        Kind::Pause,
        Kind::ClientPause,
        Kind::Clock,
        Kind::Upgrade,
        Kind::Member,
        Kind::Compact,
        Kind::Defrag,
        Kind::Snapshot,
        Kind::IsolateUntilSnapshot,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Partition => "partition",
            Kind::Kill => "kill",
            Kind::Pause => "pause",
            Kind::ClientPause => "client-pause",
            Kind::Clock => "clock",
            Kind::Upgrade => "upgrade",
            Kind::Member => "member",
            Kind::Compact => "compact",
            Kind::Defrag => "defrag",
            Kind::Snapshot => "snapshot",
            Kind::IsolateUntilSnapshot => "isolate-until-snapshot",
        }
    }

    /// What it does, in a few words (`--nemesis`'s help).
    pub fn about(self) -> &'static str {
        match self {
            Kind::Partition => "cuts the network (--partition's shapes)",
            Kind::Kill => "SIGKILLs a node, then restarts it on its data",
            Kind::Pause => "SIGSTOPs a node, then SIGCONTs it",
            Kind::ClientPause => "a lock holder or leader stalls past its lease (lock, election)",
            Kind::Clock => "skews nodes' clocks, beside the other faults (--clock)",
            Kind::Upgrade => "upgrades members one at a time (--to), and back with --rollback",
            Kind::Member => "removes a member; the heal adds it back, fresh",
            Kind::Compact => "compacts the keyspace on a member (etcd)",
            Kind::Defrag => "defragments a member's backend (etcd)",
            Kind::Snapshot => "takes a snapshot from a member while it serves",
            Kind::IsolateUntilSnapshot => "cuts a follower off until only a snapshot brings it back (etcd)",
        }
    }

    /// Every kind's name, for help texts and errors.
    pub fn names() -> Vec<&'static str> {
        Kind::ALL.iter().map(|k| k.name()).collect()
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// Partition shapes, as in Jepsen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Two halves; the larger one keeps a majority.
    Halves,
    /// One node cut off from all others.
    One,
    /// Each node sees a majority, but no two nodes see the same majority.
    MajoritiesRing,
    /// Two halves joined by one node that sees both.
    Bridge,
    /// The current leader cut off from all others.
    Leader,
    /// A node other than the leader cut off from all others.
    Follower,
}

impl Shape {
    pub const ALL: [Shape; 6] = [
        Shape::Halves,
        Shape::One,
        Shape::MajoritiesRing,
        Shape::Bridge,
        Shape::Leader,
        Shape::Follower,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Halves => "halves",
            Shape::One => "one",
            Shape::MajoritiesRing => "majorities-ring",
            Shape::Bridge => "bridge",
            Shape::Leader => "leader",
            Shape::Follower => "follower",
        }
    }

    /// Every shape's name, for help texts and errors.
    pub fn names() -> Vec<&'static str> {
        Shape::ALL.iter().map(|k| k.name()).collect()
    }

    pub fn parse(s: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// One fault, with its targets chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// `pick` seeds which nodes the shape singles out.
    Partition {
        shape: Shape,
        pick: usize,
    },
    /// These nodes cut off from the rest, both ways (scenarios name them).
    Isolate(Vec<usize>),
    Kill(Vec<usize>),
    Pause(Vec<usize>),
    ClientPause,
    Clock(ClockFault),
    /// This member removed from the membership (one: a majority of the
    /// configured size always stays).
    Member(usize),
    /// An admin operation on this member; nothing to heal.
    Admin(Admin, usize),
    /// A follower cut off from its peers while the leader's log moves past
    /// what it keeps for followers, then healed: `node` where a scenario names
    /// it, else the one `pick` singles out other than the leader. It heals
    /// itself once the member has caught up (or could not).
    IsolateUntilSnapshot {
        node: Option<usize>,
        pick: usize,
    },
}

/// The admin operations of `--nemesis compact,defrag,snapshot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admin {
    /// Compact the keyspace at a recent revision (etcd).
    Compact,
    /// Defragment the member's backend (etcd).
    Defrag,
    /// Take a snapshot from the member while it serves.
    Snapshot,
}

impl Admin {
    pub fn name(self) -> &'static str {
        match self {
            Admin::Compact => "compact",
            Admin::Defrag => "defrag",
            Admin::Snapshot => "snapshot",
        }
    }
}

/// Which nodes a fault singles out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    Nodes(Vec<usize>),
    /// Whichever node leads when the fault starts.
    Leader,
}

/// `--clock-target`: how clock faults pick their nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockTarget {
    One,
    Leader,
    Minority,
}

/// `--clock`: the shapes clock faults are drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockShapeKind {
    Bump,
    Strobe,
    Drift,
    Reset,
}

/// What happens to the targets' clocks.
#[derive(Clone, Debug, PartialEq)]
pub enum ClockShape {
    /// Jump by this many ns (negative: back) and stay there.
    Bump { offset_ns: i64 },
    /// Flip between true time and `offset_ns` every `period` until healed.
    Strobe { offset_ns: i64, period: Duration },
    /// Run at `1 + rate` times real speed (from the start of the fault).
    Drift { rate: f64 },
    /// True time again.
    Reset,
}

/// Which clock classes a clock fault skews.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clocks {
    Wall,
    Mono,
    Both,
}

impl Clocks {
    pub fn name(self) -> &'static str {
        match self {
            Clocks::Wall => "wall",
            Clocks::Mono => "mono",
            Clocks::Both => "both",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClockFault {
    pub targets: Targets,
    pub shape: ClockShape,
    pub clocks: Clocks,
}

/// The clock nemesis's options: from these and the seed, each clock fault.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockPlan {
    pub shapes: Vec<ClockShapeKind>,
    pub targets: Vec<ClockTarget>,
    pub clocks: Clocks,
    /// Size of a bump or a strobe's offset.
    pub offset: Duration,
    /// Speed of a fast drift (a slow one runs at its inverse), e.g. 2.0.
    pub speed: f64,
    pub strobe_period: Duration,
    /// Draw forward (+1), backward (-1) or either (0) skews.
    pub direction: i8,
}

impl Default for ClockPlan {
    fn default() -> ClockPlan {
        ClockPlan {
            shapes: vec![ClockShapeKind::Bump, ClockShapeKind::Strobe, ClockShapeKind::Drift],
            targets: vec![ClockTarget::One, ClockTarget::Leader, ClockTarget::Minority],
            clocks: Clocks::Both,
            offset: Duration::from_secs(30),
            speed: 2.0,
            strobe_period: Duration::from_millis(10),
            direction: 0,
        }
    }
}

impl ClockPlan {
    fn draw(&self, rng: &mut Rng, nodes: usize) -> ClockFault {
        let forward = match self.direction {
            0 => rng.below(2) == 0,
            d => d > 0,
        };
        let sign = if forward { 1 } else { -1 };
        let offset_ns = sign * self.offset.as_nanos().min(i64::MAX as u128) as i64;
        let shape = match self.shapes[rng.below(self.shapes.len() as u64) as usize] {
            ClockShapeKind::Bump => ClockShape::Bump { offset_ns },
            ClockShapeKind::Strobe => ClockShape::Strobe {
                offset_ns,
                period: self.strobe_period,
            },
            ClockShapeKind::Drift => ClockShape::Drift {
                rate: if forward {
                    self.speed - 1.0
                } else {
                    1.0 / self.speed - 1.0
                },
            },
            ClockShapeKind::Reset => ClockShape::Reset,
        };
        let targets = match self.targets[rng.below(self.targets.len() as u64) as usize] {
            ClockTarget::One => Targets::Nodes(vec![rng.below(nodes as u64) as usize]),
            ClockTarget::Leader => Targets::Leader,
            ClockTarget::Minority => Targets::Nodes(minority(rng, nodes)),
        };
        ClockFault {
            targets,
            shape,
            clocks: self.clocks,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Start(Fault),
    /// Undo every fault in force.
    Heal,
    /// Take the next member to the new version (`back`: to the old one), by the
    /// system's procedure, from a healed cluster.
    Upgrade {
        back: bool,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Offsets from the start of the workload, increasing.
    pub steps: Vec<(Duration, Action)>,
}

/// A random minority: 1 to (n-1)/2 distinct nodes.
fn minority(rng: &mut Rng, n: usize) -> Vec<usize> {
    let size = 1 + rng.below(((n - 1) / 2).max(1) as u64) as usize;
    let mut nodes: Vec<usize> = (0..n).collect();
    for i in 0..size {
        let j = i + rng.below((n - i) as u64) as usize;
        nodes.swap(i, j);
    }
    let mut picked = nodes[..size].to_vec();
    picked.sort();
    picked
}

impl Schedule {
    /// Faults alternate with heals every `interval`, from `interval` on, while
    /// before `total`; the kind and targets of each fault are drawn from `seed`.
    /// Clock faults run beside the others: each fault window also skews clocks
    /// (so a node can be cut off and skewed at once), and a heal undoes both.
    /// `upgrades` (each `back` or not) go in order right after heals, or every
    /// interval when there are no other faults; those that do not fit before
    /// `total` are left out ([`Schedule::upgrades`] counts those placed).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kinds: &[Kind],
        shapes: &[Shape],
        clock: &ClockPlan,
        upgrades: &[bool],
        nodes: usize,
        interval: Duration,
        total: Duration,
        seed: u64,
    ) -> Schedule {
        let mut steps = Vec::new();
        if kinds.is_empty() || interval.is_zero() {
            return Schedule { steps };
        }
        let mut upgrades = upgrades.iter();
        let others: Vec<Kind> = kinds
            .iter()
            .copied()
            .filter(|k| !matches!(k, Kind::Clock | Kind::Upgrade))
            .collect();
        let faults = !others.is_empty() || kinds.contains(&Kind::Clock);
        let clocked = kinds.contains(&Kind::Clock);
        let mut rng = Rng::new(seed ^ 0x006e_656d_6573_6973);
        // its own stream: adding clock faults leaves the other faults as they were
        let mut clock_rng = Rng::new(seed ^ 0x636c_6f63_6b73);
        let mut at = interval;
        let mut faulted = false;
        while at < total {
            if !faults {
                if let Some(&back) = upgrades.next() {
                    steps.push((at, Action::Upgrade { back }));
                }
            } else if faulted {
                steps.push((at, Action::Heal));
                if let Some(&back) = upgrades.next() {
                    steps.push((at, Action::Upgrade { back }));
                }
            } else {
                if !others.is_empty() {
                    steps.push((
                        at,
                        Action::Start(match others[rng.below(others.len() as u64) as usize] {
                            Kind::Partition => Fault::Partition {
                                shape: shapes[rng.below(shapes.len() as u64) as usize],
                                pick: rng.below(nodes as u64) as usize,
                            },
                            Kind::Kill => Fault::Kill(minority(&mut rng, nodes)),
                            Kind::Pause => Fault::Pause(minority(&mut rng, nodes)),
                            Kind::ClientPause => Fault::ClientPause,
                            Kind::Member => Fault::Member(rng.below(nodes as u64) as usize),
                            Kind::Compact => Fault::Admin(Admin::Compact, rng.below(nodes as u64) as usize),
                            Kind::Defrag => Fault::Admin(Admin::Defrag, rng.below(nodes as u64) as usize),
                            Kind::Snapshot => Fault::Admin(Admin::Snapshot, rng.below(nodes as u64) as usize),
                            Kind::IsolateUntilSnapshot => Fault::IsolateUntilSnapshot {
                                node: None,
                                pick: rng.below(nodes as u64) as usize,
                            },
                            Kind::Clock | Kind::Upgrade => unreachable!("not drawn: they have timelines of their own"),
                        }),
                    ));
                }
                if clocked {
                    steps.push((at, Action::Start(Fault::Clock(clock.draw(&mut clock_rng, nodes)))));
                }
            }
            faulted = !faulted;
            at += interval;
        }
        Schedule { steps }
    }

    /// How many upgrade steps it holds.
    pub fn upgrades(&self) -> usize {
        self.steps
            .iter()
            .filter(|(_, a)| matches!(a, Action::Upgrade { .. }))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(seed: u64) -> Schedule {
        Schedule::new(
            &Kind::ALL[..4],
            &Shape::ALL,
            &ClockPlan::default(),
            &[],
            5,
            Duration::from_secs(5),
            Duration::from_secs(60),
            seed,
        )
    }

    #[test]
    fn same_seed_same_schedule() {
        assert_eq!(sched(7), sched(7));
        assert_ne!(sched(7), sched(8));
    }

    #[test]
    fn faults_alternate_with_heals_and_hit_minorities() {
        let s = sched(3);
        assert_eq!(s.steps.len(), 11);
        for (i, (at, action)) in s.steps.iter().enumerate() {
            assert_eq!(*at, Duration::from_secs(5 * (i as u64 + 1)));
            match action {
                Action::Heal => assert_eq!(i % 2, 1),
                Action::Start(Fault::Kill(nodes) | Fault::Pause(nodes)) => {
                    assert_eq!(i % 2, 0);
                    assert!(!nodes.is_empty() && nodes.len() <= 2, "{nodes:?}");
                }
                Action::Start(
                    Fault::Partition { .. }
                    | Fault::Isolate(_)
                    | Fault::ClientPause
                    | Fault::Clock(_)
                    | Fault::Member(_)
                    | Fault::Admin(..)
                    | Fault::IsolateUntilSnapshot { .. },
                ) => {
                    assert_eq!(i % 2, 0)
                }
                Action::Upgrade { .. } => panic!("no upgrades asked for"),
            }
        }
    }

    #[test]
    fn clock_faults_ride_beside_the_others_without_changing_them() {
        let with = |kinds: &[Kind]| {
            Schedule::new(
                kinds,
                &Shape::ALL,
                &ClockPlan::default(),
                &[],
                3,
                Duration::from_secs(5),
                Duration::from_secs(60),
                9,
            )
        };
        let plain = with(&[Kind::Partition, Kind::Kill]);
        let both = with(&[Kind::Partition, Kind::Kill, Kind::Clock]);
        let others: Vec<_> = both
            .steps
            .iter()
            .filter(|(_, a)| !matches!(a, Action::Start(Fault::Clock(_))))
            .cloned()
            .collect();
        assert_eq!(others, plain.steps);
        let clocks: Vec<_> = both
            .steps
            .iter()
            .filter_map(|(at, a)| match a {
                Action::Start(Fault::Clock(c)) => Some((*at, c.clone())),
                _ => None,
            })
            .collect();
        // one with every fault window, at its start
        assert_eq!(clocks.len(), 6);
        assert!(clocks.iter().all(|(at, _)| at.as_secs() % 10 == 5));
        let shapes: Vec<_> = clocks.iter().map(|(_, c)| std::mem::discriminant(&c.shape)).collect();
        assert!(shapes.windows(2).any(|w| w[0] != w[1]), "shapes are drawn: {clocks:?}");
        for (_, c) in &clocks {
            match c.shape {
                ClockShape::Bump { offset_ns } | ClockShape::Strobe { offset_ns, .. } => {
                    assert_eq!(offset_ns.abs(), 30_000_000_000)
                }
                ClockShape::Drift { rate } => assert!(rate == 1.0 || rate == -0.5, "{rate}"),
                ClockShape::Reset => panic!("reset is not among the default shapes"),
            }
        }
    }

    #[test]
    fn upgrades_follow_heals_in_order_and_those_past_the_end_are_left_out() {
        let with = |kinds: &[Kind], total: u64| {
            Schedule::new(
                kinds,
                &Shape::ALL,
                &ClockPlan::default(),
                &[false, false, true],
                3,
                Duration::from_secs(5),
                Duration::from_secs(total),
                4,
            )
        };
        let s = with(&[Kind::Kill, Kind::Upgrade], 60);
        let at: Vec<(u64, bool)> = s
            .steps
            .iter()
            .filter_map(|(at, a)| match a {
                Action::Upgrade { back } => Some((at.as_secs(), *back)),
                _ => None,
            })
            .collect();
        assert_eq!(at, [(10, false), (20, false), (30, true)]);
        for (i, (at, a)) in s.steps.iter().enumerate() {
            if matches!(a, Action::Upgrade { .. }) {
                assert_eq!(s.steps[i - 1], (*at, Action::Heal), "right after a heal");
            }
        }
        // alone, one every interval; too short a run holds fewer
        let alone = with(&[Kind::Upgrade], 60);
        assert_eq!(alone.upgrades(), 3);
        assert_eq!(alone.steps[0].0, Duration::from_secs(5));
        assert_eq!(with(&[Kind::Kill, Kind::Upgrade], 25).upgrades(), 2);
    }

    #[test]
    fn a_catch_up_by_snapshot_names_no_node_and_draws_its_pick() {
        let s = Schedule::new(
            &[Kind::IsolateUntilSnapshot],
            &Shape::ALL,
            &ClockPlan::default(),
            &[],
            3,
            Duration::from_secs(5),
            Duration::from_secs(60),
            2,
        );
        let picks: Vec<usize> = s
            .steps
            .iter()
            .filter_map(|(_, a)| match a {
                Action::Start(Fault::IsolateUntilSnapshot { node: None, pick }) => Some(*pick),
                Action::Heal => None,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(picks.len(), 6);
        assert!(
            picks.iter().all(|p| *p < 3) && picks.windows(2).any(|w| w[0] != w[1]),
            "{picks:?}"
        );
    }

    #[test]
    fn no_kinds_no_faults() {
        assert!(
            Schedule::new(
                &[],
                &Shape::ALL,
                &ClockPlan::default(),
                &[],
                3,
                Duration::from_secs(1),
                Duration::from_secs(9),
                1
            )
            .steps
            .is_empty()
        );
    }
}
