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

/// Parses one log line; `None` for lines that are not client events: other loggers'
/// lines, the nemesis's and other named processes' (`:nemesis`), and messages
/// (a word where the process goes). A client's line that does not parse is an
/// error: skipped, it would take an op out of the history the verdict is about.
fn parse_line(text: &str, line: u32) -> Result<Option<Op>, FormatError> {
    let Some(pos) = text.find(MARKER) else {
        return Ok(None);
    };
    let rest = &text[pos + MARKER.len()..];
    let err = |m: String| Err(FormatError::new(line, m));
    let Some((process, rest)) = field(rest) else {
        return err(format!("missing the process after `{}`", MARKER.trim_end()));
    };
    if process.starts_with(':') || process.starts_with(|c: char| c.is_alphabetic()) {
        return Ok(None);
    }
    let Ok(process) = process.parse::<u64>() else {
        return err(format!(
            "expected the process to be a non-negative integer (or a name such as :nemesis), found {process}"
        ));
    };
    let Some((kind, rest)) = field(rest) else {
        return err(format!("missing the type after process {process}"));
    };
    let Some((f, rest)) = field(rest) else {
        return err(format!("missing the function after {kind}"));
    };
    let f = match f {
        ":read" => F::Read,
        ":write" => F::Write,
        ":cas" => F::Cas,
        other => {
            return err(format!(
                "expected the function to be :read, :write or :cas (a register's), found {other}"
            ));
        }
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
    // what the last op line said before its process
    let mut lead = String::new();
    super::for_each_line(r, |buf, line| {
        let text = String::from_utf8_lossy(buf);
        let last = !buf.ends_with(b"\n");
        let op = match parse_line(&text, line) {
            Err(_) if last => None,
            parsed => parsed?,
        };
        // Jepsen ends every line: a last one without its newline that is an op, or
        // the start of one, was cut short, and its value may be too (`12` read as `1`)
        let cut = last
            && (op.is_some()
                || text.contains(MARKER)
                || (!lead.is_empty() && !text.trim().is_empty() && lead.starts_with(text.trim_end())));
        if cut {
            return Err(FormatError::new(
                line,
                "the last op line has no newline: the file was cut short (add the newline if the op is whole)",
            ));
        }
        if let Some(mut op) = op {
            op.index = ops.len() as u64;
            ops.push(op);
            lead.clear();
            lead.push_str(&text[..text.find(MARKER).map_or(0, |at| at + MARKER.len())]);
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
                   INFO  jepsen.util - Relative time begins now\n";
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
    fn client_lines_that_do_not_parse_are_errors_never_skipped() {
        let ok = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n";
        let line2 = |l: &str| read(&format!("{ok}{l}")).unwrap_err();
        for (l, says) in [
            (
                "INFO  jepsen.util - 99999999999999999999\t:ok\t:read\t1\n",
                "non-negative integer",
            ),
            ("INFO  jepsen.util - 1.5\t:ok\t:read\t1\n", "non-negative integer"),
            ("INFO  jepsen.util - -3\t:ok\t:read\t1\n", "non-negative integer"),
            ("INFO  jepsen.util - 0\t:invoke\t:txn\tnil\n", "found :txn"),
            ("INFO  jepsen.util - 0\n", "missing the type"),
            ("INFO  jepsen.util - 0\t:ok\n", "missing the function"),
            ("INFO  jepsen.util - \n", "missing the process"),
            // truncated, the last line loses its newline, and maybe part of its value
            ("INFO  jepsen.util - 0\t:ok\t:read\t1", "cut short"),
            ("INFO  jepsen.ut", "cut short"),
        ] {
            let e = line2(l);
            assert_eq!(e.line, 2, "{l:?}: {e}");
            assert!(e.message.contains(says), "{l:?}: {e}");
        }
        // another logger's last line, and trailing blanks, are not ops
        assert_eq!(read(&format!("{ok}INFO  jepsen.core - done")).unwrap().len(), 1);
        assert_eq!(read(&format!("{ok}  ")).unwrap().len(), 1);
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
