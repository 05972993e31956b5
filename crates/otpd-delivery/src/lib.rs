//! Delivery: the outbox worker and the providers it sends through.

pub mod outbox;
pub mod provider;
pub mod routes;
pub mod worker;

pub use provider::{OutboundMessage, Provider, ProviderError, Rendered, SendReceipt};
pub use routes::Routes;
pub use worker::{Wakeup, Worker, WorkerConfig};
