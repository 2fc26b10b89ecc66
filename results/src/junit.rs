//! `junit.xml`: a run's checks as JUnit test cases, so any CI shows them as tests.
//! One case per checked key (or one for the lock check); a key that is not valid
//! is a failure (invalid) or an error (unknown) carrying the first violation and
//! the path of the run's report.html.

use std::time::Duration;

use checkers::lock::LockReport;
use checkers::{Report, Verdict};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

fn status(verdict: Verdict, message: &str, description: String) -> TestCaseStatus {
    match verdict {
        Verdict::Valid => TestCaseStatus::success(),
        Verdict::Invalid | Verdict::Unknown => {
            let kind = if verdict == Verdict::Invalid {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(message)
                .set_type(verdict.as_str())
                .set_description(description);
            s
        }
    }
}

fn document(suite: TestSuite, name: &str) -> Result<String, String> {
    let mut report = quick_junit::Report::new(name);
    report.add_test_suite(suite);
    report.to_string().map_err(|e| format!("junit.xml: {e}"))
}

/// The linearizability check of run `test` (the run folder's test name), one case a
/// key; `page` is the run's report.html.
pub fn linearizability(test: &str, report: &Report, page: &str) -> Result<String, String> {
    let mut suite = TestSuite::new(test);
    suite.set_time(Duration::from_secs_f64(report.elapsed_ms / 1000.0));
    for k in &report.keys {
        let name = k.key.as_deref().map_or("history".to_string(), |k| format!("key {k}"));
        let message = match (&k.counterexample, &k.reason) {
            (Some(cx), _) => format!("cannot linearize {}", cx.op),
            (None, Some(why)) => why.clone(),
            (None, None) => k.verdict.as_str().to_string(),
        };
        let description = format!(
            "{}\nmodel {}, initial {}; the whole story: {page}",
            k.to_text(),
            report.model,
            report.initial
        );
        let mut case = TestCase::new(name, status(k.verdict, &message, description));
        case.set_classname(format!("{test}.linearizability"))
            .set_assertions(k.ops);
        suite.add_test_case(case);
    }
    document(suite, test)
}

/// The lock-safety check of run `test`, as one case; `page` is the run's report.html.
pub fn lock(test: &str, report: &LockReport, page: &str) -> Result<String, String> {
    let mut suite = TestSuite::new(test);
    suite.set_time(Duration::from_secs_f64(report.elapsed_ms / 1000.0));
    let message = match (report.violations.first(), &report.reason) {
        (Some(v), _) => format!("{}: {}", v.kind.as_str(), v.message),
        (None, Some(why)) => why.clone(),
        (None, None) => report.verdict.as_str().to_string(),
    };
    let description = format!("{}\nthe whole story: {page}", report.to_text());
    let mut case = TestCase::new("lock safety", status(report.verdict, &message, description));
    case.set_classname(format!("{test}.lock"));
    suite.add_test_case(case);
    document(suite, test)
}
