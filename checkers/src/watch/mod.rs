//! Watches judged against the writes of the same history.
//!
//! A watch is only as good as the promises a client builds on: etcd documents
//! its watch API as ordered, unique, atomic, reliable, resumable, bookmarkable
//! and filtered, with creations marked and previous values sent on request. A
//! cache or an operator that trusts those promises goes wrong silently when one
//! breaks, so each is judged here as a property of its own, from what the
//! watchers received against what the writers were told, and the members'
//! hashes of the store must agree once the cluster healed.
//!
//! Two kinds of watcher. A `watch` op is a stream that delivers every change
//! (etcd). A `notify` op is a watcher told only that a key changed, which reads
//! it back (ZooKeeper's one-shot watches, Consul's blocking queries): it may
//! skip states, so per watcher each state it reads must be one a write made
//! (the value a write's, at the write's revision where known), never older than
//! a state of that key it saw before, and the server indexes it was answered
//! with (Consul's) never go backwards.
//!
//! Streams come in two shapes (`parse`). The first, lists, tells only the
//! events' keys, values and revisions, and is judged on order, uniqueness,
//! reliability and the writes. The second, maps (the etcd workload's contract,
//! issue 24), adds the streams a watcher opened, watch responses, progress
//! notifications, creation marks, previous values, transactions and member
//! hashes, and so every property. A write of unknown outcome may have happened
//! at any revision: an event is matched to one by key and value, and while one
//! that no event showed is pending, its key's history is not known well enough
//! to judge creation marks or previous values.

mod hash;
mod notify;
mod parse;
mod stream;
mod text;
mod timeline;
mod writes;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::check::Verdict;
use crate::history::{History, HistoryError};
use crate::value::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchViolationKind {
    /// A revision below the one delivered before it.
    Reorder,
    /// The same revision of the same key delivered twice.
    Duplicate,
    /// The events of one revision (a transaction) in two watch responses.
    Split,
    /// An acknowledged change in a range the watcher covered, never delivered.
    Gap,
    /// A stream opened at a revision whose first event is past an
    /// acknowledged change at or after that revision.
    Skipped,
    /// An event below the revision its stream was opened at.
    BeforeStart,
    /// An event at or below an earlier progress notification's revision, or a
    /// progress notification below an earlier one.
    Bookmark,
    /// An event of a key the watch did not ask for.
    Unasked,
    /// A creation mark unlike what the writes say.
    IsCreate,
    /// A previous value unlike the key's previous value.
    PrevKv,
    /// An event at a write's revision with another key or value.
    WrongValue,
    /// An event that matches no write at all.
    Phantom,
    /// A watcher caught up with the last change, whose last value of a key is
    /// not the final read's.
    StaleFinal,
    /// Two members' hashes (or compaction revisions) differ at one revision.
    HashMismatch,
    /// A `notify` watcher read a state of a key older than one it had seen,
    /// or its server answered with an index below an earlier one.
    Older,
}

impl WatchViolationKind {
    /// The property a violation of this kind breaks: etcd's names for its
    /// watch guarantees, `written` (events are the writes), `same` (members
    /// agree) and `latest` (a notified watcher never goes back).
    pub fn property(self) -> &'static str {
        use WatchViolationKind::*;
        match self {
            Reorder => "ordered",
            Duplicate => "unique",
            Split => "atomic",
            Gap => "reliable",
            Skipped | BeforeStart => "resumable",
            Bookmark => "bookmarkable",
            Unasked => "filter",
            IsCreate => "is-create",
            PrevKv => "prev-kv",
            WrongValue | Phantom | StaleFinal => "written",
            HashMismatch => "same",
            Older => "latest",
        }
    }
}

/// The properties judged per watcher, in the order a report shows them.
pub const WATCHER_PROPERTIES: [&str; 11] = [
    "ordered",
    "unique",
    "atomic",
    "reliable",
    "resumable",
    "bookmarkable",
    "filter",
    "is-create",
    "prev-kv",
    "written",
    "latest",
];

