//! A small streaming EDN reader, and Jepsen / Knossos op maps.

use std::io::{BufRead, ErrorKind};
use std::sync::Arc;

use super::{FormatError, shorten};
use crate::op::{F, Op, Process, Type};
use crate::value::Value;

/// Deeper nesting than this is an error rather than a stack overflow.
const MAX_DEPTH: u32 = 200;

/// One step of reading: a complete form, a closing delimiter, or the end.
pub(crate) enum Item {
    /// A form and the line it starts on.
    Form(Value, u32),
    /// `)`, `]` or `}`, and its line.
    Close(u8, u32),
    Eof,
}

/// Reads EDN forms from a `BufRead`, a byte at a time or a buffer run at a time.
pub(crate) struct Reader<R> {
    r: R,
    line: u32,
    depth: u32,
    scratch: Vec<u8>,
}

fn is_delim(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';')
}

fn show_byte(c: Option<u8>) -> String {
    match c {
        None => "end of input".to_string(),
        Some(c) if c.is_ascii_graphic() => format!("`{}`", c as char),
        Some(c) => format!("byte 0x{c:02x}"),
    }
}

impl<R: BufRead> Reader<R> {
    pub(crate) fn new(r: R, line: u32) -> Reader<R> {
        Reader {
            r,
            line,
            depth: 0,
            scratch: Vec::new(),
        }
    }

    fn err(&self, line: u32, message: impl Into<String>) -> FormatError {
        FormatError::new(line, message)
    }

    fn buf(&mut self) -> Result<&[u8], FormatError> {
        loop {
            match self.r.fill_buf() {
                // Returning this borrow from inside the loop upsets the borrow checker;
                // the second call below just hands back the same buffer.
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(FormatError::io(self.line, &e)),
            }
        }
        self.r.fill_buf().map_err(|e| FormatError::io(self.line, &e))
    }

    fn peek(&mut self) -> Result<Option<u8>, FormatError> {
        Ok(self.buf()?.first().copied())
    }

    fn next(&mut self) -> Result<Option<u8>, FormatError> {
        let c = self.peek()?;
        if let Some(c) = c {
            self.r.consume(1);
            if c == b'\n' {
                self.line += 1;
            }
        }
        Ok(c)
    }

