//! `/v1/services/{service_id}/verifications`: send, read, check, cancel.

use super::types::{
    CheckDestinationRequest, CheckRequest, CheckResponse, DeliveryView, StartVerificationRequest,
    VerificationResponse,
};
use crate::auth::Auth;
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use otpd_core::code::Code;
use otpd_core::destination::{Channel, Destination};
use otpd_core::engine::{Checked, StartInput};
use otpd_core::render::Locale;

impl StartVerificationRequest {
    fn into_input(self) -> otpd_core::Result<StartInput> {
        let channel = Channel::parse(&self.channel, "channel")?;
        Ok(StartInput {
            to: Some(Destination::parse_for(channel, &self.to, "to")?),
            channel: Some(channel),
            locale: self
                .locale
                .as_deref()
                .map(|l| Locale::parse(l, "locale"))
                .transpose()?,
            custom_code: self
                .custom_code
                .as_deref()
                .map(|c| Code::custom(c, "custom_code"))
                .transpose()?,
            ..StartInput::default()
        })
    }
}

fn check_response(c: Checked) -> Json<CheckResponse> {
    Json(CheckResponse {
        id: c.verification.id.to_string(),
        status: c.outcome.status.as_str().to_owned(),
        valid: c.outcome.valid,
        attempts_remaining: c.outcome.attempts_remaining,
    })
}

/// Send a code. Posting again for the same `to` and channel while one is pending re-sends:
/// a new code, the old one dies, the failed-attempt count carries over, the `id` stays.
#[utoipa::path(post, path = "/v1/services/{service_id}/verifications", tag = "verifications",
    params(("service_id" = String, Path)),
    request_body = StartVerificationRequest,
    responses(
        (status = 201, body = VerificationResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "send limit reached; see Retry-After")
    ),
    security(("basic" = [])))]
pub async fn post_verification(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(service_id): Path<String>,
    JsonBody(req): JsonBody<StartVerificationRequest>,
) -> Result<(StatusCode, Json<VerificationResponse>), ApiError> {
    let input = req.into_input()?;
    let started = state
        .engine
        .start_verification(&who, &service_id, input)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(VerificationResponse::new(
            &started.verification,
            state.engine.now(),
        )),
    ))
}

/// Read a verification.
#[utoipa::path(get, path = "/v1/services/{service_id}/verifications/{verification_id}", tag = "verifications",
    params(("service_id" = String, Path), ("verification_id" = String, Path)),
    responses((status = 200, body = VerificationResponse), (status = 404, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn get_verification(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((service_id, verification_id)): Path<(String, String)>,
) -> Result<Json<VerificationResponse>, ApiError> {
    let v = state
        .engine
        .verification(&who, &service_id, &verification_id)
        .await?;
    let delivery = state.engine.store.latest_delivery(&v.id).await?;
    let mut body = VerificationResponse::new(&v, state.engine.now());
    body.delivery = delivery.as_ref().map(DeliveryView::new);
    Ok(Json(body))
}

/// Check a code. 200 whatever the outcome: `valid` is true for the one check that approved.
#[utoipa::path(post, path = "/v1/services/{service_id}/verifications/{verification_id}/check", tag = "verifications",
    params(("service_id" = String, Path), ("verification_id" = String, Path)),
    request_body = CheckRequest,
    responses((status = 200, body = CheckResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn check_verification(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((service_id, verification_id)): Path<(String, String)>,
    JsonBody(req): JsonBody<CheckRequest>,
) -> Result<Json<CheckResponse>, ApiError> {
    let code = Code::candidate(&req.code, "code")?;
    let checked = state
        .engine
        .check_verification(&who, &service_id, &verification_id, code)
        .await?;
    Ok(check_response(checked))
}

/// Check a code against the pending verification for `to`.
#[utoipa::path(post, path = "/v1/services/{service_id}/checks", tag = "verifications",
    params(("service_id" = String, Path)),
    request_body = CheckDestinationRequest,
    responses((status = 200, body = CheckResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no pending verification for `to`")),
    security(("basic" = [])))]
pub async fn check_destination(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(service_id): Path<String>,
    JsonBody(req): JsonBody<CheckDestinationRequest>,
) -> Result<Json<CheckResponse>, ApiError> {
    let to = Destination::parse_any(&req.to, "to")?;
    let code = Code::candidate(&req.code, "code")?;
    let checked = state
        .engine
        .check_destination(&who, &service_id, &to, code)
        .await?;
    Ok(check_response(checked))
}

/// Cancel a pending verification.
#[utoipa::path(post, path = "/v1/services/{service_id}/verifications/{verification_id}/cancel", tag = "verifications",
    params(("service_id" = String, Path), ("verification_id" = String, Path)),
    responses((status = 200, body = VerificationResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "no longer pending")),
    security(("basic" = [])))]
pub async fn cancel_verification(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((service_id, verification_id)): Path<(String, String)>,
) -> Result<Json<VerificationResponse>, ApiError> {
    let v = state
        .engine
        .cancel_verification(&who, &service_id, &verification_id)
        .await?;
    Ok(Json(VerificationResponse::new(&v, state.engine.now())))
}
