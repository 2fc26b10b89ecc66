//! The replicas read on their own after the run, compared.

use std::fmt::Write;

use checkers::Verdict;

use super::html::{esc, text};
use crate::schema::Divergence;

/// The replicas' verdict and who agreed, then where they disagreed.
pub(super) fn section(divergence: Option<&Divergence>) -> String {
    let Some(d) = divergence else {
        return String::new();
    };
    let v = d.verdict.as_str();
    let mut out = format!(
        "<h2>Replicas</h2>\n<p id=\"replicas\">each node read on its own once caught up: \
         <span class=\"{v}\">{}</span>; agreeing: {}</p>\n",
        esc(v),
        esc(&d.agreeing.join(", "))
    );
    if d.verdict == Verdict::Valid {
        return out;
    }
    out.push_str("<table id=\"divergence\"><tr><th>node or key</th><th>what</th></tr>\n");
    for u in &d.unread {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"unknown\">not read: {}</td></tr>",
            esc(&u.node),
            esc(&u.why)
        );
    }
    for x in &d.disagreements {
        let values: Vec<String> = x.values.iter().map(|(n, v)| format!("{n} {}", text(v))).collect();
        let _ = writeln!(
            out,
            "<tr><td>key {}</td><td class=\"invalid\">linearizable read {}; {}</td></tr>",
            esc(&text(&x.key)),
            esc(&text(&x.linearizable)),
            esc(&values.join(", "))
        );
    }
    out.push_str("</table>\n");
    out
}
