//! Real signals to node processes.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn send(pid: u32, sig: Signal) -> Result<(), String> {
    kill(Pid::from_raw(pid as i32), sig).map_err(|e| format!("{sig} to pid {pid}: {e}"))
}

/// SIGKILL: the process dies without a chance to flush anything.
pub fn kill_hard(pid: u32) -> Result<(), String> {
    send(pid, Signal::SIGKILL)
}

/// SIGSTOP: the process freezes, its sockets stay open (a long GC pause).
pub fn pause(pid: u32) -> Result<(), String> {
    send(pid, Signal::SIGSTOP)
}

/// SIGCONT: a paused process runs again.
pub fn resume(pid: u32) -> Result<(), String> {
    send(pid, Signal::SIGCONT)
}

/// SIGTERM: a graceful stop, as an operator's `systemctl stop` does.
pub fn terminate(pid: u32) -> Result<(), String> {
    send(pid, Signal::SIGTERM)
}
