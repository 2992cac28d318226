//! Userdata types scripts hold: errors, messages, payloads, times and durations.

pub mod error;
pub mod error_object;
pub mod loc;
pub mod payload;
pub mod time;
pub(crate) mod timer;
