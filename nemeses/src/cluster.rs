//! What a nemesis needs from the runtime that started the nodes.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

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
    fn iptables(&self) -> Option<&crate::iptables::Iptables>;
    /// Stalls the next lock holder to reach its critical section past its lease
    /// (it resumes by itself); says what it armed, or why it cannot.
    fn pause_client(&self) -> Result<String, String>;
    /// The node's wall clock as the node itself tells it (ns since the epoch), where
    /// it does: a check, from outside, that a skew took.
    fn node_time(&self, _node: usize) -> Option<i64> {
        None
    }
    /// Kills the node and discards its data, keeping only its configuration: a
    /// member lost for good, disk and all (a drill's loss). Scenarios only.
    fn lose(&self, _node: usize) -> Result<(), String> {
        Err("this cluster cannot lose nodes".into())
    }
    /// Takes a snapshot the way the recovery runbook needs it, off the cluster;
    /// says what it took (a map: node, file, bytes).
    fn snapshot(&self) -> Result<checkers::Value, String> {
        Err("this cluster takes no snapshots".into())
    }
    /// Runs the recovery runbook against the stuck cluster within `within`
    /// (`stop` ends it early); says how it ended, or why it failed.
    fn runbook(&self, _within: Duration, _stop: &AtomicBool) -> Result<String, String> {
        Err("this cluster has no runbook".into())
    }
    /// Removes `node` from the membership the system's way (through the others;
    /// its process ends and its data goes); says what it did.
    fn remove_member(&self, _node: usize) -> Result<String, String> {
        Err("this cluster changes no membership".into())
    }
    /// Adds `node` back as a new member on an empty data dir, and waits until
    /// the cluster is whole with it; says what it did.
    fn add_member(&self, _node: usize) -> Result<String, String> {
        Err("this cluster changes no membership".into())
    }
    /// The member the next upgrade step takes (`back`: rolls back), leader last,
    /// and the versions it goes from and to.
    fn upgrade_next(&self, _back: bool) -> Result<(usize, String, String), String> {
        Err("this run upgrades nothing: give --to or --to-binary".into())
    }
    /// Takes `node` through the system's upgrade procedure (health check,
    /// snapshot, stop, the other binary on the same data, start, wait until
    /// healthy and caught up). A rollback the system refuses is not an error:
    /// `Ok(Some(what it said))`, with the node back on the version it had.
    fn upgrade(&self, _node: usize, _back: bool) -> Result<Option<String>, String> {
        Err("this run upgrades nothing".into())
    }
    /// Each node's version as the node reports it (`down` when it does not
    /// answer), and the cluster's where the system has one (`cluster`).
    fn versions(&self) -> checkers::Value {
        checkers::Value::Nil
    }
    /// Runs an admin operation on `node` while it serves; says what it did.
    fn admin(&self, op: crate::schedule::Admin, _node: usize) -> Result<String, String> {
        Err(format!("this cluster has no {} operation", op.name()))
    }
    /// Readies a catch-up by snapshot of `node`, a follower of `leader`, just
    /// before the nemesis cuts it off (`--nemesis isolate-until-snapshot`).
    fn catch_up(&self, _node: usize, _leader: usize) -> Result<Box<dyn crate::catch_up::CatchUp>, String> {
        Err("this cluster brings no member back by snapshot".into())
    }
    /// Whether the cluster is whole again: every configured node serves, one
    /// leader, and each sees exactly the configured members; or why not.
    fn healthy(&self) -> Result<(), String> {
        Err("this cluster cannot tell its health".into())
    }
}
