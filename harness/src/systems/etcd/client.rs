//! etcd's clients: registers through the v3 KV API (get, put, cas as a txn
//! comparing the value), locks through the v3 lock API and elections through
//! the v3 election API (campaign / resign), both on a lease of ours.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checkers::{F, Type, Value};
use etcd_client::{Client, Compare, CompareOp, ConnectOptions, GetOptions, LeaderKey, ResignOptions, Txn, TxnOp};
use workloads::watch::{Event, KvHash, WatchRequest};
use workloads::{
    Batch, BoxFuture, ClientError, EventStream, Lock, LockParams, Locks, RegisterClient, Registers, Target, WatchError,
    Watches, cas_pair,
};

use super::PORT;

fn error(e: etcd_client::Error) -> ClientError {
    let message = e.to_string();
    // no connection: the request never left (only connect-time errors count:
    // a reset or an unreachable host may come after the request went out)
    let definite = ["onnection refused", "tcp connect error"]
        .iter()
        .any(|m| message.contains(m));
    ClientError { definite, message }
}

/// A client of the member at `endpoint` (host:port) whose every request is
/// bounded by `timeout` (the wait for a lock included).
async fn client(endpoint: &str, timeout: Duration) -> Result<Client, ClientError> {
    let opts = ConnectOptions::new()
        .with_timeout(timeout)
        .with_connect_timeout(timeout);
    Client::connect([format!("http://{endpoint}")], Some(opts))
        .await
        .map_err(|e| ClientError::definite(format!("etcd client for {endpoint}: {e}")))
}

pub struct EtcdRegisters;

impl Registers for EtcdRegisters {
    type Client = EtcdRegister;
    fn read_modes(&self) -> &'static [&'static str] {
        // linearizable: through the leader's read index; serializable: the member's own state
        &["linearizable", "serializable"]
    }
    async fn connect(&self, ip: Ipv4Addr, target: &Target, _keys: u64) -> Result<EtcdRegister, ClientError> {
        Ok(EtcdRegister {
            client: client(&format!("{ip}:{PORT}"), target.op_timeout).await?,
            serializable: target.read_mode == "serializable",
            prefix: target.prefix.clone(),
        })
    }
}

pub struct EtcdRegister {
    client: Client,
    serializable: bool,
    prefix: String,
}

impl EtcdRegister {
    async fn run(&mut self, f: &F, key: &Value, value: &Value) -> Result<(Type, Value), etcd_client::Error> {
        let k = format!("{}/{key}", self.prefix);
        match f {
            F::Read => {
                let opts = self.serializable.then(|| GetOptions::new().with_serializable());
                let resp = self.client.get(k, opts).await?;
                let read = match resp.kvs().first() {
                    None => Value::Nil,
                    Some(kv) => kv.value_str()?.parse::<i64>().map_or(Value::Nil, Value::Int),
                };
                Ok((Type::Ok, read))
            }
            F::Write => {
                self.client.put(k, value.to_string(), None).await?;
                Ok((Type::Ok, value.clone()))
            }
            _ => {
                let (old, new) = cas_pair(value);
                let txn = Txn::new()
                    .when([Compare::value(k.clone(), CompareOp::Equal, old.to_string())])
                    .and_then([TxnOp::put(k, new.to_string(), None)]);
                let resp = self.client.txn(txn).await?;
                Ok((if resp.succeeded() { Type::Ok } else { Type::Fail }, value.clone()))
            }
        }
    }
}

impl RegisterClient for EtcdRegister {
    async fn call(&mut self, f: &F, key: &Value, value: &Value) -> Result<(Type, Value), ClientError> {
        self.run(f, key, value).await.map_err(error)
    }
}

pub struct EtcdLocks;

impl Locks for EtcdLocks {
    type Lock = EtcdLock;
    fn port(&self) -> u16 {
        PORT
    }
    async fn connect(&self, endpoint: &str, params: LockParams<'_>) -> Result<EtcdLock, ClientError> {
        Ok(EtcdLock {
            client: client(endpoint, params.wait).await?,
            name: format!("{}/lock", params.prefix),
            ttl: params.ttl,
            held: None,
        })
    }
}

