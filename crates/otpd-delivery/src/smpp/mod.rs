//! The `smpp` provider: SMPP 3.4 over one transceiver session (the `rusmpp` codec). SMS only.
//! The session starts on the first send (building the provider opens nothing) and then stays
//! up, reconnecting with backoff, so receipts keep arriving between sends.

mod encoding;
mod receipts;
mod session;

pub use encoding::{encode, parse_receipt};
pub use receipts::Receipts;

use crate::in_flight::InFlight;
use crate::provider::{OutboundMessage, Provider, ProviderError, Rendered, SendReceipt};
use crate::secret;
use async_trait::async_trait;
use otpd_core::destination::Channel;
use rusmpp::pdus::SubmitSm;
use rusmpp::types::OctetString;
use rusmpp::values::{DataCoding, Npi, RegisteredDelivery, Ton};
use serde::Deserialize;
use session::{SessionConfig, Submit};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// `[[providers]]` settings of `kind = "smpp"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppSettings {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    pub system_id: String,
    pub password: Option<String>,
    pub password_env: Option<String>,
    #[serde(default)]
    pub system_type: String,
    /// The sender: a number (`15550001111`) or an alphanumeric id (`Acme`).
    pub source_addr: String,
    /// Default: 5 (alphanumeric) for a source with letters, else 1 (international).
    pub source_ton: Option<u8>,
    /// Default: 0 for an alphanumeric source, else 1 (ISDN/E.164).
    pub source_npi: Option<u8>,
    #[serde(default = "one")]
    pub dest_ton: u8,
    #[serde(default = "one")]
    pub dest_npi: u8,
    /// Ask for delivery receipts (registered_delivery = 1).
    #[serde(default = "yes")]
    pub registered_delivery: bool,
    /// GSM-7 packed 8-in-7 (some SMSCs want it); default unpacked, one septet per octet.
    #[serde(default)]
    pub gsm7_packed: bool,
    /// submit_sm sent before their answers come back.
    #[serde(default = "default_window")]
    pub window: usize,
    #[serde(default = "default_enquire")]
    pub enquire_link_seconds: u64,
    /// How long a send waits for submit_sm_resp before it counts as failed (and is retried).
    #[serde(default = "default_submit_timeout")]
    pub submit_timeout_seconds: u64,
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_seconds: u64,
    /// How long sending pauses after ESME_RTHROTTLED / ESME_RMSGQFUL.
    #[serde(default = "default_throttle_pause")]
    pub throttle_pause_ms: u64,
}

fn default_port() -> u16 {
    2775
}
fn one() -> u8 {
    1
}
fn yes() -> bool {
    true
}
fn default_window() -> usize {
    10
}
fn default_enquire() -> u64 {
    30
}
fn default_submit_timeout() -> u64 {
    10
}
fn default_reconnect_max() -> u64 {
    30
}
fn default_throttle_pause() -> u64 {
    1000
}

pub struct SmppProvider {
    name: String,
    settings: SmppSettings,
    password: String,
    receipts: Receipts,
    session: Mutex<Session>,
    /// One place per window slot, so a submit's timeout runs while the SMSC has it, not
    /// while it waits behind a full window.
    in_flight: InFlight,
}

#[derive(Default)]
struct Session {
    queue: Option<mpsc::Sender<Submit>>,
    task: Option<JoinHandle<()>>,
    closed: bool,
}

