//! Several registers read and written together in transactions (Knossos's multi-register).

use std::sync::Arc;

use super::spec::{Model, OpError, ok_value, unknown_f};
use crate::history::CallRef;
use crate::op::F;
use crate::value::Value;

/// Registers by name; a `txn` is a list of `[:read k v]` and `[:write k v]`
/// micro-ops applied atomically. Registers missing from the initial map hold nil.
#[derive(Clone, Debug)]
pub struct MultiRegister {
    pub initial: Vec<(Value, Value)>,
}

impl MultiRegister {
    pub fn new(initial: &Value) -> MultiRegister {
        let mut initial = match initial {
            Value::Map(m) => m.to_vec(),
            _ => Vec::new(),
        };
        initial.sort();
        MultiRegister { initial }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MicroOp {
    /// Key and value read, `None` when unknown.
    Read(Value, Option<Value>),
    Write(Value, Value),
}

/// Sorted by key.
pub type Registers = Arc<[(Value, Value)]>;

fn micro_ops(v: &Value, known: bool) -> Result<Vec<MicroOp>, OpError> {
    let Some(items) = v.as_list() else {
        return Err(OpError::TxnValue(v.clone()));
    };
    items
        .iter()
        .map(|m| match m.as_list() {
            Some([f, k, v]) => match f.as_str() {
                Some("read" | "r") => Ok(MicroOp::Read(k.clone(), known.then(|| v.clone()))),
                Some("write" | "w") => Ok(MicroOp::Write(k.clone(), v.clone())),
                _ => Err(OpError::MicroOpF(f.clone())),
            },
            _ => Err(OpError::MicroOp(m.clone())),
        })
        .collect()
}

impl Model for MultiRegister {
    type State = Registers;
    type Op = Arc<[MicroOp]>;

    fn init(&self) -> Registers {
        Arc::from(self.initial.clone())
    }

    fn op(&self, call: &CallRef<'_>) -> Result<Arc<[MicroOp]>, OpError> {
        if call.invoke.f != F::Txn {
            return Err(unknown_f(call, "multi-register", "txn"));
        }
        let ops = match ok_value(call) {
            Some(done) => micro_ops(done, true)?,
            None => micro_ops(&call.invoke.value, false)?,
        };
        Ok(Arc::from(ops))
    }

    fn step(&self, state: &Registers, op: &Arc<[MicroOp]>) -> Option<Registers> {
        let mut regs: Option<Vec<(Value, Value)>> = None;
        for m in op.iter() {
            let current = regs.as_deref().unwrap_or(state);
            match m {
                MicroOp::Read(_, None) => {}
                MicroOp::Read(k, Some(v)) => {
                    let held = current
                        .binary_search_by(|(key, _)| key.cmp(k))
                        .map_or(&Value::Nil, |i| &current[i].1);
                    if held != v {
                        return None;
                    }
                }
                MicroOp::Write(k, v) => {
                    let regs = regs.get_or_insert_with(|| state.to_vec());
                    match regs.binary_search_by(|(key, _)| key.cmp(k)) {
                        Ok(i) => regs[i].1 = v.clone(),
                        Err(i) => regs.insert(i, (k.clone(), v.clone())),
                    }
                }
            }
        }
        Some(regs.map_or_else(|| state.clone(), Arc::from))
    }

    fn is_read_only(&self, op: &Arc<[MicroOp]>) -> bool {
        op.iter().all(|m| matches!(m, MicroOp::Read(..)))
    }

    fn split_by_key(&self) -> bool {
        false
    }

    fn show_state(&self, state: &Registers) -> String {
        Value::Map(state.clone()).to_string()
    }
}
