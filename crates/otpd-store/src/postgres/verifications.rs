//! Verification transactions. Each locks what it decides on, lets the core decide, and writes
//! the result, so any number of nodes can run them at once.

use super::pool::pg_err;
use super::rows::{self, VERIFICATION_COLUMNS, get};
use deadpool_postgres::GenericClient;
use otpd_core::clock::Timestamp;
use otpd_core::code::Code;
use otpd_core::ids::{ServiceId, TenantId, VerificationId};
use otpd_core::ports::StartOutcome;
use otpd_core::secrets::ServerSecrets;
use otpd_core::verification::{
    self, CheckOutcome, StartFacts, StartRequest, Verification, apply_cancel, apply_check,
};
use otpd_core::{Error, Result};
use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;

async fn one(
    c: &impl GenericClient,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Option<Verification>> {
    let s = c.prepare_cached(sql).await.map_err(pg_err)?;
    c.query_opt(&s, args)
        .await
        .map_err(pg_err)?
        .map(|r| rows::verification(&r))
        .transpose()
}

pub(super) async fn get_one(
    c: &impl GenericClient,
    tenant: &TenantId,
    service: &ServiceId,
    id: &VerificationId,
) -> Result<Option<Verification>> {
    one(
        c,
        &format!(
            "SELECT {VERIFICATION_COLUMNS} FROM verifications
             WHERE id = $1 AND tenant_id = $2 AND service_id = $3"
        ),
        &[&id.as_str(), &tenant.as_str(), &service.as_str()],
    )
    .await
}

/// As `get_one`, holding the row's lock until the transaction ends: concurrent checks of one
/// verification, on any node, take turns.
async fn lock_one(
    c: &impl GenericClient,
    tenant: &TenantId,
    service: &ServiceId,
    id: &VerificationId,
) -> Result<Option<Verification>> {
    one(
        c,
        &format!(
            "SELECT {VERIFICATION_COLUMNS} FROM verifications
             WHERE id = $1 AND tenant_id = $2 AND service_id = $3 FOR UPDATE"
        ),
        &[&id.as_str(), &tenant.as_str(), &service.as_str()],
    )
    .await
}

pub(super) async fn pending_for(
    c: &impl GenericClient,
    tenant: &TenantId,
    service: &ServiceId,
    to: &str,
) -> Result<Option<VerificationId>> {
    let s = c
        .prepare_cached(
            "SELECT id FROM verifications
             WHERE service_id = $1 AND destination = $2 AND status = 'pending' AND tenant_id = $3
             ORDER BY created_at DESC LIMIT 1",
        )
        .await
        .map_err(pg_err)?;
    let found = c
        .query_opt(&s, &[&service.as_str(), &to, &tenant.as_str()])
        .await
        .map_err(pg_err)?;
    found
        .map(|r| get::<String>(&r, 0).map(VerificationId::from_trusted))
        .transpose()
}

/// An advisory-lock key for `parts` under `label`.
fn lock_key(label: &[u8], parts: &[&str]) -> i64 {
    let mut h = Sha256::new();
    h.update(label);
    for p in parts {
        h.update([0]);
        h.update(p.as_bytes());
    }
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    i64::from_be_bytes(first)
}

async fn exec(c: &impl GenericClient, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<u64> {
    let s = c.prepare_cached(sql).await.map_err(pg_err)?;
    c.execute(&s, args).await.map_err(pg_err)
}

/// Runs inside a transaction.
pub(super) async fn start(
    c: &impl GenericClient,
    req: StartRequest,
    secrets: &ServerSecrets,
    now: Timestamp,
    lease_ms: Option<i64>,
) -> Result<StartOutcome> {
    let service = req.service.id.clone();
    let to = req.to.as_str().to_owned();
    // Every start to one service's destination (any channel, any node) runs one at a time, so
    // the send limit and "one pending per destination and channel" hold across nodes; the
    // same for a subject limit's subject. Always destination first, then subject: one order,
    // no deadlock.
    exec(
        c,
        "SELECT pg_advisory_xact_lock($1)",
        &[&lock_key(b"otpd-send", &[service.as_str(), &to])],
    )
    .await?;
    let tenant = req.service.tenant_id.clone();
    if let Some(limit) = &req.subject_limit {
        exec(
            c,
            "SELECT pg_advisory_xact_lock($1)",
            &[&lock_key(
                b"otpd-subject",
                &[tenant.as_str(), &limit.subject],
            )],
        )
        .await?;
    }
    let pending = one(
        c,
        &format!(
            "SELECT {VERIFICATION_COLUMNS} FROM verifications
             WHERE service_id = $1 AND destination = $2 AND channel = $3 AND status = 'pending'
             ORDER BY created_at DESC LIMIT 1 FOR UPDATE"
        ),
        &[&service.as_str(), &to, &req.channel.as_str()],
    )
    .await?;
    let window_start = now.minus_secs(req.service.config.send_limit.window_seconds);
    let sends = c
        .prepare_cached(
            "SELECT at FROM sends WHERE service_id = $1 AND destination = $2 AND at > $3",
        )
        .await
        .map_err(pg_err)?;
    let recent_sends = c
        .query(&sends, &[&service.as_str(), &to, &window_start.0])
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| get::<i64>(r, 0).map(Timestamp))
        .collect::<Result<Vec<_>>>()?;
    let subject_sends = match &req.subject_limit {
        Some(limit) => {
            let s = c
                .prepare_cached(
                    "SELECT at FROM sends WHERE tenant_id = $1 AND subject = $2 AND at > $3",
                )
                .await
                .map_err(pg_err)?;
            c.query(
                &s,
                &[
                    &tenant.as_str(),
                    &limit.subject,
                    &now.minus_secs(limit.window_seconds).0,
                ],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| get::<i64>(r, 0).map(Timestamp))
            .collect::<Result<Vec<_>>>()?
        }
        None => Vec::new(),
    };

    let plan = verification::plan_start(
        &req,
        StartFacts {
            pending,
            recent_sends,
            subject_sends,
        },
        secrets,
        now,
    )?;
    let v = &plan.verification;

    if let Some(stale) = &plan.expire {
        exec(
            c,
            "UPDATE verifications SET status = 'expired', updated_at = $2
             WHERE id = $1 AND status = 'pending'",
            &[&stale.as_str(), &now.0],
        )
        .await?;
    }
    if plan.created {
        exec(
            c,
            &format!(
                "INSERT INTO verifications ({VERIFICATION_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
            ),
            &[
                &v.id.as_str(),
                &v.tenant_id.as_str(),
                &v.service_id.as_str(),
                &v.channel.as_str(),
                &v.to.as_str(),
                &v.status.as_str(),
                &&v.code_mac.0[..],
                &v.custom_code,
                &v.locale.as_str(),
                &i64::from(v.attempts),
                &i64::from(v.max_attempts),
                &i64::from(v.send_count),
                &v.created_at.0,
                &v.updated_at.0,
                &v.expires_at.0,
                &v.reference.context_id,
                &v.reference.source,
                &v.reference.reference_code,
            ],
        )
        .await?;
    } else {
        exec(
            c,
            "UPDATE verifications SET code_mac = $2, custom_code = $3, send_count = $4, locale = $5,
                 expires_at = $6, updated_at = $7, context_id = $8, source = $9, reference_code = $10
             WHERE id = $1",
            &[
                &v.id.as_str(),
                &&v.code_mac.0[..],
                &v.custom_code,
                &i64::from(v.send_count),
                &v.locale.as_str(),
                &v.expires_at.0,
                &v.updated_at.0,
                &v.reference.context_id,
                &v.reference.source,
                &v.reference.reference_code,
            ],
        )
        .await?;
        // The old code is dead: its queued deliveries must not go out any more.
        drop_queued_jobs(c, v.id.as_str(), now).await?;
    }
    exec(
        c,
        "INSERT INTO sends (service_id, destination, at, tenant_id, subject)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &service.as_str(),
            &to,
            &plan.send_at.0,
            &tenant.as_str(),
            &plan.subject,
        ],
    )
    .await?;
    // Queued, or leased as a claim would leave it (its first attempt).
    let lease_until = lease_ms.map(|ms| now.plus_millis(ms).0);
    let j = &plan.job;
    let s = c
        .prepare_cached(
            "INSERT INTO outbox_jobs (tenant_id, service_id, verification_id, channel, destination,
                 locale, sealed_code, status, attempts, due_at, expires_at, created_at, updated_at,
                 message, sender, reference_code)
             VALUES ($1, $2, $3, $4, $5, $6, $7,
                     CASE WHEN $13::BIGINT IS NULL THEN 'queued' ELSE 'sending' END,
                     CASE WHEN $13::BIGINT IS NULL THEN 0 ELSE 1 END,
                     COALESCE($13::BIGINT, $8), $9, $8, $8, $10, $11, $12)
             RETURNING id",
        )
        .await
        .map_err(pg_err)?;
    let job_id: i64 = get(
        &c.query_one(
            &s,
            &[
                &j.tenant_id.as_str(),
                &j.service_id.as_str(),
                &j.verification_id.as_str(),
                &j.channel.as_str(),
                &j.to,
                &j.locale.as_str(),
                &j.sealed_code,
                &j.created_at.0,
                &j.expires_at.0,
                &j.message,
                &j.sender,
                &j.reference_code,
                &lease_until,
            ],
        )
        .await
        .map_err(pg_err)?,
        0,
    )?;
    Ok(StartOutcome {
        leased: lease_until.map(|_| plan.job.into_leased(job_id)),
        verification: plan.verification,
        created: plan.created,
    })
}

