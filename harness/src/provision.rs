//! Finding or fetching the programs a test runs, for every system (each system's
//! folder says which packages and versions) and for the nemeses (iptables).
//!
//! What the machine has installed is used as it is. Everything else is fetched as
//! .debs into splitbrain's cache with a private apt configuration and state, so the
//! machine's sources stay as they are, and unpacked with `dpkg-deb -x`, never
//! installed.
//!
//! The private apt for a suite lives in `$CACHE/apt-<suite>/`: `apt.conf` (passed
//! with `apt-get -c`, read after the machine's apt.conf.d, so it can override
//! it), `sources.list`, `lists/` and `archives/`. Release files are checked
//! against `/usr/share/keyrings/debian-archive-keyring.gpg`, which on bookworm
//! (2023.3+deb12u2 and later) holds the trixie keys too.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A binary and the version it reports, for test.json.
#[derive(Clone, Debug)]
pub struct Binary {
    pub path: PathBuf,
    pub version: String,
}

/// The iptables of bookworm's archive, with the libraries it links.
const IPTABLES_PACKAGES: &[&str] = &[
    "iptables/bookworm",
    "libip4tc2/bookworm",
    "libip6tc2/bookworm",
    "libxtables12/bookworm",
    "libnftnl11/bookworm",
    "libmnl0/bookworm",
    "libnetfilter-conntrack3/bookworm",
    "libnfnetlink0/bookworm",
];

/// The keyring Debian's archives are checked against.
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// `$SPLITBRAIN_CACHE`, else `$XDG_CACHE_HOME/splitbrain`, else `$HOME/.cache/splitbrain`
/// (without a home, under the temporary directory).
pub fn cache_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("SPLITBRAIN_CACHE") {
        return dir;
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return dir.join("splitbrain");
    }
    match var("HOME") {
        Some(home) => home.join(".cache/splitbrain"),
        None => std::env::temp_dir().join("splitbrain-cache"),
    }
}

/// `$CACHE/<name>/<version>/<inside>`, after unpacking `packages` of Debian `suite`
/// there the first time (saying so).
pub fn fetched_once(
    cache: &Path,
    name: &str,
    version: &str,
    suite: &str,
    packages: &[&str],
    inside: &str,
) -> Result<PathBuf, String> {
    let home = cache.join(name).join(version);
    let path = home.join(inside);
    if !path.exists() {
        eprintln!(
            "splitbrain: fetching {name} {version} from Debian {suite} into {}",
            home.display()
        );
        fetch_debs(cache, suite, packages, &home)?;
    }
    Ok(path)
}

/// The iptables partitions run: the machine's when it has a working one, else
/// bookworm's, fetched once into `$CACHE/iptables/` and run with its own libraries.
pub fn iptables() -> Result<nemeses::iptables::Iptables, String> {
    iptables_in(&cache_dir())
}

fn iptables_in(cache: &Path) -> Result<nemeses::iptables::Iptables, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin", "/sbin"].map(PathBuf::from));
    for dir in dirs {
        let tool = nemeses::iptables::Iptables::system(dir.join("iptables"));
        if tool.works() {
            return Ok(tool);
        }
    }
    let home = cache.join("iptables");
    let tool = nemeses::iptables::Iptables::unpacked(&home);
    if !tool.works() {
        eprintln!(
            "splitbrain: no iptables on this machine: fetching bookworm's into {}",
            home.display()
        );
        let _ = std::fs::remove_dir_all(&home);
        fetch_debs(cache, "bookworm", IPTABLES_PACKAGES, &home)
            .map_err(|e| format!("partitions need iptables: {e}; or run `apt-get install iptables`"))?;
        if !tool.works() {
            return Err(format!(
                "the iptables fetched into {} does not run; run `apt-get install iptables`",
                home.display()
            ));
        }
    }
    Ok(tool)
}

