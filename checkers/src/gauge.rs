//! A process-wide memory bound. The engine's own estimates count configurations,
//! but model states, memo tables and a history being read are held too, so a
//! program that can measure its live heap (splitbrain counts it in its global
//! allocator) installs that measure here and every search and every reader looks
//! at it, where they look at the clock, and gives up once the heap is past the
//! bound. Without an installed gauge there is no such bound.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

static GAUGE: OnceLock<fn() -> usize> = OnceLock::new();
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Installs the measure of live heap bytes (once per process; later calls are ignored).
pub fn install(live_bytes: fn() -> usize) {
    let _ = GAUGE.set(live_bytes);
}

/// Sets the bound, in bytes, that the live heap may reach (`usize::MAX`: none).
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// Live heap bytes, where a gauge is installed.
pub fn live() -> Option<usize> {
    GAUGE.get().map(|f| f())
}

/// Why to stop when the heap is past the bound.
pub fn exceeded() -> Option<String> {
    let limit = LIMIT.load(Ordering::Relaxed);
    if limit == usize::MAX {
        return None;
    }
    let live = live()?;
    (live > limit).then(|| {
        format!(
            "memory limit reached: the process held {} MB, past --memory-limit {} MB",
            live >> 20,
            limit >> 20
        )
    })
}
