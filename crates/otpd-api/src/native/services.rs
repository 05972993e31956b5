//! `/v1/services`: service profiles.

use super::types::{CreateServiceRequest, ServiceList, ServiceResponse};
use crate::auth::Auth;
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use otpd_core::code::Alphabet;
use otpd_core::render::Locale;
use otpd_core::service::{NewService, SendLimit};

impl CreateServiceRequest {
    fn into_new(self) -> otpd_core::Result<NewService> {
        Ok(NewService {
            name: self.name,
            code_length: self.code_length,
            alphabet: self.alphabet.as_deref().map(Alphabet::parse).transpose()?,
            ttl_seconds: self.ttl_seconds,
            max_check_attempts: self.max_check_attempts,
            max_sends: self.max_sends,
            custom_code_enabled: self.custom_code_enabled,
            allowed_countries: self.allowed_countries,
            send_limit: self.send_limit.map(|l| SendLimit {
                count: l.count,
                window_seconds: l.window_seconds,
            }),
            domain: self.domain,
            default_locale: self
                .default_locale
                .as_deref()
                .map(|l| Locale::parse(l, "default_locale"))
                .transpose()?,
        })
    }
}

/// Create a service (admin scope).
#[utoipa::path(post, path = "/v1/services", tag = "services",
    request_body = CreateServiceRequest,
    responses(
        (status = 201, body = ServiceResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 415, body = ErrorBody)
    ),
    security(("basic" = [])))]
pub async fn post_service(
    State(state): State<AppState>,
    Auth(who): Auth,
    JsonBody(req): JsonBody<CreateServiceRequest>,
) -> Result<(StatusCode, Json<ServiceResponse>), ApiError> {
    let service = state.engine.create_service(&who, req.into_new()?).await?;
    Ok((StatusCode::CREATED, Json(ServiceResponse::from(&service))))
}

/// List the tenant's services.
#[utoipa::path(get, path = "/v1/services", tag = "services",
    responses((status = 200, body = ServiceList), (status = 401, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn list_services(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<ServiceList>, ApiError> {
    let services = state.engine.list_services(&who).await?;
    Ok(Json(ServiceList {
        services: services.iter().map(ServiceResponse::from).collect(),
    }))
}

/// Read one service.
#[utoipa::path(get, path = "/v1/services/{service_id}", tag = "services",
    params(("service_id" = String, Path)),
    responses((status = 200, body = ServiceResponse), (status = 404, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn get_service(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(service_id): Path<String>,
) -> Result<Json<ServiceResponse>, ApiError> {
    let service = state.engine.service(&who, &service_id).await?;
    Ok(Json(ServiceResponse::from(&service)))
}
