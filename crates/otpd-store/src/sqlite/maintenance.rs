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

/// Where the expiry walk stopped: the last `(expires_at, rowid)` it looked at (table
/// `sweep_cursor`). No index has `status` in it (a check would rewrite it, see migration 0006),
/// so the walk goes through the expiry index in order, every row once, and writes down
/// `expired` on those still pending. Readers never depend on that: a pending verification past
/// its expiry reads as expired.
/// Ordered as the walk goes: by `expires_at`, then `rowid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct ExpiryCursor {
    expires_at: i64,
    rowid: i64,
}

impl ExpiryCursor {
    fn load(c: &Connection) -> Result<ExpiryCursor> {
        c.prepare_cached("SELECT expires_at, row_id FROM sweep_cursor WHERE id = 1")
            .and_then(|mut s| {
                s.query_row([], |r| {
                    Ok(ExpiryCursor {
                        expires_at: r.get(0)?,
                        rowid: r.get(1)?,
                    })
                })
            })
            .map_err(sql_err)
    }

    fn save(self, c: &Connection) -> Result<()> {
        c.prepare_cached("UPDATE sweep_cursor SET expires_at = ?1, row_id = ?2 WHERE id = 1")
            .and_then(|mut s| s.execute(params![self.expires_at, self.rowid]))
            .map_err(sql_err)?;
        Ok(())
    }

    /// Rows that expired before `cutoff` are purged whatever their status, so the walk never
    /// needs to start earlier than that.
    fn at_least(self, cutoff: i64) -> ExpiryCursor {
        self.max(ExpiryCursor {
            expires_at: cutoff,
            rowid: i64::MIN,
        })
    }
}

/// Writes `expired` on the pending verifications among the next `BATCH` rows of expiry order
/// that are due. Returns how many it expired, how many rows it looked at, and the new cursor.
fn expire_verifications(
    c: &Connection,
    now: Timestamp,
    from: ExpiryCursor,
) -> Result<(usize, usize, ExpiryCursor)> {
    let mut walk = c
        .prepare_cached(
            "SELECT rowid, expires_at, status = 'pending' FROM verifications
             WHERE (expires_at, rowid) > (?1, ?2) AND expires_at <= ?3
             ORDER BY expires_at, rowid LIMIT ?4",
        )
        .map_err(sql_err)?;
    let mut rows = walk
        .query(params![from.expires_at, from.rowid, now.0, BATCH])
        .map_err(sql_err)?;
    let (mut cursor, mut visited, mut due) = (from, 0usize, Vec::new());
    while let Some(r) = rows.next().map_err(sql_err)? {
        cursor = ExpiryCursor {
            rowid: r.get(0).map_err(sql_err)?,
            expires_at: r.get(1).map_err(sql_err)?,
        };
        visited += 1;
        if r.get::<_, bool>(2).map_err(sql_err)? {
            due.push(cursor.rowid);
        }
    }
    drop(rows);
    let mut expire = c
        .prepare_cached(
            "UPDATE verifications SET status = 'expired', updated_at = ?2
             WHERE rowid = ?1 AND status = 'pending'",
        )
        .map_err(sql_err)?;
    let mut expired = 0;
    for rowid in due {
        expired += expire.execute(params![rowid, now.0]).map_err(sql_err)?;
    }
    Ok((expired, visited, cursor))
}

/// Through the partial index of jobs still to deliver (migration 0007).
pub(super) const DROP_EXPIRED_JOBS: &str =
    "UPDATE outbox_jobs SET status = 'dropped', sealed_code = NULL, updated_at = ?1
     WHERE id IN (SELECT id FROM outbox_jobs
                  WHERE status IN ('queued', 'sending') AND expires_at <= ?1 LIMIT ?2)";

/// The verifications the next purge slice deletes; in index order, so the sends kept back
/// for them are exactly those rows.
const PURGED_VERIFICATIONS: &str =
    "SELECT rowid FROM verifications WHERE expires_at < ?1 ORDER BY expires_at, rowid LIMIT ?2";

pub(super) fn sweep(c: &Connection, now: Timestamp, retention_secs: u64) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    let cutoff = now.minus_secs(retention_secs).0;
    let from = ExpiryCursor::load(c)?.at_least(cutoff);
    let (expired, visited, cursor) = expire_verifications(c, now, from)?;
    if cursor != from {
        cursor.save(c)?;
    }
    report.expired_slice(expired as u64);
    // The walk's slice is the rows it looked at, most of which had ended already.
    report.more |= visited as u64 >= otpd_core::ports::SWEEP_SLICE;
    // A job whose code expired can never be useful; its sealed code goes at once.
    let dropped = c
        .prepare_cached(DROP_EXPIRED_JOBS)
        .and_then(|mut s| s.execute(params![now.0, BATCH]))
        .map_err(sql_err)?;
    report.expired_slice(dropped as u64);
    // A verification row is its own first send (migration 0008): one purged before the send
    // limits' longest window is over leaves its send behind.
    c.prepare_cached(&format!(
        "INSERT INTO sends (service_id, destination, at, tenant_id, subject)
             SELECT service_id, destination, created_at, tenant_id, subject FROM verifications
             WHERE rowid IN ({PURGED_VERIFICATIONS}) AND created_at >= ?3"
    ))
    .and_then(|mut s| s.execute(params![cutoff, BATCH, now.minus_secs(SENDS_KEPT_SECS).0]))
    .map_err(sql_err)?;
    let purge_verifications =
        format!("DELETE FROM verifications WHERE rowid IN ({PURGED_VERIFICATIONS})");
    for sql in [
        // Past the retention every verification has ended, whatever its stored status says.
        purge_verifications.as_str(),
        // Jobs and kept messages have no index on time (a send would write to it, migration
        // 0007): they are inserted in time order, so the oldest are the first ids. A queued
        // job at the front does not stay there: its code expires and it is dropped above.
        "DELETE FROM outbox_jobs WHERE id IN (SELECT id FROM
             (SELECT id, created_at, status FROM outbox_jobs ORDER BY id LIMIT ?2)
             WHERE created_at < ?1 AND status NOT IN ('queued', 'sending'))",
        "DELETE FROM outbox_messages WHERE id IN (SELECT id FROM
             (SELECT id, created_at FROM outbox_messages ORDER BY id LIMIT ?2)
             WHERE created_at < ?1)",
    ] {
        let n = c
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params![cutoff, BATCH]))
            .map_err(sql_err)?;
        report.purged_slice(n as u64);
    }
    let sends = c
        .prepare_cached(
            "DELETE FROM sends WHERE rowid IN (SELECT rowid FROM
                 (SELECT rowid, at FROM sends ORDER BY rowid LIMIT ?2) WHERE at < ?1)",
        )
        .and_then(|mut s| s.execute(params![now.minus_secs(SENDS_KEPT_SECS).0, BATCH]))
        .map_err(sql_err)?;
    report.purged_slice(sends as u64);
    report.purged_slice(super::persons::purge_failures(c, now, BATCH)? as u64);
    Ok(report)
}
