//! Which watchers a watch run opens: where each starts, what it asks for, when
//! it opens. etcd promises things of watches started in the past, at the
//! compaction, in the future, filtered to one key, with previous values and
//! with progress notifications; a watcher of each kind holds it to them. The
//! plan comes from the seed alone, so one seed opens the same watchers.

use std::time::Duration;

use checkers::rng::Rng;

/// Where a watcher's first watch starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The revision the run began at, plus one: one per node, from the start.
    Now,
    /// Revision 1: the whole history (refused once compacted).
    First,
    /// The current revision plus this offset (-100..-1): it replays history.
    Past(i64),
    /// The latest compaction's revision (1 if none): the oldest a watch may start at.
    Compaction,
    /// The current revision plus this offset (1..100): it waits.
    Future(i64),
}

impl Start {
    /// Its name in `--watchers` and in the history.
    pub fn kind(self) -> &'static str {
        match self {
            Start::Now => "now",
            Start::First => "first",
            Start::Past(_) => "past",
            Start::Compaction => "compaction",
            Start::Future(_) => "future",
        }
    }

    pub fn offset(self) -> Option<i64> {
        match self {
            Start::Past(o) | Start::Future(o) => Some(o),
            _ => None,
        }
    }

    /// How it shows in a watcher's name: `past-37`, `future+12`, `first`.
    fn label(self) -> String {
        match self {
            Start::Past(o) => format!("past{o}"),
            Start::Future(o) => format!("future+{o}"),
            other => other.kind().to_string(),
        }
    }
}

/// One watcher of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatcherPlan {
    /// Its name in the history (the key of its ops).
    pub name: String,
    /// The node it watches through (an index into the cluster's nodes).
    pub node: usize,
    pub start: Start,
    /// After the traffic begins: a watcher into the past opens once there is a past.
    pub delay: Duration,
    /// One key only (without the run's prefix); none: every key.
    pub key: Option<String>,
    pub prev_kv: bool,
    pub progress_notify: bool,
    /// Asks for progress (RequestProgress) now and then.
    pub request_progress: bool,
}

/// How many watchers of each start `--watchers` asks for, beside the one per
/// node from `now`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mix {
    pub now: bool,
    pub first: usize,
    pub past: usize,
    pub compaction: usize,
    pub future: usize,
}

/// `--watchers`'s default: some of each.
pub const DEFAULT_MIX: &str = "now,first,past=2,compaction,future=2";

/// Most watchers of one kind: each is a stream the cluster serves.
const MOST: usize = 16;

impl Mix {
    /// `now,first,past=2,compaction,future=2`: kinds, each with a count (1
    /// when not given; `now` is one per node and takes none).
    pub fn parse(spec: &str) -> Result<Mix, String> {
        let mut mix = Mix::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kind, count) = match part.split_once('=') {
                Some((k, n)) => {
                    let n = n
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MOST).contains(n))
                        .ok_or_else(|| format!("--watchers {part}: a count is 1 to {MOST}"))?;
                    (k, Some(n))
                }
                None => (part, None),
            };
            let slot = match kind {
                "now" if count.is_some() => {
                    return Err(format!("--watchers {part}: `now` is one per node, it takes no count"));
                }
                "now" => {
                    mix.now = true;
                    continue;
                }
                "first" => &mut mix.first,
                "past" => &mut mix.past,
                "compaction" => &mut mix.compaction,
                "future" => &mut mix.future,
                _ => {
                    return Err(format!(
                        "--watchers {kind}: not a watcher's start; use now, first, past, compaction or future (e.g. {DEFAULT_MIX})"
                    ));
                }
            };
            *slot += count.unwrap_or(1);
        }
        if mix == Mix::default() {
            return Err(format!("--watchers {spec:?}: no watcher; e.g. {DEFAULT_MIX}"));
        }
        Ok(mix)
    }

    /// Only the watcher per node from now: what a system without start
    /// revisions (ZooKeeper, Consul) can do.
    pub fn only_now(&self) -> bool {
        self.now && self.first + self.past + self.compaction + self.future == 0
    }
}

