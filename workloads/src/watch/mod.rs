//! The `watch` workload: writers put and delete a few keys, each acknowledged
//! change recorded with its revision, while one watcher per node watches every
//! key from the revision the run began at and records what it receives, as a
//! careful client does: a stream that breaks is resumed from the revision after
//! the last event received, and one whose start was compacted away resumes from
//! the compaction (the events between are gone, and recorded as such).
//!
//! A writer's ok carries `[value revision]`, the revision nil where the system
//! does not tell it (a ZooKeeper delete, a Consul delete); a delete that found
//! nothing to delete fails (nothing changed).
//!
//! A watcher's history is a sequence of ops, one per batch: invoked with the
//! revision it covers from, done with the events `[key value-or-nil revision]`
//! in the order received (`fail [from compacted]` for a compacted start). The
//! op is `watch` where the system streams every change (etcd) and `notify`
//! where it tells only that a key changed and the watcher reads it back
//! (ZooKeeper's one-shot watches, Consul's blocking queries): there the events
//! are the states read, and the ok also lists the indexes the server answered
//! with (Consul's `X-Consul-Index`), `[from events indexes]`. Watchers run past
//! the writers, through the heal and the final reads, until they have caught
//! up with the final revision.
//!
//! On etcd the run holds watches to everything etcd's API guarantees promise:
//! beside the watcher per node from now, watchers start at revision 1, in the
//! past, at the compaction and in the future ([`plan`]), some filtered to one
//! key, some with previous values, some with progress notifications; writers
//! also change several keys in one transaction (one revision: the events a
//! watcher must get in one response). Their ops take the map shape the
//! checker documents (`checkers::watch`): `{from open start key prev_kv ...}`,
//! done with `{from events}`, each event `[key value revision response create
//! prev]` or a progress `{progress response requested}`. After the final
//! reads each member's key-value hash at one revision is recorded (`hash`).

pub mod plan;
mod run;

use std::net::Ipv4Addr;

use crate::client::{BoxFuture, ClientError};

pub use plan::{Mix, Start, WatcherPlan};
pub use run::WatchSpec;

/// A change as a watch delivers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Without the run's prefix.
    pub key: String,
    /// None for a delete.
    pub value: Option<i64>,
    pub revision: i64,
    /// The system marked it a creation (etcd: create_revision equal to
    /// mod_revision); none where it does not say (a delete, ZooKeeper, Consul).
    pub create: Option<bool>,
    /// The value before it, where the watch asked for it and the system sent one.
    pub prev: Option<i64>,
}

impl Event {
    /// An event with no more than its key, value and revision (ZooKeeper's,
    /// Consul's read-backs).
    pub fn at(key: String, value: Option<i64>, revision: i64) -> Event {
        Event {
            key,
            value,
            revision,
            create: None,
            prev: None,
        }
    }
}

/// What one watch asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchRequest {
    /// The revision it starts at.
    pub from: i64,
    /// One key (without the prefix); none: every key.
    pub key: Option<String>,
    pub prev_kv: bool,
    pub progress_notify: bool,
}

/// Why a watch stream ended.
#[derive(Debug)]
pub enum WatchError {
    /// The revision asked for is compacted: resume from this one.
    Compacted(i64),
    Other(String),
}

/// What a system's watch promises, and so what its checker holds it to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Every change, in revision order, resumable from a revision (etcd).
    Every,
    /// That a key changed; the watcher reads the key back, so it sees the
    /// latest state, never an older one, and may skip states in between
    /// (ZooKeeper's watches, Consul's blocking queries).
    Latest,
}

impl Delivery {
    /// The watcher's op name in the history.
    pub fn op(self) -> &'static str {
        match self {
            Delivery::Every => "watch",
            Delivery::Latest => "notify",
        }
    }
}

/// What one wake-up of a watch brings (on etcd, one watch response): events,
/// the server's index where it answers with one (Consul), or a progress
/// notification's revision (etcd: no events, the store is at this revision
/// and everything up to it has been sent).
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<Event>,
    pub index: Option<i64>,
    pub progress: Option<i64>,
}

/// A member's key-value hash at a revision, and its compaction's revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvHash {
    pub revision: i64,
    pub hash: u32,
    pub compact_revision: i64,
}

