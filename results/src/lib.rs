//! The results folder a person reads and a CI gates on, and the numbers in it:
//! what ran, every op, the verdict, throughput, latency, unavailability.

pub mod error;
pub mod folder;
pub mod junit;
pub mod recorder;
pub mod report;
pub mod schema;
pub mod summary;

pub use error::Error;
pub use folder::RunDir;
pub use recorder::Recorder;
pub use schema::{RunResults, TestInfo};
pub use summary::Summary;
