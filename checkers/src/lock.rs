//! Lock services judged by what they protect (and elections, whose terms are
//! the tokens and whose leaders' jobs are the critical sections).
//!
//! In the lock workload each client acquires the lock, reads a counter resource,
//! writes back what it read plus one, and releases. A lock that keeps its promise
//! leaves the counter equal to the number of writes the resource accepted; one
//! that does not shows it there as lost increments and as holders that overlapped
//! and both wrote. Fencing tokens must be unique, grow with acquisition order, and
//! never go backwards in the resource's log of accepted writes.
//!
//! History positions order everything: a history is in real-time order, and
//! positions also break ties between equal timestamps. Times are only shown.

use std::fmt;
use std::time::Instant;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::check::Verdict;
use crate::history::{Call, History, HistoryError};
use crate::op::{Op, Process, Type};
use crate::value::Value;

const LOCK_KEY: &str = "lock";
pub(crate) const ELECTION_KEY: &str = "election";
pub(crate) const RESOURCE_KEY: &str = "resource";
/// The error a fenced resource gives a write or read carrying an outdated token.
const STALE: &str = "stale token";
/// Violations printed, and harmless overlaps kept, at most.
const LISTED: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// A write that did not build on the write the resource logged just before it.
    LostUpdate,
    /// Two holders at once, and both changed the resource after both held the lock.
    ConflictingOverlap,
    /// Two successful acquisitions got the same fencing token.
    DuplicateToken,
    /// An acquisition that began after another had finished got a lower token.
    TokenOrder,
    /// The resource accepted a write whose token was older than one it had already accepted.
    StaleWriteAccepted,
    /// The final read disagrees with the last write the resource logged.
    FinalValue,
}

impl ViolationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationKind::LostUpdate => "lost update",
            ViolationKind::ConflictingOverlap => "conflicting overlap",
            ViolationKind::DuplicateToken => "duplicate token",
            ViolationKind::TokenOrder => "token order",
            ViolationKind::StaleWriteAccepted => "stale write accepted",
            ViolationKind::FinalValue => "final value",
        }
    }

    const ALL: [ViolationKind; 6] = [
        ViolationKind::LostUpdate,
        ViolationKind::ConflictingOverlap,
        ViolationKind::DuplicateToken,
        ViolationKind::TokenOrder,
        ViolationKind::StaleWriteAccepted,
        ViolationKind::FinalValue,
    ];
}

