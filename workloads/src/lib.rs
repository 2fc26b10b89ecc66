//! Client workloads: what each logical process does next against a real
//! cluster, recording every op as it happens. Systems are reached only through
//! the client traits here ([`Registers`], [`Locks`], elections included), which each system
//! implements in its own folder of the harness.
//!
//! A logical process is bound to one node, as in Jepsen. When an op's outcome is
//! unknown (`info`), the process is retired and a fresh process id takes its
//! place, so no process ever has two ops in flight in the history.

pub mod client;
pub mod error;
pub mod lock;
pub mod proxy;
pub mod register;
pub mod resource;
pub mod set;
pub mod watch;

pub use client::{
    BoxFuture, ClientError, DynRegisters, FINAL_READ_PROCESS, RegisterClient, Registers, Slot, Target, cas_pair,
    stopped,
};
pub use error::Error;
pub use lock::{ClientPauses, DynLocks, Lock, LockParams, LockSpec, Locks, PauseAt, Tenure};
pub use register::Register;
pub use set::{ReadBack, Set};
pub use watch::{Batch, Delivery, EventStream, Fed, Feed, WatchError, WatchSpec, Watches};
