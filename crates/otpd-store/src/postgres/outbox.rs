//! The delivery outbox: claiming with leases (`FOR UPDATE SKIP LOCKED`, so every node's
//! workers share one queue and never claim the same job at once), recording attempts, and
//! the development provider's kept messages.

use super::pool::pg_err;
use super::rows::{self, get};
use super::verifications;
use deadpool_postgres::GenericClient;
use otpd_core::clock::Timestamp;
use otpd_core::delivery::{AttemptResult, DeliveryState, Job, JobStatus};
use otpd_core::ids::{ServiceId, TenantId, VerificationId};
use otpd_core::ports::SealedMessage;
use otpd_core::{Error, Result};

/// Runs inside a transaction: the rows stay locked until the lease is written.
pub(super) async fn claim(
    c: &impl GenericClient,
    now: Timestamp,
    limit: usize,
    lease_ms: i64,
) -> Result<Vec<Job>> {
    let s = c
        .prepare_cached(
            "SELECT id, tenant_id, service_id, verification_id, channel, destination, locale,
                    sealed_code, attempts, expires_at, created_at, message, sender, reference_code
             FROM outbox_jobs WHERE status IN ('queued', 'sending') AND due_at <= $1
             ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .await
        .map_err(pg_err)?;
    let found = c
        .query(&s, &[&now.0, &(limit as i64)])
        .await
        .map_err(pg_err)?;
    let mut jobs = Vec::with_capacity(found.len());
    let mut stale: Vec<i64> = Vec::new();
    for r in &found {
        let id: i64 = get(r, 0)?;
        let expires_at = Timestamp(get(r, 9)?);
        let sealed: Option<Vec<u8>> = get(r, 7)?;
        let Some(sealed_code) = sealed.filter(|_| expires_at > now) else {
            stale.push(id);
            continue;
        };
        let attempts: i64 = get(r, 8)?;
        jobs.push(Job {
            id,
            tenant_id: TenantId::from_trusted(get(r, 1)?),
            service_id: ServiceId::from_trusted(get(r, 2)?),
            verification_id: VerificationId::from_trusted(get(r, 3)?),
            channel: rows::channel(get(r, 4)?)?,
            to: get(r, 5)?,
            locale: rows::locale(get(r, 6)?)?,
            sealed_code,
            message: get(r, 11)?,
            sender: get(r, 12)?,
            reference_code: get(r, 13)?,
            attempts: u32::try_from(attempts + 1)
                .map_err(|_| Error::Internal("stored attempts out of range".into()))?,
            expires_at,
            created_at: Timestamp(get(r, 10)?),
        });
    }
    if !stale.is_empty() {
        let s = c
            .prepare_cached(
                "UPDATE outbox_jobs SET status = 'dropped', sealed_code = NULL, updated_at = $2
                 WHERE id = ANY($1)",
            )
            .await
            .map_err(pg_err)?;
        c.execute(&s, &[&stale, &now.0]).await.map_err(pg_err)?;
    }
    if !jobs.is_empty() {
        let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
        let lease_until = now.plus_millis(lease_ms);
        let s = c
            .prepare_cached(
                "UPDATE outbox_jobs SET status = 'sending', attempts = attempts + 1, due_at = $2,
                     updated_at = $3
                 WHERE id = ANY($1)",
            )
            .await
            .map_err(pg_err)?;
        c.execute(&s, &[&ids, &lease_until.0, &now.0])
            .await
            .map_err(pg_err)?;
    }
    Ok(jobs)
}

pub(super) async fn delivery_status(
    c: &impl GenericClient,
    tenant: &TenantId,
    verification: &VerificationId,
) -> Result<Option<JobStatus>> {
    let s = c
        .prepare_cached(
            "SELECT status FROM outbox_jobs WHERE verification_id = $1 AND tenant_id = $2
             ORDER BY id DESC LIMIT 1",
        )
        .await
        .map_err(pg_err)?;
    let Some(row) = c
        .query_opt(&s, &[&verification.as_str(), &tenant.as_str()])
        .await
        .map_err(pg_err)?
    else {
        return Ok(None);
    };
    let status: &str = get(&row, 0)?;
    JobStatus::parse(status)
        .map(Some)
        .ok_or_else(|| Error::Internal(format!("unknown stored job status {status:?}")))
}

/// Records each result inside one transaction; a job that no longer exists is skipped.
/// Rows are locked in id order, so two nodes finishing overlapping jobs cannot deadlock.
/// Returns how many jobs were found.
pub(super) async fn finish_all(
    c: &impl GenericClient,
    mut results: Vec<(i64, AttemptResult)>,
    now: Timestamp,
) -> Result<usize> {
    results.sort_by_key(|(id, _)| *id);
    let mut found = 0;
    for (job_id, result) in results {
        if finish(c, job_id, result, now).await? {
            found += 1;
        }
    }
    Ok(found)
}

/// `false` when the job does not exist.
async fn finish(
    c: &impl GenericClient,
    job_id: i64,
    result: AttemptResult,
    now: Timestamp,
) -> Result<bool> {
    let s = c
        .prepare_cached("SELECT verification_id FROM outbox_jobs WHERE id = $1 FOR UPDATE")
        .await
        .map_err(pg_err)?;
    let verification_id: String = match c.query_opt(&s, &[&job_id]).await.map_err(pg_err)? {
        Some(r) => get(&r, 0)?,
        None => return Ok(false),
    };
    match result {
        AttemptResult::Sent {
            provider,
            provider_ref,
            kept,
        } => {
            let s = c
                .prepare_cached(
                    "UPDATE outbox_jobs SET status = 'sent', sealed_code = NULL, provider = $2,
                         provider_ref = $3, last_error = NULL, updated_at = $4 WHERE id = $1",
                )
                .await
                .map_err(pg_err)?;
            c.execute(&s, &[&job_id, &provider, &provider_ref, &now.0])
                .await
                .map_err(pg_err)?;
            if let Some(message) = kept {
                save_message(c, &message).await?;
            }
        }
        AttemptResult::Retry { error, retry_at } => {
            let s = c
                .prepare_cached(
                    // A job a re-send superseded carries a dead code: dropped, not retried.
                    "UPDATE outbox_jobs SET
                         status = CASE WHEN superseded THEN 'dropped' ELSE 'queued' END,
                         sealed_code = CASE WHEN superseded THEN NULL ELSE sealed_code END,
                         due_at = $2, last_error = $3, updated_at = $4
                     FROM (SELECT EXISTS (SELECT 1 FROM outbox_jobs newer
                                          WHERE newer.verification_id = $5 AND newer.id > $1)
                           AS superseded) AS s
                     WHERE id = $1 AND status = 'sending'",
                )
                .await
                .map_err(pg_err)?;
            c.execute(
                &s,
                &[&job_id, &retry_at.0, &error, &now.0, &verification_id],
            )
            .await
            .map_err(pg_err)?;
        }
        AttemptResult::Failed { error } => {
            let s = c
                .prepare_cached(
                    "UPDATE outbox_jobs SET status = 'failed', sealed_code = NULL, last_error = $2,
                         updated_at = $3
                     WHERE id = $1",
                )
                .await
                .map_err(pg_err)?;
            c.execute(&s, &[&job_id, &error, &now.0])
                .await
                .map_err(pg_err)?;
            verifications::delivery_failed(c, job_id, &verification_id, now).await?;
        }
    }
    Ok(true)
}

/// A provider's receipt for a job it accepted. A receipt saying the message never arrived
/// fails the verification as a failed send would: nobody holds its code. Runs inside a
/// transaction; the job row is locked so receipts arriving at two nodes apply one at a time.
pub(super) async fn mark(
    c: &impl GenericClient,
    provider: &str,
    provider_ref: &str,
    status: JobStatus,
    now: Timestamp,
) -> Result<bool> {
    let s = c
        .prepare_cached(
            "SELECT id, verification_id FROM outbox_jobs
             WHERE provider = $1 AND provider_ref = $2
               AND status IN ('sent', 'delivered', 'undelivered', 'failed')
             ORDER BY id DESC LIMIT 1 FOR UPDATE",
        )
        .await
        .map_err(pg_err)?;
    let Some(row) = c
        .query_opt(&s, &[&provider, &provider_ref])
        .await
        .map_err(pg_err)?
    else {
        return Ok(false);
    };
    let job_id: i64 = get(&row, 0)?;
    let verification_id: String = get(&row, 1)?;
    let s = c
        .prepare_cached("UPDATE outbox_jobs SET status = $2, updated_at = $3 WHERE id = $1")
        .await
        .map_err(pg_err)?;
    c.execute(&s, &[&job_id, &status.as_str(), &now.0])
        .await
        .map_err(pg_err)?;
    if matches!(status, JobStatus::Undelivered | JobStatus::Failed) {
        verifications::delivery_failed(c, job_id, &verification_id, now).await?;
    }
    Ok(true)
}

pub(super) async fn latest(
    c: &impl GenericClient,
    verification_id: &str,
) -> Result<Option<DeliveryState>> {
    let s = c
        .prepare_cached(
            "SELECT status, provider, provider_ref, attempts FROM outbox_jobs
             WHERE verification_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .await
        .map_err(pg_err)?;
    let Some(row) = c.query_opt(&s, &[&verification_id]).await.map_err(pg_err)? else {
        return Ok(None);
    };
    let status: &str = get(&row, 0)?;
    Ok(Some(DeliveryState {
        status: JobStatus::parse(status)
            .ok_or_else(|| Error::Internal(format!("unknown job status {status:?}")))?,
        provider: get(&row, 1)?,
        provider_ref: get(&row, 2)?,
        attempts: u32::try_from(get::<i64>(&row, 3)?)
            .map_err(|_| Error::Internal("stored attempts out of range".into()))?,
    }))
}

async fn save_message(c: &impl GenericClient, m: &SealedMessage) -> Result<()> {
    let s = c
        .prepare_cached(
            "INSERT INTO outbox_messages (tenant_id, destination, channel, sealed_body, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await
        .map_err(pg_err)?;
    c.execute(
        &s,
        &[
            &m.tenant_id.as_str(),
            &m.to,
            &m.channel.as_str(),
            &m.sealed_body,
            &m.created_at.0,
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

pub(super) async fn messages(
    c: &impl GenericClient,
    tenant: &TenantId,
    to: Option<&str>,
    limit: usize,
) -> Result<Vec<SealedMessage>> {
    let s = c
        .prepare_cached(
            "SELECT id, tenant_id, destination, channel, sealed_body, created_at FROM outbox_messages
             WHERE tenant_id = $1 AND ($2::text IS NULL OR destination = $2) ORDER BY id DESC LIMIT $3",
        )
        .await
        .map_err(pg_err)?;
    c.query(&s, &[&tenant.as_str(), &to, &(limit as i64)])
        .await
        .map_err(pg_err)?
        .iter()
        .map(|row| {
            Ok(SealedMessage {
                id: get(row, 0)?,
                tenant_id: TenantId::from_trusted(get(row, 1)?),
                to: get(row, 2)?,
                channel: rows::channel(get(row, 3)?)?,
                sealed_body: get(row, 4)?,
                created_at: Timestamp(get(row, 5)?),
            })
        })
        .collect()
}
