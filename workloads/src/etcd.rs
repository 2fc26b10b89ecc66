//! etcd through its v3 gRPC API: get, put, and cas as a txn comparing the value.

use std::net::Ipv4Addr;
use std::time::Duration;

use checkers::{F, Type, Value};
use etcd_client::{Client, Compare, CompareOp, ConnectOptions, GetOptions, Txn, TxnOp};

use crate::client::ClientError;

pub const PORT: u16 = 2379;

pub struct Etcd {
    client: Client,
    serializable: bool,
    prefix: String,
}

impl From<etcd_client::Error> for ClientError {
    fn from(e: etcd_client::Error) -> ClientError {
        let message = e.to_string();
        // no connection: the request never left (only connect-time errors count:
        // a reset or an unreachable host may come after the request went out)
        let definite = ["onnection refused", "tcp connect error"]
            .iter()
            .any(|m| message.contains(m));
        ClientError { definite, message }
    }
}

impl Etcd {
    pub async fn connect(ip: Ipv4Addr, timeout: Duration, serializable: bool, prefix: &str) -> Result<Etcd, String> {
        let opts = ConnectOptions::new()
            .with_timeout(timeout)
            .with_connect_timeout(timeout);
        let endpoint = format!("http://{ip}:{PORT}");
        let client = Client::connect([&endpoint], Some(opts))
            .await
            .map_err(|e| format!("etcd client for {endpoint}: {e}"))?;
        Ok(Etcd {
            client,
            serializable,
            prefix: prefix.to_string(),
        })
    }

    pub async fn call(&mut self, f: &F, key: &Value, value: &Value) -> Result<(Type, Value), ClientError> {
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
                let (old, new) = crate::client::cas_pair(value);
                let txn = Txn::new()
                    .when([Compare::value(k.clone(), CompareOp::Equal, old.to_string())])
                    .and_then([TxnOp::put(k, new.to_string(), None)]);
                let resp = self.client.txn(txn).await?;
                Ok((if resp.succeeded() { Type::Ok } else { Type::Fail }, value.clone()))
            }
        }
    }
}
