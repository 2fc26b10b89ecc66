//! Our own format: one JSON object per line.
//!
//! `{"index":0,"time":12345,"process":0,"type":"invoke","f":"cas","key":"k1","value":[1,2]}`

use std::io::{BufRead, Write};

use serde_json::Value as J;

use super::{FormatError, shorten};
use crate::op::{F, Op, Process, Type};
use crate::value::Value;

fn kind_of(j: &J) -> &'static str {
    match j {
        J::Null => "null",
        J::Bool(_) => "a boolean",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "an array",
        J::Object(_) => "an object",
    }
}

fn show(j: &J) -> String {
    shorten(j.to_string())
}

fn op_from_json(o: &serde_json::Map<String, J>, line: u32, index: u64) -> Result<Op, FormatError> {
    let err = |m: String| FormatError::new(line, m);
    let required = |field: &str| {
        o.get(field).ok_or_else(|| {
            err(format!(
                "missing \"{field}\"; every op needs \"process\", \"type\" and \"f\""
            ))
        })
    };
    let process = match required("process")? {
        J::String(s) if s == "nemesis" => Process::Nemesis,
        j => match j.as_u64() {
            Some(p) => Process::Client(p),
            None => {
                return Err(err(format!(
                    "expected \"process\" to be a non-negative integer or \"nemesis\", found {}",
                    show(j)
                )));
            }
        },
    };
    let kind = match required("type")? {
        J::String(s) if Type::parse(s).is_some() => Type::parse(s).unwrap_or(Type::Info),
        j => {
            return Err(err(format!(
                "expected \"type\" to be \"invoke\", \"ok\", \"fail\" or \"info\", found {}",
                show(j)
            )));
        }
    };
    let f = match required("f")? {
        J::String(s) => F::parse(s),
        j => {
            return Err(err(format!(
                "expected \"f\" to be a string such as \"read\", found {}",
                kind_of(j)
            )));
        }
    };
    let mut op = Op::new(process, kind, f, o.get("value").map_or(Value::Nil, Value::from_json));
    op.line = line;
    op.index = index;
    op.key = o.get("key").map(Value::from_json);
    op.error = o.get("error").map(|e| Box::new(Value::from_json(e)));
    let uint = |field: &str| -> Result<Option<u64>, FormatError> {
        match o.get(field) {
            None | Some(J::Null) => Ok(None),
            Some(j) => j.as_u64().map(Some).ok_or_else(|| {
                err(format!(
                    "expected \"{field}\" to be a non-negative integer, found {}",
                    show(j)
                ))
            }),
        }
    };
    op.time = uint("time")?;
    if let Some(i) = uint("index")? {
        op.index = i;
    }
    Ok(op)
}

/// Whether a last line (one with no newline) that does not parse is what a writer
/// killed mid-line leaves: the start of an op (or nothing) and then, where the
/// machine lost power, only zero bytes.
fn cut_mid_op(buf: &[u8]) -> bool {
    let end = buf.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    let text = buf[..end].trim_ascii();
    text.is_empty() || serde_json::from_slice::<J>(text).is_err_and(|e| e.is_eof())
}

/// The ops, and the number of a last line cut short (its ops are not there).
pub(crate) fn read<R: BufRead>(r: R) -> Result<(Vec<Op>, Option<u32>), FormatError> {
    let mut ops = Vec::new();
    let mut cut_short = None;
    super::for_each_line(r, |buf, line| {
        let text = buf.trim_ascii();
        if text.is_empty() {
            return Ok(());
        }
        let j: J = match serde_json::from_slice(text) {
            Ok(j) => j,
            Err(_) if !buf.ends_with(b"\n") && cut_mid_op(buf) => {
                cut_short = Some(line);
                return Ok(());
            }
            Err(e) => {
                return Err(FormatError::new(
                    line,
                    format!("invalid JSON ({e}); expected one JSON object per line"),
                ));
            }
        };
        let J::Object(o) = &j else {
            return Err(FormatError::new(
                line,
                format!("expected a JSON object per line, found {}", kind_of(&j)),
            ));
        };
        let index = ops.len() as u64;
        ops.push(op_from_json(o, line, index)?);
        Ok(())
    })?;
    Ok((ops, cut_short))
}

