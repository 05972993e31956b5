//! Threads that own the SQLite connections.
//!
//! One writer thread does group commit: it takes every write waiting in its queue (up to
//! `MAX_BATCH`), runs each inside its own savepoint in one transaction, commits once (one
//! fsync under `synchronous=FULL`), and only then answers every caller. A write that fails
//! rolls back to its savepoint without disturbing its batch mates. Reader threads each own a
//! connection; WAL lets them read while the writer writes.

use otpd_core::{Error, Result};
use rusqlite::Connection;
use tokio::sync::oneshot;

const MAX_BATCH: usize = 512;

trait WriteJob: Send {
    /// Runs the job's statements; `false` if they failed and must be rolled back.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's fate is known.
    fn finish(self: Box<Self>, committed: Result<()>);
}

struct Job<T, F> {
    work: Option<F>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let r = match self.work.take() {
            Some(work) => work(conn),
            None => Err(Error::Internal("write job ran twice".into())),
        };
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

type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

#[derive(Clone)]
pub(crate) struct Pool {
    writer: flume::Sender<Box<dyn WriteJob>>,
    readers: flume::Sender<ReadJob>,
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
    pub(crate) fn start(writer_conn: Connection, reader_conns: Vec<Connection>) -> Result<Pool> {
        let (wtx, wrx) = flume::unbounded::<Box<dyn WriteJob>>();
        std::thread::Builder::new()
            .name("otpd-sqlite-writer".into())
            .spawn(move || writer_loop(writer_conn, wrx))
            .map_err(|e| Error::Internal(format!("spawning the writer: {e}")))?;
        let (rtx, rrx) = flume::unbounded::<ReadJob>();
        for (i, conn) in reader_conns.into_iter().enumerate() {
            let rrx = rrx.clone();
            std::thread::Builder::new()
                .name(format!("otpd-sqlite-reader-{i}"))
                .spawn(move || {
                    while let Ok(job) = rrx.recv() {
                        job(&conn);
                    }
                })
                .map_err(|e| Error::Internal(format!("spawning a reader: {e}")))?;
        }
        Ok(Pool {
            writer: wtx,
            readers: rtx,
        })
    }

    /// Runs `work` in the next group-committed transaction; returns once it is durable.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = Box::new(Job {
            work: Some(work),
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
        let (tx, rx) = oneshot::channel();
        self.readers
            .send(Box::new(move |conn: &Connection| {
                let _ = tx.send(work(conn));
            }))
            .map_err(|_| Error::Unavailable("the store is shut down".into()))?;
        rx.await
            .map_err(|_| Error::Internal("a store reader stopped".into()))?
    }
}

fn writer_loop(conn: Connection, rx: flume::Receiver<Box<dyn WriteJob>>) {
    let mut batch: Vec<Box<dyn WriteJob>> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = run_batch(&conn, &mut batch);
        for job in batch.drain(..) {
            job.finish(committed.clone());
        }
    }
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_err)?;
    for job in batch.iter_mut() {
        let step = conn.execute_batch("SAVEPOINT job").and_then(|_| {
            if job.run(conn) {
                conn.execute_batch("RELEASE job")
            } else {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")
            }
        });
        if let Err(e) = step {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(sql_err(e));
        }
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(sql_err(e));
    }
    Ok(())
}
