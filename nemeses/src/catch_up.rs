//! `--nemesis isolate-until-snapshot`: a follower cut off from its peers while
//! the leader writes on, until the leader's log no longer holds what the
//! follower lacks and only a snapshot can bring it back; then the heal, and the
//! member's own word that it applied one. The cut and the heal are the
//! nemesis's (iptables, as partitions); how far to write, the writes, and what
//! says a snapshot was applied are the system's, behind [`CatchUp`].

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use checkers::Value;

/// How long the filler writes may take before the fault gives up (etcd 3.3
/// and 3.4 keep 5000 entries for followers, which a loaded cluster on two
/// cores writes in seconds; a minute and a half is far past that).
pub const FILL_WITHIN: Duration = Duration::from_secs(90);

/// How long after the heal the member may take to say it applied a snapshot
/// (a leader sends one within a heartbeat or two of hearing from it again).
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(60);

/// A member's catch-up by snapshot as the system drives it. Made before the
/// cut (so that it can note where the member's evidence stands), it writes
/// while the member is cut off ([`CatchUp::fill`]) and, after the heal, waits
/// for the member to say it applied a snapshot ([`CatchUp::confirm`]). Both
/// return promptly once `stop` is set.
pub trait CatchUp: Send {
    /// Writes filler through the leader until its applied index is past the
    /// member's (read once cut off) plus the entries the leader keeps for
    /// followers, plus the entries between its snapshots, plus a margin: by
    /// then it has snapshotted and compacted its log past the member.
    fn fill(&mut self, within: Duration, stop: &AtomicBool) -> Result<Filled, String>;
    /// After the heal: waits until the member says it applied an incoming
    /// snapshot, or says why it could not be confirmed.
    fn confirm(&mut self, within: Duration, stop: &AtomicBool) -> Result<Applied, String>;
}

/// What the filler writes did.
#[derive(Clone, Debug, PartialEq)]
pub struct Filled {
    /// The member's applied index once cut off (once it applied what it held).
    pub member_applied: u64,
    /// The leader's applied index the writes had to pass.
    pub target: u64,
    /// How that target was reached, in the system's words (its catch-up
    /// entries and where they come from, its snapshot count, the margin).
    pub why: String,
    /// The leader's applied index when the writes stopped (at the heal).
    pub leader_applied: u64,
    /// Filler writes acknowledged.
    pub writes: u64,
    pub took: Duration,
    /// The leader's own word that it dropped the entries the member lacks,
    /// where it says so (etcd: its log's compaction line).
    pub leader_said: Option<String>,
}

/// The member's word that it applied a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// From the heal until it was seen (polled every 100 ms).
    pub after: Duration,
    /// What said so, by source (`metric`, `log`).
    pub evidence: Vec<(&'static str, String)>,
}

/// The `catch-up` op's value: the member, its applied index when cut, the
/// leader's at the heal, the filler writes, and whether (and after how long,
/// on what evidence) the member applied a snapshot, or why that is not known.
pub fn outcome(
    member: &str,
    leader: &str,
    filled: &Result<Filled, String>,
    applied: &Result<Applied, String>,
) -> Value {
    let mut m = vec![
        (Value::str("member"), Value::str(member)),
        (Value::str("leader"), Value::str(leader)),
    ];
    let int = |n: u64| Value::Int(n.min(i64::MAX as u64) as i64);
    let ns = |d: Duration| Value::Int(d.as_nanos().min(i64::MAX as u128) as i64);
    match filled {
        Ok(f) => m.extend([
            (Value::str("applied_at_cut"), int(f.member_applied)),
            (Value::str("target"), int(f.target)),
            (Value::str("target_why"), Value::str(&f.why)),
            (Value::str("leader_applied_at_heal"), int(f.leader_applied)),
            (Value::str("filler_writes"), int(f.writes)),
            (Value::str("filler_ns"), ns(f.took)),
        ]),
        Err(e) => m.push((Value::str("error"), Value::str(e))),
    }
    if let Ok(Filled {
        leader_said: Some(said),
        ..
    }) = filled
    {
        m.push((Value::str("leader_said"), Value::str(said)));
    }
    match applied {
        Ok(a) => m.extend([
            (Value::str("snapshot_applied"), Value::Bool(true)),
            (Value::str("applied_after_heal_ns"), ns(a.after)),
            (
                Value::str("evidence"),
                Value::Map(
                    a.evidence
                        .iter()
                        .map(|(k, v)| (Value::str(k), Value::str(v)))
                        .collect::<Vec<_>>()
                        .into(),
                ),
            ),
        ]),
        Err(why) => m.extend([
            (Value::str("snapshot_applied"), Value::Bool(false)),
            (Value::str("why"), Value::str(why)),
        ]),
    }
    Value::Map(m.into())
}

/// The line said on stderr when the fault is over.
pub fn said(member: &str, filled: &Result<Filled, String>, applied: &Result<Applied, String>) -> String {
    let filler = match filled {
        Ok(f) => format!(
            "{} filler writes in {:.1} s took the leader from {} past {}",
            f.writes,
            f.took.as_secs_f64(),
            f.member_applied,
            f.target
        ),
        Err(e) => format!("gave up writing: {e}"),
    };
    let snapshot = match applied {
        Ok(a) => format!("snapshot applied {:.1} s after the heal", a.after.as_secs_f64()),
        Err(why) => format!("NOT CONFIRMED: {why}"),
    };
    format!("isolate-until-snapshot {member}: {filler}; {snapshot}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_says_what_happened_or_why_not() {
        let filled = Ok(Filled {
            member_applied: 40,
            target: 1640,
            why: "100 kept + 1000 + 500".into(),
            leader_applied: 1700,
            writes: 1650,
            took: Duration::from_millis(1500),
            leader_said: Some("compacted at 1500".into()),
        });
        let applied = Ok(Applied {
            after: Duration::from_millis(300),
            evidence: vec![("metric", "0 -> 1".into())],
        });
        let v = outcome("n2", "n1", &filled, &applied);
        assert_eq!(v.get("applied_at_cut"), Some(&Value::Int(40)));
        assert_eq!(v.get("leader_said"), Some(&Value::str("compacted at 1500")));
        assert_eq!(v.get("snapshot_applied"), Some(&Value::Bool(true)));
        assert_eq!(
            v.get("evidence").and_then(|e| e.get("metric")),
            Some(&Value::str("0 -> 1"))
        );
        let not: Result<Applied, String> = Err("no snapshot received".into());
        let v = outcome("n2", "n1", &Err("stopped".into()), &not);
        assert_eq!(v.get("error"), Some(&Value::str("stopped")));
        assert_eq!(v.get("snapshot_applied"), Some(&Value::Bool(false)));
        assert_eq!(v.get("why"), Some(&Value::str("no snapshot received")));
        assert!(said("n2", &filled, &not).ends_with("NOT CONFIRMED: no snapshot received"));
    }
}
