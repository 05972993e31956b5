//! `spawn_app()` and the typed helpers tests use.

use otpd::config::Config;
use otpd::wiring::build_with_clock;
use otpd_api::AppState;
use otpd_core::clock::{FakeClock, Timestamp};
use otpd_delivery::{Worker, WorkerConfig};
use otpd_store::testing::{Backend, TestDatabase};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    /// `key_id`, `secret` of the bootstrap admin key.
    pub admin: (String, String),
    pub clock: Arc<FakeClock>,
    pub db: PathBuf,
    /// The configuration the app was built from (its database, its key file).
    pub config: Config,
    pub store: Arc<dyn otpd_core::ports::Store>,
    worker: Arc<Worker>,
    /// Dropped after the app's fields above: the PostgreSQL database, when the run uses one.
    pg: Option<TestDatabase>,
    _dir: tempfile::TempDir,
}

/// The store this test run uses (`TEST_DATABASE`): SQLite in `dir`, or a fresh PostgreSQL
/// database (returned, so it lives as long as the test).
pub async fn test_config(dir: &std::path::Path) -> (Config, Option<TestDatabase>) {
    let mut config = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    let pg = match Backend::from_env() {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let db = TestDatabase::create().await;
            config.database_url = Some(db.url.clone());
            Some(db)
        }
    };
    (config, pg)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// As `spawn_app`, with the configuration changed by `configure` (providers, routes ...).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let (mut config, pg) = test_config(dir.path()).await;
    configure(&mut config);
    let clock = Arc::new(FakeClock::new(Timestamp(1_900_000_000_000)));
    let app = build_with_clock(&config, clock.clone()).await.unwrap();
    let key = app.engine.bootstrap().await.unwrap().unwrap();
    let worker = Arc::new(Worker {
        store: app.engine.store.clone(),
        clock: clock.clone(),
        secrets: app.engine.secrets.clone(),
        routes: app.routes,
        wakeup: app.wakeup,
        config: WorkerConfig::default(),
    });
    // No background worker: tests deliver explicitly (`deliver()`), so what they read is
    // deterministic.
    let state = AppState {
        engine: app.engine,
        metrics: otpd_api::metrics::handle(),
        outbox_enabled: app.outbox_enabled,
        twilio_hooks: Arc::new(app.twilio_hooks),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, otpd_api::router(state))
            .await
            .unwrap();
    });
    TestApp {
        addr,
        client: Client::new(),
        admin: (key.key.id.to_string(), key.secret),
        clock,
        db: dir.path().join("otpd.db"),
        config,
        store: worker.store.clone(),
        worker,
        pg,
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.post_as(&self.admin, path, body).await
    }

    pub async fn post_as(&self, key: &(String, String), path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .basic_auth(&key.0, Some(&key.1))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .basic_auth(&self.admin.0, Some(&self.admin.1))
            .send()
            .await
            .unwrap()
    }

    /// A service with `extra` settings; returns its id.
    pub async fn service(&self, extra: Value) -> String {
        let mut body = json!({"name": "Acme"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let r = self.post("/v1/services", body).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn start(&self, service: &str, to: &str) -> Value {
        let r = self
            .post(
                &format!("/v1/services/{service}/verifications"),
                json!({"to": to, "channel": "sms"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
        r.json().await.unwrap()
    }

    pub async fn check(&self, service: &str, id: &str, code: &str) -> Value {
        let r = self
            .post(
                &format!("/v1/services/{service}/verifications/{id}/check"),
                json!({"code": code}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// Delivers what is queued, then reads the newest code sent to `to` from the outbox.
    pub async fn last_code(&self, to: &str) -> String {
        self.deliver().await;
        let r = self
            .client
            .get(self.url("/v1/outbox"))
            .query(&[("to", to)])
            .basic_auth(&self.admin.0, Some(&self.admin.1))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let msgs: Vec<Value> = r.json().await.unwrap();
        let body = msgs[0]["body"].as_str().unwrap();
        body.rsplit(' ').next().unwrap().to_owned()
    }

    /// Runs delivery rounds until the queue is empty.
    pub async fn deliver(&self) {
        while self.worker.run_once().await.unwrap() > 0 {}
    }

    /// Row counts of every table, to prove a rejected request wrote nothing.
    pub fn row_counts(&self) -> Vec<(String, i64)> {
        if let Some(db) = &self.pg {
            return pg_row_counts(&db.url);
        }
        let c = rusqlite::Connection::open(&self.db).unwrap();
        let tables: Vec<String> = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        tables
            .into_iter()
            .map(|t| {
                let n = c
                    .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                    .unwrap();
                (t, n)
            })
            .collect()
    }

    /// The number a `SELECT COUNT(*) ...` statement (portable SQL) answers, on either backend.
    pub fn count(&self, sql: &str) -> i64 {
        self.query_text(sql)[0][0].parse().unwrap()
    }

    /// The rows of a query (portable SQL), every value as text (NULL as ""), on either backend.
    pub fn query_text(&self, sql: &str) -> Vec<Vec<String>> {
        if let Some(db) = &self.pg {
            return pg_text(&db.url, sql);
        }
        let c = rusqlite::Connection::open(&self.db).unwrap();
        let mut s = c.prepare(sql).unwrap();
        let n = s.column_count();
        s.query_map([], |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get::<_, rusqlite::types::Value>(i)? {
                        rusqlite::types::Value::Null => String::new(),
                        rusqlite::types::Value::Integer(x) => x.to_string(),
                        rusqlite::types::Value::Real(x) => x.to_string(),
                        rusqlite::types::Value::Text(x) => x,
                        rusqlite::types::Value::Blob(x) => format!("{x:?}"),
                    })
                })
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
    }

    /// Environment that points an `otpd` command at this app's database.
    pub fn db_env(&self) -> Vec<(String, String)> {
        match &self.pg {
            Some(db) => vec![("OTPD_DATABASE_URL".into(), db.url.clone())],
            None => Vec::new(),
        }
    }

    /// A key issued straight into the database, as `otpd keys create` does.
    pub async fn new_key(&self, tenant: &str, scopes: &str) -> (String, String) {
        let engine = build_with_clock(&self.config, self.clock.clone())
            .await
            .unwrap()
            .engine;
        let issued = engine
            .issue_key(
                tenant,
                "test",
                otpd_core::tenant::Scopes::parse_list(scopes).unwrap(),
            )
            .await
            .unwrap();
        (issued.key.id.to_string(), issued.secret)
    }
}

/// `row_counts` on PostgreSQL.
fn pg_row_counts(url: &str) -> Vec<(String, i64)> {
    let tables = pg_tables(url);
    let counts = pg_blocking(
        url,
        tables
            .iter()
            .map(|t| format!("SELECT COUNT(*) FROM \"{t}\""))
            .collect(),
    );
    tables.into_iter().zip(counts).collect()
}

fn pg_tables(url: &str) -> Vec<String> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        runtime().block_on(async {
            let c = pg_client(&url).await;
            c.query(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = 'public' AND table_name <> 'otpd_schema_migrations'
                 ORDER BY table_name",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
        })
    })
    .join()
    .unwrap()
}

/// Runs `SELECT COUNT(*)` statements on a thread of its own, so sync callers inside the async
/// tests need not change.
fn pg_blocking(url: &str, counts: Vec<String>) -> Vec<i64> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        runtime().block_on(async {
            let c = pg_client(&url).await;
            let mut out = Vec::new();
            for sql in counts {
                out.push(c.query_one(&sql, &[]).await.unwrap().get(0));
            }
            out
        })
    })
    .join()
    .unwrap()
}

/// One query over the simple protocol (every value comes back as text), on its own thread.
fn pg_text(url: &str, sql: &str) -> Vec<Vec<String>> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        runtime().block_on(async {
            let c = pg_client(&url).await;
            c.simple_query(&sql)
                .await
                .unwrap()
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                        (0..r.len())
                            .map(|i| r.get(i).unwrap_or("").to_owned())
                            .collect(),
                    ),
                    _ => None,
                })
                .collect()
        })
    })
    .join()
    .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c
}

pub async fn error_of(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["status"].as_u64(),
        Some(status.as_u16() as u64),
        "{body}"
    );
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    (status, body)
}
