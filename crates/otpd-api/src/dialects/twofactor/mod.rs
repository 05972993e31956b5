//! CreateTwoFactorSmsOtp (seed 001): `POST /api/TwoFactor/CreateTwoFactorSmsOtp` and its
//! companion `POST /api/TwoFactor/VerifyTwoFactorSmsOtp`, in JSON (`application/json`,
//! `text/json`), XML (`application/xml`, `text/xml`, DataContract namespaces) or form
//! encoding; the answer follows `Accept`, else the request's format.
//!
//! Pure translation: `UserId` becomes the core's subject for the per-user send limit
//! (`MaxSMSCount` in `MaxSMSInterval` seconds) and the verification's context id,
//! `OtpExpirationPeriod` the TTL override, `TwoFactorConfigurationId` the service `number`,
//! `Source` the stored source. The core draws the `ReferenceCode` (also printed in the SMS) and
//! returns the code only to keys with `reveal_code`. Credentials: HTTP Basic `key_id:secret`
//! or `Bearer key_id.secret`.

pub mod codes;
mod create;
pub mod sync;
mod verify;
pub mod wire;

use crate::auth;
use crate::body::read_body;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use codes::{Failure, ResponseCode, failure_of};
pub use create::create_two_factor_sms_otp;
use otpd_core::Error;
use otpd_core::ids::VerificationId;
use otpd_core::tenant::Principal;
pub use verify::verify_two_factor_sms_otp;
use wire::{BodyKind, Fields, Format, Object, Out, http_error, read_fields};

pub const CREATE_PATH: &str = "/api/TwoFactor/CreateTwoFactorSmsOtp";
pub const VERIFY_PATH: &str = "/api/TwoFactor/VerifyTwoFactorSmsOtp";
/// ASP.NET Web API's message for a request its `[Authorize]` filter refuses.
pub const UNAUTHORIZED: &str = "Authorization has been denied for this request.";
/// Longest `Source` kept.
const MAX_SOURCE_CHARS: usize = 256;

const CREATE_FIELDS: &[&str] = &[
    "UserId",
    "GsmNumber",
    "TwoFactorConfigurationId",
    "MaxSMSCount",
    "MaxSMSInterval",
    "OtpExpirationPeriod",
    "IsSync",
    "Source",
];
const VERIFY_FIELDS: &[&str] = &["OtpIdReference", "OtpCode"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(CREATE_PATH, post(create_two_factor_sms_otp))
        .route(VERIFY_PATH, post(verify_two_factor_sms_otp))
}

/// The properties every response object ends with, from its outcome (none: success).
fn outcome_fields(outcome: &Option<Failure>) -> [(&'static str, Out); 3] {
    let (message, code) = match outcome {
        None => (None, ResponseCode::Success),
        Some(f) => (Some(f.message.clone()), f.code),
    };
    [
        ("ExceptionMessage", Out::Str(message)),
        ("Success", Out::Bool(outcome.is_none())),
        ("Code", code.out()),
    ]
}

/// Renders a response object with its outcome's status and `Retry-After`.
fn respond_object(format: Format, object: Object, outcome: &Option<Failure>) -> Response {
    let (status, retry) = match outcome {
        None => (StatusCode::OK, None),
        Some(f) => (f.status, f.retry_after),
    };
    respond(format, status, object.render(format), retry)
}

fn respond(format: Format, status: StatusCode, body: String, retry_after: Option<u64>) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, format.content_type());
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

/// What every call does before its action: credentials, media type, size, parsing. Errors
/// before parsing are ASP.NET's `HttpError`; a body that cannot be read into the contract is
/// the operation's own answer with `ValidationErrorCode`.
enum Prologue {
    Ready(Principal, Fields),
    Refused(Response),
    Invalid(Failure),
}

async fn prologue(
    state: &AppState,
    req: Request,
    format: Format,
    kind: Option<BodyKind>,
    root: &'static str,
    known: &[&'static str],
) -> Prologue {
    let who = match auth::principal(&state.engine, req.headers()).await {
        Ok(who) => who,
        Err(Error::Unauthorized) => {
            return Prologue::Refused(respond(
                format,
                StatusCode::UNAUTHORIZED,
                http_error(format, UNAUTHORIZED),
                None,
            ));
        }
        Err(e) => return Prologue::Invalid(failure_of(&e)),
    };
    let Some(kind) = kind else {
        let media = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        return Prologue::Refused(respond(
            format,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            http_error(
                format,
                &format!(
                    "The request entity's media type '{media}' is not supported for this resource; use application/json, text/json, application/xml, text/xml or application/x-www-form-urlencoded."
                ),
            ),
            None,
        ));
    };
    let bytes = match read_body(req).await {
        Ok(b) => b,
        Err(ApiError::PayloadTooLarge) => {
            return Prologue::Refused(respond(
                format,
                StatusCode::PAYLOAD_TOO_LARGE,
                http_error(format, "The request body is larger than 64 KiB."),
                None,
            ));
        }
        Err(_) => {
            return Prologue::Invalid(failure_of(&Error::invalid("body", "could not be read")));
        }
    };
    match read_fields(kind, &bytes, root, known) {
        Ok(fields) => Prologue::Ready(who, fields),
        Err(e) => Prologue::Invalid(failure_of(&e)),
    }
}

/// `Id`: a number for the OTP, taken from the last 52 bits of its `OtpIdReference` (the
/// verification id; random bits, its first ones are the creation time), so it is stable and
/// exact in every JSON reader.
fn wire_number(id: &VerificationId) -> i64 {
    let s = id.as_str();
    s.get(s.len().saturating_sub(13)..)
        .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        .unwrap_or(0)
}
