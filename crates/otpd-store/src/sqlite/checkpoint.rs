//! WAL checkpoints on a thread of their own.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the threshold, so with one
//! writer doing group commit every request in that batch waits for the copy and its fsync. Here
//! the writer never checkpoints (`wal_autocheckpoint = 0`); this thread copies committed frames
//! back with `PASSIVE` checkpoints, which never wait on the writer. Under steady writes a
//! passive checkpoint never catches up to the end of the log, so the log would not restart:
//! past `RESTART_FRAMES` a `RESTART` checkpoint waits (within `busy_timeout`) for a quiet moment
//! and lets the next writer start the log from the beginning; `journal_size_limit` then trims
//! the file. Measured (BENCHMARKS.md): +15 % sends and +40 % checks per second at 64
//! connections, with a lower p99 for checks.

use rusqlite::Connection;
use std::time::Duration;

/// How often committed frames are copied back.
const INTERVAL: Duration = Duration::from_millis(250);
/// About 64 MB of log at the default 4 KiB page size.
const RESTART_FRAMES: i64 = 16_384;

/// Starts the checkpointer; it stops when every clone of the returned sender is dropped.
pub(crate) fn start(conn: Connection) -> std::io::Result<flume::Sender<()>> {
    let (tx, rx) = flume::bounded::<()>(1);
    std::thread::Builder::new()
        .name("otpd-sqlite-checkpoint".into())
        .spawn(move || {
            super::sched::defer_to_request_threads();
            while let Err(flume::RecvTimeoutError::Timeout) = rx.recv_timeout(INTERVAL) {
                run_once(&conn);
            }
        })?;
    Ok(tx)
}

fn run_once(conn: &Connection) {
    let frames = |mode: &str| {
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            r.get::<_, i64>(1)
        })
    };
    match frames("PASSIVE") {
        Ok(log) if log > RESTART_FRAMES => {
            if let Err(e) = frames("RESTART") {
                tracing::debug!(error = %e, "restart checkpoint deferred");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "wal checkpoint failed"),
    }
}
