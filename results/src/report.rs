//! `report.html`: one self-contained page per run (no network, no scripts from
//! anywhere, it opens from `file://`): what ran and how to run it again, the
//! throughput and latency over time under the fault windows (and the clock
//! offsets, when a clock fault ran), the faults, the verdict per key, and for a
//! key that cannot be linearized the ops around the culprit, one lane per process.

use std::collections::BTreeMap;
use std::fmt::Write;

use checkers::{F, History, Op, Process, Type};
use serde_json::Value;

mod shape;
pub use shape::{ShapeError, check_results, check_test};

/// Width and height of the time plots, in SVG units.
const W: f64 = 900.0;
const H: f64 = 180.0;
/// A colour per f in the latency plot.
const PALETTE: [&str; 6] = ["#264653", "#9b2226", "#2a9d8f", "#e76f51", "#6a4c93", "#ee9b00"];
/// Violations listed in the page; results.json has every one.
const LISTED: usize = 40;
/// Left margin for the axis labels.
const LEFT: f64 = 50.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The command that runs this test again, from test.json.
pub fn reproduce(test: &Value) -> String {
    // a drill through a shipped scenario is `drill` again
    if !test["drill"].is_null() {
        let mut cmd = format!(
            "splitbrain drill --system {} --nodes {} --runbook {} --rto {} --seed {}",
            text(&test["system"]),
            text(&test["nodes"]),
            text(
                &test["runbook"]["file"]
                    .as_str()
                    .map_or(test["runbook"]["name"].clone(), Value::from)
            ),
            text(&test["rto_s"]),
            text(&test["seed"]),
        );
        for (flag, field) in [("--rpo", "rpo"), ("--version", "version"), ("--runtime", "runtime")] {
            if !test[field].is_null() {
                let _ = write!(cmd, " {flag} {}", text(&test[field]));
            }
        }
        return cmd;
    }
    let mut cmd = format!(
        "splitbrain run --system {} --workload {} --nemesis {} --time-limit {} --nodes {} --seed {}",
        text(&test["system"]),
        text(&test["workload"]),
        text(&test["nemesis"]),
        text(&test["time_limit_s"]),
        text(&test["nodes"]),
        text(&test["seed"]),
    );
    let flags = [
        ("--version", "version"),
        ("--runtime", "runtime"),
        ("--nemesis-interval", "nemesis_interval_s"),
        ("--partition", "partition_shapes"),
        ("--concurrency", "concurrency"),
        ("--readers", "readers"),
        ("--read-mode", "read_mode"),
        ("--resource", "resource"),
        ("--scenario", "scenario"),
        ("--rto", "rto_s"),
        ("--rpo", "rpo"),
        ("--from", "from"),
        ("--to", "to"),
        ("--from-binary", "from_binary"),
        ("--to-binary", "to_binary"),
        ("--rollback", "rollback"),
        ("--snapshot-count", "snapshot_count"),
    ];
    let lock = [
        ("--ttl", "ttl_s"),
        ("--think", "think_s"),
        ("--lock-delay", "lock_delay_s"),
        ("--client-pause-at", "client_pause_at"),
    ];
    let clock = [
        ("--clock", "shapes"),
        ("--clock-clocks", "clocks"),
        ("--clock-target", "targets"),
        ("--clock-offset", "offset_s"),
        ("--clock-direction", "direction"),
        ("--clock-rate", "rate"),
        ("--strobe-period", "strobe_period_ms"),
    ];
    let election = [
        ("--term-jobs", "term_jobs"),
        ("--job-interval", "job_interval_s"),
        ("--failover-within", "failover_within_s"),
    ];
    let locked = test["workload"] == "lock" || test["workload"] == "election";
    let given = flags
        .iter()
        .map(|&(flag, field)| (flag, &test[field]))
        .chain(
            lock.iter()
                .filter(|_| locked)
                .map(|&(flag, field)| (flag, &test[field])),
        )
        .chain(
            election
                .iter()
                .filter(|_| test["workload"] == "election")
                .map(|&(flag, field)| (flag, &test[field])),
        )
        .chain(clock.iter().map(|&(flag, field)| (flag, &test["clock"][field])))
        .chain(std::iter::once(("--runbook", &test["runbook"]["name"])).filter(|_| test["runbook"]["file"].is_null()))
        .chain(std::iter::once(("--runbook", &test["runbook"]["file"])));
    for (flag, v) in given {
        match v {
            Value::Null => {}
            Value::String(s) if s.is_empty() => {}
            v => {
                let _ = write!(cmd, " {flag} {}", text(v));
            }
        }
    }
    cmd
}

