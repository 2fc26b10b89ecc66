//! `--scenario FILE`: a TOML list of steps that `run` follows in place of the
//! random fault schedule. One action per `[[step]]`:
//!
//! ```toml
//! [[step]]
//! wait = 3                  # seconds
//! [[step]]
//! kill = ["n3"]             # also: start, pause, resume, isolate (node names)
//! [[step]]
//! expect = "ok"             # writes acknowledged within the next 5 s (or "blocked": none)
//! within = 5
//! [[step]]
//! partition = "leader"      # a shape of --partition
//! [[step]]
//! clock = "bump"            # bump, strobe, drift or reset
//! nodes = ["leader"]        # node names, or "leader"
//! offset = -30              # seconds (bump, strobe); rate = 2 (drift); clocks = "wall"
//! [[step]]
//! heal = true
//! ```
//!
//! And for recovery drills: `phase = "quorum lost"` (names the stretch up to the
//! next phase), `stop = ["n1"]` (SIGTERM, then SIGKILL after 20 s), `lose =
//! ["n2"]` (killed, data discarded: only a runbook brings it back), `snapshot =
//! true`, `runbook = true` with `within = S` (the drill's runbook, at most S
//! seconds), and `expect = "recovered"` with `within = S` (whole again, writes
//! and reads accepted).
//!
//! `compact = "n1"` and `defrag = "n1"` run etcd's admin operations on that
//! member (as `--nemesis compact,defrag` do).
//!
//! `isolate-until-snapshot = "n2"` (or `= true`: a follower, n1 unless it
//! leads) cuts that follower off until only a snapshot can bring it back, then
//! heals it (as `--nemesis isolate-until-snapshot`); the step lasts as long as
//! that takes. Nothing is done when the member named leads.
//!
//! `hold = true`, as the last step, keeps the faults in force through the final
//! reads (teardown removes them): what the replica reads say of a node still
//! cut off.

use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use nemeses::scenario::{Step, Writes};
use nemeses::schedule::{Admin, ClockFault, ClockShape, Clocks, Fault, Targets};
use nemeses::{ClockPlan, Shape};
use toml::Value;

use crate::flags::{CLOCK_OFFSETS, CLOCK_RATES, SECONDS, STROBE_PERIODS};

const ACTIONS: [&str; 19] = [
    "wait",
    "hold",
    "kill",
    "start",
    "stop",
    "pause",
    "resume",
    "isolate",
    "partition",
    "clock",
    "heal",
    "expect",
    "phase",
    "lose",
    "snapshot",
    "runbook",
    "compact",
    "defrag",
    "isolate-until-snapshot",
];

/// `runbook = true` without `within`: how long a runbook may take.
const RUNBOOK_WITHIN: Duration = Duration::from_secs(180);

/// `wait`'s seconds: 0 (a no-op) up to `run`'s longest seconds flag.
const WAIT: RangeInclusive<f64> = 0.0..=*SECONDS.end();

/// Seconds within `range`: `wait` takes [`WAIT`], `within` [`SECONDS`] (a
/// stretch with no time in it judges nothing).
fn seconds(key: &str, v: &Value, range: RangeInclusive<f64>) -> Result<Duration, String> {
    let s = number(key, v).map_err(|_| format!("{key} = {v}: use a number of seconds"))?;
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|_| range.contains(&s))
        .ok_or_else(|| format!("{key} = {}: use {} to {} seconds", shown(v), range.start(), range.end()))
}

/// A clock step's `offset` in ns: `--clock-offset`'s bounds, either sign (negative goes back).
fn offset_ns(v: &Value) -> Result<i64, String> {
    let s = number("offset", v)?;
    if !CLOCK_OFFSETS.contains(&s.abs()) {
        return Err(format!(
            "offset = {}: use {} to {} seconds, or -{2} to -{1} to go back (as --clock-offset)",
            shown(v),
            CLOCK_OFFSETS.start(),
            CLOCK_OFFSETS.end()
        ));
    }
    Ok((s * 1e9) as i64)
}

