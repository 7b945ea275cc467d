//! Consumer groups: the classic protocol's messages and the coordinator's group state machine.

pub mod coordinator;
pub mod protocol;

pub use coordinator::{Group, GroupConfig, GroupState, GroupTimer, Member};
