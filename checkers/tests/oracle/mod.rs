//! What the differential tests share: a small deterministic generator, so
//! proptest only has to shrink a seed, and a brute-force oracle over any model.

use checkers::history::{Call, History};
use checkers::model::Model;
use checkers::op::Type;

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Tries every order of the calls that respects real time, from the model's
/// initial state; info calls may be left out.
pub fn brute_force<M: Model>(model: &M, history: &History) -> bool {
    let calls: Vec<Call> = history
        .pair()
        .unwrap()
        .into_iter()
        .filter(|c| c.outcome != Type::Fail)
        .collect();
    let ops: Vec<M::Op> = calls.iter().map(|c| model.op(&history.call(c)).unwrap()).collect();
    let ret: Vec<Option<u32>> = calls
        .iter()
        .map(|c| if c.outcome == Type::Ok { c.complete } else { None })
        .collect();
    fn search<M: Model>(
        state: &M::State,
        placed: &mut Vec<bool>,
        calls: &[Call],
        ops: &[M::Op],
        model: &M,
        ret: &[Option<u32>],
    ) -> bool {
        if !(0..calls.len()).any(|i| !placed[i] && ret[i].is_some()) {
            return true;
        }
        for i in 0..calls.len() {
            if placed[i] {
                continue;
            }
            // every unplaced definite op that returned before i was invoked must go first
            let blocked = (0..calls.len()).any(|j| !placed[j] && j != i && ret[j].is_some_and(|r| r < calls[i].invoke));
            if blocked {
                continue;
            }
            if let Some(next) = model.step(state, &ops[i]) {
                placed[i] = true;
                let found = search(&next, placed, calls, ops, model, ret);
                placed[i] = false;
                if found {
                    return true;
                }
            }
        }
        false
    }
    search(&model.init(), &mut vec![false; calls.len()], &calls, &ops, model, &ret)
}