/// A drift's `rate`: `--clock-rate`'s bounds when faster, their inverses when slower.
fn rate(v: &Value) -> Result<f64, String> {
    let r = number("rate", v)?;
    if !(CLOCK_RATES.contains(&r) || CLOCK_RATES.contains(&(1.0 / r))) {
        return Err(format!(
            "rate = {}: use {} to {} (faster, as --clock-rate), or 0.1 to 0.99 (slower)",
            shown(v),
            CLOCK_RATES.start(),
            CLOCK_RATES.end()
        ));
    }
    Ok(r)
}

/// A strobe's `period` in milliseconds: `--strobe-period`'s bounds.
fn period(v: &Value) -> Result<Duration, String> {
    let ms = number("period", v)?;
    let (low, high) = (*STROBE_PERIODS.start() as f64, *STROBE_PERIODS.end() as f64);
    Duration::try_from_secs_f64(ms / 1000.0)
        .ok()
        .filter(|_| (low..=high).contains(&ms))
        .ok_or_else(|| {
            format!(
                "period = {}: use {low} to {high} milliseconds (as --strobe-period)",
                shown(v)
            )
        })
}

/// A number as the file spells it (`1e30`, `nan`), where toml's own display
/// writes out every digit.
fn shown(v: &Value) -> String {
    match v.as_float() {
        Some(f) if f.is_nan() => "nan".into(),
        Some(f) if f.is_infinite() => if f > 0.0 { "inf" } else { "-inf" }.into(),
        Some(f) => format!("{f:?}"),
        None => v.to_string(),
    }
}

fn number(key: &str, v: &Value) -> Result<f64, String> {
    v.as_float()
        .or_else(|| v.as_integer().map(|i| i as f64))
        .ok_or_else(|| format!("{key} = {v}: use a number"))
}

