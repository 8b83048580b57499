//! The typed fault events live in the history contract ([`ops::faults`]);
//! re-exported here so the checkers' paths stay as they were.

pub use ops::faults::*;
