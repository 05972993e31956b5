//! How the writer and the checkpointer wait for each other's locks.
//!
//! SQLite's `busy_timeout` handler sleeps 1, 2, 5, 10 ... up to 100 ms between tries. A
//! `RESTART` checkpoint holds the write lock for a few milliseconds (the last frames and an
//! fsync of the database file); a writer backing off on that schedule slept past the end by
//! tens of milliseconds, and the checkpointer, sleeping 100 ms between tries for the write
//! lock, missed the writer's short gaps between batches for seconds. Both try again every
//! `STEP` instead, for as long as `busy_timeout = 5000` allowed.

use std::time::Duration;

const STEP: Duration = Duration::from_micros(100);
const TRIES: i32 = 50_000;

fn retry_soon(tries: i32) -> bool {
    if tries >= TRIES {
        return false;
    }
    std::thread::sleep(STEP);
    true
}

/// Replaces the connection's `busy_timeout` with short, even retries.
pub(crate) fn wait_in_short_steps(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.busy_handler(Some(retry_soon))
}
