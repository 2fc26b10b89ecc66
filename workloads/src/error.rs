//! Why the resource, a client proxy or a final read failed, in the words the
//! runner prints (and the history records).

use std::net::SocketAddr;

use crate::client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The resource service could not listen on its address.
    #[error("{addr}: {error}")]
    Listen { addr: SocketAddr, error: std::io::Error },
    #[error("{0}")]
    Io(std::io::Error),
    #[error("resource {0}: connect timed out")]
    ConnectTimeout(SocketAddr),
    #[error("resource {addr}: {error}")]
    Connect { addr: SocketAddr, error: std::io::Error },
    #[error("resource closed the connection")]
    Closed,
    /// A reply that is not `ok N` or `stale N`.
    #[error("resource said {0:?}")]
    Reply(String),
    #[error("client proxy: {0}")]
    Proxy(std::io::Error),
    /// No connection to a node, for the final reads or the baseline loop.
    #[error("{}", .0.message)]
    Client(ClientError),
    #[error("timed out")]
    TimedOut,
    /// How the final read of the resource went instead (`Err("…")`, `Ok(Stale(…))`).
    #[error("final read of the resource: {0}")]
    FinalResource(String),
    #[error("final read of {key}: {last}")]
    FinalRead { key: String, last: String },
}

/// So that the harness's `?` in functions that return `Result<_, String>` keeps working.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}
