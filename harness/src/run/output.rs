//! The results folder: test.json and the banner at the start; junit.xml,
//! results.json, report.html and the summary at the end; and the exit code.

use nemeses::scenario::Judged;
use results::schema::{ClusterRecovery, Expectation, RunResults};
use results::{RunDir, Summary};

use super::plan::Plan;
use super::provision::Provisioned;
use super::settle::Settled;
use super::validate::Checked;

/// The run's folder, with test.json written and the banner said.
pub fn open(plan: &Plan, prov: &Provisioned, id: &str) -> Result<RunDir, String> {
    let dir = RunDir::create(&plan.results, &plan.test_name)?;
    let (db, runtime) = (&prov.db, &prov.runtime);
    let mut test = plan.test.clone();
    test.version = db.version().into();
    test.binary = db.binary().into();
    test.runtime = runtime.name().into();
    test.run_id = id.into();
    test.image = runtime.image();
    test.iptables = prov.iptables.as_ref().map(|t| t.program().into());
    if let (Some(to), Some(upgrade)) = (&prov.to, test.upgrade.as_mut()) {
        upgrade.from = db.version().into();
        if upgrade.to.is_empty() {
            upgrade.to = to.version().into();
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
    let membership = || settled.membership.clone();
    let summary = Summary::of(history);
    let results = RunResults {
        verdict: analysis.verdict,
        interrupted: settled.interrupted,
        recovery: settled.recovered.as_ref().map(|r| match r {
            Ok(d) => ClusterRecovery::after(*d, membership()),
            Err(e) => ClusterRecovery::failed(e.clone(), membership()),
        }),
        summary: Some(summary.clone()),
        check: analysis.check.clone(),
        expectations: (!expectations.is_empty()).then(|| expectations.iter().map(expectation).collect()),
        drill: analysis.drill.as_ref().map(|d| d.results.clone()),
        divergence: settled.divergence.as_ref().map(Into::into),
    };
    dir.write_json("results.json", &results)?;
    crate::report::write(&dir.path, &results, history)?;
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

/// A scenario's expectation as results.json holds it.
fn expectation(j: &Judged) -> Expectation {
    Expectation {
        expect: j.expect.clone(),
        from_s: j.from_s,
        to_s: j.to_s,
        held: j.held,
        invoked: j.invoked,
        acknowledged: j.acknowledged,
        first_ok_after_s: j.first_ok_after_s,
        why: j.why.clone(),
        step: j.step,
    }
}
