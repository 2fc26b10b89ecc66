//! `splitbrain serve`: the results browser on 127.0.0.1. The index lists every run
//! under `--results` (system, workload, nemesis, version, verdict, date, duration),
//! sortable and filterable in the page; each links to its report and raw files,
//! which are served as they are. A suite's folder lists its matrix.
//!
//! Only files inside `--results` are read or served, once every link is followed:
//! a run folder's names and links come from scenario and suite files, so a link to
//! /etc/passwd or a folder named like markup must not reach the page or the wire.

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use results::schema::{RunResults, TestInfo};
use serde_json::Value;
use tower_http::services::ServeFile;

#[derive(clap::Args)]
pub struct Args {
    /// The results folder to browse
    #[arg(long, default_value = "store")]
    pub results: PathBuf,
    /// Port on 127.0.0.1
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An href under `/runs/` to the file `parts` name, each part percent-encoded but
/// for unreserved characters: no name, whatever it holds, can end the attribute.
fn href(parts: &[&OsStr]) -> String {
    let mut out = String::from("/runs");
    for part in parts {
        out.push('/');
        for &b in part.as_bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// `path` with every link followed, where that is a file inside `root` (itself
/// canonical): a link in a run folder may point anywhere.
fn contained(root: &Path, path: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).ok()?;
    (real.starts_with(root) && real.is_file()).then_some(real)
}

fn read_json(root: &Path, path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(contained(root, path)?).ok()?).ok()
}

/// The verdict the index shows: a results.json that is not a run's is said to be
/// so, never shown as whatever its `verdict` holds.
fn verdict(root: &Path, dir: &Path) -> (String, Option<RunResults>) {
    // a link that leaves the folder exists too, and is unreadable below
    if !dir.join("results.json").exists() && !dir.join("results.json").is_symlink() {
        return ("running or killed".into(), None);
    }
    match read_json(root, &dir.join("results.json")).map(|r| results::report::read_results(&r)) {
        Some(Ok(r)) => (r.verdict.as_str().into(), Some(r)),
        _ => ("unreadable results.json".into(), None),
    }
}

/// One run's row of the index: test.json's fields, the verdict, links to its files.
fn run_row(root: &Path, test: &OsStr, stamp: &OsStr, test_json: &TestInfo) -> String {
    let dir = root.join(test).join(stamp);
    let (verdict, results) = verdict(root, &dir);
    let duration = results
        .and_then(|r| r.summary)
        .map_or(String::new(), |s| format!("{:.1}", s.duration_s));
    let link = |file: &str, label: &str| {
        contained(root, &dir.join(file))
            .map(|_| format!("<a href=\"{}\">{label}</a>", href(&[test, stamp, file.as_ref()])))
    };
    let report = link("report.html", "report").unwrap_or_default();
    let files: Vec<String> = ["test.json", "history.jsonl", "results.json", "junit.xml"]
        .iter()
        .filter_map(|f| link(f, f))
        .collect();
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{v}\">{v}</td><td>{}</td><td>{}</td><td>{} {}</td></tr>",
        esc(&stamp.to_string_lossy()),
        esc(&test_json.system),
        esc(&test_json.version),
        esc(&test_json.workload),
        esc(&test_json.nemesis),
        esc(&duration),
        test_json.seed.map_or(String::new(), |s| s.to_string()),
        report,
        files.join(" "),
        v = esc(&verdict),
    )
}

/// A suite folder's section of the index: its summary and its JUnit report.
fn suite_section(root: &Path, test: &OsStr, stamp: &OsStr, summary: &str) -> String {
    let junit = match contained(root, &root.join(test).join(stamp).join("junit.xml")) {
        Some(_) => format!(
            " <a href=\"{}\">junit.xml</a>",
            href(&[test, stamp, "junit.xml".as_ref()])
        ),
        None => String::new(),
    };
    format!(
        "<h3>{}/{}{junit}</h3><pre>{}</pre>",
        esc(&test.to_string_lossy()),
        esc(&stamp.to_string_lossy()),
        esc(summary)
    )
}

