//! The code a skewed process runs instead of its vDSO clock functions, and the
//! page of parameters it reads them from.
//!
//! It is assembled into our own binary (never executed here) and copied into a
//! page of the target mapped right after the parameter page, so that the code
//! finds its parameters at `code - 4096` whatever address it lands at. The
//! harness maps the same two pages (a memfd), so every later change of skew is a
//! plain memory write, under a seqlock, with the target running.
//!
//! Per clock class (wall, mono) the fake computes, from the real reading `t`:
//! `t + offset + (t - anchor) * rate / 2^32`. With no rate (a bump or a strobe)
//! it adds seconds and nanoseconds; with one, it splits nanoseconds into seconds
//! by a multiplication: no division on either path.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering, fence};

use nix::libc;

/// Clock ids by class, as bit masks over ids 0..31. Wall: REALTIME (0),
/// REALTIME_COARSE (5), REALTIME_ALARM (8), TAI (11). Mono: MONOTONIC (1),
/// MONOTONIC_RAW (4), MONOTONIC_COARSE (6), BOOTTIME (7), BOOTTIME_ALARM (9).
/// CPU-time clocks (2, 3) and per-process ids (negative) are never skewed.
pub const WALL_IDS: u32 = 1 | 1 << 5 | 1 << 8 | 1 << 11;
pub const MONO_IDS: u32 = 1 << 1 | 1 << 4 | 1 << 6 | 1 << 7 | 1 << 9;

/// Bytes of one class's block in the parameter page; the wall class first.
pub const CLASS: usize = 64;
/// Where the classes' call counters are, one cache line each, apart from the
/// parameters every call reads.
pub const CALLS: usize = 128;
pub const PAGE: usize = 4096;
/// Where the per-clock-id drift anchors are (32 of them).
pub const ANCHORS: usize = 256;
/// Bytes reserved at the end of the code for the relocated first instructions of
/// the real clock_gettime and the jump back into it.
pub const TRAMPOLINE: usize = 32;