/// One lock or resource call, described for a person.
#[derive(Clone, Debug, Serialize)]
pub struct LockOpView {
    pub process: String,
    pub f: String,
    /// Index of the invocation.
    pub index: u64,
    pub token: Option<i64>,
    /// The counter value read or written.
    pub value: Option<i64>,
    /// The write's position in the resource's log of accepted writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// When it was invoked and when it completed, if the history has times.
    pub time_ms: Option<f64>,
    pub completed_ms: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LockViolation {
    pub kind: ViolationKind,
    pub message: String,
    pub ops: Vec<LockOpView>,
}

/// Two holders at once where the resource shows no harm.
#[derive(Clone, Debug, Serialize)]
pub struct Overlap {
    /// The two acquisitions, earlier first.
    pub holders: [LockOpView; 2],
    pub message: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct LockStats {
    pub acquires_ok: usize,
    pub acquires_failed: usize,
    /// Acquisitions with an unknown outcome, pending ones included.
    pub acquires_info: usize,
    pub critical_sections: usize,
    /// Acknowledged writes: each is one increment the counter must keep.
    pub writes_ok: usize,
    pub writes_rejected_stale: usize,
    /// Writes that failed for another reason (resource unreachable): not applied.
    pub writes_failed: usize,
    pub writes_info: usize,
    pub reads_rejected_stale: usize,
    /// What the last final read saw.
    pub final_value: Option<i64>,
    /// Increments overwritten, summed over lost updates (a later write may have
    /// built on an overwritten value again, so this can exceed `missing`).
    pub lost_updates: u64,
    /// How far the final counter falls short of the acknowledged increments:
    /// the updates lost for good (known when no write's outcome is unknown).
    pub missing: Option<i64>,
    /// Pairs of critical sections of different processes that overlapped.
    pub overlaps: usize,
    pub conflicting_overlaps: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct LockReport {
    pub verdict: Verdict,
    /// Why the verdict is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub violations: Vec<LockViolation>,
    /// The first harmless overlaps; `stats.overlaps` counts them all.
    pub harmless_overlaps: Vec<Overlap>,
    pub stats: LockStats,
    pub elapsed_ms: f64,
}

/// Checks a lock workload's history. Bad histories, and lock or resource ops whose
/// values have the wrong shape, are errors rather than verdicts.
pub fn check_lock(history: &History) -> Result<LockReport, HistoryError> {
    let start = Instant::now();
    history.require_client_ops()?;
    let obs = Observed::new(history)?;
    let writes = logged_writes(&obs)?;
    let sections = critical_sections(&obs);
    let mut stats = count(&obs, sections.len());
    let (lost, mut violations) = lost_updates(&obs, &writes);
    stats.lost_updates = lost;
    violations.extend(stale_writes_accepted(&obs, &writes));
    violations.extend(duplicate_tokens(&obs));
    violations.extend(token_order(&obs));
    let (final_value, mismatch) = final_value(&obs, &writes);
    stats.final_value = final_value;
    stats.missing = final_value
        .filter(|_| stats.writes_info == 0)
        .map(|v| stats.writes_ok as i64 - v);
    violations.extend(mismatch);
    let overlaps = overlaps(&obs, &sections);
    stats.overlaps = overlaps.total;
    stats.conflicting_overlaps = overlaps.conflicting.len();
    violations.extend(overlaps.conflicting);
    let (verdict, reason) = verdict(&violations, &stats);
    Ok(LockReport {
        verdict,
        reason,
        violations,
        harmless_overlaps: overlaps.harmless,
        stats,
        elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
    })
}

fn verdict(violations: &[LockViolation], stats: &LockStats) -> (Verdict, Option<String>) {
    if !violations.is_empty() {
        (Verdict::Invalid, None)
    } else if stats.acquires_ok == 0 {
        (
            Verdict::Unknown,
            Some("no acquire succeeded: no critical section to judge".into()),
        )
    } else if stats.writes_ok == 0 {
        (
            Verdict::Unknown,
            Some("no write was acknowledged: nothing at the resource to judge".into()),
        )
    } else {
        (Verdict::Valid, None)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Acquire,
    Release,
    /// A read inside a critical section, carrying a token.
    Read,
    /// A read after the clients stopped, without a token: the counter's final value.
    FinalRead,
    Write,
}

/// A lock or resource call with the numbers its values carry (known for ok calls only).
#[derive(Clone, Copy, Debug)]
struct LockCall {
    call: Call,
    role: Role,
    token: Option<i64>,
    value: Option<i64>,
    seq: Option<i64>,
    /// Failed because a fenced resource refused its token.
    stale: bool,
}

impl LockCall {
    fn ok(&self) -> bool {
        self.call.outcome == Type::Ok
    }

    /// Ok calls carry all of these, checked while parsing; zero is never read.
    fn token(&self) -> i64 {
        self.token.unwrap_or_default()
    }

    fn value(&self) -> i64 {
        self.value.unwrap_or_default()
    }

    fn seq(&self) -> i64 {
        self.seq.unwrap_or_default()
    }
}

/// The lock and resource calls of a history, in invocation order.
struct Observed<'a> {
    history: &'a History,
    calls: Vec<LockCall>,
    words: &'static Words,
}

/// How violations name the token and holding it: a lock's, or an election's.
struct Words {
    token: &'static str,
    held: &'static str,
}

const LOCK_WORDS: Words = Words {
    token: "token",
    held: "held the lock",
};

/// An election's terms are its tokens, and holding one is leading.
const ELECTION_WORDS: Words = Words {
    token: "term",
    held: "led",
};

impl<'a> Observed<'a> {
    fn new(history: &'a History) -> Result<Observed<'a>, HistoryError> {
        let mut calls = Vec::new();
        for call in history.pair()? {
            if let Some(c) = parse(history, call)? {
                calls.push(c);
            }
        }
        let election = history.ops.iter().any(|o| o.f.as_str() == "campaign");
        let words = if election { &ELECTION_WORDS } else { &LOCK_WORDS };
        Ok(Observed { history, calls, words })
    }

    fn ok(&self, role: Role) -> impl Iterator<Item = usize> + '_ {
        (0..self.calls.len()).filter(move |&i| self.calls[i].role == role && self.calls[i].ok())
    }

    fn invoked(&self, i: usize) -> u32 {
        self.calls[i].call.invoke
    }

    /// Position of the completion; past the end for a call that never completed.
    fn completed(&self, i: usize) -> u32 {
        self.calls[i].call.complete.unwrap_or(self.end())
    }

    fn end(&self) -> u32 {
        self.history.ops.len() as u32
    }

    fn process(&self, i: usize) -> Process {
        self.history.ops[self.invoked(i) as usize].process
    }

    fn view(&self, i: usize) -> LockOpView {
        let c = &self.calls[i];
        let invoke = &self.history.ops[c.call.invoke as usize];
        LockOpView {
            process: invoke.process.to_string(),
            f: invoke.f.to_string(),
            index: invoke.index,
            token: c.token,
            value: c.value,
            seq: c.seq,
            time_ms: ms(invoke),
            completed_ms: c.call.complete.and_then(|p| ms(&self.history.ops[p as usize])),
        }
    }

    /// A history position for a person: its time, or its op index.
    fn when(&self, position: u32) -> String {
        match self.history.ops.get(position as usize) {
            None => "the end of the history".to_string(),
            Some(op) => match ms(op) {
                Some(t) => format!("{t:.3} ms"),
                None => format!("op {}", op.index),
            },
        }
    }

    fn violation(&self, kind: ViolationKind, message: String, calls: &[usize]) -> LockViolation {
        LockViolation {
            kind,
            message,
            ops: calls.iter().map(|&i| self.view(i)).collect(),
        }
    }
}

fn ms(op: &Op) -> Option<f64> {
    op.time.map(|t| t as f64 / 1e6)
}

/// Reads a call's role and numbers; other keys and functions are not ours.
fn parse(history: &History, call: Call) -> Result<Option<LockCall>, HistoryError> {
    let view = history.call(&call);
    let invoke = view.invoke;
    let key = invoke.key.as_ref().and_then(Value::as_str);
    let role = match (invoke.f.as_str(), key) {
        // an election's term is a token: campaigns acquire, resignations release
        ("acquire", Some(LOCK_KEY)) | ("campaign", Some(ELECTION_KEY)) => Role::Acquire,
        ("release", Some(LOCK_KEY)) | ("resign", Some(ELECTION_KEY)) => Role::Release,
        ("read", Some(RESOURCE_KEY)) => match slots::<2>(&invoke.value) {
            Some([None, _]) => Role::FinalRead,
            Some([Some(_), _]) => Role::Read,
            None => return Err(shape_error(invoke, "[token nil], or [nil nil] for the final read")),
        },
        ("write", Some(RESOURCE_KEY)) => Role::Write,
        _ => return Ok(None),
    };
    let mut parsed = LockCall {
        call,
        role,
        token: None,
        value: None,
        seq: None,
        stale: false,
    };
    match (call.outcome, view.complete) {
        (Type::Ok, Some(done)) => read_ok_value(&mut parsed, done)?,
        (Type::Fail, Some(done)) => parsed.stale = done.error.as_deref().and_then(Value::as_str) == Some(STALE),
        _ => {}
    }
    Ok(Some(parsed))
}

/// Fills in the numbers an ok completion reports.
fn read_ok_value(call: &mut LockCall, done: &Op) -> Result<(), HistoryError> {
    match call.role {
        Role::Acquire => {
            let Value::Int(token) = done.value else {
                return Err(shape_error(done, "the fencing token, an integer"));
            };
            call.token = Some(token);
        }
        Role::Release => {}
        Role::Read | Role::FinalRead => {
            let Some([token, Some(value)]) = slots::<2>(&done.value) else {
                return Err(shape_error(done, "[token counter]"));
            };
            call.token = token;
            call.value = Some(value);
        }
        Role::Write => {
            let Some([Some(token), Some(value), Some(seq @ 1..)]) = slots::<3>(&done.value) else {
                return Err(shape_error(done, "[token counter seq], seq from 1"));
            };
            call.token = Some(token);
            call.value = Some(value);
            call.seq = Some(seq);
        }
    }
    Ok(())
}

/// A list value of `N` integers or nils, or `None` for any other shape.
fn slots<const N: usize>(value: &Value) -> Option<[Option<i64>; N]> {
    let items = value.as_list().filter(|items| items.len() == N)?;
    let mut out = [None; N];
    for (slot, item) in out.iter_mut().zip(items) {
        *slot = match item {
            Value::Int(i) => Some(*i),
            Value::Nil => None,
            _ => return None,
        };
    }
    Some(out)
}

fn shape_error(op: &Op, expected: &str) -> HistoryError {
    HistoryError {
        line: op.line,
        message: format!(
            "{} {} on {}: value should be {expected}, got {}",
            op.f,
            op.kind.as_str(),
            op.key.as_ref().map_or("no key".to_string(), Value::to_string),
            op.value
        ),
    }
}

fn count(obs: &Observed, critical_sections: usize) -> LockStats {
    let mut stats = LockStats {
        critical_sections,
        ..LockStats::default()
    };
    for c in &obs.calls {
        let counter = match (c.role, c.call.outcome) {
            (Role::Acquire, Type::Ok) => &mut stats.acquires_ok,
            (Role::Acquire, Type::Fail) => &mut stats.acquires_failed,
            (Role::Acquire, _) => &mut stats.acquires_info,
            (Role::Write, Type::Ok) => &mut stats.writes_ok,
            (Role::Write, Type::Fail) if c.stale => &mut stats.writes_rejected_stale,
            (Role::Write, Type::Fail) => &mut stats.writes_failed,
            (Role::Write, _) => &mut stats.writes_info,
            (Role::Read | Role::FinalRead, Type::Fail) if c.stale => &mut stats.reads_rejected_stale,
            _ => continue,
        };
        *counter += 1;
    }
    stats
}

/// Acknowledged writes in the order the resource logged them.
///
/// The resource is the test's own fixture, so two writes at one log position mean
/// a broken fixture or recorder, not a broken lock: that is an error.
fn logged_writes(obs: &Observed) -> Result<Vec<usize>, HistoryError> {
    let mut writes: Vec<usize> = obs.ok(Role::Write).collect();
    writes.sort_by_key(|&w| obs.calls[w].seq());
    for pair in writes.windows(2) {
        let (a, b) = (&obs.calls[pair[0]], &obs.calls[pair[1]]);
        if a.seq() == b.seq() {
            let first = &obs.history.ops[obs.completed(pair[0]) as usize];
            let second = &obs.history.ops[obs.completed(pair[1]) as usize];
            return Err(HistoryError {
                line: second.line,
                message: format!(
                    "the resource logged two writes at seq {} (this one and op {})",
                    a.seq(),
                    first.index
                ),
            });
        }
    }
    Ok(writes)
}

/// Writes that did not build on their predecessor in the resource's log.
///
/// Under mutual exclusion write k+1 read what write k wrote, so it writes one more;
/// the first write builds on the initial 0. Returns the increments overwritten too.
fn lost_updates(obs: &Observed, writes: &[usize]) -> (u64, Vec<LockViolation>) {
    let mut lost = 0u64;
    let mut out = Vec::new();
    if let Some(&first) = writes.first()
        && obs.calls[first].seq() == 1
        && obs.calls[first].value() != 1
    {
        let v = obs.calls[first].value();
        lost = lost.saturating_add(overwritten(0, v));
        let message = format!("seq 1 wrote {v}, but the counter starts at 0");
        out.push(obs.violation(ViolationKind::LostUpdate, message, &[first]));
    }
    for pair in writes.windows(2) {
        let (a, b) = (&obs.calls[pair[0]], &obs.calls[pair[1]]);
        if a.seq().checked_add(1) != Some(b.seq()) || a.value().checked_add(1) == Some(b.value()) {
            continue;
        }
        let n = overwritten(a.value(), b.value());
        lost = lost.saturating_add(n);
        let effect = if n > 0 {
            format!("it overwrote {n} increment{}", if n == 1 { "" } else { "s" })
        } else {
            format!("it did not read {}", a.value())
        };
        let message = format!(
            "seq {} wrote {} after seq {} wrote {}: {effect}",
            b.seq(),
            b.value(),
            a.seq(),
            a.value()
        );
        out.push(obs.violation(ViolationKind::LostUpdate, message, pair));
    }
    (lost, out)
}

/// Increments lost when `after` was written right after `before`: zero unless it went no higher.
fn overwritten(before: i64, after: i64) -> u64 {
    if after <= before {
        before.abs_diff(after).saturating_add(1)
    } else {
        0
    }
}

/// Accepted writes whose token is older than one the resource had already accepted:
/// exactly what fencing exists to refuse.
fn stale_writes_accepted(obs: &Observed, writes: &[usize]) -> Vec<LockViolation> {
    let mut out = Vec::new();
    let mut newest: Option<usize> = None;
    for &w in writes {
        let token = obs.calls[w].token();
        match newest {
            Some(n) if token < obs.calls[n].token() => {
                let message = format!(
                    "seq {} with {t} {token} accepted after seq {} with {t} {}",
                    obs.calls[w].seq(),
                    obs.calls[n].seq(),
                    obs.calls[n].token(),
                    t = obs.words.token
                );
                out.push(obs.violation(ViolationKind::StaleWriteAccepted, message, &[n, w]));
            }
            Some(n) if token == obs.calls[n].token() => {}
            _ => newest = Some(w),
        }
    }
    out
}

fn duplicate_tokens(obs: &Observed) -> Vec<LockViolation> {
    let mut acquired: Vec<(i64, usize)> = obs.ok(Role::Acquire).map(|i| (obs.calls[i].token(), i)).collect();
    acquired.sort_unstable();
    let mut out = Vec::new();
    for same in acquired.chunk_by(|a, b| a.0 == b.0) {
        let (token, first) = same[0];
        for &(_, again) in &same[1..] {
            let message = format!(
                "{} {token} granted twice, to process {} and to process {}",
                obs.words.token,
                obs.process(first),
                obs.process(again)
            );
            out.push(obs.violation(ViolationKind::DuplicateToken, message, &[first, again]));
        }
    }
    out
}

/// An acquisition invoked after another completed must get a higher token.
///
/// Sweeps acquisitions in invocation order, keeping the highest token among those
/// completed before; equal tokens are left to `duplicate_tokens`.
fn token_order(obs: &Observed) -> Vec<LockViolation> {
    let acquired: Vec<usize> = obs.ok(Role::Acquire).collect();
    let mut by_completion = acquired.clone();
    by_completion.sort_by_key(|&i| obs.completed(i));
    let mut done = by_completion.into_iter().peekable();
    let mut highest: Option<usize> = None;
    let mut out = Vec::new();
    for b in acquired {
        while let Some(&a) = done.peek()
            && obs.completed(a) < obs.invoked(b)
        {
            if highest.is_none_or(|h| obs.calls[a].token() > obs.calls[h].token()) {
                highest = Some(a);
            }
            done.next();
        }
        if let Some(h) = highest
            && obs.calls[h].token() > obs.calls[b].token()
        {
            let message = format!(
                "process {} got {t} {} after process {} had got {t} {}",
                obs.process(b),
                obs.calls[b].token(),
                obs.process(h),
                obs.calls[h].token(),
                t = obs.words.token
            );
            out.push(obs.violation(ViolationKind::TokenOrder, message, &[h, b]));
        }
    }
    out
}

/// The last final read, and a violation if it disagrees with the last logged write.
///
/// That write is known to be the last only if every write of unknown outcome is
/// needed to fill the log below it, and it completed before the final read began.
fn final_value(obs: &Observed, writes: &[usize]) -> (Option<i64>, Option<LockViolation>) {
    let Some(read) = obs.ok(Role::FinalRead).max_by_key(|&i| obs.completed(i)) else {
        return (None, None);
    };
    let seen = obs.calls[read].value();
    let unknown = obs
        .calls
        .iter()
        .filter(|c| c.role == Role::Write && c.call.outcome == Type::Info)
        .count();
    let mismatch = writes.last().filter(|&&top| {
        let last = &obs.calls[top];
        last.seq() == (writes.len() + unknown) as i64 && obs.completed(top) < obs.invoked(read) && last.value() != seen
    });
    let violation = mismatch.map(|&top| {
        let last = &obs.calls[top];
        let message = format!(
            "the final read saw {seen}, but the last write the resource logged (seq {}) wrote {}",
            last.seq(),
            last.value()
        );
        obs.violation(ViolationKind::FinalValue, message, &[top, read])
    });
    (Some(seen), violation)
}

/// A stretch in which one process held the lock, by history position: from its
/// acquire's ok to its release's invocation; without a release, to its next
/// acquire's invocation or the end of the history.
struct Section {
    acquire: usize,
    start: u32,
    end: u32,
    /// Its writes the resource accepted or refused as stale, in invocation order.
    writes: Vec<SectionWrite>,
}

struct SectionWrite {
    call: usize,
    at: u32,
    accepted: bool,
}

impl Section {
    /// The first write the resource accepted from this section at or after `from`.
    fn accepted_from(&self, from: u32) -> Option<usize> {
        self.writes.iter().find(|w| w.accepted && w.at >= from).map(|w| w.call)
    }

    fn fenced_from(&self, from: u32) -> bool {
        self.writes.iter().any(|w| !w.accepted && w.at >= from)
    }
}

/// Critical sections sorted by start.
fn critical_sections(obs: &Observed) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut open: FxHashMap<Process, usize> = FxHashMap::default();
    for (i, c) in obs.calls.iter().enumerate() {
        let process = obs.process(i);
        match c.role {
            Role::Acquire | Role::Release => {
                if let Some(s) = open.remove(&process) {
                    sections[s].end = c.call.invoke;
                }
                if c.role == Role::Acquire && c.ok() {
                    open.insert(process, sections.len());
                    sections.push(Section {
                        acquire: i,
                        start: obs.completed(i),
                        end: obs.end(),
                        writes: Vec::new(),
                    });
                }
            }
            Role::Write if c.ok() || c.stale => {
                if let Some(&s) = open.get(&process) {
                    sections[s].writes.push(SectionWrite {
                        call: i,
                        at: c.call.invoke,
                        accepted: c.ok(),
                    });
                }
            }
            _ => {}
        }
    }
    sections.sort_by_key(|s| s.start);
    sections
}

struct Overlaps {
    total: usize,
    conflicting: Vec<LockViolation>,
    harmless: Vec<Overlap>,
}

/// Pairs of sections that overlap, found by a sweep over starts that keeps the
/// sections still held: work grows with the overlaps, not with all pairs.
fn overlaps(obs: &Observed, sections: &[Section]) -> Overlaps {
    let mut found = Overlaps {
        total: 0,
        conflicting: Vec::new(),
        harmless: Vec::new(),
    };
    let mut held: Vec<usize> = Vec::new();
    for (i, later) in sections.iter().enumerate() {
        held.retain(|&h| sections[h].end > later.start);
        for &h in &held {
            found.total += 1;
            classify(obs, &sections[h], later, &mut found);
        }
        held.push(i);
    }
    found
}

/// Conflicting if both sides wrote, accepted, once both held the lock.
///
/// The window closes at each side's own release, not at the first release: in the
/// classic lost update the stalled holder writes after the other has released.
fn classify(obs: &Observed, earlier: &Section, later: &Section, found: &mut Overlaps) {
    let from = later.start;
    let (a, b) = (earlier.acquire, later.acquire);
    if let (Some(wa), Some(wb)) = (earlier.accepted_from(from), later.accepted_from(from)) {
        let message = format!(
            "{}; both wrote after the overlap began",
            held_together(obs, earlier, later)
        );
        found
            .conflicting
            .push(obs.violation(ViolationKind::ConflictingOverlap, message, &[a, wa, b, wb]));
    } else if found.harmless.len() < LISTED {
        let why = why_harmless(obs, earlier, later);
        found.harmless.push(Overlap {
            holders: [obs.view(a), obs.view(b)],
            message: format!("{}: {why}", held_together(obs, earlier, later)),
        });
    }
}

fn held_together(obs: &Observed, earlier: &Section, later: &Section) -> String {
    let (a, b) = (&obs.calls[earlier.acquire], &obs.calls[later.acquire]);
    format!(
        "processes {} ({t} {}) and {} ({t} {}) both {} from {} to {}",
        obs.process(earlier.acquire),
        a.token(),
        obs.process(later.acquire),
        b.token(),
        obs.words.held,
        obs.when(later.start),
        obs.when(earlier.end.min(later.end)),
        t = obs.words.token
    )
}

/// Why an overlap left the resource unharmed, told about the side that did not write.
fn why_harmless(obs: &Observed, earlier: &Section, later: &Section) -> String {
    let (pa, pb) = (obs.process(earlier.acquire), obs.process(later.acquire));
    let from = later.start;
    let (quiet, process) = if earlier.accepted_from(from).is_none() {
        (earlier, pa)
    } else {
        (later, pb)
    };
    if quiet.fenced_from(from) {
        format!("the resource refused process {process}'s stale {}", obs.words.token)
    } else if quiet.writes.iter().any(|w| w.accepted) {
        format!("process {pa} wrote before process {pb} acquired")
    } else {
        format!("process {process} wrote nothing the resource accepted")
    }
}

impl LockReport {
    /// Human text: the verdict, the counts, then the evidence for each violation.
    pub fn to_text(&self) -> String {
        use fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.headline());
        self.write_stats(&mut out);
        for v in self.violations.iter().take(LISTED) {
            let _ = writeln!(out, "\n{}: {}", v.kind.as_str(), v.message);
            for op in &v.ops {
                let _ = writeln!(out, "    {op}");
            }
        }
        if self.violations.len() > LISTED {
            let _ = writeln!(out, "\n... and {} more", self.violations.len() - LISTED);
        }
        if !self.harmless_overlaps.is_empty() {
            let _ = writeln!(
                out,
                "\nharmless overlaps ({} in all):",
                self.stats.overlaps - self.stats.conflicting_overlaps
            );
            for o in &self.harmless_overlaps {
                let _ = writeln!(out, "    {}", o.message);
            }
        }
        out
    }

