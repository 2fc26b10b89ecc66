//! Porcupine's key-value model: get, put and append on string values.

use super::{Model, ok_value, unknown_f};
use crate::history::CallRef;
use crate::op::F;
use crate::value::Value;

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

    fn op(&self, call: &CallRef<'_>) -> Result<KvOp, String> {
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

    fn show_state(&self, state: &Value) -> String {
        format!("{:?}", text(state))
    }
}
