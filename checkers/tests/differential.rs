//! The engine against two oracles on thousands of random small histories:
//! a brute-force enumeration of orders over the same model, and stateright's
//! `LinearizabilityTester` over an independently written cas-register spec.

mod oracle;

use checkers::check::{Options, Verdict, check};
use checkers::dfs;
use checkers::history::{Call, History};
use checkers::model::{CasRegister, Model, ModelKind};
use checkers::{F, Op, Process, Type, Value};
use oracle::Rng;
use proptest::prelude::*;
use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};

/// A random cas-register history: mostly what a real register would answer,
/// sometimes a wrong read or cas result, with fail, info and pending ops.
fn random_history(seed: u64) -> History {
    let mut rng = Rng(seed | 1);
    let procs = 2 + rng.below(4) as usize;
    let target = 1 + rng.below(10) as usize;
    let mut next_pid = procs as u64;
    let mut pids: Vec<u64> = (0..procs as u64).collect();
    let mut busy: Vec<Option<(F, Value)>> = vec![None; procs];
    let mut truth = 0i64;
    let mut ops = Vec::new();
    let mut invoked = 0;
    loop {
        let idle: Vec<usize> = (0..procs).filter(|&p| busy[p].is_none()).collect();
        let running: Vec<usize> = (0..procs).filter(|&p| busy[p].is_some()).collect();
        if invoked == target && (running.is_empty() || rng.chance(3)) {
            break; // anything still running stays pending
        }
        let invoke = invoked < target && !idle.is_empty() && (running.is_empty() || rng.chance(50));
        if invoke {
            let p = idle[rng.below(idle.len() as u64) as usize];
            let (f, v) = match rng.below(3) {
                0 => (F::Read, Value::Nil),
                1 => (F::Write, Value::Int(rng.below(3) as i64)),
                _ => (
                    F::Cas,
                    Value::list(vec![Value::Int(rng.below(3) as i64), Value::Int(rng.below(3) as i64)]),
                ),
            };
            ops.push(Op::new(Process::Client(pids[p]), Type::Invoke, f.clone(), v.clone()));
            busy[p] = Some((f, v));
            invoked += 1;
        } else {
            let p = running[rng.below(running.len() as u64) as usize];
            let (f, v) = busy[p].take().unwrap();
            let roll = rng.below(100);
            let kind = if roll < 70 {
                Type::Ok
            } else if roll < 85 {
                Type::Fail
            } else {
                Type::Info
            };
            let happens = kind == Type::Ok || (kind == Type::Info && rng.chance(50));
            let value = match (&f, happens) {
                (F::Read, _) if kind == Type::Ok => {
                    Value::Int(if rng.chance(75) { truth } else { rng.below(3) as i64 })
                }
                (F::Write, true) => {
                    truth = v.as_int().unwrap();
                    v.clone()
                }
                (F::Cas, true) => {
                    let l = v.as_list().unwrap();
                    let (from, to) = (l[0].as_int().unwrap(), l[1].as_int().unwrap());
                    let mut ok = truth == from;
                    if rng.chance(15) {
                        ok = !ok;
                    }
                    if truth == from {
                        truth = to;
                    }
                    if ok { v.clone() } else { Value::Bool(false) }
                }
                _ => v.clone(),
            };
            let value = if kind == Type::Ok { value } else { v };
            ops.push(Op::new(Process::Client(pids[p]), kind, f, value));
            if kind == Type::Info {
                pids[p] = next_pid;
                next_pid += 1;
            }
        }
    }
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as u64;
    }
    History::new(ops)
}

/// The register model with initial 0, the calls that may have happened, and their model ops.
fn prepared(history: &History) -> (CasRegister, Vec<Call>, Vec<<CasRegister as Model>::Op>) {
    let model = CasRegister::new(Value::Int(0));
    let calls: Vec<Call> = history
        .pair()
        .unwrap()
        .into_iter()
        .filter(|c| c.outcome != Type::Fail)
        .collect();
    let ops = calls.iter().map(|c| model.op(&history.call(c)).unwrap()).collect();
    (model, calls, ops)
}

/// The brute-force oracle on the register model with initial 0.
fn brute_force(history: &History) -> bool {
    oracle::brute_force(&CasRegister::new(Value::Int(0)), history)
}

/// A cas-register written from scratch for stateright.
#[derive(Clone, Debug, Default)]
struct Spec(i64);

#[derive(Clone, Debug)]
enum SpecOp {
    Read,
    Write(i64),
    Cas(i64, i64),
}

#[derive(Clone, Debug, PartialEq)]
enum SpecRet {
    Read(i64),
    Written,
    Cas(bool),
}

