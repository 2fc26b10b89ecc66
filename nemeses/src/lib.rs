//! Fault injectors and their schedules.
//!
//! Faults act on nodes the harness created, through what both runtimes expose:
//! a host pid and a network namespace. Partitions are iptables rules in the
//! *receiving* node's namespace, in a chain of our own, so the host's rules are
//! never touched; kill, pause and resume are real signals.

pub mod catch_up;
pub mod clock;
pub mod cluster;
pub mod error;
pub mod iptables;
pub mod partition;
pub mod run;
pub mod scenario;
pub mod schedule;
pub mod signal;
pub mod skew;

pub use cluster::Cluster;
pub use error::Error;
pub use schedule::{Action, ClockPlan, Fault, Kind, Schedule, Shape};
