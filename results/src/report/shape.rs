//! What test.json and results.json must hold for [`render`](super::render) to
//! draw them: a file of another shape (null, a list, a verdict of `banana`, a
//! number where a list belongs) is refused by name, never drawn as a page that
//! looks like a verdict.

use serde_json::Value;

/// What a field must be where it is present (null counts as absent).
#[derive(Clone, Copy)]
enum Shape {
    /// A string, number or boolean: shown as text.
    Scalar,
    Object,
    /// A list of anything.
    List,
    /// A list of objects: each one's fields are shown.
    Objects,
}

use Shape::{List, Object, Objects, Scalar};

/// test.json's fields the page shows; parents come before their fields.
const TEST: &[(&str, Shape)] = &[
    ("system", Scalar),
    ("version", Scalar),
    ("workload", Scalar),
    ("nemesis", Scalar),
    ("nodes", Scalar),
    ("seed", Scalar),
    ("time_limit_s", Scalar),
    ("runtime", Scalar),
    ("read_mode", Scalar),
    ("resource", Scalar),
    ("run_id", Scalar),
    ("scenario", Scalar),
    ("title", Scalar),
    ("reproduce", Scalar),
    ("to", Scalar),
    ("runbook", Object),
    ("clock", Object),
];

/// results.json's fields the page reads; parents come before their fields.
const RESULTS: &[(&str, Shape)] = &[
    ("summary", Object),
    ("summary.faults", Objects),
    ("summary.duration_s", Scalar),
    ("expectations", Objects),
    ("drill", Object),
    ("drill.violations", List),
    ("drill.steps", List),
    ("divergence", Object),
    ("check", Object),
    ("check.keys", Objects),
    ("check.watchers", Objects),
    ("check.violations", List),
    ("check.safety", Object),
    ("check.safety.violations", List),
];

/// The verdicts a checker gives.
const VERDICTS: [&str; 3] = ["valid", "invalid", "unknown"];

/// The first thing in a file the page cannot show, and what it holds there
/// (its JSON, cut short).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("{found} at the top, not a JSON object")]
    NotAnObject { found: String },
    #[error("field `{path}` is {found}, not {want}")]
    Field {
        path: &'static str,
        found: String,
        want: &'static str,
    },
    #[error("field `verdict` is {found}, not one of {}", VERDICTS.join(", "))]
    Verdict { found: String },
}

/// `Err` names the first field of test.json the page cannot show, and what it holds.
pub fn check_test(test: &Value) -> Result<(), ShapeError> {
    fields(test, TEST)
}

/// `Err` names the first field of results.json the page cannot show: the verdict
/// must be one a checker gives, the rest of the shape the page reads.
pub fn check_results(results: &Value) -> Result<(), ShapeError> {
    fields(results, RESULTS)?;
    match results["verdict"].as_str() {
        Some(v) if VERDICTS.contains(&v) => Ok(()),
        _ => Err(ShapeError::Verdict {
            found: brief(&results["verdict"]),
        }),
    }
}

fn fields(doc: &Value, shapes: &[(&'static str, Shape)]) -> Result<(), ShapeError> {
    if !doc.is_object() {
        return Err(ShapeError::NotAnObject { found: brief(doc) });
    }
    for &(path, shape) in shapes {
        // a parent's shape was checked first, so indexing into it is meaningful
        let v = path.split('.').fold(doc, |v, k| &v[k]);
        let fits = match shape {
            Scalar => matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)),
            Object => v.is_object(),
            List => v.is_array(),
            Objects => v.as_array().is_some_and(|l| l.iter().all(Value::is_object)),
        };
        if !fits && !v.is_null() {
            let want = match shape {
                Scalar => "a string or number",
                Object => "an object",
                List => "a list",
                Objects => "a list of objects",
            };
            return Err(ShapeError::Field {
                path,
                found: brief(v),
                want,
            });
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
        assert_eq!(check_test(&test), Ok(()));
        let results = json!({"verdict": "invalid", "summary": {"faults": [{"start_s": 1.0}]},
                             "check": {"keys": [{"key": "k"}], "violations": []}, "drill": null});
        assert_eq!(check_results(&results), Ok(()));
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
            let err = check_results(&doc).unwrap_err().to_string();
            assert!(err.contains(said), "{doc}: {err}");
        }
        let err = check_test(&json!({"system": {"name": "etcd"}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("field `system` is {\"name\":\"etcd\"}"), "{err}");
    }
}
