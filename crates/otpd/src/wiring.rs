//! Builds the engine and its adapters from a validated configuration.

use crate::config::{Config, ConfigError, Database, load_server_key};
use crate::system::{SystemClock, SystemRandom};
use otpd_api::hooks::{TwilioHook, TwilioHooks};
use otpd_core::clock::Clock;
use otpd_core::destination::Channel;
use otpd_core::engine::Engine;
use otpd_core::ports::Store;
use otpd_core::secrets::ServerSecrets;
use otpd_delivery::outbox::{self, OutboxProvider};
use otpd_delivery::{Provider, Routes, Wakeup};
use otpd_store::{PgStore, SqliteStore};
use std::collections::HashMap;
use std::sync::Arc;

pub struct App {
    pub engine: Arc<Engine>,
    pub routes: Routes,
    pub wakeup: Wakeup,
    pub outbox_enabled: bool,
    /// Twilio accounts whose signed status callbacks are accepted.
    pub twilio_hooks: TwilioHooks,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Store(#[from] otpd_core::Error),
}

/// Opens the store (migrating it) and wires the engine; the only network it touches is
/// PostgreSQL's, when `database_url` names it.
pub async fn build(config: &Config) -> Result<App, StartError> {
    build_with_clock(config, Arc::new(SystemClock)).await
}

/// As `build`, with the clock given (tests pass a fake one).
pub async fn build_with_clock(config: &Config, clock: Arc<dyn Clock>) -> Result<App, StartError> {
    let rng = Arc::new(SystemRandom);
    let master = load_server_key(config, rng.as_ref())?;
    let secrets = Arc::new(ServerSecrets::from_master(&master)?);
    let store: Arc<dyn Store> = match config.database()? {
        Database::Sqlite(path) => Arc::new(SqliteStore::open(&path, secrets.clone())?),
        Database::Postgres(url) => {
            Arc::new(PgStore::connect(&url, config.postgres.options(), secrets.clone()).await?)
        }
    };
    let wakeup = Wakeup::default();
    let engine = Arc::new(Engine {
        store: store.clone(),
        clock: clock.clone(),
        rng: rng.clone(),
        secrets: secrets.clone(),
        dispatcher: Arc::new(wakeup.clone()),
    });

    let outbox: Arc<dyn Provider> = Arc::new(OutboxProvider {
        secrets,
        rng,
        clock,
    });
    let mut providers: HashMap<String, Arc<dyn Provider>> = HashMap::new();
    providers.insert(outbox::NAME.to_owned(), outbox.clone());
    let mut twilio_hooks = TwilioHooks::default();
    let deps = otpd_delivery::registry::Deps {
        store: store.clone(),
        clock: engine.clock.clone(),
    };
    for (i, p) in config.providers.iter().enumerate() {
        if !otpd_delivery::registry::KINDS.contains(&p.kind.as_str()) {
            return Err(ConfigError(format!(
                "providers[{i}].kind: {:?} is not one of {}",
                p.kind,
                otpd_delivery::registry::KINDS.join(", ")
            ))
            .into());
        }
        let what = || format!("providers[{i}] ({:?}, kind {:?})", p.name, p.kind);
        let settings = serde_json::to_value(&p.settings)
            .map_err(|e| ConfigError(format!("{}: {e}", what())))?;
        let built = otpd_delivery::registry::build(&p.name, &p.kind, settings, &deps)
            .map_err(|e| ConfigError(format!("{}: {e}", what())))?;
        let provider: Arc<dyn Provider> = match built {
            None => outbox.clone(),
            Some(b) => {
                if let Some((auth_token, callback_url)) = b.twilio_hook {
                    twilio_hooks.0.insert(
                        p.name.clone(),
                        TwilioHook {
                            auth_token,
                            callback_url,
                        },
                    );
                }
                b.provider
            }
        };
        providers.insert(p.name.clone(), provider);
    }
    let no_routes = config.routes.sms.is_empty()
        && config.routes.call.is_empty()
        && config.routes.email.is_empty()
        && config.routes.countries.is_empty();
    let routes = if no_routes {
        // Development default: everything goes to the outbox, readable over the API.
        Routes::all_through(outbox)
    } else {
        let mut order = HashMap::new();
        for (channel, names) in [
            (Channel::Sms, &config.routes.sms),
            (Channel::Call, &config.routes.call),
            (Channel::Email, &config.routes.email),
        ] {
            let list = names
                .iter()
                .filter_map(|n| providers.get(n).cloned())
                .collect::<Vec<_>>();
            if list.is_empty() {
                tracing::warn!(
                    channel = channel.as_str(),
                    "no route: sends on this channel will fail"
                );
            }
            order.insert(channel, list);
        }
        let mut routes = Routes::new(order).map_err(ConfigError)?;
        for (country, r) in &config.routes.countries {
            for (channel, names) in [(Channel::Sms, &r.sms), (Channel::Call, &r.call)] {
                if names.is_empty() {
                    continue;
                }
                let list = names
                    .iter()
                    .filter_map(|n| providers.get(n).cloned())
                    .collect::<Vec<_>>();
                routes = routes
                    .with_country(country, channel, list)
                    .map_err(ConfigError)?;
            }
        }
        routes
    };
    let routes = routes.with_breaker(otpd_delivery::breaker::BreakerConfig {
        threshold: config.delivery.breaker_threshold,
        cooldown: std::time::Duration::from_secs(config.delivery.breaker_cooldown_seconds),
    });
    let outbox_enabled = routes.uses(outbox::NAME);
    Ok(App {
        engine,
        routes,
        wakeup,
        outbox_enabled,
        twilio_hooks,
    })
}
