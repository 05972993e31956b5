//! Starting peers, and an engine + worker fixture on a fake clock.

use otpd_core::clock::{FakeClock, Timestamp};
use otpd_core::code::Code;
use otpd_core::destination::{Channel, Destination};
use otpd_core::engine::{Engine, StartInput};
use otpd_core::random::SeededRandom;
use otpd_core::secrets::ServerSecrets;
use otpd_core::service::NewService;
use otpd_core::tenant::Principal;
use otpd_core::verification::Verification;
use otpd_delivery::{Routes, Wakeup, Worker, WorkerConfig};
use otpd_store::SqliteStore;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `<workspace>/../shared/peers`, or `PEERS_DIR`.
pub fn peers_dir() -> PathBuf {
    std::env::var_os("PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peers"))
}

/// `None` (and a note) when a peer is missing locally; a failure under CI.
pub fn require(ok: bool, what: &str) -> Option<()> {
    if ok {
        return Some(());
    }
    if std::env::var_os("CI").is_some() {
        panic!("peer missing under CI: {what}");
    }
    eprintln!("SKIPPED: {what} is not installed (see .ci/run)");
    None
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn wait_port(port: u16, within: Duration) {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("peer did not open port {port} within {within:?}");
}

/// A child process killed when dropped.
pub struct Peer {
    pub child: Child,
    pub port: u16,
}

impl Peer {
    /// Kills the peer and every process it forked (the SMSC forks one per connection).
    pub fn kill(&mut self) {
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command in its own process group, so `Peer::kill` reaches its children too.
pub fn grouped(program: impl AsRef<std::ffi::OsStr>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(program);
    c.process_group(0);
    c
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn wiremock_jar() -> Option<PathBuf> {
    let dir = std::env::var_os("WIREMOCK_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(cache.join("otpd-wiremock"))
        })?;
    let build = dir.join("node_modules/wiremock/build");
    std::fs::read_dir(build)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("wiremock-standalone-") && n.ends_with(".jar"))
        })
}

/// WireMock with the peers' Twilio stubs (copied, so the shared folder stays untouched).
pub async fn wiremock() -> Option<(Peer, tempfile::TempDir)> {
    let jar = wiremock_jar();
    require(jar.is_some(), "WireMock (npm install wiremock)")?;
    let root = tempfile::tempdir().unwrap();
    let mappings = root.path().join("mappings");
    std::fs::create_dir_all(&mappings).unwrap();
    for e in std::fs::read_dir(peers_dir().join("http/wm/mappings"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(e.path(), mappings.join(e.file_name())).unwrap();
    }
    let port = free_port();
    let child = grouped("java")
        .arg("-jar")
        .arg(jar.unwrap())
        .args(["--bind-address", "127.0.0.1", "--port", &port.to_string()])
        .arg("--root-dir")
        .arg(root.path())
        .arg("--disable-banner")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let peer = Peer { child, port };
    wait_port(port, Duration::from_secs(60)).await;
    // The port opens before the stubs are loaded: wait for the admin API to answer.
    let admin = format!("http://127.0.0.1:{port}/__admin/mappings");
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if let Ok(r) = reqwest::get(&admin).await
            && r.status().is_success()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some((peer, root))
}

pub const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TWILIO_TOKEN: &str = "test-token";

pub struct Fixture {
    _dir: tempfile::TempDir,
    pub engine: Arc<Engine>,
    pub clock: Arc<FakeClock>,
    pub store: Arc<SqliteStore>,
    pub secrets: Arc<ServerSecrets>,
    pub admin: Principal,
    pub service: String,
}

pub async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(ServerSecrets::from_master(&[4u8; 32]).unwrap());
    let store = Arc::new(SqliteStore::open(&dir.path().join("d.db"), secrets.clone()).unwrap());
    let clock = Arc::new(FakeClock::new(Timestamp(1_800_000_000_000)));
    let engine = Arc::new(Engine {
        store: store.clone(),
        clock: clock.clone(),
        rng: Arc::new(SeededRandom::new(3)),
        secrets: secrets.clone(),
        dispatcher: Arc::new(otpd_core::ports::NoDispatch),
    });
    let key = engine.bootstrap().await.unwrap().unwrap();
    let admin = engine
        .authenticate(key.key.id.as_str(), &key.secret)
        .await
        .unwrap();
    let mut n = NewService::named("Acme");
    n.custom_code_enabled = Some(true);
    let service = engine
        .create_service(&admin, n)
        .await
        .unwrap()
        .id
        .to_string();
    Fixture {
        _dir: dir,
        engine,
        clock,
        store,
        secrets,
        admin,
        service,
    }
}

impl Fixture {
    pub fn worker(&self, routes: Routes) -> Arc<Worker> {
        Arc::new(Worker {
            store: self.store.clone(),
            clock: self.clock.clone(),
            secrets: self.secrets.clone(),
            routes,
            wakeup: Wakeup::default(),
            config: WorkerConfig {
                max_attempts: 4,
                ..WorkerConfig::default()
            },
        })
    }

    pub async fn start(&self, to: &str, channel: Channel, code: &str) -> Verification {
        let dest = Destination::parse_for(channel, to, "to").unwrap();
        self.engine
            .start_verification(
                &self.admin,
                &self.service,
                StartInput {
                    custom_code: Some(Code::custom(code, "c").unwrap()),
                    ..StartInput::new(dest, channel)
                },
            )
            .await
            .unwrap()
            .verification
    }

    pub async fn check(&self, v: &Verification, code: &str) -> bool {
        self.engine
            .check_verification(
                &self.admin,
                &self.service,
                v.id.as_str(),
                Code::candidate(code, "code").unwrap(),
            )
            .await
            .unwrap()
            .outcome
            .valid
    }
}
