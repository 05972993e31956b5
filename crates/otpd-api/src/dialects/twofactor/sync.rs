//! `IsSync`: waiting for the provider's answer. The outbox worker records every attempt in the
//! store, so waiting is reading the verification's newest job until it is settled; this works
//! whichever worker (or node) sends it.

use otpd_core::delivery::JobStatus;
use otpd_core::engine::Engine;
use otpd_core::tenant::Principal;
use otpd_core::verification::Verification;
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// How long a synchronous request waits for the provider before answering without it.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The provider accepted (or delivered) the message.
    Accepted,
    /// The provider refused it for good, or it can no longer be sent.
    Refused,
    /// No answer within the timeout; the message stays queued and may still go out.
    TimedOut,
}

pub async fn await_delivery(
    engine: &Engine,
    who: &Principal,
    v: &Verification,
    timeout: Duration,
) -> otpd_core::Result<SyncOutcome> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    loop {
        match engine.delivery_status(who, v).await? {
            Some(JobStatus::Sent | JobStatus::Delivered) => return Ok(SyncOutcome::Accepted),
            Some(s) if s.is_settled() => return Ok(SyncOutcome::Refused),
            _ => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(SyncOutcome::TimedOut);
        }
        sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
