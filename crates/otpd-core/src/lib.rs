//! otpd-core: the verification engine with no IO.
//!
//! Everything here is pure or talks to the outside only through the ports in [`ports`]
//! (store, clock, randomness, dispatch), so it is tested with a fake clock and a seeded RNG.

pub mod clock;
pub mod code;
pub mod delivery;
pub mod destination;
pub mod engine;
pub mod engine_persons;
pub mod error;
pub mod ids;
pub mod password;
pub mod person;
pub mod ports;
pub mod random;
pub mod render;
pub mod secrets;
pub mod service;
pub mod tenant;
pub mod verification;

pub use error::{Error, Result};