/// Node names (`n1` ...) to indices, at least one and each once; `leader` where `leader_ok`.
fn nodes(key: &str, v: &Value, size: usize, leader_ok: bool) -> Result<Targets, String> {
    let names: Option<Vec<&str>> = match v {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(a) => a.iter().map(Value::as_str).collect(),
        _ => None,
    };
    let names = names.ok_or_else(|| format!("{key} = {v}: use a list of node names, e.g. [\"n1\", \"n3\"]"))?;
    if names.is_empty() {
        return Err(format!("{key} = {v}: name at least one node, e.g. [\"n1\"]"));
    }
    if let Some((_, n)) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
        return Err(format!("{key} = {v}: {n} is named twice"));
    }
    if leader_ok && names == ["leader"] {
        return Ok(Targets::Leader);
    }
    names
        .iter()
        .map(|n| {
            n.strip_prefix('n')
                .and_then(|i| i.parse::<usize>().ok())
                .filter(|i| (1..=size).contains(i))
                .map(|i| i - 1)
                .ok_or_else(|| format!("{key}: no node {n:?}: the cluster has n1 to n{size}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Targets::Nodes)
}

fn listed(key: &str, v: &Value, size: usize) -> Result<Vec<usize>, String> {
    match nodes(key, v, size, false)? {
        Targets::Nodes(n) => Ok(n),
        Targets::Leader => unreachable!("leader is not allowed here"),
    }
}

fn step(t: &toml::Table, size: usize, plan: &ClockPlan) -> Result<Step, String> {
    let actions: Vec<&str> = t.keys().map(String::as_str).filter(|k| ACTIONS.contains(k)).collect();
    let [action] = actions[..] else {
        return Err(format!("give exactly one action of {}", ACTIONS.join(", ")));
    };
    let allowed: &[&str] = match action {
        "expect" | "runbook" => &["within"],
        "clock" => &["nodes", "offset", "rate", "clocks", "period"],
        _ => &[],
    };
    if let Some(k) = t
        .keys()
        .find(|k| k.as_str() != action && !allowed.contains(&k.as_str()))
    {
        return Err(format!(
            "{k} does not go with {action}{}",
            if allowed.is_empty() {
                String::new()
            } else {
                format!(" (it takes {})", allowed.join(", "))
            }
        ));
    }
    let v = &t[action];
    Ok(match action {
        "wait" => Step::Wait(seconds("wait", v, WAIT)?),
        "kill" => Step::Fault(Fault::Kill(listed(action, v, size)?)),
        "start" => Step::Start(listed(action, v, size)?),
        "stop" => Step::Stop(listed(action, v, size)?),
        "lose" => Step::Lose(listed(action, v, size)?),
        "phase" => Step::Phase(
            v.as_str()
                .filter(|p| !p.trim().is_empty())
                .ok_or_else(|| format!("phase = {v}: give the stretch a name, e.g. \"quorum lost\""))?
                .to_string(),
        ),
        "hold" => match v.as_bool() {
            Some(true) => Step::Hold,
            _ => return Err(format!("hold = {v}: write hold = true (as the last step)")),
        },
        "snapshot" => match v.as_bool() {
            Some(true) => Step::Snapshot,
            _ => return Err(format!("snapshot = {v}: write snapshot = true")),
        },
        "runbook" => match v.as_bool() {
            Some(true) => Step::Runbook {
                within: t
                    .get("within")
                    .map_or(Ok(RUNBOOK_WITHIN), |w| seconds("within", w, SECONDS))?,
            },
            _ => {
                return Err(format!(
                    "runbook = {v}: write runbook = true (the drill's --runbook runs)"
                ));
            }
        },
        "pause" => Step::Fault(Fault::Pause(listed(action, v, size)?)),
        "resume" => Step::Resume(listed(action, v, size)?),
        "isolate" => Step::Fault(Fault::Isolate(listed(action, v, size)?)),
        "partition" => Step::Fault(Fault::Partition {
            shape: v.as_str().and_then(Shape::parse).ok_or_else(|| {
                format!("partition = {v}: use halves, one, majorities-ring, bridge, leader or follower")
            })?,
            pick: 0,
        }),
        "heal" => match v.as_bool() {
            Some(true) => Step::Heal,
            _ => {
                return Err(format!(
                    "heal = {v}: write heal = true (it undoes every fault in force)"
                ));
            }
        },
        "compact" | "defrag" => {
            let admin = if action == "compact" {
                Admin::Compact
            } else {
                Admin::Defrag
            };
            match listed(action, v, size)?[..] {
                [node] => Step::Fault(Fault::Admin(admin, node)),
                _ => return Err(format!("{action} = {v}: name one member, e.g. {action} = \"n1\"")),
            }
        }
        "isolate-until-snapshot" => catch_up(v, size)?,
        "expect" => Step::Expect {
            writes: match v.as_str() {
                Some("ok") => Writes::Ok,
                Some("blocked") => Writes::Blocked,
                Some("recovered") => Writes::Recovered,
                _ => {
                    return Err(format!(
                        "expect = {v}: use \"ok\" or \"blocked\" (writes), or \"recovered\""
                    ));
                }
            },
            within: seconds(
                "within",
                t.get("within").ok_or("expect needs within = SECONDS")?,
                SECONDS,
            )?,
        },
        "clock" => clock(t, size, plan)?,
        _ => unreachable!("one of ACTIONS"),
    })
}

/// An `isolate-until-snapshot` step: one follower named, or `true` (n1, or n2
/// when n1 leads).
fn catch_up(v: &Value, size: usize) -> Result<Step, String> {
    let key = "isolate-until-snapshot";
    let node = match v.as_bool() {
        Some(true) => None,
        Some(false) => return Err(format!("{key} = false: leave the step out")),
        None => match listed(key, v, size)?[..] {
            [node] => Some(node),
            _ => return Err(format!("{key} = {v}: name one follower, e.g. {key} = \"n2\"")),
        },
    };
    Ok(Step::Fault(Fault::IsolateUntilSnapshot { node, pick: 0 }))
}

/// A `clock` step; what it does not say comes from `plan`.
fn clock(t: &toml::Table, size: usize, plan: &ClockPlan) -> Result<Step, String> {
    let v = &t["clock"];
    let takes: &[&str] = match v.as_str() {
        Some("bump") => &["offset"],
        Some("strobe") => &["offset", "period"],
        Some("drift") => &["rate"],
        Some("reset") => &[],
        _ => return Err(format!("clock = {v}: use bump, strobe, drift or reset")),
    };
    if let Some(k) = ["offset", "period", "rate"]
        .into_iter()
        .find(|k| t.contains_key(*k) && !takes.contains(k))
    {
        return Err(format!("{k} does not go with clock = {v}"));
    }
    let offset = || t.get("offset").map_or(Ok(plan.offset.as_nanos() as i64), offset_ns);
    let shape = match v.as_str() {
        Some("bump") => ClockShape::Bump { offset_ns: offset()? },
        Some("strobe") => ClockShape::Strobe {
            offset_ns: offset()?,
            period: t.get("period").map_or(Ok(plan.strobe_period), period)?,
        },
        Some("drift") => ClockShape::Drift {
            rate: t.get("rate").map_or(Ok(plan.speed), rate)? - 1.0,
        },
        // reset, the only one left
        _ => ClockShape::Reset,
    };
    let clocks = match t.get("clocks").map(|c| (c, c.as_str())) {
        None => plan.clocks,
        Some((_, Some("wall"))) => Clocks::Wall,
        Some((_, Some("mono"))) => Clocks::Mono,
        Some((_, Some("both"))) => Clocks::Both,
        Some((c, _)) => return Err(format!("clocks = {c}: use wall, mono or both")),
    };
    Ok(Step::Fault(Fault::Clock(ClockFault {
        targets: nodes("nodes", t.get("nodes").ok_or("clock needs nodes = [...]")?, size, true)?,
        shape,
        clocks,
    })))
}

/// The steps of a scenario file for a cluster of `size` nodes; clock steps take
/// what they do not say from `plan` (the run's `--clock*` flags).
pub fn parse(text: &str, size: usize, plan: &ClockPlan) -> Result<Vec<Step>, String> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().trim().to_string())?;
    if let Some(k) = doc.keys().find(|k| *k != "step" && *k != "name") {
        return Err(format!(
            "unknown key {k}: a scenario is [[step]] tables (and an optional name)"
        ));
    }
    let list = match doc.get("step") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => return Err("no [[step]] tables: add at least one".into()),
    };
    let steps: Vec<Step> = list
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.as_table()
                .ok_or_else(|| "must be a [[step]] table".to_string())
                .and_then(|t| step(t, size, plan))
                .map_err(|e| format!("step {}: {e}", i + 1))
        })
        .collect::<Result<_, _>>()?;
    if let Some(i) = steps
        .iter()
        .position(|s| *s == Step::Hold)
        .filter(|&i| i + 1 < steps.len())
    {
        return Err(format!(
            "step {}: hold = true ends a scenario: make it the last step",
            i + 1
        ));
    }
    too_long(&steps, list)?;
    Ok(steps)
}

