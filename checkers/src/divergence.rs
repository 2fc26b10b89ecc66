//! Replicas compared with each other after a run. Once the faults are healed and
//! the final linearizable reads are done, every node is read on its own (a
//! serializable / plain / stale read: what that replica itself holds) after it
//! has caught up. A quorum read can hide a replica that lost or invented data;
//! this check cannot: any key on which the replicas, or a replica and the
//! linearizable read, disagree is a divergence, listed with every value.

use serde_json::json;

use crate::{Value, Verdict};

/// One node's own reads, or why it was not read (not caught up, no answer):
/// such a node is never counted as agreeing.
#[derive(Clone, Debug)]
pub struct Replica {
    pub node: String,
    pub answer: Result<Vec<(Value, Value)>, String>,
}

/// A key the replicas do not agree on.
#[derive(Clone, Debug, PartialEq)]
pub struct Disagreement {
    pub key: Value,
    /// The final linearizable read's value, where one succeeded.
    pub linearizable: Option<Value>,
    /// Each node read and its value (`None`: the key was missing in its answer).
    pub values: Vec<(String, Option<Value>)>,
}

#[derive(Clone, Debug)]
pub struct Divergence {
    pub verdict: Verdict,
    pub disagreements: Vec<Disagreement>,
    /// Nodes not read, and why.
    pub unread: Vec<(String, String)>,
    /// Nodes whose every key agreed.
    pub agreeing: Vec<String>,
}

