//! The `otpd` command line (DESIGN §4).

use crate::config::{Config, Overrides};
use crate::wiring::build;
use clap::{Args, Parser, Subcommand};
use otpd_api::native::types::ServiceResponse;
use otpd_core::code::Alphabet;
use otpd_core::service::NewService;
use otpd_core::tenant::Scopes;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "otpd",
    version,
    about = "A self-hosted one-time-passcode service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone, Default)]
struct Common {
    /// TOML configuration file (also OTPD_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Directory for the SQLite database and the server key (also OTPD_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP API and the delivery workers.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on, e.g. 127.0.0.1:8080 (also OTPD_LISTEN).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate {
        #[command(flatten)]
        common: Common,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Manage services.
    Services {
        #[command(subcommand)]
        action: ServicesAction,
    },
    /// Manage the directory of persons.
    Persons {
        #[command(subcommand)]
        action: PersonsAction,
    },
    /// Load-test a running otpd: the /healthz ceiling, then the scenario (see BENCHMARKS.md).
    Bench {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        target: String,
        /// KEY_ID:SECRET of an admin key.
        #[arg(long)]
        key: String,
        /// send, check or mixed.
        #[arg(long, default_value = "send")]
        scenario: String,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Seconds the scenario runs.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Seconds the /healthz ceiling is measured first (default: --duration; 0 skips it).
        #[arg(long)]
        ceiling_duration: Option<u64>,
        /// Open loop: requests per second in total, instead of as fast as possible.
        #[arg(long)]
        rate: Option<f64>,
        /// Verifications created before a `check` run.
        #[arg(long, default_value_t = 100_000)]
        prefill: usize,
        /// scattered (as real traffic) or sequential (the order before 2026-12-07).
        #[arg(long, default_value = "scattered")]
        destinations: String,
        /// End with one JSON object on the last line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum KeysAction {
    /// Create a key; prints {"key_id","secret","token"} once.
    Create {
        #[command(flatten)]
        common: Common,
        /// Comma-separated: admin, verify, reveal_code.
        #[arg(long)]
        scopes: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Tenant slug; created when new.
        #[arg(long, default_value = "default")]
        tenant: String,
    },
    /// List keys (never their secrets).
    List {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a key at once.
    Revoke {
        #[command(flatten)]
        common: Common,
        key_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum PersonsAction {
    /// Import persons from CSV (header: id, phone, email, language, name; any order, any
    /// subset) or JSON lines. Every row is checked first; one bad row and nothing is imported.
    /// Prints {"imported", "errors": [{"line", "field", "message"}]}.
    Import {
        #[command(flatten)]
        common: Common,
        file: PathBuf,
        #[arg(long, default_value = "default")]
        tenant: String,
        /// csv or jsonl; by default told by the file's extension or first character.
        #[arg(long)]
        format: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ServicesAction {
    /// Create a service; prints it as JSON.
    Create {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "default")]
        tenant: String,
        #[arg(long)]
        code_length: Option<u32>,
        /// digits or alphanumeric.
        #[arg(long)]
        alphabet: Option<String>,
        #[arg(long)]
        ttl_seconds: Option<u64>,
        #[arg(long)]
        max_check_attempts: Option<u32>,
        #[arg(long)]
        max_sends: Option<u32>,
        #[arg(long)]
        custom_code_enabled: bool,
        /// Comma-separated ISO 3166-1 alpha-2 codes.
        #[arg(long)]
        allowed_countries: Option<String>,
        /// Host for the WebOTP / iOS origin-bound line.
        #[arg(long)]
        domain: Option<String>,
    },
    /// List a tenant's services as JSON.
    List {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value = "default")]
        tenant: String,
    },
}

fn load(common: &Common, listen: Option<String>) -> Result<Config, String> {
    Config::load(&Overrides {
        config_file: common.config.clone(),
        listen,
        data_dir: common.data_dir.clone(),
    })
    .map_err(|e| e.to_string())
}

fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Libraries that log what they handle must never put it in a log, whatever level the
    // operator asks for: the phone-number library traces the numbers it parses, and
    // tokio-postgres logs every statement's parameters (numbers, MACs) at debug.
    let mut filter = filter;
    for directive in ["rlibphonenumber=off", "tokio_postgres=info"] {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = if config.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("otpd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("otpd: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve { common, listen } => {
            let config = load(&common, listen)?;
            init_tracing(&config);
            crate::serve::run(config).await.map_err(|e| e.to_string())
        }
        Command::Migrate { common } => {
            let config = load(&common, None)?;
            match config.database().map_err(|e| e.to_string())? {
                crate::config::Database::Sqlite(path) => {
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                    }
                    let n =
                        otpd_store::SqliteStore::migrate_file(&path).map_err(|e| e.to_string())?;
                    eprintln!(
                        "otpd: {} is up to date ({n} migration(s) applied)",
                        path.display()
                    );
                }
                crate::config::Database::Postgres(url) => {
                    let n = otpd_store::PgStore::migrate_url(&url, config.postgres.options())
                        .await
                        .map_err(|e| e.to_string())?;
                    eprintln!(
                        "otpd: the PostgreSQL database is up to date ({n} migration(s) applied)"
                    );
                }
            }
            Ok(())
        }
        Command::Keys { action } => keys(action).await,
        Command::Bench {
            target,
            key,
            scenario,
            connections,
            duration,
            ceiling_duration,
            rate,
            prefill,
            destinations,
            json: as_json,
        } => {
            let opts = crate::bench::BenchOptions {
                target,
                key,
                scenario: crate::bench::Scenario::parse(&scenario)?,
                connections,
                duration: std::time::Duration::from_secs(duration.max(1)),
                ceiling_duration: std::time::Duration::from_secs(
                    ceiling_duration.unwrap_or(duration.max(1)),
                ),
                rate,
                prefill,
                destinations: crate::bench::Destinations::parse(&destinations)?,
            };
            let (ceiling, measured) = crate::bench::run(opts).await?;
            println!("{}", ceiling.line());
            println!("{}", measured.line());
            println!(
                "ratio to the /healthz ceiling: {:.3}",
                measured.throughput_rps / ceiling.throughput_rps.max(f64::MIN_POSITIVE)
            );
            if as_json {
                println!("{}", measured.json(&ceiling));
            }
            Ok(())
        }
        Command::Services { action } => services(action).await,
        Command::Persons { action } => persons(action).await,
    }
}

async fn persons(action: PersonsAction) -> Result<(), String> {
    use crate::import::{Format, read, report_json};
    match action {
        PersonsAction::Import {
            common,
            file,
            tenant,
            format,
        } => {
            let bytes =
                std::fs::read(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
            let format = match format.as_deref() {
                Some("csv") => Format::Csv,
                Some("jsonl" | "ndjson") => Format::JsonLines,
                Some(other) => return Err(format!("--format {other:?}: must be csv or jsonl")),
                None => Format::detect(&file, &bytes),
            };
            let rows = read(format, &bytes)?;
            let app = build(&load(&common, None)?)
                .await
                .map_err(|e| e.to_string())?;
            let t = app
                .engine
                .tenant_by_slug_or_create(&tenant)
                .await
                .map_err(|e| e.to_string())?;
            let report = app
                .engine
                .import_persons(&t.id, rows)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", report_json(&report));
            if report.errors.is_empty() {
                eprintln!("otpd: imported {} person(s)", report.imported);
                Ok(())
            } else {
                Err(format!(
                    "{} row(s) rejected; nothing was imported",
                    report.errors.len()
                ))
            }
        }
    }
}

async fn keys(action: KeysAction) -> Result<(), String> {
    match action {
        KeysAction::Create {
            common,
            scopes,
            name,
            tenant,
        } => {
            let app = build(&load(&common, None)?)
                .await
                .map_err(|e| e.to_string())?;
            let scopes = Scopes::parse_list(&scopes).map_err(|e| e.to_string())?;
            let issued = app
                .engine
                .issue_key(&tenant, &name, scopes)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{}",
                json!({
                    "key_id": issued.key.id.to_string(),
                    "secret": issued.secret,
                    "token": issued.token(),
                    "tenant": tenant,
                    "scopes": issued.key.scopes.to_list(),
                })
            );
            Ok(())
        }
        KeysAction::List { common, tenant } => {
            let app = build(&load(&common, None)?)
                .await
                .map_err(|e| e.to_string())?;
            let keys = app
                .engine
                .list_keys(tenant.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            let list: Vec<_> = keys
                .into_iter()
                .map(|(k, slug)| {
                    json!({
                        "key_id": k.id.to_string(),
                        "tenant": slug,
                        "name": k.name,
                        "scopes": k.scopes.to_list(),
                        "created_at": otpd_api::time::rfc3339(k.created_at),
                        "revoked_at": k.revoked_at.map(otpd_api::time::rfc3339),
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(list));
            Ok(())
        }
        KeysAction::Revoke { common, key_id } => {
            let app = build(&load(&common, None)?)
                .await
                .map_err(|e| e.to_string())?;
            app.engine
                .revoke_key(&key_id)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("otpd: revoked {key_id}");
            Ok(())
        }
    }
}

async fn services(action: ServicesAction) -> Result<(), String> {
    match action {
        ServicesAction::Create {
            common,
            name,
            tenant,
            code_length,
            alphabet,
            ttl_seconds,
            max_check_attempts,
            max_sends,
            custom_code_enabled,
            allowed_countries,
            domain,
        } => {
            let app = build(&load(&common, None)?)
                .await
                .map_err(|e| e.to_string())?;
            let t = app
                .engine
                .tenant_by_slug_or_create(&tenant)
                .await
                .map_err(|e| e.to_string())?;
            let new = NewService {
                name,
                code_length,
                alphabet: alphabet
                    .as_deref()
                    .map(Alphabet::parse)
                    .transpose()
                    .map_err(|e| e.to_string())?,
                ttl_seconds,
                max_check_attempts,
                max_sends,
                custom_code_enabled: Some(custom_code_enabled),
                allowed_countries: allowed_countries
                    .map(|s| s.split(',').map(|c| c.trim().to_owned()).collect()),
                domain,
                ..NewService::default()
            };
            let s = app
                .engine
                .create_service_for(&t.id, new)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", json!(ServiceResponse::from(&s)));
            Ok(())
        }
        ServicesAction::List { common, tenant } => {
            let app = build(&load(&common, None)?)
                .await
                .map_err(|e| e.to_string())?;
            let t = app
                .engine
                .store
                .tenant_by_slug(&tenant)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no tenant {tenant:?}"))?;
            let list = app
                .engine
                .store
                .list_services(&t.id)
                .await
                .map_err(|e| e.to_string())?;
            let out: Vec<ServiceResponse> = list.iter().map(ServiceResponse::from).collect();
            println!("{}", json!(out));
            Ok(())
        }
    }
}
