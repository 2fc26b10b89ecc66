use nemeses::clock::{Class, Injection, Skew};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let pid: u32 = a[1].parse().unwrap();
    let wall: i64 = a[2].parse().unwrap();
    let mono: i64 = a[3].parse().unwrap();
    let rate: f64 = a.get(4).map(|r| r.parse().unwrap()).unwrap_or(0.0);
    let inj = Injection::inject(pid).unwrap();
    let mk = |o: i64, c: Class| {
        if o == 0 && rate == 0.0 {
            None
        } else {
            Some(Skew {
                offset_ns: o * 1_000_000,
                rate,
                anchor_ns: c.now_ns(),
            })
        }
    };
    inj.set(Class::Wall, mk(wall, Class::Wall));
    inj.set(Class::Mono, mk(mono, Class::Mono));
    eprintln!("skewed; enter to remove");
    let mut s = String::new();
    std::io::stdin().read_line(&mut s).unwrap();
    eprintln!("calls wall {} mono {}", inj.calls(Class::Wall), inj.calls(Class::Mono));
    inj.remove().unwrap();
}
