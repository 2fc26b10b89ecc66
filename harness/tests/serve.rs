//! `splitbrain serve` over a results folder built to attack it: run folders named
//! with markup, links to /etc/passwd and to a file outside the folder, traversal
//! in plain and percent-encoded forms. Nothing outside the folder is served, and
//! the index, opened in headless Chromium, runs none of the names as script.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A folder name that closes the href and runs script where it is not escaped.
const XSS: &str = "x\"><img src=x onerror=\"document.title='pwned'\">";
const STAMP: &str = "20250101T000001";
const OUTSIDE: &str = "a file outside the results folder";

/// `serve` in the background, killed on every path out of the test.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `splitbrain serve --port 0`, and the port it says it bound.
fn serve(results: &Path) -> (Serving, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_splitbrain"))
        .args(["serve", "--port", "0", "--results"])
        .arg(results)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn splitbrain serve");
    let stderr = child.stderr.take().expect("stderr");
    let serving = Serving(child);
    let mut lines = BufReader::new(stderr).lines();
    let line = lines.next().expect("a line from serve").expect("stderr");
    let port = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    assert_ne!(port, 0, "{line}");
    std::thread::spawn(move || lines.for_each(drop));
    (serving, port)
}

/// GET `path` exactly as given (no client normalizing `..`): status and body.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("send");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    (status, body)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// `base/results`: a good run with its `latest` link and two escaping links, a run
/// and a suite named [`XSS`], a run whose results.json is not a run's; and
/// `base/outside.txt` beside it.
fn results_folder(base: &Path) -> PathBuf {
    let root = base.join("results");
    let good = root.join("etcd-register-none").join(STAMP);
    write(&good.join("test.json"), r#"{"system": "etcd", "workload": "register"}"#);
    write(&good.join("results.json"), r#"{"verdict": "valid"}"#);
    write(&good.join("report.html"), "<html><body>the report</body></html>");
    std::os::unix::fs::symlink(STAMP, root.join("etcd-register-none/latest")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", good.join("history.jsonl")).unwrap();
    write(&base.join("outside.txt"), OUTSIDE);
    std::os::unix::fs::symlink("../../../outside.txt", good.join("junit.xml")).unwrap();
    let xss = root.join(XSS).join(XSS);
    write(&xss.join("test.json"), &format!("{{\"system\": {:?}}}", XSS));
    write(&xss.join("results.json"), r#"{"verdict": "invalid"}"#);
    let suite = root.join(format!("suite-{XSS}")).join(STAMP);
    write(&suite.join("summary.txt"), XSS);
    write(&suite.join("junit.xml"), "<testsuites/>");
    let banana = root.join("etcd-register-bad").join(STAMP);
    write(&banana.join("test.json"), r#"{"system": "etcd"}"#);
    write(&banana.join("results.json"), r#"{"verdict": "<b>banana</b>"}"#);
    root
}

#[test]
fn only_files_inside_the_results_folder_are_served() {
    let base = common::fresh_dir("serve-files");
    let (_serving, port) = serve(&results_folder(&base));
    let run = format!("/runs/etcd-register-none/{STAMP}");
    for path in [
        format!("{run}/test.json"),
        "/runs/etcd-register-none/latest/test.json".into(),
    ] {
        let (status, body) = get(port, &path);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body.contains("\"etcd\""), "{path}: {body}");
    }
    assert_eq!(get(port, &format!("{run}/report.html")).0, 200);
    for path in [
        format!("{run}/history.jsonl"),
        format!("{run}/junit.xml"),
        "/runs/../../../../../etc/passwd".into(),
        format!("{run}/../../../outside.txt"),
        "/runs/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd".into(),
        "/runs/%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd".into(),
        "/runs/etcd-register-none/..%2f..%2f..%2f..%2fetc%2fpasswd".into(),
        "/runs//etc/passwd".into(),
        "/runs/etcd-register-none/".into(),
    ] {
        let (status, body) = get(port, &path);
        assert!([400, 403, 404].contains(&status), "{path}: {status} {body}");
        assert!(!body.contains("root:") && !body.contains(OUTSIDE), "{path}: {body}");
    }
    // a name that is markup is still a name: its files are served under their href
    let (status, body) = get(port, "/");
    assert_eq!(status, 200);
    let encoded = "x%22%3E%3Cimg%20src%3Dx%20onerror%3D%22document.title%3D%27pwned%27%22%3E";
    let href = format!("/runs/{encoded}/{encoded}/test.json");
    assert!(body.contains(&format!("href=\"{href}\"")), "{body}");
    assert_eq!(get(port, &href).0, 200);
    // links that leave the folder get no link in the index either
    assert!(!body.contains(&format!("{run}/history.jsonl")), "{body}");
    assert!(!body.contains(&format!("{run}/junit.xml")), "{body}");
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn the_index_runs_no_name_as_script() {
    let base = common::fresh_dir("serve-index");
    let (_serving, port) = serve(&results_folder(&base));
    let (_, body) = get(port, "/");
    assert!(!body.contains("<img"), "{body}");
    let shown = "x&quot;&gt;&lt;img src=x onerror=&quot;document.title='pwned'&quot;&gt;";
    assert!(
        body.contains(&format!("<td>{shown}</td>")),
        "the run's name and system: {body}"
    );
    assert!(
        body.contains(&format!("<pre>{shown}</pre>")),
        "the suite's summary: {body}"
    );
    assert!(
        body.contains("<td class=\"unreadable results.json\">unreadable results.json</td>"),
        "{body}"
    );
    assert!(!body.contains("banana"), "{body}");
    // the same payload unescaped, from file://: the browser does run it, so its
    // absence below is the escaping's doing, not the check's blindness
    let control = base.join("control.html");
    write(
        &control,
        &format!("<html><head><title>t</title></head><body><a href=\"{XSS}\">x</a></body></html>"),
    );
    let Some(dom) = common::chromium(&control, &base.join("control.png")) else {
        return;
    };
    assert!(dom.contains("<title>pwned</title>"), "the control did not run: {dom}");
    let index = format!("http://127.0.0.1:{port}/");
    let dom = common::chromium_url(&index, &base.join("index.png")).expect("chromium ran for the control");
    assert!(dom.contains("<title>splitbrain results</title>"), "{dom}");
    assert!(!dom.contains("pwned</title>") && !dom.contains("<img"), "{dom}");
    assert!(
        dom.contains(shown.replace("&quot;", "\"").as_str()),
        "the name shown as text: {dom}"
    );
    let _ = std::fs::remove_dir_all(base);
}