/// A system's watches: what the watch workload needs of it.
pub trait Watches: Send + Sync {
    /// What its watches promise.
    fn delivery(&self) -> Delivery {
        Delivery::Every
    }
    /// Whether it starts watches at a revision, filters them to a key, sends
    /// previous values and progress, and changes keys in transactions: what
    /// the watchers beyond one per node from now need (etcd).
    fn revisions(&self) -> bool {
        false
    }
    /// Puts `value` at `key` (or deletes it, `None`) through the node at `ip`:
    /// the revision of the change where the system tells it. A delete of a
    /// key that was not there is a definite error: it changed nothing.
    fn change<'a>(
        &'a self,
        ip: Ipv4Addr,
        key: &'a str,
        value: Option<i64>,
    ) -> BoxFuture<'a, Result<Option<i64>, ClientError>>;
    /// Puts every `(key, value)` in one transaction through the node at `ip`:
    /// the revision all of them share. Only where [`Watches::revisions`].
    fn change_all<'a>(&'a self, _ip: Ipv4Addr, _pairs: &'a [(String, i64)]) -> BoxFuture<'a, Result<i64, ClientError>> {
        Box::pin(async { Err(ClientError::definite("no transactions here".into())) })
    }
    /// The revision of the store's latest compaction (0: none), through the
    /// node at `ip`. Only where [`Watches::revisions`].
    fn compact_revision(&self, _ip: Ipv4Addr) -> BoxFuture<'_, Result<i64, ClientError>> {
        Box::pin(async { Err(ClientError::definite("no compactions here".into())) })
    }
    /// The member at `ip`'s key-value hash at `revision`; none where the
    /// system has no such hash.
    fn hash(&self, _ip: Ipv4Addr, _revision: i64) -> BoxFuture<'_, Result<Option<KvHash>, ClientError>> {
        Box::pin(async { Ok(None) })
    }
    /// Reads `key` through the node at `ip`, linearizably: its value and a
    /// revision a watcher that saw this state has reached (etcd: the store's;
    /// ZooKeeper and Consul: the key's last change).
    fn read<'a>(&'a self, ip: Ipv4Addr, key: &'a str) -> BoxFuture<'a, Result<(Option<i64>, i64), ClientError>>;
    /// The store's revision now, through the node at `ip`.
    fn revision(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<i64, ClientError>>;
    /// Watches through the node at `ip` as `want` asks (where the delivery is
    /// [`Delivery::Latest`], only every key, and its `from` is ignored: a new
    /// watch begins with every key's current state).
    fn watch<'a>(
        &'a self,
        ip: Ipv4Addr,
        want: &'a WatchRequest,
    ) -> BoxFuture<'a, Result<Box<dyn EventStream>, WatchError>>;
}

/// An open watch.
pub trait EventStream: Send {
    /// The next events (at least one, or a new index), or why the stream
    /// ended. Cancel-safe: the watcher polls it with a timeout.
    fn next(&mut self) -> BoxFuture<'_, Result<Batch, WatchError>>;
    /// Asks for a progress notification on this stream (etcd's RequestProgress).
    fn request_progress(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Err("no progress requests here".into()) })
    }
}

/// Where a watch's task sends what it learns.
pub type Feed = tokio::sync::mpsc::Sender<Result<Batch, WatchError>>;

/// A watch whose work runs in a task of its own, sending each wake-up down a
/// channel: the watcher's batches time out its `next` often, which must not
/// cancel a request in flight (a blocking query, a read back). Dropping it
/// ends the task.
pub struct Fed {
    rx: tokio::sync::mpsc::Receiver<Result<Batch, WatchError>>,
    task: tokio::task::JoinHandle<()>,
}

impl Fed {
    /// Spawns `feed` with the channel's sending end.
    pub fn spawn<T>(feed: impl FnOnce(Feed) -> T) -> Box<dyn EventStream>
    where
        T: std::future::Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let task = tokio::spawn(feed(tx));
        Box::new(Fed { rx, task })
    }
}

impl EventStream for Fed {
    fn next(&mut self) -> BoxFuture<'_, Result<Batch, WatchError>> {
        Box::pin(async move {
            self.rx
                .recv()
                .await
                .unwrap_or_else(|| Err(WatchError::Other("the watch ended".into())))
        })
    }
}

impl Drop for Fed {
    fn drop(&mut self) {
        self.task.abort();
    }
}
