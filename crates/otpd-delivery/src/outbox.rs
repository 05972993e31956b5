//! The `outbox` provider (development default): keeps every rendered message, sealed in the
//! store, readable at `GET /v1/outbox` by admin keys.

use crate::provider::{OutboundMessage, Provider, ProviderError, SendReceipt};
use async_trait::async_trait;
use otpd_core::clock::Clock;
use otpd_core::destination::Channel;
use otpd_core::ids::TenantId;
use otpd_core::ports::SealedMessage;
use otpd_core::random::Random;
use otpd_core::secrets::ServerSecrets;
use std::sync::Arc;

pub const NAME: &str = "outbox";

pub struct OutboxProvider {
    pub secrets: Arc<ServerSecrets>,
    pub rng: Arc<dyn Random>,
    pub clock: Arc<dyn Clock>,
}

#[async_trait]
impl Provider for OutboxProvider {
    fn name(&self) -> &str {
        NAME
    }

    fn supports(&self, _channel: Channel) -> bool {
        true
    }

    /// Seals the message and hands it back: the worker's result carries it to the store,
    /// which keeps it in the transaction that marks the job sent. Kept here and marked there
    /// in two transactions, a crash between them sent the job again and kept it twice.
    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, ProviderError> {
        let sealed_body = self
            .secrets
            .seal(
                self.rng.as_ref(),
                msg.body.plain().as_bytes(),
                msg.tenant_id.as_bytes(),
            )
            .map_err(|e| ProviderError::Transient(e.to_string()))?;
        Ok(SendReceipt {
            provider_ref: None,
            kept: Some(SealedMessage {
                id: 0,
                tenant_id: TenantId::from_trusted(msg.tenant_id.clone()),
                to: msg.to.clone(),
                channel: msg.channel,
                sealed_body,
                created_at: self.clock.now(),
            }),
        })
    }
}
