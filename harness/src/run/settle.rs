//! After the workload: the cluster healed and given time to recover, the final
//! reads, the lingering tasks caught up, the membership and versions as the
//! nodes see them, and the teardown. What is left is the history.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use checkers::History;
use checkers::Record;
use checkers::divergence::Divergence;
use nemeses::Kind;
use nemeses::schedule::Clocks;
use results::schema::MemberView;

use super::plan::Plan;
use super::provision::Provisioned;
use super::traffic::Ran;
use super::workload::{Clients, Settling};
use crate::systems::DynDb;

/// How long lingering tasks (the watchers) may take to catch up after the final reads.
const LINGER: Duration = Duration::from_secs(10);

/// A run that is over and torn down: its history and what the heal showed.
pub struct Settled {
    pub history: History,
    /// How the cluster recovered: `None` when interrupted before it could.
    pub recovered: Option<Result<Duration, String>>,
    pub membership: Option<BTreeMap<String, MemberView>>,
    pub divergence: Option<Divergence>,
    pub interrupted: bool,
    /// The workload's clients: their checker judges the history.
    pub clients: Arc<dyn Clients>,
}

pub async fn settle(plan: &Plan, prov: &Provisioned, ran: Ran, stop: &AtomicBool) -> Result<Settled, String> {
    let Ran {
        mut teardown,
        ips,
        rec,
        clients,
        lingering,
        cluster,
        nemesis,
    } = ran;
    let db = prov.db.as_ref();
    let (mut recovered, mut membership, mut divergence) = (None, None, None);
    if !stop.load(Ordering::Relaxed) {
        eprintln!("splitbrain: healed; waiting for the cluster to recover");
        recovered = tokio::select! {
            r = db.wait_ready(&ips, plan.recovery_time) => Some(r),
            () = workloads::stopped(stop) => None,
        };
        // a node whose monotonic clock was skewed forward and put back sleeps
        // on its timers up to the offset longer: it may catch up late
        let mono = plan.kinds.contains(&Kind::Clock) && plan.clock.clocks != Clocks::Wall;
        let settling = Settling {
            db,
            nodes: &teardown.nodes,
            ips: &ips,
            rec: &rec,
            recovered: matches!(recovered, Some(Ok(_))),
            slack: if mono { plan.clock.offset } else { Duration::ZERO },
        };
        if recovered.is_some() {
            divergence = tokio::select! {
                d = clients.final_reads(&settling) => d,
                () = workloads::stopped(stop) => None,
            };
            membership = Some(membership_after(db, &ips).await);
        }
        // lingering tasks catch up with the final reads, or give up
        let deadline = Instant::now() + LINGER;
        while !lingering.iter().all(|h| h.is_finished()) && Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        clients.release();
        if let Ok((u, nodes)) = cluster.upgrading() {
            // where the upgrade ended, once the cluster settled (etcd raises its
            // cluster version a few seconds after the last member)
            let versions = u.versions(&nodes).await;
            eprintln!("splitbrain: versions at the end: {versions}");
            rec.record(checkers::Op::new(
                checkers::Process::Nemesis,
                checkers::Type::Info,
                checkers::F::parse("versions"),
                versions,
            ));
        }
    }
    clients.release();
    for h in lingering {
        h.await.map_err(|e| format!("lingering task: {e}"))??;
    }
    teardown.now();
    let interrupted = stop.load(Ordering::Relaxed);
    let history = rec.history()?;
    nemesis?;
    Ok(Settled {
        history,
        recovered,
        membership,
        divergence,
        interrupted,
        clients,
    })
}

/// Each node's view of the membership after recovery, by node name (`n1`: the
/// names it sees, or why it gave none); says so when the views differ from the
/// cluster that was started.
async fn membership_after(db: &dyn DynDb, ips: &[Ipv4Addr]) -> BTreeMap<String, MemberView> {
    let name = |ip: &Ipv4Addr| match ips.iter().position(|x| x == ip) {
        Some(i) => format!("n{}", i + 1),
        None => ip.to_string(),
    };
    let all: Vec<String> = ips.iter().map(name).collect();
    let mut views = BTreeMap::new();
    let mut odd = Vec::new();
    for (i, view) in db.members(ips).await.into_iter().enumerate() {
        let seen = view.map(|v| {
            let mut names: Vec<String> = v.iter().map(name).collect();
            names.sort();
            names
        });
        if seen.as_ref() != Ok(&all) {
            odd.push(format!(
                "n{} sees {}",
                i + 1,
                seen.as_ref().map_or_else(|e| e.clone(), |v| v.join(","))
            ));
        }
        views.insert(
            format!("n{}", i + 1),
            seen.map_or_else(|error| MemberView::Unknown { error }, MemberView::Sees),
        );
    }
    if odd.is_empty() {
        eprintln!(
            "splitbrain: membership after recovery: every node sees {}",
            all.join(",")
        );
    } else {
        eprintln!("splitbrain: membership after recovery differs: {}", odd.join("; "));
    }
    views
}