// The parameter block of a class (offsets used by the assembly):
//   0 seq: u32 (odd while the harness writes)   4 active: u32
//   8 off_sec: i64   16 off_nsec: i64 (0..1e9)  24 anchor: i64 (real ns, of the
//  class's base clock: REALTIME or MONOTONIC)
//  32 rate: i64 (Q32: the fake runs at 1 + rate / 2^32 times real speed)
// and at ANCHORS + 8 * id, the same anchor instant on each clock id's own scale
// (TAI, BOOTTIME and MONOTONIC_RAW are not REALTIME or MONOTONIC plus nothing),
// under the seqlock of the id's class.
std::arch::global_asm!(
    r#"
    .pushsection .rodata.splitbrain_clock,"a"
    .balign 64
    .globl splitbrain_clock_code
splitbrain_clock_code:

    # clock_gettime(clockid in edi, timespec in rsi)
    .globl splitbrain_clock_gettime
splitbrain_clock_gettime:
.Lcg:
    cmpl $31, %edi
    ja .Lpass
    leaq splitbrain_clock_code-4096(%rip), %r11
    movl ${wall}, %eax
    btl %edi, %eax
    jc 1f
    movl ${mono}, %eax
    btl %edi, %eax
    jnc .Lpass
    addq $64, %r11
1:  cmpl $0, 4(%r11)
    je .Lpass
    pushq %rbx
    pushq %r12
    pushq %r13
    movq %rsi, %rbx
    movq %r11, %r12
    movl %edi, %r13d
    call .Lreal
    testl %eax, %eax
    jnz .Lout
2:  movl (%r12), %ecx
    testl $1, %ecx
    jnz 7f
    movq 8(%r12), %r8
    movq 16(%r12), %r9
    movq %r12, %r10
    andq $-4096, %r10
    movq {anchors}(%r10,%r13,8), %r10
    movq 32(%r12), %r11
    cmpl (%r12), %ecx
    jne 2b
    testq %r11, %r11
    jnz 3f
    movq (%rbx), %rax
    movq 8(%rbx), %rdx
    addq %r8, %rax
    addq %r9, %rdx
    cmpq $999999999, %rdx
    jbe 4f
    subq $1000000000, %rdx
    incq %rax
4:  testq %rax, %rax
    jns 5f
    xorl %eax, %eax
    xorl %edx, %edx
5:  movq %rax, (%rbx)
    movq %rdx, 8(%rbx)
    incq 128(%r12)
    xorl %eax, %eax
.Lout:
    popq %r13
    popq %r12
    popq %rbx
    ret
7:  pause
    jmp 2b
3:  imulq $1000000000, (%rbx), %r13
    addq 8(%rbx), %r13
    movq %r13, %rax
    subq %r10, %rax
    imulq %r11
    shrdq $32, %rdx, %rax
    addq %rax, %r13
    imulq $1000000000, %r8, %r8
    addq %r9, %r8
    addq %r8, %r13
    jns 6f
    xorl %r13d, %r13d
    # seconds = ns / 1e9 by a multiply (exact for every u64), nanoseconds the rest
6:  movq %r13, %rax
    shrq $9, %rax
    movabsq $0x44b82fa09b5a53, %rdx
    mulq %rdx
    shrq $11, %rdx
    movq %rdx, %rax
    imulq $1000000000, %rdx, %rdx
    subq %rdx, %r13
    movq %r13, %rdx
    jmp 5b
.Lpass:
    jmp .Lreal

    # gettimeofday(timeval in rdi, timezone in rsi): the (possibly skewed)
    # REALTIME in microseconds; the timezone from the kernel when asked
    .globl splitbrain_gettimeofday
splitbrain_gettimeofday:
    pushq %rbx
    pushq %r12
    subq $24, %rsp
    movq %rdi, %rbx
    movq %rsi, %r12
    testq %r12, %r12
    jz 1f
    xorl %edi, %edi
    movq %r12, %rsi
    movl $96, %eax
    syscall
    testq %rax, %rax
    jnz 3f
1:  testq %rbx, %rbx
    jz 2f
    xorl %edi, %edi
    movq %rsp, %rsi
    call .Lcg
    testl %eax, %eax
    jnz 3f
    movq (%rsp), %rax
    movq %rax, (%rbx)
    movq 8(%rsp), %rax
    imulq $0x10624dd3, %rax, %rax
    shrq $38, %rax
    movq %rax, 8(%rbx)
2:  xorl %eax, %eax
3:  addq $24, %rsp
    popq %r12
    popq %rbx
    ret

    # time(tloc in rdi): seconds of (possibly skewed) REALTIME_COARSE
    .globl splitbrain_time
splitbrain_time:
    pushq %rbx
    subq $16, %rsp
    movq %rdi, %rbx
    movl $5, %edi
    movq %rsp, %rsi
    call .Lcg
    movq (%rsp), %rax
    testq %rbx, %rbx
    jz 1f
    movq %rax, (%rbx)
1:  addq $16, %rsp
    popq %rbx
    ret

    # the real clock_gettime: its first instructions, copied here at injection,
    # then a jump to the rest of it
    .balign 16
    .globl splitbrain_clock_real
splitbrain_clock_real:
.Lreal:
    .fill {trampoline}, 1, 0xcc
    .globl splitbrain_clock_code_end
splitbrain_clock_code_end:
    .popsection
"#,
    wall = const WALL_IDS,
    mono = const MONO_IDS,
    trampoline = const TRAMPOLINE,
    anchors = const ANCHORS,
    options(att_syntax)
);

unsafe extern "C" {
    static splitbrain_clock_code: u8;
    static splitbrain_clock_gettime: u8;
    static splitbrain_gettimeofday: u8;
    static splitbrain_time: u8;
    static splitbrain_clock_real: u8;
    static splitbrain_clock_code_end: u8;
}

/// The code to copy, and where in it each entry point is.
pub struct Code {
    pub bytes: &'static [u8],
    pub clock_gettime: usize,
    pub gettimeofday: usize,
    pub time: usize,
    pub trampoline: usize,
}

pub fn code() -> Code {
    // SAFETY: the symbols delimit one contiguous blob of our own read-only data
    unsafe {
        let start = &raw const splitbrain_clock_code as usize;
        let at = |p: *const u8| p as usize - start;
        let len = at(&raw const splitbrain_clock_code_end);
        Code {
            bytes: std::slice::from_raw_parts(start as *const u8, len),
            clock_gettime: at(&raw const splitbrain_clock_gettime),
            gettimeofday: at(&raw const splitbrain_gettimeofday),
            time: at(&raw const splitbrain_time),
            trampoline: at(&raw const splitbrain_clock_real),
        }
    }
}

/// Which of a process's clocks a skew applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// REALTIME and its variants: what the process believes the date is.
    Wall,
    /// MONOTONIC, BOOTTIME and variants: what timeouts and leases are measured on.
    Mono,
}

impl Class {
    pub fn index(self) -> usize {
        match self {
            Class::Wall => 0,
            Class::Mono => 1,
        }
    }

    /// The real clock of this class, read here (the harness's own, never skewed).
    pub fn now_ns(self) -> i64 {
        let id = match self {
            Class::Wall => libc::CLOCK_REALTIME,
            Class::Mono => libc::CLOCK_MONOTONIC,
        };
        clock_ns(id).expect("clock_gettime of a standard clock")
    }
}

