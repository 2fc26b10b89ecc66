//! Sequential specifications. A model is plain data plus a step function; the
//! engine never looks inside states or ops, so adding a model touches nothing else.

mod cas_register;
mod kv;
mod multi_register;
mod mutex;
mod set;
mod spec;

pub use cas_register::CasRegister;
pub use kv::Kv;
pub use multi_register::MultiRegister;
pub use mutex::Mutex;
pub use set::Set;
pub use spec::{Model, OpError, Reveal};

use crate::value::Value;

/// The models `splitbrain check --model` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ModelKind {
    Register,
    CasRegister,
    Kv,
    MultiRegister,
    Mutex,
    Set,
}

impl ModelKind {
    pub const ALL: [ModelKind; 6] = [
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::Kv,
        ModelKind::MultiRegister,
        ModelKind::Mutex,
        ModelKind::Set,
    ];

    pub fn parse(s: &str) -> Option<ModelKind> {
        ModelKind::ALL.into_iter().find(|m| m.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::MultiRegister => "multi-register",
            ModelKind::Mutex => "mutex",
            ModelKind::Set => "set",
        }
    }

    /// The initial state used when none is given.
    pub fn default_initial(self) -> Value {
        match self {
            ModelKind::Kv => Value::str(""),
            ModelKind::MultiRegister => Value::Map(Vec::new().into()),
            ModelKind::Set => Value::list(Vec::new()),
            _ => Value::Nil,
        }
    }
}
