//! Every thread of a process held still with ptrace, for the few milliseconds an
//! injection takes, and let go on every way out with what it was doing intact.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::libc;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::process::running;

/// How long stopping every thread may take before we give up (and let go).
const STOP_WITHIN: Duration = Duration::from_secs(2);

struct Thread {
    tid: Pid,
    /// Signals that arrived while we held it, to deliver when we let go.
    pending: Vec<Signal>,
    /// Whether we made it run (a step) since the stop we caught it in: then a
    /// signal it was stopped for can no longer go back with its details.
    resumed: bool,
}

/// The threads of one process, each stopped under our ptrace; dropping it
/// detaches them all, and they carry on.
pub struct Stopped {
    pid: Pid,
    threads: Vec<Thread>,
}

fn tasks(pid: u32) -> Result<Vec<Pid>, String> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| format!("pid {pid}: {e}"))?;
    Ok(dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .map(Pid::from_raw)
        .collect())
}

/// Signals the kernel raises for the instruction a thread is at: dropped while
/// we hold it, they come again when it runs that instruction again.
fn synchronous(sig: Signal) -> bool {
    matches!(
        sig,
        Signal::SIGSEGV | Signal::SIGBUS | Signal::SIGILL | Signal::SIGFPE | Signal::SIGTRAP | Signal::SIGSYS
    )
}

/// Outcome of waiting for a thread we asked to stop or to step.
enum Stop {
    /// A ptrace stop (interrupt, group stop or step trap): it is ours to inspect.
    Held,
    /// Stopped on the way to deliver this signal: held, the signal kept for later.
    Signal(Signal),
    Gone,
}

fn wait(tid: Pid) -> Result<Stop, String> {
    loop {
        return match waitpid(tid, Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::PtraceEvent(..)) | Ok(WaitStatus::Stopped(_, Signal::SIGTRAP)) => Ok(Stop::Held),
            Ok(WaitStatus::Stopped(_, sig)) => Ok(Stop::Signal(sig)),
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(Errno::ECHILD | Errno::ESRCH) => Ok(Stop::Gone),
            Err(Errno::EINTR) => continue,
            Ok(other) => Err(format!("thread {tid}: unexpected wait status {other:?}")),
            Err(e) => Err(format!("waiting for thread {tid}: {e}")),
        };
    }
}

impl Thread {
    /// Steps one instruction; the signals that stop it on the way are kept.
    fn step(&mut self) -> Result<Stop, String> {
        ptrace::step(self.tid, None).map_err(|e| format!("stepping thread {}: {e}", self.tid))?;
        self.resumed = true;
        let stop = wait(self.tid)?;
        if let Stop::Signal(sig) = stop {
            self.pending.push(sig);
        }
        Ok(stop)
    }
}

