//! `CreateTwoFactorSmsOtpResponseCode` (DESIGN §3) and the one mapping from core errors to it.

use super::wire::Out;
use axum::http::StatusCode;
use otpd_core::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseCode {
    Success,
    ValidationError,
    UserNotFound,
    MaxOtpRequestExceeded,
    InvalidOtp,
    OtpExpired,
    MaxAttemptsExceeded,
    SmsSendFailed,
    UnknownError,
}

impl ResponseCode {
    pub const ALL: [ResponseCode; 9] = [
        ResponseCode::Success,
        ResponseCode::ValidationError,
        ResponseCode::UserNotFound,
        ResponseCode::MaxOtpRequestExceeded,
        ResponseCode::InvalidOtp,
        ResponseCode::OtpExpired,
        ResponseCode::MaxAttemptsExceeded,
        ResponseCode::SmsSendFailed,
        ResponseCode::UnknownError,
    ];

    pub fn value(self) -> i64 {
        match self {
            ResponseCode::Success => 1000,
            ResponseCode::ValidationError => 2000,
            ResponseCode::UserNotFound => 3000,
            ResponseCode::MaxOtpRequestExceeded => 4000,
            ResponseCode::InvalidOtp => 4100,
            ResponseCode::OtpExpired => 4200,
            ResponseCode::MaxAttemptsExceeded => 4300,
            ResponseCode::SmsSendFailed => 5000,
            ResponseCode::UnknownError => 9000,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ResponseCode::Success => "SuccessCode",
            ResponseCode::ValidationError => "ValidationErrorCode",
            ResponseCode::UserNotFound => "UserNotFoundCode",
            ResponseCode::MaxOtpRequestExceeded => "MaxOtpRequestExceededCode",
            ResponseCode::InvalidOtp => "InvalidOtpCode",
            ResponseCode::OtpExpired => "OtpExpiredCode",
            ResponseCode::MaxAttemptsExceeded => "MaxAttemptsExceededCode",
            ResponseCode::SmsSendFailed => "SmsSendFailedCode",
            ResponseCode::UnknownError => "UnknownErrorCode",
        }
    }

    pub fn out(self) -> Out {
        Out::Enum(self.value(), self.name())
    }
}

/// A failed call in the dialect's terms: the code, the HTTP status, the `ExceptionMessage`,
/// and `Retry-After` seconds where a retry later can succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: ResponseCode,
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl Failure {
    pub fn new(code: ResponseCode, status: StatusCode, message: impl Into<String>) -> Failure {
        Failure {
            code,
            status,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// The core's field names in this dialect's spelling.
pub fn wire_field(core: &str) -> &str {
    match core {
        "to" => "GsmNumber",
        "ttl_seconds" => "OtpExpirationPeriod",
        "subject_limit.count" => "MaxSMSCount",
        "subject_limit.window_seconds" => "MaxSMSInterval",
        "subject_limit.subject" => "UserId",
        "code" => "OtpCode",
        "reference_code" => "TwoFactorConfigurationId",
        other => other,
    }
}

/// Every core error to a code and status: the caller's mistakes are `ValidationErrorCode`
/// (400, or 403 for a refused destination or scope); limits are `MaxOtpRequestExceededCode`
/// (200: an answer of the API, like the seed's sample); our faults are `UnknownErrorCode`
/// (500/503) and say nothing more.
pub fn failure_of(e: &Error) -> Failure {
    crate::error::log_server_error(e);
    use ResponseCode as C;
    match e {
        Error::Invalid { field, reason } => Failure::new(
            C::ValidationError,
            StatusCode::BAD_REQUEST,
            format!("{}: {reason}", wire_field(field)),
        ),
        Error::NotFound("service") => Failure::new(
            C::ValidationError,
            StatusCode::BAD_REQUEST,
            "TwoFactorConfigurationId: no configuration has this id",
        ),
        Error::NotFound(_) => Failure::new(
            C::InvalidOtp,
            StatusCode::OK,
            "OtpIdReference: no OTP has this reference",
        ),
        Error::Forbidden(why) => {
            Failure::new(C::ValidationError, StatusCode::FORBIDDEN, why.to_string())
        }
        Error::Conflict(why) => {
            Failure::new(C::ValidationError, StatusCode::CONFLICT, why.to_string())
        }
        Error::RateLimited {
            reason,
            retry_after_secs,
        } => Failure {
            code: C::MaxOtpRequestExceeded,
            status: StatusCode::OK,
            message: format!("{reason} (in {retry_after_secs} s)"),
            retry_after: Some(*retry_after_secs),
        },
        Error::Unauthorized => Failure::new(
            C::ValidationError,
            StatusCode::UNAUTHORIZED,
            super::UNAUTHORIZED,
        ),
        Error::Unavailable(_) => Failure {
            code: C::UnknownError,
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "The service is temporarily unavailable; retry shortly.".into(),
            retry_after: Some(1),
        },
        Error::Internal(_) => Failure::new(
            C::UnknownError,
            StatusCode::INTERNAL_SERVER_ERROR,
            "An internal error occurred.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_design() {
        let pairs: Vec<(i64, &str)> = ResponseCode::ALL
            .iter()
            .map(|c| (c.value(), c.name()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                (1000, "SuccessCode"),
                (2000, "ValidationErrorCode"),
                (3000, "UserNotFoundCode"),
                (4000, "MaxOtpRequestExceededCode"),
                (4100, "InvalidOtpCode"),
                (4200, "OtpExpiredCode"),
                (4300, "MaxAttemptsExceededCode"),
                (5000, "SmsSendFailedCode"),
                (9000, "UnknownErrorCode"),
            ]
        );
    }

    #[test]
    fn server_faults_say_nothing() {
        let f = failure_of(&Error::Internal("disk on fire at /var/x".into()));
        assert_eq!(f.code, ResponseCode::UnknownError);
        assert_eq!(f.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!f.message.contains("disk"));
        let f = failure_of(&Error::Unavailable("db down".into()));
        assert_eq!(f.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!f.message.contains("db"));
        let f = failure_of(&Error::invalid(
            "subject_limit.count",
            "must be between 1 and 10000",
        ));
        assert_eq!(f.message, "MaxSMSCount: must be between 1 and 10000");
    }
}
