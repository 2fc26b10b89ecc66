//! What every search of one partition shares, whichever decides it (the
//! breadth-first engine, its depth-first race, the pinned order): the calls it
//! orders, the bounds it stops at, and how it frees what it built. A leaf, so
//! that those searches depend on it and not on each other.

use std::time::Instant;

/// One call of the partition, as the model sees it.
#[derive(Clone, Debug)]
pub struct Entry<O> {
    pub op: O,
    /// Index of the call in the history's call list (for reports).
    pub call: u32,
    /// History index of the invocation.
    pub invoke: u32,
    /// History index of the completion; `None` when the outcome is unknown.
    pub ret: Option<u32>,
}

/// Bounds that turn a search into `unknown` rather than a hang or a crash.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Past it a search gives up; every search looks at the clock every few
    /// thousand units of work.
    pub deadline: Option<Instant>,
    /// Approximate bytes of configurations one partition may hold.
    pub memory: usize,
    /// Try the bounded depth-first search first on small partitions.
    pub depth_first: bool,
}

impl Limits {
    /// Why to stop now: the deadline has passed, or the process's heap is past
    /// its bound ([`crate::gauge`]).
    pub fn stop(&self) -> Option<String> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(TIME_UP.to_string());
        }
        crate::gauge::exceeded()
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            deadline: None,
            memory: usize::MAX,
            depth_first: true,
        }
    }
}

/// The reason a search gave up on time.
pub(crate) const TIME_UP: &str = "time limit reached";

/// Entries (states, transitions, configurations) from which a search with a
/// deadline frees its memory on a thread of its own.
const FREE_APART: usize = 1 << 16;

/// Frees a search's `garbage` of about `entries` entries. Under a deadline a big
/// one goes to a thread of its own: freeing gigabytes of states and configurations
/// one by one takes seconds, and the verdict must not wait for it (`splitbrain
/// check` exits before it is done). Small ones, and everything without a deadline
/// (benchmarks count memory), are freed here; so is everything if no thread starts.
pub(crate) fn dispose<T: Send + 'static>(deadline: bool, entries: usize, garbage: T) {
    if deadline && entries >= FREE_APART {
        let _ = std::thread::Builder::new()
            .name("checker-free".to_string())
            .spawn(move || drop(garbage));
    }
}