/// etcd's lock API on a lease of our own: the lease is the lock's lifetime; the
/// fencing token is the lock key's create revision (unique, and increasing with
/// acquisition order).
pub struct EtcdLock {
    client: Client,
    name: String,
    ttl: Duration,
    held: Option<(Lease, Vec<u8>)>,
}

/// A lease of ours: renewed by a task every third of its TTL, each renewal
/// awaited at most that long; `alive` while the last answered renewal is less
/// than a TTL old (a careful holder's own count: the lease may be gone sooner).
struct Lease {
    id: i64,
    ttl: Duration,
    renewed: Arc<Mutex<Instant>>,
    keep_alive: tokio::task::JoinHandle<()>,
}

impl Lease {
    async fn grant(client: &mut Client, ttl: Duration) -> Result<Lease, ClientError> {
        let asked = Instant::now();
        let id = client
            .lease_grant(ttl.as_secs().max(1) as i64, None)
            .await
            .map_err(error)?
            .id();
        let (mut keeper, mut answers) = client.lease_keep_alive(id).await.map_err(error)?;
        let renewed = Arc::new(Mutex::new(asked));
        let every = ttl / 3;
        let last = renewed.clone();
        let keep_alive = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let sent = Instant::now();
                if keeper.keep_alive().await.is_err() {
                    break;
                }
                match tokio::time::timeout(every, answers.message()).await {
                    Ok(Ok(Some(a))) if a.ttl() > 0 => *last.lock().expect("lease renewal") = sent,
                    Ok(_) => break,
                    Err(_) => {} // unanswered for now: renew again
                }
            }
        });
        Ok(Lease {
            id,
            ttl,
            renewed,
            keep_alive,
        })
    }

    fn alive(&self) -> bool {
        !self.keep_alive.is_finished() && self.renewed.lock().expect("lease renewal").elapsed() < self.ttl
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.keep_alive.abort();
    }
}

impl Lock for EtcdLock {
    /// Grants a lease, keeps it alive, waits for the lock; returns the token.
    async fn acquire(&mut self) -> Result<i64, ClientError> {
        let lease = Lease::grant(&mut self.client, self.ttl).await?;
        let options = etcd_client::LockOptions::new().with_lease(lease.id);
        let key = self
            .client
            .lock(self.name.clone(), Some(options))
            .await
            .map_err(error)?
            .key()
            .to_vec();
        self.held = Some((lease, key.clone()));
        let resp = self.client.get(key, None).await.map_err(error)?;
        match resp.kvs().first() {
            Some(kv) => Ok(kv.create_revision()),
            None => Err(ClientError::maybe(
                "lock key gone right after the lock was granted".into(),
            )),
        }
    }

    /// Deletes the lock key and revokes the lease.
    async fn release(&mut self) -> Result<(), ClientError> {
        let Some((lease, key)) = self.held.take() else {
            return Ok(());
        };
        lease.keep_alive.abort();
        self.client.unlock(key).await.map_err(error)?;
        // best effort: a lease that lapsed during a pause is gone already
        let _ = self.client.lease_revoke(lease.id).await;
        Ok(())
    }

    fn held(&self) -> bool {
        self.held.as_ref().is_some_and(|(lease, _)| lease.alive())
    }
}

pub struct EtcdElections;

impl Locks for EtcdElections {
    type Lock = EtcdLeader;
    fn port(&self) -> u16 {
        PORT
    }
    async fn connect(&self, endpoint: &str, params: LockParams<'_>) -> Result<EtcdLeader, ClientError> {
        Ok(EtcdLeader {
            client: client(endpoint, params.wait).await?,
            name: format!("{}/election", params.prefix),
            ttl: params.ttl,
            leading: None,
        })
    }
}

/// etcd's election API on a lease of our own: `campaign` returns once this
/// candidate's key is the oldest under the election's name; the term (the
/// fencing token) is that key's create revision; `resign` gives it up.
pub struct EtcdLeader {
    client: Client,
    name: String,
    ttl: Duration,
    leading: Option<(Lease, LeaderKey)>,
}

