//! The otpd program: configuration, wiring of the core to its adapters, and the CLI.

pub mod bench;
pub mod cli;
pub mod config;
pub mod import;
pub mod serve;
pub mod system;
pub mod wiring;
