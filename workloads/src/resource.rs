//! The resource a lock protects: a counter behind a small TCP service that the
//! harness runs in a namespace of its own (so a partition can cut it off too).
//!
//! Each critical section reads the counter and writes it back plus one, so a
//! lost update shows as a write that does not follow the one before it. The
//! service numbers the writes it accepts (`seq`), which gives the checker the
//! resource's own order of accepted writes.
//!
//! A *fenced* resource remembers the highest token it has seen and rejects any
//! read or write that carries a lower one. Fencing writes alone is not enough for
//! read-modify-write: holder A (token 5) reads, B (token 6) reads, A writes, B
//! writes, and A's update is lost although every write carried the newest token
//! seen so far by the writes. Fencing the read too makes A's write stale once B
//! has read.
//!
//! Protocol, one line each way: `read T` -> `ok V` | `stale MAX`;
//! `write T V` -> `ok SEQ` | `stale MAX`; `T` is a token or `-` (no token: the
//! final read, never rejected).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::error::Error;

/// The port the service listens on, in its namespace.
pub const PORT: u16 = 7000;

#[derive(Debug, Default)]
struct Counter {
    value: i64,
    /// Highest token seen (fenced mode only).
    max: Option<i64>,
    /// Writes accepted so far.
    seq: u64,
}

/// What the service answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A read's value, or an accepted write's seq.
    Ok(i64),
    /// Rejected: the request's token is below this one.
    Stale(i64),
}

