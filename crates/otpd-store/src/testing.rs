//! Test support shared by this crate's tests and the HTTP suite: which backend a test run
//! uses, and throwaway PostgreSQL databases. Not for production code.
//!
//! `TEST_DATABASE=postgres` runs the suites on PostgreSQL (default: SQLite).
//! `TEST_POSTGRES_URL` is the server to create databases on (default
//! `postgres://postgres@127.0.0.1:5432/test`): each test gets a fresh `test_<unique>` database
//! there, dropped when the test ends.

use std::sync::atomic::{AtomicU64, Ordering};
use tokio_postgres::NoTls;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend this test run is for, from `TEST_DATABASE`.
    pub fn from_env() -> Backend {
        match std::env::var("TEST_DATABASE").as_deref() {
            Ok("postgres") | Ok("postgresql") | Ok("pg") => Backend::Postgres,
            Ok("") | Ok("sqlite") | Err(_) => Backend::Sqlite,
            Ok(other) => panic!("TEST_DATABASE={other:?}: use sqlite or postgres"),
        }
    }
}

/// The server tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database of its own for one test; dropped (with its connections) when this is dropped.
pub struct TestDatabase {
    /// URL of the new database.
    pub url: String,
    pub name: String,
    admin: String,
}

fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "test_{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with its database name replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

async fn admin_exec(admin: &str, sql: &str) -> Result<(), String> {
    let (client, conn) = tokio_postgres::connect(admin, NoTls)
        .await
        .map_err(|e| format!("connecting to {admin} (is PostgreSQL running?): {e}"))?;
    let task = tokio::spawn(conn);
    let r = client.batch_execute(sql).await.map_err(|e| e.to_string());
    drop(client);
    let _ = task.await;
    r
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        Self::create_on(&admin_url()).await
    }

    /// Creates a fresh database on the server `admin` points at.
    pub async fn create_on(admin: &str) -> TestDatabase {
        let name = unique_name();
        if let Err(e) = admin_exec(admin, &format!("CREATE DATABASE \"{name}\"")).await {
            panic!("creating the test database: {e}");
        }
        TestDatabase {
            url: with_database(admin, &name),
            name,
            admin: admin.to_owned(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop may run inside a runtime: do it on a thread with its own.
        let done = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let _ = rt.block_on(admin_exec(
                &admin,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            ));
        });
        let _ = done.join();
    }
}