    /// Consumes bytes while `keep` holds, appending them to `out` if given.
    fn take_while(&mut self, keep: impl Fn(u8) -> bool, mut out: Option<&mut Vec<u8>>) -> Result<(), FormatError> {
        loop {
            let buf = self.buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            let n = buf.iter().position(|&c| !keep(c)).unwrap_or(buf.len());
            let newlines = buf[..n].iter().filter(|&&c| c == b'\n').count() as u32;
            let done = n < buf.len();
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&buf[..n]);
            }
            self.r.consume(n);
            self.line += newlines;
            if done {
                return Ok(());
            }
        }
    }

    /// Skips whitespace (commas included) and `;` comments.
    pub(crate) fn skip_ws(&mut self) -> Result<(), FormatError> {
        loop {
            self.take_while(|c| c.is_ascii_whitespace() || c == b',', None)?;
            if self.peek()? != Some(b';') {
                return Ok(());
            }
            self.take_while(|c| c != b'\n', None)?;
        }
    }

    pub(crate) fn peek_after_ws(&mut self) -> Result<Option<u8>, FormatError> {
        self.skip_ws()?;
        self.peek()
    }

    pub(crate) fn line(&self) -> u32 {
        self.line
    }

    /// Consumes one byte already seen by `peek`.
    pub(crate) fn bump(&mut self) -> Result<(), FormatError> {
        self.next().map(|_| ())
    }

    /// Reads the next form, or the closing delimiter of the enclosing collection.
    pub(crate) fn read_item(&mut self) -> Result<Item, FormatError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(self.line, format!("forms nested more than {MAX_DEPTH} deep")));
        }
        self.depth += 1;
        let item = self.read_item_inner();
        self.depth -= 1;
        item
    }

    fn read_item_inner(&mut self) -> Result<Item, FormatError> {
        loop {
            self.skip_ws()?;
            let line = self.line;
            let Some(c) = self.peek()? else {
                return Ok(Item::Eof);
            };
            let v = match c {
                b')' | b']' | b'}' => {
                    self.bump()?;
                    return Ok(Item::Close(c, line));
                }
                b'(' => {
                    self.bump()?;
                    Value::list(self.read_seq(b')', "list", line)?)
                }
                b'[' => {
                    self.bump()?;
                    Value::list(self.read_seq(b']', "vector", line)?)
                }
                b'{' => {
                    self.bump()?;
                    let items = self.read_seq(b'}', "map", line)?;
                    if items.len() % 2 != 0 {
                        return Err(self.err(
                            line,
                            format!(
                                "map starting at line {line} has an odd number of forms ({}); expected key-value pairs",
                                items.len()
                            ),
                        ));
                    }
                    let mut it = items.into_iter();
                    let mut pairs = Vec::with_capacity(it.len() / 2);
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Value::Map(Arc::from(pairs))
                }
                b'"' => {
                    self.bump()?;
                    Value::str(&self.read_string(line)?)
                }
                b'\\' => {
                    self.bump()?;
                    self.read_char(line)?
                }
                b'#' => {
                    self.bump()?;
                    match self.peek()? {
                        Some(b'_') => {
                            self.bump()?;
                            self.read_form("a form to discard after #_")?;
                            continue;
                        }
                        Some(b'{') => {
                            self.bump()?;
                            Value::list(self.read_seq(b'}', "set", line)?)
                        }
                        Some(b'"') => {
                            self.bump()?;
                            Value::str(&self.read_string(line)?)
                        }
                        Some(b'#') => {
                            self.bump()?;
                            let t = self.read_token(line)?;
                            Value::str(&format!("##{t}"))
                        }
                        Some(c) if !is_delim(c) => {
                            let tag = self.read_token(line)?;
                            self.read_form(&format!("a value after the tag #{tag}"))?
                        }
                        other => {
                            return Err(self.err(
                                self.line,
                                format!("expected a tag, `_` or `{{` after `#`, found {}", show_byte(other)),
                            ));
                        }
                    }
                }
                _ => {
                    let t = self.read_token(line)?;
                    token_value(&t)
                }
            };
            return Ok(Item::Form(v, line));
        }
    }

    /// Reads one form; a closing delimiter or the end of input is an error.
    pub(crate) fn read_form(&mut self, what: &str) -> Result<Value, FormatError> {
        match self.read_item()? {
            Item::Form(v, _) => Ok(v),
            Item::Close(c, line) => Err(self.err(line, format!("expected {what}, found `{}`", c as char))),
            Item::Eof => Err(self.err(self.line, format!("expected {what}, reached end of input"))),
        }
    }

    fn read_seq(&mut self, close: u8, what: &str, start: u32) -> Result<Vec<Value>, FormatError> {
        let mut items = Vec::new();
        loop {
            match self.read_item()? {
                Item::Form(v, _) => items.push(v),
                Item::Close(c, _) if c == close => return Ok(items),
                Item::Close(c, line) => {
                    return Err(self.err(
                        line,
                        format!(
                            "expected `{}` to close the {what} starting at line {start}, found `{}`",
                            close as char, c as char
                        ),
                    ));
                }
                Item::Eof => {
                    return Err(self.err(
                        start,
                        format!(
                            "unterminated {what}: reached end of input at line {}, expected `{}`",
                            self.line, close as char
                        ),
                    ));
                }
            }
        }
    }

    /// Reads a token (symbol, keyword, number) up to the next delimiter.
    fn read_token(&mut self, line: u32) -> Result<String, FormatError> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        self.take_while(|c| !is_delim(c), Some(&mut buf))?;
        let s = std::str::from_utf8(&buf).map(str::to_string);
        self.scratch = buf;
        s.map_err(|_| self.err(line, "invalid UTF-8 in a symbol or keyword"))
    }

    /// Reads a string's body after its opening quote.
    fn read_string(&mut self, start: u32) -> Result<String, FormatError> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let result = self.read_string_into(start, &mut buf);
        let s = result
            .and_then(|()| String::from_utf8(buf.clone()).map_err(|_| self.err(start, "invalid UTF-8 in a string")));
        self.scratch = buf;
        s
    }

    fn read_string_into(&mut self, start: u32, buf: &mut Vec<u8>) -> Result<(), FormatError> {
        loop {
            self.take_while(|c| c != b'"' && c != b'\\', Some(buf))?;
            match self.next()? {
                Some(b'"') => return Ok(()),
                Some(b'\\') => {
                    let line = self.line;
                    let esc = self.next()?;
                    let c = match esc {
                        Some(b'n') => '\n',
                        Some(b't') => '\t',
                        Some(b'r') => '\r',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'0') => '\0',
                        Some(c @ (b'"' | b'\\' | b'/' | b'\'')) => c as char,
                        Some(b'u') => {
                            let mut code = 0u32;
                            for _ in 0..4 {
                                let d = self.next()?;
                                let Some(d) = d.and_then(|d| (d as char).to_digit(16)) else {
                                    return Err(self.err(line, "expected 4 hex digits after \\u in a string"));
                                };
                                code = code * 16 + d;
                            }
                            char::from_u32(code).unwrap_or('\u{fffd}')
                        }
                        None => break,
                        Some(other) => {
                            return Err(self.err(
                                line,
                                format!(
                                    "unknown escape \\{} in a string; expected one of \\n \\t \\r \\\" \\\\ \\uXXXX",
                                    other as char
                                ),
                            ));
                        }
                    };
                    let mut tmp = [0u8; 4];
                    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                _ => break,
            }
        }
        Err(self.err(
            start,
            format!(
                "unterminated string: reached end of input at line {}, expected `\"`",
                self.line
            ),
        ))
    }

    /// Reads a character literal after its backslash.
    fn read_char(&mut self, line: u32) -> Result<Value, FormatError> {
        let Some(first) = self.next()? else {
            return Err(self.err(line, "expected a character after `\\`, reached end of input"));
        };
        let mut text = vec![first];
        if !is_delim(first) {
            self.take_while(|c| !is_delim(c), Some(&mut text))?;
        }
        let Ok(text) = String::from_utf8(text) else {
            return Err(self.err(line, "invalid UTF-8 in a character literal"));
        };
        let c = match text.as_str() {
            "newline" => "\n".to_string(),
            "space" => " ".to_string(),
            "tab" => "\t".to_string(),
            "return" => "\r".to_string(),
            "backspace" => "\u{8}".to_string(),
            "formfeed" => "\u{c}".to_string(),
            t if t.len() == 5 && t.starts_with('u') => {
                match u32::from_str_radix(&t[1..], 16).ok().and_then(char::from_u32) {
                    Some(c) => c.to_string(),
                    None => t.to_string(),
                }
            }
            t => t.to_string(),
        };
        Ok(Value::str(&c))
    }
}

