//! Which etcd a run gets: an operator's `--binary`, or a version splitbrain
//! provisions (trixie's 3.5.16, bookworm's 3.4.23, bullseye's 3.3.25: installed
//! or fetched).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::provision::{Binary, cache_dir, fetched_once};
use crate::systems::{Provided, version_list};

/// Versions splitbrain provisions, newest first.
pub const VERSIONS: &[Provided] = &[
    Provided {
        version: "3.5.16",
        suite: "trixie",
        installed: None,
        upgrades_to: None,
    },
    Provided {
        version: "3.4.23",
        suite: "bookworm",
        installed: Some(INSTALLED_ETCD),
        upgrades_to: Some("3.5.16"),
    },
    Provided {
        version: "3.3.25",
        suite: "bullseye",
        installed: None,
        upgrades_to: Some("3.4.23"),
    },
];

/// Where bookworm's `etcd-server` puts etcd.
const INSTALLED_ETCD: &str = "/usr/bin/etcd";

/// Runs `<path> --version` and returns "X.Y.Z" from its `etcd Version: X.Y.Z` line.
pub fn etcd_version(path: &Path) -> Result<String, String> {
    let out = Command::new(path)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run `{} --version`: {e}", path.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    stdout
        .lines()
        .chain(stderr.lines())
        .find_map(|l| l.trim().strip_prefix("etcd Version:"))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            format!(
                "{} is not an etcd binary: its --version has no `etcd Version:` line",
                path.display()
            )
        })
}

/// `binary` (from --binary) wins; else `version` (from --version); else the newest available:
/// 3.5.16 if it is in the cache or can be fetched, else 3.4.23 if installed.
pub fn etcd(version: Option<&str>, binary: Option<&Path>) -> Result<Binary, String> {
    etcd_in(&cache_dir(), version, binary)
}

/// [`etcd`] with the cache directory given, so tests need not touch the environment.
fn etcd_in(cache: &Path, version: Option<&str>, binary: Option<&Path>) -> Result<Binary, String> {
    if let Some(path) = binary {
        if !path.is_file() {
            return Err(format!(
                "--binary {}: no such file; give the path of an etcd server binary",
                path.display()
            ));
        }
        return Ok(Binary {
            path: path.to_path_buf(),
            version: etcd_version(path)?,
        });
    }
    match version {
        Some("3.5.16") => trixie_3_5(cache),
        Some("3.4.23") => bookworm_3_4(cache),
        Some("3.3.25") => fetched(cache, "3.3.25", "bullseye", &["etcd-server/bullseye"]),
        Some(v) => Err(format!(
            "etcd version {v} is not provisioned by splitbrain; use --version {}, or --binary PATH",
            version_list(VERSIONS)
        )),
        // the newest we can have; bookworm's 3.4 when trixie is out of reach
        None => trixie_3_5(cache).or_else(|fetch| {
            bookworm_3_4(cache).map_err(|_| {
                format!("no etcd available: {fetch}; or run `apt-get install etcd-server` for etcd 3.4.23")
            })
        }),
    }
}

/// Bookworm's etcd 3.4.23: the one `apt-get install etcd-server` put in /usr/bin,
/// else fetched into `$CACHE/etcd/3.4.23/`.
fn bookworm_3_4(cache: &Path) -> Result<Binary, String> {
    let path = PathBuf::from(INSTALLED_ETCD);
    if !path.is_file() {
        return fetched(cache, "3.4.23", "bookworm", &["etcd-server/bookworm"]);
    }
    let version = etcd_version(&path)?;
    if version != "3.4.23" {
        return Err(format!(
            "{INSTALLED_ETCD} is etcd {version}, not 3.4.23: install bookworm's etcd-server, or use --binary {INSTALLED_ETCD}"
        ));
    }
    Ok(Binary { path, version })
}

/// Trixie's etcd 3.5.16, unpacked into `$CACHE/etcd/3.5.16/`; fetched once.
fn trixie_3_5(cache: &Path) -> Result<Binary, String> {
    fetched(cache, "3.5.16", "trixie", &["etcd-server=3.5.16*"])
}

