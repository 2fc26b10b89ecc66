//! Consul's clients over its HTTP API: registers in KV (write = PUT, cas = PUT
//! `?cas=<ModifyIndex>` from a consistent read, read = GET in the run's mode), and
//! locks as a session plus `?acquire=`.

use std::net::Ipv4Addr;
use std::time::Duration;

use base64::Engine;
use checkers::{F, Type, Value};
use workloads::{ClientError, Lock, LockParams, Locks, RegisterClient, Registers, Target, cas_pair};

use super::PORT;

pub struct Consul {
    http: reqwest::Client,
    base: String,
    /// Query suffix of reads: "", "?consistent" or "?stale".
    mode: &'static str,
}

pub(super) fn error(e: reqwest::Error) -> ClientError {
    // no connection: the request never left
    ClientError {
        definite: e.is_connect(),
        message: e.to_string(),
    }
}

/// An HTTP client whose every request is bounded by `timeout`.
pub(super) fn http(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .build()
        .map_err(|e| format!("consul client: {e}"))
}

pub struct ConsulRegisters;

impl Registers for ConsulRegisters {
    type Client = Consul;
    fn read_modes(&self) -> &'static [&'static str] {
        // consistent: the leader confirms it leads; default: the leader answers
        // without confirming; stale: any server answers
        &["consistent", "default", "stale"]
    }
    async fn connect(&self, ip: Ipv4Addr, target: &Target, _keys: u64) -> Result<Consul, ClientError> {
        let mode = match target.read_mode {
            "consistent" => "?consistent",
            "stale" => "?stale",
            _ => "",
        };
        Consul::connect(ip, target.op_timeout, mode, &target.prefix).map_err(ClientError::definite)
    }
}

impl Consul {
    fn connect(ip: Ipv4Addr, timeout: Duration, mode: &'static str, prefix: &str) -> Result<Consul, String> {
        Ok(Consul {
            http: http(timeout)?,
            base: format!("http://{ip}:{PORT}/v1/kv/{prefix}"),
            mode,
        })
    }

    /// The key's value and ModifyIndex (0 when absent).
    async fn get(&self, key: &Value, mode: &str) -> Result<(Value, u64), ClientError> {
        let resp = self
            .http
            .get(format!("{}/{key}{mode}", self.base))
            .send()
            .await
            .map_err(error)?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok((Value::Nil, 0));
        }
        if !resp.status().is_success() {
            return Err(ClientError::maybe(format!("GET: {}", resp.status())));
        }
        let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await.map_err(error)?)
            .map_err(|e| ClientError::maybe(e.to_string()))?;
        let entry = &body[0];
        let index = entry["ModifyIndex"].as_u64().unwrap_or(0);
        let value = entry["Value"]
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|s| s.parse::<i64>().ok())
            .map_or(Value::Nil, Value::Int);
        Ok((value, index))
    }

    /// PUT, optionally as a cas on `index`; whether Consul applied it.
    async fn put(&self, key: &Value, value: &Value, cas: Option<u64>) -> Result<bool, ClientError> {
        let url = match cas {
            Some(i) => format!("{}/{key}?cas={i}", self.base),
            None => format!("{}/{key}", self.base),
        };
        let resp = self.http.put(url).body(value.to_string()).send().await.map_err(error)?;
        if !resp.status().is_success() {
            return Err(ClientError::maybe(format!("PUT: {}", resp.status())));
        }
        Ok(resp.text().await.map_err(error)?.trim() == "true")
    }

    async fn run(&mut self, f: &F, key: &Value, value: &Value) -> Result<(Type, Value), ClientError> {
        match f {
            F::Read => Ok((Type::Ok, self.get(key, self.mode).await?.0)),
            F::Write => {
                if self.put(key, value, None).await? {
                    Ok((Type::Ok, value.clone()))
                } else {
                    Err(ClientError::maybe("PUT answered false".into()))
                }
            }
            _ => {
                let (old, new) = cas_pair(value);
                let (current, index) = self.get(key, "?consistent").await?;
                if current != *old {
                    return Ok((Type::Fail, value.clone()));
                }
                let applied = self.put(key, new, Some(index)).await?;
                Ok((if applied { Type::Ok } else { Type::Fail }, value.clone()))
            }
        }
    }
}

impl RegisterClient for Consul {
    async fn call(&mut self, f: &F, key: &Value, value: &Value) -> Result<(Type, Value), ClientError> {
        self.run(f, key, value).await
    }
}

pub struct ConsulLocks;

/// Consul's floor for a session TTL.
const MIN_TTL: Duration = Duration::from_secs(10);

