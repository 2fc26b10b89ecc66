//! Porcupine's etcd test data: Jepsen console logs.
//!
//! `INFO  jepsen.util - 3<TAB>:invoke<TAB>:cas<TAB>[3 0]`, fields separated by tabs or
//! runs of spaces. Porcupine's reading is encoded into our ops: `:fail :cas` is a cas
//! that returned false (an `ok` op with value `false`); a failed read or write and
//! every `:info` have an unknown outcome (`info`). (Porcupine's kv data is plain EDN.)

use std::io::BufRead;

use super::{FormatError, edn};
use crate::op::{F, Op, Process, Type};
use crate::value::Value;

const MARKER: &str = "jepsen.util - ";

/// The next whitespace-separated field and the text after it.
fn field(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    Some((&s[..end], &s[end..]))
}

/// Parses one log line; `None` for lines that are not client read/write/cas events.
fn parse_line(text: &str, line: u32) -> Result<Option<Op>, FormatError> {
    let Some(pos) = text.find(MARKER) else {
        return Ok(None);
    };
    let rest = &text[pos + MARKER.len()..];
    let Some((process, rest)) = field(rest) else {
        return Ok(None);
    };
    let Ok(process) = process.parse::<u64>() else {
        return Ok(None);
    };
    let Some((kind, rest)) = field(rest) else {
        return Ok(None);
    };
    let Some((f, rest)) = field(rest) else {
        return Ok(None);
    };
    let f = match f {
        ":read" => F::Read,
        ":write" => F::Write,
        ":cas" => F::Cas,
        _ => return Ok(None),
    };
    let Some(kind) = kind.strip_prefix(':').and_then(Type::parse) else {
        return Err(FormatError::new(
            line,
            format!("expected the type to be :invoke, :ok, :fail or :info, found {kind}"),
        ));
    };
    let text = rest.trim();
    if text.is_empty() {
        return Err(FormatError::new(
            line,
            format!("missing the value after :{} :{f}", kind.as_str()),
        ));
    }
    let value = edn::parse_one(text, line)?;
    let (kind, value) = match (kind, &f) {
        (Type::Invoke | Type::Ok, _) => (kind, value),
        (Type::Fail, F::Cas) => (Type::Ok, Value::Bool(false)),
        (Type::Fail | Type::Info, _) => (Type::Info, Value::Nil),
    };
    let mut op = Op::new(Process::Client(process), kind, f, value);
    op.line = line;
    Ok(Some(op))
}

pub(crate) fn read_etcd<R: BufRead>(r: R) -> Result<Vec<Op>, FormatError> {
    let mut ops = Vec::new();
    super::for_each_line(r, |buf, line| {
        if let Some(mut op) = parse_line(&String::from_utf8_lossy(buf), line)? {
            op.index = ops.len() as u64;
            ops.push(op);
        }
        Ok(())
    })?;
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Format, read_history};

    fn read(s: &str) -> Result<Vec<Op>, FormatError> {
        read_history(s.as_bytes(), Format::PorcupineEtcd).map(|h| h.ops)
    }

    #[test]
    fn reads_etcd_log_with_porcupine_semantics() {
        let src = "INFO  jepsen.core - Starting test\n\
                   INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
                   INFO  jepsen.util - 1   :invoke :cas    [3 0]\n\
                   INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n\
                   INFO  jepsen.util - 0\t:ok\t:read\t3\n\
                   INFO  jepsen.util - 1\t:fail\t:cas\t[3 0]\n\
                   INFO  jepsen.util - 2\t:invoke\t:write\t4\n\
                   INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n\
                   INFO  jepsen.util - 3\t:invoke\t:read\tnil\n\
                   INFO  jepsen.util - 3\t:fail\t:read\t:timed-out\n\
                   INFO  jepsen.util - 4\t:invoke\t:cas\t[1 2]\n\
                   INFO  jepsen.util - 4\t:ok\t:cas\t[1 2]\n\
                   INFO  jepsen.util - 5\t:invoke\t:txn\tnil\n";
        let ops = read(src).unwrap();
        let got: Vec<_> = ops
            .iter()
            .map(|o| (o.process, o.kind, o.f.clone(), o.value.clone(), o.line))
            .collect();
        let c = Process::Client;
        let cas = |a, b| Value::list(vec![Value::Int(a), Value::Int(b)]);
        assert_eq!(
            got,
            vec![
                (c(0), Type::Invoke, F::Read, Value::Nil, 2),
                (c(1), Type::Invoke, F::Cas, cas(3, 0), 3),
                (c(0), Type::Ok, F::Read, Value::Int(3), 5),
                (c(1), Type::Ok, F::Cas, Value::Bool(false), 6),
                (c(2), Type::Invoke, F::Write, Value::Int(4), 7),
                (c(2), Type::Info, F::Write, Value::Nil, 8),
                (c(3), Type::Invoke, F::Read, Value::Nil, 9),
                (c(3), Type::Info, F::Read, Value::Nil, 10),
                (c(4), Type::Invoke, F::Cas, cas(1, 2), 11),
                (c(4), Type::Ok, F::Cas, cas(1, 2), 12),
            ]
        );
        assert!(ops.iter().all(|o| o.key.is_none()));
        assert_eq!(
            ops.iter().map(|o| o.index).collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e =
            read("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:okk\t:read\t3\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: expected the type to be :invoke, :ok, :fail or :info, found :okk"
        );
        let e = read("\nINFO  jepsen.util - 0\t:invoke\t:cas\t[1 2\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unterminated vector"), "{e}");
        let e = read("INFO  jepsen.util - 0\t:invoke\t:write\t\"abc\n").unwrap_err();
        assert!(e.message.contains("unterminated string"), "{e}");
        let e = read("INFO  jepsen.util - 0\t:invoke\t:write\t1 2\n").unwrap_err();
        assert!(e.message.contains("after the value"), "{e}");
        let e = read("INFO  jepsen.util - 0\t:invoke\t:write\n").unwrap_err();
        assert!(e.message.contains("missing the value"), "{e}");
    }

    #[test]
    fn reads_kv_lines_as_edn() {
        let src = "{:process 0, :type :invoke, :f :append, :key \"0\", :value \"x 0 0 y\"}\n\
                   {:process 0, :type :ok, :f :append, :key \"0\", :value \"x 0 0 y\"}\n\
                   {:process 1, :type :invoke, :f :get, :key \"7\", :value nil}\n\
                   {:process 1, :type :ok, :f :get, :key \"7\", :value \"\"}\n";
        let ops = read_history(src.as_bytes(), Format::PorcupineKv).unwrap().ops;
        assert_eq!(ops.len(), 4);
        assert_eq!(
            (ops[0].process, ops[0].kind, &ops[0].f),
            (Process::Client(0), Type::Invoke, &F::Append)
        );
        assert_eq!(ops[0].key, Some(Value::str("0")));
        assert_eq!(ops[0].value, Value::str("x 0 0 y"));
        assert_eq!((ops[3].kind, &ops[3].f, ops[3].line), (Type::Ok, &F::Get, 4));
        assert_eq!(ops[3].key, Some(Value::str("7")));
        assert_eq!(ops[3].value, Value::str(""));
    }
}
