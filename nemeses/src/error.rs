//! Why a fault could not be started or healed, in the words the runner prints.

use std::path::PathBuf;

use nix::sys::signal::Signal;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{sig} to pid {pid}: {error}")]
    Signal { sig: Signal, pid: u32, error: nix::Error },
    /// A node's namespace that would not open, or an iptables that would not start.
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    /// iptables ran and refused: what it said on stderr.
    #[error("iptables {args} in {}: {stderr}", netns.display())]
    Iptables {
        args: String,
        netns: PathBuf,
        stderr: String,
    },
    #[error("partitions need iptables, and this run has none")]
    NoIptables,
    #[error("no node could be skewed")]
    NoNodeSkewed,
    /// What the cluster said: [`Cluster`](crate::Cluster) is implemented by the
    /// harness, in its own words.
    #[error("{0}")]
    Cluster(String),
}

/// So that the harness's `?` in functions that return `Result<_, String>` keeps working.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}
