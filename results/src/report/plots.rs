//! The time plots: throughput, latency per f, and the clock offsets when a
//! clock fault ran, each over the run with its faults or phases shaded behind.

use std::collections::BTreeMap;
use std::fmt::Write;

use checkers::{History, Process, Type};

use super::html::{W, calls, esc, read_back_at, secs, text};
use crate::schema::RunResults;

/// Height of the time plots, in SVG units.
const H: f64 = 180.0;
/// A colour per f in the latency plot.
const PALETTE: [&str; 6] = ["#264653", "#9b2226", "#2a9d8f", "#e76f51", "#6a4c93", "#ee9b00"];
/// Left margin for the axis labels.
const LEFT: f64 = 50.0;

/// A scenario's phases (start s, end s, name), from its `phase` ops; the last
/// one runs to the end of the history.
fn phases(history: &History) -> Vec<Band> {
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
pub(super) struct Buckets {
    pub(super) span: f64,
    width: f64,
    pub(super) n: usize,
}

impl Buckets {
    pub(super) fn over(history: &History) -> Buckets {
        let span = history.ops.iter().filter_map(|o| o.time).max().unwrap_or(0) as f64 / 1e9;
        let width = (span / 120.0).max(0.25);
        Buckets {
            span,
            width,
            n: (span / width).ceil() as usize + 1,
        }
    }

    /// The bucket of time `t` (seconds).
    pub(super) fn index(&self, t: f64) -> usize {
        ((t / self.width) as usize).min(self.n - 1)
    }

    /// The middle of bucket `i` (seconds).
    fn at(&self, i: usize) -> f64 {
        (i as f64 + 0.5) * self.width
    }

    /// Column `k` of per-bucket counts, per second.
    pub(super) fn rate<const K: usize>(&self, counts: &[[usize; K]], k: usize) -> Vec<(f64, f64)> {
        (0..self.n)
            .map(|i| (self.at(i), counts[i][k] as f64 / self.width))
            .collect()
    }
}

/// A stretch shaded behind the plots: (start s, end s, what).
pub(super) type Band = (f64, f64, String);

/// What the plots shade: a scenario's phases, where it has them; otherwise the
/// fault windows from the run's summary.
pub(super) fn bands(history: &History, results: &RunResults) -> Vec<Band> {
    match phases(history) {
        p if p.is_empty() => results
            .summary
            .iter()
            .flat_map(|s| &s.faults)
            .map(|w| (w.start_s, w.end_s, w.fault.clone()))
            .collect(),
        p => p,
    }
}

/// A named, coloured line: (seconds, value) points.
type Series<'a> = (String, &'a str, Vec<(f64, f64)>);

/// SVG of series over time (seconds), with the fault windows as bands behind. The
/// y range always takes in 0; signed series (clock offsets) get a zero line.
fn plot(title: &str, unit: &str, span: f64, series: &[Series], bands: &[Band]) -> String {
    plot_marked(title, unit, span, series, bands, &[])
}

/// [`plot`] with vertical lines at `marks` (seconds, label).
pub(super) fn plot_marked(
    title: &str,
    unit: &str,
    span: f64,
    series: &[Series],
    bands: &[Band],
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
pub(super) fn time_plots(history: &History, bands: &[Band]) -> String {
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
fn clock_plot(history: &History, span: f64, bands: &[Band]) -> String {
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
