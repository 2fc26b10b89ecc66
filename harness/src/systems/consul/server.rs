//! Consul server agents: each one's config and command line (they bootstrap
//! from each other), readiness (a leader and every server a raft peer), the leader.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use super::PORT;
use crate::provision::Binary;
use crate::systems::{Db, NodeSpec, per_node, wait_until};

/// A provisioned Consul.
pub struct ConsulDb(pub Binary);

impl Db for ConsulDb {
    fn installed(&self) -> &Binary {
        &self.0
    }

    fn argv(&self, node: &NodeSpec) -> Result<Vec<String>, String> {
        argv(&self.0.path, node)
    }

    /// Every agent sees the same leader and all servers as raft peers.
    async fn wait_ready(&self, ips: &[Ipv4Addr], within: Duration) -> Result<Duration, String> {
        wait_until("consul", within, || async {
            let v = views(ips).await;
            let ok: Vec<&(String, usize)> = v.iter().filter_map(|r| r.as_ref().ok()).collect();
            if ok.len() == ips.len() && !ok[0].0.is_empty() && ok.iter().all(|(l, p)| *l == ok[0].0 && *p == ips.len())
            {
                return Ok(());
            }
            Err(v
                .into_iter()
                .map(|r| match r {
                    Ok((l, p)) if l.is_empty() => format!("no leader, {p} peers"),
                    Ok((l, p)) => format!("leader {l}, {p} peers"),
                    Err(e) => e,
                })
                .collect())
        })
        .await
    }

    async fn leader(&self, ips: &[Ipv4Addr]) -> Option<usize> {
        let v = views(ips).await;
        let leader = v
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|(l, _)| l.clone())
            .find(|l| !l.is_empty())?;
        ips.iter().position(|ip| leader.starts_with(&format!("{ip}:")))
    }

    /// Each agent's raft peers (`/v1/status/peers`).
    async fn members(&self, ips: &[Ipv4Addr]) -> Vec<Result<Vec<Ipv4Addr>, String>> {
        per_node(ips, |ip| async move {
            let peers = get(ip, "/v1/status/peers").await?;
            Ok(peers
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str()?.split(':').next()?.parse().ok())
                .collect())
        })
        .await
    }

    /// `consul snapshot save`: `GET /v1/snapshot` from the agent at `ip`.
    async fn snapshot(&self, ip: Ipv4Addr, _data_dir: &Path, out: &Path) -> Result<u64, String> {
        let (status, body) = fetch(ip, "/v1/snapshot", Duration::from_secs(30)).await?;
        if !status.is_success() {
            return Err(format!("{ip}: GET /v1/snapshot: {status}"));
        }
        std::fs::write(out, &body).map_err(|e| format!("{}: {e}", out.display()))?;
        Ok(body.len() as u64)
    }

    /// `applied_index` of the agent's raft stats (`consul info`).
    async fn applied(&self, ip: Ipv4Addr) -> Option<u64> {
        let me = get(ip, "/v1/agent/self").await.ok()?;
        me["Stats"]["raft"]["applied_index"].as_str()?.parse().ok()
    }

    /// `consul leave` on the member: it leaves the peers gracefully and exits.
    async fn remove_member(&self, ips: &[Ipv4Addr], node: usize) -> Result<(), String> {
        self.leave(ips[node]).await
    }

    /// Nothing to announce: a server with an empty data dir joins through its
    /// `-retry-join`s, and autopilot makes it a voter once it is stable.
    async fn add_member(&self, _ips: &[Ipv4Addr], _node: usize) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }

    /// `consul leave`: `PUT /v1/agent/leave` on the agent itself.
    async fn leave(&self, ip: Ipv4Addr) -> Result<(), String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let resp = match http.put(format!("http://{ip}:{PORT}/v1/agent/leave")).send().await {
            Ok(resp) => resp,
            Err(e) => {
                // the agent may shut down before it answers: gone is what was asked
                for _ in 0..20 {
                    if get(ip, "/v1/agent/self").await.is_err() {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                return Err(format!("{ip}: consul leave: {e}"));
            }
        };
        match resp.status() {
            s if s.is_success() => Ok(()),
            s => Err(format!("{ip}: consul leave: {s}")),
        }
    }

    async fn node_version(&self, ip: Ipv4Addr) -> Option<(String, Option<String>)> {
        let me = get(ip, "/v1/agent/self").await.ok()?;
        Some((me["Config"]["Version"].as_str()?.to_string(), None))
    }

    fn runbook_env(&self) -> Result<Vec<(String, String)>, String> {
        Ok(vec![
            ("CONSUL".into(), self.0.path.display().to_string()),
            ("HTTP_PORT".into(), PORT.to_string()),
            ("SERVER_PORT".into(), "8300".into()),
        ])
    }
}

/// Writes agent `node`'s config under its data dir; returns its argv.
fn argv(binary: &Path, node: &NodeSpec) -> Result<Vec<String>, String> {
    let NodeSpec {
        me, members, data_dir, ..
    } = *node;
    let (name, ip) = &members[me];
    std::fs::create_dir_all(data_dir.join("data")).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    // no update checks, no DNS/gRPC/HTTPS, fastest raft timing, and a node id of
    // its own (all agents share one host)
    let config = data_dir.join("splitbrain.json");
    std::fs::write(
        &config,
        r#"{"disable_update_check": true, "disable_host_node_id": true, "disable_remote_exec": true,
"performance": {"raft_multiplier": 1}, "ports": {"dns": -1, "grpc": -1, "https": -1},
"ui": false, "leave_on_terminate": false, "skip_leave_on_interrupt": true, "log_level": "INFO"}
"#,
    )
    .map_err(|e| format!("{}: {e}", config.display()))?;
    let mut argv = vec![
        binary.display().to_string(),
        "agent".into(),
        "-server".into(),
        format!("-bootstrap-expect={}", members.len()),
        format!("-node={name}"),
        format!("-bind={ip}"),
        format!("-advertise={ip}"),
        format!("-client={ip}"),
        format!("-data-dir={}", data_dir.join("data").display()),
        format!("-config-file={}", config.display()),
    ];
    argv.extend(
        members
            .iter()
            .filter(|(n, _)| n != name)
            .map(|(_, peer)| format!("-retry-join={peer}")),
    );
    Ok(argv)
}

/// `GET path` from the agent at `ip` within `within`: its status and body.
async fn fetch(ip: Ipv4Addr, path: &str, within: Duration) -> Result<(reqwest::StatusCode, Vec<u8>), String> {
    let http = reqwest::Client::builder()
        .timeout(within)
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let resp = http
        .get(format!("http://{ip}:{PORT}{path}"))
        .send()
        .await
        .map_err(|e| format!("{ip}: {e}"))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| format!("{ip}: {e}"))?;
    Ok((status, body.to_vec()))
}

async fn get(ip: Ipv4Addr, path: &str) -> Result<serde_json::Value, String> {
    let (_, body) = fetch(ip, path, Duration::from_secs(1)).await?;
    serde_json::from_slice(&body).map_err(|e| format!("{ip}{path}: {e}"))
}

/// Each agent's view: (leader address, raft peers), or why it did not answer.
async fn views(ips: &[Ipv4Addr]) -> Vec<Result<(String, usize), String>> {
    per_node(ips, |ip| async move {
        let leader = get(ip, "/v1/status/leader").await?.as_str().unwrap_or("").to_string();
        let peers = get(ip, "/v1/status/peers").await?.as_array().map_or(0, Vec::len);
        Ok((leader, peers))
    })
    .await
}
