//! Client workloads: what each logical process does next, and the clients that
//! do it against a real cluster, recording every op as it happens.
//!
//! A logical process is bound to one node, as in Jepsen. When an op's outcome is
//! unknown (`info`), the process is retired and a fresh process id takes its
//! place, so no process ever has two ops in flight in the history.

pub mod client;
pub mod consul;
pub mod etcd;
pub mod lock;
pub mod proxy;
pub mod register;
pub mod resource;
pub mod system;
pub mod zookeeper;

pub use client::{Slot, Target};
pub use lock::{ClientPauses, LockSpec};
pub use register::Register;
pub use system::{ReadMode, System};
