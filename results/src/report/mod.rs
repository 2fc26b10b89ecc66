//! `report.html`: one self-contained page per run (no network, no scripts from
//! anywhere, it opens from `file://`): what ran and how to run it again, the
//! throughput and latency over time under the fault windows (and the clock
//! offsets, when a clock fault ran), the faults, the verdict per key, and for a
//! key that cannot be linearized the ops around the culprit, one lane per process.
//!
//! Each section has its module; this one lays out the page and its header.

use std::fmt::Write;

use checkers::History;
use serde_json::Value;

use crate::schema::{RunResults, TestInfo};

mod drill;
mod html;
mod keys;
mod locks;
mod plots;
mod replicas;
mod reproduce;
mod shape;
mod versions;
mod watches;

pub use reproduce::reproduce;
pub use shape::{ShapeError, read_results, read_test};

use html::{esc, given, json, shown, text};

/// The whole page.
pub fn render(test: &TestInfo, results: &RunResults, history: &History) -> String {
    let bands = plots::bands(history, results);
    let mut page = header(test, results);
    if let Some(d) = &results.drill {
        page.push_str(&drill::plot(history, d, &bands));
        page.push_str(&drill::table(d));
    }
    page.push_str(&plots::time_plots(history, &bands));
    page.push_str(&faults(results));
    page.push_str(&expectations(results));
    page.push_str(&versions::table(history));
    page.push_str(&replicas::section(results.divergence.as_ref()));
    page.push_str(&checked(history, &results.check));
    page.push_str("</body></html>\n");
    page
}

/// The page's head, its title with the verdict (and whatever else failed the
/// run), what ran and the command that runs it again.
fn header(test: &TestInfo, results: &RunResults) -> String {
    let verdict = results.verdict.as_str();
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>splitbrain: {} {} {}</title>\n<style>\
         body{{font-family:sans-serif;margin:20px;max-width:960px}} table{{border-collapse:collapse}} \
         td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}} .valid{{color:#2a9d8f}} \
         .invalid{{color:#d62828}} .unknown{{color:#b5838d}} code{{background:#f4f4f4;padding:1px 3px}} \
         .legend{{font-size:12px}}</style></head><body>\n",
        esc(&shown(&test.system)),
        esc(&shown(&test.workload)),
        esc(verdict)
    );
    // a history checked on its own names itself (`title`) and how to check it again
    let title = test.title.clone().unwrap_or_else(|| {
        // an upgrade's run names both ends
        let version = match &test.upgrade {
            Some(u) => format!("{} → {}", shown(&test.version), u.to),
            None => shown(&test.version),
        };
        format!("{} {version} ×{}", shown(&test.system), shown(&test.nodes))
    });
    // the checks' verdict, and beside it whatever else failed the run (exit 1)
    let drill_failed = results.drill.as_ref().is_some_and(|d| !d.violations.is_empty());
    let missed = results.expectations.iter().flatten().any(|e| !e.held);
    let failed = match (drill_failed, missed) {
        (true, _) => " <span id=\"failed\" class=\"invalid\">but the drill FAILED</span>",
        (false, true) => " <span id=\"failed\" class=\"invalid\">but an expectation FAILED</span>",
        _ => "",
    };
    let _ = writeln!(
        page,
        "<h1>{}: <span id=\"verdict\" class=\"{v}\">{}</span>{failed}</h1>",
        esc(&title),
        esc(&verdict.to_uppercase()),
        v = esc(verdict)
    );
    page.push_str("<table id=\"header\">\n");
    for (label, v) in [
        ("runtime", json(&test.runtime)),
        ("workload", json(&test.workload)),
        // a scenario's steps are its faults: --nemesis played no part
        (
            "nemesis",
            if test.scenario.is_some() {
                Value::Null
            } else {
                json(&test.nemesis)
            },
        ),
        ("scenario", json(&test.scenario)),
        ("seed", json(&test.seed)),
        ("read mode", json(&test.read_mode)),
        ("resource", json(&test.resource)),
        ("run id", json(&test.run_id)),
    ] {
        if given(&v) {
            let _ = writeln!(page, "<tr><th>{label}</th><td>{}</td></tr>", esc(&text(&v)));
        }
    }
    let _ = writeln!(
        page,
        "<tr><th>reproduce</th><td><code id=\"reproduce\">{}</code></td></tr></table>",
        esc(&test.reproduce.clone().unwrap_or_else(|| reproduce(test)))
    );
    page
}

/// The fault windows, each with its longest stretch without an ok op.
fn faults(results: &RunResults) -> String {
    let mut page = String::from(
        "<h2>Faults</h2>\n<table id=\"faults\"><tr><th>from</th><th>to</th><th>what</th><th>no ok op for</th></tr>\n",
    );
    for w in results.summary.iter().flat_map(|s| &s.faults) {
        let _ = writeln!(
            page,
            "<tr><td>{:.1} s</td><td>{:.1} s</td><td>{}</td><td>{:.1} s</td></tr>",
            w.start_s,
            w.end_s,
            esc(&w.fault),
            w.unavailable_s
        );
    }
    page.push_str("</table>\n");
    page
}

/// A scenario's expectations, judged on the history.
fn expectations(results: &RunResults) -> String {
    let Some(expected) = &results.expectations else {
        return String::new();
    };
    let mut page = String::from(
        "<h2>Expectations</h2>\n<table id=\"expectations\"><tr><th>from</th><th>expect</th><th>result</th>\
         <th>writes acknowledged / invoked</th><th>first after</th></tr>\n",
    );
    for e in expected {
        let _ = writeln!(
            page,
            "<tr><td>{:.1} s</td><td>{}</td><td class=\"{}\">{}</td><td>{} / {}</td><td>{}</td></tr>",
            e.from_s,
            esc(&e.expect),
            if e.held { "valid" } else { "invalid" },
            if e.held { "held" } else { "not held" },
            e.acknowledged,
            e.invoked,
            e.first_ok_after_s.map_or("-".into(), |t| format!("{t:.2} s")),
        );
    }
    page.push_str("</table>\n");
    page
}

/// The checker's sections, by the report it gave: keys (and their
/// counterexamples), watchers, or an election's failovers and a lock's safety.
fn checked(history: &History, check: &Value) -> String {
    let mut page = String::new();
    if let Some(keys) = check["keys"].as_array() {
        page.push_str(&keys::section(history, keys));
    }
    if let Some(watchers) = check["watchers"].as_array() {
        page.push_str(&watches::section(watchers, check));
    }
    // an election's report holds the lock checks on its terms as `safety`
    let election = check["safety"].is_object();
    if election {
        page.push_str(&locks::failovers(check));
    }
    let check = if election { &check["safety"] } else { check };
    if check["stats"]["acquires_ok"].is_number() {
        page.push_str(&locks::safety(history, check, election));
    }
    page
}