/// nil, true, false, an integer, a keyword (without its colon), or a symbol.
/// Numbers that do not fit an i64 (floats, ratios, big integers) are kept as text.
fn token_value(tok: &str) -> Value {
    match tok {
        "nil" => return Value::Nil,
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Some(k) = tok.strip_prefix(':') {
        return Value::str(k);
    }
    let b = tok.as_bytes();
    let numeric = b[0].is_ascii_digit() || (matches!(b[0], b'-' | b'+') && b.len() > 1 && b[1].is_ascii_digit());
    if numeric && let Ok(i) = tok.strip_suffix('N').unwrap_or(tok).parse::<i64>() {
        return Value::Int(i);
    }
    Value::str(tok)
}

/// Whether a :process that is not an integer names a process of its own (Jepsen's
/// `:nemesis`, or a named worker): a word, never a number that did not fit an
/// integer (`99999999999999999999999N`, `1.5`), which is a client whose op must not
/// be set aside as the nemesis's.
fn is_process_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first = chars.next();
    let second = chars.next();
    match first {
        Some(c) if c.is_ascii_digit() || c == '.' => false,
        Some('+' | '-') => !second.is_some_and(|c| c.is_ascii_digit() || c == '.'),
        Some(c) => !c.is_whitespace(),
        None => false,
    }
}

