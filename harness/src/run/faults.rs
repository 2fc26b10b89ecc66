//! The faults of a run: the nemesis on a thread of its own, following the
//! random schedule or a scenario's steps, stopped and joined on every way out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use nemeses::Schedule;
use nemeses::run::Nemesis;
use results::Recorder;

use super::cluster::RunCluster;
use super::plan::Plan;

/// The nemesis thread: stopped and joined (it heals on its way out) on every way
/// out, so that it never restarts a node while the nodes are torn down.
pub struct NemesisThread {
    pub nemesis: Arc<Nemesis>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl NemesisThread {
    /// The schedule `plan` draws (or its scenario's steps), from `start` on.
    pub fn start(plan: &Plan, cluster: Arc<RunCluster>, rec: Arc<Recorder>, start: Instant) -> NemesisThread {
        let schedule = Schedule::new(
            &plan.kinds,
            &plan.shapes,
            &plan.clock,
            &plan.upgrades,
            plan.nodes,
            plan.interval,
            plan.time_limit,
            plan.seed,
        );
        let nemesis = Arc::new(Nemesis::new(cluster, rec));
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let (nemesis, stop) = (nemesis.clone(), stop.clone());
            let steps = plan.scenario.clone();
            std::thread::spawn(move || match steps {
                Some(steps) => nemesis.run_scenario(&steps, &stop),
                None => nemesis.run(&schedule, start, &stop),
            })
        };
        NemesisThread {
            nemesis,
            stop,
            handle: Some(handle),
        }
    }

    /// Asks it to heal and end.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn done(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    pub fn finish(&mut self) -> Result<(), String> {
        self.stop();
        match self.handle.take() {
            Some(h) => h.join().map_err(|_| "nemesis thread panicked".to_string())?,
            None => Ok(()),
        }
    }
}

impl Drop for NemesisThread {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}
