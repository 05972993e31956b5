//! Twilio Verify v2 (DESIGN §3): `/v2/Services`, `/v2/Services/{sid}/Verifications`,
//! `/v2/Services/{sid}/VerificationCheck`, form-encoded requests, Twilio's JSON and errors, so
//! the official twilio SDKs work unchanged against otpd.
//!
//! Credentials: HTTP Basic `key_id:secret`. otpd key ids are `SK…`, the shape of a Twilio API
//! key sid, so `Client("SK…", secret)` works as with Twilio. A Verify service is an otpd
//! service (ids are already `VA` + 32 hex), a Verification an otpd verification (`VE…`); the
//! `account_sid` in answers is `AC` + the key's tenant id hex. The core does all the logic.

pub mod error;
pub mod form;
mod services;
mod verifications;
pub mod wire;

use crate::auth::basic_credentials;
use crate::soap::wsdl::address;
use crate::state::AppState;
use axum::Router;
use axum::extract::{FromRequestParts, Path};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::routing::{any, get, post};
use error::TwError;
use otpd_core::tenant::{Principal, Scope};
use serde::de::DeserializeOwned;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/Services", post(services::create).get(services::list))
        .route("/v2/Services/{sid}", get(services::fetch))
        .route(
            "/v2/Services/{sid}/Verifications",
            post(verifications::create),
        )
        .route(
            "/v2/Services/{sid}/Verifications/{vsid}",
            get(verifications::fetch).post(verifications::update),
        )
        .route(
            "/v2/Services/{sid}/VerificationCheck",
            post(verifications::check),
        )
        // Everything else under /v2 gets Twilio's 404, not the native one.
        .route("/v2/{*rest}", any(not_found))
        .method_not_allowed_fallback(|| async { TwError::method_not_allowed() })
}

async fn not_found() -> TwError {
    TwError::not_found()
}

/// The caller, by HTTP Basic `key_id:secret`. A key without the `verify` scope is refused
/// with the same 20003 as a wrong one.
pub struct TwAuth(pub Principal);

impl FromRequestParts<AppState> for TwAuth {
    type Rejection = TwError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (id, secret) = basic_credentials(&parts.headers).ok_or_else(TwError::unauthorized)?;
        let who = state.engine.authenticate(&id, &secret).await?;
        who.require(Scope::Verify)
            .map_err(|_| TwError::unauthorized())?;
        Ok(TwAuth(who))
    }
}

/// Path segments (sids); one that cannot be read (bad percent-encoding) names nothing: 20404.
pub struct TwPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for TwPath<T> {
    type Rejection = TwError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| TwPath(t))
            .map_err(|_| TwError::not_found())
    }
}

/// `http(s)://<Host>/v2/Services`, the base of every resource `url` in answers.
fn services_url(headers: &HeaderMap) -> String {
    address(headers, "/v2/Services")
}
