//! The `smtp` provider (lettre over rustls and tokio): e-mail with a text and an HTML part.
//! `tls = "none" | "starttls" | "implicit"`; AUTH when `username` is set. The connection pool
//! is made on first use, so building the provider (also done by CLI commands) opens nothing.

use crate::in_flight::InFlight;
use crate::provider::{OutboundMessage, Provider, ProviderError, Rendered, SendReceipt};
use crate::secret;
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use otpd_core::destination::Channel;
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::OnceCell;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    None,
    #[default]
    Starttls,
    Implicit,
}

/// `[[providers]]` settings of `kind = "smtp"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    /// Default: 25 for `none`, 587 for `starttls`, 465 for `implicit`.
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: TlsMode,
    /// A PEM file of extra trusted roots (a private CA); the public web roots are always
    /// trusted.
    pub ca_file: Option<std::path::PathBuf>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_env: Option<String>,
    /// `otp@example.com` or `Acme <otp@example.com>`.
    pub from: String,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Most messages being handed over at once (each on a connection of its own).
    #[serde(default = "crate::in_flight::default_smtp")]
    pub max_in_flight: usize,
}

fn default_timeout() -> u64 {
    15
}

pub struct SmtpProvider {
    name: String,
    host: String,
    port: u16,
    tls: TlsMode,
    ca_pem: Option<Vec<u8>>,
    credentials: Option<(String, String)>,
    from: Mailbox,
    timeout: Duration,
    transport: OnceCell<AsyncSmtpTransport<Tokio1Executor>>,
    in_flight: InFlight,
}

impl SmtpProvider {
    pub fn new(name: &str, s: &SmtpSettings) -> Result<SmtpProvider, String> {
        if s.host.trim().is_empty() {
            return Err("host must not be empty".into());
        }
        let from: Mailbox = s
            .from
            .parse()
            .map_err(|_| format!("from: {:?} is not an e-mail address", s.from))?;
        let password =
            secret::resolve(s.password.as_deref(), s.password_env.as_deref(), "password")?;
        let credentials = match (&s.username, password) {
            (Some(u), Some(p)) => Some((u.clone(), p)),
            (None, None) => None,
            (Some(_), None) => {
                return Err("username is set but password (or password_env) is not".into());
            }
            (None, Some(_)) => return Err("password is set but username is not".into()),
        };
        if s.tls == TlsMode::None && credentials.is_some() && !is_loopback(&s.host) {
            return Err(
                "tls: AUTH over a plain connection is refused; use starttls or implicit".into(),
            );
        }
        let ca_pem = s
            .ca_file
            .as_ref()
            .map(|p| std::fs::read(p).map_err(|e| format!("ca_file: {}: {e}", p.display())))
            .transpose()?;
        if let Some(pem) = &ca_pem {
            Certificate::from_pem(pem)
                .map_err(|e| format!("ca_file: not a PEM certificate: {e}"))?;
        }
        if s.timeout_seconds == 0 {
            return Err("timeout_seconds must be at least 1".into());
        }
        Ok(SmtpProvider {
            name: name.to_owned(),
            host: s.host.clone(),
            port: s.port.unwrap_or(match s.tls {
                TlsMode::None => 25,
                TlsMode::Starttls => 587,
                TlsMode::Implicit => 465,
            }),
            tls: s.tls,
            ca_pem,
            credentials,
            from,
            timeout: Duration::from_secs(s.timeout_seconds),
            transport: OnceCell::new(),
            in_flight: InFlight::new(s.max_in_flight)?,
        })
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let params = || -> Result<TlsParameters, String> {
            let mut b = TlsParameters::builder(self.host.clone());
            if let Some(pem) = &self.ca_pem {
                b = b.add_root_certificate(Certificate::from_pem(pem).map_err(|e| e.to_string())?);
            }
            b.build_rustls().map_err(|e| format!("TLS setup: {e}"))
        };
        let tls = match self.tls {
            TlsMode::None => Tls::None,
            TlsMode::Starttls => Tls::Required(params()?),
            TlsMode::Implicit => Tls::Wrapper(params()?),
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.clone())
            .port(self.port)
            .tls(tls)
            .timeout(Some(self.timeout));
        if let Some((u, p)) = &self.credentials {
            b = b.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(b.build())
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// SMTP replies can quote the recipient: errors keep the reply code and class only.
fn classify(e: &lettre::transport::smtp::Error) -> ProviderError {
    let what = match e.status() {
        Some(code) => format!("SMTP reply {code}"),
        None if e.is_timeout() => "timed out".to_owned(),
        None if e.is_tls() => format!("TLS: {e}"),
        None => format!("connection: {e}"),
    };
    if e.is_permanent() {
        ProviderError::Permanent(what)
    } else {
        ProviderError::Transient(what)
    }
}

#[async_trait]
impl Provider for SmtpProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, channel: Channel) -> bool {
        channel == Channel::Email
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, ProviderError> {
        let Rendered::Email {
            subject,
            text,
            html,
        } = &msg.body
        else {
            return Err(ProviderError::Permanent("smtp delivers e-mail only".into()));
        };
        let to: Mailbox = msg.to.parse().map_err(|_| {
            ProviderError::Permanent("the recipient is not an e-mail address".into())
        })?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                text.clone(),
                html.clone(),
            ))
            .map_err(|e| ProviderError::Permanent(format!("building the message: {e}")))?;
        let transport = self
            .transport
            .get_or_try_init(|| async { self.transport() })
            .await
            .map_err(ProviderError::Permanent)?;
        let _open = self.in_flight.enter().await;
        let response = transport.send(email).await.map_err(|e| classify(&e))?;
        // The server's queue id, when its reply gives one ("250 OK queued as 000042").
        let provider_ref = response
            .message()
            .last()
            .and_then(|line| line.rsplit(' ').next())
            .filter(|id| !id.is_empty() && id.len() <= 64)
            .map(str::to_owned);
        Ok(SendReceipt {
            provider_ref,
            kept: None,
        })
    }
}