/// Downloads Debian packages (`name` or `name=version-glob`) of `suite` with a
/// private apt under `cache` and unpacks them all into `dest`. Does nothing if
/// `dest` exists. Concurrent callers each download into their own directory
/// and the first to rename its result into place wins.
pub fn fetch_debs(cache: &Path, suite: &str, packages: &[&str], dest: &Path) -> Result<(), String> {
    if dest.exists() {
        return Ok(());
    }
    let apt = private_apt(cache, suite)?;
    apt_update(&apt, suite)?;

    let work = unique_dir(&cache.join("tmp"), "fetch")?;
    let result = (|| {
        let debs = work.join("debs");
        let root = work.join("root");
        mkdir(&debs)?;
        run(
            apt_get(&apt).arg("download").args(packages).current_dir(&debs),
            &format!("apt-get download {} (Debian {suite})", packages.join(" ")),
        )?;
        let mut unpacked = 0;
        for deb in std::fs::read_dir(&debs).map_err(|e| format!("{}: {e}", debs.display()))? {
            let deb = deb.map_err(|e| format!("{}: {e}", debs.display()))?.path();
            if deb.extension().is_some_and(|x| x == "deb") {
                let mut x = Command::new("dpkg-deb");
                x.arg("-x").arg(&deb).arg(&root);
                run(&mut x, &format!("dpkg-deb -x {}", deb.display()))?;
                unpacked += 1;
            }
        }
        if unpacked == 0 {
            return Err(format!(
                "apt-get download {} left no .deb in {}",
                packages.join(" "),
                debs.display()
            ));
        }
        if let Some(parent) = dest.parent() {
            mkdir(parent)?;
        }
        match std::fs::rename(&root, dest) {
            Ok(()) => Ok(()),
            Err(_) if dest.exists() => Ok(()), // another run got there first
            Err(e) => Err(format!("moving {} to {}: {e}", root.display(), dest.display())),
        }
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Writes `$CACHE/apt-<suite>/` (config, sources, state dirs) and returns it.
fn private_apt(cache: &Path, suite: &str) -> Result<PathBuf, String> {
    let apt = cache.join(format!("apt-{suite}"));
    for d in ["lists/partial", "archives/partial"] {
        mkdir(&apt.join(d))?;
    }
    let sources = apt.join("sources.list");
    write(
        &sources,
        &format!("deb [signed-by={KEYRING}] http://deb.debian.org/debian {suite} main\n"),
    )?;
    let d = apt.display();
    // Read after the machine's apt.conf.d: point every directory apt writes at the cache,
    // and drop what is not needed to fetch a .deb (translations, AppStream metadata,
    // hooks that refresh the machine's caches). The sandbox user `_apt` cannot enter a
    // root-owned cache under /root, so download as root.
    let conf = apt.join("apt.conf");
    write(
        &conf,
        &format!(
            "Dir::Etc::SourceList \"{d}/sources.list\";\n\
             Dir::Etc::SourceParts \"/dev/null\";\n\
             Dir::State::Lists \"{d}/lists\";\n\
             Dir::Cache \"{d}\";\n\
             Dir::Cache::Archives \"{d}/archives\";\n\
             APT::Sandbox::User \"root\";\n\
             Acquire::Languages \"none\";\n\
             Acquire::IndexTargets::deb::DEP-11::DefaultEnabled \"false\";\n\
             #clear APT::Update::Post-Invoke;\n\
             #clear APT::Update::Post-Invoke-Success;\n"
        ),
    )?;
    Ok(apt)
}

/// `apt-get` with the private apt in `apt`. The directories are given on the command
/// line as well, so that apt never falls back to the machine's own lists or sources.
fn apt_get(apt: &Path) -> Command {
    let d = apt.display();
    let mut cmd = Command::new("apt-get");
    cmd.arg("-c").arg(apt.join("apt.conf"));
    for o in [
        format!("Dir::Etc::SourceList={d}/sources.list"),
        "Dir::Etc::SourceParts=/dev/null".to_string(),
        format!("Dir::State::Lists={d}/lists"),
        format!("Dir::Cache={d}"),
        format!("Dir::Cache::Archives={d}/archives"),
    ] {
        cmd.arg("-o").arg(o);
    }
    cmd.arg("-q");
    cmd
}

/// `apt-get update` of the private lists; waits for a concurrent update's lock.
fn apt_update(apt: &Path, suite: &str) -> Result<(), String> {
    let what = format!("apt-get update (Debian {suite} lists)");
    let mut tries = 0;
    loop {
        match run(apt_get(apt).arg("update"), &what) {
            Err(e) if (e.contains("Could not get lock") || e.contains("Unable to lock")) && tries < 60 => {
                tries += 1;
                std::thread::sleep(Duration::from_secs(2));
            }
            Err(e) if e.contains("is not signed") || e.contains("NO_PUBKEY") => {
                return Err(format!(
                    "{e} (the Debian {suite} key is missing from {KEYRING}: run `apt-get install debian-archive-keyring`)"
                ));
            }
            other => return other,
        }
    }
}

/// Runs a command; a failure becomes one line naming it, with the tool's last error line.
fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: cannot run: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    // apt ends with warnings after its errors at times; the last `E:` line says most
    let last = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("E:"))
        .or(lines.last())
        .map_or_else(|| format!("failed ({})", out.status), |l| l.to_string());
    Err(format!("{what} failed: {last}"))
}

/// A name no other process or thread is using: `<pid>-<n>`.
fn unique_suffix() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A new directory under `parent`, for this call alone.
fn unique_dir(parent: &Path, prefix: &str) -> Result<PathBuf, String> {
    mkdir(parent)?;
    loop {
        let dir = parent.join(format!("{prefix}-{}", unique_suffix()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            // left by an earlier process with the same pid
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
}

fn mkdir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Writes a file whole or not at all: a concurrent apt-get must never read a
/// truncated config (an empty one would send it to the machine's own apt state).
fn write(path: &Path, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    let tmp = path.with_extension(format!("tmp-{}", unique_suffix()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })
}

/// A fresh directory for one test, removed by the test when it passes.
#[cfg(test)]
pub fn scratch(name: &str) -> PathBuf {
    unique_dir(&std::env::temp_dir(), &format!("splitbrain-test-{name}")).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetched_iptables_runs_with_its_own_libraries() {
        let cache = scratch("cache-iptables");
        let home = cache.join("iptables");
        fetch_debs(&cache, "bookworm", IPTABLES_PACKAGES, &home).unwrap();
        let tool = nemeses::iptables::Iptables::unpacked(&home);
        assert!(tool.works(), "{tool:?}");
        // the cache's copy is what iptables_in falls back to; with one on the machine it prefers that
        let chosen = iptables_in(&cache).unwrap();
        assert!(chosen.works());
        std::fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn failing_commands_say_what_failed_in_one_line() {
        let e = run(
            Command::new("sh").args(["-c", "echo E: broken >&2; echo W: later >&2; exit 3"]),
            "thing",
        )
        .unwrap_err();
        assert_eq!(e, "thing failed: E: broken");
        let e = run(&mut Command::new("/nonexistent/tool"), "tool").unwrap_err();
        assert!(e.starts_with("tool: cannot run:") && !e.contains('\n'), "{e}");
    }
}
