//! Porcupine's key-value model: get, put and append on string values.

use rustc_hash::FxHashMap;

use super::spec::{Model, OpError, Reveal, ok_value, unknown_f};
use crate::history::CallRef;
use crate::op::F;
use crate::value::Value;

/// Characters of a value shown whole; longer ones lose their middle.
const SHOWN: usize = 80;

/// One key of a string store (calls are split by key first): `get` returns the
/// value, `put` sets it, `append` concatenates.
#[derive(Clone, Debug)]
pub struct Kv {
    pub initial: Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOp {
    Get(Option<Value>),
    Put(Value),
    Append(Value),
}

fn text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Nil => String::new(),
        other => other.to_string(),
    }
}

impl Model for Kv {
    type State = Value;
    type Op = KvOp;

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn op(&self, call: &CallRef<'_>) -> Result<KvOp, OpError> {
        match &call.invoke.f {
            F::Get | F::Read => Ok(KvOp::Get(ok_value(call).map(|v| Value::str(&text(v))))),
            F::Put | F::Write => Ok(KvOp::Put(Value::str(&text(&call.invoke.value)))),
            F::Append => Ok(KvOp::Append(call.invoke.value.clone())),
            _ => Err(unknown_f(call, "kv", "get, put, append")),
        }
    }

    fn step(&self, state: &Value, op: &KvOp) -> Option<Value> {
        match op {
            KvOp::Get(None) => Some(state.clone()),
            KvOp::Get(Some(v)) => (text(v) == text(state)).then(|| state.clone()),
            KvOp::Put(v) => Some(v.clone()),
            KvOp::Append(v) => Some(Value::str(&(text(state) + &text(v)))),
        }
    }

    fn is_read_only(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Get(_))
    }

    /// Long values shortened in the middle: their ends are what tell states apart.
    fn show_state(&self, state: &Value) -> String {
        let t = text(state);
        let chars: Vec<char> = t.chars().collect();
        if chars.len() <= SHOWN {
            return format!("{t:?}");
        }
        let head: String = chars[..SHOWN / 4].iter().collect();
        let tail: String = chars[chars.len() - SHOWN / 2..].iter().collect();
        let left = chars.len() - head.chars().count() - tail.chars().count();
        format!("{head:?}…{left} chars…{tail:?}")
    }

    /// A read spells out the writes since the last put (or the start), when
    /// no written value is a prefix of another: then one walk of a trie of the
    /// values splits it, and only one way. A value written more than once is
    /// named by its first write; the engine tells which one a read saw, and
    /// which way a read two ways make was made (a value both put and
    /// appended, at its start).
    fn reveal(&self, ops: &[&KvOp]) -> Option<Vec<Reveal>> {
        let trie = Trie::new(ops)?;
        let init = text(&self.initial);
        let mut seen: FxHashMap<String, Reveal> = FxHashMap::default();
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            let KvOp::Get(Some(v)) = op else {
                out.push(Reveal::Nothing);
                continue;
            };
            let read = text(v);
            if let Some(r) = seen.get(&read) {
                out.push(r.clone());
                continue;
            }
            let from_start = read
                .strip_prefix(init.as_str())
                .and_then(|rest| trie.appends(rest.as_bytes(), Vec::new()));
            let from_put = trie
                .token(read.as_bytes())
                .and_then(|(end, put, _)| Some((end, put?)))
                .and_then(|(end, put)| trie.appends(&read.as_bytes()[end..], vec![put]));
            let r = match (from_start, from_put) {
                (Some(w), None) => Reveal::Writes {
                    writes: w,
                    from_start: true,
                },
                (None, Some(w)) => Reveal::Writes {
                    writes: w,
                    from_start: false,
                },
                (None, None) => Reveal::Impossible,
                (Some(from_start), Some(from_reset)) => Reveal::Ambiguous { from_start, from_reset },
            };
            seen.insert(read, r.clone());
            out.push(r);
        }
        Some(out)
    }
}
/// The written values of a partition, for splitting reads: a byte trie whose
/// ends name the first put and the first append of the value ending there.
struct Trie {
    nodes: Vec<Node>,
}

#[derive(Default)]
struct Node {
    children: Vec<(u8, u32)>,
    put: Option<u32>,
    append: Option<u32>,
}

impl Trie {
    /// `None` when a value is empty or a prefix of another.
    fn new(ops: &[&KvOp]) -> Option<Trie> {
        let mut trie = Trie {
            nodes: vec![Node::default()],
        };
        for (i, op) in ops.iter().enumerate() {
            let (value, put) = match op {
                KvOp::Put(v) => (text(v), true),
                KvOp::Append(v) => (text(v), false),
                KvOp::Get(_) => continue,
            };
            if value.is_empty() {
                return None;
            }
            let mut at = 0;
            for &b in value.as_bytes() {
                let n = &trie.nodes[at];
                if n.put.is_some() || n.append.is_some() {
                    return None; // a shorter value ends here: a prefix of this one
                }
                at = match n.children.iter().find(|(c, _)| *c == b) {
                    Some(&(_, next)) => next as usize,
                    None => {
                        trie.nodes.push(Node::default());
                        let next = trie.nodes.len() - 1;
                        trie.nodes[at].children.push((b, next as u32));
                        next
                    }
                };
            }
            let n = &mut trie.nodes[at];
            if !n.children.is_empty() {
                return None; // a prefix of a longer one
            }
            let first = if put { &mut n.put } else { &mut n.append };
            first.get_or_insert(i as u32);
        }
        Some(trie)
    }

    /// The value `s` begins with: where it ends, its first put and append.
    fn token(&self, s: &[u8]) -> Option<(usize, Option<u32>, Option<u32>)> {
        let mut at = 0;
        for (i, &b) in s.iter().enumerate() {
            at = self.nodes[at].children.iter().find(|(c, _)| *c == b)?.1 as usize;
            let n = &self.nodes[at];
            if n.put.is_some() || n.append.is_some() {
                return Some((i + 1, n.put, n.append));
            }
        }
        None
    }

    /// `s` split into appends, after `writes`; `None` if it is not one.
    fn appends(&self, mut s: &[u8], mut writes: Vec<u32>) -> Option<Vec<u32>> {
        while !s.is_empty() {
            let (end, _, append) = self.token(s)?;
            writes.push(append?);
            s = &s[end..];
        }
        Some(writes)
    }
}
