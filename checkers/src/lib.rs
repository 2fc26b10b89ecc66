//! Histories in, verdicts out.
//!
//! `checkers` reads histories of concurrent operations (our JSONL, Jepsen EDN,
//! Porcupine logs), pairs invocations with completions, and decides whether they
//! are linearizable with respect to a sequential model. It depends on nothing
//! else of splitbrain, so any tool can use it.
//!
//! ```
//! use checkers::{check, History, ModelKind, Op, Options, Process, Type, F, Value};
//! let w = |t| Op::new(Process::Client(0), t, F::Write, Value::Int(1));
//! let r = |t, v| Op::new(Process::Client(1), t, F::Read, v);
//! let mut ops = vec![w(Type::Invoke), w(Type::Ok), r(Type::Invoke, Value::Nil), r(Type::Ok, Value::Int(0))];
//! for (i, op) in ops.iter_mut().enumerate() { op.index = i as u64; }
//! let report = check(&History::new(ops), &Options::new(ModelKind::CasRegister)).unwrap();
//! assert_eq!(report.verdict, checkers::Verdict::Invalid); // read 0 after write 1 finished
//! ```

pub mod check;
pub mod dfs;
pub mod divergence;
pub mod election;
pub mod engine;
pub mod format;
pub mod gauge;
pub mod history;
pub mod lock;
pub mod model;
pub mod op;
pub mod pinned;
pub mod recovery;
pub mod rng;
pub mod search;
pub mod synth;
pub mod value;
pub mod watch;

pub use check::{Options, Report, Verdict, check, check_with, infer_model};
pub use election::{ElectionReport, check_election};
pub use history::{Call, CallRef, History, HistoryError, Record};
pub use lock::{LockReport, LockStats, LockViolation, check_lock};
pub use model::{Model, ModelKind};
pub use op::{F, Op, Process, Type};
pub use value::Value;
pub use watch::{WatchReport, check_watch};
