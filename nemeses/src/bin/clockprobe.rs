//! The clock tests' target process: see `nemeses::clock::probe`.

fn main() {
    let threads = match std::env::args().skip_while(|a| a != "--threads").nth(1) {
        Some(n) => n.parse().unwrap_or(0),
        None => 0,
    };
    nemeses::clock::probe::serve(threads);
}
