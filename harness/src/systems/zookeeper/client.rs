//! ZooKeeper's clients: each register a znode (write = setData, cas = getData then
//! setData with the version read, BadVersion: the cas did not happen; read =
//! getData, after `sync()` in the sync read mode), and the ephemeral-sequential
//! lock recipe.

use std::net::Ipv4Addr;
use std::time::Duration;

use checkers::{F, Type, Value};
use workloads::{ClientError, Lock, LockParams, Locks, RegisterClient, Registers, Target, cas_pair};
use zookeeper_client::{Acls, Client, CreateMode, Error};

use super::PORT;

/// The oldest server our clients may meet, also in a mixed-version upgrade:
/// they ask for nothing newer (no create2, whose Stat none of them reads).
pub(super) const OLDEST: (u32, u32, u32) = (3, 4, 13);

pub struct ZooKeeper {
    client: Client,
    sync: bool,
    prefix: String,
}

pub(super) fn error(e: Error) -> ClientError {
    // the server answered that nothing changed
    let definite = matches!(e, Error::NoNode | Error::BadVersion | Error::NodeExists | Error::NoAuth);
    ClientError {
        definite,
        message: e.to_string(),
    }
}

/// Values are stored as their decimal text; an empty znode holds nil.
fn decode(data: &[u8]) -> Value {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .map_or(Value::Nil, Value::Int)
}

pub struct ZooKeeperRegisters;

impl Registers for ZooKeeperRegisters {
    type Client = ZooKeeper;
    fn read_modes(&self) -> &'static [&'static str] {
        // sync: sync() then getData; plain: getData from the connected server
        &["sync", "plain"]
    }
    async fn connect(&self, ip: Ipv4Addr, target: &Target, keys: u64) -> Result<ZooKeeper, ClientError> {
        let sync = target.read_mode == "sync";
        ZooKeeper::connect(ip, target.op_timeout, sync, &target.prefix, keys).await
    }
}

impl ZooKeeper {
    /// Connects (a session) and makes sure the run's znodes exist.
    async fn connect(
        ip: Ipv4Addr,
        timeout: Duration,
        sync: bool,
        prefix: &str,
        keys: u64,
    ) -> Result<ZooKeeper, ClientError> {
        let client = Client::connector()
            .with_server_version(OLDEST.0, OLDEST.1, OLDEST.2)
            .with_session_timeout(Duration::from_secs(4))
            .with_connection_timeout(timeout)
            .connect(&format!("{ip}:{PORT}"))
            .await
            .map_err(|e| ClientError {
                definite: true,
                message: format!("zookeeper session to {ip}: {e}"),
            })?;
        let zk = ZooKeeper {
            client,
            sync,
            prefix: format!("/{}", prefix.replace('/', "-")),
        };
        let opts = CreateMode::Persistent.with_acls(Acls::anyone_all());
        for path in std::iter::once(zk.prefix.clone()).chain((0..keys).map(|k| format!("{}/{k}", zk.prefix))) {
            match zk.client.create(&path, b"", &opts).await {
                Ok(_) | Err(Error::NodeExists) => {}
                Err(e) => return Err(error(e)),
            }
        }
        Ok(zk)
    }