/// Refuses steps that last longer than `--time-limit` may (a day), naming the
/// step that goes past it: `list` is the steps as written.
fn too_long(steps: &[Step], list: &[Value]) -> Result<(), String> {
    let mut total = Duration::ZERO;
    for (i, (step, t)) in steps.iter().zip(list).enumerate() {
        // each step lasts a day at most, so the sum cannot overflow before it is over one
        total += step.duration();
        if total.as_secs_f64() > *SECONDS.end() {
            let said = ["wait", "within", "runbook"]
                .into_iter()
                .find_map(|k| Some(format!("{k} = {}", shown(t.get(k)?))))
                .unwrap_or_default();
            return Err(format!(
                "step {}: {said}: the steps last {} s by here, and at most {} in all (as --time-limit)",
                i + 1,
                total.as_secs_f64(),
                SECONDS.end()
            ));
        }
    }
    Ok(())
}

pub fn read(path: &Path, size: usize, plan: &ClockPlan) -> Result<Vec<Step>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--scenario {}: {e}", path.display()))?;
    parse(&text, size, plan).map_err(|e| format!("--scenario {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRILL: &str = r#"
name = "minority, then majority, then back"
[[step]]
wait = 2
[[step]]
kill = ["n3"]
[[step]]
expect = "ok"
within = 3
[[step]]
kill = ["n2"]
[[step]]
expect = "blocked"
within = 3.5
[[step]]
clock = "bump"
nodes = "leader"
offset = -30
[[step]]
start = ["n2", "n3"]
[[step]]
heal = true
"#;

    #[test]
    fn a_scenario_file_becomes_steps() {
        let steps = parse(DRILL, 3, &ClockPlan::default()).unwrap();
        assert_eq!(steps.len(), 8);
        assert_eq!(steps[1], Step::Fault(Fault::Kill(vec![2])));
        assert_eq!(
            steps[4],
            Step::Expect {
                writes: Writes::Blocked,
                within: Duration::from_millis(3500)
            }
        );
        match &steps[5] {
            Step::Fault(Fault::Clock(c)) => {
                assert_eq!(c.targets, Targets::Leader);
                assert_eq!(
                    c.shape,
                    ClockShape::Bump {
                        offset_ns: -30_000_000_000
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(steps[6], Step::Start(vec![1, 2]));
    }

    #[test]
    fn bad_scenarios_say_which_step_and_what_to_do() {
        let p = ClockPlan::default();
        let err = |text: &str| parse(text, 3, &p).unwrap_err();
        assert!(err("[[step]]\nkill = [\"n4\"]\n").contains("step 1: kill: no node \"n4\": the cluster has n1 to n3"));
        assert!(err("[[step]]\nwait = 1\nkill = [\"n1\"]\n").contains("exactly one action"));
        assert!(err("[[step]]\nexpect = \"ok\"\n").contains("within"));
        assert!(err("[[step]]\nexpect = \"fast\"\nwithin = 1\n").contains("\"ok\" or \"blocked\""));
        assert!(err("[[step]]\nsnapshot = 1\n").contains("snapshot = true"));
        assert!(err("[[step]]\nphase = \"\"\n").contains("give the stretch a name"));
        assert!(err("[[step]]\nlose = [\"n9\"]\n").contains("lose: no node \"n9\""));
        assert!(err("[[step]]\nwait = 1\nwithin = 2\n").contains("within does not go with wait"));
        assert!(err("[[steps]]\nwait = 1\n").contains("unknown key steps"));
        assert!(err("").contains("no [[step]]"));
        assert!(err("[[step]]\ncompact = [\"n1\", \"n2\"]\n").contains("name one member, e.g. compact = \"n1\""));
        assert!(
            err("[[step]]\nisolate-until-snapshot = [\"n1\", \"n2\"]\n")
                .contains("name one follower, e.g. isolate-until-snapshot = \"n2\"")
        );
        assert!(err("[[step]]\nisolate-until-snapshot = false\n").contains("leave the step out"));
    }

    #[test]
    fn values_past_the_flags_bounds_are_refused_naming_step_key_and_value() {
        let p = ClockPlan::default();
        let clock = |kv: &str| format!("[[step]]\nwait = 1\n[[step]]\nclock = \"strobe\"\nnodes = [\"n1\"]\n{kv}\n");
        for (text, says) in [
            (
                clock("period = 1e30"),
                "step 2: period = 1e30: use 1 to 10000 milliseconds",
            ),
            (clock("period = 0.5"), "step 2: period = 0.5: use 1 to 10000"),
            (
                clock("offset = 1e30"),
                "step 2: offset = 1e30: use 0.001 to 3600 seconds",
            ),
            (clock("offset = nan"), "step 2: offset = nan: use 0.001 to 3600"),
            (clock("offset = 0"), "step 2: offset = 0: use 0.001 to 3600"),
            (clock("rate = 2"), "step 2: rate does not go with clock = \"strobe\""),
            (
                clock("clocks = \"cpu\""),
                "step 2: clocks = \"cpu\": use wall, mono or both",
            ),
            (
                "[[step]]\nclock = \"drift\"\nnodes = \"leader\"\nrate = -5\n".into(),
                "step 1: rate = -5: use 1.01 to 10 (faster, as --clock-rate), or 0.1 to 0.99 (slower)",
            ),
            (
                "[[step]]\nclock = \"drift\"\nnodes = \"leader\"\nrate = 1\n".into(),
                "step 1: rate = 1: use 1.01 to 10",
            ),
            (
                "[[step]]\nexpect = \"ok\"\nwithin = 0\n".into(),
                "step 1: within = 0: use 0.01 to 86400 seconds",
            ),
            (
                "[[step]]\nrunbook = true\nwithin = inf\n".into(),
                "step 1: within = inf: use 0.01 to 86400",
            ),
            (
                "[[step]]\nwait = -1\n".into(),
                "step 1: wait = -1: use 0 to 86400 seconds",
            ),
            (
                "[[step]]\nheal = false\n".into(),
                "step 1: heal = false: write heal = true",
            ),
            (
                "[[step]]\nkill = []\n".into(),
                "step 1: kill = []: name at least one node",
            ),
            (
                "[[step]]\nkill = [\"n1\", \"n1\"]\n".into(),
                "step 1: kill = [\"n1\", \"n1\"]: n1 is named twice",
            ),
            (
                "[[step]]\nstart = [1]\n".into(),
                "step 1: start = [1]: use a list of node names",
            ),
            (
                "[[step]]\nclock = \"bump\"\nnodes = []\n".into(),
                "step 1: nodes = []: name at least one node",
            ),
            (
                "[[step]]\nwait = 86400\n[[step]]\nheal = true\n[[step]]\nexpect = \"ok\"\nwithin = 0.5\n".into(),
                "step 3: within = 0.5: the steps last 86400.5 s by here, and at most 86400 in all (as --time-limit)",
            ),
            ("step = []\n".into(), "no [[step]] tables"),
        ] {
            let e = parse(&text, 3, &p)
                .err()
                .unwrap_or_else(|| panic!("{text:?} was accepted"));
            assert!(e.starts_with(says), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{text:?}: {e}");
        }
    }

    #[test]
    fn values_within_the_bounds_are_taken() {
        let text = "[[step]]\nclock = \"strobe\"\nnodes = [\"n1\", \"n2\"]\noffset = -3600\nperiod = 1\n\
                    [[step]]\nclock = \"drift\"\nnodes = \"leader\"\nrate = 0.5\n\
                    [[step]]\nwait = 86399\n[[step]]\nexpect = \"ok\"\nwithin = 1\n";
        let steps = parse(text, 3, &ClockPlan::default()).unwrap();
        let Step::Fault(Fault::Clock(strobe)) = &steps[0] else {
            panic!("{:?}", steps[0])
        };
        assert_eq!(
            strobe.shape,
            ClockShape::Strobe {
                offset_ns: -3_600_000_000_000,
                period: Duration::from_millis(1)
            }
        );
        let Step::Fault(Fault::Clock(drift)) = &steps[1] else {
            panic!("{:?}", steps[1])
        };
        assert_eq!(drift.shape, ClockShape::Drift { rate: -0.5 });
        assert_eq!(
            steps.iter().map(Step::duration).sum::<Duration>(),
            Duration::from_secs(86_400)
        );
    }

    #[test]
    fn a_catch_up_by_snapshot_names_its_follower_or_leaves_it_to_the_leader() {
        let text = "[[step]]\nisolate-until-snapshot = \"n3\"\n[[step]]\nisolate-until-snapshot = true\n";
        let steps = parse(text, 3, &ClockPlan::default()).unwrap();
        assert_eq!(
            steps,
            [
                Step::Fault(Fault::IsolateUntilSnapshot { node: Some(2), pick: 0 }),
                Step::Fault(Fault::IsolateUntilSnapshot { node: None, pick: 0 })
            ]
        );
        // it lasts as long as it takes, within its bounds
        assert_eq!(steps[0].duration(), Duration::from_secs(150));
    }

    #[test]
    fn every_shipped_scenario_parses() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("scenarios/")
            .map(|e| e.expect("scenarios/ entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        assert!(files.len() >= 4, "{files:?}");
        for file in files {
            let size = if file.ends_with("drill-5.toml") { 5 } else { 3 };
            let steps = read(&file, size, &ClockPlan::default()).unwrap_or_else(|e| panic!("{e}"));
            assert!(!steps.is_empty(), "{}", file.display());
        }
    }

    #[test]
    fn the_watch_compaction_scenario_compacts_on_one_member_while_n3_is_down() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/watch-compacted.toml"
        ))
        .expect("scenarios/watch-compacted.toml");
        let steps = parse(&text, 3, &ClockPlan::default()).unwrap();
        assert_eq!(steps[1], Step::Fault(Fault::Kill(vec![2])));
        assert_eq!(steps[3], Step::Fault(Fault::Admin(Admin::Compact, 0)));
        assert_eq!(steps[5], Step::Start(vec![2]));
    }
}
