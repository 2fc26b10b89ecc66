//! A watch check's watchers and what they saw wrong.

use std::fmt::Write;

use serde_json::Value;

use super::html::{LISTED, esc, text};

/// A watch run's watchers (how they watch, events, resumptions, lag from a
/// write's acknowledgement to the batch that delivered it) and its violations.
pub(super) fn section(watchers: &[Value], check: &Value) -> String {
    let ms = |v: &Value| v.as_f64().map_or("-".to_string(), |m| format!("{m:.0} ms"));
    let mut out = String::from(
        "<h2>Watchers</h2>\n<table id=\"watchers\"><tr><th>watcher</th><th>how</th><th>events</th><th>watch ops</th>\
         <th>lag p50</th><th>lag max</th><th>resumed past a compaction</th>\
         <th>older states after a restart</th><th>caught up</th></tr>\n",
    );
    for w in watchers {
        let caught = w["caught_up"].as_bool().unwrap_or(false);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"{}\">{}</td></tr>",
            esc(&text(&w["watcher"])),
            if w["kind"] == "notify" {
                "notified, reads back"
            } else {
                "every change streamed"
            },
            text(&w["events"]),
            text(&w["watches"]),
            ms(&w["lag_p50_ms"]),
            ms(&w["lag_max_ms"]),
            w["compacted"].as_array().map_or(0, Vec::len),
            w["back_after_restart"].as_u64().unwrap_or(0),
            if caught { "valid" } else { "unknown" },
            if caught { "yes" } else { "no" }
        );
    }
    out.push_str("</table>\n");
    if let Some(violations) = check["violations"].as_array().filter(|v| !v.is_empty()) {
        out.push_str("<h2>Watch violations</h2>\n<table id=\"violations\"><tr><th>kind</th><th>what</th></tr>\n");
        for v in violations.iter().take(LISTED) {
            let _ = writeln!(
                out,
                "<tr><td class=\"invalid\">{}</td><td>{}</td></tr>",
                esc(&text(&v["kind"])),
                esc(&text(&v["message"]))
            );
        }
        out.push_str("</table>\n");
    }
    out
}
