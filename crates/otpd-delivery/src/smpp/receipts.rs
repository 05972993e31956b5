//! Delivery receipts, mapped back to the delivery the SMSC's message id belongs to.

use otpd_core::clock::Clock;
use otpd_core::delivery::JobStatus;
use otpd_core::ports::Store;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Receipts {
    pub provider: String,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
}

/// SMPP's final states; the others (ENROUTE, ACCEPTD, UNKNOWN) change nothing.
pub fn job_status(stat: &str) -> Option<JobStatus> {
    match stat {
        "DELIVRD" => Some(JobStatus::Delivered),
        "UNDELIV" | "EXPIRED" | "DELETED" => Some(JobStatus::Undelivered),
        "REJECTD" => Some(JobStatus::Failed),
        _ => None,
    }
}

impl Receipts {
    pub fn record(&self, id: String, stat: &str) {
        let Some(status) = job_status(stat) else {
            return;
        };
        let me = self.clone();
        // The receipt can come before the worker has committed the message id (the SMSC
        // answers submit_sm and sends the receipt at once): try again for a while.
        tokio::spawn(async move {
            for _ in 0..40 {
                match me
                    .store
                    .mark_delivery(&me.provider, &id, status, me.clock.now())
                    .await
                {
                    Ok(true) => {
                        metrics::counter!("otpd_deliveries_total", "provider" => me.provider.clone(), "status" => status.as_str())
                            .increment(1);
                        return;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(provider = %me.provider, error = %e, "recording a receipt failed")
                    }
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            tracing::debug!(provider = %me.provider, "a receipt for a message otpd does not know");
        });
    }
}
