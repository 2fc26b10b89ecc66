//! Reading a process's vDSO: where it is, where its clock functions start, what
//! their first instructions are, and where there is room for our pages.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// A mapping from /proc/PID/maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    pub name: String,
}

pub fn maps(pid: u32) -> Result<Vec<Region>, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/maps")).map_err(|e| format!("pid {pid}: {e}"))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (a, b) = f.next()?.split_once('-')?;
            Some(Region {
                start: u64::from_str_radix(a, 16).ok()?,
                end: u64::from_str_radix(b, 16).ok()?,
                name: f.nth(4).unwrap_or("").to_string(),
            })
        })
        .collect())
}

/// The functions a skew replaces, as addresses in the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vdso {
    pub start: u64,
    pub end: u64,
    pub clock_gettime: u64,
    pub gettimeofday: u64,
    pub time: u64,
    /// An `0f 05` (syscall) byte pair: a thread pointed here makes one syscall.
    pub syscall: u64,
}

fn u16_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?) as u64)
}
fn u32_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?) as u64)
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

/// Dynamic symbols of an ELF64 image (name, value), from its section headers.
fn dynamic_symbols(elf: &[u8]) -> Option<Vec<(String, u64)>> {
    if elf.get(..5)? != b"\x7fELF\x02" || u16_at(elf, 18)? != 62 {
        return None; // not x86-64 ELF64
    }
    let shoff = u64_at(elf, 0x28)? as usize;
    let shentsize = u16_at(elf, 0x3a)? as usize;
    let shnum = u16_at(elf, 0x3c)? as usize;
    let section = |i: usize| shoff + i * shentsize;
    let dynsym = (0..shnum).find(|&i| u32_at(elf, section(i) + 4) == Some(11))?; // SHT_DYNSYM
    let s = section(dynsym);
    let (off, size, link, entsize) = (
        u64_at(elf, s + 0x18)? as usize,
        u64_at(elf, s + 0x20)? as usize,
        u32_at(elf, s + 0x28)? as usize,
        u64_at(elf, s + 0x38)?.max(24) as usize,
    );
    let strtab = u64_at(elf, section(link) + 0x18)? as usize;
    let mut out = Vec::new();
    for i in 0..size / entsize {
        let sym = off + i * entsize;
        let name_at = strtab + u32_at(elf, sym)? as usize;
        let name = elf.get(name_at..)?.split(|&c| c == 0).next()?;
        out.push((String::from_utf8_lossy(name).into_owned(), u64_at(elf, sym + 8)?));
    }
    Some(out)
}

impl Vdso {
    /// Finds the vDSO of `pid` and the functions in it, read through `mem`
    /// (the process's /proc/PID/mem).
    pub fn find(pid: u32, mem: &File) -> Result<Vdso, String> {
        let region = maps(pid)?
            .into_iter()
            .find(|r| r.name == "[vdso]")
            .ok_or("the process has no vDSO mapped")?;
        let mut image = vec![0u8; (region.end - region.start) as usize];
        mem.read_exact_at(&mut image, region.start)
            .map_err(|e| format!("reading its vDSO: {e}"))?;
        let symbols = dynamic_symbols(&image).ok_or("its vDSO is not an x86-64 ELF image I can read")?;
        let find = |name: &str| {
            symbols
                .iter()
                .find(|(n, v)| n == name && *v != 0)
                .map(|(_, v)| region.start + v)
                .ok_or_else(|| format!("its vDSO has no {name}"))
        };
        let syscall = image
            .windows(2)
            .position(|w| w == [0x0f, 0x05])
            .ok_or("its vDSO has no syscall instruction")?;
        Ok(Vdso {
            start: region.start,
            end: region.end,
            clock_gettime: find("__vdso_clock_gettime")?,
            gettimeofday: find("__vdso_gettimeofday")?,
            time: find("__vdso_time")?,
            syscall: region.start + syscall as u64,
        })
    }
}

