//! The `twilio` provider: Twilio's REST API (also SignalWire's compatibility API). SMS through
//! Messages, calls through Calls with inline TwiML that says the code; Basic auth with the
//! account SID and token; `StatusCallback` points at otpd's `/v1/hooks/twilio/status`.

use crate::http;
use crate::in_flight::InFlight;
use crate::provider::{OutboundMessage, Provider, ProviderError, Rendered, SendReceipt};
use crate::secret;
use async_trait::async_trait;
use otpd_core::destination::Channel;
use serde::Deserialize;
use std::time::Duration;

/// `[[providers]]` settings of `kind = "twilio"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSettings {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: Option<String>,
    pub auth_token_env: Option<String>,
    /// The caller id / sender number.
    pub from: String,
    /// otpd's own public base URL (`https://otp.example.com`); when set, Twilio is asked to
    /// post status changes to `<public_url>/v1/hooks/twilio/status?provider=<name>`.
    pub public_url: Option<String>,
    /// `<Say voice=...>`.
    #[serde(default = "default_voice")]
    pub voice: String,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Most requests open at once to this provider.
    #[serde(default = "crate::in_flight::default_http")]
    pub max_in_flight: usize,
}

fn default_base_url() -> String {
    "https://api.twilio.com".into()
}
fn default_voice() -> String {
    "alice".into()
}
fn default_timeout() -> u64 {
    10
}

pub struct TwilioProvider {
    name: String,
    base_url: String,
    account_sid: String,
    auth_token: String,
    from: String,
    voice: String,
    status_callback: Option<String>,
    client: reqwest::Client,
    in_flight: InFlight,
}

/// Where Twilio posts status changes for provider `name` (the URL its signature covers).
pub fn status_callback_url(public_url: &str, name: &str) -> String {
    let name: String = form_encode(name);
    format!(
        "{}/v1/hooks/twilio/status?provider={name}",
        public_url.trim_end_matches('/')
    )
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl TwilioProvider {
    pub fn new(name: &str, s: &TwilioSettings) -> Result<TwilioProvider, String> {
        if !s.base_url.starts_with("http://") && !s.base_url.starts_with("https://") {
            return Err("base_url must start with http:// or https://".into());
        }
        if s.account_sid.trim().is_empty() {
            return Err("account_sid must not be empty".into());
        }
        if s.from.trim().is_empty() {
            return Err("from must not be empty".into());
        }
        let auth_token = secret::required(
            s.auth_token.as_deref(),
            s.auth_token_env.as_deref(),
            "auth_token",
        )?;
        if s.timeout_seconds == 0 {
            return Err("timeout_seconds must be at least 1".into());
        }
        Ok(TwilioProvider {
            name: name.to_owned(),
            base_url: s.base_url.trim_end_matches('/').to_owned(),
            account_sid: s.account_sid.clone(),
            auth_token,
            from: s.from.clone(),
            voice: s.voice.clone(),
            status_callback: s
                .public_url
                .as_deref()
                .map(|u| status_callback_url(u, name)),
            client: http::client(Duration::from_secs(s.timeout_seconds))?,
            in_flight: InFlight::new(s.max_in_flight)?,
        })
    }

    pub fn auth_token(&self) -> &str {
        &self.auth_token
    }

    pub fn status_callback(&self) -> Option<&str> {
        self.status_callback.as_deref()
    }
}

/// TwiML that says `speech` (already spelled digit by digit, twice) in the caller's language.
pub fn say_twiml(speech: &str, voice: &str, locale: &str) -> String {
    format!(
        "<Response><Say voice=\"{}\" language=\"{}\">{}</Say></Response>",
        xml_escape(voice),
        xml_escape(&twilio_language(locale)),
        xml_escape(speech)
    )
}

/// Twilio's `<Say>` wants a language with its region (`en-US`); a bare language gets its
/// most common one.
fn twilio_language(locale: &str) -> String {
    if locale.contains('-') {
        return locale.to_owned();
    }
    let region = match locale {
        "en" => "US",
        "pt" => "BR",
        "es" => "ES",
        "de" => "DE",
        "fr" => "FR",
        "it" => "IT",
        "nl" => "NL",
        "ja" => "JP",
        "ko" => "KR",
        "zh" => "CN",
        "sv" => "SE",
        "da" => "DK",
        "nb" => "NO",
        "pl" => "PL",
        "ru" => "RU",
        _ => return locale.to_owned(),
    };
    format!("{locale}-{region}")
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[derive(Deserialize)]
struct Created {
    sid: Option<String>,
}

#[async_trait]
impl Provider for TwilioProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, channel: Channel) -> bool {
        matches!(channel, Channel::Sms | Channel::Call)
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, ProviderError> {
        let from = msg.sender.as_deref().unwrap_or(&self.from);
        let mut form: Vec<(&str, String)> = vec![("To", msg.to.clone()), ("From", from.to_owned())];
        let resource = match &msg.body {
            Rendered::Text(text) => {
                form.push(("Body", text.clone()));
                "Messages"
            }
            Rendered::Speech(speech) => {
                form.push(("Twiml", say_twiml(speech, &self.voice, &msg.locale)));
                "Calls"
            }
            Rendered::Email { .. } => {
                return Err(ProviderError::Permanent(
                    "twilio cannot deliver e-mail".into(),
                ));
            }
        };
        if let Some(cb) = &self.status_callback {
            form.push(("StatusCallback", cb.clone()));
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{resource}.json",
            self.base_url, self.account_sid
        );
        let _open = self.in_flight.enter().await;
        let resp = self
            .client
            .post(url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header("I-Twilio-Idempotency-Token", &msg.idempotency_key)
            .form(&form)
            .send()
            .await
            .map_err(|e| http::transport_error(&e))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            // Twilio's error body is {code, message, status}; it never echoes the code we sent.
            let detail = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .map(|v| {
                    format!(
                        "{} {}",
                        v.get("code").map(|c| c.to_string()).unwrap_or_default(),
                        v.get("message").and_then(|m| m.as_str()).unwrap_or("")
                    )
                })
                .unwrap_or_default();
            return Err(http::status_error(status, detail.trim()));
        }
        let sid = serde_json::from_str::<Created>(&body)
            .ok()
            .and_then(|c| c.sid);
        Ok(SendReceipt {
            provider_ref: sid,
            kept: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twiml_says_the_digits_and_escapes() {
        let t = say_twiml("Your A&B code is: 1, 2. Again: 1, 2.", "alice", "en");
        assert_eq!(
            t,
            "<Response><Say voice=\"alice\" language=\"en-US\">Your A&amp;B code is: 1, 2. Again: 1, 2.</Say></Response>"
        );
        assert!(say_twiml("x", "alice", "pt-BR").contains("language=\"pt-BR\""));
    }

    #[test]
    fn callback_url_names_the_provider() {
        assert_eq!(
            status_callback_url("https://otp.example.com/", "tw 1"),
            "https://otp.example.com/v1/hooks/twilio/status?provider=tw%201"
        );
    }
}