impl SmppProvider {
    pub fn new(name: &str, s: &SmppSettings, receipts: Receipts) -> Result<SmppProvider, String> {
        if s.host.trim().is_empty() {
            return Err("host must not be empty".into());
        }
        if s.system_id.is_empty() || s.system_id.len() > 15 || !s.system_id.is_ascii() {
            return Err("system_id must be 1 to 15 ASCII characters".into());
        }
        let password =
            secret::required(s.password.as_deref(), s.password_env.as_deref(), "password")?;
        if password.len() > 8 || !password.is_ascii() {
            return Err("password: SMPP 3.4 passwords are at most 8 ASCII characters".into());
        }
        if s.system_type.len() > 12 || !s.system_type.is_ascii() {
            return Err("system_type must be at most 12 ASCII characters".into());
        }
        if s.source_addr.is_empty() || s.source_addr.len() > 20 || !s.source_addr.is_ascii() {
            return Err("source_addr must be 1 to 20 ASCII characters".into());
        }
        if s.window == 0 || s.window > 1000 {
            return Err("window must be 1..=1000".into());
        }
        for (v, name) in [
            (s.enquire_link_seconds, "enquire_link_seconds"),
            (s.submit_timeout_seconds, "submit_timeout_seconds"),
            (s.reconnect_max_seconds, "reconnect_max_seconds"),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        Ok(SmppProvider {
            name: name.to_owned(),
            settings: s.clone(),
            password,
            receipts: Receipts {
                provider: name.to_owned(),
                ..receipts
            },
            session: Mutex::new(Session::default()),
            in_flight: InFlight::new(s.window)?,
        })
    }

    /// The session task's queue, starting the task on first use.
    fn session(&self) -> Result<mpsc::Sender<Submit>, ProviderError> {
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        if session.closed {
            return Err(ProviderError::Transient(
                "the SMPP provider is shutting down".into(),
            ));
        }
        if let Some(tx) = &session.queue {
            return Ok(tx.clone());
        }
        let s = &self.settings;
        let (tx, rx) = mpsc::channel(1024);
        let cfg = SessionConfig {
            provider: self.name.clone(),
            host: s.host.clone(),
            port: s.port,
            system_id: s.system_id.clone(),
            password: self.password.clone(),
            system_type: s.system_type.clone(),
            window: s.window,
            enquire_link: Duration::from_secs(s.enquire_link_seconds),
            connect_timeout: Duration::from_secs(s.submit_timeout_seconds.min(10)),
            reconnect_max: Duration::from_secs(s.reconnect_max_seconds),
            throttle_pause: Duration::from_millis(s.throttle_pause_ms),
        };
        session.task = Some(tokio::spawn(session::run(cfg, rx, self.receipts.clone())));
        session.queue = Some(tx.clone());
        Ok(tx)
    }

    fn submit_sm(&self, to: &str, from: &str, text: &str) -> Result<SubmitSm, ProviderError> {
        let s = &self.settings;
        let alpha = !from.bytes().all(|b| b.is_ascii_digit() || b == b'+');
        let from = from.trim_start_matches('+');
        let bad = |what: &str| ProviderError::Permanent(format!("{what} does not fit submit_sm"));
        let (dc, bytes) = encode(text, s.gsm7_packed);
        let short_message =
            OctetString::from_vec(bytes).map_err(|_| bad("the text (over 254 octets)"))?;
        Ok(SubmitSm::builder()
            .source_addr_ton(Ton::from(s.source_ton.unwrap_or(if alpha { 5 } else { 1 })))
            .source_addr_npi(Npi::from(s.source_npi.unwrap_or(if alpha { 0 } else { 1 })))
            .source_addr(from.parse().map_err(|_| bad("source_addr"))?)
            .dest_addr_ton(Ton::from(s.dest_ton))
            .dest_addr_npi(Npi::from(s.dest_npi))
            .destination_addr(
                to.trim_start_matches('+')
                    .parse()
                    .map_err(|_| bad("the destination"))?,
            )
            .registered_delivery(RegisteredDelivery::from(u8::from(s.registered_delivery)))
            .data_coding(DataCoding::from(dc))
            .short_message(short_message)
            .build())
    }
}

#[async_trait]
impl Provider for SmppProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, channel: Channel) -> bool {
        channel == Channel::Sms
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, ProviderError> {
        let Rendered::Text(text) = &msg.body else {
            return Err(ProviderError::Permanent("smpp delivers SMS only".into()));
        };
        let from = msg.sender.as_deref().unwrap_or(&self.settings.source_addr);
        let pdu = self.submit_sm(&msg.to, from, text)?;
        let _slot = self.in_flight.enter().await;
        let (reply, answer) = oneshot::channel();
        self.session()?
            .send(Submit { pdu, reply })
            .await
            .map_err(|_| ProviderError::Transient("the SMPP session has stopped".into()))?;
        let wait = Duration::from_secs(self.settings.submit_timeout_seconds);
        let message_id = tokio::time::timeout(wait, answer)
            .await
            .map_err(|_| ProviderError::Transient("no submit_sm_resp in time".into()))?
            .map_err(|_| ProviderError::Transient("the SMPP session has stopped".into()))??;
        Ok(SendReceipt {
            provider_ref: Some(message_id),
            kept: None,
        })
    }

    /// Drops the queue, so the session unbinds, and waits (a little) for it to finish.
    async fn close(&self) {
        let task = {
            let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
            session.closed = true;
            session.queue = None;
            session.task.take()
        };
        if let Some(task) = task {
            let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
        }
    }
}

#[cfg(test)]
mod tests;
