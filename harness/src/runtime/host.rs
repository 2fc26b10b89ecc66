//! What every runtime of this host shares: root, the subnets runs take, and
//! the owner notes that tell `clean` a live run from a dead one's leftovers.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `ip` with `args`; the error names the command and what `ip` said.
pub fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e} (install iproute2)", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Fails with what to do unless we may create namespaces.
pub fn require_root() -> Result<(), String> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(
            "the netns runtime needs root (CAP_NET_ADMIN) to create network namespaces: run splitbrain with sudo"
                .into(),
        )
    }
}

/// Where runs note their owner pid, and the lock for choosing subnets.
pub const STATE_DIR: &str = "/run/splitbrain";

/// A free 10.`net`.X.0/24 on this host: no address or route of the host mentions it.
pub fn free_subnet(run_id: &str, net: u8) -> Result<u8, String> {
    let used = ip(&["-4", "-o", "addr", "show"])? + &ip(&["-4", "route", "show", "table", "all"])?;
    let start = run_id
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    (0..254)
        .map(|k| (1 + (start + k) % 254) as u8)
        .find(|x| !used.contains(&format!("10.{net}.{x}.")))
        .ok_or_else(|| format!("no free 10.{net}.X.0/24 subnet on this host; run `splitbrain clean`"))
}

/// Held while a run picks its subnet and takes it, so that two runs never pick the same.
pub fn subnet_lock() -> Result<nix::fcntl::Flock<File>, String> {
    std::fs::create_dir_all(STATE_DIR).map_err(|e| format!("{STATE_DIR}: {e}"))?;
    let lock = File::create(Path::new(STATE_DIR).join("lock")).map_err(|e| format!("{STATE_DIR}/lock: {e}"))?;
    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("{STATE_DIR}/lock: {e}"))
}

/// Notes this process as the owner of run `id`, so that `clean` leaves it alone.
pub fn note_owner(id: &str) -> Result<(), String> {
    std::fs::write(owner_file(id), std::process::id().to_string()).map_err(|e| format!("{STATE_DIR}: {e}"))
}

pub fn forget_owner(id: &str) {
    let _ = std::fs::remove_file(owner_file(id));
}

pub fn owner_file(id: &str) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{id}.pid"))
}

/// The pid of the runner that owns run `id`, if that runner is still alive.
pub fn live_owner(id: &str) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(owner_file(id)).ok()?.trim().parse().ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (comm.trim() == "splitbrain").then_some(pid)
}
