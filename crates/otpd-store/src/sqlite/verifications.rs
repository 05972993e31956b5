//! Verification transactions. Each reads the facts, lets the core decide, writes the result.

use super::pool::sql_err;
use super::rows::{self, VERIFICATION_COLUMNS};
use otpd_core::clock::Timestamp;
use otpd_core::code::Code;
use otpd_core::delivery::NewJob;
use otpd_core::ids::{ServiceId, TenantId, VerificationId};
use otpd_core::ports::StartOutcome;
use otpd_core::secrets::ServerSecrets;
use otpd_core::verification::{
    self, CheckOutcome, StartFacts, StartRequest, Verification, apply_cancel, apply_check,
};
use otpd_core::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};

fn one(c: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<Option<Verification>> {
    let mut s = c.prepare_cached(sql).map_err(sql_err)?;
    let mut r = s.query(args).map_err(sql_err)?;
    match r.next().map_err(sql_err)? {
        Some(row) => rows::verification(row).map(Some),
        None => Ok(None),
    }
}

pub(super) fn get(
    c: &Connection,
    tenant: &TenantId,
    service: &ServiceId,
    id: &VerificationId,
) -> Result<Option<Verification>> {
    one(
        c,
        &format!(
            "SELECT {VERIFICATION_COLUMNS} FROM verifications WHERE id = ?1 AND tenant_id = ?2 AND service_id = ?3"
        ),
        [id.as_str(), tenant.as_str(), service.as_str()],
    )
}

pub(super) fn pending_for(
    c: &Connection,
    tenant: &TenantId,
    service: &ServiceId,
    to: &str,
) -> Result<Option<VerificationId>> {
    let mut s = c
        .prepare_cached(
            "SELECT id FROM verifications
             WHERE service_id = ?1 AND destination = ?2 AND status = 'pending' AND tenant_id = ?3
             ORDER BY created_at DESC LIMIT 1",
        )
        .map_err(sql_err)?;
    let mut r = s
        .query([service.as_str(), to, tenant.as_str()])
        .map_err(sql_err)?;
    match r.next().map_err(sql_err)? {
        Some(row) => Ok(Some(VerificationId::from_trusted(
            row.get(0).map_err(sql_err)?,
        ))),
        None => Ok(None),
    }
}

pub(super) fn start(
    c: &Connection,
    req: &StartRequest,
    secrets: &ServerSecrets,
    now: Timestamp,
    lease_ms: Option<i64>,
) -> Result<StartOutcome> {
    let service = req.service.id.clone();
    let to = req.to.as_str().to_owned();
    let pending = one(
        c,
        &format!(
            "SELECT {VERIFICATION_COLUMNS} FROM verifications
             WHERE service_id = ?1 AND destination = ?2 AND channel = ?3 AND status = 'pending'
             ORDER BY created_at DESC LIMIT 1"
        ),
        [service.as_str(), &to, req.channel.as_str()],
    )?;
    let window_start = now.minus_secs(req.service.config.send_limit.window_seconds);
    // A first send is its verification's row (migration 0008); `sends` holds re-sends.
    let recent_sends = send_times(
        c,
        "SELECT created_at FROM verifications
             WHERE service_id = ?1 AND destination = ?2 AND created_at > ?3
         UNION ALL
         SELECT at FROM sends WHERE service_id = ?1 AND destination = ?2 AND at > ?3",
        params![service.as_str(), to, window_start.0],
    )?;
    let subject_sends = match &req.subject_limit {
        Some(limit) => send_times(
            c,
            "SELECT created_at FROM verifications
                 WHERE tenant_id = ?1 AND subject = ?2 AND created_at > ?3
             UNION ALL
             SELECT at FROM sends WHERE tenant_id = ?1 AND subject = ?2 AND at > ?3",
            params![
                req.service.tenant_id.as_str(),
                limit.subject,
                now.minus_secs(limit.window_seconds).0
            ],
        )?,
        None => Vec::new(),
    };

    let plan = verification::plan_start(
        req,
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
        c.prepare_cached(
            "UPDATE verifications SET status = 'expired', updated_at = ?2 WHERE id = ?1 AND status = 'pending'",
        )
        .and_then(|mut s| s.execute(params![stale.as_str(), now.0]))
        .map_err(sql_err)?;
    }
    let lease_until = lease_ms.map(|ms| now.plus_millis(ms));
    let job_id = insert_job(c, &plan.job, lease_until)?;
    if plan.created {
        c.prepare_cached(&format!(
            "INSERT INTO verifications ({VERIFICATION_COLUMNS}, subject, job_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                     ?19, ?20)"
        ))
        .and_then(|mut s| {
            s.execute(params![
                v.id.as_str(),
                v.tenant_id.as_str(),
                v.service_id.as_str(),
                v.channel.as_str(),
                v.to.as_str(),
                v.status.as_str(),
                &v.code_mac.0[..],
                v.custom_code,
                v.locale.as_str(),
                v.attempts,
                v.max_attempts,
                v.send_count,
                v.created_at.0,
                v.updated_at.0,
                v.expires_at.0,
                v.reference.context_id,
                v.reference.source,
                v.reference.reference_code,
                plan.subject,
                job_id,
            ])
        })
        .map_err(sql_err)?;
    } else {
        resend(c, v, job_id, &plan, now)?;
    }
    Ok(StartOutcome {
        verification: plan.verification,
        created: plan.created,
        leased: lease_until.map(|_| plan.job.into_leased(job_id)),
    })
}

/// A re-send: the verification gets its new code and job, and the send is recorded.
fn resend(
    c: &Connection,
    v: &Verification,
    job_id: i64,
    plan: &verification::StartPlan,
    now: Timestamp,
) -> Result<()> {
    // The old code is dead: its delivery must not go out any more.
    drop_queued_job(c, v.id.as_str(), now)?;
    c.prepare_cached(
        "UPDATE verifications SET code_mac = ?2, custom_code = ?3, send_count = ?4, locale = ?5,
             expires_at = ?6, updated_at = ?7, context_id = ?8, source = ?9, reference_code = ?10,
             job_id = ?11
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            v.id.as_str(),
            &v.code_mac.0[..],
            v.custom_code,
            v.send_count,
            v.locale.as_str(),
            v.expires_at.0,
            v.updated_at.0,
            v.reference.context_id,
            v.reference.source,
            v.reference.reference_code,
            job_id,
        ])
    })
    .map_err(sql_err)?;
    c.prepare_cached(
        "INSERT INTO sends (service_id, destination, at, tenant_id, subject) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            v.service_id.as_str(),
            v.to.as_str(),
            plan.send_at.0,
            v.tenant_id.as_str(),
            plan.subject
        ])
    })
    .map_err(sql_err)?;
    Ok(())
}

