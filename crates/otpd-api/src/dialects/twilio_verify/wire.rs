//! The JSON resources Twilio Verify v2 answers with, field for field as the official SDKs read
//! them, built from core values. Dates are ISO 8601 in UTC (`2026-11-23T12:00:00Z`), the form
//! the SDKs parse. Features otpd does not have (lookup, PSD2, push, TOTP, WhatsApp, passkeys,
//! SNA) are present with their "off" values, so clients that read them find them.

use crate::time::rfc3339;
use otpd_core::clock::Timestamp;
use otpd_core::ids::TenantId;
use otpd_core::service::Service;
use otpd_core::verification::{Status, Verification};
use serde::Serialize;
use serde_json::{Value, json};

/// Twilio's `account_sid` for a tenant: `AC` + the tenant id's 32 hex digits. Stable, unique
/// per tenant, and shaped as SDKs expect.
pub fn account_sid(tenant: &TenantId) -> String {
    let hex = tenant.as_str().get(TenantId::PREFIX.len()..).unwrap_or("");
    format!("AC{hex}")
}

#[derive(Debug, Serialize)]
pub struct ServiceJson {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: String,
    pub code_length: u32,
    pub lookup_enabled: bool,
    pub psd2_enabled: bool,
    pub skip_sms_to_landlines: bool,
    pub dtmf_input_required: bool,
    pub tts_name: Option<String>,
    pub do_not_share_warning_enabled: bool,
    pub custom_code_enabled: bool,
    pub push: Value,
    pub totp: Value,
    pub default_template_sid: Option<String>,
    pub whatsapp: Value,
    pub passkeys: Value,
    pub verify_event_subscription_enabled: bool,
    pub date_created: String,
    pub date_updated: String,
    pub url: String,
    pub links: Value,
}

impl ServiceJson {
    /// `base` is `http(s)://host/v2/Services`, the collection the resource lives in.
    pub fn new(s: &Service, base: &str) -> ServiceJson {
        let url = format!("{base}/{}", s.id);
        let link = |name: &str| format!("{url}/{name}");
        ServiceJson {
            sid: s.id.to_string(),
            account_sid: account_sid(&s.tenant_id),
            friendly_name: s.config.name.clone(),
            code_length: s.config.code_length,
            lookup_enabled: false,
            psd2_enabled: false,
            skip_sms_to_landlines: false,
            dtmf_input_required: false,
            tts_name: None,
            do_not_share_warning_enabled: false,
            custom_code_enabled: s.config.custom_code_enabled,
            push: json!({"include_date": false, "apn_credential_sid": null, "fcm_credential_sid": null}),
            totp: json!({"issuer": null, "time_step": null, "code_length": null, "skew": null}),
            default_template_sid: None,
            whatsapp: json!({"msg_service_sid": null, "from": null}),
            passkeys: json!({"relying_party": null, "authenticator_attachment": null,
                "discoverable_credentials": null, "user_verification": null}),
            verify_event_subscription_enabled: false,
            date_created: rfc3339(s.created_at),
            // otpd services are not edited after creation.
            date_updated: rfc3339(s.created_at),
            links: json!({
                "verification_checks": link("VerificationCheck"),
                "verifications": link("Verifications"),
            }),
            url,
        }
    }
}

/// `GET /v2/Services`: one page holding every service (a tenant has few).
pub fn service_page(services: Vec<ServiceJson>, base: &str) -> Value {
    let page_size = services.len().max(1);
    let first = format!("{base}?PageSize={page_size}&Page=0");
    json!({
        "services": services,
        "meta": {
            "page": 0,
            "page_size": page_size,
            "first_page_url": first,
            "previous_page_url": null,
            "url": first,
            "next_page_url": null,
            "key": "services",
        }
    })
}

#[derive(Debug, Serialize)]
pub struct SendAttempt {
    pub time: Option<String>,
    pub channel: &'static str,
    /// otpd keeps no per-send sid.
    pub attempt_sid: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VerificationJson {
    pub sid: String,
    pub service_sid: String,
    pub account_sid: String,
    pub to: String,
    pub channel: &'static str,
    pub status: &'static str,
    pub valid: bool,
    pub lookup: Value,
    pub amount: Option<String>,
    pub payee: Option<String>,
    pub send_code_attempts: Vec<SendAttempt>,
    pub date_created: String,
    pub date_updated: String,
    pub sna: Option<Value>,
    pub url: String,
}

impl VerificationJson {
    /// `base` is the service's URL (`.../v2/Services/VA...`).
    pub fn new(v: &Verification, now: Timestamp, base: &str) -> VerificationJson {
        let status = v.status_at(now);
        let channel = v.channel.as_str();
        // One entry per send. otpd records when the first send happened (creation) and when
        // the verification last changed, not every send's time: the first entry has the
        // creation time, a later one the newest change, those between none.
        let n = v.send_count.max(1) as usize;
        let send_code_attempts = (0..n)
            .map(|i| SendAttempt {
                time: if i == 0 {
                    Some(rfc3339(v.created_at))
                } else if i == n - 1 {
                    Some(rfc3339(v.updated_at))
                } else {
                    None
                },
                channel,
                attempt_sid: None,
            })
            .collect();
        VerificationJson {
            sid: v.id.to_string(),
            service_sid: v.service_id.to_string(),
            account_sid: account_sid(&v.tenant_id),
            to: v.to.as_str().to_owned(),
            channel,
            status: status.as_str(),
            valid: status == Status::Approved,
            lookup: json!({"carrier": null}),
            amount: None,
            payee: None,
            send_code_attempts,
            date_created: rfc3339(v.created_at),
            date_updated: rfc3339(v.updated_at),
            sna: None,
            url: format!("{base}/Verifications/{}", v.id),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CheckJson {
    pub sid: String,
    pub service_sid: String,
    pub account_sid: String,
    pub to: String,
    pub channel: &'static str,
    pub status: &'static str,
    pub valid: bool,
    pub amount: Option<String>,
    pub payee: Option<String>,
    pub date_created: String,
    pub date_updated: String,
    pub sna_attempts_error_codes: Vec<Value>,
}

impl CheckJson {
    pub fn new(v: &Verification, status: Status, valid: bool) -> CheckJson {
        CheckJson {
            sid: v.id.to_string(),
            service_sid: v.service_id.to_string(),
            account_sid: account_sid(&v.tenant_id),
            to: v.to.as_str().to_owned(),
            channel: v.channel.as_str(),
            status: status.as_str(),
            valid,
            amount: None,
            payee: None,
            date_created: rfc3339(v.created_at),
            date_updated: rfc3339(v.updated_at),
            sna_attempts_error_codes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_sid_is_the_tenant_hex() {
        let t = TenantId::parse("TN0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(account_sid(&t), "AC0123456789abcdef0123456789abcdef");
    }
}
