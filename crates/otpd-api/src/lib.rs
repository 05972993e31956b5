//! otpd's HTTP face: the native `/v1` API, health and metrics, OpenAPI; shared extraction of
//! credentials and bodies that every dialect reuses.

pub mod auth;
pub mod body;
pub mod delivery;
pub mod dialects;
pub mod error;
pub mod health;
pub mod hooks;
pub mod metrics;
pub mod native;
pub mod openapi;
mod router;
pub mod soap;
pub mod state;
pub mod time;

pub use router::{BODY_LIMIT, router};
pub use state::AppState;