fn send_times(c: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<Vec<Timestamp>> {
    let mut s = c.prepare_cached(sql).map_err(sql_err)?;
    let times = s.query_map(args, |r| r.get(0)).map_err(sql_err)?;
    times.map(|t| t.map(Timestamp).map_err(sql_err)).collect()
}

/// Queued, or leased until `lease_until` as a claim would leave it (its first attempt).
fn insert_job(c: &Connection, j: &NewJob, lease_until: Option<Timestamp>) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO outbox_jobs (tenant_id, service_id, verification_id, channel, destination, locale,
             sealed_code, status, attempts, due_at, expires_at, created_at, updated_at, message, sender,
             reference_code)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, CASE WHEN ?13 IS NULL THEN 'queued' ELSE 'sending' END,
                 ?13 IS NOT NULL, COALESCE(?13, ?8), ?9, ?8, ?8, ?10, ?11, ?12)",
    )
    .and_then(|mut s| {
        s.execute(params![
            j.tenant_id.as_str(),
            j.service_id.as_str(),
            j.verification_id.as_str(),
            j.channel.as_str(),
            j.to,
            j.locale.as_str(),
            j.sealed_code,
            j.created_at.0,
            j.expires_at.0,
            j.message,
            j.sender,
            j.reference_code,
            lease_until.map(|t| t.0),
        ])
    })
    .map_err(sql_err)?;
    Ok(c.last_insert_rowid())
}

fn save_state(c: &Connection, v: &Verification) -> Result<()> {
    c.prepare_cached(
        "UPDATE verifications SET status = ?2, attempts = ?3, updated_at = ?4 WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            v.id.as_str(),
            v.status.as_str(),
            v.attempts,
            v.updated_at.0
        ])
    })
    .map_err(sql_err)?;
    Ok(())
}

pub(super) fn check(
    c: &Connection,
    tenant: &TenantId,
    service: &ServiceId,
    id: &VerificationId,
    candidate: &Code,
    secrets: &ServerSecrets,
    now: Timestamp,
) -> Result<(Verification, CheckOutcome)> {
    let mut v = get(c, tenant, service, id)?.ok_or(Error::NotFound("verification"))?;
    let outcome = apply_check(&mut v, candidate, secrets, now);
    if outcome.changed {
        save_state(c, &v)?;
    }
    Ok((v, outcome))
}

pub(super) fn cancel(
    c: &Connection,
    tenant: &TenantId,
    service: &ServiceId,
    id: &VerificationId,
    now: Timestamp,
) -> Result<Verification> {
    let mut v = get(c, tenant, service, id)?.ok_or(Error::NotFound("verification"))?;
    apply_cancel(&mut v, now)?;
    save_state(c, &v)?;
    drop_queued_job(c, v.id.as_str(), now)?;
    Ok(v)
}

/// Drops the verification's delivery if it is still queued. Only a verification's newest job
/// (`job_id`, migration 0008) can be queued: a superseded job's retry is dropped (outbox.rs).
fn drop_queued_job(c: &Connection, verification_id: &str, now: Timestamp) -> Result<()> {
    c.prepare_cached(
        "UPDATE outbox_jobs SET status = 'dropped', sealed_code = NULL, updated_at = ?2
         WHERE id = (SELECT job_id FROM verifications WHERE id = ?1) AND status = 'queued'",
    )
    .and_then(|mut s| s.execute(params![verification_id, now.0]))
    .map_err(sql_err)?;
    Ok(())
}

/// The verification's newest delivery job (migration 0008), if it exists and has one.
fn newest_job(c: &Connection, verification_id: &str) -> Result<Option<i64>> {
    c.prepare_cached("SELECT job_id FROM verifications WHERE id = ?1")
        .and_then(|mut s| s.query_row([verification_id], |r| r.get(0)).optional())
        .map(Option::flatten)
        .map_err(sql_err)
}

/// Marks the verification failed when its newest delivery failed for good.
pub(super) fn delivery_failed(
    c: &Connection,
    job_id: i64,
    verification_id: &str,
    now: Timestamp,
) -> Result<()> {
    if newest_job(c, verification_id)? != Some(job_id) {
        return Ok(());
    }
    let found = one(
        c,
        &format!("SELECT {VERIFICATION_COLUMNS} FROM verifications WHERE id = ?1"),
        [verification_id],
    )?;
    if let Some(mut v) = found
        && verification::apply_delivery_failed(&mut v, now)
    {
        save_state(c, &v)?;
    }
    Ok(())
}
