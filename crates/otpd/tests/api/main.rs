#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests: the real router on a random port (with a fake clock), or the real
//! binary (crash and log tests), each on its own temporary SQLite file.

mod bad_input;
mod binary;
mod brightoffice;
mod concurrency;
mod crash_delivery;
mod delivery_status;
mod exigo;
mod flow;
mod helpers;
mod limits;
mod nodes;
mod ops;
mod persons;
mod restart;
mod signalwire;
mod tenancy;
mod twilio_verify;
mod twofa;
mod twofactor;