/// The watchers of a run on `nodes` nodes with `keys` keys over `time_limit`:
/// `now` ones first (named after their node, bound to it, from the start),
/// then the others, each on a node in turn, opening at a time in the first
/// 10-60% of the run (one at the compaction at 50-90%). Options go round the watchers with offsets from the
/// seed, so every option meets every kind of start in a default run.
pub fn plan(mix: &Mix, nodes: &[String], keys: u64, seed: u64, time_limit: Duration) -> Vec<WatcherPlan> {
    let mut rng = Rng::new(seed ^ 0x7761_7463_6865_7273);
    let mut starts: Vec<Start> = Vec::new();
    if mix.now {
        starts.extend(std::iter::repeat_n(Start::Now, nodes.len()));
    }
    starts.extend(std::iter::repeat_n(Start::First, mix.first));
    for _ in 0..mix.past {
        starts.push(Start::Past(-(1 + rng.below(100) as i64)));
    }
    starts.extend(std::iter::repeat_n(Start::Compaction, mix.compaction));
    for _ in 0..mix.future {
        starts.push(Start::Future(1 + rng.below(100) as i64));
    }
    let turn: [u64; 4] = std::array::from_fn(|_| rng.below(4));
    let mut names = std::collections::BTreeSet::new();
    starts
        .into_iter()
        .enumerate()
        .map(|(i, start)| {
            let node = i % nodes.len().max(1);
            let at = |n: u64, of: u64| (i as u64 + turn[n as usize]).is_multiple_of(of);
            let (name, delay) = match start {
                Start::Now => (nodes[node].clone(), Duration::ZERO),
                _ => {
                    // one at the compaction opens late, after the run's compactions
                    let (low, width) = if start == Start::Compaction {
                        (0.5, 0.4)
                    } else {
                        (0.1, 0.5)
                    };
                    let share = low + width * (rng.below(1000) as f64 / 1000.0);
                    (format!("{}@{}", start.label(), nodes[node]), time_limit.mul_f64(share))
                }
            };
            // two of one kind and offset on one node: told apart by their place
            let name = if names.insert(name.clone()) {
                name
            } else {
                format!("{name}#{i}")
            };
            WatcherPlan {
                name,
                node,
                start,
                delay,
                key: at(0, 4).then(|| format!("k{}", rng.below(keys.max(1)))),
                prev_kv: at(1, 2),
                progress_notify: at(2, 2),
                request_progress: at(3, 3),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<String> {
        vec!["n1".into(), "n2".into(), "n3".into()]
    }

    #[test]
    fn one_seed_opens_the_same_watchers() {
        let mix = Mix::parse(DEFAULT_MIX).unwrap();
        let a = plan(&mix, &nodes(), 5, 42, Duration::from_secs(30));
        assert_eq!(a, plan(&mix, &nodes(), 5, 42, Duration::from_secs(30)));
        assert_ne!(a, plan(&mix, &nodes(), 5, 43, Duration::from_secs(30)));
    }

    #[test]
    fn the_default_has_some_of_each() {
        let mix = Mix::parse(DEFAULT_MIX).unwrap();
        let p = plan(&mix, &nodes(), 5, 7, Duration::from_secs(30));
        assert_eq!(p.len(), 3 + 1 + 2 + 1 + 2);
        for kind in ["now", "first", "past", "compaction", "future"] {
            assert!(p.iter().any(|w| w.start.kind() == kind), "{kind}");
        }
        assert!(p.iter().any(|w| w.key.is_some()) && p.iter().any(|w| w.key.is_none()));
        assert!(p.iter().any(|w| w.prev_kv) && p.iter().any(|w| !w.prev_kv));
        assert!(p.iter().any(|w| w.progress_notify) && p.iter().any(|w| w.request_progress));
        for w in &p {
            match w.start {
                Start::Past(o) => assert!((-100..=-1).contains(&o)),
                Start::Future(o) => assert!((1..=100).contains(&o)),
                Start::Now => assert_eq!(w.delay, Duration::ZERO),
                _ => {}
            }
            let (low, high) = match w.start {
                Start::Now => (0, 0),
                Start::Compaction => (15, 27),
                _ => (3, 18),
            };
            assert!(
                w.delay >= Duration::from_secs(low) && w.delay <= Duration::from_secs(high),
                "{w:?}"
            );
        }
        let names: std::collections::BTreeSet<_> = p.iter().map(|w| &w.name).collect();
        assert_eq!(names.len(), p.len(), "names are unique");
    }

    #[test]
    fn bad_mixes_are_refused_with_what_to_write() {
        for bad in ["", "later", "past=0", "past=x", "now=2", "future=99"] {
            let e = Mix::parse(bad).unwrap_err();
            assert!(e.starts_with("--watchers"), "{bad}: {e}");
        }
        assert!(Mix::parse("now").unwrap().only_now());
        assert!(!Mix::parse("now,past").unwrap().only_now());
    }
}
