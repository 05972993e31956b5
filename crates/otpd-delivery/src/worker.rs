//! The outbox worker: claims due jobs under a lease, renders, sends through the channel's
//! providers in failover order, and records the result. A worker that dies mid-send loses
//! nothing: its lease runs out and the job is claimed again (at-least-once delivery).
//!
//! The running worker is a pipeline: it keeps up to `concurrency` attempts in flight and
//! claims more as soon as there is room, rather than waiting for the slowest job of a round;
//! each attempt records its own result (the store's group commit joins them). Measured with
//! the `outbox` provider under a saturating send load, rounds of 64 (claim, send, record, wait
//! for the slowest) fell behind the requests: 40 % of a 10 s burst was delivered by its end,
//! the rest in the seconds after, and a longer storm would have let codes expire in the queue.
//!
//! New jobs mostly need no claim at all: a start reserves room in the running worker's inbox
//! and the job is written leased to it (handoff.rs). Claims find the rest: jobs queued while
//! the worker was full or not running, due retries, and jobs whose lease ran out.

use crate::handoff::Wakeup;
use crate::provider::{OutboundMessage, ProviderError, Rendered};
use crate::routes::Routes;
use otpd_core::clock::Clock;
use otpd_core::delivery::{AttemptResult, Job, next_retry};
use otpd_core::destination::{Channel, mask};
use otpd_core::ports::Store;
use otpd_core::render::{MessageContext, render_call, render_email, render_sms, with_reference};
use otpd_core::secrets::ServerSecrets;
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Most jobs claimed at once.
    pub batch: usize,
    /// Most attempts in flight at once (what a remote provider sees of one worker).
    pub concurrency: usize,
    /// How long a claimed job is ours before another worker may take it.
    pub lease: Duration,
    /// Attempts per job before it fails for good.
    pub max_attempts: u32,
    /// How often to look for due retries when nobody wakes us.
    pub poll: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            batch: 64,
            concurrency: 256,
            lease: Duration::from_secs(30),
            max_attempts: 8,
            poll: Duration::from_millis(500),
        }
    }
}

pub struct Worker {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub secrets: Arc<ServerSecrets>,
    pub routes: Routes,
    pub wakeup: Wakeup,
    pub config: WorkerConfig,
}

