//! The sweeper's statements: expire overdue verifications and their undelivered jobs, purge
//! what ended long ago. Every node runs a sweeper; a transaction-scoped advisory lock lets one
//! sweep at a time (the others skip that round), and the statements are idempotent anyway.
//! Each call does bounded batches that skip rows a request holds, so traffic is never held up.

use super::pool::pg_err;
use super::rows::get;
use deadpool_postgres::GenericClient;
use otpd_core::Result;
use otpd_core::clock::Timestamp;
use otpd_core::ports::SweepReport;

const BATCH: i64 = otpd_core::ports::SWEEP_SLICE as i64;
/// Send-limit windows are at most a day long (see `ServiceConfig`).
const SENDS_KEPT_SECS: u64 = 86_400;
/// `pg_advisory_xact_lock` key of the sweeper ("otpdswep" in ASCII).
const SWEEP_LOCK: i64 = 0x6f74_7064_7377_6570;

async fn run(c: &impl GenericClient, sql: &str, at: i64) -> Result<u64> {
    let s = c.prepare_cached(sql).await.map_err(pg_err)?;
    c.execute(&s, &[&at, &BATCH]).await.map_err(pg_err)
}

/// Runs inside a transaction.
pub(super) async fn sweep(
    c: &impl GenericClient,
    now: Timestamp,
    retention_secs: u64,
) -> Result<SweepReport> {
    let s = c
        .prepare_cached("SELECT pg_try_advisory_xact_lock($1)")
        .await
        .map_err(pg_err)?;
    let mine: bool = get(&c.query_one(&s, &[&SWEEP_LOCK]).await.map_err(pg_err)?, 0)?;
    if !mine {
        // Another node is sweeping right now.
        return Ok(SweepReport::default());
    }
    let mut report = SweepReport::default();
    let expired = run(
        c,
        "UPDATE verifications SET status = 'expired', updated_at = $1
         WHERE id IN (SELECT id FROM verifications
                      WHERE status = 'pending' AND expires_at <= $1
                      LIMIT $2 FOR UPDATE SKIP LOCKED)
           AND status = 'pending'",
        now.0,
    )
    .await?;
    report.expired_slice(expired);
    // A job whose code expired can never be useful; its sealed code goes at once.
    let dropped = run(
        c,
        "UPDATE outbox_jobs SET status = 'dropped', sealed_code = NULL, updated_at = $1
         WHERE id IN (SELECT id FROM outbox_jobs
                      WHERE status IN ('queued', 'sending') AND expires_at <= $1
                      LIMIT $2 FOR UPDATE SKIP LOCKED)",
        now.0,
    )
    .await?;
    report.expired_slice(dropped);
    let cutoff = now.minus_secs(retention_secs).0;
    for sql in [
        "DELETE FROM verifications WHERE id IN (SELECT id FROM verifications
             WHERE status IN ('approved', 'canceled', 'expired', 'max_attempts_reached', 'failed')
               AND expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        "DELETE FROM outbox_jobs WHERE id IN (SELECT id FROM outbox_jobs
             WHERE created_at < $1 AND status NOT IN ('queued', 'sending')
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
        "DELETE FROM outbox_messages WHERE id IN (SELECT id FROM outbox_messages
             WHERE created_at < $1 LIMIT $2)",
    ] {
        report.purged_slice(run(c, sql, cutoff).await?);
    }
    let sends = run(
        c,
        "DELETE FROM sends WHERE ctid IN (SELECT ctid FROM sends WHERE at < $1 LIMIT $2)",
        now.minus_secs(SENDS_KEPT_SECS).0,
    )
    .await?;
    report.purged_slice(sends);
    report.purged_slice(super::persons::purge_failures(c, now, BATCH).await? as u64);
    Ok(report)
}
