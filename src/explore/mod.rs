//! Running scenarios: one run with its verdict, determinism checks, and (later) seed sweeps,
//! replay and shrinking.

pub mod determinism;
pub mod runner;
pub mod shrink;
pub mod sweep;

pub use runner::{run_scenario, RunOptions, RunReport, RunStats};
