//! The kv checker on append histories against a brute-force oracle: thousands
//! of random small histories of puts, appends and gets (mostly what a real
//! store would answer; sometimes a read missing a write, with two writes
//! swapped, or stale), with fail, info and pending ops. Distinct values let the
//! engine decide from what the reads reveal (`checkers::pinned`); a value
//! written twice sends it to the search. Both must agree with the oracle.

mod oracle;

use checkers::check::{Options, Verdict, check};
use checkers::history::History;
use checkers::model::{Kv, ModelKind};
use checkers::{F, Op, Process, Type, Value};
use oracle::Rng;
use proptest::prelude::*;

/// A read's value bent the ways a broken store bends it.
fn corrupt(rng: &mut Rng, truth: &[String]) -> String {
    let mut parts = truth.to_vec();
    match rng.below(3) {
        // a write missing
        0 if !parts.is_empty() => {
            let at = rng.below(parts.len() as u64) as usize;
            parts.remove(at);
        }
        // two writes in the other order
        1 if parts.len() >= 2 => {
            let at = rng.below(parts.len() as u64 - 1) as usize;
            parts.swap(at, at + 1);
        }
        // stale: an older state
        _ => parts.truncate(parts.len().saturating_sub(1)),
    }
    parts.concat()
}

/// A random single-key append history. `repeat`: values may be written twice.
fn random_history(seed: u64, repeat: bool) -> History {
    let mut rng = Rng(seed | 1);
    let procs = 2 + rng.below(4) as usize;
    let target = 2 + rng.below(9) as usize;
    let mut next_pid = procs as u64;
    let mut pids: Vec<u64> = (0..procs as u64).collect();
    let mut busy: Vec<Option<(F, Value)>> = vec![None; procs];
    // the store's state: the values since the last put
    let mut truth: Vec<String> = Vec::new();
    let mut ops = Vec::new();
    let (mut invoked, mut written) = (0, 0);
    let key = Value::str("k");
    loop {
        let idle: Vec<usize> = (0..procs).filter(|&p| busy[p].is_none()).collect();
        let running: Vec<usize> = (0..procs).filter(|&p| busy[p].is_some()).collect();
        if invoked == target && (running.is_empty() || rng.chance(3)) {
            break;
        }
        if invoked < target && !idle.is_empty() && (running.is_empty() || rng.chance(50)) {
            let p = idle[rng.below(idle.len() as u64) as usize];
            let n = if repeat && written > 0 && rng.chance(30) {
                rng.below(written)
            } else {
                written += 1;
                written - 1
            };
            let (f, v) = match rng.below(5) {
                0 | 1 => (F::Get, Value::Nil),
                2 => (F::Put, Value::str(&format!("x{n}y"))),
                _ => (F::Append, Value::str(&format!("x{n}y"))),
            };
            ops.push(Op::new(Process::Client(pids[p]), Type::Invoke, f.clone(), v.clone()).with_key(key.clone()));
            busy[p] = Some((f, v));
            invoked += 1;
        } else {
            let p = running[rng.below(running.len() as u64) as usize];
            let (f, v) = busy[p].take().unwrap();
            let roll = rng.below(100);
            let kind = if roll < 75 {
                Type::Ok
            } else if roll < 87 {
                Type::Fail
            } else {
                Type::Info
            };
            let happens = kind == Type::Ok || (kind == Type::Info && rng.chance(50));
            let text = v.as_str().unwrap_or_default().to_string();
            let value = match f {
                F::Get if kind == Type::Ok => Value::str(&if rng.chance(85) {
                    truth.concat()
                } else {
                    corrupt(&mut rng, &truth)
                }),
                F::Put if happens => {
                    truth = vec![text];
                    v.clone()
                }
                F::Append if happens => {
                    truth.push(text);
                    v.clone()
                }
                _ => v.clone(),
            };
            let value = if kind == Type::Ok { value } else { v };
            ops.push(Op::new(Process::Client(pids[p]), kind, f, value).with_key(key.clone()));
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

/// The brute-force oracle on the kv model from the empty string.
fn brute_force(history: &History) -> bool {
    oracle::brute_force(
        &Kv {
            initial: Value::str(""),
        },
        history,
    )
}

fn engine(history: &History) -> bool {
    match check(history, &Options::new(ModelKind::Kv)).unwrap().verdict {
        Verdict::Valid => true,
        Verdict::Invalid => false,
        Verdict::Unknown => panic!("unknown on a small history"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn distinct_values_agree_with_brute_force(seed in any::<u64>()) {
        let h = random_history(seed, false);
        prop_assert_eq!(engine(&h), brute_force(&h), "{:#?}", h.ops);
    }

    #[test]
    fn repeated_values_agree_with_brute_force(seed in any::<u64>()) {
        let h = random_history(seed, true);
        prop_assert_eq!(engine(&h), brute_force(&h), "{:#?}", h.ops);
    }
}

#[test]
fn both_verdicts_come_up() {
    let verdicts: Vec<bool> = (1..400).map(|s| brute_force(&random_history(s, false))).collect();
    assert!(verdicts.iter().filter(|v| **v).count() > 50);
    assert!(verdicts.iter().filter(|v| !**v).count() > 50);
}
