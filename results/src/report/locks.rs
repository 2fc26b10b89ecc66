//! A lock's (or an election's) safety: who held it when, the writes it guarded,
//! what was violated; and an election's failovers.

use std::collections::BTreeMap;
use std::fmt::Write;

use checkers::{History, Op, Type};
use serde_json::Value;

use super::html::{LISTED, W, calls, esc, secs, text};

/// The holders' lanes and the violations, with the checker's stats; nothing
/// for a report without a list of violations.
pub(super) fn safety(history: &History, check: &Value, election: bool) -> String {
    let Some(violations) = check["violations"].as_array() else {
        return String::new();
    };
    let mut page = holders(history, check, election);
    let title = if election { "Election safety" } else { "Lock safety" };
    let _ = writeln!(
        page,
        "<h2>{title}</h2>\n<table id=\"violations\"><tr><th>kind</th><th>what</th></tr>"
    );
    for v in violations.iter().take(LISTED) {
        let _ = writeln!(
            page,
            "<tr><td class=\"invalid\">{}</td><td>{}</td></tr>",
            esc(&text(&v["kind"])),
            esc(&text(&v["message"]))
        );
    }
    if violations.len() > LISTED {
        let _ = writeln!(
            page,
            "<tr><td></td><td>... and {} more (results.json has them all)</td></tr>",
            violations.len() - LISTED
        );
    }
    let _ = writeln!(
        page,
        "</table>\n<p>stats: <code>{}</code></p>",
        esc(&check["stats"].to_string())
    );
    page
}

/// An election's failovers: each fault that took the leader away, the terms
/// before and after, how long until the next leader acted; p50 and max.
pub(super) fn failovers(election: &Value) -> String {
    let secs = |v: &Value| v.as_f64().map_or("-".to_string(), |s| format!("{s:.1} s"));
    let mut out = format!(
        "<h2>Failovers</h2>\n<p>p50 {}, max {}, allowed {} (<code>--failover-within</code>)</p>\n\
         <table id=\"failovers\"><tr><th>fault</th><th>at</th><th>term</th><th>next term</th><th>next leader acted after</th></tr>\n",
        secs(&election["failover_p50_s"]),
        secs(&election["failover_max_s"]),
        secs(&election["failover_within_s"])
    );
    let within = election["failover_within_s"].as_f64().unwrap_or(f64::INFINITY);
    for f in election["failovers"].as_array().into_iter().flatten() {
        let slow = f["took_s"].as_f64().is_none_or(|t| t > within);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(&text(&f["fault"])),
            secs(&f["at_s"]),
            text(&f["from_term"]),
            f["to_term"].as_i64().map_or("none".into(), |t| t.to_string()),
            if slow { "invalid" } else { "valid" },
            f["took_s"].as_f64().map_or("never".into(), |t| format!("{t:.2} s"))
        );
    }
    for v in election["violations"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"5\" class=\"invalid\">{}</td></tr>",
            esc(&text(v))
        );
    }
    out.push_str("</table>\n");
    out
}

