//! `POST /v1/hooks/twilio/status`: Twilio's (and SignalWire's) status callbacks. The
//! `X-Twilio-Signature` is checked as Twilio documents it: base64(HMAC-SHA1(auth token, the
//! callback URL + every POST parameter's name and value, sorted by name)). The URL is the one
//! otpd gave Twilio (from the provider's `public_url`), not the one this request arrived at,
//! so proxies in between do not matter.

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use otpd_core::Error;
use otpd_core::delivery::JobStatus;
use std::collections::HashMap;

/// A Twilio account whose callbacks are accepted.
#[derive(Clone)]
pub struct TwilioHook {
    pub auth_token: String,
    /// The exact `StatusCallback` URL given to Twilio (what its signature covers).
    pub callback_url: String,
}

/// By provider name (the callback URL's `provider` parameter).
#[derive(Clone, Default)]
pub struct TwilioHooks(pub HashMap<String, TwilioHook>);

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/hooks/twilio/status", post(post_twilio_status))
}

/// What Twilio signs: the URL, then each parameter's name and value, sorted by name.
fn signed_data(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    data
}

fn mac(key: &str, data: &str) -> Option<Hmac<sha1::Sha1>> {
    let mut m = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key.as_bytes()).ok()?;
    m.update(data.as_bytes());
    Some(m)
}

/// Twilio's signature over `url` and the form `params` (base64).
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    mac(auth_token, &signed_data(url, params))
        .map(|m| base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Constant-time check of a signature header against the expected MAC.
fn signature_ok(auth_token: &str, url: &str, params: &[(String, String)], given: &str) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(given.trim()) else {
        return false;
    };
    mac(auth_token, &signed_data(url, params)).is_some_and(|m| m.verify_slice(&given).is_ok())
}

/// Twilio's message and call statuses that end a delivery; the others are progress.
fn final_status(params: &HashMap<&str, &str>) -> Option<JobStatus> {
    if let Some(s) = params
        .get("MessageStatus")
        .or_else(|| params.get("SmsStatus"))
    {
        return match *s {
            "delivered" | "read" => Some(JobStatus::Delivered),
            "undelivered" => Some(JobStatus::Undelivered),
            "failed" => Some(JobStatus::Failed),
            _ => None,
        };
    }
    match *params.get("CallStatus")? {
        "completed" => Some(JobStatus::Delivered),
        "busy" | "no-answer" => Some(JobStatus::Undelivered),
        "failed" | "canceled" => Some(JobStatus::Failed),
        _ => None,
    }
}

async fn post_twilio_status(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(ApiError::UnsupportedMediaType(
            "application/x-www-form-urlencoded",
        ));
    }
    let provider = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "provider")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| Error::invalid("provider", "the callback URL names no provider"))?;
    let hook = state
        .twilio_hooks
        .0
        .get(&provider)
        .ok_or(Error::NotFound("provider"))?;
    let params: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let given = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !signature_ok(&hook.auth_token, &hook.callback_url, &params, given) {
        tracing::warn!(provider = %provider, "a Twilio status callback with a bad signature was refused");
        return Err(Error::Forbidden("X-Twilio-Signature does not match".into()).into());
    }
    let by_name: HashMap<&str, &str> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let sid = by_name
        .get("MessageSid")
        .or_else(|| by_name.get("CallSid"))
        .copied()
        .ok_or_else(|| Error::invalid("MessageSid", "neither MessageSid nor CallSid is given"))?;
    if let Some(status) = final_status(&by_name) {
        let found = state
            .engine
            .store
            .mark_delivery(&provider, sid, status, state.engine.now())
            .await?;
        if found {
            metrics::counter!("otpd_deliveries_total", "provider" => provider.clone(), "status" => status.as_str())
                .increment(1);
        } else {
            tracing::debug!(provider = %provider, "a status callback for a message otpd does not know");
        }
    }
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_documented_example() {
        // The example from Twilio's "Webhooks security" page.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let sig = twilio_signature("12345", url, &params);
        assert_eq!(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(signature_ok("12345", url, &params, &sig));
        assert!(!signature_ok(
            "12345",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgR="
        ));
        assert!(!signature_ok("wrong", url, &params, &sig));
        assert!(!signature_ok("12345", url, &params, "not base64!"));
    }
}
