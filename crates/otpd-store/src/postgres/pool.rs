//! The connection pool, the time limits that make an outage fail fast, and error mapping.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use otpd_core::{Error, Result};
use std::time::Duration;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

/// How a PostgreSQL store connects. `url` is a `postgres://` URL as libpq reads it.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections this node keeps at most.
    pub pool_size: usize,
    /// Longest wait to connect or to get a pooled connection; past it a request fails with
    /// `Unavailable` (503) instead of queueing behind a dead database.
    pub connect_timeout: Duration,
    /// Longest a store operation (one transaction) may take, also set as the server's
    /// `statement_timeout`.
    pub statement_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            connect_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// Parses `url` and names the database it points at, for messages (never the password).
pub(crate) fn parse_url(url: &str) -> Result<(tokio_postgres::Config, String)> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| Error::invalid("database_url", format!("not a PostgreSQL URL: {e}")))?;
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("postgres");
    Ok((config.clone(), format!("{host}:{port}/{db}")))
}

pub(crate) fn build_pool(mut config: tokio_postgres::Config, opts: &PgOptions) -> Result<Pool> {
    if !matches!(
        config.get_ssl_mode(),
        tokio_postgres::config::SslMode::Disable
    ) {
        // This build speaks plain TCP only (see README: run PostgreSQL on a private network
        // or behind a TLS tunnel). `prefer`, libpq's default, falls back to it; `require`
        // cannot be honoured and is refused at start rather than silently ignored.
        if matches!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        ) {
            return Err(Error::invalid(
                "database_url",
                "sslmode=require is not supported by this build; use sslmode=disable on a private network",
            ));
        }
    }
    // Durable before acknowledged, whatever the server's default: a commit returns only once
    // it is flushed to the WAL. statement_timeout bounds a stuck statement on the server too.
    config.options(format!(
        "-c synchronous_commit=on -c statement_timeout={} -c lock_timeout={}",
        opts.statement_timeout.as_millis(),
        opts.statement_timeout.as_millis()
    ));
    config.connect_timeout(opts.connect_timeout);
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(30));
    config.application_name("otpd");
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            // A connection the server closed (restart, failover) is noticed as closed and
            // replaced; a live one is reused without a round trip.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(opts.pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(opts.connect_timeout))
        .create_timeout(Some(opts.connect_timeout))
        .recycle_timeout(Some(opts.connect_timeout))
        .build()
        .map_err(|e| Error::Internal(format!("postgres pool: {e}")))
}

pub(crate) fn pool_err(e: deadpool_postgres::PoolError) -> Error {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_err(e),
        other => Error::Unavailable(format!("postgres: {other}")),
    }
}

/// Errors that mean "the database is not there right now" become `Unavailable` (503 with
/// Retry-After); everything else is a bug or a broken schema (`Internal`).
pub(crate) fn pg_err(e: tokio_postgres::Error) -> Error {
    let Some(state) = e.code() else {
        // No SQLSTATE: the connection broke, closed or timed out.
        return Error::Unavailable(format!("postgres: {e}"));
    };
    // The server's DETAIL can quote a whole row ("Failing row contains ..."), numbers
    // included: keep only the SQLSTATE and the primary message.
    let text = match e.as_db_error() {
        Some(db) => format!("postgres {}: {}", state.code(), db.message()),
        None => format!("postgres {}", state.code()),
    };
    let transient = *state == SqlState::T_R_SERIALIZATION_FAILURE
        || *state == SqlState::T_R_DEADLOCK_DETECTED
        || *state == SqlState::QUERY_CANCELED
        || *state == SqlState::LOCK_NOT_AVAILABLE
        || *state == SqlState::ADMIN_SHUTDOWN
        || *state == SqlState::CRASH_SHUTDOWN
        || *state == SqlState::CANNOT_CONNECT_NOW
        || *state == SqlState::TOO_MANY_CONNECTIONS
        || *state == SqlState::READ_ONLY_SQL_TRANSACTION
        || state.code().starts_with("08")
        || state.code().starts_with("53");
    if transient {
        Error::Unavailable(text)
    } else {
        Error::Internal(text)
    }
}

pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Runs `work` with the store's deadline; past it the caller gets `Unavailable`. A write cut
/// off here was not acknowledged, so the caller may retry it.
pub(crate) async fn timed<T>(
    limit: Duration,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, work).await {
        Ok(r) => r,
        Err(_) => Err(Error::Unavailable(
            "postgres: no answer within the statement timeout".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_never_carry_the_servers_detail() {
        let db = crate::testing::TestDatabase::create().await;
        let (c, conn) = tokio_postgres::connect(&db.url, NoTls).await.unwrap();
        tokio::spawn(conn);
        c.batch_execute("CREATE TABLE t (a TEXT NOT NULL, b TEXT NOT NULL)")
            .await
            .unwrap();
        let e = c
            .execute("INSERT INTO t (a, b) VALUES ('+14155552671', NULL)", &[])
            .await
            .unwrap_err();
        assert!(e.as_db_error().and_then(|d| d.detail()).is_some());
        let mapped = pg_err(e).to_string();
        assert!(mapped.contains("23502"), "{mapped}");
        assert!(!mapped.contains("4155552671"), "{mapped}");
    }
}
