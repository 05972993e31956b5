//! Request and response bodies of the native API.

use crate::time::rfc3339;
use otpd_core::service::Service;
use otpd_core::verification::Verification;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, Serialize, ToSchema, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct SendLimitBody {
    /// Sends allowed per destination inside the window.
    pub count: u32,
    pub window_seconds: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceRequest {
    /// Shown to users in messages ("Your {name} verification code is ..."). 1-30 characters.
    pub name: String,
    /// 4..=20, default 6.
    pub code_length: Option<u32>,
    /// `digits` (default) or `alphanumeric` (no 0/O, 1/I/L).
    pub alphabet: Option<String>,
    /// 1..=604800, default 600.
    pub ttl_seconds: Option<u64>,
    /// 1..=100, default 5.
    pub max_check_attempts: Option<u32>,
    /// Sends per verification, 1..=20, default 5.
    pub max_sends: Option<u32>,
    /// Allow callers to choose the code (`custom_code`). Default false.
    pub custom_code_enabled: Option<bool>,
    /// ISO 3166-1 alpha-2 regions phone destinations may be in; absent or empty: all.
    pub allowed_countries: Option<Vec<String>>,
    /// Per-destination send limit; default 5 per 600 s.
    pub send_limit: Option<SendLimitBody>,
    /// Adds the WebOTP / iOS origin-bound line `@domain #code` to SMS.
    pub domain: Option<String>,
    /// BCP 47 tag for messages when a verification names none; default `en`.
    pub default_locale: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceResponse {
    pub id: String,
    /// Small per-tenant number, for dialects that select a service by integer.
    pub number: i64,
    pub name: String,
    pub code_length: u32,
    pub alphabet: String,
    pub ttl_seconds: u64,
    pub max_check_attempts: u32,
    pub max_sends: u32,
    pub custom_code_enabled: bool,
    pub allowed_countries: Vec<String>,
    pub send_limit: SendLimitBody,
    pub domain: Option<String>,
    pub default_locale: String,
    pub created_at: String,
}

impl From<&Service> for ServiceResponse {
    fn from(s: &Service) -> Self {
        let c = &s.config;
        ServiceResponse {
            id: s.id.to_string(),
            number: s.number,
            name: c.name.clone(),
            code_length: c.code_length,
            alphabet: match c.alphabet {
                otpd_core::code::Alphabet::Digits => "digits".into(),
                otpd_core::code::Alphabet::Alphanumeric => "alphanumeric".into(),
            },
            ttl_seconds: c.ttl_seconds,
            max_check_attempts: c.max_check_attempts,
            max_sends: c.max_sends,
            custom_code_enabled: c.custom_code_enabled,
            allowed_countries: c.allowed_countries.clone(),
            send_limit: SendLimitBody {
                count: c.send_limit.count,
                window_seconds: c.send_limit.window_seconds,
            },
            domain: c.domain.clone(),
            default_locale: c.default_locale.as_str().to_owned(),
            created_at: rfc3339(s.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceList {
    pub services: Vec<ServiceResponse>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartVerificationRequest {
    /// E.164 phone number for `sms` and `call`, e-mail address for `email`.
    pub to: String,
    /// `sms`, `call` or `email`.
    pub channel: String,
    /// BCP 47 language tag for the message; default: the service's.
    pub locale: Option<String>,
    /// Caller-chosen code (4-20 letters or digits), if the service allows it.
    pub custom_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationResponse {
    pub id: String,
    pub service_id: String,
    pub to: String,
    pub channel: String,
    /// pending, approved, canceled, expired, max_attempts_reached or failed.
    pub status: String,
    pub locale: String,
    /// Codes sent so far for this verification.
    pub send_count: u32,
    /// Failed checks so far (never reset by a re-send).
    pub failed_attempts: u32,
    pub attempts_remaining: u32,
    pub expires_at: String,
    pub created_at: String,
    pub updated_at: String,
    /// Where the newest send stands (read on `GET` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// queued (also while being sent), sent (the provider took it), delivered, undelivered,
    /// failed, or dropped (superseded, canceled or expired before it could be sent).
    pub status: String,
    /// The provider that took it, once one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub attempts: u32,
}

impl DeliveryView {
    pub fn new(d: &otpd_core::delivery::DeliveryState) -> Self {
        use otpd_core::delivery::JobStatus;
        DeliveryView {
            status: match d.status {
                JobStatus::Sending => "queued",
                other => other.as_str(),
            }
            .to_owned(),
            provider: d.provider.clone(),
            attempts: d.attempts,
        }
    }
}

impl VerificationResponse {
    pub fn new(v: &Verification, now: otpd_core::clock::Timestamp) -> Self {
        VerificationResponse {
            id: v.id.to_string(),
            service_id: v.service_id.to_string(),
            to: v.to.as_str().to_owned(),
            channel: v.channel.as_str().to_owned(),
            status: v.status_at(now).as_str().to_owned(),
            locale: v.locale.as_str().to_owned(),
            send_count: v.send_count,
            failed_attempts: v.attempts,
            attempts_remaining: v.attempts_remaining(),
            expires_at: rfc3339(v.expires_at),
            created_at: rfc3339(v.created_at),
            updated_at: rfc3339(v.updated_at),
            delivery: None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The code the user typed.
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckDestinationRequest {
    /// The destination the pending verification was sent to.
    pub to: String,
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    pub id: String,
    /// The verification's status after this check.
    pub status: String,
    /// True only for the one check that approved the verification.
    pub valid: bool,
    pub attempts_remaining: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxMessageResponse {
    pub id: i64,
    pub to: String,
    pub channel: String,
    pub body: String,
    pub created_at: String,
}
