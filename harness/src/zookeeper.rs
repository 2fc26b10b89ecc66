//! ZooKeeper automation: provisioning (bookworm's 3.8 or trixie's 3.9.3, installed or
//! fetched into the cache), each server's zoo.cfg and java command line, readiness
//! through `srvr`.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use workloads::zookeeper::PORT;

use crate::provision::{cache_dir, fetch_debs};

pub const VERSIONS: &[&str] = &["3.9.3", "3.8.0"];

/// A runnable ZooKeeper: the classpath of its server, and the java to run it.
#[derive(Clone, Debug)]
pub struct Install {
    pub version: String,
    pub classpath: String,
    pub java: PathBuf,
}

fn java() -> Result<PathBuf, String> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("java"))
        .find(|p| p.is_file())
        .ok_or_else(|| "ZooKeeper needs Java: run `apt-get install default-jre-headless`".to_string())
}

/// `version` or, by default, the newest that can be had.
pub fn provision(version: Option<&str>) -> Result<Install, String> {
    let java = java()?;
    match version {
        Some(v) if !VERSIONS.contains(&v) => Err(format!(
            "zookeeper version {v} is not provisioned by splitbrain; use --version {}",
            VERSIONS.join(" or ")
        )),
        Some("3.8.0") => bookworm(java),
        Some(_) => trixie(java),
        None => trixie(java.clone()).or_else(|fetch| {
            bookworm(java).map_err(|_| format!("no zookeeper available: {fetch}; or run `apt-get install zookeeper`"))
        }),
    }
}

/// Bookworm's 3.8.0: the installed `zookeeper` package, else its jars fetched into the cache.
fn bookworm(java: PathBuf) -> Result<Install, String> {
    let jar = Path::new("/usr/share/java/zookeeper.jar");
    if jar.is_file() {
        // the jar's manifest names its dependencies by absolute path; slf4j-simple sends logs to stderr
        return Ok(Install {
            version: "3.8.0".into(),
            classpath: "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar".into(),
            java,
        });
    }
    fetched(java, "3.8.0", "bookworm")
}

fn trixie(java: PathBuf) -> Result<Install, String> {
    fetched(java, "3.9.3", "trixie")
}

/// The server jars of `suite`'s ZooKeeper (`version`) and what it loads, unpacked
/// into `$CACHE/zookeeper/<version>/`; fetched once.
fn fetched(java: PathBuf, version: &str, suite: &str) -> Result<Install, String> {
    let home = cache_dir().join("zookeeper").join(version);
    let jars = home.join("usr/share/java");
    if !jars.join("zookeeper.jar").is_file() {
        eprintln!(
            "splitbrain: fetching zookeeper {version} from Debian {suite} into {}",
            home.display()
        );
        let packages: Vec<String> = [
            "libzookeeper-java",
            "libslf4j-java",
            "libdropwizard-metrics-java",
            "libsnappy-java",
        ]
        .iter()
        .map(|p| format!("{p}/{suite}"))
        .collect();
        let packages: Vec<&str> = packages.iter().map(String::as_str).collect();
        fetch_debs(&cache_dir(), suite, &packages, &home)?;
    }
    // zookeeper.jar last: its manifest's absolute /usr/share/java entries must not shadow these
    let cp: Vec<String> = [
        "zookeeper-jute",
        "slf4j-api",
        "slf4j-simple",
        "metrics-core",
        "snappy-java",
        "zookeeper",
    ]
    .iter()
    .map(|j| jars.join(format!("{j}.jar")).display().to_string())
    .collect();
    Ok(Install {
        version: version.into(),
        classpath: cp.join(":"),
        java,
    })
}

/// Writes server `me`'s zoo.cfg and myid under `data_dir`; returns its argv.
pub fn argv(
    install: &Install,
    me: usize,
    members: &[(String, Ipv4Addr)],
    data_dir: &Path,
) -> Result<Vec<String>, String> {
    let data = data_dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    std::fs::write(data.join("myid"), format!("{}\n", me + 1)).map_err(|e| e.to_string())?;
    let servers: String = members
        .iter()
        .enumerate()
        .map(|(i, (_, ip))| format!("server.{}={ip}:2888:3888\n", i + 1))
        .collect();
    // fast elections and sessions for tests: a tick of 200 ms
    let cfg = format!(
        "tickTime=200\ninitLimit=20\nsyncLimit=8\ndataDir={}\nclientPort={PORT}\nclientPortAddress={}\n{servers}\
         standaloneEnabled=false\nreconfigEnabled=false\nadmin.enableServer=false\n\
         4lw.commands.whitelist=srvr,mntr,ruok\nminSessionTimeout=1000\nmaxSessionTimeout=10000\n\
         autopurge.purgeInterval=0\npreAllocSize=1024\nsnapCount=10000\ncnxTimeout=500\n",
        data.display(),
        members[me].1
    );
    let path = data_dir.join("zoo.cfg");
    std::fs::write(&path, cfg).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok([
        install.java.display().to_string(),
        "-Xmx128m".into(),
        "-Xms32m".into(),
        "-XX:+UseSerialGC".into(),
        "-XX:TieredStopAtLevel=1".into(),
        "-XX:-UsePerfData".into(),
        "-Djava.net.preferIPv4Stack=true".into(),
        "-Dorg.slf4j.simpleLogger.showDateTime=true".into(),
        "-cp".into(),
        install.classpath.clone(),
        "org.apache.zookeeper.server.quorum.QuorumPeerMain".into(),
        path.display().to_string(),
    ]
    .into())
}

/// A four-letter word's answer, or why there was none.
async fn four_letter(ip: Ipv4Addr, word: &str) -> Result<String, String> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect((ip, PORT)).await?;
        s.write_all(word.as_bytes()).await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    match tokio::time::timeout(Duration::from_secs(1), exchange).await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(format!("{ip}: {e}")),
        Err(_) => Err(format!("{ip}: no answer to {word} within 1 s")),
    }
}

/// Each server's mode (leader, follower), or why it is not serving.
async fn modes(ips: &[Ipv4Addr]) -> Vec<Result<String, String>> {
    let mut out = Vec::new();
    for ip in ips {
        out.push(four_letter(*ip, "srvr").await.and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("Mode: "))
                .map(str::to_string)
                .ok_or_else(|| format!("{ip}: {}", text.lines().next().unwrap_or("not serving")))
        }));
    }
    out
}

/// Waits until every server serves and exactly one leads.
pub async fn wait_ready(ips: &[Ipv4Addr], within: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let m = modes(ips).await;
        let leaders = m.iter().filter(|r| matches!(r, Ok(x) if x == "leader")).count();
        if m.iter().all(|r| r.is_ok()) && leaders == 1 {
            return Ok(start.elapsed());
        }
        if start.elapsed() > within {
            let why: Vec<String> = m.into_iter().map(|r| r.unwrap_or_else(|e| e)).collect();
            return Err(format!(
                "zookeeper not ready after {} s: {}",
                within.as_secs(),
                why.join("; ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub async fn leader(ips: &[Ipv4Addr]) -> Option<usize> {
    modes(ips)
        .await
        .iter()
        .position(|m| matches!(m, Ok(x) if x == "leader"))
}
