//! Admin operations as faults on a real etcd under load: compaction at a recent
//! revision (checked to have taken: a read below it is refused), a member's
//! defragmentation, a `snapshot save` while serving, beside kills; and
//! `--snapshot-count` small enough that every member snapshots within the run.
//! Flags a system cannot honour get one line. Needs root and the Debian archive.

mod common;

use common::{history, json, refused_in_one_line, results_dir, root, run_on, show};

#[test]
fn etcd_compacts_defrags_and_snapshots_under_load_and_stays_valid() {
    if !root() {
        return;
    }
    let results = results_dir("admin");
    let o = run_on(
        "netns",
        &[
            "--system",
            "etcd",
            "--nemesis",
            "compact,defrag,snapshot,kill",
            "--nemesis-interval",
            "2",
            "--snapshot-count",
            "100",
            "--time-limit",
            "24",
            "--seed",
            "3",
        ],
        &results,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let test = "etcd-register-compact,defrag,snapshot,kill";
    let r = json(&results, test, "results.json");
    assert_eq!(r["verdict"], "valid");
    assert_eq!(json(&results, test, "test.json")["snapshot_count"], 100);
    let h = history(&results, test);
    let said = |f: &str| -> Vec<String> {
        h.iter()
            .filter(|o| o["process"] == "nemesis" && o["f"] == f)
            .map(|o| o["value"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let (compacted, defragged, snapshots) = (said("compact"), said("defrag"), said("snapshot"));
    assert!(
        !compacted.is_empty() && !defragged.is_empty() && !snapshots.is_empty(),
        "compact {compacted:?} defrag {defragged:?} snapshot {snapshots:?}"
    );
    for c in compacted.iter().filter(|c| !c.contains("is down")) {
        assert!(c.contains("is refused") || c.contains("already compacted"), "{c}");
    }
    for d in defragged.iter().filter(|d| !d.contains("is down")) {
        assert!(d.contains("done in"), "{d}");
    }
    let dir = results.join(test).join("latest/snapshots");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert!(!files.is_empty() && files.iter().all(|f| f.metadata().unwrap().len() > 1000));
    // each admin window closes at the next heal: the summary shows them apart
    assert!(
        r["summary"]["faults"].as_array().unwrap().len() >= 4,
        "{}",
        r["summary"]["faults"]
    );
    // --snapshot-count reached every member: each snapshotted within the run
    for n in ["n1", "n2", "n3"] {
        let log = std::fs::read_to_string(results.join(test).join(format!("latest/nodes/{n}.log"))).unwrap();
        assert!(log.contains("\"snapshot-count\":100"), "{n}");
        assert!(log.contains("triggering snapshot"), "{n} never snapshotted");
    }
}

#[test]
fn admin_faults_a_system_lacks_get_one_line() {
    for (args, said) in [
        (
            &["--system", "zookeeper", "--nemesis", "compact"][..],
            "--nemesis compact: zookeeper has no such operation; its admin faults are snapshot",
        ),
        (
            &["--system", "consul", "--nemesis", "defrag"][..],
            "--nemesis defrag: consul has no such operation",
        ),
        (
            &["--system", "consul", "--snapshot-count", "100"][..],
            "--snapshot-count is etcd's flag",
        ),
    ] {
        refused_in_one_line(args, said);
    }
}
