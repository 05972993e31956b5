//! Credentials from HTTP headers. Basic `key_id:secret` and Bearer `key_id.secret` here; each
//! dialect adds its own carrier (Exigo's `login@company`, SOAP headers, APIM keys) on top of
//! the same engine calls. Keys are never read from the query string.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use otpd_core::Error;
use otpd_core::engine::Engine;
use otpd_core::tenant::Principal;

/// `Authorization: Basic ...` decoded to (user, password).
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Basic or Bearer credentials checked against the key store.
pub async fn principal(engine: &Engine, headers: &HeaderMap) -> Result<Principal, Error> {
    if let Some((id, secret)) = basic_credentials(headers) {
        return engine.authenticate(&id, &secret).await;
    }
    if let Some(token) = bearer_token(headers) {
        return engine.authenticate_token(token).await;
    }
    Err(Error::Unauthorized)
}

/// The caller of a native route.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        principal(&state.engine, &parts.headers)
            .await
            .map(Auth)
            .map_err(ApiError::Core)
    }
}