/// A scenario's phases (start s, end s, name), from its `phase` ops; the last
/// one runs to the end of the history.
fn phases(history: &History) -> Vec<(f64, f64, String)> {
    let end = history.ops.iter().filter_map(|o| o.time).max().unwrap_or(0) as f64 / 1e9;
    let starts: Vec<(f64, String)> = history
        .ops
        .iter()
        .filter(|o| o.process == Process::Nemesis && o.f.as_str() == "phase")
        .map(|o| (secs(o), text(&o.value.to_json())))
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, (from, name))| (*from, starts.get(i + 1).map_or(end, |n| n.0), name.clone()))
        .collect()
}

/// The time axis of the per-second plots: about 120 buckets, each at least 0.25 s.
struct Buckets {
    span: f64,
    width: f64,
    n: usize,
}

impl Buckets {
    fn over(history: &History) -> Buckets {
        let span = history.ops.iter().filter_map(|o| o.time).max().unwrap_or(0) as f64 / 1e9;
        let width = (span / 120.0).max(0.25);
        Buckets {
            span,
            width,
            n: (span / width).ceil() as usize + 1,
        }
    }

    /// The bucket of time `t` (seconds).
    fn index(&self, t: f64) -> usize {
        ((t / self.width) as usize).min(self.n - 1)
    }

    /// The middle of bucket `i` (seconds).
    fn at(&self, i: usize) -> f64 {
        (i as f64 + 0.5) * self.width
    }

    /// Column `k` of per-bucket counts, per second.
    fn rate<const K: usize>(&self, counts: &[[usize; K]], k: usize) -> Vec<(f64, f64)> {
        (0..self.n)
            .map(|i| (self.at(i), counts[i][k] as f64 / self.width))
            .collect()
    }
}

/// When a drill's read of every key began (seconds), or never.
fn read_back_at(history: &History) -> f64 {
    history
        .ops
        .iter()
        .find(|o| o.process == Process::Nemesis && o.f.as_str() == "read-back")
        .map_or(f64::MAX, secs)
}

