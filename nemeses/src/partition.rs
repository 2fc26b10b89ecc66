//! Network partitions: which node stops hearing from which (a grudge), and the
//! iptables rules that make it so inside each receiving node's namespace.

use std::net::Ipv4Addr;
use std::path::Path;

use crate::cluster::Cluster;
use crate::error::Error;
/// Where it was before it had a module of its own; the runner names it here.
pub use crate::iptables::Iptables;
use crate::schedule::Shape;

/// For each node, the nodes whose packets it drops.
pub type Grudge = Vec<Vec<usize>>;

/// Cuts the nodes into `a` and the rest, both ways.
pub fn split(n: usize, a: &[usize]) -> Grudge {
    (0..n)
        .map(|i| {
            let mine = a.contains(&i);
            (0..n).filter(|&j| j != i && a.contains(&j) != mine).collect()
        })
        .collect()
}

/// The node `pick` singles out of `n`, or the next one when it is the `leader`.
pub fn follower(n: usize, pick: usize, leader: Option<usize>) -> usize {
    if Some(pick % n) == leader {
        (pick + 1) % n
    } else {
        pick % n
    }
}

/// The grudge for a shape on `n` nodes. `pick` is a random node index (from the
/// schedule's seed) and `leader` the current leader, for the shapes that need them.
pub fn grudge(shape: Shape, n: usize, pick: usize, leader: Option<usize>) -> Grudge {
    let rotate = |k: usize| (k + pick) % n;
    match shape {
        Shape::Halves => split(n, &(0..n / 2).map(rotate).collect::<Vec<_>>()),
        Shape::One => split(n, &[pick % n]),
        Shape::Leader => split(n, &[leader.unwrap_or(pick) % n]),
        Shape::Follower => split(n, &[follower(n, pick, leader)]),
        Shape::Bridge => {
            // halves with node `pick` in the middle hearing everyone
            let mid = pick % n;
            let left: Vec<usize> = (1..=n / 2).map(|k| (mid + k) % n).collect();
            let mut g = split(n, &left);
            for (i, drops) in g.iter_mut().enumerate() {
                if i == mid {
                    drops.clear();
                } else {
                    drops.retain(|&j| j != mid);
                }
            }
            g
        }
        Shape::MajoritiesRing => {
            // in a ring, each node hears itself and its n/2 nearest neighbours
            let m = n / 2 + 1;
            (0..n)
                .map(|i| {
                    let order = |j: usize| (j + n - i) % n; // distance clockwise
                    let near = |j: usize| {
                        let d = order(j).min(n - order(j));
                        d <= (m - 1) / 2 || (d == m / 2 && m.is_multiple_of(2) && order(j) <= n / 2)
                    };
                    (0..n).filter(|&j| j != i && !near(j)).collect()
                })
                .collect()
        }
    }
}

/// Describes a grudge for the history: "n1 drops n3 | n2 drops n3 | ...".
pub fn describe(cluster: &dyn Cluster, g: &Grudge) -> String {
    let parts: Vec<String> = g
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.is_empty())
        .map(|(i, d)| {
            let names: Vec<String> = d.iter().map(|&j| cluster.name(j)).collect();
            format!("{} drops {}", cluster.name(i), names.join(","))
        })
        .collect();
    parts.join(" | ")
}

/// Our chain in each node's namespace.
pub fn chain(run_id: &str) -> String {
    format!("SPLITBRAIN-{run_id}")
}

/// The cluster's iptables, or why partitions cannot run.
fn iptables_of(cluster: &dyn Cluster) -> Result<&Iptables, Error> {
    cluster.iptables().ok_or(Error::NoIptables)
}

/// Makes each node drop packets from the nodes its grudge names.
pub fn apply(cluster: &dyn Cluster, g: &Grudge) -> Result<(), Error> {
    let iptables = iptables_of(cluster)?;
    let chain = chain(&cluster.run_id());
    for (i, drops) in g.iter().enumerate() {
        let ns = cluster.netns(i);
        ensure_chain(iptables, &ns, &chain)?;
        for &j in drops {
            let src: Ipv4Addr = cluster.ip(j);
            iptables.run(&ns, &["-A", &chain, "-s", &src.to_string(), "-j", "DROP"])?;
        }
    }
    Ok(())
}

