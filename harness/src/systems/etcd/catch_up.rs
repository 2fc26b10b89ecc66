//! A member's catch-up by snapshot on etcd (`--nemesis isolate-until-snapshot`).
//!
//! etcd's leader snapshots once it has applied `--snapshot-count` entries past
//! its last snapshot, then compacts its raft log to the snapshot index less the
//! entries it keeps for slow followers (`--experimental-snapshot-catchup-entries`
//! on 3.5; 3.3 and 3.4 have no flag and keep 5000). A follower that needs an
//! entry older than that can only be sent a snapshot. So the filler writes go on
//! until the leader's applied index is past the member's plus both, plus a
//! margin, and until the leader's log says it compacted past the member: for
//! 30 s after it sent a snapshot, etcd skips compaction (`skip compaction since
//! there is an inflight snapshot`), and a member cut off then still catches up
//! by entries. The member then says it applied the snapshot in its metrics (a
//! snapshot received, `etcd_network_snapshot_receive_success`, none being
//! applied, `etcd_server_snapshot_apply_in_progress_total`, on every version
//! here) and its log (see [`APPLIED`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use etcd_client::Client;
use nemeses::catch_up::{Applied, CatchUp, Filled};

use super::PORT;
use super::server::{ask, client, endpoint};
use crate::provision::Binary;
use crate::systems::CatchUpSpec;

/// Entries the leader keeps for followers where splitbrain sets them: few, so
/// that a cut of a second or two already needs a snapshot.
const KEEP: u64 = 100;
/// What etcd keeps where no flag sets it (its `DefaultSnapshotCatchUpEntries`).
const ETCD_KEEPS: u64 = 5000;
/// etcd's `--snapshot-count` when none is given (3.3 to 3.5).
const ETCD_SNAPSHOT_COUNT: u64 = 100_000;
/// Entries past the sum, and past the member in the leader's compaction: a
/// follower's log may hold a batch more than it knows committed.
const MARGIN: u64 = 500;
/// Concurrent filler writers, each overwriting a key of its own.
const WRITERS: usize = 8;
/// How each version's log says the member applied an incoming snapshot: the
/// zap logger's message at the end of the apply (3.4, 3.5), capnslog's (3.3).
const APPLIED: [&str; 2] = ["\"msg\":\"applied snapshot\"", "finished applying incoming snapshot"];
/// How the leader's log says it compacted its raft log, the index following:
/// zap (3.4, 3.5), capnslog (3.3).
const COMPACTED: [&str; 2] = [
    "\"msg\":\"compacted Raft logs\",\"compact-index\":",
    "compacted raft log at ",
];
/// What the leader logs where it holds its log for a snapshot in flight.
const HELD: &str = "skip compaction since there is an inflight snapshot";

/// Whether `version` takes `--experimental-snapshot-catchup-entries`: 3.5
/// does (its `--help` does not list it); 3.3 and 3.4 exit with `flag provided
/// but not defined`.
pub fn takes_catch_up_flag(version: &str) -> bool {
    version.starts_with("3.5.")
}

/// The flag as members of such a run start with it.
pub fn catch_up_flag() -> String {
    format!("--experimental-snapshot-catchup-entries={KEEP}")
}

/// How the run's members are configured for it, for the run's notes.
pub fn note() -> String {
    format!(
        "members keep {KEEP} entries for lagging followers where their version takes \
         --experimental-snapshot-catchup-entries (3.5), {ETCD_KEEPS} elsewhere"
    )
}

