//! SignalWire MFA (seed 004): `POST /api/relay/rest/mfa/sms`, `POST /api/relay/rest/mfa/call`
//! and `POST /api/relay/rest/mfa/{id}/verify`, JSON bodies, HTTP Basic `project_id:token`
//! mapped to an otpd key `key_id:secret`.
//!
//! Pure translation: the request becomes a core `StartInput` (the seed's `token_length`,
//! `valid_for`, `max_attempts`, `allow_alphas` as policy overrides, `message` and `from` as the
//! caller's wording and sender) sent through the tenant's first service; `verify` is a core
//! check. The MFA request `id` is the verification id written as a uuid.

pub mod error;
pub mod types;

use crate::auth::basic_credentials;
use crate::body::{media_type_is, parse_json, read_body};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::routing::{any, post};
use axum::{Json, Router};
use error::{FieldError, SwError};
use otpd_core::Error;
use otpd_core::destination::Channel;
use otpd_core::tenant::{Principal, Scope};
use otpd_core::verification::Status;
use serde::de::DeserializeOwned;
use types::{MfaRequest, MfaResponse, VerifyRequest, VerifyResponse, parse_wire_id, wire_id};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/relay/rest/mfa/sms", post(post_mfa_sms))
        .route("/api/relay/rest/mfa/call", post(post_mfa_call))
        .route("/api/relay/rest/mfa/{id}/verify", post(verify_mfa))
        // Other paths under the dialect's prefix get its own 404, not the native one.
        .route("/api/relay/rest/mfa/{id}", any(not_found))
        .route("/api/relay/rest/mfa/{id}/{action}", any(not_found))
        .method_not_allowed_fallback(|| async { SwError::MethodNotAllowed })
}

async fn not_found() -> SwError {
    SwError::NotFound
}

/// The caller, by HTTP Basic `project_id:token` = `key_id:secret`. A key without the `verify`
/// scope is refused like a wrong one: the seed documents 401 only.
pub struct SwAuth(pub Principal);

impl FromRequestParts<AppState> for SwAuth {
    type Rejection = SwError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (id, secret) = basic_credentials(&parts.headers).ok_or(SwError::Unauthorized)?;
        let who = state.engine.authenticate(&id, &secret).await?;
        who.require(Scope::Verify)
            .map_err(|_| SwError::Unauthorized)?;
        Ok(SwAuth(who))
    }
}

/// A JSON body (`application/json`, as the seed and the SDK send it) with SignalWire's errors.
pub struct SwJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for SwJson<T> {
    type Rejection = SwError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !media_type_is(req.headers(), &["application/json"]) {
            return Err(SwError::UnsupportedMediaType);
        }
        let bytes = read_body(req).await.map_err(|e| match e {
            ApiError::PayloadTooLarge => SwError::PayloadTooLarge,
            _ => SwError::Validation(vec![FieldError::invalid("body", "could not be read")]),
        })?;
        parse_json(&bytes).map(SwJson).map_err(|e| match e {
            Error::Invalid { field, reason } if reason.starts_with("duplicate field") => {
                SwError::Validation(vec![FieldError::invalid(&field, "must appear only once")])
            }
            Error::Invalid { field, reason } => {
                SwError::Validation(vec![FieldError::invalid(&field, reason.into_owned())])
            }
            other => SwError::from(other),
        })
    }
}

/// Request a MFA token via text message.
pub async fn post_mfa_sms(
    State(state): State<AppState>,
    SwAuth(who): SwAuth,
    SwJson(req): SwJson<MfaRequest>,
) -> Result<Json<MfaResponse>, SwError> {
    request_mfa(&state, &who, req, Channel::Sms).await
}

/// Request a MFA token via phone call: the message and the token, spoken twice.
pub async fn post_mfa_call(
    State(state): State<AppState>,
    SwAuth(who): SwAuth,
    SwJson(req): SwJson<MfaRequest>,
) -> Result<Json<MfaResponse>, SwError> {
    request_mfa(&state, &who, req, Channel::Call).await
}

async fn request_mfa(
    state: &AppState,
    who: &Principal,
    req: MfaRequest,
    channel: Channel,
) -> Result<Json<MfaResponse>, SwError> {
    let input = req.into_input(channel).map_err(SwError::Validation)?;
    let service = state.engine.service_by_number(who, None).await?;
    let started = state.engine.start_with_service(who, service, input).await?;
    let v = started.verification;
    Ok(Json(MfaResponse {
        id: wire_id(&v.id),
        success: true,
        to: v.to.as_str().to_owned(),
        channel: v.channel.as_str(),
    }))
}

/// Verify a token: `{"success": true}` for the right one, `{"success": false}` for a wrong one
/// that was counted, 404 once the request is unknown, verified, exhausted or expired.
pub async fn verify_mfa(
    State(state): State<AppState>,
    SwAuth(who): SwAuth,
    id: Result<Path<String>, PathRejection>,
    SwJson(req): SwJson<VerifyRequest>,
) -> Result<Json<VerifyResponse>, SwError> {
    let code = req.into_code().map_err(SwError::Validation)?;
    let id = id
        .ok()
        .and_then(|Path(s)| parse_wire_id(&s))
        .ok_or(SwError::NotFound)?;
    // Every SignalWire request lives in the tenant's first service (see `request_mfa`); with
    // no service yet there is nothing to verify, and nothing is created.
    let services = state.engine.list_services(&who).await?;
    let service = services
        .into_iter()
        .min_by_key(|s| s.number)
        .ok_or(SwError::NotFound)?;
    let checked = state
        .engine
        .check_verification(&who, service.id.as_str(), id.as_str(), code)
        .await?;
    let o = checked.outcome;
    if o.valid {
        return Ok(Json(VerifyResponse { success: true }));
    }
    // A counted wrong token leaves the request pending, or exhausts it with this very attempt.
    let counted = o.changed && matches!(o.status, Status::Pending | Status::MaxAttemptsReached);
    if counted {
        Ok(Json(VerifyResponse { success: false }))
    } else {
        Err(SwError::NotFound)
    }
}
