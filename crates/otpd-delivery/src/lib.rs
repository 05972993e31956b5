//! Delivery: the outbox worker and the providers it sends through.

pub mod breaker;
mod handoff;
mod http;
mod in_flight;
pub mod outbox;
pub mod provider;
pub mod registry;
pub mod routes;
pub mod secret;
pub mod smpp;
pub mod smtp;
pub mod twilio;
pub mod webhook;
pub mod worker;

pub use handoff::Wakeup;
pub use provider::{OutboundMessage, Provider, ProviderError, Rendered, SendReceipt};
pub use routes::Routes;
pub use worker::{Worker, WorkerConfig};
