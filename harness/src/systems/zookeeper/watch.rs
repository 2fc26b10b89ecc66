//! The watch workload on ZooKeeper: one-shot watches, re-registered by reading
//! the key back after each notification.
//!
//! Key `k` is the znode `<base>/k/v` under a persistent parent `<base>/k`, so
//! that every state of the key has a zxid the watcher can read with it: the
//! value's `mzxid` while it exists, the parent's `pzxid` (the zxid of the
//! last child created or deleted) once deleted. A put is `setData` (its Stat
//! names the zxid) or, for a missing key, `create`; a delete is `delete`, whose
//! answer names no zxid.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::task::JoinSet;
use workloads::watch::{Event, WatchRequest};
use workloads::{Batch, BoxFuture, ClientError, Delivery, EventStream, Fed, Feed, WatchError, Watches};
use zookeeper_client::{Acls, Client, CreateMode, Error, EventType, OneshotWatcher, WatchedEvent};

use super::PORT;
use super::client::{OLDEST, error};

pub struct ZooKeeperWatches {
    base: String,
    keys: u64,
    timeout: Duration,
    /// The writers' and readers' session per server, kept for the run.
    clients: Mutex<HashMap<Ipv4Addr, Client>>,
}

impl ZooKeeperWatches {
    pub fn new(prefix: &str, keys: u64, timeout: Duration) -> ZooKeeperWatches {
        ZooKeeperWatches {
            base: format!("/{}-watch", prefix.replace('/', "-")),
            keys,
            timeout,
            clients: Mutex::default(),
        }
    }

    fn parent(&self, key: &str) -> String {
        format!("{}/{key}", self.base)
    }

    /// A new session to the server at `ip`, with the run's znodes made.
    async fn session(&self, ip: Ipv4Addr) -> Result<Client, ClientError> {
        let client = Client::connector()
            .with_server_version(OLDEST.0, OLDEST.1, OLDEST.2)
            .with_session_timeout(Duration::from_secs(4))
            .with_connection_timeout(self.timeout)
            .connect(&format!("{ip}:{PORT}"))
            .await
            .map_err(|e| ClientError::definite(format!("zookeeper session to {ip}: {e}")))?;
        let opts = CreateMode::Persistent.with_acls(Acls::anyone_all());
        let parents = (0..self.keys).map(|k| self.parent(&format!("k{k}")));
        for path in std::iter::once(self.base.clone()).chain(parents) {
            match client.create(&path, b"", &opts).await {
                Ok(_) | Err(Error::NodeExists) => {}
                Err(e) => return Err(error(e)),
            }
        }
        Ok(client)
    }

    async fn client(&self, ip: Ipv4Addr) -> Result<Client, ClientError> {
        if let Some(c) = self.clients.lock().expect("zookeeper clients").get(&ip) {
            // a session that expired is replaced
            if !c.state().is_terminated() {
                return Ok(c.clone());
            }
        }
        let c = self.session(ip).await?;
        self.clients.lock().expect("zookeeper clients").insert(ip, c.clone());
        Ok(c)
    }
}

/// Values are stored as their decimal text.
fn decode(data: &[u8]) -> Option<i64> {
    std::str::from_utf8(data).ok()?.parse().ok()
}

/// A key's state and the zxid of its last change, read together; with a watch
/// for its next change when `watch`.
async fn state(
    client: &Client,
    parent: &str,
    watch: bool,
) -> Result<(Option<i64>, i64, Option<OneshotWatcher>), Error> {
    let path = format!("{parent}/v");
    // a key created between the two reads is read again (bounded: a writer
    // needs a round trip to delete it again)
    for _ in 0..10 {
        let got = if watch {
            client.get_and_watch_data(&path).await.map(|(d, s, w)| (d, s, Some(w)))
        } else {
            client.get_data(&path).await.map(|(d, s)| (d, s, None))
        };
        match got {
            Ok((data, stat, w)) => return Ok((decode(&data), stat.mzxid, w)),
            Err(Error::NoNode) => {}
            Err(e) => return Err(e),
        }
        // gone: the parent's pzxid is the delete's, its children watch the creation
        let (children, stat, w) = if watch {
            client
                .get_and_watch_children(parent)
                .await
                .map(|(c, s, w)| (c, s, Some(w)))?
        } else {
            client.get_children(parent).await.map(|(c, s)| (c, s, None))?
        };
        if !children.iter().any(|c| c == "v") {
            return Ok((None, stat.pzxid, w));
        }
    }
    Err(Error::ConnectionLoss)
}