/// Compares the replicas' answers with each other and with `linearizable`
/// (the final reads: key, value). Invalid on any disagreement; unknown when a
/// node could not be read; valid when every node was read and all agree.
pub fn check(linearizable: &[(Value, Value)], replicas: &[Replica]) -> Divergence {
    let mut keys: Vec<Value> = linearizable.iter().map(|(k, _)| k.clone()).collect();
    for r in replicas {
        for (k, _) in r.answer.iter().flatten() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys.sort_by_key(|k| k.to_string());
    let lin = |k: &Value| linearizable.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    let read: Vec<(&str, &Vec<(Value, Value)>)> = replicas
        .iter()
        .filter_map(|r| Some((r.node.as_str(), r.answer.as_ref().ok()?)))
        .collect();
    let mut disagreements = Vec::new();
    let mut differing: Vec<&str> = Vec::new();
    for key in keys {
        let expected = lin(&key);
        let values: Vec<(String, Option<Value>)> = read
            .iter()
            .map(|(node, answer)| {
                let v = answer.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
                (node.to_string(), v)
            })
            .collect();
        let first = expected.clone().or_else(|| values.first().and_then(|(_, v)| v.clone()));
        let agree = values.iter().all(|(_, v)| v.is_some() && *v == first);
        if !agree {
            for (node, v) in &values {
                if v.is_none() || *v != first {
                    differing.push(read.iter().find(|(n, _)| n == node).map_or("", |(n, _)| n));
                }
            }
            disagreements.push(Disagreement {
                key,
                linearizable: expected,
                values,
            });
        }
    }
    let unread: Vec<(String, String)> = replicas
        .iter()
        .filter_map(|r| Some((r.node.clone(), r.answer.as_ref().err()?.clone())))
        .collect();
    let agreeing = read
        .iter()
        .map(|(n, _)| n.to_string())
        .filter(|n| !differing.contains(&n.as_str()))
        .collect();
    let verdict = if !disagreements.is_empty() {
        Verdict::Invalid
    } else if !unread.is_empty() || replicas.is_empty() {
        Verdict::Unknown
    } else {
        Verdict::Valid
    };
    Divergence {
        verdict,
        disagreements,
        unread,
        agreeing,
    }
}

impl Divergence {
    /// For results.json.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "verdict": self.verdict.as_str(),
            "agreeing": self.agreeing,
            "unread": self.unread.iter().map(|(n, why)| json!({"node": n, "why": why})).collect::<Vec<_>>(),
            "disagreements": self.disagreements.iter().map(|d| json!({
                "key": d.key.to_json(),
                "linearizable": d.linearizable.as_ref().map(Value::to_json),
                "values": d.values.iter().map(|(n, v)| (n.clone(), v.as_ref().map_or(json!("missing"), Value::to_json)))
                    .collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
        })
    }

    /// One line per finding, for the terminal and the report.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in &self.disagreements {
            let values: Vec<String> = d
                .values
                .iter()
                .map(|(n, v)| format!("{n} {}", v.as_ref().map_or("missing".into(), Value::to_string)))
                .collect();
            out.push(format!(
                "divergence on key {}: linearizable read {}; {}",
                d.key,
                d.linearizable.as_ref().map_or("failed".into(), Value::to_string),
                values.join(", ")
            ));
        }
        for (n, why) in &self.unread {
            out.push(format!("{n} not read on its own: {why}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(i64, i64)]) -> Vec<(Value, Value)> {
        pairs.iter().map(|&(k, v)| (Value::Int(k), Value::Int(v))).collect()
    }

    fn replica(node: &str, pairs: &[(i64, i64)]) -> Replica {
        Replica {
            node: node.into(),
            answer: Ok(kv(pairs)),
        }
    }

    #[test]
    fn replicas_that_agree_with_the_linearizable_reads_are_valid() {
        let lin = kv(&[(0, 3), (1, 4)]);
        let d = check(
            &lin,
            &[replica("n1", &[(0, 3), (1, 4)]), replica("n2", &[(1, 4), (0, 3)])],
        );
        assert_eq!(d.verdict, Verdict::Valid);
        assert_eq!(d.agreeing, ["n1", "n2"]);
        assert!(d.lines().is_empty());
    }

    #[test]
    fn a_replica_that_lost_a_write_is_caught_with_the_key_and_every_value() {
        let lin = kv(&[(0, 3), (1, 4)]);
        let d = check(
            &lin,
            &[
                replica("n1", &[(0, 3), (1, 4)]),
                replica("n2", &[(0, 3), (1, 2)]),
                replica("n3", &[(0, 3), (1, 4)]),
            ],
        );
        assert_eq!(d.verdict, Verdict::Invalid);
        assert_eq!(
            d.disagreements,
            [Disagreement {
                key: Value::Int(1),
                linearizable: Some(Value::Int(4)),
                values: vec![
                    ("n1".into(), Some(Value::Int(4))),
                    ("n2".into(), Some(Value::Int(2))),
                    ("n3".into(), Some(Value::Int(4)))
                ],
            }]
        );
        assert_eq!(d.agreeing, ["n1", "n3"]);
        assert_eq!(
            d.lines(),
            ["divergence on key 1: linearizable read 4; n1 4, n2 2, n3 4"]
        );
        assert_eq!(d.to_json()["disagreements"][0]["values"]["n2"], 2);
    }

    #[test]
    fn replicas_that_agree_with_each_other_but_not_the_quorum_are_caught() {
        let lin = kv(&[(0, 9)]);
        let d = check(&lin, &[replica("n1", &[(0, 8)]), replica("n2", &[(0, 8)])]);
        assert_eq!(d.verdict, Verdict::Invalid);
        assert!(d.agreeing.is_empty());
    }

    #[test]
    fn a_key_missing_on_one_replica_is_a_divergence() {
        let d = check(&[], &[replica("n1", &[(0, 1), (1, 1)]), replica("n2", &[(0, 1)])]);
        assert_eq!(d.verdict, Verdict::Invalid);
        assert_eq!(
            d.lines(),
            ["divergence on key 1: linearizable read failed; n1 1, n2 missing"]
        );
    }

    #[test]
    fn a_node_not_read_is_never_counted_as_agreeing() {
        let lin = kv(&[(0, 3)]);
        let d = check(
            &lin,
            &[
                replica("n1", &[(0, 3)]),
                Replica {
                    node: "n3".into(),
                    answer: Err("not caught up within 10 s: applied 12 of 40".into()),
                },
            ],
        );
        assert_eq!(d.verdict, Verdict::Unknown);
        assert_eq!(d.agreeing, ["n1"]);
        assert_eq!(d.unread[0].0, "n3");
        assert_eq!(
            d.lines(),
            ["n3 not read on its own: not caught up within 10 s: applied 12 of 40"]
        );
    }
}