impl Counter {
    /// Fenced: a token below the highest seen is stale; any other raises it.
    fn admit(&mut self, fenced: bool, token: Option<i64>) -> Result<(), i64> {
        match (fenced, token, self.max) {
            (true, Some(t), Some(max)) if t < max => Err(max),
            (true, Some(t), _) => {
                self.max = Some(self.max.map_or(t, |m| m.max(t)));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn answer(&mut self, fenced: bool, line: &str) -> Result<Answer, String> {
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or("");
        let token = match words.next() {
            Some("-") => None,
            Some(t) => Some(t.parse::<i64>().map_err(|_| format!("bad token {t:?}"))?),
            None => return Err("missing token".into()),
        };
        match verb {
            "read" => Ok(match self.admit(fenced, token) {
                Ok(()) => Answer::Ok(self.value),
                Err(max) => Answer::Stale(max),
            }),
            "write" => {
                let value = words
                    .next()
                    .and_then(|v| v.parse::<i64>().ok())
                    .ok_or("write needs a value")?;
                Ok(match self.admit(fenced, token) {
                    Ok(()) => {
                        self.value = value;
                        self.seq += 1;
                        Answer::Ok(self.seq as i64)
                    }
                    Err(max) => Answer::Stale(max),
                })
            }
            other => Err(format!("unknown request {other:?}")),
        }
    }
}

/// Serves the resource on `addr` until the process is killed, logging each
/// accepted write to stdout (the node log) for a person to follow.
pub async fn serve(addr: SocketAddr, fenced: bool) -> Result<(), Error> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|error| Error::Listen { addr, error })?;
    println!("resource on {addr}, {}", if fenced { "fenced" } else { "naive" });
    let counter = Arc::new(Mutex::new(Counter::default()));
    loop {
        let (stream, _) = listener.accept().await.map_err(Error::Io)?;
        let counter = counter.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let answer = counter.lock().expect("counter").answer(fenced, &line);
                let reply = match answer {
                    Ok(Answer::Ok(v)) => format!("ok {v}\n"),
                    Ok(Answer::Stale(max)) => format!("stale {max}\n"),
                    Err(e) => format!("error {e}\n"),
                };
                if line.starts_with("write") {
                    println!("{line} -> {}", reply.trim());
                }
                if write.write_all(reply.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// One process's connection to the resource.
pub struct Resource {
    lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl Resource {
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Resource, Error> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| Error::ConnectTimeout(addr))?
            .map_err(|error| Error::Connect { addr, error })?;
        stream.set_nodelay(true).map_err(Error::Io)?;
        let (read, write) = stream.into_split();
        Ok(Resource {
            lines: BufReader::new(read).lines(),
            write,
        })
    }

    /// Sends one request. Err: no answer (the outcome of a write is then unknown).
    async fn request(&mut self, line: String) -> Result<Answer, Error> {
        self.write.write_all(line.as_bytes()).await.map_err(Error::Io)?;
        let reply = self.lines.next_line().await.map_err(Error::Io)?.ok_or(Error::Closed)?;
        let unknown = || Error::Reply(reply.clone());
        let (word, n) = reply.split_once(' ').ok_or_else(unknown)?;
        let n: i64 = n.parse().map_err(|_| unknown())?;
        match word {
            "ok" => Ok(Answer::Ok(n)),
            "stale" => Ok(Answer::Stale(n)),
            _ => Err(unknown()),
        }
    }

    pub async fn read(&mut self, token: Option<i64>) -> Result<Answer, Error> {
        self.request(format!("read {}\n", word(token))).await
    }

    pub async fn write(&mut self, token: Option<i64>, value: i64) -> Result<Answer, Error> {
        self.request(format!("write {} {value}\n", word(token))).await
    }
}

fn word(token: Option<i64>) -> String {
    token.map_or_else(|| "-".to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(c: &mut Counter, fenced: bool, line: &str) -> Answer {
        c.answer(fenced, line).unwrap()
    }

    #[test]
    fn naive_accepts_a_stale_write_and_loses_an_update() {
        let mut c = Counter::default();
        assert_eq!(ask(&mut c, false, "read 5"), Answer::Ok(0));
        assert_eq!(ask(&mut c, false, "read 6"), Answer::Ok(0));
        assert_eq!(ask(&mut c, false, "write 6 1"), Answer::Ok(1));
        assert_eq!(ask(&mut c, false, "write 5 1"), Answer::Ok(2));
        assert_eq!(ask(&mut c, false, "read -"), Answer::Ok(1));
    }

    #[test]
    fn fenced_rejects_reads_and_writes_below_the_highest_token() {
        let mut c = Counter::default();
        assert_eq!(ask(&mut c, true, "read 5"), Answer::Ok(0));
        assert_eq!(ask(&mut c, true, "read 6"), Answer::Ok(0));
        assert_eq!(ask(&mut c, true, "write 5 1"), Answer::Stale(6));
        assert_eq!(ask(&mut c, true, "write 6 1"), Answer::Ok(1));
        assert_eq!(ask(&mut c, true, "read 5"), Answer::Stale(6));
        // the same holder may write after its own read; no token is never fenced
        assert_eq!(ask(&mut c, true, "write 6 2"), Answer::Ok(2));
        assert_eq!(ask(&mut c, true, "read -"), Answer::Ok(2));
    }

    #[test]
    fn bad_requests_are_errors_not_panics() {
        let mut c = Counter::default();
        for line in ["", "read", "read x", "write 1", "write 1 x", "frob 1"] {
            assert!(c.answer(true, line).is_err(), "{line:?}");
        }
    }

    #[tokio::test]
    async fn serves_over_tcp() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let server = tokio::spawn(serve(addr, true));
        let mut connected = None;
        for _ in 0..500 {
            if let Ok(r) = Resource::connect(addr, Duration::from_secs(1)).await {
                connected = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut r = connected.expect("the resource service listens within 5 s");
        assert_eq!(r.read(Some(3)).await.unwrap(), Answer::Ok(0));
        assert_eq!(r.write(Some(3), 1).await.unwrap(), Answer::Ok(1));
        assert_eq!(r.write(Some(2), 2).await.unwrap(), Answer::Stale(3));
        assert_eq!(r.read(None).await.unwrap(), Answer::Ok(1));
        server.abort();
    }
}
