//! Clock skew for one process, from outside it: its vDSO clock functions
//! (`clock_gettime`, `gettimeofday`, `time`) are redirected to code of ours whose
//! parameters live in a page the harness shares with it. The host's clock and
//! every other process are untouched; a container's process is reached through
//! its host pid like any other.
//!
//! Injection holds every thread still with ptrace for a few milliseconds:
//! it makes the target map two pages of a memfd near its vDSO (parameters, then
//! code), copies the code in, moves the first instructions of the real
//! `clock_gettime` into a trampoline, and writes a `jmp` over the three entry
//! points. From then on a skew is a memory write. Removal writes the original
//! bytes back; the two pages stay mapped, since a thread may still be returning
//! through them.

pub mod fake;
pub mod probe;
mod process;
mod trace;
pub mod vdso;

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::ptr::NonNull;

use nix::libc;
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};

pub use fake::{Class, Skew};
use fake::{PAGE, Params};
use process::{running, start_time};
use trace::Stopped;
use vdso::Vdso;

const NAME: &[u8] = b"splitbrain-clock\0";

/// A process whose clocks we can skew, until [`Injection::remove`] or its end.
pub struct Injection {
    pid: u32,
    /// The start time of the process (from /proc/PID/stat): a pid reused by
    /// another process is not ours.
    started: u64,
    map: NonNull<libc::c_void>,
    params: Params,
    /// Entry points and the bytes our jumps replaced there.
    patched: Vec<(u64, [u8; 5])>,
}

// SAFETY: the mapping is only written through `Params`' atomics
unsafe impl Send for Injection {}
unsafe impl Sync for Injection {}

fn jmp(from: u64, to: u64) -> Result<[u8; 5], String> {
    let rel =
        i32::try_from(to as i64 - (from as i64 + 5)).map_err(|_| format!("{to:#x} is out of reach of {from:#x}"))?;
    let mut j = [0xe9, 0, 0, 0, 0];
    j[1..].copy_from_slice(&rel.to_le_bytes());
    Ok(j)
}

fn check(what: &str, r: i64) -> Result<u64, String> {
    if (-4095..0).contains(&r) {
        Err(format!(
            "{what} in the target failed: {}",
            nix::errno::Errno::from_raw(-r as i32)
        ))
    } else {
        Ok(r as u64)
    }
}

impl Injection {
    /// Patches the running process `pid` (every thread of it); its clocks run true
    /// until a skew is set.
    pub fn inject(pid: u32) -> Result<Injection, String> {
        let started = start_time(pid).ok_or_else(|| format!("no process {pid}"))?;
        let mem = File::options()
            .read(true)
            .write(true)
            .open(format!("/proc/{pid}/mem"))
            .map_err(|e| format!("pid {pid}: {e}"))?;
        let mut stopped = Stopped::all(pid)?;
        let vdso = Vdso::find(pid, &mem)?;
        let entries = [vdso.clock_gettime, vdso.gettimeofday, vdso.time];
        let mut prologue = [0u8; 16];
        mem.read_exact_at(&mut prologue, vdso.clock_gettime)
            .map_err(|e| format!("reading clock_gettime: {e}"))?;
        if prologue[0] == 0xe9 {
            return Err(format!(
                "pid {pid} is already patched (an injection that was never removed)"
            ));
        }
        let moved = vdso::relocatable(&prologue)?;
        let regions = vdso::maps(pid)?;
        let at =
            vdso::room_near(&regions, vdso.start, 2 * PAGE as u64).ok_or("no free address within 2 GiB of its vDSO")?;

        // scratch first: an anonymous page to hold the memfd's name
        let page = 2 * PAGE as u64;
        let (rw, ex) = (
            (libc::PROT_READ | libc::PROT_WRITE) as u64,
            (libc::PROT_READ | libc::PROT_EXEC) as u64,
        );
        let got = check(
            "mmap",
            stopped.syscall(
                vdso.syscall,
                libc::SYS_mmap,
                [
                    at,
                    page,
                    rw,
                    (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u64,
                    u64::MAX,
                    0,
                ],
            )?,
        )?;
        if got != at {
            let _ = stopped.syscall(vdso.syscall, libc::SYS_munmap, [got, page, 0, 0, 0, 0]);
            return Err("the kernel does not honour MAP_FIXED_NOREPLACE (Linux 4.17 or later needed)".into());
        }
        let result = (|| {
            let file = share(&mut stopped, &mem, vdso.syscall, pid, at)?;
            // SAFETY: a fresh shared mapping of a file we hold, unmapped in Drop
            let map = unsafe {
                mmap(
                    None,
                    std::num::NonZeroUsize::new(2 * PAGE).expect("non-zero"),
                    ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                    MapFlags::MAP_SHARED,
                    file.as_fd(),
                    0,
                )
            }
            .map_err(|e| format!("mapping its memfd here: {e}"))?;
            let code = fake::code();
            let code_at = at + PAGE as u64;
            let mut image = code.bytes.to_vec();
            let t = code.trampoline;
            image[t..t + moved].copy_from_slice(&prologue[..moved]);
            let back = jmp(code_at + (t + moved) as u64, vdso.clock_gettime + moved as u64)?;
            image[t + moved..t + moved + 5].copy_from_slice(&back);
            // SAFETY: the mapping is two pages; the code is far smaller than one
            unsafe {
                std::ptr::copy_nonoverlapping(image.as_ptr(), (map.as_ptr() as *mut u8).add(PAGE), image.len());
            }
            check(
                "mprotect",
                stopped.syscall(vdso.syscall, libc::SYS_mprotect, [code_at, PAGE as u64, ex, 0, 0, 0])?,
            )?;
            let jumps = [
                jmp(vdso.clock_gettime, code_at + code.clock_gettime as u64)?,
                jmp(vdso.gettimeofday, code_at + code.gettimeofday as u64)?,
                jmp(vdso.time, code_at + code.time as u64)?,
            ];
            stopped.step_out_of(&entries.map(|e| (e, e + 5)))?;
            let patched = patch(&mem, entries, jumps)?;
            Ok(Injection {
                pid,
                started,
                map: map.cast(),
                // SAFETY: the first page of our mapping, alive as long as the Injection
                params: unsafe { Params::new(map.as_ptr() as *mut u8) },
                patched,
            })
        })();
        if result.is_err() {
            // nothing points at the pages yet: give them back
            let _ = stopped.syscall(vdso.syscall, libc::SYS_munmap, [at, page, 0, 0, 0, 0]);
        }
        result
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process we patched still runs (and its pid is not reused).
    pub fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.started) && running(self.pid)
    }

