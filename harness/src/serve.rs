//! `splitbrain serve`: the results browser on 127.0.0.1. The index lists every run
//! under `--results` (system, workload, nemesis, version, verdict, date, duration),
//! sortable and filterable in the page; each links to its report and raw files,
//! which are served as they are. A suite's folder lists its matrix.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use serde_json::Value;
use tower_http::services::ServeDir;

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

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Every run folder (`<test>/<timestamp>/test.json`) and suite folder, newest first.
fn index(root: &Path) -> String {
    let mut runs: Vec<(String, String)> = Vec::new();
    let mut suites: Vec<(String, String)> = Vec::new();
    for test in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = test.file_name().to_string_lossy().into_owned();
        for stamp in std::fs::read_dir(test.path()).into_iter().flatten().flatten() {
            let stamp_name = stamp.file_name().to_string_lossy().into_owned();
            if stamp_name == "latest" {
                continue;
            }
            let dir = stamp.path();
            let rel = format!("{name}/{stamp_name}");
            if name.starts_with("suite-") && dir.join("summary.txt").is_file() {
                let summary = std::fs::read_to_string(dir.join("summary.txt")).unwrap_or_default();
                suites.push((
                    stamp_name.clone(),
                    format!(
                        "<h3>{} <a href=\"/runs/{rel}/junit.xml\">junit.xml</a></h3><pre>{}</pre>",
                        esc(&rel),
                        esc(&summary)
                    ),
                ));
                continue;
            }
            let Some(test_json) = read_json(&dir.join("test.json")) else {
                continue;
            };
            let results = read_json(&dir.join("results.json")).unwrap_or(Value::Null);
            let verdict = results["verdict"].as_str().unwrap_or("running or killed").to_string();
            let duration = results["summary"]["duration_s"]
                .as_f64()
                .map_or(String::new(), |d| format!("{d:.1}"));
            let report = if dir.join("report.html").is_file() {
                format!("<a href=\"/runs/{rel}/report.html\">report</a>")
            } else {
                String::new()
            };
            let files: Vec<String> = ["test.json", "history.jsonl", "results.json", "junit.xml"]
                .iter()
                .filter(|f| dir.join(f).is_file())
                .map(|f| format!("<a href=\"/runs/{rel}/{f}\">{f}</a>"))
                .collect();
            runs.push((
                stamp_name.clone(),
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{v}\">{v}</td><td>{}</td><td>{}</td><td>{} {}</td></tr>",
                    esc(&stamp_name),
                    esc(&text(&test_json["system"])),
                    esc(&text(&test_json["version"])),
                    esc(&text(&test_json["workload"])),
                    esc(&text(&test_json["nemesis"])),
                    esc(&duration),
                    esc(&text(&test_json["seed"])),
                    report,
                    files.join(" "),
                    v = esc(&verdict),
                ),
            ));
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
        eprintln!("splitbrain: results browser on http://{addr}/ (Ctrl-C ends it)");
        let app = Router::new()
            .route("/", get(page))
            .nest_service("/runs", ServeDir::new(root.clone()))
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