/// One catch-up: what it noted before the cut, and the leader's applied index
/// once the writes stopped.
pub struct EtcdCatchUp {
    spec: CatchUpSpec,
    /// Entries the leader keeps for followers, and where that number comes from.
    keeps: (u64, &'static str),
    snapshot_count: u64,
    /// Snapshots the member had received before the cut.
    received: u64,
    /// What each log says after the cut.
    member_log: LogTail,
    leader_log: LogTail,
    leader_applied: u64,
}

impl EtcdCatchUp {
    /// Notes, before the cut, the member's received snapshots and where the
    /// logs end; `etcd` is the leader's build (its flags decide what it keeps).
    pub fn new(etcd: &Binary, spec: CatchUpSpec) -> Result<EtcdCatchUp, String> {
        let (received, _) =
            metrics(spec.member).ok_or_else(|| format!("{}/metrics does not answer", endpoint(spec.member)))?;
        let keeps = if spec.tuning.snapshot_catch_up && takes_catch_up_flag(&etcd.version) {
            (KEEP, "--experimental-snapshot-catchup-entries")
        } else {
            (ETCD_KEEPS, "etcd's fixed number: no flag before 3.5")
        };
        let snapshot_count = spec.tuning.snapshot_count().unwrap_or(ETCD_SNAPSHOT_COUNT);
        Ok(EtcdCatchUp {
            member_log: LogTail::at_end(spec.log.clone()),
            leader_log: LogTail::at_end(spec.leader_log.clone()),
            spec,
            keeps,
            snapshot_count,
            received,
            leader_applied: 0,
        })
    }