/// Writes acknowledged and not (failed or timed out) per second, with the drill's
/// quorum loss and recovery marked.
fn drill_plot(history: &History, results: &Value, bands: &[(f64, f64, String)]) -> String {
    let axis = Buckets::over(history);
    let mut counts = vec![[0usize; 2]; axis.n];
    let read_back = read_back_at(history);
    for (_, inv, done) in calls(history) {
        let Some(done) = done.filter(|_| inv.f.as_str() == "write" && secs(inv) < read_back) else {
            continue;
        };
        counts[axis.index(secs(done))][(done.kind != Type::Ok) as usize] += 1;
    }
    let d = &results["drill"];
    let mut marks = Vec::new();
    if let Some(lost) = d["quorum_lost_s"].as_f64() {
        marks.push((lost, "quorum lost".to_string()));
        if let Some(rto) = d["rto_s"].as_f64() {
            marks.push((lost + rto, format!("RTO {rto:.1} s, RPO {} writes", text(&d["rpo"]))));
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
fn snapshots(list: &Value) -> String {
    let each: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|sn| {
            format!(
                "{} from {} at {:.1} s, after {} writes acknowledged (the last key {})",
                sn["file"].as_str().and_then(|f| f.rsplit('/').next()).unwrap_or("?"),
                text(&sn["node"]),
                sn["at_s"].as_f64().unwrap_or(0.0),
                text(&sn["acknowledged_before"]),
                text(&sn["last_acknowledged"]),
            )
        })
        .collect();
    if each.is_empty() {
        "none".into()
    } else {
        each.join("; ")
    }
}

/// The drill's measures, its runbook's steps and what failed.
fn drill_table(d: &Value) -> String {
    let mut page = String::from("<h2>Recovery drill</h2>\n<table id=\"drill\">\n");
    let secs_or = |v: &Value| v.as_f64().map_or("none".to_string(), |s| format!("{s:.2} s"));
    let keys = |v: &Value| {
        let k: Vec<i64> = v.as_array().into_iter().flatten().filter_map(Value::as_i64).collect();
        if k.is_empty() {
            String::new()
        } else {
            format!(" (keys {})", checkers::recovery::ranges(&k))
        }
    };
    let rows = [
        (
            "runbook",
            format!(
                "{}{}",
                text(&d["runbook"]["name"]),
                if d["runbook"]["unofficial"] == true {
                    " (unofficial)"
                } else {
                    ""
                }
            ),
        ),
        ("quorum lost at", secs_or(&d["quorum_lost_s"])),
        ("detected after", secs_or(&d["detection_s"])),
        (
            "RTO",
            format!("{} (limit {} s)", secs_or(&d["rto_s"]), text(&d["rto_limit_s"])),
        ),
        (
            "RPO",
            format!(
                "{} of {} acknowledged writes lost{}{}",
                text(&d["rpo"]),
                text(&d["acknowledged"]),
                keys(&d["lost"]),
                d["rpo_limit"]
                    .as_u64()
                    .map_or(String::new(), |l| format!(" (limit {l})"))
            ),
        ),
        (
            "acknowledged after the newest snapshot",
            d["acked_since_snapshot"]
                .as_u64()
                .map_or("no snapshot".into(), |n| n.to_string()),
        ),
        ("timed out, yet present", text(&d["timed_out_present"])),
        (
            "failed, yet present",
            format!(
                "{}{}",
                d["failed_present"].as_array().map_or(0, Vec::len),
                keys(&d["failed_present"])
            ),
        ),
        (
            "nodes disagreeing",
            format!(
                "{}{}",
                d["disagree"].as_array().map_or(0, Vec::len),
                keys(&d["disagree"])
            ),
        ),
        (
            "revisions gone back",
            d["revision_regressions"].as_array().map_or(0, Vec::len).to_string(),
        ),
        ("snapshots", snapshots(&d["snapshots"])),
    ];
    for (label, value) in rows {
        let _ = writeln!(page, "<tr><th>{label}</th><td>{}</td></tr>", esc(&value));
    }
    page.push_str("</table>\n");
    if let Some(steps) = d["steps"].as_array().filter(|s| !s.is_empty()) {
        page.push_str("<h3>Runbook steps</h3>\n<table id=\"steps\"><tr><th>step</th><th>took</th></tr>\n");
        for st in steps {
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&text(&st["step"])),
                secs_or(&st["took_s"])
            );
        }
        page.push_str("</table>\n");
    }
    let violations: Vec<&Value> = d["violations"].as_array().into_iter().flatten().collect();
    page.push_str(&if violations.is_empty() {
        "<p id=\"drill-verdict\" class=\"valid\">every drill measure held</p>\n".to_string()
    } else {
        let items: Vec<String> = violations
            .iter()
            .map(|v| format!("<li>{}</li>", esc(&text(v))))
            .collect();
        format!("<ul id=\"drill-verdict\" class=\"invalid\">{}</ul>\n", items.join(""))
    });
    page
}

/// Fault windows (start s, end s, what) from the run's summary.
fn faults(results: &Value) -> Vec<(f64, f64, String)> {
    results["summary"]["faults"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            (
                w["start_s"].as_f64().unwrap_or(0.0),
                w["end_s"].as_f64().unwrap_or(0.0),
                text(&w["fault"]),
            )
        })
        .collect()
}

/// Client ops paired: (process, invoke op, completion op if any).
fn calls(history: &History) -> Vec<(u64, &Op, Option<&Op>)> {
    history
        .completions()
        .into_iter()
        .filter_map(|(inv, done)| match inv.process {
            Process::Client(p) => Some((p, inv, done)),
            Process::Nemesis => None,
        })
        .collect()
}

