//! The outbox's data and its retry policy. Workers (otpd-delivery) carry jobs out; the rules for
//! what happens after an attempt live here.

use crate::clock::Timestamp;
use crate::destination::Channel;
use crate::ids::{ServiceId, TenantId, VerificationId};
use crate::render::Locale;

/// A send waiting to be written to the outbox. The code inside is sealed, never plain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub tenant_id: TenantId,
    pub service_id: ServiceId,
    pub verification_id: VerificationId,
    pub channel: Channel,
    pub to: String,
    pub locale: Locale,
    pub sealed_code: Vec<u8>,
    /// Caller-chosen text replacing the template (`<message> <code>`).
    pub message: Option<String>,
    pub sender: Option<String>,
    /// A short human reference (not the code) the message carries on its first line.
    pub reference_code: Option<String>,
    /// A job still queued at this time is pointless: the code has expired.
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
}

impl NewJob {
    /// The job as the worker it was written leased to holds it: its first attempt.
    pub fn into_leased(self, id: i64) -> Job {
        Job {
            id,
            tenant_id: self.tenant_id,
            service_id: self.service_id,
            verification_id: self.verification_id,
            channel: self.channel,
            to: self.to,
            locale: self.locale,
            sealed_code: self.sealed_code,
            message: self.message,
            sender: self.sender,
            reference_code: self.reference_code,
            attempts: 1,
            expires_at: self.expires_at,
            created_at: self.created_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    /// Claimed by a worker; the lease says until when.
    Sending,
    /// The provider accepted it.
    Sent,
    /// The provider reported it reached the handset or mailbox.
    Delivered,
    Undelivered,
    Failed,
    /// Superseded by a re-send, or the code expired before it could be sent.
    Dropped,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Sending => "sending",
            JobStatus::Sent => "sent",
            JobStatus::Delivered => "delivered",
            JobStatus::Undelivered => "undelivered",
            JobStatus::Failed => "failed",
            JobStatus::Dropped => "dropped",
        }
    }

    /// Whether the provider has answered for good (accepted, delivered or refused), or the
    /// job will never be tried again. Queued and sending jobs are still on their way.
    pub fn is_settled(self) -> bool {
        !matches!(self, JobStatus::Queued | JobStatus::Sending)
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        Some(match s {
            "queued" => JobStatus::Queued,
            "sending" => JobStatus::Sending,
            "sent" => JobStatus::Sent,
            "delivered" => JobStatus::Delivered,
            "undelivered" => JobStatus::Undelivered,
            "failed" => JobStatus::Failed,
            "dropped" => JobStatus::Dropped,
            _ => return None,
        })
    }
}

/// A job as a worker holds it after claiming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub tenant_id: TenantId,
    pub service_id: ServiceId,
    pub verification_id: VerificationId,
    pub channel: Channel,
    pub to: String,
    pub locale: Locale,
    pub sealed_code: Vec<u8>,
    pub message: Option<String>,
    pub sender: Option<String>,
    pub reference_code: Option<String>,
    pub attempts: u32,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
}

/// Where the newest delivery of a verification stands, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryState {
    pub status: JobStatus,
    pub provider: Option<String>,
    pub provider_ref: Option<String>,
    pub attempts: u32,
}

/// How an attempt ended, as the worker reports it to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    Sent {
        provider: String,
        provider_ref: Option<String>,
        /// A message the `outbox` provider keeps: stored in the same transaction as this
        /// result, so a crash can neither lose it nor, by sending the job again, keep it twice.
        kept: Option<crate::ports::SealedMessage>,
    },
    /// Worth trying again at `retry_at`.
    Retry { error: String, retry_at: Timestamp },
    /// Will never succeed (bad number, provider refused for good, or retries used up).
    Failed { error: String },
}

/// Backoff for transient failures: 1 s, 2 s, 4 s ... capped at 5 minutes, with up to 50 %
/// jitter so a provider that comes back is not hit by every job at once. `None` once the
/// attempts are used up or the code would have expired by the next try.
pub fn next_retry(
    attempts_so_far: u32,
    max_attempts: u32,
    jitter: f64,
    now: Timestamp,
    expires_at: Timestamp,
) -> Option<Timestamp> {
    if attempts_so_far >= max_attempts {
        return None;
    }
    let base_ms = 1000i64.saturating_mul(1i64 << attempts_so_far.saturating_sub(1).min(20));
    let capped = base_ms.min(300_000);
    let jittered = capped + (capped as f64 * 0.5 * jitter.clamp(0.0, 1.0)) as i64;
    let at = now.plus_millis(jittered);
    (at < expires_at).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_stops() {
        let now = Timestamp(0);
        let far = Timestamp(i64::MAX);
        assert_eq!(next_retry(1, 8, 0.0, now, far), Some(Timestamp(1000)));
        assert_eq!(next_retry(2, 8, 0.0, now, far), Some(Timestamp(2000)));
        assert_eq!(next_retry(3, 8, 0.0, now, far), Some(Timestamp(4000)));
        assert_eq!(next_retry(3, 8, 1.0, now, far), Some(Timestamp(6000)));
        assert_eq!(next_retry(15, 20, 0.0, now, far), Some(Timestamp(300_000)));
        assert_eq!(next_retry(8, 8, 0.0, now, far), None);
        // No retry that would land after the code expired.
        assert_eq!(next_retry(3, 8, 0.0, now, Timestamp(3000)), None);
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            JobStatus::Queued,
            JobStatus::Sending,
            JobStatus::Sent,
            JobStatus::Delivered,
            JobStatus::Undelivered,
            JobStatus::Failed,
            JobStatus::Dropped,
        ] {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
    }
}
