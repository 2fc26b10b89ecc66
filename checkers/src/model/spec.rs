//! What a model is ([`Model`]) and what the models share, apart from the list
//! of them in the parent module, so that each model depends on this and not on
//! that list.

use std::fmt::Debug;
use std::hash::Hash;

use crate::history::CallRef;
use crate::op::{F, Type};
use crate::value::Value;

/// A sequential specification the linearizability engine checks against.
pub trait Model: Send + Sync {
    type State: Clone + Eq + Hash + Send + Sync + Debug + 'static;
    /// A call as the model sees it: input and, unless unknown, output.
    type Op: Clone + Eq + Hash + Send + Sync + Debug + 'static;

    fn init(&self) -> Self::State;

    /// Reads a call; `Err` names what is wrong (an f or value the model does not know).
    /// Calls with an `Info` outcome must give an op whose output is unknown.
    fn op(&self, call: &CallRef<'_>) -> Result<Self::Op, OpError>;

    /// The state after `op`, or `None` if `op` cannot happen in `state`.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// True when `op`, with an unknown outcome, can never change the state: such
    /// info calls constrain nothing and are dropped before the search.
    fn is_read_only(&self, op: &Self::Op) -> bool;

    /// Whether calls on different keys are independent (P-compositionality), so
    /// that each key can be checked on its own.
    fn split_by_key(&self) -> bool {
        true
    }

    fn show_state(&self, state: &Self::State) -> String;

    /// What each op of a partition reveals of the writes linearized before it
    /// (`ops` in invocation order; one answer per op). Append-like models,
    /// whose reads spell out the writes since the last reset, say it here and
    /// the engine may then decide the partition without a search. Equal ops
    /// are named by the first of them. `None` where the values cannot tell
    /// the writes apart (one a prefix of another): the search decides.
    fn reveal(&self, _ops: &[&Self::Op]) -> Option<Vec<Reveal>> {
        None
    }
}

/// What one op reveals (see [`Model::reveal`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reveal {
    /// Nothing: a write, or a read whose outcome is unknown.
    Nothing,
    /// The writes linearized since the last reset, oldest first (indexes
    /// into the ops): after the initial state when `from_start`, else the
    /// first of them is the reset (a put).
    Writes { writes: Vec<u32>, from_start: bool },
    /// A value no sequence of the writes makes.
    Impossible,
    /// A value two sequences of the writes make: from the initial state, or
    /// from a reset (a value both put and appended, at its start).
    Ambiguous { from_start: Vec<u32>, from_reset: Vec<u32> },
}

/// Why a model cannot read a call: the check reports it at the call's line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("unknown f {:?} for model {model} (it knows {known})", .f.as_str())]
    UnknownF {
        f: F,
        model: &'static str,
        known: &'static str,
    },
    #[error("cas needs a value [old new], found {0}")]
    CasValue(Value),
    #[error("a txn value is a list of [f k v], found {0}")]
    TxnValue(Value),
    #[error("unknown micro-op {0} in txn (known: read, write)")]
    MicroOpF(Value),
    #[error("a txn micro-op is [f k v], found {0}")]
    MicroOp(Value),
    #[error("a set read returns a list, found {0}")]
    SetRead(Value),
}

/// Fails with a uniform message for an f the model does not know.
pub(crate) fn unknown_f(call: &CallRef<'_>, model: &'static str, known: &'static str) -> OpError {
    OpError::UnknownF {
        f: call.invoke.f.clone(),
        model,
        known,
    }
}

/// The completion value when the call completed ok, `None` when its outcome is unknown.
pub(crate) fn ok_value<'a>(call: &CallRef<'a>) -> Option<&'a Value> {
    match call.outcome {
        Type::Ok => call.complete.map(|c| &c.value),
        _ => None,
    }
}
