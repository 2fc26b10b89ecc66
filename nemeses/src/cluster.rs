//! What a nemesis needs from the runtime that started the nodes.

use std::net::Ipv4Addr;
use std::path::PathBuf;

/// The nodes under test. Implemented by each runtime (netns, docker).
pub trait Cluster: Send + Sync {
    fn size(&self) -> usize;
    fn name(&self, node: usize) -> String;
    fn ip(&self, node: usize) -> Ipv4Addr;
    /// Path of the node's network namespace (`/run/netns/...` or `/proc/PID/ns/net`).
    fn netns(&self, node: usize) -> PathBuf;
    /// Host pid of the node's main process, if it is running.
    fn pid(&self, node: usize) -> Option<u32>;
    /// Starts the node again on its data dir after a kill (reaping the old process).
    fn restart(&self, node: usize) -> Result<(), String>;
    /// The node the cluster currently considers leader, if it can tell.
    fn leader(&self) -> Option<usize>;
    /// A tag unique to this run: our iptables chain is named after it.
    fn run_id(&self) -> String;
    /// The iptables partitions run, when the run has one (it provisions it for them).
    fn iptables(&self) -> Option<&crate::partition::Iptables>;
    /// Stalls the next lock holder to reach its critical section past its lease
    /// (it resumes by itself); says what it armed, or why it cannot.
    fn pause_client(&self) -> Result<String, String>;
    /// The node's wall clock as the node itself tells it (ns since the epoch), where
    /// it does: a check, from outside, that a skew took.
    fn node_time(&self, _node: usize) -> Option<i64> {
        None
    }
}
