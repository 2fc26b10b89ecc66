//! `splitbrain run`: start a real cluster, drive clients at it while nemeses
//! inject faults, heal, read everything once more, tear down, check, report.
//!
//! The run is a pipeline of typed phases, each in a module of its own:
//! [`plan`] (flags to a [`plan::Plan`]) -> [`provision`] -> [`cluster`] (start)
//! -> [`traffic`] (the workload and the [`faults`] together) -> [`settle`]
//! (heal, final reads, teardown: the history) -> [`validate`] (the checkers)
//! -> [`output`] (the results folder and the exit code). Workloads are in
//! [`workload`], one module each.

pub mod args;
pub mod cluster;
pub mod drill;
mod faults;
mod output;
pub mod plan;
mod provision;
mod settle;
mod traffic;
pub mod validate;
pub mod workload;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use args::Args;
pub use plan::validate;

use plan::Plan;

/// `splitbrain run`: the phases in order.
pub fn run(args: &Args) -> Result<u8, String> {
    let plan = plan::plan(args)?;
    plan::moot_flags(args, &plan);
    let prov = provision::provision(&plan)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(run_plan(&plan, &prov))
}

async fn run_plan(plan: &Plan, prov: &provision::Provisioned) -> Result<u8, String> {
    let stop = interrupted();
    let id = cluster::run_id();
    let dir = output::open(plan, prov, &id)?;
    let resource = plan.workload.resource();
    // a Ctrl-C while nodes start drops the setup, and with it the teardown guard
    let started = tokio::select! {
        started = cluster::start_cluster(&id, plan.nodes, prov.db.as_ref(), &dir.path, resource, prov.runtime.as_ref(), &plan.tuning) => started?,
        () = workloads::stopped(&stop) => return Err("interrupted during setup; nothing is left behind".into()),
    };
    eprintln!("splitbrain: cluster ready after {:.1} s", started.ready.as_secs_f64());
    let ran = traffic::run(plan, prov, &id, &dir, started, &stop).await?;
    let settled = settle::settle(plan, prov, ran, &stop).await?;
    let checked = validate::check(&plan.test_name, &dir, &settled)?;
    output::write(plan, &dir, &settled, &checked)
}

/// A flag set on Ctrl-C or SIGTERM: the run heals, tears down and keeps the
/// history so far.
fn interrupted() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let terminated = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminated => {}
        }
        eprintln!("splitbrain: interrupted: healing and tearing down (the history so far is kept)");
        flag.store(true, Ordering::SeqCst);
    });
    stop
}
