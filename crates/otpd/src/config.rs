//! Configuration: defaults, then a TOML file, then `OTPD_*` environment variables (`__` for
//! nesting, e.g. `OTPD_DELIVERY__BATCH`), then command-line flags. Unknown keys are refused and
//! everything is validated once at start with a message that names the key.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to serve HTTP on.
    pub listen: String,
    /// Where the SQLite database and the server key live by default.
    pub data_dir: PathBuf,
    /// A SQLite file path (or `sqlite://PATH`), default `<data_dir>/otpd.db`; or a
    /// `postgres://` URL, for several nodes on one database.
    pub database_url: Option<String>,
    /// The master key, 64+ hex digits. Prefer `server_key_file` or `OTPD_SERVER_KEY`.
    pub server_key: Option<String>,
    /// File holding the master key in hex; default `<data_dir>/server.key`, created if absent.
    pub server_key_file: Option<PathBuf>,
    pub log: LogConfig,
    pub delivery: DeliveryConfig,
    pub sweeper: SweeperConfig,
    /// Pool and time limits when `database_url` is PostgreSQL.
    pub postgres: PostgresConfig,
    pub providers: Vec<ProviderConfig>,
    pub routes: RoutesConfig,
}

/// The database `database_url` selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// Connections this node keeps at most.
    pub pool_size: usize,
    /// Longest wait for a connection (new or pooled) before a request fails with 503.
    pub connect_timeout_ms: u64,
    /// Longest one store transaction may take (also the server's statement_timeout).
    pub statement_timeout_ms: u64,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            pool_size: 16,
            connect_timeout_ms: 2000,
            statement_timeout_ms: 5000,
        }
    }
}

