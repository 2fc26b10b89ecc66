//! What the fuzz targets check, and the mutator of the stable-Rust driver.
//!
//! Both modules are plain files that `checkers/tests/fuzz_corpus.rs` and
//! `harness/src/fuzz_toml.rs` include with `#[path]`, so libFuzzer and `cargo test`
//! assert the very same invariants without a feature or a public API in `checkers`.

pub mod history;
pub mod mutate;
