//! Which ZooKeeper a run gets: bookworm's 3.8.0, trixie's 3.9.3 or bullseye's
//! 3.4.13, installed or fetched into the cache, run with the machine's Java.

use std::path::{Path, PathBuf};

use crate::provision::{Binary, cache_dir, fetched_once};
use crate::systems::{Provided, version_list};

pub const VERSIONS: &[Provided] = &[
    Provided {
        version: "3.9.3",
        suite: "trixie",
        installed: None,
        upgrades_to: None,
    },
    Provided {
        version: "3.8.0",
        suite: "bookworm",
        installed: Some(INSTALLED_JAR),
        upgrades_to: Some("3.9.3"),
    },
    Provided {
        version: "3.4.13",
        suite: "bullseye",
        installed: None,
        upgrades_to: None,
    },
];

/// Where bookworm's `zookeeper` package puts its jar.
const INSTALLED_JAR: &str = "/usr/share/java/zookeeper.jar";

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
        Some(v) if !VERSIONS.iter().any(|p| p.version == v) => Err(format!(
            "zookeeper version {v} is not provisioned by splitbrain; use --version {}",
            version_list(VERSIONS)
        )),
        Some("3.8.0") => bookworm(java),
        Some("3.4.13") => fetched(java, "3.4.13", "bullseye"),
        Some(_) => trixie(java),
        None => trixie(java.clone()).or_else(|fetch| {
            bookworm(java).map_err(|_| format!("no zookeeper available: {fetch}; or run `apt-get install zookeeper`"))
        }),
    }
}

/// Bookworm's 3.8.0: the installed `zookeeper` package, else its jars fetched into the cache.
fn bookworm(java: PathBuf) -> Result<Install, String> {
    let jar = Path::new(INSTALLED_JAR);
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
    // 3.4 logs through log4j 1.2 and has no metrics
    let packages: &[&str] = if version.starts_with("3.4.") {
        &["libzookeeper-java", "libslf4j-java", "liblog4j1.2-java"]
    } else {
        &[
            "libzookeeper-java",
            "libslf4j-java",
            "libdropwizard-metrics-java",
            "libsnappy-java",
        ]
    };
    let packages: Vec<String> = packages.iter().map(|p| format!("{p}/{suite}")).collect();
    let packages: Vec<&str> = packages.iter().map(String::as_str).collect();
    let jars = fetched_once(&cache_dir(), "zookeeper", version, suite, &packages, "usr/share/java")?;
    // zookeeper.jar last: its manifest's absolute /usr/share/java entries must not shadow these
    let cp: Vec<String> = [
        "zookeeper-jute",
        "slf4j-api",
        "slf4j-simple",
        "metrics-core",
        "snappy-java",
        "log4j-1.2",
        "zookeeper",
    ]
    .iter()
    .map(|j| jars.join(format!("{j}.jar")))
    // each version has its own set
    .filter(|jar| jar.is_file())
    .map(|jar| jar.display().to_string())
    .collect();
    Ok(Install {
        java: Binary {
            path: java,
            version: version.into(),
        },
        classpath: cp.join(":"),
    })
}