/// What each property promises, in a sentence (etcd's API guarantees for
/// watches, and ours for read-back watchers and members).
pub fn promise(property: &str) -> &'static str {
    match property {
        "ordered" => "revisions never go down",
        "unique" => "no key at one revision twice",
        "atomic" => "the events of one revision arrive in one response",
        "reliable" => "every acknowledged change between a stream's start and its last event or progress delivered",
        "resumable" => "a watch started at R delivers first the first change at or after R, nothing before",
        "bookmarkable" => "after a progress notification at P no event at or below P; progress never goes down",
        "filter" => "only the keys the watch asked for",
        "is-create" => "a put marked a creation exactly when the key did not exist",
        "prev-kv" => "the previous value sent is the key's previous value",
        "written" => "every event a change that was written, a caught-up watcher at the final values",
        "latest" => "only written states, never one older than seen before",
        "same" => "every member's key-value hash and compaction equal at one revision",
        _ => "",
    }
}

/// A property of a watcher with no violation.
const HELD: &str = "held";
/// A property of a watcher with a violation.
const BROKEN: &str = "broken";
/// A property a watcher could not exercise (not asked for, or not in its
/// history's shape).
const NOT_APPLICABLE: &str = "n/a";

#[derive(Clone, Debug, Serialize)]
pub struct WatchViolation {
    pub kind: WatchViolationKind,
    /// `kind.property()`, for readers of the JSON.
    pub property: &'static str,
    /// The watcher; for a hash mismatch, the two members (`n1 vs n3`).
    pub watcher: String,
    pub message: String,
    /// History indexes of the ops involved (the watch op, the write).
    pub ops: Vec<u64>,
}

