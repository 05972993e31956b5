//! The delivery outbox: claiming with leases, recording attempts, and the development
//! provider's kept messages.

use super::pool::sql_err;
use super::rows;
use super::verifications;
use otpd_core::clock::Timestamp;
use otpd_core::delivery::{AttemptResult, DeliveryState, Job, JobStatus};
use otpd_core::ids::{ServiceId, TenantId, VerificationId};
use otpd_core::ports::SealedMessage;
use otpd_core::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};

/// The status test is the partial index's own (migration 0007), so the index serves it.
pub(super) const CLAIM: &str =
    "SELECT id, tenant_id, service_id, verification_id, channel, destination, locale,
            sealed_code, attempts, expires_at, created_at, message, sender, reference_code
     FROM outbox_jobs WHERE status IN ('queued', 'sending') AND due_at <= ?1
     LIMIT ?2";

pub(super) fn claim(
    c: &Connection,
    now: Timestamp,
    limit: usize,
    lease_ms: i64,
) -> Result<Vec<Job>> {
    let mut s = c.prepare_cached(CLAIM).map_err(sql_err)?;
    let mut found = s.query(params![now.0, limit as i64]).map_err(sql_err)?;
    let mut jobs = Vec::new();
    let mut stale = Vec::new();
    while let Some(r) = found.next().map_err(sql_err)? {
        let id: i64 = r.get(0).map_err(sql_err)?;
        let expires_at = Timestamp(r.get(9).map_err(sql_err)?);
        let sealed: Option<Vec<u8>> = r.get(7).map_err(sql_err)?;
        let Some(sealed_code) = sealed.filter(|_| expires_at > now) else {
            stale.push(id);
            continue;
        };
        jobs.push(Job {
            id,
            tenant_id: TenantId::from_trusted(r.get(1).map_err(sql_err)?),
            service_id: ServiceId::from_trusted(r.get(2).map_err(sql_err)?),
            verification_id: VerificationId::from_trusted(r.get(3).map_err(sql_err)?),
            channel: rows::channel(&r.get::<_, String>(4).map_err(sql_err)?)?,
            to: r.get(5).map_err(sql_err)?,
            locale: rows::locale(&r.get::<_, String>(6).map_err(sql_err)?)?,
            sealed_code,
            message: r.get(11).map_err(sql_err)?,
            sender: r.get(12).map_err(sql_err)?,
            reference_code: r.get(13).map_err(sql_err)?,
            attempts: r.get::<_, i64>(8).map_err(sql_err)? as u32 + 1,
            expires_at,
            created_at: Timestamp(r.get(10).map_err(sql_err)?),
        });
    }
    drop(found);
    for id in stale {
        c.prepare_cached(
            "UPDATE outbox_jobs SET status = 'dropped', sealed_code = NULL, updated_at = ?2 WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, now.0]))
        .map_err(sql_err)?;
    }
    let lease_until = now.plus_millis(lease_ms);
    for j in &jobs {
        c.prepare_cached(
            "UPDATE outbox_jobs SET status = 'sending', attempts = ?2, due_at = ?3, updated_at = ?4 WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![j.id, j.attempts, lease_until.0, now.0]))
        .map_err(sql_err)?;
    }
    Ok(jobs)
}

pub(super) fn delivery_status(
    c: &Connection,
    tenant: &TenantId,
    verification: &VerificationId,
) -> Result<Option<JobStatus>> {
    let mut s = c
        .prepare_cached(
            "SELECT j.status FROM verifications v JOIN outbox_jobs j ON j.id = v.job_id
             WHERE v.id = ?1 AND v.tenant_id = ?2",
        )
        .map_err(sql_err)?;
    let mut r = s
        .query([verification.as_str(), tenant.as_str()])
        .map_err(sql_err)?;
    match r.next().map_err(sql_err)? {
        Some(row) => {
            let status: String = row.get(0).map_err(sql_err)?;
            JobStatus::parse(&status)
                .map(Some)
                .ok_or_else(|| Error::Internal(format!("unknown stored job status {status:?}")))
        }
        None => Ok(None),
    }
}

/// Records each result; a job that no longer exists is skipped. Returns how many were found.
pub(super) fn finish_all(
    c: &Connection,
    results: &[(i64, AttemptResult)],
    now: Timestamp,
) -> Result<usize> {
    let mut found = 0;
    for (job_id, result) in results {
        if finish(c, *job_id, result, now)? {
            found += 1;
        }
    }
    Ok(found)
}

/// `false` when the job does not exist. Only a failure needs the job's verification, so only
/// a failure reads it.
fn finish(c: &Connection, job_id: i64, result: &AttemptResult, now: Timestamp) -> Result<bool> {
    let changed = match result {
        AttemptResult::Sent {
            provider,
            provider_ref,
            kept,
        } => {
            let sent = c
                .prepare_cached(
                    "UPDATE outbox_jobs SET status = 'sent', sealed_code = NULL, provider = ?2,
                         provider_ref = ?3, last_error = NULL, updated_at = ?4 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(params![job_id, provider, provider_ref, now.0]))
                .map_err(sql_err)?;
            if let (true, Some(message)) = (sent > 0, kept) {
                save_message(c, message)?;
            }
            Ok(sent)
        }
        AttemptResult::Retry { error, retry_at } => {
            // A job a re-send superseded carries a dead code: it is dropped, not retried, so
            // only a verification's newest job is ever queued (verifications.rs relies on it).
            let superseded = c
                .prepare_cached(
                    "UPDATE outbox_jobs SET status = 'dropped', sealed_code = NULL, last_error = ?2,
                         updated_at = ?3
                     WHERE id = ?1 AND status = 'sending' AND id IS NOT
                         (SELECT job_id FROM verifications WHERE id = outbox_jobs.verification_id)",
                )
                .and_then(|mut s| s.execute(params![job_id, error, now.0]))
                .map_err(sql_err)?;
            if superseded > 0 {
                return Ok(true);
            }
            let requeued = c
                .prepare_cached(
                    "UPDATE outbox_jobs SET status = 'queued', due_at = ?2, last_error = ?3, updated_at = ?4
                     WHERE id = ?1 AND status = 'sending'",
                )
                .and_then(|mut s| s.execute(params![job_id, retry_at.0, error, now.0]))
                .map_err(sql_err)?;
            if requeued > 0 {
                return Ok(true);
            }
            // No longer `sending` (dropped meanwhile, or leased again): it stays as it is.
            c.prepare_cached("SELECT 1 FROM outbox_jobs WHERE id = ?1")
                .and_then(|mut s| s.exists([job_id]))
                .map(usize::from)
        }
        AttemptResult::Failed { error } => {
            let verification_id: Option<String> = c
                .prepare_cached("SELECT verification_id FROM outbox_jobs WHERE id = ?1")
                .and_then(|mut s| s.query_row([job_id], |r| r.get(0)).optional())
                .map_err(sql_err)?;
            let Some(verification_id) = verification_id else {
                return Ok(false);
            };
            c.prepare_cached(
                "UPDATE outbox_jobs SET status = 'failed', sealed_code = NULL, last_error = ?2, updated_at = ?3
                 WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![job_id, error, now.0]))
            .map_err(sql_err)?;
            verifications::delivery_failed(c, job_id, &verification_id, now)?;
            return Ok(true);
        }
    }
    .map_err(sql_err)?;
    Ok(changed > 0)
}

fn save_message(c: &Connection, m: &SealedMessage) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO outbox_messages (tenant_id, destination, channel, sealed_body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            m.tenant_id.as_str(),
            m.to,
            m.channel.as_str(),
            m.sealed_body,
            m.created_at.0
        ])
    })
    .map_err(sql_err)?;
    Ok(())
}