/// A value as EDN text for an error message: bare words as keywords.
fn show(v: &Value) -> String {
    match v {
        Value::Str(s) if !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || "-_./?!*".contains(c)) => {
            format!(":{s}")
        }
        v => shorten(v.to_string()),
    }
}

/// Builds an op from a Jepsen op map; `index` is used unless the map has `:index`.
pub(crate) fn op_from_map(pairs: &[(Value, Value)], line: u32, index: u64) -> Result<Op, FormatError> {
    let err = |m: String| FormatError::new(line, m);
    let (mut process, mut kind, mut f) = (None, None, None);
    let mut op = Op::new(Process::Nemesis, Type::Invoke, F::Read, Value::Nil);
    op.line = line;
    op.index = index;
    for (k, v) in pairs {
        let Some(k) = k.as_str() else { continue };
        match k {
            "process" => {
                process = Some(match v {
                    Value::Int(p) if *p >= 0 => Process::Client(*p as u64),
                    Value::Str(name) if is_process_name(name) => Process::Nemesis,
                    v => {
                        return Err(err(format!(
                            "expected :process to be a non-negative integer below 2^63, or a name such as :nemesis, found {}",
                            show(v)
                        )));
                    }
                })
            }
            "type" => {
                kind = Some(match v.as_str().and_then(Type::parse) {
                    Some(t) => t,
                    None => {
                        return Err(err(format!(
                            "expected :type to be :invoke, :ok, :fail or :info, found {}",
                            show(v)
                        )));
                    }
                })
            }
            "f" => {
                f = Some(match v.as_str() {
                    Some(s) => F::parse(s),
                    None => {
                        return Err(err(format!(
                            "expected :f to be a keyword such as :read, found {}",
                            show(v)
                        )));
                    }
                })
            }
            "value" => op.value = v.clone(),
            "key" => op.key = Some(v.clone()),
            "error" => op.error = Some(Box::new(v.clone())),
            "time" => match v {
                Value::Int(t) if *t >= 0 => op.time = Some(*t as u64),
                Value::Nil => op.time = None,
                v => {
                    return Err(err(format!(
                        "expected :time to be a non-negative integer (nanoseconds), found {}",
                        show(v)
                    )));
                }
            },
            "index" => match v {
                Value::Int(i) if *i >= 0 => op.index = *i as u64,
                Value::Nil => {}
                v => {
                    return Err(err(format!(
                        "expected :index to be a non-negative integer, found {}",
                        show(v)
                    )));
                }
            },
            _ => {}
        }
    }
    let missing = |field: &str| {
        err(format!(
            "op map has no :{field}; expected a map with :process, :type and :f"
        ))
    };
    op.process = process.ok_or_else(|| missing("process"))?;
    op.kind = kind.ok_or_else(|| missing("type"))?;
    op.f = f.ok_or_else(|| missing("f"))?;
    // Knossos takes a read that completed with nil as "value unknown", matching any
    // state; for a read that constrains nothing, exactly as an unknown outcome does.
    if op.kind == Type::Ok && op.f == F::Read && op.value.is_nil() {
        op.kind = Type::Info;
    }
    Ok(op)
}

