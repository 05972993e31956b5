//! For dialects whose callers wait for the carrier's answer (`IsSync`-style): await the
//! newest delivery of a verification leaving the queue, up to a timeout.

use otpd_core::Result;
use otpd_core::delivery::{DeliveryState, JobStatus};
use otpd_core::ids::VerificationId;
use otpd_core::ports::Store;
use std::time::Duration;

/// The delivery once a provider took it or it failed (`sent`, `delivered`, `undelivered`,
/// `failed`, `dropped`); `None` if it is still queued when `timeout` runs out. Polls the
/// store, so it works whichever process's worker sends.
pub async fn await_delivery(
    store: &dyn Store,
    verification: &VerificationId,
    timeout: Duration,
) -> Result<Option<DeliveryState>> {
    let until = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(d) = store.latest_delivery(verification).await?
            && !matches!(d.status, JobStatus::Queued | JobStatus::Sending)
        {
            return Ok(Some(d));
        }
        let now = tokio::time::Instant::now();
        if now >= until {
            return Ok(None);
        }
        tokio::time::sleep(pause.min(until - now)).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
