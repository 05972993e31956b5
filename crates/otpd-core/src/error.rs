//! The one domain error. Every wire format renders it through one mapping of its own.
//! Messages never carry a code, a secret or a full phone number.

use std::borrow::Cow;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The caller sent something unusable; `field` names it in the core's vocabulary.
    #[error("{field}: {reason}")]
    Invalid {
        field: Cow<'static, str>,
        reason: Cow<'static, str>,
    },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid credentials")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// A state conflict (e.g. canceling an approved verification).
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    /// Too many sends to one destination, or too many sends of one verification.
    #[error("{reason}")]
    RateLimited {
        reason: &'static str,
        retry_after_secs: u64,
    },
    /// The store or another dependency is down; callers may retry.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; the message is for logs, never for callers.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(
        field: impl Into<Cow<'static, str>>,
        reason: impl Into<Cow<'static, str>>,
    ) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A stable snake_case name for wire formats and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid_request",
            Error::NotFound(_) => "not_found",
            Error::Unauthorized => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::Conflict(_) => "conflict",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal_error",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