impl Worker {
    /// Runs until `shutdown` turns true (or its sender is gone); the attempts in flight then
    /// finish and their results are recorded before this returns.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        // At least one of each, whatever a caller configured: zero would never claim.
        let concurrency = self.config.concurrency.max(1);
        let batch = self.config.batch.max(1);
        // A place is held from before a start writes its job until the worker takes it, so
        // the inbox must hold as many as may be started at once, not just one claim's worth.
        let mut inbox = self.wakeup.open_inbox(concurrency, self.lease_ms());
        let mut in_flight = JoinSet::new();
        let mut poll = tokio::time::interval(self.config.poll);
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Jobs may have been queued before this worker started.
        let mut claim_due = true;
        let mut stopping = false;
        while !stopping && !*shutdown.borrow() {
            while in_flight.try_join_next().is_some() {}
            let mut room = concurrency.saturating_sub(in_flight.len());
            // Jobs handed over are leased to us already: they go first.
            while room > 0 {
                let Ok(job) = inbox.received.try_recv() else {
                    break;
                };
                self.take_handed(&mut in_flight, job);
                room -= 1;
            }
            if room == 0 {
                tokio::select! {
                    _ = in_flight.join_next() => {}
                    changed = shutdown.changed() => stopping = changed.is_err(),
                }
                continue;
            }
            if claim_due {
                let limit = room.min(batch);
                claim_due = match self.claim(limit).await {
                    Ok(jobs) => {
                        let full = jobs.len() == limit;
                        for job in jobs {
                            self.launch(&mut in_flight, job);
                        }
                        full
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming delivery jobs failed");
                        false
                    }
                };
                if claim_due {
                    continue;
                }
            }
            // Nothing queued is due: wait for a job handed over, queued jobs, due retries
            // (the poll, which a steady stream of hand-overs must not keep putting off), or
            // the end.
            tokio::select! {
                Some(job) = inbox.received.recv() => {
                    self.take_handed(&mut in_flight, job);
                    // The starts of one group commit hand their jobs over one after another;
                    // yielding once lets them all arrive, to be taken in one pass above
                    // rather than one wake-up each.
                    tokio::task::yield_now().await;
                }
                _ = self.wakeup.notify.notified() => claim_due = true,
                _ = poll.tick() => claim_due = true,
                changed = shutdown.changed() => stopping = changed.is_err(),
            }
        }
        self.wakeup.close_inbox(&mut inbox);
        while let Some(job) = inbox.received.recv().await {
            self.take_handed(&mut in_flight, job);
        }
        while in_flight.join_next().await.is_some() {}
    }

    fn lease_ms(&self) -> i64 {
        self.config.lease.as_millis() as i64
    }

    /// A job handed over waits in the inbox while the worker is full. One that waited half
    /// its lease is left to run out and be claimed again, rather than raced by that claim.
    fn take_handed(self: &Arc<Self>, in_flight: &mut JoinSet<()>, job: Job) {
        if self.clock.now() < job.created_at.plus_millis(self.lease_ms() / 2) {
            self.launch(in_flight, job);
        }
    }

    fn launch(self: &Arc<Self>, in_flight: &mut JoinSet<()>, job: Job) {
        let me = self.clone();
        in_flight.spawn(async move {
            let id = job.id;
            let result = me.attempt(job).await;
            if let Err(e) = me.store.finish_attempt(id, result, me.clock.now()).await {
                // The lease runs out and the job is tried again: at least once.
                tracing::warn!(job = id, error = %e, "recording a delivery result failed");
            }
        });
    }

    /// One round: claim a batch, deliver it, record every result. Returns how many jobs were
    /// handled.
    pub async fn run_once(self: &Arc<Self>) -> otpd_core::Result<usize> {
        let jobs = self.claim(self.config.batch).await?;
        let n = jobs.len();
        let mut set = JoinSet::new();
        for job in jobs {
            let me = self.clone();
            set.spawn(async move {
                let id = job.id;
                (id, me.attempt(job).await)
            });
        }
        let mut results = Vec::with_capacity(n);
        while let Some(done) = set.join_next().await {
            // A panicked attempt leaves its job leased; the lease runs out and it goes again.
            if let Ok(r) = done {
                results.push(r);
            }
        }
        if !results.is_empty() {
            self.store
                .finish_attempts(results, self.clock.now())
                .await?;
        }
        Ok(n)
    }

    async fn claim(&self, limit: usize) -> otpd_core::Result<Vec<Job>> {
        self.store
            .claim_jobs(self.clock.now(), limit, self.lease_ms())
            .await
    }

    async fn attempt(&self, job: Job) -> AttemptResult {
        let message = match self.render(&job).await {
            Ok(m) => m,
            Err(error) => {
                tracing::error!(job = job.id, %error, "cannot render a delivery");
                return AttemptResult::Failed { error };
            }
        };
        let providers = self.routes.for_destination(job.channel, &job.to);
        if providers.is_empty() {
            return AttemptResult::Failed {
                error: format!("no provider is routed for {}", job.channel.as_str()),
            };
        }
        let mut last_error = String::new();
        for p in providers {
            let breaker = self.routes.breaker(p.name());
            if breaker.is_some_and(|b| !b.allow()) {
                // Its circuit is open: don't wait on a provider that has been failing.
                last_error = format!("{}: skipped, its circuit is open", p.name());
                continue;
            }
            let started = Instant::now();
            let outcome = p.send(&message).await;
            metrics::histogram!("otpd_delivery_seconds", "provider" => p.name().to_owned())
                .record(started.elapsed().as_secs_f64());
            match outcome {
                Ok(receipt) => {
                    if let Some(b) = breaker {
                        b.success();
                        metrics::gauge!("otpd_provider_circuit_open", "provider" => p.name().to_owned()).set(0.0);
                    }
                    metrics::counter!("otpd_deliveries_total", "provider" => p.name().to_owned(), "status" => "sent")
                        .increment(1);
                    tracing::debug!(job = job.id, provider = p.name(), to = %mask(&job.to), channel = job.channel.as_str(), "delivered to provider");
                    return AttemptResult::Sent {
                        provider: p.name().to_owned(),
                        provider_ref: receipt.provider_ref,
                        kept: receipt.kept,
                    };
                }
                Err(ProviderError::Permanent(error)) => {
                    // The provider answered: it is alive, the message was at fault.
                    if let Some(b) = breaker {
                        b.success();
                    }
                    metrics::counter!("otpd_deliveries_total", "provider" => p.name().to_owned(), "status" => "failed")
                        .increment(1);
                    tracing::warn!(job = job.id, provider = p.name(), to = %mask(&job.to), %error, "provider refused the message for good");
                    return AttemptResult::Failed {
                        error: format!("{}: {error}", p.name()),
                    };
                }
                Err(ProviderError::Transient(error)) => {
                    if breaker.is_some_and(|b| b.failure()) {
                        tracing::warn!(
                            provider = p.name(),
                            "provider keeps failing; its circuit is open"
                        );
                        metrics::gauge!("otpd_provider_circuit_open", "provider" => p.name().to_owned()).set(1.0);
                    }
                    metrics::counter!("otpd_deliveries_total", "provider" => p.name().to_owned(), "status" => "retry")
                        .increment(1);
                    tracing::warn!(job = job.id, provider = p.name(), %error, "provider failed; trying the next route");
                    last_error = format!("{}: {error}", p.name());
                }
            }
        }
        let now = self.clock.now();
        let jitter: f64 = rand::thread_rng().r#gen();
        match next_retry(
            job.attempts,
            self.config.max_attempts,
            jitter,
            now,
            job.expires_at,
        ) {
            Some(retry_at) => AttemptResult::Retry {
                error: last_error,
                retry_at,
            },
            None => AttemptResult::Failed { error: last_error },
        }
    }

    async fn render(&self, job: &Job) -> Result<OutboundMessage, String> {
        let code = self
            .secrets
            .open(&job.sealed_code, job.tenant_id.as_str().as_bytes())
            .map_err(|e| e.to_string())?;
        let code = String::from_utf8(code).map_err(|_| "a sealed code is not text".to_owned())?;
        let service = self
            .store
            .service(&job.tenant_id, &job.service_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the service was deleted".to_owned())?;
        let ctx = MessageContext {
            brand: &service.config.name,
            code: &code,
            locale: &job.locale,
            domain: service.config.domain.as_deref(),
            custom: job.message.as_deref(),
        };
        let body = match job.channel {
            Channel::Sms => {
                let text = render_sms(&ctx);
                Rendered::Text(match &job.reference_code {
                    Some(r) => with_reference(r, &text),
                    None => text,
                })
            }
            Channel::Call => Rendered::Speech(render_call(&ctx)),
            Channel::Email => {
                let e = render_email(&ctx);
                Rendered::Email {
                    subject: e.subject,
                    text: e.text,
                    html: e.html,
                }
            }
        };
        Ok(OutboundMessage {
            tenant_id: job.tenant_id.as_str().to_owned(),
            channel: job.channel,
            to: job.to.clone(),
            body,
            sender: job.sender.clone(),
            idempotency_key: format!("{}-{}", job.id, job.attempts),
            locale: job.locale.as_str().to_owned(),
        })
    }
}

#[cfg(test)]
mod handoff_tests;
#[cfg(test)]
mod tests;