fn secs(op: &Op) -> f64 {
    op.time.unwrap_or(0) as f64 / 1e9
}

/// A named, coloured line: (seconds, value) points.
type Series<'a> = (String, &'a str, Vec<(f64, f64)>);

/// SVG of series over time (seconds), with the fault windows as bands behind. The
/// y range always takes in 0; signed series (clock offsets) get a zero line.
fn plot(title: &str, unit: &str, span: f64, series: &[Series], bands: &[(f64, f64, String)]) -> String {
    plot_marked(title, unit, span, series, bands, &[])
}

/// [`plot`] with vertical lines at `marks` (seconds, label).
fn plot_marked(
    title: &str,
    unit: &str,
    span: f64,
    series: &[Series],
    bands: &[(f64, f64, String)],
    marks: &[(f64, String)],
) -> String {
    let (ymin, ymax) = series
        .iter()
        .flat_map(|(_, _, pts)| pts.iter().map(|p| p.1))
        .fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let ymax = ymax.max(1e-9);
    let x = |t: f64| LEFT + (W - LEFT - 10.0) * (t / span.max(1e-9)).clamp(0.0, 1.0);
    let y = |v: f64| H - 20.0 - (H - 40.0) * ((v - ymin) / (ymax - ymin));
    let mut svg = format!(
        "<svg class=\"plot\" data-title=\"{}\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" xmlns=\"http://www.w3.org/2000/svg\">\n",
        esc(title)
    );
    for (i, (a, b, what)) in bands.iter().enumerate() {
        let _ = writeln!(
            svg,
            "<g class=\"fault\"><rect x=\"{:.1}\" y=\"10\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" opacity=\"0.25\"><title>{}</title></rect>\
             <text x=\"{:.1}\" y=\"22\" font-size=\"10\">{}</text></g>",
            x(*a),
            (x(*b) - x(*a)).max(1.0),
            H - 30.0,
            if i % 2 == 0 { "#f4a261" } else { "#e76f51" },
            esc(&format!("{a:.1}-{b:.1} s: {what}")),
            x(*a) + 2.0,
            esc(what.split(':').next().unwrap_or(what)),
        );
    }
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#333\"/><line x1=\"{LEFT}\" y1=\"10\" x2=\"{LEFT}\" y2=\"{0}\" stroke=\"#333\"/>",
        H - 20.0,
        W - 10.0
    );
    if ymin < 0.0 {
        let _ = writeln!(
            svg,
            "<line class=\"zero\" x1=\"{LEFT}\" y1=\"{z:.1}\" x2=\"{}\" y2=\"{z:.1}\" stroke=\"#999\" stroke-dasharray=\"2 2\"/>\
             <text x=\"4\" y=\"{:.1}\" font-size=\"10\">0</text>",
            W - 10.0,
            y(0.0) + 3.0,
            z = y(0.0)
        );
    }
    let bottom = if ymin < 0.0 {
        format!("{ymin:.1} {unit}")
    } else {
        "0".to_string()
    };
    let _ = writeln!(
        svg,
        "<text x=\"4\" y=\"16\" font-size=\"10\">{ymax:.1} {unit}</text><text x=\"4\" y=\"{}\" font-size=\"10\">{bottom}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\">{span:.0} s</text>",
        H - 22.0,
        W - 40.0,
        H - 6.0
    );
    for (name, color, pts) in series {
        // p50 and mono lines dashed, beside their p99 or wall of the same colour
        let dash = if name.ends_with("p50") || name.ends_with("mono") {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        let path: Vec<String> = pts.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect();
        let _ = writeln!(
            svg,
            "<polyline class=\"series\" data-name=\"{name}\" fill=\"none\" stroke=\"{color}\"{dash} stroke-width=\"1.5\" points=\"{}\"><title>{name}</title></polyline>",
            path.join(" ")
        );
    }
    for (t, label) in marks {
        let _ = writeln!(
            svg,
            "<g class=\"mark\"><line x1=\"{0:.1}\" y1=\"10\" x2=\"{0:.1}\" y2=\"{1}\" stroke=\"#264653\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>\
             <text x=\"{2:.1}\" y=\"{3}\" font-size=\"11\" fill=\"#264653\">{4}</text></g>",
            x(*t),
            H - 20.0,
            x(*t) + 3.0,
            H - 28.0,
            esc(label)
        );
    }
    svg.push_str("</svg>\n");
    let legend: Vec<String> = series
        .iter()
        .map(|(n, c, _)| format!("<span style=\"color:{c}\">&#9632; {n}</span>"))
        .collect();
    format!(
        "<h3>{}</h3>\n<div class=\"legend\">{}</div>\n{svg}",
        esc(title),
        legend.join(" ")
    )
}

