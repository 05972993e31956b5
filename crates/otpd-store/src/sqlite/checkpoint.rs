//! WAL checkpoints, kept out of the group commits' way.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the threshold, so with one
//! writer doing group commit every request in that batch waits for the copy and its fsync. Here
//! the writer never checkpoints on its own (`wal_autocheckpoint = 0`); a thread of its own
//! copies committed frames back with `PASSIVE` checkpoints, which never wait on the writer.
//!
//! Under steady writes a passive checkpoint never reaches the end of the log, so the log would
//! never start over. A `RESTART` checkpoint from this thread must first win the write lock,
//! which a saturated writer frees only for microseconds between batches: measured, it waited
//! 100-500 ms and every request queued behind it (the max latency of a send run). So past
//! `RESTART_FRAMES` this thread asks the writer instead, and the writer, between two batches,
//! runs a passive checkpoint of its own. That copies only the frames committed since this
//! thread's last pass (a few milliseconds), leaves the log fully copied, and SQLite starts the
//! log over at the writer's next commit. A reader still on an older snapshot can keep that from
//! happening; if the log grows to `FORCE_FRAMES` regardless, this thread falls back to
//! `RESTART`. `journal_size_limit` then trims the file.

use rusqlite::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often committed frames are copied back.
const INTERVAL: Duration = Duration::from_millis(250);
/// About 64 MB of log at the default 4 KiB page size.
const RESTART_FRAMES: i64 = 16_384;
/// The log length at which this thread restarts the log itself, holding the writer back.
const FORCE_FRAMES: i64 = 4 * RESTART_FRAMES;

/// The running checkpointer: it stops when every clone of this is dropped.
#[derive(Clone)]
pub(crate) struct Checkpointer {
    _stop: flume::Sender<()>,
    restart_wanted: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Called by the writer between batches: copies back the rest of a long log so that the
    /// next commit starts it over.
    pub(crate) fn finish_on_writer(&self, writer: &Connection) {
        if !self.restart_wanted.swap(false, Ordering::Relaxed) {
            return;
        }
        let started = Instant::now();
        match checkpoint(writer, "PASSIVE") {
            Ok((log, copied)) => tracing::debug!(
                log,
                copied,
                ms = started.elapsed().as_secs_f64() * 1e3,
                "writer checkpoint"
            ),
            Err(e) => tracing::warn!(error = %e, "writer checkpoint failed"),
        }
    }
}

/// Starts the checkpointer on `conn`, a connection of its own.
pub(crate) fn start(conn: Connection) -> std::io::Result<Checkpointer> {
    let (tx, rx) = flume::bounded::<()>(1);
    let restart_wanted = Arc::new(AtomicBool::new(false));
    let wanted = restart_wanted.clone();
    std::thread::Builder::new()
        .name("otpd-sqlite-checkpoint".into())
        .spawn(move || {
            super::sched::defer_to_request_threads();
            while let Err(flume::RecvTimeoutError::Timeout) = rx.recv_timeout(INTERVAL) {
                run_once(&conn, &wanted);
            }
        })?;
    Ok(Checkpointer {
        _stop: tx,
        restart_wanted,
    })
}

/// Runs `PRAGMA wal_checkpoint(mode)`: the frames in the log and how many are copied back.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
}

fn run_once(conn: &Connection, restart_wanted: &AtomicBool) {
    match checkpoint(conn, "PASSIVE") {
        Ok((log, _)) if log > FORCE_FRAMES => {
            let started = Instant::now();
            match checkpoint(conn, "RESTART") {
                Ok(_) => tracing::debug!(
                    log,
                    ms = started.elapsed().as_secs_f64() * 1e3,
                    "wal restarted by the checkpointer"
                ),
                Err(e) => tracing::debug!(error = %e, "restart checkpoint deferred"),
            }
        }
        Ok((log, _)) if log > RESTART_FRAMES => restart_wanted.store(true, Ordering::Relaxed),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "wal checkpoint failed"),
    }
}
