//! Verifications and their state machine:
//! `pending -> approved | canceled | expired | max_attempts_reached | failed`.
//!
//! The functions here decide; a store adapter reads the facts, calls them inside one
//! transaction and writes back what they return. That keeps every rule in one place and every
//! transition atomic on any backend.

use crate::clock::Timestamp;
use crate::code::Code;
use crate::delivery::NewJob;
use crate::destination::{Channel, Destination};
use crate::error::{Error, Result};
use crate::ids::{ServiceId, TenantId, VerificationId};
use crate::random::{Random, uniform_index};
use crate::render::Locale;
use crate::secrets::{Digest32, ServerSecrets};
use crate::service::Service;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    Approved,
    Canceled,
    Expired,
    MaxAttemptsReached,
    /// Every delivery attempt failed permanently; the code never reached anyone.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Canceled => "canceled",
            Status::Expired => "expired",
            Status::MaxAttemptsReached => "max_attempts_reached",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Result<Status> {
        Ok(match s {
            "pending" => Status::Pending,
            "approved" => Status::Approved,
            "canceled" => Status::Canceled,
            "expired" => Status::Expired,
            "max_attempts_reached" => Status::MaxAttemptsReached,
            "failed" => Status::Failed,
            other => return Err(Error::Internal(format!("unknown stored status {other:?}"))),
        })
    }
}

/// Caller-supplied context kept with a verification and echoed by dialects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reference {
    pub context_id: Option<String>,
    pub source: Option<String>,
    /// A short human reference (not the code) some dialects print in the message.
    pub reference_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub id: VerificationId,
    pub tenant_id: TenantId,
    pub service_id: ServiceId,
    pub channel: Channel,
    pub to: Destination,
    pub status: Status,
    pub code_mac: Digest32,
    pub custom_code: bool,
    pub locale: Locale,
    /// Failed checks so far; never reset by a re-send (NIST 800-63B-4 §3.1.3.2).
    pub attempts: u32,
    pub max_attempts: u32,
    pub send_count: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub expires_at: Timestamp,
    pub reference: Reference,
}

impl Verification {
    /// The status a reader should see: a pending verification past its expiry is expired even
    /// before the sweeper has written it down.
    pub fn status_at(&self, now: Timestamp) -> Status {
        if self.status == Status::Pending && now >= self.expires_at {
            Status::Expired
        } else {
            self.status
        }
    }

    pub fn attempts_remaining(&self) -> u32 {
        self.max_attempts.saturating_sub(self.attempts)
    }
}

/// Letters only (no look-alikes), so a reference is never mistaken for a code.
const REFERENCE_SYMBOLS: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ";
pub const REFERENCE_LENGTH: usize = 4;

/// A short human reference for one send: it lets a user match the message to the screen that
/// asked for it. Not a secret and not unique; 23^4 = 279,841 values.
pub fn new_reference_code(rng: &dyn Random) -> String {
    (0..REFERENCE_LENGTH)
        .map(|_| REFERENCE_SYMBOLS[uniform_index(rng, REFERENCE_SYMBOLS.len())] as char)
        .collect()
}

/// At most `count` sends in the last `window_seconds` for one caller-named subject (a user id
/// of the caller's), across every service and destination of the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectLimit {
    pub subject: String,
    pub count: u32,
    pub window_seconds: u64,
}

/// Longest subject window: sends are kept this long (the store purges older ones).
pub const MAX_SUBJECT_WINDOW_SECONDS: u64 = 86_400;
pub const MAX_SUBJECT_COUNT: u32 = 10_000;
/// Longest subject a caller may name.
pub const MAX_SUBJECT_LEN: usize = 128;

/// A request to send a code, after the edge parsed it.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub service: Service,
    pub to: Destination,
    pub channel: Channel,
    pub locale: Locale,
    pub code: Code,
    pub custom_code: bool,
    /// Used when this turns out to be a new verification rather than a re-send.
    pub fresh_id: VerificationId,
    pub reference: Reference,
    /// The code sealed for the outbox (see `ServerSecrets::seal`).
    pub sealed_code: Vec<u8>,
    /// Effective lifetime and attempt limit: the service's, or the caller's overrides.
    pub ttl_seconds: u64,
    pub max_attempts: u32,
    /// Text that replaces the service template (`<message> <code>`), for dialects whose
    /// callers choose the wording.
    pub message: Option<String>,
    /// Sender id or from-number for this send, when the caller names one.
    pub sender: Option<String>,
    /// A per-subject send limit the caller asks for (001's `MaxSMSCount` per `UserId`).
    pub subject_limit: Option<SubjectLimit>,
}

/// What the store knows when a start arrives.
#[derive(Debug, Clone, Default)]
pub struct StartFacts {
    /// The newest verification for this service, destination and channel still marked pending.
    pub pending: Option<Verification>,
    /// Send times to this destination from this service inside the send-limit window.
    pub recent_sends: Vec<Timestamp>,
    /// Send times for the request's subject inside its window, when it names a subject limit.
    pub subject_sends: Vec<Timestamp>,
}

/// What the store must write for a start, in one transaction.
#[derive(Debug, Clone)]
pub struct StartPlan {
    /// The verification to insert (`created`) or to overwrite (a re-send).
    pub verification: Verification,
    pub created: bool,
    /// A stale pending row to mark expired first.
    pub expire: Option<VerificationId>,
    /// One send to record against the destination's send limit.
    pub send_at: Timestamp,
    /// The subject to record the send under, for subject limits.
    pub subject: Option<String>,
    pub job: NewJob,
}

