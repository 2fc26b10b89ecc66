//! The target process as /proc tells it: whether it still runs, and when it
//! started (so that a reused pid is told apart). A module of its own because
//! both the injection and the ptrace code ask.

/// Fields 3 and 22 of /proc/PID/stat: its state, and when it started (clock ticks).
fn stat(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut f = stat.rsplit_once(')')?.1.split_whitespace();
    let state = f.next()?.chars().next()?;
    Some((state, f.nth(18)?.parse().ok()?))
}

/// When `pid` started, in clock ticks since boot.
pub(super) fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|(_, t)| t)
}

/// Whether `pid` exists and has not ended (a zombie has).
pub(super) fn running(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}