    /// Sets or clears (`None`) one class's skew, with the process running.
    pub fn set(&self, class: Class, skew: Option<Skew>) {
        self.params.set(class, skew);
    }

    /// A class's skew as the process reads it (from the shared page).
    pub fn get(&self, class: Class) -> Option<Skew> {
        self.params.get(class)
    }

    /// Clock reads answered with a skew so far, per class.
    pub fn calls(&self, class: Class) -> u64 {
        self.params.calls(class)
    }

    /// Puts the vDSO back as it was (clocks true again). A process that has
    /// ended needs nothing.
    pub fn remove(self) -> Result<(), String> {
        self.set(Class::Wall, None);
        self.set(Class::Mono, None);
        if !self.alive() {
            return Ok(());
        }
        let mem = File::options()
            .write(true)
            .open(format!("/proc/{}/mem", self.pid))
            .map_err(|e| format!("pid {}: {e}", self.pid))?;
        let mut stopped = Stopped::all(self.pid)?;
        stopped.step_out_of(&self.patched.iter().map(|&(e, _)| (e, e + 5)).collect::<Vec<_>>())?;
        for (entry, old) in &self.patched {
            mem.write_all_at(old, *entry)
                .map_err(|e| format!("restoring the vDSO of pid {}: {e}", self.pid))?;
        }
        Ok(())
    }
}

impl Drop for Injection {
    fn drop(&mut self) {
        // SAFETY: our own mapping of two pages, from `inject`
        let _ = unsafe { munmap(self.map, 2 * PAGE) };
    }
}

/// In the stopped process: a memfd named by what is at `at`, two pages long,
/// mapped shared over the scratch pages at `at`; the file, opened here too.
fn share(stopped: &mut Stopped, mem: &File, syscall: u64, pid: u32, at: u64) -> Result<File, String> {
    let page = 2 * PAGE as u64;
    let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
    mem.write_all_at(NAME, at)
        .map_err(|e| format!("writing the memfd name: {e}"))?;
    let fd = check(
        "memfd_create",
        stopped.syscall(
            syscall,
            libc::SYS_memfd_create,
            [at, libc::MFD_CLOEXEC as u64, 0, 0, 0, 0],
        )?,
    )?;
    let shared = (|| {
        check(
            "ftruncate",
            stopped.syscall(syscall, libc::SYS_ftruncate, [fd, page, 0, 0, 0, 0])?,
        )?;
        check(
            "mmap",
            stopped.syscall(
                syscall,
                libc::SYS_mmap,
                [at, page, rw, (libc::MAP_SHARED | libc::MAP_FIXED) as u64, fd, 0],
            )?,
        )?;
        File::options()
            .read(true)
            .write(true)
            .open(format!("/proc/{pid}/fd/{fd}"))
            .map_err(|e| format!("opening its memfd: {e}"))
    })();
    let _ = stopped.syscall(syscall, libc::SYS_close, [fd, 0, 0, 0, 0, 0]);
    shared
}

/// Writes each jump over its entry's first bytes; what was there, to put back.
/// A write that fails puts back those done before it: the pages are about to
/// go, and nothing may jump to them.
fn patch(mem: &File, entries: [u64; 3], jumps: [[u8; 5]; 3]) -> Result<Vec<(u64, [u8; 5])>, String> {
    let mut patched: Vec<(u64, [u8; 5])> = Vec::new();
    for (entry, j) in entries.into_iter().zip(jumps) {
        let mut old = [0u8; 5];
        let written = mem
            .read_exact_at(&mut old, entry)
            .and_then(|()| mem.write_all_at(&j, entry));
        if let Err(e) = written {
            for (entry, old) in &patched {
                let _ = mem.write_all_at(old, *entry);
            }
            return Err(format!("patching the vDSO: {e}"));
        }
        patched.push((entry, old));
    }
    Ok(patched)
}
