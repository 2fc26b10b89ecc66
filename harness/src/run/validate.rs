//! The check: the scenario's expectations, then the workload's own checker,
//! on the history alone.

use nemeses::scenario::Judged;
use results::RunDir;

use super::settle::Settled;
use super::workload::{Analysis, Judging};

/// The verdicts on a run.
pub struct Checked {
    pub expectations: Vec<Judged>,
    pub analysis: Analysis,
}

pub fn check(test_name: &str, dir: &RunDir, settled: &Settled) -> Result<Checked, String> {
    let page = dir.file("report.html").display().to_string();
    let expectations = nemeses::scenario::judge(&settled.history);
    let cases = expectations
        .iter()
        .map(|j| results::junit::Case {
            class: "scenario",
            name: format!("expect {} from {:.1} s", j.expect, j.from_s),
            failure: (!j.held).then(|| j.failure()),
        })
        .collect();
    let analysis = settled.clients.check(
        &settled.history,
        Judging {
            test_name,
            cases,
            page: &page,
            divergence: settled.divergence.as_ref(),
        },
    )?;
    Ok(Checked { expectations, analysis })
}

/// The worse of two verdicts: invalid over unknown over valid.
pub fn worst(a: checkers::Verdict, b: checkers::Verdict) -> checkers::Verdict {
    use checkers::Verdict::*;
    match (a, b) {
        (Invalid, _) | (_, Invalid) => Invalid,
        (Unknown, _) | (_, Unknown) => Unknown,
        _ => Valid,
    }
}
