//! `otpd bench`: a load generator for otpd's own API. It first measures `GET /healthz` with the
//! same connections for the same time (the HTTP ceiling of this machine in this run), then the
//! scenario, and reports throughput, latency percentiles, errors and the ratio to the ceiling;
//! for the scenarios that send, also how long after the run its deliveries were done.

mod client;
mod report;
mod scenario;

pub use report::Report;
pub use scenario::{Destinations, Scenario};

use client::Target;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub target: String,
    /// `key_id:secret` with the admin scope (the bench creates its own service).
    pub key: String,
    pub scenario: Scenario,
    pub connections: usize,
    pub duration: Duration,
    /// How long to measure the `/healthz` ceiling; zero skips it (profiling runs).
    pub ceiling_duration: Duration,
    /// Open loop: total requests per second across all connections, instead of saturation.
    pub rate: Option<f64>,
    /// Verifications created up front for the `check` scenario.
    pub prefill: usize,
    pub destinations: Destinations,
}

pub async fn run(opts: BenchOptions) -> Result<(Report, Report), String> {
    if opts.connections == 0 || opts.connections > 4096 {
        return Err("--connections must be 1..=4096".into());
    }
    let target = Target::parse(&opts.target, &opts.key)?;
    let plan = scenario::prepare(&target, &opts).await?;
    let ceiling_opts = BenchOptions {
        duration: opts.ceiling_duration,
        rate: None,
        ..opts.clone()
    };
    let ceiling = if opts.ceiling_duration.is_zero() {
        Report::new(
            "healthz",
            opts.connections,
            Duration::from_secs(1),
            Vec::new(),
            0,
        )
    } else {
        client::drive(
            &target,
            &scenario::Workload::Health,
            &ceiling_opts,
            "healthz",
        )
        .await?
        .0
    };
    let (mut measured, created) =
        client::drive(&target, &plan, &opts, opts.scenario.as_str()).await?;
    measured.delivery_lag_s = scenario::delivery_lag(&target, &plan, &created)
        .await?
        .map(|d| d.as_secs_f64());
    Ok((ceiling, measured))
}
