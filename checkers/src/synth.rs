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

/// A Porcupine-style kv history of appends: `clients` clients over `keys`
/// keys get, put and append; every value written is distinct (`x <client>
/// <n> y`), and each op takes effect at a random moment while in flight.
#[derive(Clone, Debug)]
pub struct AppendSynth {
    pub ops: usize,
    pub keys: usize,
    pub clients: usize,
    /// Percent of writes that are puts (the rest append).
    pub put_percent: u64,
    pub violation: Option<AppendViolation>,
    pub seed: u64,
}

/// A violation injected into key 0 of an [`AppendSynth`] history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendViolation {
    /// A read misses an append acknowledged before it began (and begun after
    /// the put its value starts from was acknowledged).
    Missing,
    /// A read has two appends in the other order than an earlier read.
    Reordered,
}

impl Default for AppendSynth {
    fn default() -> AppendSynth {
        AppendSynth {
            ops: 2000,
            keys: 10,
            clients: 50,
            put_percent: 8,
            violation: None,
            seed: 1,
        }
    }
}

/// An append history's op in flight, and what it saw once it took effect.
struct Pending {
    f: F,
    value: String,
    /// For a read: the state it saw, as the writes (history indexes of their
    /// invocations) since the reset, the reset first if one.
    saw: Option<Vec<usize>>,
    invoked: usize,
}

impl AppendSynth {
    /// Generates the history (every op completes ok).
    pub fn generate(&self) -> Vec<Op> {
        let mut rng = Rng::new(self.seed);
        let keys: Vec<Value> = (0..self.keys).map(|k| Value::str(&k.to_string())).collect();
        let mut busy: Vec<Option<(usize, Pending)>> = (0..self.clients).map(|_| None).collect();
        let mut written = vec![0u64; self.clients];
        // per key: the writes since the last put (invocation indexes), the put first
        let mut state: Vec<Vec<usize>> = vec![Vec::new(); self.keys];
        // per op of `out`: the value an invocation writes
        let mut text: Vec<String> = Vec::new();
        let mut out: Vec<Op> = Vec::with_capacity(self.ops * 2);
        // per ok read: (its completion's index, the invocation indexes it saw)
        let mut reads: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut invoked = 0;
        while invoked < self.ops || busy.iter().any(Option::is_some) {
            let c = rng.below(self.clients as u64) as usize;
            match &mut busy[c] {
                None if invoked < self.ops => {
                    let key = rng.below(self.keys as u64) as usize;
                    let roll = rng.below(100);
                    let (f, value) = if roll < 45 {
                        (F::Get, String::new())
                    } else {
                        written[c] += 1;
                        let v = format!("x {c} {} y", written[c] - 1);
                        let put = rng.below(100) < self.put_percent;
                        (if put { F::Put } else { F::Append }, v)
                    };
                    let shown = if f == F::Get { Value::Nil } else { Value::str(&value) };
                    out.push(
                        Op::new(Process::Client(c as u64), Type::Invoke, f.clone(), shown).with_key(keys[key].clone()),
                    );
                    text.push(value.clone());
                    busy[c] = Some((
                        key,
                        Pending {
                            f,
                            value,
                            saw: None,
                            invoked: out.len() - 1,
                        },
                    ));
                    invoked += 1;
                }
                None => {}
                Some((key, p)) if p.saw.is_none() && rng.below(2) == 0 => {
                    // it takes effect now
                    let s = &mut state[*key];
                    match p.f {
                        F::Put => *s = vec![p.invoked],
                        F::Append => s.push(p.invoked),
                        _ => {}
                    }
                    p.saw = Some(s.clone());
                }
                Some((key, p)) if p.saw.is_some() => {
                    let value = if p.f == F::Get {
                        let saw = p.saw.take().expect("taken effect");
                        let v: String = saw.iter().map(|&i| text[i].as_str()).collect();
                        if *key == 0 {
                            reads.push((out.len(), saw));
                        }
                        Value::str(&v)
                    } else {
                        Value::str(&p.value)
                    };
                    out.push(
                        Op::new(Process::Client(c as u64), Type::Ok, p.f.clone(), value).with_key(keys[*key].clone()),
                    );
                    text.push(String::new());
                    busy[c] = None;
                }
                Some(_) => {}
            }
        }
        for (i, op) in out.iter_mut().enumerate() {
            op.index = i as u64;
        }
        if let Some(v) = self.violation {
            inject(&mut out, &reads, &text, v);
        }
        out
    }
}

/// Bends one of key 0's reads as `v` says (see [`AppendViolation`]).
fn inject(out: &mut [Op], reads: &[(usize, Vec<usize>)], text: &[String], v: AppendViolation) {
    // when each op was acknowledged: the index of its completion
    let mut done = vec![usize::MAX; out.len()];
    let mut open: std::collections::HashMap<Process, usize> = Default::default();
    for (i, op) in out.iter().enumerate() {
        if op.kind == Type::Invoke {
            open.insert(op.process, i);
        } else if let Some(at) = open.remove(&op.process) {
            done[at] = i;
        }
    }
    let invoked_at = |read_done: usize| {
        let p = out[read_done].process;
        (0..read_done)
            .rev()
            .find(|&i| out[i].process == p && out[i].kind == Type::Invoke)
            .expect("invocation")
    };
    let spell = |saw: &[usize]| -> String { saw.iter().map(|&i| text[i].as_str()).collect() };
    for (at, saw) in reads {
        let begun = invoked_at(*at);
        let bent: Option<Vec<usize>> = match v {
            AppendViolation::Missing => {
                let is_put = |i: usize| out[i].f == F::Put;
                let reset_done = saw.first().filter(|&&i| is_put(i)).map_or(0, |&i| done[i]);
                saw.iter()
                    .position(|&i| !is_put(i) && done[i] < begun && i > reset_done)
                    .map(|j| [&saw[..j], &saw[j + 1..]].concat())
            }
            AppendViolation::Reordered => {
                // two appends an earlier read saw side by side, swapped
                let earlier = reads.iter().take_while(|(a, _)| a < at);
                let pair = earlier
                    .flat_map(|(_, s)| s.windows(2).map(|w| (w[0], w[1])))
                    .find(|&(a, b)| out[a].f == F::Append && saw.windows(2).any(|w| w == [a, b]));
                pair.map(|(a, b)| {
                    saw.iter()
                        .map(|&i| {
                            if i == a {
                                b
                            } else if i == b {
                                a
                            } else {
                                i
                            }
                        })
                        .collect()
                })
            }
        };
        if let Some(bent) = bent {
            out[*at].value = Value::str(&spell(&bent));
            return;
        }
    }
}