impl SequentialSpec for Spec {
    type Op = SpecOp;
    type Ret = SpecRet;
    fn invoke(&mut self, op: &SpecOp) -> SpecRet {
        match *op {
            SpecOp::Read => SpecRet::Read(self.0),
            SpecOp::Write(v) => {
                self.0 = v;
                SpecRet::Written
            }
            SpecOp::Cas(from, to) => {
                let ok = self.0 == from;
                if ok {
                    self.0 = to;
                }
                SpecRet::Cas(ok)
            }
        }
    }
}

fn stateright(history: &History) -> bool {
    let mut t = LinearizabilityTester::new(Spec(0));
    let calls = history.pair().unwrap();
    // stateright wants events in order: rebuild them from the paired calls
    let mut events: Vec<(u32, usize, bool)> = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        if c.outcome == Type::Fail {
            continue;
        }
        events.push((c.invoke, i, true));
        if let (Type::Ok, Some(r)) = (c.outcome, c.complete) {
            events.push((r, i, false));
        }
    }
    events.sort();
    for (_, i, is_invoke) in events {
        let call = history.call(&calls[i]);
        let Process::Client(pid) = call.invoke.process else {
            unreachable!()
        };
        let int = |v: &Value| v.as_int().unwrap();
        if is_invoke {
            let op = match call.invoke.f {
                F::Read => SpecOp::Read,
                F::Write => SpecOp::Write(int(&call.invoke.value)),
                _ => {
                    let l = call.invoke.value.as_list().unwrap();
                    SpecOp::Cas(int(&l[0]), int(&l[1]))
                }
            };
            // info ops never return: give each its own thread so the process id can be reused
            t.on_invoke((pid, i), op).unwrap();
        } else {
            let done = &call.complete.unwrap().value;
            let ret = match call.invoke.f {
                F::Read => SpecRet::Read(int(done)),
                F::Write => SpecRet::Written,
                _ => SpecRet::Cas(*done != Value::Bool(false)),
            };
            t.on_return((pid, i), ret).unwrap();
        }
    }
    t.is_consistent()
}

fn engine(history: &History, depth_first: bool) -> bool {
    let mut opts = Options::new(ModelKind::CasRegister);
    opts.initial = Some(Value::Int(0));
    opts.depth_first = depth_first;
    match check(history, &opts).unwrap().verdict {
        Verdict::Valid => true,
        Verdict::Invalid => false,
        Verdict::Unknown => panic!("unknown verdict on a tiny history"),
    }
}

/// The depth-first search alone (the engine only races it on crowded keys).
fn depth_first(history: &History) -> bool {
    let (model, calls, ops) = prepared(history);
    let searched: Vec<dfs::Call> = calls
        .iter()
        .map(|c| dfs::Call {
            invoke: c.invoke,
            ret: if c.outcome == Type::Ok {
                c.complete.unwrap()
            } else {
                u32::MAX
            },
        })
        .collect();
    let mut states = vec![Value::Int(0)];
    dfs::linearizable(&searched, 0, usize::MAX, None, |s, k| {
        let next = model.step(&states[s as usize], &ops[k])?;
        let id = states.iter().position(|x| *x == next).unwrap_or_else(|| {
            states.push(next);
            states.len() - 1
        });
        Some(id as u32)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]
    #[test]
    fn engine_agrees_with_brute_force_and_stateright(seed in any::<u64>()) {
        let h = random_history(seed);
        let want = brute_force(&h);
        let dump = h.ops.iter().map(|o| o.to_string()).collect::<Vec<_>>().join("\n");
        prop_assert_eq!(stateright(&h), want, "stateright disagrees with brute force on\n{}", dump);
        prop_assert_eq!(engine(&h, false), want, "breadth-first engine disagrees with brute force on\n{}", dump);
        prop_assert_eq!(depth_first(&h), want, "depth-first search disagrees with brute force on\n{}", dump);
        prop_assert_eq!(engine(&h, true), want, "engine with its depth-first try disagrees with brute force on\n{}", dump);
    }
}

/// The generator must produce both verdicts often, or the agreement means little.
#[test]
fn generator_yields_both_verdicts_and_info_ops() {
    let (mut valid, mut invalid, mut with_info) = (0, 0, 0);
    for seed in 0..2000u64 {
        let h = random_history(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        if brute_force(&h) {
            valid += 1
        } else {
            invalid += 1
        }
        if h.pair().unwrap().iter().any(|c| c.outcome == Type::Info) {
            with_info += 1;
        }
    }
    assert!(valid > 400 && invalid > 400, "valid {valid}, invalid {invalid}");
    assert!(with_info > 400, "{with_info} histories with info ops");
}