impl Stopped {
    /// Stops every thread of `pid`, including ones it starts meanwhile.
    pub fn all(pid: u32) -> Result<Stopped, String> {
        let mut held = Stopped {
            pid: Pid::from_raw(pid as i32),
            threads: Vec::new(),
        };
        let deadline = Instant::now() + STOP_WITHIN;
        loop {
            let new: Vec<Pid> = tasks(pid)?
                .into_iter()
                .filter(|t| !held.threads.iter().any(|h| h.tid == *t))
                .collect();
            if new.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("pid {pid} keeps starting threads: not all stopped within 2 s"));
            }
            for tid in new {
                match ptrace::seize(tid, ptrace::Options::empty()) {
                    Ok(()) => {}
                    Err(Errno::ESRCH) => continue, // it just ended
                    Err(Errno::EPERM) if !running(pid) => return Err(format!("pid {pid} has ended")),
                    Err(Errno::EPERM) => {
                        return Err(format!(
                            "ptrace of pid {pid} refused (EPERM: Yama ptrace_scope, a seccomp profile, or another tracer)"
                        ));
                    }
                    Err(e) => return Err(format!("ptrace of thread {tid}: {e}")),
                }
                // from here on, dropping `held` detaches it
                held.threads.push(Thread {
                    tid,
                    pending: Vec::new(),
                    resumed: false,
                });
                ptrace::interrupt(tid).map_err(|e| format!("stopping thread {tid}: {e}"))?;
                match wait(tid)? {
                    Stop::Held => {}
                    Stop::Signal(sig) => held.threads.last_mut().expect("pushed").pending.push(sig),
                    Stop::Gone => {
                        held.threads.pop();
                    }
                }
            }
        }
        if held.threads.is_empty() {
            return Err(format!("pid {pid} has no threads left"));
        }
        Ok(held)
    }

    /// Single-steps every thread whose instruction pointer lies strictly inside one
    /// of `ranges` (start excluded) until none does: no thread may resume in the
    /// middle of bytes about to be rewritten.
    pub fn step_out_of(&mut self, ranges: &[(u64, u64)]) -> Result<(), String> {
        for t in &mut self.threads {
            let mut steps = 0;
            // an error reading its registers: it is gone
            while let Ok(rip) = ptrace::getregs(t.tid).map(|r| r.rip) {
                if !ranges.iter().any(|&(a, b)| rip > a && rip < b) {
                    break;
                }
                steps += 1;
                if steps > 64 {
                    return Err(format!("thread {} does not leave {rip:#x}", t.tid));
                }
                if let Stop::Gone = t.step()? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Makes one system call in the process, from one of its stopped threads
    /// pointed at the `syscall` instruction at `at`; every register of that thread
    /// is put back afterwards, whatever happens. Returns what the kernel returned
    /// (`-errno` on error).
    pub fn syscall(&mut self, at: u64, nr: i64, args: [u64; 6]) -> Result<i64, String> {
        // one with no signal waiting: its stop's details must stay as they are
        let t = match self.threads.iter().position(|t| t.pending.is_empty()) {
            Some(i) => &mut self.threads[i],
            None => self.threads.first_mut().ok_or("no thread to make a system call from")?,
        };
        let saved = ptrace::getregs(t.tid).map_err(|e| format!("registers of thread {}: {e}", t.tid))?;
        let mut regs = saved;
        regs.rip = at;
        regs.rax = nr as u64;
        // not a syscall being restarted: the kernel must not rewind or redo ours
        regs.orig_rax = u64::MAX;
        (regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9) =
            (args[0], args[1], args[2], args[3], args[4], args[5]);
        ptrace::setregs(t.tid, regs).map_err(|e| format!("setting registers of thread {}: {e}", t.tid))?;
        let result = (|| {
            for _ in 0..16 {
                if let Stop::Gone = t.step()? {
                    return Err(format!("thread {} ended during a system call", t.tid));
                }
                let now = ptrace::getregs(t.tid).map_err(|e| format!("registers of thread {}: {e}", t.tid))?;
                if now.rip == at + 2 {
                    return Ok(now.rax as i64);
                }
                if now.rip != at {
                    return Err(format!("thread {} went astray at {:#x}", t.tid, now.rip));
                }
            }
            Err(format!("thread {}: the system call did not complete", t.tid))
        })();
        // a thread that ended needs nothing back; any other gets its registers
        match ptrace::setregs(t.tid, saved) {
            Ok(()) | Err(Errno::ESRCH) => result,
            Err(e) => Err(format!("restoring registers of thread {}: {e}", t.tid)),
        }
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        for t in self.threads.drain(..) {
            let mut pending = t.pending.into_iter();
            // still in the stop it was caught in: its signal goes back with its details
            let first = if t.resumed { None } else { pending.next() };
            if ptrace::detach(t.tid, first) == Err(Errno::ESRCH) {
                // it died while we held it: a traced zombie waits for its tracer
                for _ in 0..20 {
                    match waitpid(t.tid, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
                        Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(5)),
                        _ => break,
                    }
                }
                continue;
            }
            for sig in pending.filter(|s| !synchronous(*s)) {
                // SAFETY: a plain system call; to the thread the signal was for
                unsafe {
                    libc::syscall(libc::SYS_tgkill, self.pid.as_raw(), t.tid.as_raw(), sig as libc::c_int);
                }
            }
        }
    }
}
