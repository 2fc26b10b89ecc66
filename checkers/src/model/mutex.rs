//! A lock with acquire and release, as Knossos's mutex.

use super::spec::{Model, OpError, unknown_f};
use crate::history::CallRef;
use crate::op::F;

/// Locked or not; acquire needs it free, release needs it held. Leases do not
/// exist here: histories with lease expiry belong to the lock-safety checker.
#[derive(Clone, Debug, Default)]
pub struct Mutex;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MutexOp {
    Acquire,
    Release,
}

impl Model for Mutex {
    type State = bool;
    type Op = MutexOp;

    fn init(&self) -> bool {
        false
    }

    fn op(&self, call: &CallRef<'_>) -> Result<MutexOp, OpError> {
        match &call.invoke.f {
            F::Acquire => Ok(MutexOp::Acquire),
            F::Release => Ok(MutexOp::Release),
            _ => Err(unknown_f(call, "mutex", "acquire, release")),
        }
    }

    fn step(&self, locked: &bool, op: &MutexOp) -> Option<bool> {
        match op {
            MutexOp::Acquire => (!locked).then_some(true),
            MutexOp::Release => locked.then_some(false),
        }
    }

    fn is_read_only(&self, _: &MutexOp) -> bool {
        false
    }

    fn show_state(&self, locked: &bool) -> String {
        if *locked { "locked" } else { "free" }.to_string()
    }
}
