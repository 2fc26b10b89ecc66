//! A global allocator that counts live heap bytes, so that `bench` can report
//! the peak memory of a check without an external profiler.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

/// Resident bytes as last sampled (see [`sample_resident`]).
static RESIDENT: AtomicUsize = AtomicUsize::new(0);

/// What the process holds now, as `checkers::gauge` bounds it: its live heap, or
/// its resident memory where that is more (the allocator's own overhead on many
/// small blocks is a third again over the heap on a big search).
pub fn held() -> usize {
    LIVE.load(Ordering::Relaxed).max(RESIDENT.load(Ordering::Relaxed))
}

/// Samples the process's resident memory every 10 ms on a thread of its own,
/// for [`held`] (reading `/proc` at every look of a search would cost more).
pub fn sample_resident() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .map_or(4096, |p| p as usize);
        let sample = move || {
            let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
            let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
            Some(pages * page)
        };
        let _ = std::thread::Builder::new().name("resident".to_string()).spawn(move || {
            while let Some(bytes) = sample() {
                RESIDENT.store(bytes, Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        });
    });
}

/// Starts a measurement: the peak is reset to what is live now.
pub fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

/// Peak live bytes since `reset_peak`, above the `base` it returned.
pub fn peak_since(base: usize) -> usize {
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}