/// A tenant's kept messages, newest first, optionally to one destination only. It walks
/// `outbox_messages_recent` backwards and reads the destination from it (migration 0009).
pub(super) const MESSAGES: &str =
    "SELECT id, tenant_id, destination, channel, sealed_body, created_at FROM outbox_messages
     WHERE tenant_id = ?1 AND (?2 IS NULL OR destination = ?2) ORDER BY id DESC LIMIT ?3";

pub(super) fn messages(
    c: &Connection,
    tenant: &TenantId,
    to: Option<&str>,
    limit: usize,
) -> Result<Vec<SealedMessage>> {
    let mut s = c.prepare_cached(MESSAGES).map_err(sql_err)?;
    let mut r = s
        .query(params![tenant.as_str(), to, limit as i64])
        .map_err(sql_err)?;
    let mut out = Vec::new();
    while let Some(row) = r.next().map_err(sql_err)? {
        out.push(SealedMessage {
            id: row.get(0).map_err(sql_err)?,
            tenant_id: TenantId::from_trusted(row.get(1).map_err(sql_err)?),
            to: row.get(2).map_err(sql_err)?,
            channel: rows::channel(&row.get::<_, String>(3).map_err(sql_err)?)?,
            sealed_body: row.get(4).map_err(sql_err)?,
            created_at: Timestamp(row.get(5).map_err(sql_err)?),
        });
    }
    Ok(out)
}

/// A provider's receipt for a job it accepted. A receipt saying the message never arrived
/// fails the verification as a failed send would: nobody holds its code.
pub(super) fn mark(
    c: &Connection,
    provider: &str,
    provider_ref: &str,
    status: JobStatus,
    now: Timestamp,
) -> Result<bool> {
    let found: Option<(i64, String)> = c
        .prepare_cached(
            "SELECT id, verification_id FROM outbox_jobs
             WHERE provider = ?1 AND provider_ref = ?2
               AND status IN ('sent', 'delivered', 'undelivered', 'failed')
             ORDER BY id DESC LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row(params![provider, provider_ref], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })
        .map_err(sql_err)?;
    let Some((job_id, verification_id)) = found else {
        return Ok(false);
    };
    c.prepare_cached("UPDATE outbox_jobs SET status = ?2, updated_at = ?3 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![job_id, status.as_str(), now.0]))
        .map_err(sql_err)?;
    if matches!(status, JobStatus::Undelivered | JobStatus::Failed) {
        verifications::delivery_failed(c, job_id, &verification_id, now)?;
    }
    Ok(true)
}

pub(super) fn latest(c: &Connection, verification_id: &str) -> Result<Option<DeliveryState>> {
    let row = c
        .prepare_cached(
            "SELECT j.status, j.provider, j.provider_ref, j.attempts
             FROM verifications v JOIN outbox_jobs j ON j.id = v.job_id WHERE v.id = ?1",
        )
        .and_then(|mut s| {
            s.query_row([verification_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
        });
    match row {
        Ok((status, provider, provider_ref, attempts)) => Ok(Some(DeliveryState {
            status: JobStatus::parse(&status)
                .ok_or_else(|| Error::Internal(format!("unknown job status {status:?}")))?,
            provider,
            provider_ref,
            attempts: attempts as u32,
        })),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(sql_err(e)),
    }
}