/// Reads a Jepsen history: a list or vector of op maps, or a bare sequence of them.
pub(crate) fn read<R: BufRead>(r: R) -> Result<Vec<Op>, FormatError> {
    let mut rd = Reader::new(r, 1);
    let start = rd.line();
    let close = match rd.peek_after_ws()? {
        Some(b'[') => Some((b']', "vector")),
        Some(b'(') => Some((b')', "list")),
        _ => None,
    };
    let start = if close.is_some() {
        let line = rd.line();
        rd.bump()?;
        line
    } else {
        start
    };
    let mut ops = Vec::new();
    loop {
        match rd.read_item()? {
            Item::Form(Value::Map(m), line) => {
                let index = ops.len() as u64;
                ops.push(op_from_map(&m, line, index)?);
            }
            Item::Form(v, line) => {
                return Err(FormatError::new(
                    line,
                    format!(
                        "expected an op map like {{:process 0, :type :invoke, :f :read}}, found {}",
                        show(&v)
                    ),
                ));
            }
            Item::Close(c, line) => match close {
                Some((cl, _)) if c == cl => match rd.read_item()? {
                    Item::Eof => return Ok(ops),
                    Item::Form(_, l) | Item::Close(_, l) => {
                        return Err(FormatError::new(
                            l,
                            format!("unexpected text after the end of the history (closed at line {line})"),
                        ));
                    }
                },
                Some((cl, what)) => {
                    return Err(FormatError::new(
                        line,
                        format!(
                            "expected `{}` to close the {what} of ops starting at line {start}, found `{}`",
                            cl as char, c as char
                        ),
                    ));
                }
                None => {
                    return Err(FormatError::new(
                        line,
                        format!("unexpected `{}`, expected an op map", c as char),
                    ));
                }
            },
            Item::Eof => {
                if let Some((cl, what)) = close {
                    return Err(FormatError::new(
                        start,
                        format!(
                            "unterminated {what} of ops: reached end of input at line {}, expected `{}`",
                            rd.line(),
                            cl as char
                        ),
                    ));
                }
                return Ok(ops);
            }
        }
    }
}

/// Parses exactly one EDN form from `text`, which sits on source line `line`.
pub(crate) fn parse_one(text: &str, line: u32) -> Result<Value, FormatError> {
    let mut rd = Reader::new(text.as_bytes(), line);
    let v = rd.read_form("a value")?;
    match rd.read_item()? {
        Item::Eof => Ok(v),
        Item::Form(_, l) | Item::Close(_, l) => Err(FormatError::new(
            l,
            format!("unexpected text after the value in `{}`", shorten(text.to_string())),
        )),
    }
}

