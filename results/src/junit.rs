//! `junit.xml`: a run's checks as JUnit test cases, so any CI shows them as tests.
//! One case per checked key (or one for the lock check); a key that is not valid
//! is a failure (invalid) or an error (unknown) carrying the first violation and
//! the path of the run's report.html. A scenario's expectations and a drill's
//! RTO and RPO are cases of their own.

use std::time::Duration;

use checkers::lock::LockReport;
use checkers::{Report, Verdict};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use crate::error::Error;

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

fn document(suite: TestSuite, name: &str) -> Result<String, Error> {
    let mut report = quick_junit::Report::new(name);
    report.add_test_suite(suite);
    report.to_string().map_err(Error::Junit)
}

/// One check of a run, as JUnit cases.
pub enum Check<'a> {
    /// One case a key, under `test.<class>` (`linearizability`, or a stretch of a drill).
    Linearizability(&'a Report, &'a str),
    Lock(&'a LockReport),
}

/// A case beside the checks: a scenario's expectation, a drill's RTO or RPO.
pub struct Case {
    pub class: &'static str,
    pub name: String,
    /// Why it failed; `None` when it held.
    pub failure: Option<String>,
}

fn add_linearizability(suite: &mut TestSuite, test: &str, report: &Report, class: &str, page: &str) {
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
        case.set_classname(format!("{test}.{class}")).set_assertions(k.ops);
        suite.add_test_case(case);
    }
}

fn add_lock(suite: &mut TestSuite, test: &str, report: &LockReport, page: &str) {
    let message = match (report.violations.first(), &report.reason) {
        (Some(v), _) => format!("{}: {}", v.kind.as_str(), v.message),
        (None, Some(why)) => why.clone(),
        (None, None) => report.verdict.as_str().to_string(),
    };
    let description = format!("{}\nthe whole story: {page}", report.to_text());
    let mut case = TestCase::new("lock safety", status(report.verdict, &message, description));
    case.set_classname(format!("{test}.lock"));
    suite.add_test_case(case);
}

/// Run `test`'s checks and cases as one JUnit document; `page` is its report.html.
pub fn suite(test: &str, checks: &[Check], cases: &[Case], page: &str) -> Result<String, Error> {
    let mut suite = TestSuite::new(test);
    let mut ms = 0.0;
    for check in checks {
        match check {
            Check::Linearizability(r, class) => {
                ms += r.elapsed_ms;
                add_linearizability(&mut suite, test, r, class, page);
            }
            Check::Lock(r) => {
                ms += r.elapsed_ms;
                add_lock(&mut suite, test, r, page);
            }
        }
    }
    suite.set_time(Duration::from_secs_f64(ms / 1000.0));
    for c in cases {
        let status = match &c.failure {
            None => status(Verdict::Valid, "", String::new()),
            Some(why) => status(Verdict::Invalid, why, format!("{why}\nthe whole story: {page}")),
        };
        let mut case = TestCase::new(c.name.clone(), status);
        case.set_classname(format!("{test}.{}", c.class));
        suite.add_test_case(case);
    }
    document(suite, test)
}

/// The linearizability check of run `test` (the run folder's test name), one case a
/// key; `page` is the run's report.html.
pub fn linearizability(test: &str, report: &Report, page: &str) -> Result<String, Error> {
    suite(test, &[Check::Linearizability(report, "linearizability")], &[], page)
}

/// The lock-safety check of run `test`, as one case; `page` is the run's report.html.
pub fn lock(test: &str, report: &LockReport, page: &str) -> Result<String, Error> {
    suite(test, &[Check::Lock(report)], &[], page)
}
