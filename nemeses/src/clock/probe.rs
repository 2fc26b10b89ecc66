//! A process of our own whose clocks the clock nemesis's tests and `splitbrain
//! bench --clock` skew: it answers lines on stdin, reading each clock the way
//! programs do (through libc, which calls the vDSO), while `threads` threads
//! keep calling clock_gettime so that injection meets a busy, multi-threaded
//! target.
//!
//! `read`  -> `REALTIME_ns MONOTONIC_ns gettimeofday_us time_s`
//! `bench N` -> nanoseconds per clock_gettime(CLOCK_MONOTONIC), over N calls

use std::io::{BufRead, Write};

use nix::libc;

fn now(id: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid out pointer
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Serves questions on stdin until it closes.
pub fn serve(threads: usize) {
    for _ in 0..threads {
        std::thread::spawn(|| {
            loop {
                std::hint::black_box(now(libc::CLOCK_MONOTONIC));
                std::hint::black_box(now(libc::CLOCK_REALTIME));
            }
        });
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "ready");
    let _ = out.flush();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut words = line.split_whitespace();
        match words.next() {
            Some("read") => {
                let mut tv = libc::timeval { tv_sec: 0, tv_usec: 0 };
                // SAFETY: valid out pointers
                let (rt, mono) = (now(libc::CLOCK_REALTIME), now(libc::CLOCK_MONOTONIC));
                unsafe { libc::gettimeofday(&mut tv, std::ptr::null_mut()) };
                let t = unsafe { libc::time(std::ptr::null_mut()) };
                let _ = writeln!(out, "{rt} {mono} {} {t}", tv.tv_sec * 1_000_000 + tv.tv_usec);
            }
            Some("bench") => {
                let n: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(10_000_000);
                let start = std::time::Instant::now();
                for _ in 0..n {
                    std::hint::black_box(now(libc::CLOCK_MONOTONIC));
                }
                let _ = writeln!(out, "{:.2}", start.elapsed().as_nanos() as f64 / n as f64);
            }
            _ => break,
        }
        let _ = out.flush();
    }
}
