//! SignalWire's error shapes (seed 004) and the one mapping from the core error to them:
//! 401 `{"error":"Unauthorized"}`, 422 `{"errors":[{"detail","status","title","code"}]}`
//! (one entry per bad field, `status` and `code` as strings), 404 `{"error":"Not Found"}`,
//! 500 `{"error":"Internal Server Error"}`. Statuses the seed does not document (413, 415, 429,
//! 503, 405) use the same two shapes: `errors[]` for a request the caller can fix, the single
//! `error` string otherwise.

use crate::error::log_server_error;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use otpd_core::Error;
use serde::Serialize;

/// One bad field, named with SignalWire's field names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
    pub kind: FieldErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    Missing,
    Invalid,
}

impl FieldError {
    pub fn missing(field: &str) -> FieldError {
        FieldError {
            field: field.to_owned(),
            reason: "is required".to_owned(),
            kind: FieldErrorKind::Missing,
        }
    }

    pub fn invalid(field: &str, reason: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_owned(),
            reason: reason.into(),
            kind: FieldErrorKind::Invalid,
        }
    }
}

#[derive(Debug)]
pub enum SwError {
    Unauthorized,
    Validation(Vec<FieldError>),
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited { detail: String, retry_after: u64 },
    Unavailable,
    Internal,
}

/// Core field names -> SignalWire's.
fn wire_field(core: &str) -> &str {
    match core {
        "code_length" => "token_length",
        "ttl_seconds" => "valid_for",
        "custom_code" | "code" => "token",
        other => other,
    }
}

impl From<Error> for SwError {
    fn from(e: Error) -> SwError {
        log_server_error(&e);
        match e {
            Error::Invalid { field, reason } => {
                let field = wire_field(&field);
                let reason = if field == "message" {
                    // The core's reason is worded for its own API; say it SignalWire's way.
                    "must fit one SMS segment together with the token: 160 GSM-7 characters, \
                     or 70 when it uses other symbols"
                        .to_owned()
                } else {
                    reason.into_owned()
                };
                SwError::Validation(vec![FieldError::invalid(field, reason)])
            }
            Error::Unauthorized => SwError::Unauthorized,
            // The handlers check the key's scope before calling the core, so a refusal here is
            // a geo permission on the destination.
            Error::Forbidden(reason) => {
                SwError::Validation(vec![FieldError::invalid("to", reason.into_owned())])
            }
            Error::NotFound(_) => SwError::NotFound,
            Error::RateLimited {
                reason,
                retry_after_secs,
            } => SwError::RateLimited {
                detail: reason.to_owned(),
                retry_after: retry_after_secs,
            },
            Error::Unavailable(_) => SwError::Unavailable,
            Error::Conflict(detail) => {
                tracing::error!(error = %detail, "unexpected conflict in the signalwire dialect");
                SwError::Internal
            }
            Error::Internal(_) => SwError::Internal,
        }
    }
}

#[derive(Serialize)]
struct ErrorItem {
    detail: String,
    status: String,
    title: &'static str,
    code: &'static str,
}

#[derive(Serialize)]
struct ErrorsBody {
    errors: Vec<ErrorItem>,
}

#[derive(Serialize)]
struct ErrorString {
    error: &'static str,
}

fn errors_body(status: StatusCode, errors: Vec<ErrorItem>) -> Response {
    (status, Json(ErrorsBody { errors })).into_response()
}

fn one_item(
    status: StatusCode,
    detail: String,
    title: &'static str,
    code: &'static str,
) -> Response {
    errors_body(
        status,
        vec![ErrorItem {
            detail,
            status: status.as_u16().to_string(),
            title,
            code,
        }],
    )
}

fn error_string(status: StatusCode, text: &'static str) -> Response {
    (status, Json(ErrorString { error: text })).into_response()
}

impl IntoResponse for SwError {
    fn into_response(self) -> Response {
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        match self {
            SwError::Unauthorized => {
                let mut r = error_string(StatusCode::UNAUTHORIZED, "Unauthorized");
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"otpd\""),
                );
                r
            }
            SwError::Validation(fields) => {
                let items = fields
                    .into_iter()
                    .map(|f| {
                        let (title, code) = match f.kind {
                            FieldErrorKind::Missing => {
                                ("Missing Required Parameter", "missing_required_parameter")
                            }
                            FieldErrorKind::Invalid => ("Invalid Parameter", "invalid_parameter"),
                        };
                        ErrorItem {
                            detail: format!("{} {}", f.field, f.reason),
                            status: unprocessable.as_u16().to_string(),
                            title,
                            code,
                        }
                    })
                    .collect();
                errors_body(unprocessable, items)
            }
            SwError::NotFound => error_string(StatusCode::NOT_FOUND, "Not Found"),
            SwError::MethodNotAllowed => {
                error_string(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
            }
            SwError::PayloadTooLarge => one_item(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than 64 KiB".to_owned(),
                "Payload Too Large",
                "payload_too_large",
            ),
            SwError::UnsupportedMediaType => one_item(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json".to_owned(),
                "Unsupported Media Type",
                "unsupported_media_type",
            ),
            SwError::RateLimited {
                detail,
                retry_after,
            } => {
                let mut r = one_item(
                    StatusCode::TOO_MANY_REQUESTS,
                    detail,
                    "Too Many Requests",
                    "rate_limited",
                );
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            SwError::Unavailable => {
                let mut r = error_string(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            SwError::Internal => {
                error_string(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }
}
