//! Running scenarios: one run with its verdict, determinism checks, seed sweeps, and shrinking a
//! failing run (replay comes later).

pub mod ddmin;
pub mod determinism;
pub mod runner;
pub mod shrink;
pub mod sweep;

pub use runner::{run_scenario, RunOptions, RunReport, RunStats};