fn json<W: Write>(w: &mut W, j: &J) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, j).map_err(std::io::Error::from)
}

pub(crate) fn write<W: Write>(w: &mut W, op: &Op) -> std::io::Result<()> {
    write!(w, "{{\"index\":{}", op.index)?;
    if let Some(t) = op.time {
        write!(w, ",\"time\":{t}")?;
    }
    match op.process {
        Process::Client(p) => write!(w, ",\"process\":{p}")?,
        Process::Nemesis => w.write_all(b",\"process\":\"nemesis\"")?,
    }
    write!(w, ",\"type\":\"{}\",\"f\":", op.kind.as_str())?;
    serde_json::to_writer(&mut *w, op.f.as_str()).map_err(std::io::Error::from)?;
    if let Some(k) = &op.key {
        w.write_all(b",\"key\":")?;
        json(w, &k.to_json())?;
    }
    w.write_all(b",\"value\":")?;
    json(w, &op.value.to_json())?;
    if let Some(e) = &op.error {
        w.write_all(b",\"error\":")?;
        json(w, &e.to_json())?;
    }
    w.write_all(b"}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Format, read_history, write_jsonl};

    fn read_str(s: &str) -> Result<Vec<Op>, FormatError> {
        read_history(s.as_bytes(), Format::Jsonl).map(|h| h.ops)
    }

    #[test]
    fn a_last_line_cut_short_is_noted_and_its_ops_are_those_before() {
        let whole = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n\
                     {\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":3}\n";
        for tail in ["{\"process\":1,\"ty", "{", "\0\0\0\0", "{\"process\":1\0\0"] {
            let h = read_history(format!("{whole}{tail}").as_bytes(), Format::Jsonl).unwrap();
            assert_eq!((h.ops.len(), h.cut_short), (2, Some(3)), "{tail:?}");
        }
        let h = read_history(whole.as_bytes(), Format::Jsonl).unwrap();
        assert_eq!(h.cut_short, None);
        // a whole line with a bad op, or a broken line with a newline, is an error
        for tail in ["{\"process\":1}", "{\"process\":1,\"ty\n", "{\"process\":1}}"] {
            let e = read_history(format!("{whole}{tail}").as_bytes(), Format::Jsonl).unwrap_err();
            assert_eq!(e.line, 3, "{tail:?}: {e}");
        }
    }

    #[test]
    fn a_line_past_the_cap_is_an_error_with_its_number() {
        let zeros = std::io::Read::take(std::io::repeat(0), (crate::format::MAX_LINE + (1 << 20)) as u64);
        let input = std::io::Read::chain(&b"\n\n"[..], zeros);
        let e = read_history(std::io::BufReader::new(input), Format::Jsonl).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("longer than 64 MB"), "{e}");
        let e = read_history(
            std::io::BufReader::new(std::io::Read::take(std::io::repeat(b'a'), 80 << 20)),
            Format::Edn,
        )
        .unwrap_err();
        assert!(e.message.contains("longer than 64 MB"), "{e}");
    }

    #[test]
    fn reads_a_sample() {
        let src = "{\"index\":0,\"time\":12345,\"process\":0,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"k1\",\"value\":[1,2]}\n\n\
                   {\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"partition\",\"value\":{\"a\":1.5}}\r\n\
                   {\"process\":0,\"type\":\"fail\",\"f\":\"cas\",\"key\":\"k1\",\"error\":\"timeout\",\"time\":12400}\n";
        let ops = read_str(src).unwrap();
        assert_eq!(ops.len(), 3);
        let o = &ops[0];
        assert_eq!(
            (o.index, o.time, o.process, o.kind, &o.f, o.line),
            (0, Some(12345), Process::Client(0), Type::Invoke, &F::Cas, 1)
        );
        assert_eq!(o.key, Some(Value::str("k1")));
        assert_eq!(o.value, Value::list(vec![Value::Int(1), Value::Int(2)]));
        let o = &ops[1];
        assert_eq!(
            (o.index, o.process, o.kind, o.line),
            (1, Process::Nemesis, Type::Info, 3)
        );
        assert_eq!(o.f, F::Other("partition".into()));
        assert_eq!(o.value, Value::Map(vec![(Value::str("a"), Value::str("1.5"))].into()));
        let o = &ops[2];
        assert_eq!((o.index, o.kind, o.line, &o.value), (2, Type::Fail, 4, &Value::Nil));
        assert_eq!(o.error.as_deref(), Some(&Value::str("timeout")));
    }

    #[test]
    fn round_trips() {
        let mut ops = vec![
            Op::new(
                Process::Client(3),
                Type::Invoke,
                F::Cas,
                Value::list(vec![Value::Int(1), Value::Int(-2)]),
            )
            .with_key(Value::str("k\"1")),
            Op::new(Process::Client(3), Type::Ok, F::Cas, Value::Bool(false)).with_key(Value::str("k\"1")),
            Op::new(
                Process::Nemesis,
                Type::Info,
                F::Other("kill".into()),
                Value::str("n1 \u{e9}\n"),
            ),
            Op::new(
                Process::Client(u64::MAX),
                Type::Invoke,
                F::Txn,
                Value::list(vec![Value::list(vec![Value::str("r"), Value::Int(1), Value::Nil])]),
            ),
            Op::new(Process::Client(u64::MAX), Type::Fail, F::Txn, Value::Nil),
        ];
        ops[0].time = Some(10);
        ops[1].time = Some(u64::MAX);
        ops[4].error = Some(Box::new(Value::Map(
            vec![(Value::str("why"), Value::str("timeout"))].into(),
        )));
        let mut out = Vec::new();
        for (i, op) in ops.iter_mut().enumerate() {
            op.index = i as u64 * 2;
            op.line = i as u32 + 1;
            write_jsonl(&mut out, op).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), ops.len());
        assert!(text.starts_with("{\"index\":0,\"time\":10,\"process\":3,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"k\\\"1\",\"value\":[1,-2]}\n"), "{text}");
        let back = read_str(&text).unwrap();
        assert_eq!(back, ops);
    }

    #[test]
    fn errors_name_the_line() {
        let ok = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n";
        let cases = [
            ("{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"", "invalid JSON"),
            ("[1,2]", "expected a JSON object"),
            ("{\"type\":\"invoke\",\"f\":\"read\"}", "missing \"process\""),
            ("{\"process\":0,\"f\":\"read\"}", "missing \"type\""),
            ("{\"process\":0,\"type\":\"invoke\"}", "missing \"f\""),
            ("{\"process\":-1,\"type\":\"invoke\",\"f\":\"read\"}", "\"process\""),
            (
                "{\"process\":\"bob\",\"type\":\"invoke\",\"f\":\"read\"}",
                "\"process\"",
            ),
            (
                "{\"process\":0,\"type\":\"okk\",\"f\":\"read\"}",
                "expected \"type\" to be \"invoke\", \"ok\", \"fail\" or \"info\", found \"okk\"",
            ),
            ("{\"process\":0,\"type\":\"ok\",\"f\":3}", "\"f\""),
            ("{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"time\":-5}", "\"time\""),
            (
                "{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"index\":\"a\"}",
                "\"index\"",
            ),
        ];
        for (bad, want) in cases {
            let e = read_str(&format!("{ok}\n{bad}\n{ok}")).unwrap_err();
            assert_eq!(e.line, 3, "{bad}: {e}");
            assert!(e.message.contains(want), "{bad}: {e}");
        }
    }
}