/// The first map in `text` (after whitespace and comments), if it is complete.
pub(crate) fn first_map(text: &[u8]) -> Option<Arc<[(Value, Value)]>> {
    match Reader::new(text, 1).read_item() {
        Ok(Item::Form(Value::Map(m), _)) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Format, read_history};

    fn parse(s: &str) -> Value {
        parse_one(s, 1).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn read(s: &str) -> Result<Vec<Op>, FormatError> {
        read_history(s.as_bytes(), Format::Edn).map(|h| h.ops)
    }

    fn ints(v: &[i64]) -> Value {
        Value::list(v.iter().map(|&i| Value::Int(i)).collect())
    }

    #[test]
    fn a_process_that_does_not_fit_is_an_error_not_the_nemesis() {
        for p in [
            "99999999999999999999999N",
            "18446744073709551615",
            "1.5",
            "-1",
            ".5",
            "\"\"",
        ] {
            let text =
                format!("[{{:process 0, :type :invoke, :f :read}}\n {{:process {p}, :type :ok, :f :read, :value 3}}]");
            let e = read(&text).unwrap_err();
            assert_eq!(e.line, 2, "{p}: {e}");
            assert!(e.message.contains("expected :process"), "{p}: {e}");
        }
        // the names the format gives processes of their own are set aside
        for p in [":nemesis", "nemesis", ":clock", "-named"] {
            let text = format!("[{{:process {p}, :type :info, :f :start}}]");
            let ops = read(&text).unwrap_or_else(|e| panic!("{p}: {e}"));
            assert_eq!(ops[0].process, Process::Nemesis, "{p}");
        }
    }

    #[test]
    fn scalars() {
        assert_eq!(parse("nil"), Value::Nil);
        assert_eq!(parse("true"), Value::Bool(true));
        assert_eq!(parse("false"), Value::Bool(false));
        assert_eq!(parse("-12"), Value::Int(-12));
        assert_eq!(parse("+7"), Value::Int(7));
        assert_eq!(parse("42N"), Value::Int(42));
        assert_eq!(parse("1.5"), Value::str("1.5"));
        assert_eq!(parse("99999999999999999999"), Value::str("99999999999999999999"));
        assert_eq!(parse(":timed-out"), Value::str("timed-out"));
        assert_eq!(parse(":foo/bar"), Value::str("foo/bar"));
        assert_eq!(parse("some-symbol"), Value::str("some-symbol"));
        assert_eq!(parse("-"), Value::str("-"));
        assert_eq!(parse(r#""a \"q\"\n\u0041""#), Value::str("a \"q\"\nA"));
        assert_eq!(parse(r"\a"), Value::str("a"));
        assert_eq!(parse(r"\newline"), Value::str("\n"));
        assert_eq!(parse(r"\u00e9"), Value::str("é"));
        assert_eq!(parse("\"héllo\""), Value::str("héllo"));
    }

    #[test]
    fn collections_tags_comments_and_discards() {
        assert_eq!(parse("[1, 2 ,3]"), ints(&[1, 2, 3]));
        assert_eq!(parse("(1 2)"), ints(&[1, 2]));
        assert_eq!(parse("#{1 2}"), ints(&[1, 2]));
        assert_eq!(parse("[1 #_ 2 3 #_[4 5]]"), ints(&[1, 3]));
        assert_eq!(parse("[1 ; two\n 3]"), ints(&[1, 3]));
        assert_eq!(parse("#inst \"2020-01-01\""), Value::str("2020-01-01"));
        assert_eq!(parse("#my/tag [1]"), ints(&[1]));
        assert_eq!(parse("[\\( \\a]"), Value::list(vec![Value::str("("), Value::str("a")]));
        assert_eq!(
            parse("{:a 1 :b [nil]}"),
            Value::Map(Arc::from(vec![
                (Value::str("a"), Value::Int(1)),
                (Value::str("b"), Value::list(vec![Value::Nil])),
            ]))
        );
        assert_eq!(
            parse("[[:read :x nil]]"),
            Value::list(vec![Value::list(vec![Value::str("read"), Value::str("x"), Value::Nil])])
        );
    }

    #[test]
    fn reads_a_knossos_history() {
        let src = "; A comment\n[{:process 0, :type :invoke, :f :cas, :value [1 2]}\n {:process 22  :type :ok, :f :cas, :value [1 2]}\n ; mid comment\n {:type :info,\n  :f :start,\n  :process :nemesis,\n  :value \"Cut off {:n2 #{:n3}}\", :time 5}\n #_{:process 9 :type :invoke :f :read}\n {:process 3, :type :fail, :f :write, :value 4, :error [:timeout nil], :extra 1}]\n";
        let ops = read(src).unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!(ops[0].process, Process::Client(0));
        assert_eq!(ops[0].kind, Type::Invoke);
        assert_eq!(ops[0].f, F::Cas);
        assert_eq!(ops[0].value, ints(&[1, 2]));
        assert_eq!(ops[0].line, 2);
        assert_eq!(ops[0].key, None);
        assert_eq!(ops[1].process, Process::Client(22));
        assert_eq!(ops[1].kind, Type::Ok);
        assert_eq!(ops[1].line, 3);
        assert_eq!(ops[2].process, Process::Nemesis);
        assert_eq!(ops[2].kind, Type::Info);
        assert_eq!(ops[2].f, F::Other(Arc::from("start")));
        assert_eq!(ops[2].value, Value::str("Cut off {:n2 #{:n3}}"));
        assert_eq!(ops[2].time, Some(5));
        assert_eq!(ops[2].line, 5);
        assert_eq!(ops[3].line, 10);
        assert_eq!(
            ops[3].error.as_deref(),
            Some(&Value::list(vec![Value::str("timeout"), Value::Nil]))
        );
        assert_eq!(ops.iter().map(|o| o.index).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn reads_lists_and_bare_sequences() {
        let ops = read("({:process 1 :type :invoke :f :read :value nil})").unwrap();
        assert_eq!(ops.len(), 1);
        let ops = read("{:process 1 :type :invoke :f :read :value nil :index 7}\n\n{:process \"worker\" :type :ok :f :read :value 3 :key :x}\n").unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].index, 7);
        assert_eq!(ops[1].index, 1);
        assert_eq!(ops[1].line, 3);
        assert_eq!(ops[1].process, Process::Nemesis);
        assert_eq!(ops[1].key, Some(Value::str("x")));
        assert!(read("").unwrap().is_empty());
        assert!(read("[]").unwrap().is_empty());
    }

    fn err(s: &str) -> FormatError {
        match read(s) {
            Ok(ops) => panic!("{s}: parsed {} ops", ops.len()),
            Err(e) => e,
        }
    }

    #[test]
    fn errors_name_the_line() {
        let e = err("[{:process 0 :type :invoke :f :read}\n {:process 0 :type :okk :f :read}]");
        assert_eq!(
            e.to_string(),
            "line 2: expected :type to be :invoke, :ok, :fail or :info, found :okk"
        );
        let e = err("[{:process 0 :type :invoke :f :read}\n {:type :ok :f :read}]");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("no :process"), "{e}");
        let e = err("[{:process 0 :type :invoke\n :f :read :value \"abc}]\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unterminated string"), "{e}");
        let e = err("\n[{:process 0 :type :invoke\n :f :read :value nil\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unterminated map"), "{e}");
        let e = err("[{:process 0 :type :invoke :f :read]");
        assert!(e.message.contains("expected `}`"), "{e}");
        let e = err("[{:process 0 :type :invoke :f :read}");
        assert!(e.message.contains("unterminated vector"), "{e}");
        let e = err("[{:process 0 :type}]");
        assert!(e.message.contains("odd number"), "{e}");
        let e = err("[1 2]");
        assert!(e.message.contains("expected an op map"), "{e}");
        let e = err("[{:process -1 :type :invoke :f :read}]");
        assert!(e.message.contains(":process"), "{e}");
        let e = err("[{:process 0 :type :invoke :f :read :time 1.5}]");
        assert!(e.message.contains(":time"), "{e}");
        let e = err("[{:process 0 :type :invoke :f :read}] extra");
        assert!(e.message.contains("after the end"), "{e}");
        let e = err("{:process 0 :type :invoke :f :read :value \"\\q\"}");
        assert!(e.message.contains("unknown escape"), "{e}");
        let deep = "[".repeat(100_000);
        let e = err(&format!("[{{:value {deep}}}]"));
        assert!(e.message.contains("nested"), "{e}");
    }

    #[test]
    fn reads_across_small_buffers() {
        let src = "[{:process 0, :type :invoke, :f :write, :value \"a long string value\"}\n {:process 0, :type :ok, :f :write, :value \"a long string value\"}]";
        let r = std::io::BufReader::with_capacity(3, src.as_bytes());
        let ops = read_history(r, Format::Edn).unwrap().ops;
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[1].line, 2);
        assert_eq!(ops[1].value, Value::str("a long string value"));
    }
}