/// Length of the instruction at the start of `code` when it is one we know to be
/// position-independent (a function prologue), else `None`.
fn prologue_instruction(code: &[u8]) -> Option<usize> {
    match code {
        [0xf3, 0x0f, 0x1e, 0xfa, ..] => Some(4),              // endbr64
        [0x50..=0x57, ..] => Some(1),                         // push r64
        [0x41, 0x50..=0x57, ..] => Some(2),                   // push r8..r15
        [0x48, 0x89, 0xe5, ..] => Some(3),                    // mov rbp, rsp
        [0x48, 0x83, 0xec | 0xe4, _, ..] => Some(4),          // sub / and rsp, imm8
        [0x48, 0x81, 0xec | 0xe4, _, _, _, _, ..] => Some(7), // sub / and rsp, imm32
        _ => None,
    }
}

/// How many bytes from the start of a function to move into the trampoline so
/// that a 5-byte jump fits in their place: whole, known instructions only.
pub fn relocatable(code: &[u8]) -> Result<usize, String> {
    let mut len = 0;
    while len < 5 {
        len += prologue_instruction(&code[len..]).ok_or_else(|| {
            let hex: Vec<String> = code.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!(
                "clock_gettime starts with instructions I cannot move ({})",
                hex.join(" ")
            )
        })?;
    }
    Ok(len)
}

/// A free range of `len` bytes whose every byte a `jmp rel32` at `near` can reach,
/// between the process's mappings.
pub fn room_near(regions: &[Region], near: u64, len: u64) -> Option<u64> {
    const REACH: u64 = (1 << 31) - (1 << 20);
    let lo = near.saturating_sub(REACH).max(1 << 20);
    let hi = near.saturating_add(REACH);
    let mut sorted: Vec<(u64, u64)> = regions.iter().map(|r| (r.start, r.end)).collect();
    sorted.sort_unstable();
    // gaps between consecutive mappings, nearest to `near` first
    let mut gaps: Vec<(u64, u64)> = sorted
        .windows(2)
        .filter(|w| w[1].0 > w[0].1)
        .map(|w| (w[0].1, w[1].0))
        .collect();
    if let Some(&(first, _)) = sorted.first() {
        gaps.push((lo, first));
    }
    gaps.sort_by_key(|&(a, b)| near.abs_diff(a).min(near.abs_diff(b)));
    for (a, b) in gaps {
        // keep a page free on both sides, away from guard pages and stacks' growth
        let (a, b) = (a.max(lo) + 0x10000, b.min(hi).saturating_sub(0x10000));
        if b > a && b - a >= len {
            // the end of the gap nearest to `near`
            return Some(if near >= b { b - len } else { a });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prologues_of_this_kernel_and_of_others() {
        // push rbp; mov rbp,rsp; push r14 (kernel 6.x)
        assert_eq!(relocatable(&[0x55, 0x48, 0x89, 0xe5, 0x41, 0x56, 0x53]), Ok(6));
        // endbr64; push rbp
        assert_eq!(relocatable(&[0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48]), Ok(5));
        // a RIP-relative lea cannot be moved
        assert!(
            relocatable(&[0x55, 0x4c, 0x8d, 0x15, 0xe8, 0x97, 0xff, 0xff])
                .unwrap_err()
                .contains("55 4c 8d 15")
        );
    }

    #[test]
    fn room_is_within_reach_and_free() {
        let r = |start, end| Region {
            start,
            end,
            name: String::new(),
        };
        let regions = [
            r(0x5555_0000_0000, 0x5555_0010_0000),
            r(0x7fff_f000_0000, 0x7fff_f000_2000),
        ];
        let at = room_near(&regions, 0x7fff_f000_0000, 8192).unwrap();
        assert!(at + 8192 <= 0x7fff_f000_0000 - 0x10000);
        assert!(0x7fff_f000_0000 - at < 1 << 31);
        assert_eq!(room_near(&[r(0x1000, 0x7fff_ffff_f000)], 0x4000_0000, 8192), None);
    }

    #[test]
    fn our_own_vdso_has_the_clock_functions() {
        let pid = std::process::id();
        let mem = File::open(format!("/proc/{pid}/mem")).unwrap();
        let v = Vdso::find(pid, &mem).unwrap();
        for f in [v.clock_gettime, v.gettimeofday, v.time, v.syscall] {
            assert!((v.start..v.end).contains(&f));
        }
        let mut code = [0u8; 16];
        mem.read_exact_at(&mut code, v.clock_gettime).unwrap();
        relocatable(&code).unwrap();
    }
}
