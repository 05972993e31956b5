//! Service resources: create (admin scope), fetch, list.

use super::error::TwError;
use super::form::TwForm;
use super::wire::{ServiceJson, service_page};
use super::{TwAuth, TwPath, services_url};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use otpd_core::service::NewService;
use otpd_core::tenant::Scope;
use serde_json::Value;

/// Twilio's limits for these parameters.
const FRIENDLY_NAME_MAX: usize = 30;
const CODE_LENGTH: (u32, u32) = (4, 10);

/// Twilio switches otpd does not have. `false` is accepted; `true` would ask for behaviour
/// otpd cannot give, so it is refused rather than silently dropped.
const UNSUPPORTED_SWITCHES: &[&str] = &[
    "LookupEnabled",
    "SkipSmsToLandlines",
    "DtmfInputRequired",
    "Psd2Enabled",
    "DoNotShareWarningEnabled",
    "VerifyEventSubscriptionEnabled",
];

pub async fn create(
    State(state): State<AppState>,
    TwAuth(who): TwAuth,
    headers: HeaderMap,
    TwForm(p): TwForm,
) -> Result<(StatusCode, Json<ServiceJson>), TwError> {
    who.require(Scope::Admin)
        .map_err(|_| TwError::forbidden())?;
    let name = p.required("FriendlyName")?;
    if name.chars().count() > FRIENDLY_NAME_MAX {
        return Err(TwError::invalid(
            "FriendlyName",
            format!("must be at most {FRIENDLY_NAME_MAX} characters"),
        ));
    }
    let code_length = p.integer("CodeLength", CODE_LENGTH.0, CODE_LENGTH.1)?;
    let custom_code_enabled = p.boolean("CustomCodeEnabled")?;
    for switch in UNSUPPORTED_SWITCHES {
        if p.boolean(switch)? == Some(true) {
            return Err(TwError::invalid(switch, "is not supported by otpd"));
        }
    }
    let new = NewService {
        code_length,
        custom_code_enabled,
        ..NewService::named(name)
    };
    let service = state.engine.create_service(&who, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(ServiceJson::new(&service, &services_url(&headers))),
    ))
}

pub async fn fetch(
    State(state): State<AppState>,
    TwAuth(who): TwAuth,
    headers: HeaderMap,
    TwPath(sid): TwPath<String>,
) -> Result<Json<ServiceJson>, TwError> {
    let service = state.engine.service(&who, &sid).await?;
    Ok(Json(ServiceJson::new(&service, &services_url(&headers))))
}

pub async fn list(
    State(state): State<AppState>,
    TwAuth(who): TwAuth,
    headers: HeaderMap,
) -> Result<Json<Value>, TwError> {
    let base = services_url(&headers);
    let services = state.engine.list_services(&who).await?;
    let items = services
        .iter()
        .map(|s| ServiceJson::new(s, &base))
        .collect();
    Ok(Json(service_page(items, &base)))
}