fn ensure_chain(iptables: &Iptables, ns: &Path, chain: &str) -> Result<(), Error> {
    if iptables.run(ns, &["-n", "-L", chain]).is_err() {
        iptables.run(ns, &["-N", chain])?;
        iptables.run(ns, &["-I", "INPUT", "-j", chain])?;
    }
    Ok(())
}

/// Removes the rules [`apply`] added for `g`, one for one, leaving those of
/// any other partition in force (a scenario may isolate nodes beside it).
pub fn lift(cluster: &dyn Cluster, g: &Grudge) -> Result<(), Error> {
    let iptables = iptables_of(cluster)?;
    let chain = chain(&cluster.run_id());
    let mut first_err = None;
    for (i, drops) in g.iter().enumerate() {
        let ns = cluster.netns(i);
        for &j in drops {
            let src = cluster.ip(j).to_string();
            if let Err(e) = iptables.run(&ns, &["-D", &chain, "-s", &src, "-j", "DROP"]) {
                first_err.get_or_insert(e);
            }
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Removes every rule we added on every node, and our chain with them, so
/// that a healed node's namespace holds nothing of ours.
pub fn heal(cluster: &dyn Cluster) -> Result<(), Error> {
    let iptables = iptables_of(cluster)?;
    let chain = chain(&cluster.run_id());
    let mut first_err = None;
    for i in 0..cluster.size() {
        let ns = cluster.netns(i);
        if iptables.run(&ns, &["-n", "-L", &chain]).is_err() {
            continue;
        }
        let removed = iptables
            .run(&ns, &["-F", &chain])
            .and_then(|_| iptables.run(&ns, &["-D", "INPUT", "-j", &chain]))
            .and_then(|_| iptables.run(&ns, &["-X", &chain]));
        if let Err(e) = removed {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hears(g: &Grudge, i: usize) -> usize {
        g.len() - 1 - g[i].len()
    }

    #[test]
    fn halves_cut_both_ways() {
        let g = grudge(Shape::Halves, 5, 0, None);
        assert_eq!(g[0], vec![2, 3, 4]);
        assert_eq!(g[1], vec![2, 3, 4]);
        assert_eq!(g[2], vec![0, 1]);
    }

    #[test]
    fn one_and_leader_isolate_a_single_node() {
        let g = grudge(Shape::One, 3, 4, None);
        assert_eq!(g[1], vec![0, 2]);
        assert_eq!(g[0], vec![1]);
        let g = grudge(Shape::Leader, 3, 0, Some(2));
        assert_eq!(g[2], vec![0, 1]);
        let g = grudge(Shape::Follower, 3, 2, Some(2));
        assert_eq!(g[0], vec![1, 2], "the leader is spared: {g:?}");
    }

    #[test]
    fn bridge_node_hears_everyone() {
        let g = grudge(Shape::Bridge, 5, 0, None);
        assert!(g[0].is_empty());
        assert_eq!(g[1], vec![3, 4]);
        assert_eq!(g[3], vec![1, 2]);
    }

    #[test]
    fn majorities_ring_gives_everyone_a_different_majority() {
        for n in [3, 5] {
            let g = grudge(Shape::MajoritiesRing, n, 0, None);
            let mut seen = std::collections::HashSet::new();
            for i in 0..n {
                // itself plus what it hears is a bare majority
                assert_eq!(1 + hears(&g, i), n / 2 + 1, "n={n} node {i}: {g:?}");
                let mut majority: Vec<usize> = (0..n).filter(|j| !g[i].contains(j)).collect();
                majority.sort();
                assert!(seen.insert(majority), "n={n}: two nodes share a majority: {g:?}");
            }
        }
    }
}
