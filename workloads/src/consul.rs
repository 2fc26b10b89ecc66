//! Consul's HTTP KV API: write = PUT, cas = PUT ?cas=<ModifyIndex> from a read,
//! read = GET in the run's consistency mode.

use std::net::Ipv4Addr;
use std::time::Duration;

use base64::Engine;
use checkers::{F, Type, Value};

use crate::client::{ClientError, cas_pair};

pub const PORT: u16 = 8500;

pub struct Consul {
    http: reqwest::Client,
    base: String,
    /// Query suffix of reads: "", "?consistent" or "?stale".
    mode: &'static str,
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> ClientError {
        // no connection: the request never left
        ClientError {
            definite: e.is_connect(),
            message: e.to_string(),
        }
    }
}

fn other(message: String) -> ClientError {
    ClientError {
        definite: false,
        message,
    }
}

impl Consul {
    pub fn connect(ip: Ipv4Addr, timeout: Duration, mode: &'static str, prefix: &str) -> Result<Consul, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| format!("consul client: {e}"))?;
        Ok(Consul {
            http,
            base: format!("http://{ip}:{PORT}/v1/kv/{prefix}"),
            mode,
        })
    }

    /// The key's value and ModifyIndex (0 when absent).
    async fn get(&self, key: &Value, mode: &str) -> Result<(Value, u64), ClientError> {
        let resp = self.http.get(format!("{}/{key}{mode}", self.base)).send().await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok((Value::Nil, 0));
        }
        if !resp.status().is_success() {
            return Err(other(format!("GET: {}", resp.status())));
        }
        let body: serde_json::Value = serde_json::from_slice(&resp.bytes().await?).map_err(|e| other(e.to_string()))?;
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
        let resp = self.http.put(url).body(value.to_string()).send().await?;
        if !resp.status().is_success() {
            return Err(other(format!("PUT: {}", resp.status())));
        }
        Ok(resp.text().await?.trim() == "true")
    }

    pub async fn call(&mut self, f: &F, key: &Value, value: &Value) -> Result<(Type, Value), ClientError> {
        match f {
            F::Read => Ok((Type::Ok, self.get(key, self.mode).await?.0)),
            F::Write => {
                if self.put(key, value, None).await? {
                    Ok((Type::Ok, value.clone()))
                } else {
                    Err(other("PUT answered false".into()))
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
