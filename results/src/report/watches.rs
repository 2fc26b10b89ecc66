//! A watch check's watchers, what they saw wrong, and the members' hashes.

use std::fmt::Write;

use checkers::watch::WATCHER_PROPERTIES;
use serde_json::Value;

use super::html::{LISTED, esc, text};

/// A watch run's watchers (how they watch, events, resumptions, lag from a
/// write's acknowledgement to the batch that delivered it, each property
/// held or broken), its violations, and the members' hashes.
pub(super) fn section(watchers: &[Value], check: &Value) -> String {
    let mut out = watchers_table(watchers);
    if let Some(violations) = check["violations"].as_array().filter(|v| !v.is_empty()) {
        out.push_str(&violations_table(violations));
    }
    if let Some(hashes) = check["hashes"].as_array().filter(|h| !h.is_empty()) {
        out.push_str(&hashes_table(hashes, &check["hashes_failed"]));
    }
    out
}

fn watchers_table(watchers: &[Value]) -> String {
    let ms = |v: &Value| v.as_f64().map_or("-".to_string(), |m| format!("{m:.0} ms"));
    let mut out = String::from(
        "<h2>Watchers</h2>\n<table id=\"watchers\"><tr><th>watcher</th><th>how</th><th>start</th><th>events</th>\
         <th>watch ops</th><th>lag p50</th><th>lag max</th><th>resumed past a compaction</th>\
         <th>older states after a restart</th><th>caught up</th>",
    );
    for p in WATCHER_PROPERTIES {
        let _ = write!(out, "<th>{p}</th>");
    }
    out.push_str("</tr>\n");
    for w in watchers {
        let caught = w["caught_up"].as_bool().unwrap_or(false);
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"{}\">{}</td>",
            esc(&text(&w["watcher"])),
            if w["kind"] == "notify" {
                "notified, reads back"
            } else {
                "every change streamed"
            },
            esc(&start(w)),
            text(&w["events"]),
            text(&w["watches"]),
            ms(&w["lag_p50_ms"]),
            ms(&w["lag_max_ms"]),
            w["compacted"].as_array().map_or(0, Vec::len),
            w["back_after_restart"].as_u64().unwrap_or(0),
            if caught { "valid" } else { "unknown" },
            if caught { "yes" } else { "no" }
        );
        for p in WATCHER_PROPERTIES {
            out.push_str(&property_cell(&w["properties"][p]));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// How a watcher chose its first start, with its offset: `past -37`; `-`
/// where the report does not say (a list-shaped history, an older file).
fn start(w: &Value) -> String {
    match (w["start"].as_str(), w["offset"].as_i64()) {
        (Some(s), Some(o)) => format!("{s} {o:+}"),
        (Some(s), None) => s.to_string(),
        (None, _) => "-".to_string(),
    }
}

/// A property's cell, coloured as a verdict: held, broken, or n/a where the
/// watcher could not exercise it; `-` where an older file has none.
fn property_cell(state: &Value) -> String {
    let class = match state.as_str() {
        Some("held") => "valid",
        Some("broken") => "invalid",
        Some(_) => "unknown",
        None => return "<td>-</td>".to_string(),
    };
    format!("<td class=\"{class}\">{}</td>", esc(&text(state)))
}

fn violations_table(violations: &[Value]) -> String {
    let mut out = String::from(
        "<h2>Watch violations</h2>\n<table id=\"violations\"><tr><th>kind</th><th>property</th><th>what</th></tr>\n",
    );
    for v in violations.iter().take(LISTED) {
        let _ = writeln!(
            out,
            "<tr><td class=\"invalid\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&text(&v["kind"])),
            esc(&text(&v["property"])),
            esc(&text(&v["message"]))
        );
    }
    out.push_str("</table>\n");
    out
}

/// Each member's hash and compaction at each revision asked, and how many
/// hash requests got no answer.
fn hashes_table(hashes: &[Value], failed: &Value) -> String {
    let mut out = String::from(
        "<h2>Member hashes</h2>\n<table id=\"hashes\"><tr><th>member</th><th>revision</th><th>hash</th>\
         <th>compact revision</th></tr>\n",
    );
    for h in hashes.iter().take(LISTED) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&text(&h["member"])),
            esc(&text(&h["revision"])),
            esc(&text(&h["hash"])),
            esc(&text(&h["compact_revision"]))
        );
    }
    out.push_str("</table>\n");
    if let Some(n) = failed.as_u64().filter(|&n| n > 0) {
        let _ = writeln!(out, "<p>{n} hash requests got no answer.</p>");
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::section;

    #[test]
    fn a_watcher_of_an_older_file_shows_dashes_for_what_it_lacks() {
        let w = json!({"watcher": "n1", "kind": "watch", "events": 4, "watches": 1, "caught_up": true});
        let check = json!({"watchers": [w], "violations": [{"kind": "gap", "message": "n1 missed 7"}]});
        let page = section(check["watchers"].as_array().unwrap(), &check);
        assert!(
            page.contains("<th>prev-kv</th>") && page.contains("<td>-</td>"),
            "{page}"
        );
        assert!(page.contains("<td class=\"invalid\">gap</td><td>-</td>"), "{page}");
        assert!(!page.contains("id=\"hashes\""), "{page}");
    }

    #[test]
    fn properties_are_coloured_and_hashes_listed() {
        let w = json!({"watcher": "past@n2", "kind": "watch", "start": "past", "offset": -37,
                       "properties": {"ordered": "held", "atomic": "broken", "filter": "n/a"}});
        let check = json!({"watchers": [w], "violations": [
                               {"kind": "split", "property": "atomic", "message": "two responses"}],
                           "hashes": [{"member": "n1", "revision": 9, "hash": 77, "compact_revision": 4}],
                           "hashes_failed": 2});
        let page = section(check["watchers"].as_array().unwrap(), &check);
        assert!(page.contains("<td>past -37</td>"), "{page}");
        for cell in [
            "<td class=\"valid\">held</td>",
            "<td class=\"invalid\">broken</td>",
            "<td class=\"unknown\">n/a</td>",
        ] {
            assert!(page.contains(cell), "{cell}: {page}");
        }
        assert!(page.contains(">split</td><td>atomic</td>"), "{page}");
        assert!(
            page.contains("<tr><td>n1</td><td>9</td><td>77</td><td>4</td></tr>"),
            "{page}"
        );
        assert!(page.contains("2 hash requests got no answer"), "{page}");
    }
}
