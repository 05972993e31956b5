//! The database restarted under load: a private PostgreSQL instance (initdb and pg_ctl from
//! Debian's packages, on a free port in a temporary directory) is stopped hard and started
//! again while a real `otpd` serves requests. Runs on PostgreSQL whatever `TEST_DATABASE` says.

use crate::binary::spawn_server_in;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A PostgreSQL server of this test's own; stopped when dropped.
struct PrivatePg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries in /usr/lib/postgresql (apt-get install postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop().expect("no /usr/lib/postgresql/*/bin/pg_ctl")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PrivatePg {
    /// PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user.
    fn command(&self, tool: &str) -> Command {
        let prog = self.bin.join(tool);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(prog);
            c
        } else {
            Command::new(prog)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self.command(tool).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn init() -> PrivatePg {
        // Under /tmp, which the `postgres` user can reach even when TMPDIR is root's own.
        let dir = tempfile::Builder::new()
            .prefix("otpd-pg-")
            .tempdir_in("/tmp")
            .unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres:", &dir.path().display().to_string()])
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = PrivatePg {
            dir,
            bin: pg_bin(),
            port,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        pg.start();
        pg
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-t",
                "60",
                "-o",
                &opts,
                "start",
            ],
        );
    }

    /// As a crash: no checkpoint, the server recovers from its WAL on the next start.
    fn stop_hard(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .output();
    }
}

struct Outcome {
    status: StatusCode,
    took: Duration,
    id: Option<String>,
    code: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_answers_503_loses_nothing_and_recovers_by_itself() {
    let pg = PrivatePg::init();
    let data_dir = tempfile::tempdir().unwrap();
    let db_env = vec![("OTPD_DATABASE_URL".to_owned(), pg.url())];
    let server = spawn_server_in(
        data_dir.path(),
        &db_env,
        &[
            ("OTPD_POSTGRES__CONNECT_TIMEOUT_MS", "500"),
            ("OTPD_POSTGRES__STATEMENT_TIMEOUT_MS", "2000"),
        ],
    );
    let key = server.bootstrap_key();
    let r = server
        .post(
            &key,
            "/v1/services",
            json!({"name": "Acme", "custom_code_enabled": true, "send_limit": {"count": 20, "window_seconds": 60}}),
        )
        .await;
    let sid = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Load: creates one after another from 4 clients until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let mut load = Vec::new();
    for client_no in 0..4u32 {
        let (stop, outcomes, base, key, sid) = (
            stop.clone(),
            outcomes.clone(),
            server.base.clone(),
            key.clone(),
            sid.clone(),
        );
        load.push(tokio::spawn(async move {
            let http = Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) && i < 1000 {
                let n = client_no * 1000 + i;
                let code = format!("{:06}", 100_000 + n);
                let began = Instant::now();
                let r = http
                    .post(format!("{base}/v1/services/{sid}/verifications"))
                    .basic_auth(&key.0, Some(&key.1))
                    .json(&json!({"to": format!("+1415555{n:04}"), "channel": "sms", "custom_code": code}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                outcomes.lock().unwrap().push(Outcome {
                    status,
                    took: began.elapsed(),
                    id: body["id"].as_str().map(str::to_owned),
                    code,
                });
                i += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    let acked = |o: &Mutex<Vec<Outcome>>| {
        o.lock()
            .unwrap()
            .iter()
            .filter(|x| x.status == StatusCode::CREATED)
            .count()
    };
    let began = Instant::now();
    while acked(&outcomes) < 20 {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "no load got through: {:?}",
            outcomes
                .lock()
                .unwrap()
                .iter()
                .map(|o| o.status)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    pg.stop_hard();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ready = Client::new()
        .get(format!("{}/readyz", server.base))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let before_restart = outcomes.lock().unwrap().len();
    pg.start();

    // Recovers without a restart of otpd: ready again, and creates succeed again.
    let began = Instant::now();
    loop {
        let r = Client::new()
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::OK {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "never ready again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = acked(&outcomes);
    let began = Instant::now();
    while acked(&outcomes) < after + 20 {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "creates never succeeded again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.unwrap();
    }

    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let unavailable = outcomes
        .iter()
        .filter(|o| o.status == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert!(unavailable > 0, "the outage was seen");
    assert!(before_restart > 0);
    for o in &outcomes {
        assert!(
            o.status == StatusCode::CREATED || o.status == StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            o.status
        );
        assert!(o.took < Duration::from_secs(5), "failed fast: {:?}", o.took);
    }
    // Every acknowledged verification survived the crash and checks with its code.
    let http = Client::new();
    for o in outcomes.iter().filter(|o| o.status == StatusCode::CREATED) {
        let id = o.id.as_deref().unwrap();
        let r = http
            .post(format!(
                "{}/v1/services/{sid}/verifications/{id}/check",
                server.base
            ))
            .basic_auth(&key.0, Some(&key.1))
            .json(&json!({"code": o.code}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap()["valid"], true, "{id}");
    }
    server.terminate();
    drop(pg);
}
