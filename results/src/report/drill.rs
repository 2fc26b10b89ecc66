//! A recovery drill: writes per second through the quorum loss and the
//! recovery, then its measures against their limits and its runbook's steps.

use std::fmt::Write;

use checkers::recovery::Snapshot;
use checkers::{History, Type};

use super::html::{calls, esc, read_back_at, secs, shown};
use super::plots::{Band, Buckets, plot_marked};
use crate::schema::Drill;

/// Writes acknowledged and not (failed or timed out) per second, with the drill's
/// quorum loss and recovery marked.
pub(super) fn plot(history: &History, d: &Drill, bands: &[Band]) -> String {
    let axis = Buckets::over(history);
    let mut counts = vec![[0usize; 2]; axis.n];
    let read_back = read_back_at(history);
    for (_, inv, done) in calls(history) {
        let Some(done) = done.filter(|_| inv.f.as_str() == "write" && secs(inv) < read_back) else {
            continue;
        };
        counts[axis.index(secs(done))][(done.kind != Type::Ok) as usize] += 1;
    }
    let m = &d.measured;
    let mut marks = Vec::new();
    if let Some(lost) = m.quorum_lost_s {
        marks.push((lost, "quorum lost".to_string()));
        if let Some(rto) = m.rto_s {
            marks.push((lost + rto, format!("RTO {rto:.1} s, RPO {} writes", m.rpo)));
        }
    }
    plot_marked(
        "Writes per second",
        "writes/s",
        axis.span,
        &[
            ("acknowledged".to_string(), "#2a9d8f", axis.rate(&counts, 0)),
            ("failed or timed out".to_string(), "#d62828", axis.rate(&counts, 1)),
        ],
        bands,
        &marks,
    )
}

/// Each snapshot: its file, node, when, and what it must hold.
fn snapshots(list: &[Snapshot]) -> String {
    let each: Vec<String> = list
        .iter()
        .map(|sn| {
            format!(
                "{} from {} at {:.1} s, after {} writes acknowledged (the last key {})",
                sn.file.rsplit('/').next().unwrap_or("?"),
                shown(&sn.node),
                sn.at_s,
                sn.acknowledged_before,
                shown(&sn.last_acknowledged),
            )
        })
        .collect();
    if each.is_empty() {
        "none".into()
    } else {
        each.join("; ")
    }
}

fn secs_or(s: Option<f64>) -> String {
    s.map_or("none".to_string(), |s| format!("{s:.2} s"))
}

/// ` (keys 3-5, 9)`, or nothing for no keys.
fn keys(k: &[i64]) -> String {
    if k.is_empty() {
        String::new()
    } else {
        format!(" (keys {})", checkers::recovery::ranges(k))
    }
}

/// The drill's measures, its runbook's steps and what failed.
pub(super) fn table(d: &Drill) -> String {
    let m = &d.measured;
    let mut page = String::from("<h2>Recovery drill</h2>\n<table id=\"drill\">\n");
    let rows = [
        (
            "runbook",
            format!(
                "{}{}",
                shown(&d.runbook.as_ref().map(|r| &r.name)),
                if d.runbook.as_ref().is_some_and(|r| r.unofficial) {
                    " (unofficial)"
                } else {
                    ""
                }
            ),
        ),
        ("quorum lost at", secs_or(m.quorum_lost_s)),
        ("detected after", secs_or(m.detection_s)),
        (
            "RTO",
            format!("{} (limit {} s)", secs_or(m.rto_s), shown(&d.rto_limit_s)),
        ),
        (
            "RPO",
            format!(
                "{} of {} acknowledged writes lost{}{}",
                m.rpo,
                m.acknowledged,
                keys(&m.lost),
                d.rpo_limit.map_or(String::new(), |l| format!(" (limit {l})"))
            ),
        ),
        (
            "acknowledged after the newest snapshot",
            m.acked_since_snapshot.map_or("no snapshot".into(), |n| n.to_string()),
        ),
        ("timed out, yet present", m.timed_out_present.to_string()),
        (
            "failed, yet present",
            format!("{}{}", m.failed_present.len(), keys(&m.failed_present)),
        ),
        (
            "nodes disagreeing",
            format!("{}{}", m.disagree.len(), keys(&m.disagree)),
        ),
        ("revisions gone back", m.revision_regressions.len().to_string()),
        ("snapshots", snapshots(&m.snapshots)),
    ];
    for (label, value) in rows {
        let _ = writeln!(page, "<tr><th>{label}</th><td>{}</td></tr>", esc(&value));
    }
    page.push_str("</table>\n");
    if !d.steps.is_empty() {
        page.push_str("<h3>Runbook steps</h3>\n<table id=\"steps\"><tr><th>step</th><th>took</th></tr>\n");
        for st in &d.steps {
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&shown(&st.step)),
                secs_or(Some(st.took_s))
            );
        }
        page.push_str("</table>\n");
    }
    page.push_str(&if d.violations.is_empty() {
        "<p id=\"drill-verdict\" class=\"valid\">every drill measure held</p>\n".to_string()
    } else {
        let items: Vec<String> = d.violations.iter().map(|v| format!("<li>{}</li>", esc(v))).collect();
        format!("<ul id=\"drill-verdict\" class=\"invalid\">{}</ul>\n", items.join(""))
    });
    page
}