/// Every run folder (`<test>/<timestamp>/test.json`) and suite folder, newest first.
fn index(root: &Path) -> String {
    let mut runs: Vec<(OsString, String)> = Vec::new();
    let mut suites: Vec<(OsString, String)> = Vec::new();
    for test in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = test.file_name();
        for stamp in std::fs::read_dir(test.path()).into_iter().flatten().flatten() {
            let stamp_name = stamp.file_name();
            if stamp_name == "latest" {
                continue;
            }
            let dir = stamp.path();
            let summary = contained(root, &dir.join("summary.txt")).and_then(|f| std::fs::read_to_string(f).ok());
            if let Some(summary) = summary.filter(|_| name.as_bytes().starts_with(b"suite-")) {
                let section = suite_section(root, &name, &stamp_name, &summary);
                suites.push((stamp_name, section));
            } else if let Some(test_json) = read_json(root, &dir.join("test.json")) {
                // a test.json of another shape still lists its run, with its fields blank
                let test_json = results::report::read_test(&test_json).unwrap_or_default();
                let row = run_row(root, &name, &stamp_name, &test_json);
                runs.push((stamp_name, row));
            }
        }
    }
    runs.sort_by(|a, b| b.0.cmp(&a.0));
    suites.sort_by(|a, b| b.0.cmp(&a.0));
    let rows: String = runs.into_iter().map(|r| r.1 + "\n").collect();
    let suites: String = suites.into_iter().map(|s| s.1 + "\n").collect();
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>splitbrain results</title><style>\
         body{{font-family:sans-serif;margin:20px}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:3px 8px}} \
         th{{cursor:pointer;background:#eee}} .valid{{color:#2a9d8f}} .invalid{{color:#d62828}} .unknown{{color:#b5838d}}</style></head><body>\
         <h1>splitbrain results <small>{}</small></h1>\
         <p><input id=\"filter\" placeholder=\"filter: etcd, invalid, partition...\" size=\"40\" oninput=\"filterRows()\"></p>\
         <table id=\"runs\"><thead><tr><th>date</th><th>system</th><th>version</th><th>workload</th><th>nemesis</th>\
         <th>verdict</th><th>duration s</th><th>seed</th><th>files</th></tr></thead><tbody>\n{rows}</tbody></table>\
         <h2>Suites</h2>{suites}\
         <script>\
         function filterRows(){{const q=document.getElementById('filter').value.toLowerCase().split(/\\s+/).filter(x=>x);\
         for(const r of document.querySelectorAll('#runs tbody tr')){{const t=r.textContent.toLowerCase();\
         r.style.display=q.every(w=>t.includes(w))?'':'none';}}}}\
         document.querySelectorAll('#runs th').forEach((th,i)=>th.onclick=()=>{{const b=document.querySelector('#runs tbody');\
         const rows=[...b.rows];const up=th.dataset.up!=='1';th.dataset.up=up?'1':'0';\
         rows.sort((x,y)=>{{const a=x.cells[i].textContent,c=y.cells[i].textContent;const n=parseFloat(a)-parseFloat(c);\
         return (isNaN(n)?a.localeCompare(c):n)*(up?1:-1);}});rows.forEach(r=>b.appendChild(r));}});\
         </script></body></html>",
        esc(&root.display().to_string())
    )
}

async fn page(State(root): State<PathBuf>) -> Html<String> {
    Html(
        tokio::task::spawn_blocking(move || index(&root))
            .await
            .unwrap_or_default(),
    )
}

/// A request path's segments under `/runs/`, percent-decoded, as a relative path;
/// `None` for any segment that is empty, `.`, `..`, or decodes to one holding `/`
/// or NUL (`%2e%2e`, `..%2f..`): those climb or hide, none names a run's file.
fn relative(raw: &str) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    for segment in raw.split('/') {
        let bytes = segment.as_bytes();
        let mut name = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
                name.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 3;
            } else {
                name.push(bytes[i]);
                i += 1;
            }
        }
        if matches!(&name[..], b"" | b"." | b"..") || name.contains(&b'/') || name.contains(&0) {
            return None;
        }
        path.push(OsStr::from_bytes(&name));
    }
    Some(path)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// `/runs/PATH`: the file PATH names under the results folder, where it is one
/// inside it once links are followed (a run's `latest` link is); 404 otherwise.
async fn file(State(root): State<PathBuf>, req: Request) -> Response {
    let Some(rel) = req.uri().path().strip_prefix("/runs/").and_then(relative) else {
        return not_found();
    };
    let found = tokio::task::spawn_blocking(move || contained(&root, &root.join(rel))).await;
    let Ok(Some(real)) = found else {
        return not_found();
    };
    // the canonical path has no links left for the file service to follow
    match ServeFile::new(real).try_call(req).await {
        Ok(mut response) => {
            let nosniff = HeaderValue::from_static("nosniff");
            response.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, nosniff);
            response.into_response()
        }
        Err(_) => not_found(),
    }
}

pub fn run(args: &Args) -> Result<u8, String> {
    if !args.results.is_dir() {
        return Err(format!(
            "--results {}: no such folder (runs write into ./store by default)",
            args.results.display()
        ));
    }
    let root = std::fs::canonicalize(&args.results).map_err(|e| format!("{}: {e}", args.results.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("{addr}: {e} (another --port?)"))?;
        // the port bound, which `--port 0` leaves to the kernel
        let bound = listener.local_addr().map_err(|e| format!("{addr}: {e}"))?;
        eprintln!("splitbrain: results browser on http://{bound}/ (Ctrl-C ends it)");
        let app = Router::new()
            .route("/", get(page))
            .route("/runs/{*path}", get(file))
            .with_state(root);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| format!("serve: {e}"))?;
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_is_refused_before_the_file_system() {
        assert_eq!(
            relative("t/20250101T000000/report.html"),
            Some(PathBuf::from("t/20250101T000000/report.html"))
        );
        assert_eq!(relative("t/a%20b%22"), Some(PathBuf::from("t/a b\"")));
        for bad in [
            "../etc/passwd",
            "t/../../x",
            "%2e%2e/x",
            "%2E%2e%2fetc",
            "t//x",
            "t/./x",
            "t/%00",
            "t/%zz",
            "t/%2",
        ] {
            assert_eq!(relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn hrefs_carry_no_markup() {
        let name = OsStr::new("x\"><img src=x onerror=alert(1)>");
        assert_eq!(
            href(&[name, "f".as_ref()]),
            "/runs/x%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E/f"
        );
    }
}
