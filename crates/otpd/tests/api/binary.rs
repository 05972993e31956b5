//! Tests of the real `otpd` binary: crash safety, log hygiene, the CLI, configuration errors.

use otpd_store::testing::{Backend, TestDatabase};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_otpd");

/// Where a server's data lives: a data directory (the key file, and the SQLite database) and,
/// when the run uses PostgreSQL (`TEST_DATABASE`), a fresh database of its own.
pub(crate) struct Place {
    dir: tempfile::TempDir,
    pub(crate) pg: Option<TestDatabase>,
}

impl Place {
    pub(crate) async fn new() -> Place {
        let dir = tempfile::tempdir().unwrap();
        let pg = match Backend::from_env() {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TestDatabase::create().await),
        };
        Place { dir, pg }
    }

    /// A data directory of its own on `db`: another node of the same deployment.
    pub(crate) fn node_on(db: &TestDatabase) -> (tempfile::TempDir, Vec<(String, String)>) {
        let dir = tempfile::tempdir().unwrap();
        (dir, vec![("OTPD_DATABASE_URL".into(), db.url.clone())])
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn env(&self) -> Vec<(String, String)> {
        match &self.pg {
            Some(db) => vec![("OTPD_DATABASE_URL".into(), db.url.clone())],
            None => Vec::new(),
        }
    }
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) stdout: Arc<Mutex<Vec<String>>>,
    pub(crate) stderr: Arc<Mutex<Vec<String>>>,
}

fn collect(
    reader: impl std::io::Read + Send + 'static,
    sink: Arc<Mutex<Vec<String>>>,
    tx: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if let (Some(tx), Some(addr)) = (&tx, line.strip_prefix("otpd: listening on ")) {
                let _ = tx.send(addr.to_owned());
            }
            sink.lock().unwrap().push(line);
        }
    });
}

pub(crate) fn spawn_server(place: &Place, env: &[(&str, &str)]) -> Server {
    spawn_server_in(place.path(), &place.env(), env)
}

/// Starts `otpd serve` on a free port with `data_dir`, the database env `db` and `env`.
pub(crate) fn spawn_server_in(
    data_dir: &Path,
    db: &[(String, String)],
    env: &[(&str, &str)],
) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("RUST_LOG")
        .env_remove("OTPD_DATABASE_URL")
        .envs(db.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    collect(child.stdout.take().unwrap(), stdout.clone(), None);
    collect(child.stderr.take().unwrap(), stderr.clone(), Some(tx));
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("otpd did not start: {:?}", stderr.lock().unwrap()));
    Server {
        child,
        base,
        stdout,
        stderr,
    }
}

impl Server {
    pub(crate) fn bootstrap_key(&self) -> (String, String) {
        // stdout and stderr are read by separate threads: the key line may trail the
        // listening line by a moment.
        let mut line = None;
        for _ in 0..500 {
            line = self.stdout.lock().unwrap().first().cloned();
            if line.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let line = line.expect("otpd printed no bootstrap key");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v["token"],
            format!(
                "{}.{}",
                v["key_id"].as_str().unwrap(),
                v["secret"].as_str().unwrap()
            )
        );
        (
            v["key_id"].as_str().unwrap().to_owned(),
            v["secret"].as_str().unwrap().to_owned(),
        )
    }

