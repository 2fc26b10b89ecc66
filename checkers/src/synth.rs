//! Synthetic Jepsen-style histories for benchmarks: clients hammering cas
//! registers, each op taking effect at a random moment while it is in flight.

use crate::op::{F, Op, Process, Type};
use crate::rng::Rng;
use crate::value::Value;

/// What a generated history looks like.
#[derive(Clone, Debug)]
pub struct Synth {
    pub ops: usize,
    pub keys: usize,
    pub clients_per_key: usize,
    /// Values written are `0..values`; registers start nil.
    pub values: i64,
    /// Percent of ops that end `info` (half of them took effect).
    pub info_percent: u64,
    /// Break linearizability once, in a way info ops cannot explain.
    pub violation: bool,
    pub seed: u64,
}

impl Default for Synth {
    fn default() -> Synth {
        Synth {
            ops: 1000,
            keys: 5,
            clients_per_key: 3,
            values: 5,
            info_percent: 0,
            violation: false,
            seed: 1,
        }
    }
}

/// An op in flight: f, invoke value, and its completion once it took effect.
type InFlight = (F, Value, Option<(Type, Value)>);

struct Client {
    process: u64,
    key: usize,
    busy: Option<InFlight>,
    /// This op ends info.
    info: bool,
}

impl Synth {
    /// Generates the history. With `violation`, key 0 starts with a read that
    /// returns a value first written only later: a read from the future, which no
    /// info op can explain because none was invoked yet.
    pub fn generate(&self) -> Vec<Op> {
        let mut rng = Rng::new(self.seed);
        let mut rand = move |n: u64| rng.below(n);
        let mut clients: Vec<Client> = (0..self.keys * self.clients_per_key)
            .map(|i| Client {
                process: i as u64,
                key: i % self.keys,
                busy: None,
                info: false,
            })
            .collect();
        let mut next_process = clients.len() as u64;
        let mut truth: Vec<Value> = vec![Value::Nil; self.keys];
        let mut out: Vec<Op> = Vec::with_capacity(self.ops * 2 + 4);
        let keys: Vec<Value> = (0..self.keys).map(|k| Value::Int(k as i64)).collect();
        let mut invoked = 0;
        let mut future: Option<i64> = None;
        if self.violation {
            // the value read here is the first value the generator writes to key 0
            let v = self.values - 1;
            future = Some(v);
            let read = |t, v| Op::new(Process::Client(next_process), t, F::Read, v).with_key(keys[0].clone());
            out.push(read(Type::Invoke, Value::Nil));
            out.push(read(Type::Ok, Value::Int(v)));
            next_process += 1;
        }
        while invoked < self.ops || clients.iter().any(|c| c.busy.is_some()) {
            let n = clients.len() as u64;
            let c = &mut clients[rand(n) as usize];
            let key = c.key;
            match &mut c.busy {
                None if invoked < self.ops => {
                    let (f, value) = match (future.filter(|_| key == 0), rand(3)) {
                        (Some(v), _) => (F::Write, Value::Int(v)),
                        (None, 0) => (F::Read, Value::Nil),
                        (None, 1) => (F::Write, Value::Int(rand(self.values as u64) as i64)),
                        (None, _) => (
                            F::Cas,
                            Value::list(vec![
                                Value::Int(rand(self.values as u64) as i64),
                                Value::Int(rand(self.values as u64) as i64),
                            ]),
                        ),
                    };
                    if key == 0 {
                        future = None;
                    }
                    c.info = rand(100) < self.info_percent;
                    out.push(
                        Op::new(Process::Client(c.process), Type::Invoke, f.clone(), value.clone())
                            .with_key(keys[key].clone()),
                    );
                    c.busy = Some((f, value, None));
                    invoked += 1;
                }
                None => {}
                Some((f, value, done @ None)) => {
                    // the op takes effect now (an info op only half the time)
                    if c.info && rand(2) == 0 {
                        *done = Some((Type::Info, Value::Nil));
                        continue;
                    }
                    let t = &mut truth[key];
                    *done = Some(match f {
                        F::Read => (Type::Ok, t.clone()),
                        F::Write => {
                            *t = value.clone();
                            (Type::Ok, value.clone())
                        }
                        _ => {
                            let l = value.as_list().expect("cas value");
                            if *t == l[0] {
                                *t = l[1].clone();
                                (Type::Ok, value.clone())
                            } else {
                                (Type::Fail, value.clone())
                            }
                        }
                    });
                }
                Some((f, _, Some((kind, v)))) => {
                    let (kind, v) = if c.info {
                        (Type::Info, Value::Nil)
                    } else {
                        (*kind, v.clone())
                    };
                    out.push(Op::new(Process::Client(c.process), kind, f.clone(), v).with_key(keys[key].clone()));
                    c.busy = None;
                    if c.info {
                        c.process = next_process;
                        next_process += 1;
                    }
                }
            }
        }
        for (i, op) in out.iter_mut().enumerate() {
            op.index = i as u64;
        }
        out
    }
}