pub fn plan_start(
    req: &StartRequest,
    facts: StartFacts,
    secrets: &ServerSecrets,
    now: Timestamp,
) -> Result<StartPlan> {
    let cfg = &req.service.config;
    let limit = cfg.send_limit;
    window_check(
        facts.recent_sends,
        limit.count,
        limit.window_seconds,
        now,
        "too many codes sent to this destination; try again later",
    )?;
    if let Some(s) = &req.subject_limit {
        window_check(
            facts.subject_sends,
            s.count,
            s.window_seconds,
            now,
            "too many codes requested for this user; try again later",
        )?;
    }

    let (pending, expire) = match facts.pending {
        Some(p) if p.status_at(now) == Status::Pending => (Some(p), None),
        Some(p) => (None, Some(p.id)),
        None => (None, None),
    };

    let expires_at = now.plus_secs(req.ttl_seconds);
    let (verification, created) = match pending {
        Some(mut v) => {
            if v.send_count >= cfg.max_sends {
                return Err(Error::RateLimited {
                    reason: "this verification has reached its maximum number of sends",
                    retry_after_secs: now.secs_until(v.expires_at),
                });
            }
            // A re-send: a new code replaces the old one, the failed-attempt count stays.
            v.code_mac = secrets.code_mac(&v.id, &req.code);
            v.custom_code = req.custom_code;
            v.send_count += 1;
            v.locale = req.locale.clone();
            v.expires_at = expires_at;
            v.updated_at = now;
            if req.reference != Reference::default() {
                v.reference = req.reference.clone();
            }
            (v, false)
        }
        None => {
            let id = req.fresh_id.clone();
            (
                Verification {
                    code_mac: secrets.code_mac(&id, &req.code),
                    id,
                    tenant_id: req.service.tenant_id.clone(),
                    service_id: req.service.id.clone(),
                    channel: req.channel,
                    to: req.to.clone(),
                    status: Status::Pending,
                    custom_code: req.custom_code,
                    locale: req.locale.clone(),
                    attempts: 0,
                    max_attempts: req.max_attempts,
                    send_count: 1,
                    created_at: now,
                    updated_at: now,
                    expires_at,
                    reference: req.reference.clone(),
                },
                true,
            )
        }
    };

    let job = NewJob {
        tenant_id: verification.tenant_id.clone(),
        service_id: verification.service_id.clone(),
        verification_id: verification.id.clone(),
        channel: verification.channel,
        to: verification.to.as_str().to_owned(),
        locale: verification.locale.clone(),
        sealed_code: req.sealed_code.clone(),
        message: req.message.clone(),
        sender: req.sender.clone(),
        reference_code: verification.reference.reference_code.clone(),
        expires_at,
        created_at: now,
    };
    Ok(StartPlan {
        verification,
        created,
        expire,
        send_at: now,
        subject: req.subject_limit.as_ref().map(|s| s.subject.clone()),
        job,
    })
}

/// A sliding window: at most `count` of `sends` after `now - window_seconds`, else rate
/// limited until the oldest counted send leaves the window.
fn window_check(
    sends: Vec<Timestamp>,
    count: u32,
    window_seconds: u64,
    now: Timestamp,
    reason: &'static str,
) -> Result<()> {
    let window_start = now.minus_secs(window_seconds);
    let mut in_window: Vec<Timestamp> = sends.into_iter().filter(|t| *t > window_start).collect();
    if in_window.len() >= count as usize {
        in_window.sort();
        // The window frees a slot when the oldest counted send leaves it.
        let oldest_that_must_leave = in_window
            .get(in_window.len().saturating_sub(count as usize))
            .copied()
            .unwrap_or(now);
        return Err(Error::RateLimited {
            reason,
            retry_after_secs: now.secs_until(oldest_that_must_leave.plus_secs(window_seconds)),
        });
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOutcome {
    pub valid: bool,
    pub status: Status,
    pub attempts_remaining: u32,
    /// Whether the store must write `v` back.
    pub changed: bool,
}

/// Checks `candidate` against `v` and moves `v` along the state machine.
/// Only a pending, unexpired verification can be approved, and only once.
pub fn apply_check(
    v: &mut Verification,
    candidate: &Code,
    secrets: &ServerSecrets,
    now: Timestamp,
) -> CheckOutcome {
    let status = v.status_at(now);
    if status != Status::Pending {
        let changed = status != v.status;
        v.status = status;
        if changed {
            v.updated_at = now;
        }
        return CheckOutcome {
            valid: false,
            status,
            attempts_remaining: v.attempts_remaining(),
            changed,
        };
    }
    let presented = secrets.code_mac(&v.id, candidate);
    let valid = presented.ct_eq(&v.code_mac);
    if valid {
        v.status = Status::Approved;
    } else {
        v.attempts += 1;
        if v.attempts >= v.max_attempts {
            v.status = Status::MaxAttemptsReached;
        }
    }
    v.updated_at = now;
    CheckOutcome {
        valid,
        status: v.status,
        attempts_remaining: v.attempts_remaining(),
        changed: true,
    }
}

pub fn apply_cancel(v: &mut Verification, now: Timestamp) -> Result<()> {
    match v.status_at(now) {
        Status::Pending => {
            v.status = Status::Canceled;
            v.updated_at = now;
            Ok(())
        }
        other => Err(Error::Conflict(
            format!(
                "the verification is {} and can no longer be canceled",
                other.as_str()
            )
            .into(),
        )),
    }
}

/// When every delivery of a verification failed for good, nobody can have the code.
pub fn apply_delivery_failed(v: &mut Verification, now: Timestamp) -> bool {
    if v.status_at(now) == Status::Pending {
        v.status = Status::Failed;
        v.updated_at = now;
        true
    } else {
        false
    }
}

#[cfg(test)]
#[path = "verification_tests.rs"]
mod tests;