impl WatchViolation {
    fn new(kind: WatchViolationKind, watcher: &str, message: String, ops: Vec<u64>) -> WatchViolation {
        WatchViolation {
            kind,
            property: kind.property(),
            watcher: watcher.to_string(),
            message,
            ops,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct WatcherStats {
    pub watcher: String,
    /// `watch` (every change streamed) or `notify` (told of changes, reads back).
    pub kind: String,
    pub events: usize,
    /// Watch ops (the first, then each resumption).
    pub watches: usize,
    /// Revisions skipped because etcd had compacted them.
    pub compacted: Vec<[i64; 2]>,
    /// From a write's acknowledgement to the end of the watch op that delivered it.
    pub lag_p50_ms: Option<f64>,
    pub lag_max_ms: Option<f64>,
    /// Its last event is at or past the last acknowledged change and the
    /// revision of the final reads.
    pub caught_up: bool,
    /// Restarts of its server after which it read states older than it had
    /// seen before (allowed: see the `notify` checks).
    pub back_after_restart: usize,
    /// How its first stream chose its start: `now`, `first`, `past`,
    /// `compaction` or `future`; and the offset from the current revision.
    pub start: Option<String>,
    pub offset: Option<i64>,
    /// The one key it watched; none for every key.
    pub key: Option<String>,
    /// It asked for previous values, and for periodic progress notifications.
    pub prev_kv: bool,
    pub progress_notify: bool,
    /// Progress notifications received, and how many answered a request.
    pub progress: usize,
    pub progress_requested: usize,
    /// Watch responses received (of events or of progress).
    pub responses: usize,
    /// Each of [`WATCHER_PROPERTIES`]: `held`, `broken`, or `n/a` where this
    /// watcher could not exercise it.
    pub properties: BTreeMap<&'static str, &'static str>,
}

/// One member's hash of the store at a revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberHash {
    pub member: String,
    pub revision: i64,
    pub hash: i64,
    pub compact_revision: i64,
    /// History index of the hash op's completion.
    pub op: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct WatchReport {
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub violations: Vec<WatchViolation>,
    pub watchers: Vec<WatcherStats>,
    /// Acknowledged changes (a transaction's keys each count).
    pub writes_ok: usize,
    /// The members' hashes, by revision then member.
    pub hashes: Vec<MemberHash>,
    /// Hash ops that got no hash.
    pub hashes_failed: usize,
}

/// Each key's final read: value, revision, op.
type Finals = BTreeMap<Value, (Value, i64, u64)>;

/// What every watcher is judged against.
struct Context<'a> {
    writes: &'a writes::Writes,
    timeline: &'a timeline::Timeline<'a>,
    compactions: &'a [parse::Compaction],
    finals: &'a Finals,
    /// The revision a watcher must reach to be caught up: the last
    /// acknowledged change's, or the final reads' if later.
    last_change: Option<i64>,
}

/// Checks a watch workload's history.
pub fn check_watch(history: &History) -> Result<WatchReport, HistoryError> {
    history.require_client_ops()?;
    let read = parse::read(history)?;
    let hashes = hash::read(&read.hashes)?;
    let mut violations = Vec::new();
    let streamed = read.watchers.iter().filter_map(|(name, w)| match w {
        parse::Watcher::Streamed(w) => Some((name.as_str(), w)),
        parse::Watcher::Notified(_) => None,
    });
    let timeline = timeline::Timeline::of(&read.writes, streamed, &mut violations);
    let cx = Context {
        writes: &read.writes,
        timeline: &timeline,
        compactions: &read.compactions,
        finals: &read.finals,
        last_change: read.writes.last_revision().max(read.final_revision),
    };
    let mut stats = Vec::new();
    for (name, w) in &read.watchers {
        stats.push(match w {
            parse::Watcher::Streamed(w) => stream::judge(name, w, &cx, &mut violations),
            parse::Watcher::Notified(ops) => {
                let restarted = read.restarts.get(name).map_or(&[][..], Vec::as_slice);
                notify::judge(name, ops, &cx, restarted, &mut violations)?
            }
        });
    }
    hash::judge(&hashes.answers, &mut violations);
    mark_broken(&mut stats, &violations);
    let (verdict, reason) = verdict(&violations, !read.watchers.is_empty() && read.writes.acknowledged() > 0);
    Ok(WatchReport {
        verdict,
        reason,
        violations,
        watchers: stats,
        writes_ok: read.writes.acknowledged(),
        hashes: hashes.answers,
        hashes_failed: hashes.failed,
    })
}

/// Any violation is invalid; with no watcher or no acknowledged change there
/// is nothing a watch could have got wrong, which is no proof it is right.
fn verdict(violations: &[WatchViolation], judged: bool) -> (Verdict, Option<String>) {
    if !violations.is_empty() {
        (Verdict::Invalid, None)
    } else if !judged {
        (
            Verdict::Unknown,
            Some("no watcher, or no acknowledged change: nothing to judge".to_string()),
        )
    } else {
        (Verdict::Valid, None)
    }
}

/// Each watcher's properties that a violation of it broke.
fn mark_broken(stats: &mut [WatcherStats], violations: &[WatchViolation]) {
    for v in violations {
        for s in stats.iter_mut().filter(|s| s.watcher == v.watcher) {
            if let Some(p) = s.properties.get_mut(v.property) {
                *p = BROKEN;
            }
        }
    }
}

/// [`WATCHER_PROPERTIES`] each `held` where `applies` says it could be
/// exercised, else `n/a`; [`mark_broken`] turns the broken ones.
fn properties(applies: impl Fn(&str) -> bool) -> BTreeMap<&'static str, &'static str> {
    WATCHER_PROPERTIES
        .iter()
        .map(|&p| (p, if applies(p) { HELD } else { NOT_APPLICABLE }))
        .collect()
}

/// Whether a watcher's top revision reached the last change (with no change,
/// there was nothing to reach).
fn caught_up(top: Option<i64>, last_change: Option<i64>) -> bool {
    match (top, last_change) {
        (Some(t), Some(l)) => t >= l,
        (_, None) => true,
        (None, Some(_)) => false,
    }
}

/// The median and the highest of `lags`.
fn lag_summary(mut lags: Vec<f64>, s: &mut WatcherStats) {
    lags.sort_by(f64::total_cmp);
    s.lag_p50_ms = lags.get(lags.len() / 2).copied();
    s.lag_max_ms = lags.last().copied();
}

/// A caught-up watcher's last value of each key against the final reads. A
/// state past a final read's revision is a change made after it (a write
/// whose client gave up can land late), so that read is no longer final.
fn stale_finals(
    name: &str,
    seen: &BTreeMap<&Value, (&Value, i64, u64)>,
    finals: &Finals,
    violations: &mut Vec<WatchViolation>,
) {
    for (key, (value, at, read)) in finals {
        if let Some((last, rev, op)) = seen.get(key)
            && *last != value
            && rev <= at
        {
            violations.push(WatchViolation::new(
                WatchViolationKind::StaleFinal,
                name,
                format!("{name} ended caught up with {key} = {last}, but the final read is {value}"),
                vec![*op, *read],
            ));
        }
    }
}
