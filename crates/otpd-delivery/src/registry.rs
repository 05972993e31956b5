//! Builds providers from `[[providers]]` entries: each kind reads its own settings (unknown
//! keys refused). Building never touches the network: sessions open on first use.

use crate::provider::Provider;
use crate::smpp::{Receipts, SmppProvider, SmppSettings};
use crate::smtp::{SmtpProvider, SmtpSettings};
use crate::twilio::{TwilioProvider, TwilioSettings};
use crate::webhook::{WebhookProvider, WebhookSettings};
use otpd_core::clock::Clock;
use otpd_core::ports::Store;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The kinds this build of otpd has, for error messages.
pub const KINDS: &[&str] = &["outbox", "smpp", "twilio", "webhook", "smtp"];

/// What providers that report back (SMPP receipts) need.
#[derive(Clone)]
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
}

/// A built provider and what the rest of otpd needs to know about it.
pub struct Built {
    pub provider: Arc<dyn Provider>,
    /// For `kind = "twilio"` with a `public_url`: the token and exact callback URL that
    /// status callbacks are signed with.
    pub twilio_hook: Option<(String, String)>,
}

fn settings<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// `settings` holds the entry's keys other than `name` and `kind`. The `outbox` kind is
/// built by the caller (it shares the store); this returns `Ok(None)` for it.
pub fn build(
    name: &str,
    kind: &str,
    settings_json: serde_json::Value,
    deps: &Deps,
) -> Result<Option<Built>, String> {
    match kind {
        "outbox" => Ok(None),
        "twilio" => {
            let s: TwilioSettings = settings(settings_json)?;
            let p = TwilioProvider::new(name, &s)?;
            let twilio_hook = p
                .status_callback()
                .map(|url| (p.auth_token().to_owned(), url.to_owned()));
            Ok(Some(Built {
                provider: Arc::new(p),
                twilio_hook,
            }))
        }
        "webhook" => {
            let s: WebhookSettings = settings(settings_json)?;
            Ok(Some(Built {
                provider: Arc::new(WebhookProvider::new(name, &s)?),
                twilio_hook: None,
            }))
        }
        "smpp" => {
            let s: SmppSettings = settings(settings_json)?;
            let receipts = Receipts {
                provider: name.to_owned(),
                store: deps.store.clone(),
                clock: deps.clock.clone(),
            };
            Ok(Some(Built {
                provider: Arc::new(SmppProvider::new(name, &s, receipts)?),
                twilio_hook: None,
            }))
        }
        "smtp" => {
            let s: SmtpSettings = settings(settings_json)?;
            Ok(Some(Built {
                provider: Arc::new(SmtpProvider::new(name, &s)?),
                twilio_hook: None,
            }))
        }
        other => Err(format!("kind {other:?} is not one of {}", KINDS.join(", "))),
    }
}