/// Who held the lock (or led) when, a lane per process: each critical section
/// (acquire or campaign ok to the release's or resignation's invocation) a bar
/// with its token or term, each write to the resource a mark: accepted, rejected
/// as stale, or one the checker names in a violation.
fn holders(history: &History, check: &Value, election: bool) -> String {
    let flagged: std::collections::BTreeSet<u64> = check["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|v| v["ops"].as_array().into_iter().flatten())
        .filter_map(|o| o["index"].as_u64())
        .collect();
    let key_is = |op: &Op, k: &str| op.key.as_ref().and_then(|v| v.as_str()) == Some(k);
    let mut sections: Vec<(u64, f64, f64, String)> = Vec::new();
    let mut open: BTreeMap<u64, (f64, String)> = BTreeMap::new();
    let mut writes: Vec<(u64, f64, &'static str, String)> = Vec::new();
    let span = history.ops.iter().filter_map(|o| o.time).max().unwrap_or(0) as f64 / 1e9;
    for (p, inv, done) in calls(history) {
        let f = inv.f.as_str();
        if (key_is(inv, "lock") && f == "acquire") || (key_is(inv, "election") && f == "campaign") {
            if let Some(d) = done.filter(|d| d.kind == Type::Ok) {
                open.insert(p, (secs(d), d.value.to_string()));
            }
        } else if (key_is(inv, "lock") && f == "release") || (key_is(inv, "election") && f == "resign") {
            if let Some((a, token)) = open.remove(&p) {
                sections.push((p, a, secs(inv), token));
            }
        } else if key_is(inv, "resource") && inv.f.to_string() == "write" {
            let Some(d) = done else { continue };
            let class = if flagged.contains(&inv.index) {
                "violation"
            } else if d.kind == Type::Ok {
                "accepted"
            } else {
                "rejected"
            };
            let what = format!(
                "op {}: process {p} write {} -> {} {}",
                inv.index,
                inv.value,
                d.kind.as_str(),
                d.value
            );
            writes.push((p, secs(d), class, what));
        }
    }
    sections.extend(open.into_iter().map(|(p, (a, token))| (p, a, span, token)));
    let mut procs: Vec<u64> = sections.iter().map(|s| s.0).chain(writes.iter().map(|w| w.0)).collect();
    procs.sort_unstable();
    procs.dedup();
    if procs.is_empty() {
        return String::new();
    }
    let lane_h = 22.0;
    let h = 30.0 + lane_h * procs.len() as f64;
    let x = |t: f64| 80.0 + (W - 90.0) * (t / span.max(1e-9)).clamp(0.0, 1.0);
    let row = |p: u64| procs.iter().position(|q| *q == p).unwrap_or(0) as f64;
    let (title, bar) = match election {
        true => (
            "Leaders",
            "a bar per term (campaign won to resignation) with its term; jobs",
        ),
        false => ("Lock holders", "a bar per critical section with its token; writes"),
    };
    let mut svg = format!(
        "<h2>{title}</h2>\n<p class=\"legend\">{bar}: \
         <span style=\"color:#2a9d8f\">&#9679; accepted</span> <span style=\"color:#8d99ae\">&#10005; rejected as stale</span> \
         <span style=\"color:#d62828\">&#9679; named in a violation (lost update, stale write accepted)</span></p>\n\
         <svg class=\"holders\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" xmlns=\"http://www.w3.org/2000/svg\">\n"
    );
    for p in &procs {
        let _ = writeln!(
            svg,
            "<text x=\"4\" y=\"{:.1}\" font-size=\"11\">process {p}</text>",
            24.0 + lane_h * row(*p)
        );
    }
    for (p, a, b, token) in &sections {
        let _ = writeln!(
            svg,
            "<rect class=\"section\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" fill=\"#a8dadc\"><title>{}</title></rect>",
            x(*a),
            12.0 + lane_h * row(*p),
            (x(*b) - x(*a)).max(1.0),
            esc(&format!("process {p} held token {token} from {a:.3} to {b:.3} s"))
        );
    }
    for (p, t, class, what) in &writes {
        let (cx, cy) = (x(*t), 19.0 + lane_h * row(*p));
        let mark = match *class {
            "rejected" => format!(
                "<path d=\"M{:.1},{:.1} l6,6 m0,-6 l-6,6\" stroke=\"#8d99ae\" stroke-width=\"1.5\"/>",
                cx - 3.0,
                cy - 3.0
            ),
            "violation" => format!("<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"5\" fill=\"#d62828\"/>"),
            _ => format!("<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"2.5\" fill=\"#2a9d8f\"/>"),
        };
        let _ = writeln!(svg, "<g class=\"write {class}\">{mark}<title>{}</title></g>", esc(what));
    }
    svg.push_str("</svg>\n");
    svg
}
