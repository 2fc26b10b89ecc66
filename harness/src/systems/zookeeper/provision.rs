//! Which ZooKeeper a run gets: bookworm's 3.8.0 or trixie's 3.9.3, installed or
//! fetched into the cache, run with the machine's Java.

use std::path::{Path, PathBuf};

use crate::provision::{Binary, cache_dir, fetched_once};

pub const VERSIONS: &[&str] = &["3.9.3", "3.8.0"];

/// A runnable ZooKeeper: the java that runs it (with ZooKeeper's version), and
/// the classpath of its server.
#[derive(Clone, Debug)]
pub struct Install {
    pub java: Binary,
    pub classpath: String,
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
            java: Binary {
                path: java,
                version: "3.8.0".into(),
            },
            classpath: "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar".into(),
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
    let jars = fetched_once(&cache_dir(), "zookeeper", version, suite, &packages, "usr/share/java")?;
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
        java: Binary {
            path: java,
            version: version.into(),
        },
        classpath: cp.join(":"),
    })
}