impl Watches for ZooKeeperWatches {
    fn delivery(&self) -> Delivery {
        Delivery::Latest
    }

    fn change<'a>(
        &'a self,
        ip: Ipv4Addr,
        key: &'a str,
        value: Option<i64>,
    ) -> BoxFuture<'a, Result<Option<i64>, ClientError>> {
        Box::pin(async move {
            let c = self.client(ip).await?;
            let path = format!("{}/v", self.parent(key));
            let Some(value) = value else {
                return match c.delete(&path, None).await {
                    Ok(()) => Ok(None),
                    Err(Error::NoNode) => Err(ClientError::definite("nothing to delete".into())),
                    Err(e) => Err(error(e)),
                };
            };
            let data = value.to_string();
            match c.set_data(&path, data.as_bytes(), None).await {
                Ok(stat) => return Ok(Some(stat.mzxid)),
                Err(Error::NoNode) => {}
                Err(e) => return Err(error(e)),
            }
            let opts = CreateMode::Persistent.with_acls(Acls::anyone_all());
            match c.create(&path, data.as_bytes(), &opts).await {
                // a 3.4 server's create answers no Stat
                Ok((stat, _)) => Ok((!stat.is_invalid()).then_some(stat.mzxid)),
                // another writer created it first: nothing of ours happened
                Err(e) => Err(error(e)),
            }
        })
    }

    fn read<'a>(&'a self, ip: Ipv4Addr, key: &'a str) -> BoxFuture<'a, Result<(Option<i64>, i64), ClientError>> {
        Box::pin(async move {
            let c = self.client(ip).await?;
            let parent = self.parent(key);
            // linearizable: the server catches up with the leader first
            c.sync(&parent).await.map_err(error)?;
            let (value, zxid, _) = state(&c, &parent, false).await.map_err(error)?;
            Ok((value, zxid))
        })
    }

    fn revision(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<i64, ClientError>> {
        Box::pin(async move {
            let c = self.client(ip).await?;
            let (_, stat) = c.get_data(&self.base).await.map_err(error)?;
            Ok(stat.pzxid)
        })
    }

    fn watch<'a>(
        &'a self,
        ip: Ipv4Addr,
        _want: &'a WatchRequest,
    ) -> BoxFuture<'a, Result<Box<dyn EventStream>, WatchError>> {
        Box::pin(async move {
            // a session of its own, so that its watches end with it
            let client = self.session(ip).await.map_err(|e| WatchError::Other(e.message))?;
            let keys: Vec<(String, String)> = (0..self.keys)
                .map(|k| (format!("k{k}"), self.parent(&format!("k{k}"))))
                .collect();
            // its watches and session end with the task
            Ok(Fed::spawn(|tx| notifications(client, keys, tx)))
        })
    }
}

/// A key's state read back with its watch set again; the watch's firing joins
/// `pending`, named by `i`.
async fn reread(
    client: &Client,
    (key, parent): &(String, String),
    i: usize,
    pending: &mut JoinSet<(usize, WatchedEvent)>,
) -> Result<Event, WatchError> {
    let (value, zxid, watcher) = state(client, parent, true)
        .await
        .map_err(|e| WatchError::Other(format!("reading {key} back: {e}")))?;
    if let Some(w) = watcher {
        pending.spawn(async move { (i, w.changed().await) });
    }
    Ok(Event::at(key.clone(), value, zxid))
}

/// Every key's state once, then on each notification the states of the keys
/// it names, read back with their watches set again; ends at the session's end.
async fn notifications(client: Client, keys: Vec<(String, String)>, tx: Feed) {
    let mut pending = JoinSet::new();
    let mut fired: BTreeSet<usize> = (0..keys.len()).collect();
    loop {
        let mut events = Vec::new();
        for &i in &fired {
            match reread(&client, &keys[i], i, &mut pending).await {
                Ok(e) => events.push(e),
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
        let batch = Batch {
            events,
            ..Batch::default()
        };
        if tx.send(Ok(batch)).await.is_err() {
            return;
        }
        fired.clear();
        // the next notification, and any that came with it
        let Some(Ok(first)) = pending.join_next().await else {
            return;
        };
        let mut got = vec![first];
        while let Some(Ok(next)) = pending.try_join_next() {
            got.push(next);
        }
        for (i, event) in got {
            if event.event_type == EventType::Session {
                let ended = WatchError::Other(format!("session {:?}", event.session_state));
                let _ = tx.send(Err(ended)).await;
                return;
            }
            fired.insert(i);
        }
    }
}