/// Throughput (ok / fail / info completions per second) and latency (p50, p99 of
/// ok ops) per time bucket, then the clock offsets if a clock fault ran.
fn time_plots(history: &History, bands: &[(f64, f64, String)]) -> String {
    // a drill's read of every key afterwards is no part of the run's throughput
    let read_back = read_back_at(history);
    let calls: Vec<_> = calls(history)
        .into_iter()
        .filter(|(_, inv, _)| secs(inv) < read_back)
        .collect();
    let axis = Buckets::over(history);
    let (span, n) = (axis.span, axis.n);
    let mut counts = vec![[0usize; 3]; n];
    // per f (read, write, cas, acquire, ...): latencies of ok ops per bucket
    let mut lat: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
    for (_, inv, done) in &calls {
        let Some(done) = done else { continue };
        let b = axis.index(secs(done));
        let k = match done.kind {
            Type::Ok => 0,
            Type::Fail => 1,
            _ => 2,
        };
        counts[b][k] += 1;
        if done.kind == Type::Ok {
            lat.entry(inv.f.to_string()).or_insert_with(|| vec![Vec::new(); n])[b].push((secs(done) - secs(inv)) * 1e3);
        }
    }
    let at = |i: usize| axis.at(i);
    let rate = |k: usize| axis.rate(&counts, k);
    let pct = |lat: &[Vec<f64>], p: f64| {
        (0..n)
            .filter(|&i| !lat[i].is_empty())
            .map(|i| {
                let mut l = lat[i].clone();
                l.sort_by(f64::total_cmp);
                (at(i), l[((l.len() as f64 * p) as usize).min(l.len() - 1)])
            })
            .collect::<Vec<_>>()
    };
    plot(
        "Throughput",
        "ops/s",
        span,
        &[
            ("ok".to_string(), "#2a9d8f", rate(0)),
            ("fail".to_string(), "#e9c46a", rate(1)),
            ("info".to_string(), "#d62828", rate(2)),
        ],
        bands,
    ) + &plot(
        "Latency of ok ops, per f (p99 solid, p50 dashed)",
        "ms",
        span,
        &lat.iter()
            .zip(PALETTE.iter().cycle())
            .flat_map(|((f, l), color)| {
                [
                    (format!("{f} p99"), *color, pct(l, 0.99)),
                    (format!("{f} p50"), *color, pct(l, 0.5)),
                ]
            })
            .collect::<Vec<_>>(),
        bands,
    ) + &clock_plot(history, span, bands)
}