impl PostgresConfig {
    pub fn options(&self) -> otpd_store::PgOptions {
        otpd_store::PgOptions {
            pool_size: self.pool_size,
            connect_timeout: std::time::Duration::from_millis(self.connect_timeout_ms),
            statement_timeout: std::time::Duration::from_millis(self.statement_timeout_ms),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `otpd=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Concurrent worker loops in this process.
    pub workers: usize,
    /// Most jobs a worker claims at once.
    pub batch: usize,
    /// Most deliveries a worker has in flight at once (what a remote provider sees of it).
    pub concurrency: usize,
    /// Attempts per delivery before it fails for good.
    pub max_attempts: u32,
    /// Seconds a claimed job stays with its worker before another may retry it.
    pub lease_seconds: u64,
    /// Transient failures in a row that open a provider's circuit (it is then skipped).
    pub breaker_threshold: u32,
    /// How long an open circuit skips its provider before one probe is let through.
    pub breaker_cooldown_seconds: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            workers: 1,
            batch: 64,
            concurrency: 256,
            max_attempts: 8,
            lease_seconds: 30,
            breaker_threshold: 5,
            breaker_cooldown_seconds: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweeperConfig {
    pub interval_seconds: u64,
    /// How long finished verifications, jobs and outbox messages are kept.
    pub retention_seconds: u64,
}

impl Default for SweeperConfig {
    fn default() -> Self {
        SweeperConfig {
            interval_seconds: 30,
            retention_seconds: 86_400,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: String,
    /// Kind-specific settings (host, port, credentials ...), checked by the kind.
    #[serde(flatten)]
    pub settings: std::collections::BTreeMap<String, toml::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RoutesConfig {
    pub sms: Vec<String>,
    pub call: Vec<String>,
    pub email: Vec<String>,
    /// Per destination country (ISO 3166-1 alpha-2): `[routes.countries.DE] sms = [...]`.
    pub countries: std::collections::BTreeMap<String, CountryRoutes>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CountryRoutes {
    pub sms: Vec<String>,
    pub call: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./otpd-data"),
            database_url: None,
            server_key: None,
            server_key_file: None,
            log: LogConfig::default(),
            delivery: DeliveryConfig::default(),
            sweeper: SweeperConfig::default(),
            postgres: PostgresConfig::default(),
            providers: Vec::new(),
            routes: RoutesConfig::default(),
        }
    }
}

/// Command-line values that override everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

/// A problem with the configuration, worded for the operator.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    pub fn load(o: &Overrides) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        let file = o
            .config_file
            .clone()
            .or_else(|| std::env::var_os("OTPD_CONFIG").map(PathBuf::from));
        if let Some(path) = &file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "the config file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(Env::prefixed("OTPD_").split("__").ignore(&["config"]));
        if let Some(l) = &o.listen {
            fig = fig.merge(("listen", l));
        }
        if let Some(d) = &o.data_dir {
            fig = fig.merge(("data_dir", d));
        }
        let config: Config = fig.extract().map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        self.database()?;
        if self.postgres.pool_size == 0 || self.postgres.pool_size > 1000 {
            return Err(ConfigError("postgres.pool_size must be 1..=1000".into()));
        }
        if !(100..=60_000).contains(&self.postgres.connect_timeout_ms) {
            return Err(ConfigError(
                "postgres.connect_timeout_ms must be 100..=60000".into(),
            ));
        }
        if !(100..=600_000).contains(&self.postgres.statement_timeout_ms) {
            return Err(ConfigError(
                "postgres.statement_timeout_ms must be 100..=600000".into(),
            ));
        }
        if !["text", "json"].contains(&self.log.format.as_str()) {
            return Err(ConfigError(
                "log.format must be \"text\" or \"json\"".into(),
            ));
        }
        if self.delivery.workers == 0 || self.delivery.workers > 64 {
            return Err(ConfigError("delivery.workers must be 1..=64".into()));
        }
        if self.delivery.batch == 0 || self.delivery.batch > 1000 {
            return Err(ConfigError("delivery.batch must be 1..=1000".into()));
        }
        if self.delivery.concurrency == 0 || self.delivery.concurrency > 1000 {
            return Err(ConfigError("delivery.concurrency must be 1..=1000".into()));
        }
        if self.delivery.max_attempts == 0 {
            return Err(ConfigError(
                "delivery.max_attempts must be at least 1".into(),
            ));
        }
        if self.delivery.lease_seconds < 5 {
            return Err(ConfigError(
                "delivery.lease_seconds must be at least 5".into(),
            ));
        }
        if self.delivery.breaker_threshold == 0 {
            return Err(ConfigError(
                "delivery.breaker_threshold must be at least 1".into(),
            ));
        }
        if self.sweeper.interval_seconds == 0 {
            return Err(ConfigError(
                "sweeper.interval_seconds must be at least 1".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, p) in self.providers.iter().enumerate() {
            if p.name.trim().is_empty() {
                return Err(ConfigError(format!(
                    "providers[{i}].name must not be empty"
                )));
            }
            if !names.insert(p.name.as_str()) {
                return Err(ConfigError(format!(
                    "providers[{i}].name: {:?} is used twice",
                    p.name
                )));
            }
        }
        let mut lists = vec![
            ("sms".to_owned(), &self.routes.sms),
            ("call".to_owned(), &self.routes.call),
            ("email".to_owned(), &self.routes.email),
        ];
        for (country, r) in &self.routes.countries {
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ConfigError(format!(
                    "routes.countries.{country}: not an ISO 3166-1 alpha-2 code such as DE"
                )));
            }
            lists.push((format!("countries.{country}.sms"), &r.sms));
            lists.push((format!("countries.{country}.call"), &r.call));
        }
        for (channel, list) in lists {
            for name in list {
                if name != "outbox" && !names.contains(name.as_str()) {
                    return Err(ConfigError(format!(
                        "routes.{channel}: no provider is named {name:?}"
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            ConfigError(format!(
                "listen: {:?} is not an address such as 127.0.0.1:8080",
                self.listen
            ))
        })
    }

    pub fn database(&self) -> Result<Database, ConfigError> {
        match self.database_url.as_deref().map(str::trim) {
            None | Some("") => Ok(Database::Sqlite(self.data_dir.join("otpd.db"))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                // Parsed now so a malformed URL stops the start with the key's name; the
                // message never repeats the URL, which may hold a password.
                url.parse::<tokio_postgres::Config>().map_err(|e| {
                    ConfigError(format!("database_url: not a valid PostgreSQL URL: {e}"))
                })?;
                Ok(Database::Postgres(url.to_owned()))
            }
            Some(url) if url.contains("://") && !url.starts_with("sqlite://") => Err(ConfigError(
                "database_url: use a SQLite path (or sqlite://PATH) or a postgres:// URL".into(),
            )),
            Some(url) => Ok(Database::Sqlite(PathBuf::from(
                url.strip_prefix("sqlite://").unwrap_or(url),
            ))),
        }
    }

    pub fn server_key_path(&self) -> PathBuf {
        self.server_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("server.key"))
    }
}

/// Reads the master key, creating `<data_dir>/server.key` (mode 0600) on first use.
pub fn load_server_key(
    config: &Config,
    rng: &dyn otpd_core::random::Random,
) -> Result<Vec<u8>, ConfigError> {
    if let Some(hexkey) = &config.server_key {
        return decode_key(hexkey, "server_key");
    }
    let path = config.server_key_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => decode_key(text.trim(), &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && config.server_key_file.is_none() => {
            create_key_file(&path, rng)
        }
        Err(e) => Err(ConfigError(format!(
            "reading the server key {}: {e}",
            path.display()
        ))),
    }
}

fn decode_key(hexkey: &str, source: &str) -> Result<Vec<u8>, ConfigError> {
    let bytes = hex::decode(hexkey.trim())
        .map_err(|_| ConfigError(format!("{source}: the server key must be hex")))?;
    if bytes.len() < 32 {
        return Err(ConfigError(format!(
            "{source}: the server key must be at least 32 bytes (64 hex digits)"
        )));
    }
    Ok(bytes)
}

fn create_key_file(
    path: &Path,
    rng: &dyn otpd_core::random::Random,
) -> Result<Vec<u8>, ConfigError> {
    use std::io::Write;
    let err =
        |e: std::io::Error| ConfigError(format!("creating the server key {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut key = vec![0u8; 32];
    rng.fill(&mut key);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(hex::encode(&key).as_bytes()).map_err(err)?;
            f.sync_all().map_err(err)?;
            Ok(key)
        }
        // Another otpd process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(err)?;
            decode_key(text.trim(), &path.display().to_string())
        }
        Err(e) => Err(err(e)),
    }
}
