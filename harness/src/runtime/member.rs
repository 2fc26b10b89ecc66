//! What the runner and the nemeses need of one node, whatever runs it.

use std::net::Ipv4Addr;
use std::path::PathBuf;

/// A node (or the lock workload's resource) under our control: a process in a
/// namespace of ours, or a container.
pub trait Member: Send + Sync {
    fn name(&self) -> &str;
    fn ip(&self) -> Ipv4Addr;
    /// Its network namespace, for iptables.
    fn netns(&self) -> PathBuf;
    /// Host pid of its main process, while it runs.
    fn pid(&self) -> Option<u32>;
    /// Starts it, or starts it again on the same data after a kill.
    fn start(&self) -> Result<(), String>;
    /// SIGKILL, also when stopped; its data stays.
    fn kill(&self);
    /// Its command line, binary first.
    fn argv(&self) -> Vec<String>;
    /// The command line its next start runs (a runbook's flags).
    fn set_argv(&self, argv: Vec<String>);
    /// The image its next start runs (an upgrade's other version); a local
    /// process has none, its binary is in its argv.
    fn set_image(&self, _image: &str) {}
    /// Gone for good at teardown (a container also saves its log first).
    fn remove(&self) {
        self.kill();
    }
}
