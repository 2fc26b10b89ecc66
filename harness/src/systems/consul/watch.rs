//! The watch workload on Consul: blocking queries on the run's KV prefix.
//!
//! A watcher asks its own server (`?stale`, so that the answer and its index
//! are that server's, not the leader's) for the prefix with the last
//! `X-Consul-Index` it got; the server answers once its index passes it, or
//! after `wait`. Each answer's index is recorded: within one server it must
//! never go backwards. Puts go through `/v1/txn`, whose answer names the
//! change's ModifyIndex; deletes through `DELETE`, which names none.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use base64::Engine;
use workloads::watch::{Event, WatchRequest};
use workloads::{Batch, BoxFuture, ClientError, Delivery, EventStream, Fed, Feed, WatchError, Watches};

use super::PORT;
use super::client::{error, http};

/// How long a blocking query may wait for a change.
const WAIT: Duration = Duration::from_secs(2);

pub struct ConsulWatches {
    /// The keys' prefix in KV (ends with a slash).
    prefix: String,
    keys: u64,
    http: reqwest::Client,
    /// Blocking queries outlast a plain request by `WAIT`.
    blocking: reqwest::Client,
}

impl ConsulWatches {
    pub fn new(prefix: &str, keys: u64, timeout: Duration) -> Result<ConsulWatches, String> {
        Ok(ConsulWatches {
            prefix: format!("{prefix}/watch/"),
            keys,
            http: http(timeout)?,
            blocking: http(timeout + WAIT)?,
        })
    }
}

fn index(resp: &reqwest::Response) -> Option<i64> {
    resp.headers().get("X-Consul-Index")?.to_str().ok()?.parse().ok()
}

/// Values are stored as their decimal text, base64 in Consul's JSON.
fn decode(entry: &serde_json::Value) -> Option<i64> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(entry["Value"].as_str()?)
        .ok()?;
    String::from_utf8(raw).ok()?.parse().ok()
}

async fn json(resp: reqwest::Response) -> Result<serde_json::Value, ClientError> {
    serde_json::from_slice(&resp.bytes().await.map_err(error)?).map_err(|e| ClientError::maybe(e.to_string()))
}

impl Watches for ConsulWatches {
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
            let k = format!("{}{key}", self.prefix);
            let Some(value) = value else {
                let url = format!("http://{ip}:{PORT}/v1/kv/{k}");
                let resp = self.http.delete(url).send().await.map_err(error)?;
                if !resp.status().is_success() {
                    return Err(ClientError::maybe(format!("DELETE: {}", resp.status())));
                }
                return Ok(None);
            };
            let encoded = base64::engine::general_purpose::STANDARD.encode(value.to_string());
            let body = serde_json::json!([{ "KV": { "Verb": "set", "Key": k, "Value": encoded } }]);
            let resp = self
                .http
                .put(format!("http://{ip}:{PORT}/v1/txn"))
                .body(body.to_string())
                .send()
                .await
                .map_err(error)?;
            if !resp.status().is_success() {
                return Err(ClientError::maybe(format!("txn: {}", resp.status())));
            }
            let done = json(resp).await?;
            Ok(done["Results"][0]["KV"]["ModifyIndex"].as_i64())
        })
    }

    fn read<'a>(&'a self, ip: Ipv4Addr, key: &'a str) -> BoxFuture<'a, Result<(Option<i64>, i64), ClientError>> {
        Box::pin(async move {
            let url = format!("http://{ip}:{PORT}/v1/kv/{}{key}?consistent", self.prefix);
            let resp = self.http.get(url).send().await.map_err(error)?;
            let at = index(&resp);
            if resp.status() == reqwest::StatusCode::NOT_FOUND {
                // gone: the store's index covers the delete
                return at
                    .map(|i| (None, i))
                    .ok_or_else(|| ClientError::maybe("no X-Consul-Index".into()));
            }
            if !resp.status().is_success() {
                return Err(ClientError::maybe(format!("GET: {}", resp.status())));
            }
            let entry = &json(resp).await?[0];
            let modified = entry["ModifyIndex"]
                .as_i64()
                .ok_or_else(|| ClientError::maybe("no ModifyIndex".into()))?;
            Ok((decode(entry), modified))
        })
    }

    fn revision(&self, ip: Ipv4Addr) -> BoxFuture<'_, Result<i64, ClientError>> {
        Box::pin(async move {
            let url = format!("http://{ip}:{PORT}/v1/kv/{}?recurse&consistent", self.prefix);
            let resp = self.http.get(url).send().await.map_err(error)?;
            index(&resp).ok_or_else(|| ClientError::maybe(format!("GET: {} without an index", resp.status())))
        })
    }

    fn watch<'a>(
        &'a self,
        ip: Ipv4Addr,
        _want: &'a WatchRequest,
    ) -> BoxFuture<'a, Result<Box<dyn EventStream>, WatchError>> {
        Box::pin(async move {
            let query = Query {
                http: self.blocking.clone(),
                url: format!("http://{ip}:{PORT}/v1/kv/{}?recurse&stale", self.prefix),
                prefix: self.prefix.clone(),
                keys: self.keys,
            };
            Ok(Fed::spawn(|tx| query.run(tx)))
        })
    }
}

/// One watcher's blocking queries.
struct Query {
    http: reqwest::Client,
    url: String,
    prefix: String,
    keys: u64,
}

impl Query {
    /// The keys under the prefix as one server has them now, and its index;
    /// after `after` once the server's index passes it (or `WAIT` is up).
    async fn ask(&self, after: i64) -> Result<(BTreeMap<String, (Option<i64>, i64)>, i64), WatchError> {
        let url = format!("{}&index={after}&wait={}s", self.url, WAIT.as_secs());
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| WatchError::Other(e.to_string()))?;
        let at = index(&resp).ok_or_else(|| WatchError::Other(format!("{} without an index", resp.status())))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok((BTreeMap::new(), at));
        }
        if !resp.status().is_success() {
            return Err(WatchError::Other(format!("GET: {}", resp.status())));
        }
        let entries = json(resp).await.map_err(|e| WatchError::Other(e.message))?;
        let mut keys = BTreeMap::new();
        for e in entries.as_array().into_iter().flatten() {
            let (Some(key), Some(modified)) = (e["Key"].as_str(), e["ModifyIndex"].as_i64()) else {
                continue;
            };
            let key = key.strip_prefix(&self.prefix).unwrap_or(key).to_string();
            keys.insert(key, (decode(e), modified));
        }
        Ok((keys, at))
    }

    /// Every key's state once, then the keys that changed at each answer
    /// (a key gone is nil at the answer's index), with every new index.
    async fn run(self, tx: Feed) {
        let mut seen: BTreeMap<String, Option<i64>> = BTreeMap::new();
        let mut after = 0;
        loop {
            let (now, at) = match self.ask(after).await {
                Ok(got) => got,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let mut events: Vec<Event> = Vec::new();
            for k in (0..self.keys).map(|k| format!("k{k}")) {
                let (value, rev) = now.get(&k).copied().unwrap_or((None, at));
                if seen.get(&k) != Some(&value) {
                    seen.insert(k.clone(), value);
                    events.push(Event::at(k, value, rev));
                }
            }
            if (!events.is_empty() || at != after)
                && tx
                    .send(Ok(Batch {
                        events,
                        index: Some(at),
                        progress: None,
                    }))
                    .await
                    .is_err()
            {
                return;
            }
            // an index that went backwards starts over, as Consul's docs ask
            after = if at < after { 0 } else { at.max(1) };
        }
    }
}
