//! A single register with read, write and (optionally) compare-and-set.

use super::spec::{Model, OpError, ok_value, unknown_f};
use crate::history::CallRef;
use crate::op::F;
use crate::value::Value;

/// `register` (read/write) and `cas-register` (read/write/cas), as in Knossos.
///
/// A cas whose completion value is `false` ran and found another value
/// (Porcupine's semantics); a `fail` cas never happened and never reaches the model.
#[derive(Clone, Debug)]
pub struct CasRegister {
    pub initial: Value,
    pub allow_cas: bool,
}

impl CasRegister {
    pub fn new(initial: Value) -> CasRegister {
        CasRegister {
            initial,
            allow_cas: true,
        }
    }

    /// A plain read/write register: cas is an unknown f.
    pub fn plain(initial: Value) -> CasRegister {
        CasRegister {
            initial,
            allow_cas: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    /// The value read, `None` when unknown.
    Read(Option<Value>),
    Write(Value),
    /// `ok`: whether the cas took effect, `None` when unknown.
    Cas {
        from: Value,
        to: Value,
        ok: Option<bool>,
    },
}

impl Model for CasRegister {
    type State = Value;
    type Op = RegisterOp;

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn op(&self, call: &CallRef<'_>) -> Result<RegisterOp, OpError> {
        let out = ok_value(call);
        match &call.invoke.f {
            F::Read => Ok(RegisterOp::Read(out.cloned())),
            F::Write => Ok(RegisterOp::Write(call.invoke.value.clone())),
            F::Cas if self.allow_cas => {
                let Some([from, to]) = call.invoke.value.as_list() else {
                    return Err(OpError::CasValue(call.invoke.value.clone()));
                };
                let ok = out.map(|v| *v != Value::Bool(false));
                Ok(RegisterOp::Cas {
                    from: from.clone(),
                    to: to.clone(),
                    ok,
                })
            }
            _ => Err(unknown_f(
                call,
                if self.allow_cas { "cas-register" } else { "register" },
                if self.allow_cas {
                    "read, write, cas"
                } else {
                    "read, write"
                },
            )),
        }
    }

    fn step(&self, state: &Value, op: &RegisterOp) -> Option<Value> {
        match op {
            RegisterOp::Read(None) => Some(state.clone()),
            RegisterOp::Read(Some(v)) => (v == state).then(|| state.clone()),
            RegisterOp::Write(v) => Some(v.clone()),
            RegisterOp::Cas {
                from,
                to,
                ok: Some(true) | None,
            } => (from == state).then(|| to.clone()),
            RegisterOp::Cas {
                from, ok: Some(false), ..
            } => (from != state).then(|| state.clone()),
        }
    }

    fn is_read_only(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read(_))
    }

    fn show_state(&self, state: &Value) -> String {
        state.to_string()
    }
}
