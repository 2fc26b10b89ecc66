//! Provisioning: root, what dead runs left, the binaries of every version the
//! run needs, iptables where it partitions, and the runtime.

use std::sync::Arc;

use nemeses::scenario::Step;
use nemeses::schedule::Fault;
use nemeses::{Kind, partition::Iptables};

use super::plan::Plan;
use crate::runtime::{self, Runtime, Wanted};
use crate::systems::DynDb;

/// What the run starts its cluster with.
pub struct Provisioned {
    pub db: Arc<dyn DynDb>,
    /// An upgrade's other version.
    pub to: Option<Arc<dyn DynDb>>,
    pub iptables: Option<Iptables>,
    pub runtime: Box<dyn Runtime>,
}

pub fn provision(plan: &Plan) -> Result<Provisioned, String> {
    runtime::require_root()?;
    match runtime::clean() {
        Ok(removed) if !removed.is_empty() => {
            eprintln!("splitbrain: removed what dead runs left: {}", removed.join(", "))
        }
        Ok(_) => {}
        Err(e) => eprintln!("splitbrain: warning: cannot clean up after dead runs: {e}"),
    }
    let db = plan
        .system
        .provision(plan.from.version.as_deref(), plan.from.binary.as_deref())?;
    let to = match (&plan.to, plan.upgrades.is_empty()) {
        (Some(to), false) => Some(plan.system.provision(to.version.as_deref(), to.binary.as_deref())?),
        _ => None,
    };
    // ZooKeeper's binary is the java that runs each version's jars
    if let Some(to) = to
        .as_ref()
        .filter(|to| to.binary() == db.binary() && to.version() == db.version())
    {
        eprintln!(
            "splitbrain: warning: --nemesis upgrade from {0} to {0}, the same binary: only the procedure is exercised",
            to.version()
        );
    }
    let partitions = match &plan.scenario {
        Some(steps) => steps.iter().any(|s| {
            matches!(
                s,
                Step::Fault(Fault::Partition { .. } | Fault::Isolate(_) | Fault::IsolateUntilSnapshot { .. })
            )
        }),
        None => plan.kinds.contains(&Kind::Partition) || plan.kinds.contains(&Kind::IsolateUntilSnapshot),
    };
    let iptables = partitions.then(crate::provision::iptables).transpose()?;
    let runtime = runtime::choose(
        &plan.runtime,
        &Wanted {
            system: plan.system,
            db: db.as_ref(),
            to: to.as_deref(),
            service: plan.workload.resource().is_some(),
            image: plan.image.clone(),
            binary_path: plan.binary_path.clone(),
        },
    )?;
    Ok(Provisioned {
        db,
        to,
        iptables,
        runtime,
    })
}
