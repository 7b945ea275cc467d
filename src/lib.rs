//! kafkasim: a deterministic simulation and model-checking testbed for Apache Kafka semantics.
//!
//! Layers, each naming only those above it in this list: [`model`] (Kafka as sans-IO actors),
//! [`engine`] (the simulated world), [`scenario`] (TOML scenarios), [`check`] (invariant
//! checkers), [`trace`] (trace output and digests), [`explore`] (running and judging), [`cli`].

pub mod check;
pub mod cli;
pub mod engine;
pub mod explore;
pub mod model;
pub mod scenario;
pub mod trace;
