//! The one trait every delivery provider implements.

use async_trait::async_trait;
use otpd_core::destination::Channel;
use otpd_core::ports::SealedMessage;

/// A rendered message, ready for a provider. Holds the code: never log it.
pub struct OutboundMessage {
    pub tenant_id: String,
    pub channel: Channel,
    pub to: String,
    pub body: Rendered,
    /// Sender id or from-number the caller asked for; providers fall back to their own.
    pub sender: Option<String>,
    /// Stable per delivery attempt, so a provider that supports it can drop duplicates.
    pub idempotency_key: String,
    /// The recipient's language (BCP 47), for voices and templates on the provider's side.
    pub locale: String,
}

impl std::fmt::Debug for OutboundMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundMessage")
            .field("channel", &self.channel)
            .field("to", &otpd_core::destination::mask(&self.to))
            .field("idempotency_key", &self.idempotency_key)
            .finish_non_exhaustive()
    }
}

pub enum Rendered {
    /// An SMS text.
    Text(String),
    /// A script for text-to-speech.
    Speech(String),
    Email {
        subject: String,
        text: String,
        html: String,
    },
}

impl Rendered {
    /// The body as one string, for providers that keep or show it whole.
    pub fn plain(&self) -> String {
        match self {
            Rendered::Text(t) | Rendered::Speech(t) => t.clone(),
            Rendered::Email { subject, text, .. } => format!("Subject: {subject}\n\n{text}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The provider's own id for the message, for receipts and support tickets.
    pub provider_ref: Option<String>,
    /// What the `outbox` provider keeps instead of sending: the store saves it with the
    /// attempt's result.
    pub kept: Option<SealedMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Worth retrying: timeouts, refused connections, 5xx, throttling.
    #[error("transient: {0}")]
    Transient(String),
    /// Will not succeed by retrying: bad number, 4xx, rejected content.
    #[error("permanent: {0}")]
    Permanent(String),
}

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The configured name, used in routes, logs and metric labels.
    fn name(&self) -> &str;
    fn supports(&self, channel: Channel) -> bool;
    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, ProviderError>;
    /// Ends sessions cleanly at shutdown (SMPP unbinds); most providers hold none.
    async fn close(&self) {}
}
