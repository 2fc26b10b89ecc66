//! Real signals to node processes.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::Error;

fn send(pid: u32, sig: Signal) -> Result<(), Error> {
    kill(Pid::from_raw(pid as i32), sig).map_err(|error| Error::Signal { sig, pid, error })
}

/// SIGKILL: the process dies without a chance to flush anything.
pub fn kill_hard(pid: u32) -> Result<(), Error> {
    send(pid, Signal::SIGKILL)
}

/// SIGSTOP: the process freezes, its sockets stay open (a long GC pause).
pub fn pause(pid: u32) -> Result<(), Error> {
    send(pid, Signal::SIGSTOP)
}

/// SIGCONT: a paused process runs again.
pub fn resume(pid: u32) -> Result<(), Error> {
    send(pid, Signal::SIGCONT)
}

/// A graceful stop, as an operator's `systemctl stop`: SIGTERM to each of
/// `pids`, then SIGKILL to any that `running` still says runs after `within`.
pub fn stop(pids: &[u32], running: impl Fn(u32) -> bool, within: Duration) -> Result<(), Error> {
    for &pid in pids {
        send(pid, Signal::SIGTERM)?;
    }
    let deadline = Instant::now() + within;
    while pids.iter().any(|&p| running(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for &pid in pids.iter().filter(|&&p| running(p)) {
        kill_hard(pid)?;
    }
    Ok(())
}