impl Locks for ConsulLocks {
    type Lock = ConsulLock;
    fn port(&self) -> u16 {
        PORT
    }
    fn lease(&self, ttl: Duration) -> Duration {
        ttl.max(MIN_TTL)
    }
    fn lock_delay(&self, asked: Duration) -> Duration {
        asked
    }
    async fn connect(&self, endpoint: &str, params: LockParams<'_>) -> Result<ConsulLock, ClientError> {
        ConsulLock::connect(endpoint, params.wait, params.ttl, params.lock_delay, params.prefix)
            .map_err(ClientError::definite)
    }
}

/// A Consul session with a TTL (renewed by a task of ours every half TTL) and
/// KV `?acquire=`: the session is the lease, the key's LockIndex (raised on
/// every acquisition) the fencing token. Consul expires a session only after up
/// to twice its TTL, and then keeps the lock free for `lock_delay`.
pub struct ConsulLock {
    http: reqwest::Client,
    base: String,
    key: String,
    ttl: Duration,
    lock_delay: Duration,
    held: Option<(String, tokio::task::JoinHandle<()>)>,
}

impl Drop for ConsulLock {
    fn drop(&mut self) {
        if let Some((_, renew)) = &self.held {
            renew.abort();
        }
    }
}

impl ConsulLock {
    /// `endpoint` is host:port (the process's proxy); `wait` bounds each request.
    fn connect(
        endpoint: &str,
        wait: Duration,
        ttl: Duration,
        lock_delay: Duration,
        prefix: &str,
    ) -> Result<ConsulLock, String> {
        Ok(ConsulLock {
            http: http(wait)?,
            base: format!("http://{endpoint}/v1"),
            key: format!("{prefix}/lock"),
            ttl: ttl.max(MIN_TTL),
            lock_delay,
            held: None,
        })
    }

    async fn put(&self, path: &str, body: String) -> Result<String, ClientError> {
        let resp = self
            .http
            .put(format!("{}/{path}", self.base))
            .body(body)
            .send()
            .await
            .map_err(error)?;
        let status = resp.status();
        let text = resp.text().await.map_err(error)?;
        if !status.is_success() {
            return Err(ClientError::maybe(format!("PUT {path}: {status} {}", text.trim())));
        }
        Ok(text)
    }
}

impl Lock for ConsulLock {
    /// Creates a session, then tries `?acquire=` until it wins; returns the token.
    async fn acquire(&mut self) -> Result<i64, ClientError> {
        let body = serde_json::json!({
            "Name": "splitbrain",
            "TTL": format!("{}s", self.ttl.as_secs()),
            "LockDelay": format!("{}ms", self.lock_delay.as_millis()),
            "Behavior": "release",
        });
        let created: serde_json::Value = serde_json::from_str(&self.put("session/create", body.to_string()).await?)
            .map_err(|e| ClientError::maybe(format!("session/create: {e}")))?;
        let session = created["ID"]
            .as_str()
            .ok_or_else(|| ClientError::maybe("session/create: no ID".into()))?
            .to_string();
        let renew = {
            let (http, url, every) = (
                self.http.clone(),
                format!("{}/session/renew/{session}", self.base),
                self.ttl / 2,
            );
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    match http.put(&url).send().await {
                        Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => break,
                        _ => {}
                    }
                }
            })
        };
        self.held = Some((session.clone(), renew));
        let mut index = 0u64;
        loop {
            if self
                .put(&format!("kv/{}?acquire={session}", self.key), session.clone())
                .await?
                .trim()
                == "true"
            {
                break;
            }
            // wait (a blocking query, at most 1 s) for the holder to change, then try again
            let resp = self
                .http
                .get(format!("{}/kv/{}?index={index}&wait=1s", self.base, self.key))
                .send()
                .await
                .map_err(error)?;
            index = resp
                .headers()
                .get("X-Consul-Index")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
        }
        let resp = self
            .http
            .get(format!("{}/kv/{}?consistent", self.base, self.key))
            .send()
            .await
            .map_err(error)?;
        let entry: serde_json::Value = serde_json::from_slice(&resp.bytes().await.map_err(error)?)
            .map_err(|e| ClientError::maybe(e.to_string()))?;
        match (entry[0]["Session"].as_str(), entry[0]["LockIndex"].as_i64()) {
            (Some(s), Some(token)) if s == session => Ok(token),
            _ => Err(ClientError::maybe("lost the lock right after acquiring it".into())),
        }
    }

    /// Releases the key and destroys the session.
    async fn release(&mut self) -> Result<(), ClientError> {
        let Some((session, renew)) = self.held.take() else {
            return Ok(());
        };
        renew.abort();
        let released = self
            .put(&format!("kv/{}?release={session}", self.key), String::new())
            .await;
        // best effort: a session that lapsed during a pause is gone already
        let _ = self.put(&format!("session/destroy/{session}"), String::new()).await;
        released.map(|_| ())
    }

    /// The session not yet found gone by a renewal.
    fn held(&self) -> bool {
        self.held.as_ref().is_some_and(|(_, renew)| !renew.is_finished())
    }
}
