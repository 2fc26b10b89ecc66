//! The results folder: test.json and the banner at the start; junit.xml,
//! results.json, report.html and the summary at the end; and the exit code.

use results::{RunDir, Summary};
use serde_json::json;

use super::plan::Plan;
use super::provision::Provisioned;
use super::settle::Settled;
use super::validate::Checked;

/// The run's folder, with test.json written and the banner said.
pub fn open(plan: &Plan, prov: &Provisioned, id: &str) -> Result<RunDir, String> {
    let dir = RunDir::create(&plan.results, &plan.test_name)?;
    let (db, runtime) = (&prov.db, &prov.runtime);
    let mut test = plan.test.clone();
    test["version"] = json!(db.version());
    test["binary"] = json!(db.binary());
    test["runtime"] = json!(runtime.name());
    test["run_id"] = json!(id);
    test["image"] = json!(runtime.image());
    test["iptables"] = json!(prov.iptables.as_ref().map(|t| t.program()));
    if let Some(to) = &prov.to {
        test["from"] = json!(db.version());
        if test["to"].is_null() {
            test["to"] = json!(to.version());
        }
    }
    dir.write_json("test.json", &test)?;
    let read_mode = match plan.workload.read_mode() {
        "" => String::new(),
        mode => format!(", {mode} reads"),
    };
    eprintln!(
        "splitbrain: {} {} x{} ({} runtime, run {id}), {} clients{read_mode}, {}, seed {}",
        plan.system.name(),
        db.version(),
        plan.nodes,
        runtime.name(),
        plan.concurrency,
        plan.faults,
        plan.seed
    );
    eprintln!("splitbrain: results in {}", dir.path.display());
    Ok(dir)
}

/// Writes the results and says the verdict; the exit code.
pub fn write(plan: &Plan, dir: &RunDir, settled: &Settled, checked: &Checked) -> Result<u8, String> {
    let (history, analysis) = (&settled.history, &checked.analysis);
    let expectations = &checked.expectations;
    results::folder::write_atomic(&dir.file("junit.xml"), analysis.junit.as_bytes())?;
    let recovery = match &settled.recovered {
        Some(Ok(d)) => json!({"recovered": true, "after_s": d.as_secs_f64(), "membership": settled.membership}),
        Some(Err(e)) => json!({"recovered": false, "error": e, "membership": settled.membership}),
        None => json!(null),
    };
    let summary = Summary::of(history);
    let results_json = json!({"verdict": analysis.verdict, "interrupted": settled.interrupted, "recovery": recovery,
                              "summary": summary, "check": analysis.check,
                              "expectations": (!expectations.is_empty()).then_some(expectations),
                              "drill": analysis.drill.as_ref().map(|d| &d.json),
                              "divergence": settled.divergence.as_ref().map(|d| d.to_json())});
    dir.write_json("results.json", &results_json)?;
    crate::report::write(&dir.path, &results_json, history)?;
    println!("{}", summary.to_text());
    print!("{}", analysis.text);
    for j in expectations {
        println!(
            "expect {} from {:.1} s: {} ({} of {} writes invoked acknowledged{}){}",
            j.expect,
            j.from_s,
            if j.held { "held" } else { "NOT HELD" },
            j.acknowledged,
            j.invoked,
            j.first_ok_after_s
                .map_or(String::new(), |t| format!(", the first after {t:.2} s")),
            j.why.as_ref().map_or(String::new(), |w| format!(": {w}")),
        );
    }
    if let Some(d) = &analysis.drill {
        print!("{}", d.text);
    }
    if let Some(d) = &settled.divergence {
        match d.verdict {
            checkers::Verdict::Valid => println!("replicas: every node read on its own agrees"),
            v => println!("replicas: {}: {}", v.as_str().to_uppercase(), d.lines().join("; ")),
        }
    }
    println!("results: {}", dir.path.display());
    if let Some(Err(e)) = &settled.recovered {
        eprintln!("splitbrain: warning: {e}");
    }
    Ok(exit_code(plan, settled, checked))
}

/// 0 valid, 1 invalid, 2 unknown, 3 interrupted; a missed expectation or a
/// drill's violation fails the run, and an upgrade cut short is unknown.
fn exit_code(plan: &Plan, settled: &Settled, checked: &Checked) -> u8 {
    let verdict = checked.analysis.verdict;
    if settled.interrupted {
        eprintln!(
            "splitbrain: run interrupted; the partial history was checked: {}",
            verdict.as_str()
        );
        return crate::EXIT_ERROR;
    }
    let mut failed: Vec<String> = checked
        .expectations
        .iter()
        .filter(|j| !j.held)
        .map(|j| j.failure())
        .collect();
    if let Some(d) = &checked.analysis.drill {
        failed.extend(d.violations.iter().cloned());
    }
    if !failed.is_empty() {
        for f in &failed {
            eprintln!("splitbrain: FAILED: {f}");
        }
        return (verdict.exit_code() as u8).max(1);
    }
    // an upgrade cut short by the time limit validated less than was asked
    let stepped = settled
        .history
        .ops
        .iter()
        .filter(|o| o.process == checkers::Process::Nemesis)
        .filter(|o| o.f == checkers::F::parse("upgrade") || o.f == checkers::F::parse("rollback"))
        .count();
    if stepped < plan.upgrades.len() {
        eprintln!(
            "splitbrain: INCOMPLETE: {stepped} of {} upgrade steps ran before the time limit (a step took longer than \
             its window): raise --time-limit; the verdict is unknown",
            plan.upgrades.len()
        );
        return (verdict.exit_code() as u8).max(2);
    }
    verdict.exit_code() as u8
}
