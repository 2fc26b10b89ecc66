//! The workload and the faults together: the clients' processes on every node,
//! the nemesis thread, and progress every 2 s, until the time limit or the
//! scenario's end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use checkers::Record;
use results::{Recorder, RunDir};
use tokio::task::JoinHandle;
use workloads::Slot;

use super::cluster::{Recovery, RunCluster, Started};
use super::faults::NemesisThread;
use super::plan::Plan;
use super::provision::Provisioned;
use super::workload::{Clients, Setup, Traffic};
use crate::runtime::{Teardown, node_paths};

/// A run whose workload is over: what the heal and the final reads take on.
pub struct Ran {
    pub teardown: Teardown,
    pub ips: Vec<std::net::Ipv4Addr>,
    pub rec: Arc<Recorder>,
    pub clients: Arc<dyn Clients>,
    /// Tasks that outlive the processes (the watchers).
    pub lingering: Vec<JoinHandle<Result<(), String>>>,
    pub cluster: Arc<RunCluster>,
    /// How the nemesis thread ended (it healed on its way out).
    pub nemesis: Result<(), String>,
}

pub async fn run(
    plan: &Plan,
    prov: &Provisioned,
    id: &str,
    dir: &RunDir,
    started: Started,
    stop: &Arc<AtomicBool>,
) -> Result<Ran, String> {
    let Started {
        teardown,
        ips,
        resource,
        dir: absolute,
        ..
    } = started;
    let start = Instant::now();
    let rec = Arc::new(Recorder::create(&dir.file("history.jsonl"), start)?);
    let prefix = format!("splitbrain/{id}");
    let setup = Setup {
        system: plan.system,
        prefix: prefix.clone(),
        ips: &ips,
        resource,
        op_timeout: plan.op_timeout,
        client_pauses: plan.kinds.contains(&nemeses::Kind::ClientPause),
        runbook: plan.runbook.clone(),
        seed: plan.seed,
        time_limit: plan.time_limit,
    };
    let clients = plan.workload.start(&setup).await?;
    for note in &plan.notes {
        eprintln!("splitbrain: {note}");
    }
    let until = start + plan.time_limit;
    // the workers' own stop: the run's, or a scenario that is over
    let work_stop = Arc::new(AtomicBool::new(false));
    let mut workers: Vec<JoinHandle<Result<(), String>>> = (0..plan.concurrency)
        .map(|p| {
            tokio::spawn(clients.clone().process(Slot {
                first: p as u64,
                stride: plan.concurrency as u64,
                ip: ips[p % ips.len()],
                rec: rec.clone(),
                stop: work_stop.clone(),
                until,
                seed: plan.seed,
            }))
        })
        .collect();
    let traffic = Traffic {
        db: prov.db.clone(),
        nodes: teardown.nodes.clone(),
        rec: rec.clone(),
        work_stop: work_stop.clone(),
        stop: stop.clone(),
        until,
    };
    let lingering = clients
        .clone()
        .lingering(&traffic)
        .into_iter()
        .map(tokio::spawn)
        .collect();
    workers.extend(clients.clone().beside(&traffic).into_iter().map(tokio::spawn));
    let recovery = recovery(plan, &teardown.nodes, &absolute, &rec, start);
    let cluster = Arc::new(run_cluster(
        plan,
        prov,
        &prefix,
        id,
        &teardown.nodes,
        recovery,
        &clients,
    ));
    if let Ok((u, nodes)) = cluster.upgrading() {
        // where the upgrade starts from, as the nodes tell it
        rec.record(checkers::Op::new(
            checkers::Process::Nemesis,
            checkers::Type::Info,
            checkers::F::parse("versions"),
            u.versions(&nodes).await,
        ));
    }
    // after `teardown`, so dropped (stopped and joined) before the nodes go
    let mut nemesis = NemesisThread::start(plan, cluster.clone(), rec.clone(), start);
    progress(plan, &workers, &rec, &nemesis, stop, &work_stop, start).await?;
    for w in workers {
        w.await.map_err(|e| format!("client task: {e}"))??;
    }
    let nemesis_result = tokio::task::block_in_place(|| nemesis.finish());
    Ok(Ran {
        teardown,
        ips,
        rec,
        clients,
        lingering,
        cluster,
        nemesis: nemesis_result,
    })
}