    pub(crate) async fn post(
        &self,
        key: &(String, String),
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        Client::new()
            .post(format!("{}{path}", self.base))
            .basic_auth(&key.0, Some(&key.1))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn get(&self, key: &(String, String), path: &str) -> reqwest::Response {
        Client::new()
            .get(format!("{}{path}", self.base))
            .basic_auth(&key.0, Some(&key.1))
            .send()
            .await
            .unwrap()
    }

    pub(crate) fn kill9(mut self) {
        self.child.kill().unwrap(); // SIGKILL on Unix
        self.child.wait().unwrap();
    }

    pub(crate) fn terminate(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(200));
        self.stderr.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn kill_9_right_after_acknowledged_creates_loses_nothing() {
    let dir = Place::new().await;
    // A short lease, so jobs a killed worker held are retried within the test's patience.
    let env = [("OTPD_DELIVERY__LEASE_SECONDS", "5")];
    let server = spawn_server(&dir, &env);
    let key = server.bootstrap_key();
    let r = server
        .post(
            &key,
            "/v1/services",
            json!({"name": "Acme", "custom_code_enabled": true}),
        )
        .await;
    let sid = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = server
            .post(
                &key,
                &format!("/v1/services/{sid}/verifications"),
                json!({"to": format!("+1415555267{i}"), "channel": "sms", "custom_code": format!("48291{i}")}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        ids.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    server.kill9();

    let server = spawn_server(&dir, &env);
    assert!(
        server.stdout.lock().unwrap().is_empty(),
        "the bootstrap key is printed only once"
    );
    for (i, id) in ids.iter().enumerate() {
        let r = server
            .get(&key, &format!("/v1/services/{sid}/verifications/{id}"))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "verification {i} survived");
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "pending");
    }
    let r = server
        .post(
            &key,
            &format!("/v1/services/{sid}/verifications/{}/check", ids[3]),
            json!({"code": "482913"}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["valid"], true);
    // Deliveries interrupted by the crash still go out after the restart.
    let mut delivered = 0;
    for _ in 0..150 {
        let msgs: Vec<Value> = server.get(&key, "/v1/outbox").await.json().await.unwrap();
        delivered = msgs.len();
        if delivered == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(delivered, 5);
    server.terminate();
}

#[tokio::test]
async fn no_code_secret_or_full_number_in_logs_at_trace_level() {
    let dir = Place::new().await;
    let server = spawn_server(&dir, &[("RUST_LOG", "trace")]);
    let key = server.bootstrap_key();
    let r = server
        .post(
            &key,
            "/v1/services",
            json!({"name": "Acme", "custom_code_enabled": true}),
        )
        .await;
    let sid = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = server
        .post(
            &key,
            &format!("/v1/services/{sid}/verifications"),
            json!({"to": "+14155552671", "channel": "sms", "custom_code": "739184"}),
        )
        .await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = server
        .post(
            &key,
            &format!("/v1/services/{sid}/verifications"),
            json!({"to": "jane.doe@example.com", "channel": "email"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for _ in 0..50 {
        let msgs: Vec<Value> = server
            .get(&key, "/v1/outbox?to=%2B14155552671")
            .await
            .json()
            .await
            .unwrap();
        if !msgs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for code in ["000000", "739184", "739184"] {
        server
            .post(
                &key,
                &format!("/v1/services/{sid}/verifications/{id}/check"),
                json!({"code": code}),
            )
            .await;
    }
    server
        .post(
            &key,
            &format!("/v1/services/{sid}/checks"),
            json!({"to": "+14155552671", "code": "739184"}),
        )
        .await;
    let logs = server.terminate().join("\n");
    assert!(
        logs.len() > 1000,
        "trace logging was on: {} bytes",
        logs.len()
    );
    assert!(logs.contains("+14*******71"), "numbers appear masked");
    for secret in [
        "739184",
        key.1.as_str(),
        "4155552671",
        "jane.doe@example.com",
    ] {
        assert!(!logs.contains(secret), "{secret:?} leaked into the logs");
    }
}

fn otpd(args: &[&str], place: &Place) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(place.path())
        .env_remove("RUST_LOG")
        .env_remove("OTPD_DATABASE_URL")
        .envs(place.env())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_keys_and_services_work_beside_a_running_server() {
    let dir = Place::new().await;
    let (ok, _, err) = otpd(&["migrate"], &dir);
    assert!(ok, "{err}");
    let server = spawn_server(&dir, &[]);
    let (ok, out, err) = otpd(
        &[
            "keys",
            "create",
            "--scopes",
            "admin,verify",
            "--name",
            "ci",
            "--tenant",
            "acme",
        ],
        &dir,
    );
    assert!(ok, "{err}");
    let k: Value = serde_json::from_str(out.trim()).unwrap();
    let key = (
        k["key_id"].as_str().unwrap().to_owned(),
        k["secret"].as_str().unwrap().to_owned(),
    );
    assert_eq!(k["token"], format!("{}.{}", key.0, key.1));

    let (ok, out, err) = otpd(
        &[
            "services",
            "create",
            "--name",
            "Shop",
            "--tenant",
            "acme",
            "--code-length",
            "8",
        ],
        &dir,
    );
    assert!(ok, "{err}");
    let s: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(s["code_length"], 8);
    let r = server.get(&key, "/v1/services").await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["services"][0]["id"],
        s["id"]
    );

    let (ok, out, _) = otpd(&["keys", "list", "--tenant", "acme"], &dir);
    assert!(ok);
    assert!(
        out.contains(&key.0) && !out.contains(&key.1),
        "lists ids, never secrets"
    );
    let (ok, out, _) = otpd(&["services", "list", "--tenant", "acme"], &dir);
    assert!(ok && out.contains("Shop"));

    let (ok, _, err) = otpd(&["keys", "revoke", &key.0], &dir);
    assert!(ok, "{err}");
    // The server keeps keys it read for a second (README, CLI): the revocation, made by
    // another process, must bite within that.
    let revoked_at = std::time::Instant::now();
    loop {
        let r = server.get(&key, "/v1/services").await;
        if r.status() == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_millis(1500),
            "a key revoked by the CLI still works after the server's one-second key cache"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (ok, _, err) = otpd(&["keys", "create", "--scopes", "root"], &dir);
    assert!(!ok && err.contains("scopes"), "{err}");
    server.terminate();
}

#[test]
fn configuration_errors_name_the_key_and_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("listen = \"nowhere\"\n", "listen"),
        ("colour = \"red\"\n", "colour"),
        ("[delivery]\nbatch = 0\n", "delivery.batch"),
        ("[delivery]\nconcurrency = 0\n", "delivery.concurrency"),
        ("[routes]\nsms = [\"smsc1\"]\n", "routes.sms"),
        (
            "[routes.countries.de]\nsms = [\"outbox\"]\n",
            "routes.countries.de",
        ),
        (
            "[routes.countries.DE]\nsms = [\"nope\"]\n",
            "routes.countries.DE.sms",
        ),
        (
            "[[providers]]\nname = \"smsc1\"\nkind = \"carrier-pigeon\"\n",
            "providers[0].kind",
        ),
        (
            "[[providers]]\nname = \"tw\"\nkind = \"twilio\"\naccount_sid = \"AC1\"\nfrom = \"+15550001111\"\n",
            "auth_token",
        ),
        (
            "[[providers]]\nname = \"tw\"\nkind = \"twilio\"\naccount_sid = \"AC1\"\nfrom = \"+1\"\nauth_token_env = \"NO_SUCH_VAR_FOR_OTPD\"\n",
            "NO_SUCH_VAR_FOR_OTPD",
        ),
        (
            "[[providers]]\nname = \"tw\"\nkind = \"twilio\"\naccount_sid = \"AC1\"\nfrom = \"+1\"\nauth_token = \"t\"\ncolour = 1\n",
            "colour",
        ),
        (
            "database_url = \"postgres://localhost:notaport/otpd\"\n",
            "database_url",
        ),
        (
            "database_url = \"mysql://localhost/otpd\"\n",
            "database_url",
        ),
        (
            "database_url = \"postgres://otpd:pw@127.0.0.1:5432/otpd?sslmode=require\"\n",
            "sslmode",
        ),
        ("[postgres]\npool_size = 0\n", "postgres.pool_size"),
        (
            "[postgres]\nconnect_timeout_ms = 5\n",
            "postgres.connect_timeout_ms",
        ),
        ("[postgres]\nidle = 3\n", "idle"),
    ];
    for (toml, key) in cases {
        let file = dir.path().join("otpd.toml");
        std::fs::write(&file, toml).unwrap();
        let out = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{toml} was accepted");
        assert!(err.contains(key), "{toml}: {err}");
        assert!(
            !err.contains("pw@"),
            "the database password stays out of messages: {err}"
        );
    }
    let out = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("OTPD_DELIVERY__WORKERS", "lots")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .to_lowercase()
            .contains("delivery.workers")
    );
}