async fn drop_queued_jobs(
    c: &impl GenericClient,
    verification_id: &str,
    now: Timestamp,
) -> Result<u64> {
    exec(
        c,
        "UPDATE outbox_jobs SET status = 'dropped', sealed_code = NULL, updated_at = $2
         WHERE verification_id = $1 AND status = 'queued'",
        &[&verification_id, &now.0],
    )
    .await
}

/// Writes the decided state with one conditional UPDATE: it applies only if the row still
/// holds what the decision was made on (status and attempts), so a decision taken on a stale
/// read can never be written. Under the row lock it always applies; the condition is the
/// second guard.
async fn save_state(c: &impl GenericClient, before: &Verification, v: &Verification) -> Result<()> {
    let n = exec(
        c,
        "UPDATE verifications SET status = $2, attempts = $3, updated_at = $4
         WHERE id = $1 AND status = $5 AND attempts = $6",
        &[
            &v.id.as_str(),
            &v.status.as_str(),
            &i64::from(v.attempts),
            &v.updated_at.0,
            &before.status.as_str(),
            &i64::from(before.attempts),
        ],
    )
    .await?;
    if n == 1 {
        Ok(())
    } else {
        Err(Error::Unavailable(
            "the verification changed concurrently; retry".into(),
        ))
    }
}

