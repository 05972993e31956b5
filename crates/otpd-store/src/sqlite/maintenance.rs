//! The sweeper's statements: expire overdue verifications and their undelivered jobs, purge
//! what ended long ago.
//! Each call does a bounded batch so request traffic is never held up for long.

use super::pool::sql_err;
use otpd_core::Result;
use otpd_core::clock::Timestamp;
use otpd_core::ports::SweepReport;
use rusqlite::{Connection, params};

const BATCH: i64 = otpd_core::ports::SWEEP_SLICE as i64;
/// Send-limit windows are at most a day long (see `ServiceConfig`).
const SENDS_KEPT_SECS: u64 = 86_400;

pub(super) fn sweep(c: &Connection, now: Timestamp, retention_secs: u64) -> Result<SweepReport> {
    let expired = c
        .prepare_cached(
            "UPDATE verifications SET status = 'expired', updated_at = ?1
             WHERE rowid IN (SELECT rowid FROM verifications
                             WHERE status = 'pending' AND expires_at <= ?1 LIMIT ?2)",
        )
        .and_then(|mut s| s.execute(params![now.0, BATCH]))
        .map_err(sql_err)?;
    // A job whose code expired can never be useful; its sealed code goes at once.
    let dropped = c
        .prepare_cached(
            "UPDATE outbox_jobs SET status = 'dropped', sealed_code = NULL, updated_at = ?1
             WHERE id IN (SELECT id FROM outbox_jobs
                          WHERE status IN ('queued', 'sending') AND expires_at <= ?1 LIMIT ?2)",
        )
        .and_then(|mut s| s.execute(params![now.0, BATCH]))
        .map_err(sql_err)?;
    let cutoff = now.minus_secs(retention_secs).0;
    let mut purged = 0usize;
    for sql in [
        "DELETE FROM verifications WHERE rowid IN (SELECT rowid FROM verifications
             WHERE status IN ('approved', 'canceled', 'expired', 'max_attempts_reached', 'failed')
               AND expires_at < ?1 LIMIT ?2)",
        "DELETE FROM outbox_jobs WHERE id IN (SELECT id FROM outbox_jobs
             WHERE created_at < ?1 AND status NOT IN ('queued', 'sending') LIMIT ?2)",
        "DELETE FROM outbox_messages WHERE id IN (SELECT id FROM outbox_messages
             WHERE created_at < ?1 LIMIT ?2)",
    ] {
        purged += c
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params![cutoff, BATCH]))
            .map_err(sql_err)?;
    }
    purged += c
        .prepare_cached(
            "DELETE FROM sends WHERE rowid IN (SELECT rowid FROM sends WHERE at < ?1 LIMIT ?2)",
        )
        .and_then(|mut s| s.execute(params![now.minus_secs(SENDS_KEPT_SECS).0, BATCH]))
        .map_err(sql_err)?;
    purged += super::persons::purge_failures(c, now, BATCH)?;
    Ok(SweepReport {
        expired: (expired + dropped) as u64,
        purged: purged as u64,
    })
}
