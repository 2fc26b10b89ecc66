//! The watch report as text: the verdict and why, each watcher (what it asked,
//! what it got, the properties it broke), the members' hashes, and the first
//! violations.

use std::fmt::Write;

use super::{BROKEN, WatchReport, WatcherStats};

/// Violations the text lists; the JSON report has every one.
const LISTED: usize = 20;

impl WatchReport {
    pub fn to_text(&self) -> String {
        let mut out = format!("{}: {}\n", self.verdict.as_str().to_uppercase(), self.summary());
        let _ = writeln!(out, "  changes acknowledged: {}", self.writes_ok);
        for w in &self.watchers {
            out.push_str(&watcher(w));
        }
        out.push_str(&self.hashes_text());
        for v in self.violations.iter().take(LISTED) {
            let _ = write!(
                out,
                "\n{:?} ({}): {} (ops {:?})\n",
                v.kind, v.property, v.message, v.ops
            );
        }
        out
    }

    /// The verdict's reason: what held, or how many violations.
    fn summary(&self) -> String {
        match (&self.reason, self.violations.len()) {
            (Some(r), _) => r.clone(),
            (None, 0) if self.watchers.iter().all(|w| w.kind == "notify") => format!(
                "every watcher read only states that were written, none older than one it had seen{}",
                if self.watchers.iter().any(|w| w.back_after_restart > 0) {
                    " (restarts aside)"
                } else {
                    ""
                }
            ),
            (None, 0) => format!(
                "every watcher saw every change in order, once, as written{}",
                if self.hashes.is_empty() {
                    ""
                } else {
                    "; the members' hashes agree"
                }
            ),
            (None, n) => format!("{n} violations"),
        }
    }

    fn hashes_text(&self) -> String {
        if self.hashes.is_empty() && self.hashes_failed == 0 {
            return String::new();
        }
        let mut revisions: Vec<i64> = self.hashes.iter().map(|h| h.revision).collect();
        revisions.dedup();
        format!(
            "  member hashes: {} at {} revisions{}\n",
            self.hashes.len(),
            revisions.len(),
            if self.hashes_failed > 0 {
                format!(", {} hash requests failed", self.hashes_failed)
            } else {
                String::new()
            }
        )
    }
}

/// A watcher's lines: its events and lag, what it asked, what it broke.
fn watcher(w: &WatcherStats) -> String {
    let ms = |l: Option<f64>| l.map_or("-".into(), |l| format!("{l:.0} ms"));
    let mut out = format!(
        "  {}: {} events in {} watches, lag p50 {} max {}{}{}\n",
        w.watcher,
        w.events,
        w.watches,
        ms(w.lag_p50_ms),
        ms(w.lag_max_ms),
        if w.compacted.is_empty() {
            String::new()
        } else {
            format!(", {} resumed past a compaction", w.compacted.len())
        },
        if w.caught_up { ", caught up" } else { ", not caught up" }
    );
    if w.back_after_restart > 0 {
        let _ = writeln!(
            out,
            "    read older states than before after {} of its server's restarts (allowed: a restarted server may answer from what it restored before it catches up)",
            w.back_after_restart
        );
    }
    if w.start.is_some() || w.responses > 0 {
        out.push_str(&asked(w));
    }
    let broken: Vec<&str> = w
        .properties
        .iter()
        .filter(|(_, s)| **s == BROKEN)
        .map(|(p, _)| *p)
        .collect();
    if !broken.is_empty() {
        let _ = writeln!(out, "    broke: {}", broken.join(", "));
    }
    out
}

/// What a map-shaped watcher asked and how it was answered.
fn asked(w: &WatcherStats) -> String {
    let mut asked = vec![format!(
        "started {}{}",
        w.start.as_deref().unwrap_or("-"),
        w.offset.map_or(String::new(), |o| format!(" {o:+}"))
    )];
    asked.push(w.key.as_ref().map_or("every key".to_string(), |k| format!("key {k}")));
    if w.prev_kv {
        asked.push("previous values".into());
    }
    if w.progress_notify {
        asked.push("progress notify".into());
    }
    format!(
        "    {}; {} responses, {} progress notifications ({} requested)\n",
        asked.join(", "),
        w.responses,
        w.progress,
        w.progress_requested
    )
}
