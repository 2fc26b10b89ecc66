//! A TCP forwarder between one client process and its node that can be frozen:
//! the `client-pause` fault. Frozen, it moves no bytes either way, so the
//! server hears nothing from that client (no lease keep-alive, no session ping,
//! no TTL renewal) and the client hears nothing back: from both ends it looks
//! like a process stopped in a long GC pause, whatever the client library does
//! in the background.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::error::Error;

pub struct Proxy {
    /// Where the client connects instead of the node (on loopback).
    pub addr: SocketAddr,
    frozen: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `to`.
    pub async fn start(to: SocketAddr) -> Result<Proxy, Error> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(Error::Proxy)?;
        let addr = listener.local_addr().map_err(Error::Io)?;
        let (frozen, rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            // dropped with the accept loop, so aborting it ends every connection
            let mut pumps = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let Ok(node) = TcpStream::connect(to).await else {
                    continue;
                };
                let _ = (client.set_nodelay(true), node.set_nodelay(true));
                let (cr, cw) = client.into_split();
                let (nr, nw) = node.into_split();
                pumps.spawn(pump(cr, nw, rx.clone()));
                pumps.spawn(pump(nr, cw, rx.clone()));
                while pumps.try_join_next().is_some() {}
            }
        });
        Ok(Proxy { addr, frozen, task })
    }

    /// Freezes (true) or thaws (false) every connection through this proxy.
    pub fn freeze(&self, on: bool) {
        self.frozen.send_replace(on);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies one direction, holding bytes while frozen.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if frozen.wait_for(|f| !*f).await.is_err() {
            break;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if frozen.wait_for(|f| !*f).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn forwards_and_holds_bytes_while_frozen() {
        let echo = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let to = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut buf = [0u8; 64];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        let proxy = Proxy::start(to).await.unwrap();
        let mut c = TcpStream::connect(proxy.addr).await.unwrap();
        let mut buf = [0u8; 4];
        c.write_all(b"ping").await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");

        proxy.freeze(true);
        c.write_all(b"late").await.unwrap();
        let held = tokio::time::timeout(Duration::from_millis(300), c.read_exact(&mut buf)).await;
        assert!(held.is_err(), "bytes moved while frozen");
        proxy.freeze(false);
        tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut buf))
            .await
            .expect("bytes held while frozen arrive after the thaw")
            .unwrap();
        assert_eq!(&buf, b"late");
    }
}
