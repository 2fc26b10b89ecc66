//! When which fault starts and heals: a pure function of the options and the
//! seed, so that a run's fault schedule can be replayed on any runtime.

use std::time::Duration;

use checkers::rng::Rng;

use crate::partition::Shape;

/// Kinds of fault `--nemesis` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Partition,
    Kill,
    Pause,
    /// Stalls one lock holder (a client, not a node) past its lease.
    ClientPause,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Partition, Kind::Kill, Kind::Pause, Kind::ClientPause];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Partition => "partition",
            Kind::Kill => "kill",
            Kind::Pause => "pause",
            Kind::ClientPause => "client-pause",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// One fault, with its targets chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `pick` seeds which nodes the shape singles out.
    Partition {
        shape: Shape,
        pick: usize,
    },
    Kill(Vec<usize>),
    Pause(Vec<usize>),
    ClientPause,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Start(Fault),
    /// Undo every fault in force.
    Heal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
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
    pub fn new(
        kinds: &[Kind],
        shapes: &[Shape],
        nodes: usize,
        interval: Duration,
        total: Duration,
        seed: u64,
    ) -> Schedule {
        let mut steps = Vec::new();
        if kinds.is_empty() || interval.is_zero() {
            return Schedule { steps };
        }
        let mut rng = Rng::new(seed ^ 0x006e_656d_6573_6973);
        let mut at = interval;
        let mut faulted = false;
        while at < total {
            let action = if faulted {
                Action::Heal
            } else {
                Action::Start(match kinds[rng.below(kinds.len() as u64) as usize] {
                    Kind::Partition => Fault::Partition {
                        shape: shapes[rng.below(shapes.len() as u64) as usize],
                        pick: rng.below(nodes as u64) as usize,
                    },
                    Kind::Kill => Fault::Kill(minority(&mut rng, nodes)),
                    Kind::Pause => Fault::Pause(minority(&mut rng, nodes)),
                    Kind::ClientPause => Fault::ClientPause,
                })
            };
            steps.push((at, action));
            faulted = !faulted;
            at += interval;
        }
        Schedule { steps }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(seed: u64) -> Schedule {
        Schedule::new(
            &Kind::ALL,
            &Shape::ALL,
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
                Action::Start(Fault::Partition { .. } | Fault::ClientPause) => assert_eq!(i % 2, 0),
            }
        }
    }

    #[test]
    fn no_kinds_no_faults() {
        assert!(
            Schedule::new(&[], &Shape::ALL, 3, Duration::from_secs(1), Duration::from_secs(9), 1)
                .steps
                .is_empty()
        );
    }
}
