//! Whole-system tests: scenarios run end to end through the engine, the model and the checkers.

mod scenarios;
mod scenario_errors;
mod determinism;
mod engine_limits;
mod model_purity;
mod replication;
mod faults;
mod cli;
mod shrink;
mod trace_text;
mod viewer;
mod workload;
