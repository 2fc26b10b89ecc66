//! test.json and results.json read for [`render`](super::render): a file of
//! another shape (null, a list, a verdict of `banana`, a number where a list
//! belongs) is refused by naming the field and what it holds, never drawn as a
//! page that looks like a verdict. A field that is null counts as absent, as
//! one missing from an older run's file does: it reads as its default.

use checkers::Verdict;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::schema::{RunResults, TestInfo};

/// The first thing in a test.json or results.json the page cannot show, and
/// what the file holds there (its JSON, cut short).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShapeError(String);

/// What a field of the checker's report must be where it is present (null
/// counts as absent): the page reads the report as JSON, not as a struct.
#[derive(Clone, Copy)]
enum Shape {
    Object,
    /// A list of anything.
    List,
    /// A list of objects: each one's fields are shown.
    Objects,
}

use Shape::{List, Object, Objects};

/// The checker's report's fields the page reads; parents come before their fields.
const CHECK: &[(&str, Shape)] = &[
    ("check", Object),
    ("check.keys", Objects),
    ("check.watchers", Objects),
    ("check.violations", List),
    ("check.safety", Object),
    ("check.safety.violations", List),
];

/// test.json, or the first field the page cannot show and what it holds.
pub fn read_test(test: &Value) -> Result<TestInfo, ShapeError> {
    object(test).and_then(|()| typed(test)).map_err(ShapeError)
}

/// results.json, or the first field the page cannot show: the verdict must be
/// one a checker gives, the rest of the shape the page reads.
pub fn read_results(results: &Value) -> Result<RunResults, ShapeError> {
    results_of(results).map_err(ShapeError)
}

fn results_of(results: &Value) -> Result<RunResults, String> {
    object(results)?;
    if Verdict::deserialize(&results["verdict"]).is_err() {
        let verdicts = [Verdict::Valid, Verdict::Invalid, Verdict::Unknown].map(Verdict::as_str);
        return Err(format!(
            "field `verdict` is {}, not one of {}",
            brief(&results["verdict"]),
            verdicts.join(", ")
        ));
    }
    let read = typed(results)?;
    fields(results, CHECK)?;
    Ok(read)
}

fn object(doc: &Value) -> Result<(), String> {
    match doc.is_object() {
        true => Ok(()),
        false => Err(format!("{} at the top, not a JSON object", brief(doc))),
    }
}

/// `doc` as a `T`, its nulls left out; or the field to blame.
fn typed<T: DeserializeOwned>(doc: &Value) -> Result<T, String> {
    let doc = without_nulls(doc, 0);
    serde_json::from_value(doc.clone()).map_err(|e| blame::<T>(&doc, &e))
}

/// `doc` with each null member of an object left out (a list keeps its nulls:
/// they hold places), but for the checker's report, which the page reads as it is.
fn without_nulls(doc: &Value, depth: usize) -> Value {
    match doc {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| match (depth, k.as_str()) {
                    (0, "check") => (k.clone(), v.clone()),
                    _ => (k.clone(), without_nulls(v, depth + 1)),
                })
                .collect(),
        ),
        Value::Array(l) => Value::Array(l.iter().map(|v| without_nulls(v, depth + 1)).collect()),
        v => v.clone(),
    }
}

/// The field `err` is about, as a line: the first whose leaving out lets `doc`
/// read as a `T`, followed down into its object while that holds.
fn blame<T: DeserializeOwned>(doc: &Value, err: &serde_json::Error) -> String {
    let at = |path: &[String]| path.iter().fold(doc, |v, k| &v[k.as_str()]);
    let mut path: Vec<String> = Vec::new();
    while let Some(members) = at(&path).as_object() {
        let culprit = members.keys().find(|k| {
            let mut without = doc.clone();
            let parent = path.iter().fold(&mut without, |v, p| &mut v[p.as_str()]);
            parent.as_object_mut().map(|m| m.remove(k.as_str()));
            serde_json::from_value::<T>(without).is_ok()
        });
        match culprit {
            Some(k) => path.push(k.clone()),
            None => break,
        }
    }
    let said = err.to_string();
    if path.is_empty() {
        return said;
    }
    // serde's `invalid type: string "x", expected struct Runbook`: the field's value is shown already
    let want = said
        .rsplit_once(", expected ")
        .map_or(said.clone(), |(_, w)| format!("expected {w}"));
    format!("field `{}` is {}, {want}", path.join("."), brief(at(&path)))
}

fn fields(doc: &Value, shapes: &[(&str, Shape)]) -> Result<(), String> {
    for &(path, shape) in shapes {
        // a parent's shape was checked first, so indexing into it is meaningful
        let v = path.split('.').fold(doc, |v, k| &v[k]);
        let fits = match shape {
            Object => v.is_object(),
            List => v.is_array(),
            Objects => v.as_array().is_some_and(|l| l.iter().all(Value::is_object)),
        };
        if !fits && !v.is_null() {
            let want = match shape {
                Object => "an object",
                List => "a list",
                Objects => "a list of objects",
            };
            return Err(format!("field `{path}` is {}, not {want}", brief(v)));
        }
    }
    Ok(())
}

/// A value as the error line quotes it: its JSON, cut short.
fn brief(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_run_of_the_runner_shape_passes() {
        let test = json!({"system": "etcd", "nodes": 3, "seed": 7, "runbook": null, "clock": {"rate": 1.0}});
        assert!(read_test(&test).is_ok());
        let results = json!({"verdict": "invalid", "summary": {"faults": [{"start_s": 1.0}]},
                             "check": {"keys": [{"key": "k"}], "violations": []}, "drill": null});
        assert!(read_results(&results).is_ok());
    }

    #[test]
    fn each_wrong_shape_is_named() {
        for (doc, said) in [
            (json!(null), "null at the top"),
            (json!([1]), "[1] at the top"),
            (json!({"verdict": "banana"}), "field `verdict` is \"banana\""),
            (json!({}), "field `verdict` is null"),
            (json!({"verdict": "valid", "summary": 5}), "field `summary` is 5"),
            (
                json!({"verdict": "valid", "summary": {"faults": [1]}}),
                "field `summary.faults`",
            ),
            (
                json!({"verdict": "valid", "check": {"keys": "k"}}),
                "field `check.keys`",
            ),
        ] {
            let err = read_results(&doc).unwrap_err().to_string();
            assert!(err.contains(said), "{doc}: {err}");
        }
        let err = read_test(&json!({"system": {"name": "etcd"}})).unwrap_err().to_string();
        assert!(err.contains("field `system` is {\"name\":\"etcd\"}"), "{err}");
    }

    #[test]
    fn a_field_of_a_typed_part_is_named_down_to_where_it_breaks() {
        let results = json!({"verdict": "valid", "drill": {"rpo": 1, "snapshots": [], "steps": 2}});
        let err = read_results(&results).unwrap_err().to_string();
        assert_eq!(err, "field `drill.steps` is 2, expected a sequence");
        let test = json!({"system": "etcd", "clock": {"rate": "fast"}, "seed": null});
        let err = read_test(&test).unwrap_err().to_string();
        assert!(err.starts_with("field `clock.rate` is \"fast\", expected f64"), "{err}");
    }
}
