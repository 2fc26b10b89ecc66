//! A linearizability check's verdict per key, and for a key that cannot be
//! linearized its counterexample: the ops around the culprit, one lane per process.

use std::collections::BTreeMap;
use std::fmt::Write;

use checkers::History;
use serde_json::Value;

use super::html::{W, calls, esc, secs, text};

/// The keys' table, then each counterexample.
pub(super) fn section(history: &History, keys: &[Value]) -> String {
    let mut page = String::from(
        "<h2>Keys</h2>\n<table id=\"keys\"><tr><th>key</th><th>verdict</th><th>ops</th><th>why</th></tr>\n",
    );
    for k in keys {
        let v = text(&k["verdict"]);
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"{v}\">{v}</td><td>{}</td><td>{}</td></tr>",
            esc(&text(&k["key"])),
            esc(&text(&k["ops"])),
            esc(&k["reason"].as_str().map_or_else(String::new, str::to_string))
        );
    }
    page.push_str("</table>\n");
    for k in keys.iter().filter(|k| !k["counterexample"].is_null()) {
        page.push_str(&counterexample(history, k));
    }
    page
}

/// The index of the op an `OpView` (as JSON) stands for.
fn index(view: &Value) -> Option<u64> {
    view["index"].as_u64()
}

/// One invalid key: the ops around the culprit as lanes, the states it could have
/// seen (each once) and the end of the longest linearizable prefix.
fn counterexample(history: &History, key: &Value) -> String {
    let cx = &key["counterexample"];
    let mut marked: BTreeMap<u64, &'static str> = BTreeMap::new();
    for (op, _) in cx["prefix"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p.get(0)?, ())))
    {
        if let Some(i) = index(op) {
            marked.insert(i, "prefix");
        }
    }
    for op in cx["concurrent"].as_array().into_iter().flatten() {
        if let Some(i) = index(op) {
            marked.insert(i, "concurrent");
        }
    }
    if let Some(i) = index(&cx["op"]) {
        marked.insert(i, "culprit");
    }
    let mut out = format!(
        "<div class=\"counterexample\"><h3>Key {}: cannot linearize <code class=\"culprit\">{}</code></h3>\n",
        esc(&text(&key["key"])),
        esc(&op_line(&cx["op"]))
    );
    out.push_str("<p class=\"legend\"><span style=\"color:#d62828\">&#9632; the op that cannot be linearized</span> \
                  <span style=\"color:#f4a261\">&#9632; ops concurrent with it</span> \
                  <span style=\"color:#8d99ae\">&#9632; the end of the longest linearizable prefix</span> (hover for details)</p>\n");
    out.push_str(&lanes(history, &marked));
    let mut states: Vec<String> = Vec::new();
    for s in cx["states"].as_array().into_iter().flatten() {
        let st = text(&s["state"]);
        if !states.contains(&st) {
            states.push(st);
        }
    }
    let _ = writeln!(
        out,
        "<p>States it could have seen, none of which allows it: {}</p>",
        states
            .iter()
            .map(|s| format!("<code>{}</code>", esc(s)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out.push_str("<details><summary>The longest linearizable prefix, its end</summary><ol>\n");
    for p in cx["prefix"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "<li>{} &rArr; <code>{}</code></li>",
            esc(&op_line(&p[0])),
            esc(&text(&p[1]))
        );
    }
    out.push_str("</ol></details></div>\n");
    out
}

/// One lane per process: each op a bar from invoke to completion. `marked` maps an
/// op's index to its class (`culprit`, `concurrent`, `prefix`).
fn lanes(history: &History, marked: &BTreeMap<u64, &'static str>) -> String {
    let calls: Vec<_> = calls(history)
        .into_iter()
        .filter(|(_, inv, _)| marked.contains_key(&inv.index))
        .collect();
    if calls.is_empty() {
        return String::new();
    }
    let t0 = calls.iter().map(|(_, i, _)| secs(i)).fold(f64::MAX, f64::min);
    let t1 = calls
        .iter()
        .map(|(_, i, d)| d.map_or(secs(i), secs))
        .fold(f64::MIN, f64::max)
        .max(t0 + 1e-6);
    let mut procs: Vec<u64> = calls.iter().map(|(p, _, _)| *p).collect();
    procs.sort_unstable();
    procs.dedup();
    let lane_h = 26.0;
    let h = 20.0 + lane_h * procs.len() as f64;
    let x = |t: f64| 80.0 + (W - 90.0) * (t - t0) / (t1 - t0);
    let mut svg = format!(
        "<svg class=\"lanes\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" xmlns=\"http://www.w3.org/2000/svg\">\n"
    );
    for (row, p) in procs.iter().enumerate() {
        let _ = writeln!(
            svg,
            "<text x=\"4\" y=\"{:.1}\" font-size=\"11\">process {p}</text>",
            20.0 + lane_h * row as f64 + 12.0
        );
    }
    for (p, inv, done) in &calls {
        let row = procs.iter().position(|q| q == p).unwrap_or(0) as f64;
        let class = marked[&inv.index];
        let color = match class {
            "culprit" => "#d62828",
            "concurrent" => "#f4a261",
            _ => "#8d99ae",
        };
        let outcome = done.map_or("never completed".to_string(), |d| {
            format!("{} {}", d.kind.as_str(), d.value)
        });
        let (a, b) = (x(secs(inv)), x(done.map_or(t1, secs)));
        let _ = writeln!(
            svg,
            "<rect class=\"op {class}\" data-index=\"{}\" x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\" fill=\"{color}\">\
             <title>{}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text>",
            inv.index,
            14.0 + lane_h * row,
            (b - a).max(2.0),
            esc(&format!(
                "op {}: process {p} {} {} -> {outcome} ({:.3} to {:.3} s)",
                inv.index,
                inv.f,
                inv.value,
                secs(inv),
                done.map_or(f64::NAN, secs)
            )),
            a + 2.0,
            26.0 + lane_h * row,
            esc(&format!(
                "{} {}",
                inv.f,
                done.map_or(inv.value.to_string(), |d| d.value.to_string())
            )),
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn op_line(v: &Value) -> String {
    format!(
        "process {}: {} {} -> {} (op {})",
        text(&v["process"]),
        text(&v["f"]),
        text(&v["invoke"]),
        text(&v["outcome"]),
        text(&v["index"])
    )
}
