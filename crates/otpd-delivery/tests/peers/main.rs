#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Providers against real protocol peers (WireMock's Twilio stubs, aiosmtpd, Net::SMPP), driven
//! through the real outbox worker on a real SQLite store. Each test starts the peers it needs
//! on free ports. A peer that is not installed skips its test locally and fails it under CI
//! (`CI` set), where `.ci/run` installs them.

mod smpp;
mod smtp;
mod support;
mod twilio;