/// Clock `id` read here, in ns; `None` where the kernel has no such clock.
fn clock_ns(id: libc::clockid_t) -> Option<i64> {
    let t = nix::time::clock_gettime(nix::time::ClockId::from_raw(id)).ok()?;
    Some(t.tv_sec() * 1_000_000_000 + t.tv_nsec())
}

/// A skew of one class: the fake reads `real + offset_ns + (real - anchor) * rate`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Skew {
    pub offset_ns: i64,
    /// Speed minus one: 1.0 runs at twice real speed, -0.5 at half.
    pub rate: f64,
    pub anchor_ns: i64,
}

impl Skew {
    /// The offset this skew gives at real time `now_ns`.
    pub fn offset_at(&self, now_ns: i64) -> i64 {
        self.offset_ns + ((now_ns - self.anchor_ns) as f64 * self.rate) as i64
    }
}

/// The parameter page, seen from the harness (a shared mapping of it).
pub struct Params {
    base: *mut u8,
}

// SAFETY: every access goes through atomics; the page lives as long as `Params`'s owner keeps it mapped
unsafe impl Send for Params {}
unsafe impl Sync for Params {}

impl Params {
    /// # Safety
    /// `base` is a writable mapping of at least one page that outlives the value.
    pub unsafe fn new(base: *mut u8) -> Params {
        Params { base }
    }

    fn u32_at(&self, off: usize) -> &AtomicU32 {
        // SAFETY: inside the page, aligned by the layout above
        unsafe { &*(self.base.add(off) as *const AtomicU32) }
    }

    fn i64_at(&self, off: usize) -> &AtomicI64 {
        // SAFETY: as above
        unsafe { &*(self.base.add(off) as *const AtomicI64) }
    }

    /// Sets a class's skew; `None` passes its clocks through untouched.
    pub fn set(&self, class: Class, skew: Option<Skew>) {
        let b = class.index() * CLASS;
        let seq = self.u32_at(b);
        let s = seq.load(Ordering::Relaxed);
        seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let skew = skew.unwrap_or_default();
        let mask = match class {
            Class::Wall => WALL_IDS,
            Class::Mono => MONO_IDS,
        };
        let base = class.now_ns();
        let since = base - skew.anchor_ns;
        for id in (0..32).filter(|id| mask & 1 << id != 0) {
            let now = clock_ns(id).unwrap_or(base);
            self.i64_at(ANCHORS + 8 * id as usize)
                .store(now - since, Ordering::Relaxed);
        }
        self.i64_at(b + 8)
            .store(skew.offset_ns.div_euclid(1_000_000_000), Ordering::Relaxed);
        self.i64_at(b + 16)
            .store(skew.offset_ns.rem_euclid(1_000_000_000), Ordering::Relaxed);
        self.i64_at(b + 24).store(skew.anchor_ns, Ordering::Relaxed);
        self.i64_at(b + 32)
            .store((skew.rate * 4_294_967_296.0) as i64, Ordering::Relaxed);
        fence(Ordering::Release);
        seq.store(s.wrapping_add(2), Ordering::Release);
        self.u32_at(b + 4)
            .store(u32::from(skew != Skew::default()), Ordering::Release);
    }

    /// A class's skew as the target reads it.
    pub fn get(&self, class: Class) -> Option<Skew> {
        let b = class.index() * CLASS;
        if self.u32_at(b + 4).load(Ordering::Acquire) == 0 {
            return None;
        }
        loop {
            let seq = self.u32_at(b).load(Ordering::Acquire);
            let skew = Skew {
                offset_ns: self.i64_at(b + 8).load(Ordering::Relaxed) * 1_000_000_000
                    + self.i64_at(b + 16).load(Ordering::Relaxed),
                anchor_ns: self.i64_at(b + 24).load(Ordering::Relaxed),
                rate: self.i64_at(b + 32).load(Ordering::Relaxed) as f64 / 4_294_967_296.0,
            };
            fence(Ordering::Acquire);
            if seq.is_multiple_of(2) && self.u32_at(b).load(Ordering::Relaxed) == seq {
                return Some(skew);
            }
            std::hint::spin_loop();
        }
    }

    /// Clock reads the fake has answered with a skew, per class.
    pub fn calls(&self, class: Class) -> u64 {
        // SAFETY: inside the page, aligned
        let c = unsafe { &*(self.base.add(CALLS + class.index() * CLASS) as *const AtomicU64) };
        c.load(Ordering::Relaxed)
    }
}
