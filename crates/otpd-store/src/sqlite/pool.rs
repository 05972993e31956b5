//! Threads that own the SQLite connections.
//!
//! One writer thread does group commit: it takes every write waiting in its queue (up to
//! `MAX_BATCH`), runs them in one transaction, commits once (one fsync under
//! `synchronous=FULL`), and only then answers every caller. A write that fails must not
//! disturb its batch mates. Savepoints around every write would give that, but each one copies
//! every page the write touches into a statement journal (a third of the writer's memcpy in
//! profiles), so the batch runs without them: a write that fails before changing anything
//! leaves nothing to undo, and in the rare case that one fails after changing rows the
//! transaction is rolled back and the whole batch runs again, each write in its own savepoint.
//! That is why writes are `Fn`: they may run twice, and only the last run's answer counts.
//!
//! Reads run on the caller's own thread with a connection from a small pool: they are point
//! lookups of a few microseconds, cheaper than two thread hand-offs, and WAL lets them run
//! while the writer writes.

use super::checkpoint::Checkpointer;
use otpd_core::{Error, Result};
use rusqlite::Connection;
use tokio::sync::oneshot;

const MAX_BATCH: usize = 512;

trait WriteJob: Send {
    /// Runs the job's statements; `false` if they failed. May be called again after a
    /// rollback: the last run's result is the answer.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's fate is known.
    fn finish(self: Box<Self>, committed: Result<()>);
}

struct Job<T, F> {
    work: F,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send + 'static,
    F: Fn(&Connection) -> Result<T> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let r = (self.work)(conn);
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn finish(self: Box<Self>, committed: Result<()>) {
        let answer = match (self.result, committed) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (Some(Ok(_)), Err(e)) => Err(e),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Err(Error::Internal("write job was not run".into())),
        };
        // The caller may have gone away (timeout, disconnect); the write stands either way.
        let _ = self.reply.send(answer);
    }
}

/// Read connections beyond this many are closed after use rather than kept.
const MAX_IDLE_READERS: usize = 16;

type OpenReader = Box<dyn Fn() -> Result<Connection> + Send + Sync>;

#[derive(Clone)]
pub(crate) struct Pool {
    writer: flume::Sender<Box<dyn WriteJob>>,
    readers: std::sync::Arc<Readers>,
    /// Held so the checkpointer stops when the last clone of the pool is dropped.
    _checkpointer: Checkpointer,
}

struct Readers {
    idle: std::sync::Mutex<Vec<Connection>>,
    open: OpenReader,
}

pub(crate) fn sql_err(e: rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::CannotOpen
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
            ) =>
        {
            Error::Unavailable(format!("sqlite: {e}"))
        }
        other => Error::Internal(format!("sqlite: {other}")),
    }
}

impl Pool {
    pub(crate) fn start(
        writer_conn: Connection,
        reader_conns: Vec<Connection>,
        open_reader: OpenReader,
        checkpointer: Checkpointer,
    ) -> Result<Pool> {
        let (wtx, wrx) = flume::unbounded::<Box<dyn WriteJob>>();
        let writer_checkpoints = checkpointer.clone();
        std::thread::Builder::new()
            .name("otpd-sqlite-writer".into())
            .spawn(move || writer_loop(writer_conn, wrx, writer_checkpoints))
            .map_err(|e| Error::Internal(format!("spawning the writer: {e}")))?;
        Ok(Pool {
            writer: wtx,
            readers: std::sync::Arc::new(Readers {
                idle: std::sync::Mutex::new(reader_conns),
                open: open_reader,
            }),
            _checkpointer: checkpointer,
        })
    }

    /// Runs `work` in the next group-committed transaction; returns once it is durable.
    /// `work` may run more than once (see the module comment); it must only touch the database.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = Box::new(Job {
            work,
            result: None,
            reply: tx,
        });
        self.writer
            .send(job)
            .map_err(|_| Error::Unavailable("the store is shut down".into()))?;
        rx.await
            .map_err(|_| Error::Internal("the store writer stopped".into()))?
    }

    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let taken = self.lock_idle().pop();
        let conn = match taken {
            Some(c) => c,
            None => (self.readers.open)()?,
        };
        let result = work(&conn);
        let mut idle = self.lock_idle();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A panic while holding the lock cannot leave the Vec inconsistent.
        self.readers
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn writer_loop(
    conn: Connection,
    rx: flume::Receiver<Box<dyn WriteJob>>,
    checkpointer: Checkpointer,
) {
    super::sched::defer_to_request_threads();
    let mut batch: Vec<Box<dyn WriteJob>> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        metrics::histogram!("otpd_store_group_commit_writes").record(batch.len() as f64);
        let committed = run_batch(&conn, &mut batch);
        for job in batch.drain(..) {
            job.finish(committed.clone());
        }
        checkpointer.finish_on_writer(&conn);
    }
}

/// Runs one of the transaction-control statements from the statement cache: they run for
/// every batch, and parsing them each time showed up in profiles.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> Result<()> {
    match run_unguarded(conn, batch)? {
        Unguarded::Committed => Ok(()),
        Unguarded::RolledBack => {
            metrics::counter!("otpd_store_batch_reruns_total").increment(1);
            run_guarded(conn, batch)
        }
    }
}

enum Unguarded {
    Committed,
    /// A write failed after changing rows; nothing of the batch was kept.
    RolledBack,
}

/// The fast path: no savepoints. Rows changed by the failing write itself are undone by
/// SQLite's statement rollback; rows changed by an earlier statement of the same write are not,
/// which `total_changes` reveals.
fn run_unguarded(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> Result<Unguarded> {
    control(conn, "BEGIN IMMEDIATE").map_err(sql_err)?;
    for job in batch.iter_mut() {
        let before = conn.total_changes();
        if !job.run(conn) && (conn.total_changes() != before || conn.is_autocommit()) {
            abandon(conn);
            return Ok(Unguarded::RolledBack);
        }
    }
    commit(conn)?;
    Ok(Unguarded::Committed)
}

/// The slow path: every write in its own savepoint, so a failing one is undone alone.
fn run_guarded(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> Result<()> {
    control(conn, "BEGIN IMMEDIATE").map_err(sql_err)?;
    for job in batch.iter_mut() {
        let step = control(conn, "SAVEPOINT job").and_then(|_| {
            if job.run(conn) {
                control(conn, "RELEASE job")
            } else {
                control(conn, "ROLLBACK TO job").and_then(|_| control(conn, "RELEASE job"))
            }
        });
        if let Err(e) = step {
            abandon(conn);
            return Err(sql_err(e));
        }
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back itself (disk full, I/O error).
            return Err(Error::Unavailable(
                "sqlite: the transaction was rolled back".into(),
            ));
        }
    }
    commit(conn)
}

fn commit(conn: &Connection) -> Result<()> {
    if let Err(e) = control(conn, "COMMIT") {
        abandon(conn);
        return Err(sql_err(e));
    }
    Ok(())
}

fn abandon(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}
