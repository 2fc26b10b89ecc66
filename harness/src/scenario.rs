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
//! `hold = true`, as the last step, keeps the faults in force through the final
//! reads (teardown removes them): what the replica reads say of a node still
//! cut off.

use std::path::Path;
use std::time::Duration;

use nemeses::scenario::{Step, Writes};
use nemeses::schedule::{Admin, ClockFault, ClockShape, Clocks, Fault, Targets};
use nemeses::{ClockPlan, Shape};
use toml::Value;

const ACTIONS: [&str; 18] = [
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
];

/// `runbook = true` without `within`: how long a runbook may take.
const RUNBOOK_WITHIN: Duration = Duration::from_secs(180);

fn seconds(key: &str, v: &Value) -> Result<Duration, String> {
    let s = number(key, v).map_err(|_| format!("{key} = {v}: use a number of seconds"))?;
    if !(s.is_finite() && (0.0..=86_400.0).contains(&s)) {
        return Err(format!("{key} = {s}: use 0 to 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(s))
}

fn number(key: &str, v: &Value) -> Result<f64, String> {
    v.as_float()
        .or_else(|| v.as_integer().map(|i| i as f64))
        .ok_or_else(|| format!("{key} = {v}: use a number"))
}

/// Node names (`n1` ...) to indices; `leader` where `leader_ok`.
fn nodes(key: &str, v: &Value, size: usize, leader_ok: bool) -> Result<Targets, String> {
    let names: Vec<&str> = match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap_or("?")).collect(),
        _ => return Err(format!("{key} = {v}: use a list of node names, e.g. [\"n1\", \"n3\"]")),
    };
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
        "wait" => Step::Wait(seconds("wait", v)?),
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
                within: t.get("within").map_or(Ok(RUNBOOK_WITHIN), |w| seconds("within", w))?,
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
        "heal" => Step::Heal,
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
            within: seconds("within", t.get("within").ok_or("expect needs within = SECONDS")?)?,
        },
        "clock" => {
            let offset = t.get("offset").map(|o| number("offset", o)).transpose()?;
            let offset_ns = (offset.unwrap_or(plan.offset.as_secs_f64()) * 1e9) as i64;
            let shape = match v.as_str() {
                Some("bump") => ClockShape::Bump { offset_ns },
                Some("strobe") => ClockShape::Strobe {
                    offset_ns,
                    period: match t.get("period") {
                        Some(p) => Duration::from_secs_f64(number("period", p)?.max(1.0) / 1000.0),
                        None => plan.strobe_period,
                    },
                },
                Some("drift") => ClockShape::Drift {
                    rate: t.get("rate").map_or(Ok(plan.speed), |r| number("rate", r))? - 1.0,
                },
                Some("reset") => ClockShape::Reset,
                _ => return Err(format!("clock = {v}: use bump, strobe, drift or reset")),
            };
            let clocks = match t.get("clocks").map(|c| c.as_str()) {
                None => plan.clocks,
                Some(Some("wall")) => Clocks::Wall,
                Some(Some("mono")) => Clocks::Mono,
                Some(Some("both")) => Clocks::Both,
                Some(_) => return Err("clocks: use wall, mono or both".into()),
            };
            Step::Fault(Fault::Clock(ClockFault {
                targets: nodes("nodes", t.get("nodes").ok_or("clock needs nodes = [...]")?, size, true)?,
                shape,
                clocks,
            }))
        }
        _ => unreachable!("one of ACTIONS"),
    })
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
    let Some(Value::Array(list)) = doc.get("step") else {
        return Err("no [[step]] tables: add at least one".into());
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
    Ok(steps)
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
