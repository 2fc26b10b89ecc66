//! One operation event, as recorded: the unit of every history.

use std::fmt;
use std::sync::Arc;

use crate::value::Value;

/// Which phase of an operation an event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    Invoke,
    /// It happened, between invoke and completion.
    Ok,
    /// It certainly did not happen.
    Fail,
    /// Unknown: it may take effect at any time after its invoke, or never.
    Info,
}

impl Type {
    pub fn parse(s: &str) -> Option<Type> {
        Some(match s {
            "invoke" => Type::Invoke,
            "ok" => Type::Ok,
            "fail" => Type::Fail,
            "info" => Type::Info,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Type::Invoke => "invoke",
            Type::Ok => "ok",
            Type::Fail => "fail",
            Type::Info => "info",
        }
    }
}

/// Who performed an op: a logical client process, or the nemesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    Client(u64),
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => write!(f, "nemesis"),
        }
    }
}

/// The operation's function. Known names get a variant so that models match cheaply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum F {
    Read,
    Write,
    Cas,
    Get,
    Put,
    Append,
    Txn,
    Acquire,
    Release,
    Add,
    Other(Arc<str>),
}

impl F {
    pub fn parse(s: &str) -> F {
        match s {
            "read" => F::Read,
            "write" => F::Write,
            "cas" => F::Cas,
            "get" => F::Get,
            "put" => F::Put,
            "append" => F::Append,
            "txn" => F::Txn,
            "acquire" => F::Acquire,
            "release" => F::Release,
            "add" => F::Add,
            other => F::Other(Arc::from(other)),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            F::Read => "read",
            F::Write => "write",
            F::Cas => "cas",
            F::Get => "get",
            F::Put => "put",
            F::Append => "append",
            F::Txn => "txn",
            F::Acquire => "acquire",
            F::Release => "release",
            F::Add => "add",
            F::Other(s) => s,
        }
    }
}

impl fmt::Display for F {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event of a history.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// Position in the history, from 0; real-time order is history order.
    pub index: u64,
    pub process: Process,
    pub kind: Type,
    pub f: F,
    /// The register or key the op acts on; `None` for single-register histories.
    pub key: Option<Value>,
    pub value: Value,
    /// Nanoseconds since the test started (monotonic), when the source has it.
    pub time: Option<u64>,
    pub error: Option<Box<Value>>,
    /// Line in the source file, for error messages (0 when not from a file).
    pub line: u32,
}

impl Op {
    pub fn new(process: Process, kind: Type, f: F, value: Value) -> Op {
        Op {
            index: 0,
            process,
            kind,
            f,
            key: None,
            value,
            time: None,
            error: None,
            line: 0,
        }
    }

    pub fn with_key(mut self, key: Value) -> Op {
        self.key = Some(key);
        self
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.process, self.kind.as_str(), self.f)?;
        if let Some(k) = &self.key {
            write!(f, " {k}")?;
        }
        write!(f, " {}", self.value)
    }
}