/// etcd `version` from Debian `suite`, unpacked into `$CACHE/etcd/<version>/`; fetched once.
fn fetched(cache: &Path, version: &str, suite: &str, packages: &[&str]) -> Result<Binary, String> {
    let path = fetched_once(cache, "etcd", version, suite, packages, "usr/bin/etcd")?;
    let found = etcd_version(&path)?;
    if found != version {
        return Err(format!(
            "{} is etcd {found}, not {version}: remove it and try again",
            path.display()
        ));
    }
    Ok(Binary { path, version: found })
}

/// etcd's own tools for a runbook: etcdctl, and etcdutl where the version has
/// it (3.5+). Beside the server binary if there, else Debian's `etcd-client` of
/// the same version, fetched once into `$CACHE/etcd-client/<version>/`.
pub fn tools(server: &Binary) -> Result<(PathBuf, Option<PathBuf>), String> {
    let beside = |name: &str| server.path.parent().map(|d| d.join(name)).filter(|p| p.is_file());
    let ctl = match beside("etcdctl") {
        Some(p) => p,
        None => {
            let (suite, package) = match server.version.as_str() {
                "3.5.16" => ("trixie", "etcd-client=3.5.16*"),
                "3.4.23" => ("bookworm", "etcd-client/bookworm"),
                "3.3.25" => ("bullseye", "etcd-client/bullseye"),
                v => {
                    return Err(format!(
                        "no etcdctl beside {} and none provisioned for etcd {v}: put etcdctl (and etcdutl) beside it",
                        server.path.display()
                    ));
                }
            };
            fetched_once(
                &cache_dir(),
                "etcd-client",
                &server.version,
                suite,
                &[package],
                "usr/bin/etcdctl",
            )?
        }
    };
    let utl = beside("etcdutl").or_else(|| ctl.parent().map(|d| d.join("etcdutl")).filter(|p| p.is_file()));
    Ok((ctl, utl))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::scratch;

    #[test]
    fn etcd_3_4_is_the_installed_one_or_fetched_from_bookworm() {
        let cache = scratch("cache-3-4");
        let b = etcd_in(&cache, Some("3.4.23"), None).unwrap();
        assert_eq!(b.version, "3.4.23");
        let expected = if Path::new(INSTALLED_ETCD).is_file() {
            PathBuf::from(INSTALLED_ETCD)
        } else {
            cache.join("etcd/3.4.23/usr/bin/etcd")
        };
        assert_eq!(b.path, expected);
        assert_eq!(etcd_version(&b.path).unwrap(), "3.4.23");
        std::fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn an_unknown_version_names_the_known_ones() {
        let e = etcd_in(Path::new("/nonexistent/cache"), Some("3.6.0"), None).unwrap_err();
        assert_eq!(
            e,
            "etcd version 3.6.0 is not provisioned by splitbrain; use --version 3.5.16, 3.4.23, 3.3.25, or --binary PATH"
        );
    }

    #[test]
    fn a_missing_binary_is_a_clear_error() {
        let e = etcd_in(
            Path::new("/nonexistent/cache"),
            None,
            Some(Path::new("/nonexistent/etcd")),
        )
        .unwrap_err();
        assert!(e.starts_with("--binary /nonexistent/etcd: no such file"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = etcd_version(Path::new("/bin/true")).unwrap_err();
        assert!(e.contains("is not an etcd binary"), "{e}");
    }

    #[test]
    fn fetches_etcd_3_5_from_trixie_into_the_cache_and_reuses_it() {
        let cache = scratch("cache");
        let first = etcd_in(&cache, Some("3.5.16"), None).unwrap();
        assert_eq!(first.version, "3.5.16");
        assert_eq!(first.path, cache.join("etcd/3.5.16/usr/bin/etcd"));
        assert_eq!(etcd_version(&first.path).unwrap(), "3.5.16");
        // no temp dirs left behind
        assert_eq!(std::fs::read_dir(cache.join("tmp")).unwrap().count(), 0);
        // the second call needs no apt at all: take its state away
        std::fs::remove_dir_all(cache.join("apt-trixie")).unwrap();
        let again = etcd_in(&cache, None, None).unwrap();
        assert_eq!((again.path, again.version), (first.path, first.version));
        assert!(!cache.join("apt-trixie").exists());
        std::fs::remove_dir_all(&cache).unwrap();
    }
}
