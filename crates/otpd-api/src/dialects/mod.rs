//! Drop-in wire dialects of foreign MFA APIs (DESIGN §3). Each one only translates between its
//! wire format and the core commands, and renders core errors in its own documented shape.

pub mod brightoffice;
pub mod exigo;
pub mod signalwire;
pub mod twilio_verify;
pub mod twofa;
pub mod twofactor;