    fn headline(&self) -> String {
        let what = match (self.verdict, &self.reason) {
            (Verdict::Unknown, Some(reason)) => reason.clone(),
            (Verdict::Invalid, _) => {
                let kinds: Vec<String> = ViolationKind::ALL
                    .iter()
                    .filter_map(|&k| {
                        let n = self.violations.iter().filter(|v| v.kind == k).count();
                        (n > 0).then(|| format!("{} ({n})", k.as_str()))
                    })
                    .collect();
                format!("{} violations: {}", self.violations.len(), kinds.join(", "))
            }
            _ => "mutual exclusion and fencing held".to_string(),
        };
        format!(
            "{}: {what} (checked in {:.1} ms)",
            self.verdict.as_str().to_uppercase(),
            self.elapsed_ms
        )
    }

    fn write_stats(&self, out: &mut String) {
        use fmt::Write;
        let s = &self.stats;
        let _ = writeln!(
            out,
            "  lock: acquires {} ok, {} failed, {} unknown; critical sections {}; overlapping pairs {} ({} conflicting)",
            s.acquires_ok, s.acquires_failed, s.acquires_info, s.critical_sections, s.overlaps, s.conflicting_overlaps
        );
        let _ = writeln!(
            out,
            "  resource: writes {} ok, {} rejected as stale, {} failed, {} unknown; reads rejected as stale {}",
            s.writes_ok, s.writes_rejected_stale, s.writes_failed, s.writes_info, s.reads_rejected_stale
        );
        let _ = writeln!(
            out,
            "  counter: acknowledged increments {}, final value {}{}, increments overwritten {}",
            s.writes_ok,
            s.final_value.map_or("unread".to_string(), |v| v.to_string()),
            s.missing.map_or(String::new(), |m| format!(" ({m} lost for good)")),
            s.lost_updates
        );
    }
}

impl fmt::Display for LockOpView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process {} {}", self.process, self.f)?;
        for (name, n) in [("token", self.token), ("value", self.value), ("seq", self.seq)] {
            if let Some(n) = n {
                write!(f, " {name} {n}")?;
            }
        }
        if let Some(t) = self.time_ms {
            write!(f, ", invoked {t:.3} ms")?;
        }
        if let Some(t) = self.completed_ms {
            write!(f, ", done {t:.3} ms")?;
        }
        write!(f, " (op {})", self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_take_integers_and_nils_of_the_right_count() {
        let v = Value::list(vec![Value::Int(3), Value::Nil]);
        assert_eq!(slots::<2>(&v), Some([Some(3), None]));
        assert_eq!(slots::<3>(&v), None);
        assert_eq!(slots::<2>(&Value::list(vec![Value::str("x"), Value::Nil])), None);
        assert_eq!(slots::<2>(&Value::Int(1)), None);
    }

    #[test]
    fn overwritten_counts_increments_a_write_undid() {
        assert_eq!(overwritten(1, 1), 1);
        assert_eq!(overwritten(5, 2), 4);
        assert_eq!(overwritten(1, 3), 0);
        assert_eq!(overwritten(i64::MAX, i64::MIN), u64::MAX);
    }
}
