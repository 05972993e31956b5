//! Foreign APIs otpd speaks drop-in. Each dialect only translates wire <-> core command.

pub mod exigo;
