//! A grow-only set: add an element, read the whole set.

use std::sync::Arc;

use super::spec::{Model, OpError, ok_value, unknown_f};
use crate::history::CallRef;
use crate::op::F;
use crate::value::Value;

/// A set of values; the state is kept sorted so that equal sets are equal states.
#[derive(Clone, Debug)]
pub struct Set {
    pub initial: Vec<Value>,
}

impl Set {
    pub fn new(initial: &Value) -> Set {
        let mut initial = initial.as_list().map(<[Value]>::to_vec).unwrap_or_default();
        initial.sort();
        initial.dedup();
        Set { initial }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SetOp {
    Add(Value),
    /// The elements read, sorted and deduplicated; `None` when unknown.
    Read(Option<Arc<[Value]>>),
}

impl Model for Set {
    type State = Arc<[Value]>;
    type Op = SetOp;

    fn init(&self) -> Arc<[Value]> {
        Arc::from(self.initial.clone())
    }

    fn op(&self, call: &CallRef<'_>) -> Result<SetOp, OpError> {
        match &call.invoke.f {
            F::Add => Ok(SetOp::Add(call.invoke.value.clone())),
            F::Read => match ok_value(call) {
                None => Ok(SetOp::Read(None)),
                Some(v) => {
                    let Some(items) = v.as_list() else {
                        return Err(OpError::SetRead(v.clone()));
                    };
                    let mut items = items.to_vec();
                    items.sort();
                    items.dedup();
                    Ok(SetOp::Read(Some(Arc::from(items))))
                }
            },
            _ => Err(unknown_f(call, "set", "add, read")),
        }
    }

    fn step(&self, state: &Arc<[Value]>, op: &SetOp) -> Option<Arc<[Value]>> {
        match op {
            SetOp::Read(None) => Some(state.clone()),
            SetOp::Read(Some(seen)) => (seen == state).then(|| state.clone()),
            SetOp::Add(v) => match state.binary_search(v) {
                Ok(_) => Some(state.clone()),
                Err(at) => {
                    let mut next = state.to_vec();
                    next.insert(at, v.clone());
                    Some(Arc::from(next))
                }
            },
        }
    }

    fn is_read_only(&self, op: &SetOp) -> bool {
        matches!(op, SetOp::Read(_))
    }

    fn show_state(&self, state: &Arc<[Value]>) -> String {
        Value::List(state.clone()).to_string()
    }
}