/// Runs inside a transaction.
pub(super) async fn check(
    c: &impl GenericClient,
    tenant: &TenantId,
    service: &ServiceId,
    id: &VerificationId,
    candidate: &Code,
    secrets: &ServerSecrets,
    now: Timestamp,
) -> Result<(Verification, CheckOutcome)> {
    let before = lock_one(c, tenant, service, id)
        .await?
        .ok_or(Error::NotFound("verification"))?;
    let mut v = before.clone();
    let outcome = apply_check(&mut v, candidate, secrets, now);
    if outcome.changed {
        save_state(c, &before, &v).await?;
    }
    Ok((v, outcome))
}

/// Runs inside a transaction.
pub(super) async fn cancel(
    c: &impl GenericClient,
    tenant: &TenantId,
    service: &ServiceId,
    id: &VerificationId,
    now: Timestamp,
) -> Result<Verification> {
    let before = lock_one(c, tenant, service, id)
        .await?
        .ok_or(Error::NotFound("verification"))?;
    let mut v = before.clone();
    apply_cancel(&mut v, now)?;
    save_state(c, &before, &v).await?;
    drop_queued_jobs(c, v.id.as_str(), now).await?;
    Ok(v)
}

/// Marks the verification failed when its newest delivery failed for good. Runs inside a
/// transaction.
pub(super) async fn delivery_failed(
    c: &impl GenericClient,
    job_id: i64,
    verification_id: &str,
    now: Timestamp,
) -> Result<()> {
    let s = c
        .prepare_cached("SELECT MAX(id) FROM outbox_jobs WHERE verification_id = $1")
        .await
        .map_err(pg_err)?;
    let newest: Option<i64> = get(
        &c.query_one(&s, &[&verification_id]).await.map_err(pg_err)?,
        0,
    )?;
    if newest != Some(job_id) {
        return Ok(());
    }
    let found = one(
        c,
        &format!("SELECT {VERIFICATION_COLUMNS} FROM verifications WHERE id = $1 FOR UPDATE"),
        &[&verification_id],
    )
    .await?;
    if let Some(before) = found {
        let mut v = before.clone();
        if verification::apply_delivery_failed(&mut v, now) {
            save_state(c, &before, &v).await?;
        }
    }
    Ok(())
}
