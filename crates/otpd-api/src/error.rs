//! The native API's error shape: `{"error":{"code","message","status"}}` (+ `field` for 400s).
//! One exhaustive mapping from the core error; a 500 body says nothing, the log says all.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use otpd_core::Error;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub enum ApiError {
    Core(Error),
    PayloadTooLarge,
    UnsupportedMediaType(&'static str),
    MethodNotAllowed,
    /// A route that does not exist.
    NoRoute,
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Core(e)
    }
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case identifier.
    pub code: &'static str,
    pub message: String,
    pub status: u16,
    /// The offending request field, for 400s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// Status for a core error; shared by every dialect that speaks HTTP status codes.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Invalid { .. } => StatusCode::BAD_REQUEST,
        Error::Unauthorized => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Logs what callers must not see. Dialects call this before rendering their own shape.
pub fn log_server_error(e: &Error) {
    match e {
        Error::Internal(detail) => tracing::error!(error = %detail, "internal error"),
        Error::Unavailable(detail) => tracing::warn!(error = %detail, "dependency unavailable"),
        _ => {}
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, field, retry_after) = match &self {
            ApiError::Core(e) => {
                log_server_error(e);
                let status = status_of(e);
                let (message, field) = match e {
                    Error::Invalid { field, reason } => {
                        (format!("{field}: {reason}"), Some(field.to_string()))
                    }
                    Error::Internal(_) => ("internal error".to_owned(), None),
                    Error::Unavailable(_) => (
                        "service temporarily unavailable; retry shortly".to_owned(),
                        None,
                    ),
                    other => (other.to_string(), None),
                };
                let retry = match e {
                    Error::RateLimited {
                        retry_after_secs, ..
                    } => Some(*retry_after_secs),
                    Error::Unavailable(_) => Some(1),
                    _ => None,
                };
                (status, e.code(), message, field, retry)
            }
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than 64 KiB".to_owned(),
                None,
                None,
            ),
            ApiError::UnsupportedMediaType(expected) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("Content-Type must be {expected}"),
                None,
                None,
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this method is not allowed on this resource".to_owned(),
                None,
                None,
            ),
            ApiError::NoRoute => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such resource".to_owned(),
                None,
                None,
            ),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message,
                status: status.as_u16(),
                field,
            },
        };
        let mut resp = (status, Json(body)).into_response();
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"otpd\""),
            );
        }
        resp
    }
}