/// The offsets the clock nemesis recorded (`clock-offsets`), per node, wall solid and
/// mono dashed, each held until the next sample so that a bump draws as a step. A
/// class that stays at 0 is left out; without a clock fault there is no plot.
fn clock_plot(history: &History, span: f64, bands: &[(f64, f64, String)]) -> String {
    const CLASSES: [&str; 2] = ["wall", "mono"];
    let mut seen = false;
    let mut offsets: BTreeMap<String, [Vec<(f64, f64)>; 2]> = BTreeMap::new();
    for op in &history.ops {
        if op.process != Process::Nemesis || op.f.as_str() != "clock-offsets" {
            continue;
        }
        seen = true;
        for (node, o) in op.value.to_json().as_object().into_iter().flatten() {
            for (i, class) in CLASSES.into_iter().enumerate() {
                if let Some(ns) = o[class].as_i64() {
                    let pts = &mut offsets.entry(node.clone()).or_default()[i];
                    if let Some(&(_, held)) = pts.last() {
                        pts.push((secs(op), held));
                    }
                    pts.push((secs(op), ns as f64 / 1e9));
                }
            }
        }
    }
    if !seen {
        return String::new();
    }
    let moved = |pts: &Vec<(f64, f64)>| pts.iter().any(|p| p.1 != 0.0);
    let series: Vec<Series> = offsets
        .into_iter()
        .filter(|(_, classes)| classes.iter().any(moved))
        .zip(PALETTE.iter().cycle())
        .flat_map(|((node, classes), color)| {
            CLASSES
                .into_iter()
                .zip(classes)
                .filter(|(_, pts)| moved(pts))
                .map(move |(class, pts)| (format!("{node} {class}"), *color, pts))
        })
        .collect();
    plot("Clock offsets", "s", span, &series, bands)
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

/// A watch run's watchers (how they watch, events, resumptions, lag from a
/// write's acknowledgement to the batch that delivered it) and its violations.
fn watch_tables(watchers: &[Value], check: &Value) -> String {
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

/// An election's failovers: each fault that took the leader away, the terms
/// before and after, how long until the next leader acted; p50 and max.
fn failovers(election: &Value) -> String {
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

/// Every node's version over the run, as the nodes reported it after each
/// upgrade step (`versions` ops), with the step that led there.
fn versions_table(history: &History) -> String {
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

/// The replicas read on their own after the run, and where they disagreed.
fn replicas(d: &Value) -> String {
    if d.is_null() {
        return String::new();
    }
    let v = text(&d["verdict"]);
    let mut out = format!(
        "<h2>Replicas</h2>\n<p id=\"replicas\">each node read on its own once caught up: \
         <span class=\"{v}\">{}</span>; agreeing: {}</p>\n",
        esc(&v),
        esc(&d["agreeing"]
            .as_array()
            .map_or(String::new(), |a| { a.iter().map(text).collect::<Vec<_>>().join(", ") }))
    );
    let unread = d["unread"].as_array().into_iter().flatten();
    let disagreements = d["disagreements"].as_array().into_iter().flatten();
    if d["verdict"] == "valid" {
        return out;
    }
    out.push_str("<table id=\"divergence\"><tr><th>node or key</th><th>what</th></tr>\n");
    for u in unread {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"unknown\">not read: {}</td></tr>",
            esc(&text(&u["node"])),
            esc(&text(&u["why"]))
        );
    }
    for x in disagreements {
        let values: Vec<String> = x["values"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(n, v)| format!("{n} {}", text(v)))
            .collect();
        let _ = writeln!(
            out,
            "<tr><td>key {}</td><td class=\"invalid\">linearizable read {}; {}</td></tr>",
            esc(&text(&x["key"])),
            esc(&x["linearizable"]
                .as_str()
                .map_or_else(|| text(&x["linearizable"]), str::to_string)),
            esc(&values.join(", "))
        );
    }
    out.push_str("</table>\n");
    out
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

/// The whole page.
pub fn render(test: &Value, results: &Value, history: &History) -> String {
    let verdict = text(&results["verdict"]);
    // a scenario with phases draws them; otherwise the fault windows
    let bands = match phases(history) {
        p if p.is_empty() => faults(results),
        p => p,
    };
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>splitbrain: {} {} {}</title>\n<style>\
         body{{font-family:sans-serif;margin:20px;max-width:960px}} table{{border-collapse:collapse}} \
         td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}} .valid{{color:#2a9d8f}} \
         .invalid{{color:#d62828}} .unknown{{color:#b5838d}} code{{background:#f4f4f4;padding:1px 3px}} \
         .legend{{font-size:12px}}</style></head><body>\n",
        esc(&text(&test["system"])),
        esc(&text(&test["workload"])),
        esc(&verdict)
    );
    // a history checked on its own names itself (`title`) and how to check it again
    let title = test["title"].as_str().map_or_else(
        || {
            // an upgrade's run names both ends
            let version = match test["to"].as_str() {
                Some(to) => format!("{} → {to}", text(&test["version"])),
                None => text(&test["version"]),
            };
            format!("{} {version} ×{}", text(&test["system"]), text(&test["nodes"]))
        },
        str::to_string,
    );
    // the checks' verdict, and beside it whatever else failed the run (exit 1)
    let drill_failed = results["drill"]["violations"].as_array().is_some_and(|v| !v.is_empty());
    let missed = results["expectations"]
        .as_array()
        .is_some_and(|e| e.iter().any(|x| x["held"] == false));
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
        v = esc(&verdict)
    );
    page.push_str("<table id=\"header\">\n");
    for (label, field) in [
        ("runtime", "runtime"),
        ("workload", "workload"),
        ("nemesis", "nemesis"),
        ("scenario", "scenario"),
        ("seed", "seed"),
        ("read mode", "read_mode"),
        ("resource", "resource"),
        ("run id", "run_id"),
    ] {
        // a scenario's steps are its faults: --nemesis played no part
        let moot = field == "nemesis" && !test["scenario"].is_null();
        if !moot && !test[field].is_null() && test[field] != "" {
            let _ = writeln!(page, "<tr><th>{label}</th><td>{}</td></tr>", esc(&text(&test[field])));
        }
    }
    let _ = writeln!(
        page,
        "<tr><th>reproduce</th><td><code id=\"reproduce\">{}</code></td></tr></table>",
        esc(&test["reproduce"]
            .as_str()
            .map_or_else(|| reproduce(test), str::to_string))
    );
    if !results["drill"].is_null() {
        page.push_str(&drill_plot(history, results, &bands));
        page.push_str(&drill_table(&results["drill"]));
    }
    page.push_str(&time_plots(history, &bands));
    page.push_str(
        "<h2>Faults</h2>\n<table id=\"faults\"><tr><th>from</th><th>to</th><th>what</th><th>no ok op for</th></tr>\n",
    );
    for w in results["summary"]["faults"].as_array().into_iter().flatten() {
        let _ = writeln!(
            page,
            "<tr><td>{:.1} s</td><td>{:.1} s</td><td>{}</td><td>{:.1} s</td></tr>",
            w["start_s"].as_f64().unwrap_or(0.0),
            w["end_s"].as_f64().unwrap_or(0.0),
            esc(&text(&w["fault"])),
            w["unavailable_s"].as_f64().unwrap_or(0.0)
        );
    }
    page.push_str("</table>\n");
    // a scenario's expectations, judged on the history
    if let Some(expected) = results["expectations"].as_array() {
        page.push_str(
            "<h2>Expectations</h2>\n<table id=\"expectations\"><tr><th>from</th><th>expect</th><th>result</th>\
             <th>writes acknowledged / invoked</th><th>first after</th></tr>\n",
        );
        for e in expected {
            let held = e["held"] == true;
            let _ = writeln!(
                page,
                "<tr><td>{:.1} s</td><td>{}</td><td class=\"{}\">{}</td><td>{} / {}</td><td>{}</td></tr>",
                e["from_s"].as_f64().unwrap_or(0.0),
                esc(&text(&e["expect"])),
                if held { "valid" } else { "invalid" },
                if held { "held" } else { "not held" },
                text(&e["acknowledged"]),
                text(&e["invoked"]),
                e["first_ok_after_s"]
                    .as_f64()
                    .map_or("-".into(), |t| format!("{t:.2} s")),
            );
        }
        page.push_str("</table>\n");
    }
    page.push_str(&versions_table(history));
    page.push_str(&replicas(&results["divergence"]));
    let check = &results["check"];
    if let Some(keys) = check["keys"].as_array() {
        page.push_str(
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
    }
    if let Some(watchers) = check["watchers"].as_array() {
        page.push_str(&watch_tables(watchers, check));
    }
    // an election's report holds the lock checks on its terms as `safety`
    let election = check["safety"].is_object();
    if election {
        page.push_str(&failovers(check));
    }
    let check = if election { &check["safety"] } else { check };
    let locked = check["stats"]["acquires_ok"].is_number();
    if let Some(violations) = check["violations"].as_array().filter(|_| locked) {
        page.push_str(&holders(history, check, election));
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
    }
    page.push_str("</body></html>\n");
    page
}