    /// [`CatchUp::fill`] on the run's runtime. The member's applied index is
    /// read again each round: it still applies what it held when cut.
    async fn write_until(&mut self, within: Duration, stop: &AtomicBool) -> Result<Filled, String> {
        let (member, leader) = (self.spec.member, self.spec.leader);
        let began = Instant::now();
        let c = client(&endpoint(leader), Duration::from_secs(1))
            .await
            .map_err(|e| format!("{}: {e}", endpoint(leader)))?;
        let (done, writes) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let key = format!("{}/filler/{w}", self.spec.prefix);
                tokio::spawn(write(c.clone(), key, done.clone(), writes.clone()))
            })
            .collect();
        let (mut cut_at, mut applied, mut compacted) = (None, 0, None::<(u64, String)>);
        let (mut heard, mut held) = (false, false);
        let reached = loop {
            cut_at = applied_index(member).await.or(cut_at);
            if let Some(a) = applied_index(leader).await {
                applied = a;
            }
            for line in self.leader_log.lines().unwrap_or_default() {
                heard = true;
                held |= line.contains(HELD);
                if let Some(at) = compaction(&line) {
                    compacted = Some((at, line));
                }
            }
            let Some(cut) = cut_at else {
                break Err(format!("{} gave no status once cut off", endpoint(member)));
            };
            // past the target the leader has logged a snapshot at least once: a
            // log that said nothing is not written as it goes (docker writes
            // it at the end), and the arithmetic alone decides
            let dropped = !heard || compacted.as_ref().is_some_and(|(at, _)| *at > cut + MARGIN);
            if applied > self.target(cut) && dropped {
                break Ok(());
            }
            if stop.load(Ordering::Relaxed) {
                break Err("stopped: the run ended".to_string());
            }
            if began.elapsed() > within {
                break Err(format!("gave up after {} s", within.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        done.store(true, Ordering::Relaxed);
        for w in writers {
            // each put is bounded by a second
            let _ = w.await;
        }
        self.leader_applied = applied;
        let writes = writes.load(Ordering::Relaxed);
        let cut = cut_at.unwrap_or(0);
        let why = self.why(cut);
        match reached {
            Ok(()) => Ok(Filled {
                member_applied: cut,
                target: self.target(cut),
                why,
                leader_applied: applied,
                writes,
                took: began.elapsed(),
                leader_said: compacted.map(|(_, line)| shortened(&line)),
            }),
            Err(e) => {
                let log = match compacted {
                    Some((at, _)) if at > cut + MARGIN => format!("; its log compacted at {at}"),
                    _ if !held => format!("; its log compacted nothing past {} since the cut", cut + MARGIN),
                    _ => format!(
                        "; its log compacted nothing past {} since the cut, saying `{HELD}` (etcd keeps its log for 30 s after it sent a snapshot)",
                        cut + MARGIN
                    ),
                };
                Err(format!(
                    "{e} after {writes} filler writes in {:.1} s: the leader applied {applied}, {} needed ({why}){log}",
                    began.elapsed().as_secs_f64(),
                    self.target(cut)
                ))
            }
        }
    }

    /// The leader's applied index past which only a snapshot brings back a
    /// member that had applied `cut`.
    fn target(&self, cut: u64) -> u64 {
        cut + self.keeps.0 + self.snapshot_count + MARGIN
    }

    fn why(&self, cut: u64) -> String {
        format!(
            "{cut} + {} kept for followers ({}) + snapshot count {} + margin {MARGIN}",
            self.keeps.0, self.keeps.1, self.snapshot_count
        )
    }
}

impl CatchUp for EtcdCatchUp {
    fn fill(&mut self, within: Duration, stop: &AtomicBool) -> Result<Filled, String> {
        let handle = self.spec.handle.clone();
        handle.block_on(self.write_until(within, stop))
    }

    /// Applied once its log says so, or once its metrics say it received a
    /// snapshot and applies none now and it has caught up with the leader
    /// (past the leader's compacted log, which only a snapshot gets it). A
    /// member caught up with no snapshot received ends the wait at once.
    fn confirm(&mut self, within: Duration, stop: &AtomicBool) -> Result<Applied, String> {
        let began = Instant::now();
        let mut line = None;
        loop {
            if line.is_none() {
                let lines = self.member_log.lines().unwrap_or_default();
                line = lines.into_iter().find(|l| APPLIED.iter().any(|m| l.contains(m)));
            }
            // caught up first: a snapshot that got it there shows in the metrics read after
            let caught_up = self
                .spec
                .handle
                .block_on(applied_index(self.spec.member))
                .is_some_and(|a| a >= self.leader_applied);
            let (received, applying) = metrics(self.spec.member).unzip();
            let got = received.filter(|r| *r > self.received);
            let metric = format!(
                "etcd_network_snapshot_receive_success {} -> {}",
                self.received,
                received.map_or("unread".to_string(), |r| r.to_string())
            );
            if line.is_some() || (got.is_some() && applying == Some(false) && caught_up) {
                let mut evidence = vec![("metric", metric)];
                evidence.extend(line.map(|l| ("log", shortened(&l))));
                return Ok(Applied {
                    after: began.elapsed(),
                    evidence,
                });
            }
            let after = began.elapsed().as_secs_f64();
            if caught_up && received.is_some() && got.is_none() {
                return Err(format!(
                    "it caught up by log entries {after:.1} s after the heal, no snapshot received ({metric}): the leader still held them"
                ));
            }
            let ended = stop.load(Ordering::Relaxed);
            if ended || began.elapsed() > within {
                let when = if ended {
                    format!("the run ended {after:.1} s after the heal")
                } else {
                    format!("{} s after the heal", within.as_secs())
                };
                let what = if got.is_some() { "a snapshot" } else { "no snapshot" };
                return Err(format!(
                    "{when}: it had received {what} ({metric}), and its log says none applied"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A node's log read from where it ended when the catch-up began, complete
/// lines only, each once.
struct LogTail {
    path: PathBuf,
    at: u64,
}

impl LogTail {
    fn at_end(path: PathBuf) -> LogTail {
        let at = std::fs::metadata(&path).map_or(0, |m| m.len());
        LogTail { path, at }
    }

    /// The lines written since the last read (at most 8 MiB of them); `None`
    /// while there is no log to read.
    fn lines(&mut self) -> Option<Vec<String>> {
        let mut f = File::open(&self.path).ok()?;
        f.seek(SeekFrom::Start(self.at)).ok()?;
        let mut text = Vec::new();
        f.take(8 << 20).read_to_end(&mut text).ok()?;
        let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.at += complete as u64;
        Some(
            String::from_utf8_lossy(&text[..complete])
                .lines()
                .map(str::to_string)
                .collect(),
        )
    }
}

/// The index a compaction line names.
fn compaction(line: &str) -> Option<u64> {
    let (_, rest) = COMPACTED.iter().find_map(|m| line.split_once(m))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// At most 300 bytes of a log line, for the history.
fn shortened(line: &str) -> String {
    let mut end = line.len().min(300);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_string()
}

/// Puts small values to `key` until `done`, counting those acknowledged.
async fn write(mut c: Client, key: String, done: Arc<AtomicBool>, writes: Arc<AtomicU64>) {
    let mut n = 0u64;
    while !done.load(Ordering::Relaxed) {
        n += 1;
        match tokio::time::timeout(Duration::from_secs(1), c.put(key.as_str(), n.to_string(), None)).await {
            Ok(Ok(_)) => {
                writes.fetch_add(1, Ordering::Relaxed);
            }
            // refused or slow: the leader's applied index decides when it is enough
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// How far the member at `ip` has applied its log: `raft_applied_index` in
/// its status from 3.4, `raft_index` on 3.3 (which has no applied index).
async fn applied_index(ip: Ipv4Addr) -> Option<u64> {
    let s = ask(ip, async |c| c.status().await).await.ok()?;
    Some(match s.raft_applied_index() {
        0 => s.raft_index(),
        applied => applied,
    })
}

/// The member's snapshots received (summed over the peers they came from;
/// etcd lists none before the first), and whether it is applying one now.
fn metrics(ip: Ipv4Addr) -> Option<(u64, bool)> {
    let (_, body) = crate::systems::http_get(ip, PORT, "/metrics", Duration::from_secs(1))?;
    Some(parse_metrics(&body))
}

fn parse_metrics(body: &str) -> (u64, bool) {
    let value = |l: &str| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let mut received = 0.0;
    let mut applying = false;
    for l in body.lines() {
        if l.starts_with("etcd_network_snapshot_receive_success{")
            || l.starts_with("etcd_network_snapshot_receive_success ")
        {
            received += value(l);
        } else if l.starts_with("etcd_server_snapshot_apply_in_progress_total ") {
            applying = value(l) > 0.0;
        }
    }
    (received as u64, applying)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_sum_the_snapshots_received_from_every_peer() {
        let body = "# HELP etcd_network_snapshot_receive_success Total number of successful snapshot receives\n\
                    etcd_network_snapshot_receive_success{From=\"8e9e05c52164694d\"} 1\n\
                    etcd_network_snapshot_receive_success{From=\"91bc3c398fb3c146\"} 2\n\
                    etcd_network_snapshot_receive_success_bytes 9\n\
                    etcd_server_snapshot_apply_in_progress_total 0\n";
        assert_eq!(parse_metrics(body), (3, false));
        assert_eq!(
            parse_metrics("etcd_server_snapshot_apply_in_progress_total 1\n"),
            (0, true)
        );
    }

    #[test]
    fn compaction_lines_of_each_logger() {
        let zap = r#"{"level":"info","ts":"2026-12-07T12:31:21.379874Z","caller":"etcdserver/server.go:2523","msg":"compacted Raft logs","compact-index":901}"#;
        assert_eq!(compaction(zap), Some(901));
        let capnslog = "2026-12-07 12:31:21.379874 I | etcdserver: compacted raft log at 1902";
        assert_eq!(compaction(capnslog), Some(1902));
        assert_eq!(compaction(HELD), None);
    }

    #[test]
    fn only_3_5_takes_the_catch_up_flag() {
        assert!(takes_catch_up_flag("3.5.16"));
        assert!(!takes_catch_up_flag("3.4.23") && !takes_catch_up_flag("3.3.25"));
    }
}