impl Lock for EtcdLeader {
    async fn acquire(&mut self) -> Result<i64, ClientError> {
        let lease = Lease::grant(&mut self.client, self.ttl).await?;
        let won = self
            .client
            .campaign(self.name.clone(), format!("{:x}", lease.id), lease.id)
            .await
            .map_err(error)?;
        let leader = won
            .leader()
            .cloned()
            .ok_or_else(|| ClientError::maybe("campaign answered without a leader key".into()))?;
        let term = leader.rev();
        self.leading = Some((lease, leader));
        Ok(term)
    }

    async fn release(&mut self) -> Result<(), ClientError> {
        let Some((lease, leader)) = self.leading.take() else {
            return Ok(());
        };
        lease.keep_alive.abort();
        self.client
            .resign(Some(ResignOptions::new().with_leader(leader)))
            .await
            .map_err(error)?;
        // best effort: a lease that lapsed during a pause is gone already
        let _ = self.client.lease_revoke(lease.id).await;
        Ok(())
    }

    fn held(&self) -> bool {
        self.leading.as_ref().is_some_and(|(lease, _)| lease.alive())
    }
}

/// The watch workload's writes, reads and watches, under the run's prefix, with
/// a client per member kept for the run.
pub struct EtcdWatches {
    prefix: String,
    timeout: Duration,
    clients: Mutex<std::collections::HashMap<Ipv4Addr, Client>>,
}

impl EtcdWatches {
    pub fn new(prefix: &str, timeout: Duration) -> EtcdWatches {
        EtcdWatches {
            prefix: format!("{prefix}/watch/"),
            timeout,
            clients: Mutex::default(),
        }
    }

    async fn client(&self, ip: Ipv4Addr) -> Result<Client, ClientError> {
        if let Some(c) = self.clients.lock().expect("etcd clients").get(&ip) {
            return Ok(c.clone());
        }
        let c = client(&format!("{ip}:{PORT}"), self.timeout).await?;
        self.clients.lock().expect("etcd clients").insert(ip, c.clone());
        Ok(c)
    }
}

/// An etcd watch stream, its events' keys without the prefix. Each response
/// is one batch: the watcher numbers them, so a revision split across two
/// responses shows.
struct EtcdEvents {
    sender: etcd_client::WatchRequestSender,
    stream: etcd_client::WatchResponseStream,
    prefix: String,
}

impl EtcdEvents {
    fn event(&self, e: &etcd_client::Event) -> Option<Event> {
        let kv = e.kv()?;
        let key = kv.key_str().unwrap_or_default();
        let key = key.strip_prefix(&self.prefix).unwrap_or(key).to_string();
        let number = |kv: &etcd_client::KeyValue| kv.value_str().ok().and_then(|v| v.parse().ok());
        let (value, create) = match e.event_type() {
            etcd_client::EventType::Put => (number(kv), Some(kv.create_revision() == kv.mod_revision())),
            etcd_client::EventType::Delete => (None, None),
        };
        Some(Event {
            key,
            value,
            revision: kv.mod_revision(),
            create,
            prev: e.prev_kv().and_then(number),
        })
    }
}

impl EventStream for EtcdEvents {
    fn next(&mut self) -> BoxFuture<'_, Result<Batch, WatchError>> {
        Box::pin(async move {
            loop {
                let resp = match self.stream.message().await {
                    Ok(Some(r)) => r,
                    Ok(None) => return Err(WatchError::Other("the watch stream ended".into())),
                    Err(e) => return Err(WatchError::Other(e.to_string())),
                };
                if resp.compact_revision() > 0 {
                    return Err(WatchError::Compacted(resp.compact_revision()));
                }
                if resp.canceled() {
                    return Err(WatchError::Other(format!("watch cancelled: {}", resp.cancel_reason())));
                }
                let events: Vec<Event> = resp.events().iter().filter_map(|e| self.event(e)).collect();
                // no events and not the creation: a progress notification
                let progress = (events.is_empty() && !resp.created())
                    .then(|| resp.header().map(|h| h.revision()))
                    .flatten()
                    .filter(|&r| r > 0);
                if !events.is_empty() || progress.is_some() {
                    return Ok(Batch {
                        events,
                        index: None,
                        progress,
                    });
                }
            }
        })
    }

    fn request_progress(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.sender.request_progress().await.map_err(|e| e.to_string()) })
    }
}

