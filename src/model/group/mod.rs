//! Consumer groups: the classic protocol's messages, the coordinator's group state machine, and
//! offset expiry.

pub mod coordinator;
pub mod expiry;
pub mod protocol;

pub use coordinator::{Group, GroupConfig, GroupState, GroupTimer, Member};