    async fn run(&mut self, f: &F, key: &Value, value: &Value) -> Result<(Type, Value), Error> {
        let path = format!("{}/{key}", self.prefix);
        match f {
            F::Read => {
                if self.sync {
                    self.client.sync(&path).await?;
                }
                // a key not yet written (the set workload's) reads as nil
                match self.client.get_data(&path).await {
                    Ok((data, _)) => Ok((Type::Ok, decode(&data))),
                    Err(Error::NoNode) => Ok((Type::Ok, Value::Nil)),
                    Err(e) => Err(e),
                }
            }
            F::Write => {
                let data = value.to_string();
                match self.client.set_data(&path, data.as_bytes(), None).await {
                    Ok(_) => {}
                    // the set workload's keys are created by their one write
                    Err(Error::NoNode) => {
                        let opts = CreateMode::Persistent.with_acls(Acls::anyone_all());
                        self.client.create(&path, data.as_bytes(), &opts).await?;
                    }
                    Err(e) => return Err(e),
                }
                Ok((Type::Ok, value.clone()))
            }
            _ => {
                let (old, new) = cas_pair(value);
                let (data, stat) = self.client.get_data(&path).await?;
                if decode(&data) != *old {
                    return Ok((Type::Fail, value.clone()));
                }
                match self
                    .client
                    .set_data(&path, new.to_string().as_bytes(), Some(stat.version))
                    .await
                {
                    Ok(_) => Ok((Type::Ok, value.clone())),
                    Err(Error::BadVersion) => Ok((Type::Fail, value.clone())),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

impl RegisterClient for ZooKeeper {
    async fn call(&mut self, f: &F, key: &Value, value: &Value) -> Result<(Type, Value), ClientError> {
        self.run(f, key, value).await.map_err(error)
    }
}

pub struct ZooKeeperLocks;

impl Locks for ZooKeeperLocks {
    type Lock = ZooKeeperLock;
    fn port(&self) -> u16 {
        PORT
    }
    async fn connect(&self, endpoint: &str, params: LockParams<'_>) -> Result<ZooKeeperLock, ClientError> {
        ZooKeeperLock::connect(endpoint, params.op_timeout, params.ttl, params.prefix).await
    }
}

/// The ephemeral-sequential lock recipe: each contender creates
/// `<prefix>-lock/lock-<seq>`, the lowest sequence holds the lock, the others
/// watch their predecessor. The session timeout is the lease; the sequence
/// number is the fencing token.
pub struct ZooKeeperLock {
    client: Client,
    dir: String,
    mine: Option<String>,
}

impl ZooKeeperLock {
    /// A session of `ttl` to `endpoint` (host:port, the process's proxy).
    async fn connect(
        endpoint: &str,
        timeout: Duration,
        ttl: Duration,
        prefix: &str,
    ) -> Result<ZooKeeperLock, ClientError> {
        let client = Client::connector()
            .with_server_version(OLDEST.0, OLDEST.1, OLDEST.2)
            .with_session_timeout(ttl)
            .with_connection_timeout(timeout)
            .connect(endpoint)
            .await
            .map_err(|e| ClientError {
                definite: true,
                message: format!("zookeeper session to {endpoint}: {e}"),
            })?;
        let dir = format!("/{}-lock", prefix.replace('/', "-"));
        match client
            .create(&dir, b"", &CreateMode::Persistent.with_acls(Acls::anyone_all()))
            .await
        {
            Ok(_) | Err(Error::NodeExists) => {}
            Err(e) => return Err(error(e)),
        }
        Ok(ZooKeeperLock {
            client,
            dir,
            mine: None,
        })
    }
}

impl Lock for ZooKeeperLock {
    /// Joins the queue and waits until first in it; returns the token.
    async fn acquire(&mut self) -> Result<i64, ClientError> {
        let opts = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
        let (_, seq) = self
            .client
            .create(&format!("{}/lock-", self.dir), b"", &opts)
            .await
            .map_err(error)?;
        let token = seq.into_i64();
        let me = format!("lock-{seq}");
        self.mine = Some(format!("{}/{me}", self.dir));
        loop {
            let mut queue = self.client.list_children(&self.dir).await.map_err(error)?;
            queue.sort();
            let Some(at) = queue.iter().position(|c| *c == me) else {
                // our node is gone: the session expired while we waited
                return Err(ClientError::maybe("lock node vanished (session expired)".into()));
            };
            if at == 0 {
                return Ok(token);
            }
            let before = format!("{}/{}", self.dir, queue[at - 1]);
            if let (Some(_), watcher) = self.client.check_and_watch_stat(&before).await.map_err(error)? {
                watcher.changed().await;
            }
        }
    }

    async fn release(&mut self) -> Result<(), ClientError> {
        match self.mine.take() {
            Some(path) => match self.client.delete(&path, None).await {
                Ok(()) | Err(Error::NoNode) => Ok(()),
                Err(e) => Err(error(e)),
            },
            None => Ok(()),
        }
    }

    /// Connected: once disconnected the session may expire unseen (Curator's
    /// recipes suspend leadership then too).
    fn held(&self) -> bool {
        self.mine.is_some() && self.client.state() == zookeeper_client::SessionState::SyncConnected
    }
}
