//! `otpd serve`: the HTTP server, the delivery workers and the sweeper, until SIGTERM/SIGINT.

use crate::config::Config;
use crate::wiring::{App, StartError, build};
use otpd_api::AppState;
use otpd_delivery::{Worker, WorkerConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub async fn run(config: Config) -> Result<(), StartError> {
    let App {
        engine,
        routes,
        wakeup,
        outbox_enabled,
        twilio_hooks,
    } = build(&config).await?;

    if let Some(key) = engine.bootstrap().await? {
        // Printed once, on the database's first start; only its MAC is stored.
        let out = serde_json::json!({
            "key_id": key.key.id.to_string(),
            "secret": key.secret,
            "token": key.token(),
            "tenant": otpd_core::engine::DEFAULT_TENANT,
            "scopes": key.key.scopes.to_list(),
        });
        println!("{out}");
        eprintln!(
            "otpd: created the bootstrap admin key above (tenant \"default\"); it is shown only this once"
        );
    }

    // The phone-number metadata (regexes for every region) is built on first use, ~0.3 s of
    // CPU: pay it now rather than on the first request.
    let _ = otpd_core::destination::PhoneE164::parse("+14155552671", "warm-up");

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let worker = Arc::new(Worker {
        store: engine.store.clone(),
        clock: engine.clock.clone(),
        secrets: engine.secrets.clone(),
        routes,
        wakeup,
        config: WorkerConfig {
            batch: config.delivery.batch,
            concurrency: config.delivery.concurrency,
            lease: Duration::from_secs(config.delivery.lease_seconds),
            max_attempts: config.delivery.max_attempts,
            ..WorkerConfig::default()
        },
    });
    for _ in 0..config.delivery.workers {
        tasks.push(tokio::spawn(worker.clone().run(stop_rx.clone())));
    }
    tasks.push(tokio::spawn(sweeper(
        engine.clone(),
        config.sweeper.clone(),
        stop_rx.clone(),
    )));

    let metrics = otpd_api::metrics::handle();
    tasks.push(tokio::spawn(metrics_upkeep(
        metrics.clone(),
        stop_rx.clone(),
    )));

    let state = AppState {
        engine,
        metrics,
        outbox_enabled,
        twilio_hooks: Arc::new(twilio_hooks),
    };
    let listener = tokio::net::TcpListener::bind(config.listen_addr()?)
        .await
        .map_err(|e| {
            crate::config::ConfigError(format!("listen: cannot bind {}: {e}", config.listen))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| otpd_core::Error::Internal(e.to_string()))?;
    eprintln!("otpd: listening on http://{addr}");
    tracing::info!(%addr, "listening");

    let served = axum::serve(listener, otpd_api::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    // Providers with sessions end them cleanly (SMPP: unbind).
    worker.routes.close().await;
    served.map_err(|e| otpd_core::Error::Internal(format!("http server: {e}")).into())
}

/// Histogram samples pile up in the recorder until they are folded into their buckets, which
/// otherwise happens only when `/metrics` is scraped: without a scraper memory would grow with
/// every request.
async fn metrics_upkeep(
    handle: metrics_exporter_prometheus::PrometheusHandle,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => handle.run_upkeep(),
            _ = stop.changed() => return,
        }
    }
}

async fn sweeper(
    engine: Arc<otpd_core::engine::Engine>,
    cfg: crate::config::SweeperConfig,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(cfg.interval_seconds)) => {}
            _ = stop.changed() => return,
        }
        // Repeat while slices come back full, so a backlog drains without waiting a round, but
        // rest three times as long as each slice took: the sweeper gets at most a quarter of
        // the writer while requests are waiting for the rest.
        loop {
            let started = std::time::Instant::now();
            match engine
                .store
                .sweep(engine.now(), cfg.retention_seconds)
                .await
            {
                Ok(r) => {
                    if r.expired + r.purged > 0 {
                        tracing::debug!(expired = r.expired, purged = r.purged, "swept");
                    }
                    if !r.more {
                        break;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(started.elapsed() * 3) => {}
                        _ = stop.changed() => return,
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "sweeping failed");
                    break;
                }
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}
