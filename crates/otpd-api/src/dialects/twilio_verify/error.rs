//! Twilio's error shape, `{"code", "message", "more_info", "status"}` with the HTTP status
//! repeated in `status`, and the one mapping from the core error to it. Codes are Twilio's:
//! 20001 missing parameter, 20003 authentication, 20403 forbidden, 20404 not found, 20004
//! method not allowed, 60200 invalid parameter, 60202 max check attempts, 60203 max send
//! attempts (429 with `Retry-After`), 60605 blocked destination, 20500/20503 server side.
//! 413 and 415 follow Twilio's `20xxx` = HTTP status pattern (20413, 20415).

use crate::error::log_server_error;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use otpd_core::Error;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl TwError {
    fn new(status: StatusCode, code: u32, message: impl Into<String>) -> TwError {
        TwError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 60200, naming the parameter with Twilio's spelling. The value is never echoed: it may
    /// be a phone number or a code.
    pub fn invalid(param: &str, reason: impl std::fmt::Display) -> TwError {
        TwError::new(
            StatusCode::BAD_REQUEST,
            60200,
            format!("Invalid parameter `{param}`: {reason}"),
        )
    }

    /// 20001, as Twilio answers a request without a required parameter.
    pub fn missing(param: &str) -> TwError {
        TwError::new(
            StatusCode::BAD_REQUEST,
            20001,
            format!("Missing required parameter {param} in the post body"),
        )
    }

    pub fn unauthorized() -> TwError {
        TwError::new(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
    }

    /// 20403: the key authenticated but lacks the scope (creating services needs `admin`).
    pub fn forbidden() -> TwError {
        TwError::new(
            StatusCode::FORBIDDEN,
            20403,
            "Forbidden: this API key lacks the admin scope",
        )
    }

    pub fn not_found() -> TwError {
        TwError::new(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        )
    }

    pub fn method_not_allowed() -> TwError {
        TwError::new(StatusCode::METHOD_NOT_ALLOWED, 20004, "Method not allowed")
    }

    pub fn max_check_attempts() -> TwError {
        TwError::new(
            StatusCode::TOO_MANY_REQUESTS,
            60202,
            "Max check attempts reached",
        )
    }

    pub fn payload_too_large() -> TwError {
        TwError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            20413,
            "The request body is larger than 64 KiB",
        )
    }

    pub fn unsupported_media_type() -> TwError {
        TwError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            20415,
            "Content-Type must be application/x-www-form-urlencoded",
        )
    }
}

/// Core field names -> Twilio's parameter names.
pub fn wire_param(core: &str) -> &str {
    match core {
        "to" => "To",
        "channel" => "Channel",
        "locale" => "Locale",
        "custom_code" => "CustomCode",
        "code" => "Code",
        "name" => "FriendlyName",
        "code_length" => "CodeLength",
        "custom_code_enabled" => "CustomCodeEnabled",
        other => other,
    }
}

impl From<Error> for TwError {
    fn from(e: Error) -> TwError {
        log_server_error(&e);
        match e {
            Error::Invalid { field, reason } => TwError::invalid(wire_param(&field), reason),
            Error::Unauthorized => TwError::unauthorized(),
            // Scopes are checked by the handlers before the core is called, so a refusal
            // from the core is a geo permission on the destination.
            Error::Forbidden(reason) => TwError::new(
                StatusCode::FORBIDDEN,
                60605,
                format!("Verification delivery attempt blocked: {reason}"),
            ),
            Error::NotFound(_) => TwError::not_found(),
            // Only a cancel of a verification that is no longer pending conflicts; Twilio has
            // deleted such a verification and answers 404.
            Error::Conflict(_) => TwError::not_found(),
            Error::RateLimited {
                reason,
                retry_after_secs,
            } => TwError {
                retry_after: Some(retry_after_secs),
                ..TwError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    60203,
                    format!("Max send attempts reached: {reason}"),
                )
            },
            Error::Unavailable(_) => TwError {
                retry_after: Some(1),
                ..TwError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    20503,
                    "Service Unavailable",
                )
            },
            Error::Internal(_) => TwError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                20500,
                "Internal Server Error",
            ),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    code: u32,
    message: &'a str,
    more_info: String,
    status: u16,
}

impl IntoResponse for TwError {
    fn into_response(self) -> Response {
        let body = Body {
            code: self.code,
            message: &self.message,
            more_info: format!("https://www.twilio.com/docs/errors/{}", self.code),
            status: self.status.as_u16(),
        };
        let mut r = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_fields_get_twilio_names() {
        let e = TwError::from(Error::invalid("to", "must be E.164"));
        assert_eq!(e.code, 60200);
        assert_eq!(e.message, "Invalid parameter `To`: must be E.164");
        let e = TwError::from(Error::RateLimited {
            reason: "too many sends",
            retry_after_secs: 7,
        });
        assert_eq!(
            (e.status.as_u16(), e.code, e.retry_after),
            (429, 60203, Some(7))
        );
    }
}