impl Watches for EtcdWatches {
    fn change<'a>(
        &'a self,
        ip: Ipv4Addr,
        key: &'a str,
        value: Option<i64>,
    ) -> BoxFuture<'a, Result<Option<i64>, ClientError>> {
        Box::pin(async move {
            let mut c = self.client(ip).await?;
            let k = format!("{}{key}", self.prefix);
            let header = match value {
                Some(v) => c.put(k, v.to_string(), None).await.map_err(error)?.header().cloned(),
                None => {
                    let resp = c.delete(k, None).await.map_err(error)?;
                    if resp.deleted() == 0 {
                        return Err(ClientError::definite("nothing to delete".into()));
                    }
                    resp.header().cloned()
                }
            };
            let rev = header
                .map(|h| h.revision())
                .ok_or_else(|| ClientError::maybe("no revision in the answer".into()))?;
            Ok(Some(rev))
        })
    }

    fn read<'a>(&'a self, ip: Ipv4Addr, key: &'a str) -> BoxFuture<'a, Result<(Option<i64>, i64), ClientError>> {
        Box::pin(async move {
            let mut c = self.client(ip).await?;
            let resp = c.get(format!("{}{key}", self.prefix), None).await.map_err(error)?;
            let value = resp.kvs().first().and_then(|kv| kv.value_str().ok()?.parse().ok());
            Ok((value, resp.header().map_or(0, |h| h.revision())))
        })
    }

    fn revision(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<i64, ClientError>> {
        Box::pin(async move {
            let mut c = self.client(ip).await?;
            let resp = c.get(self.prefix.clone(), None).await.map_err(error)?;
            Ok(resp.header().map_or(0, |h| h.revision()))
        })
    }

    fn watch<'a>(
        &'a self,
        ip: Ipv4Addr,
        want: &'a WatchRequest,
    ) -> BoxFuture<'a, Result<Box<dyn EventStream>, WatchError>> {
        Box::pin(async move {
            // a stream of its own: one broken watch does not take the writers' client along
            let mut c = client(&format!("{ip}:{PORT}"), self.timeout)
                .await
                .map_err(|e| WatchError::Other(e.message))?;
            let mut opts = etcd_client::WatchOptions::new().with_start_revision(want.from);
            if want.key.is_none() {
                opts = opts.with_prefix();
            }
            if want.prev_kv {
                opts = opts.with_prev_key();
            }
            if want.progress_notify {
                opts = opts.with_progress_notify();
            }
            let key = format!("{}{}", self.prefix, want.key.as_deref().unwrap_or(""));
            let (sender, stream) = c
                .watch(key, Some(opts))
                .await
                .map_err(|e| WatchError::Other(e.to_string()))?
                .split();
            Ok(Box::new(EtcdEvents {
                sender,
                stream,
                prefix: self.prefix.clone(),
            }) as Box<dyn EventStream>)
        })
    }

    fn revisions(&self) -> bool {
        true
    }

    fn change_all<'a>(&'a self, ip: Ipv4Addr, pairs: &'a [(String, i64)]) -> BoxFuture<'a, Result<i64, ClientError>> {
        Box::pin(async move {
            let mut c = self.client(ip).await?;
            let puts: Vec<etcd_client::TxnOp> = pairs
                .iter()
                .map(|(k, v)| etcd_client::TxnOp::put(format!("{}{k}", self.prefix), v.to_string(), None))
                .collect();
            let resp = c.txn(etcd_client::Txn::new().and_then(puts)).await.map_err(error)?;
            resp.header()
                .map(|h| h.revision())
                .ok_or_else(|| ClientError::maybe("no revision in the answer".into()))
        })
    }

    fn compact_revision(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<i64, ClientError>> {
        Box::pin(async move {
            let mut c = self.client(ip).await?;
            Ok(c.hash_kv(0).await.map_err(error)?.compact_version())
        })
    }

    fn hash(&self, ip: Ipv4Addr, revision: i64) -> BoxFuture<'_, Result<Option<KvHash>, ClientError>> {
        Box::pin(async move {
            let mut c = self.client(ip).await?;
            let resp = c.hash_kv(revision).await.map_err(error)?;
            Ok(Some(KvHash {
                revision,
                hash: resp.hash(),
                compact_revision: resp.compact_version(),
            }))
        })
    }
}