/// The nodes as the nemeses see them, and what drill steps need of them.
fn run_cluster(
    plan: &Plan,
    prov: &Provisioned,
    prefix: &str,
    id: &str,
    nodes: &[Arc<dyn crate::runtime::Member>],
    recovery: Recovery,
    clients: &Arc<dyn Clients>,
) -> RunCluster {
    RunCluster {
        run_id: id.to_string(),
        nodes: nodes.to_vec(),
        db: prov.db.clone(),
        handle: tokio::runtime::Handle::current(),
        clients: clients.clone(),
        iptables: prov.iptables.clone(),
        time_url: plan.system.time_url(),
        upgrade: prov.to.clone().map(|to| {
            let rt = &prov.runtime;
            let images = rt.image().zip(rt.image_of(plan.system, to.as_ref()));
            let dir = recovery.dir.join("upgrade");
            crate::upgrade::Upgrade::new(prov.db.clone(), to, images, dir, plan.nodes)
        }),
        recovery,
        tuning: plan.tuning.clone(),
        prefix: prefix.to_string(),
    }
}

/// What a scenario's drill steps start from: the nodes' data and command lines.
fn recovery(
    plan: &Plan,
    nodes: &[Arc<dyn crate::runtime::Member>],
    absolute: &std::path::Path,
    rec: &Arc<Recorder>,
    start: Instant,
) -> Recovery {
    Recovery {
        system: plan.system.name(),
        members: nodes.iter().map(|n| (n.name().to_string(), n.ip())).collect(),
        argv: nodes.iter().map(|n| n.argv()).collect(),
        data: nodes.iter().map(|n| node_paths(absolute, n.name()).1).collect(),
        dir: absolute.to_path_buf(),
        rec: rec.clone(),
        start,
        runbook: plan.runbook.clone(),
        lost: Default::default(),
        snapshots: Default::default(),
    }
}

/// Progress every 2 s until the workers are done: a bar on a terminal, lines
/// in logs. An interrupt stops the workers and the nemesis; so does the end of
/// a scenario's steps.
async fn progress(
    plan: &Plan,
    workers: &[JoinHandle<Result<(), String>>],
    rec: &Recorder,
    nemesis: &NemesisThread,
    stop: &AtomicBool,
    work_stop: &AtomicBool,
    start: Instant,
) -> Result<(), String> {
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
        let bar = indicatif::ProgressBar::new(plan.time_limit.as_secs().max(1));
        bar.set_style(
            indicatif::ProgressStyle::with_template("[{elapsed:>4}] {bar:30} {pos}/{len} s  {msg}")
                .expect("progress template"),
        );
        bar
    });
    let mut last = (Instant::now(), 0usize);
    let mut ticker = tokio::time::interval(Duration::from_secs(2));
    ticker.tick().await;
    while !workers.iter().all(|w| w.is_finished()) {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => { continue; }
        }
        if stop.load(Ordering::Relaxed) {
            nemesis.stop();
            work_stop.store(true, Ordering::SeqCst);
        }
        // a scenario's steps are the run: once they are done, so is the workload
        if plan.scenario.is_some() && nemesis.done() {
            work_stop.store(true, Ordering::SeqCst);
        }
        rec.flush()?;
        let t = rec.tally();
        let done = t.ok + t.fail + t.info;
        let rate = (done - last.1) as f64 / last.0.elapsed().as_secs_f64();
        last = (Instant::now(), done);
        let status = format!(
            "{rate:>6.0} ops/s  ok {}  fail {}  info {}  fault: {}",
            t.ok,
            t.fail,
            t.info,
            nemesis.nemesis.active().unwrap_or_else(|| "none".into())
        );
        match &bar {
            Some(bar) => {
                bar.set_position(start.elapsed().as_secs().min(bar.length().unwrap_or(0)));
                bar.set_message(status);
            }
            None => eprintln!("[{:>4.0}s] {status}", start.elapsed().as_secs_f64()),
        }
    }
    if let Some(bar) = bar {
        bar.finish();
    }
    Ok(())
}
