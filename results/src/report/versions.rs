//! An upgrade's versions, node by node, after each step.

use std::fmt::Write;

use checkers::{F, History, Op, Process};

use super::html::esc;

/// Every node's version over the run, as the nodes reported it after each
/// upgrade step (`versions` ops), with the step that led there.
pub(super) fn table(history: &History) -> String {
    let nemesis = || history.ops.iter().filter(|o| o.process == Process::Nemesis);
    let rows: Vec<&Op> = nemesis().filter(|o| o.f == F::parse("versions")).collect();
    let Some(first) = rows.first() else {
        return String::new();
    };
    let columns: Vec<String> = match &first.value {
        checkers::Value::Map(m) => m.iter().map(|(k, _)| k.to_string()).collect(),
        _ => return String::new(),
    };
    let mut out = String::from("<h2>Versions</h2>\n<table id=\"versions\"><tr><th>at</th><th>after</th>");
    for c in &columns {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("</tr>\n");
    let mut step = "the start".to_string();
    for op in nemesis() {
        let f = op.f.to_string();
        if ["upgrade", "rollback", "rollback-refused"].contains(&f.as_str()) {
            let what = op.value.as_str().map_or_else(|| op.value.to_string(), str::to_string);
            step = format!("{f} {what}");
            continue;
        }
        if f != "versions" {
            continue;
        }
        let refused = step.starts_with("rollback-refused");
        let _ = write!(
            out,
            "<tr><td>{:.1} s</td><td{}>{}</td>",
            op.time.unwrap_or(0) as f64 / 1e9,
            if refused { " class=\"invalid\"" } else { "" },
            esc(&step)
        );
        for c in &columns {
            let v = op.value.get(c).map_or("-".to_string(), |v| {
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            });
            let _ = write!(out, "<td>{}</td>", esc(&v));
        }
        out.push_str("</tr>\n");
        step = "the run settled".into();
    }
    out.push_str("</table>\n");
    out
}
