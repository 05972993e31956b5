//! Writes delivery results in groups: the results that came in while the previous write was
//! committing go together in the next one, so a busy worker records many attempts per
//! transaction and a quiet one records each at once. A result waits for at most one write
//! before its own, so a crash re-sends no more than it did when every result had its own
//! write: a job whose result was not yet written is claimed again when its lease runs out.

use otpd_core::clock::Clock;
use otpd_core::delivery::AttemptResult;
use otpd_core::ports::Store;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Most results in one write.
const GROUP: usize = 512;

/// Where attempts leave their results; the recorder stops once every clone is dropped and
/// what was left with it is written.
#[derive(Clone)]
pub(super) struct Recorder {
    tx: mpsc::UnboundedSender<(i64, AttemptResult)>,
}

impl Recorder {
    pub(super) fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> (Recorder, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Recorder { tx },
            tokio::spawn(write_groups(store, clock, rx)),
        )
    }

    pub(super) fn record(&self, job_id: i64, result: AttemptResult) {
        // The receiver lives until every sender is gone, so this cannot fail.
        let _ = self.tx.send((job_id, result));
    }
}

async fn write_groups(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mut rx: mpsc::UnboundedReceiver<(i64, AttemptResult)>,
) {
    let mut ready = Vec::with_capacity(GROUP);
    while rx.recv_many(&mut ready, GROUP).await > 0 {
        let results = std::mem::replace(&mut ready, Vec::with_capacity(GROUP));
        let n = results.len();
        metrics::histogram!("otpd_delivery_results_per_write").record(n as f64);
        match store.finish_attempts(results, clock.now()).await {
            Ok(found) if found < n => {
                tracing::warn!(
                    missing = n - found,
                    "delivery jobs were gone before their results were recorded"
                )
            }
            Ok(_) => {}
            // Their leases run out and they are sent again: at least once.
            Err(e) => tracing::warn!(jobs = n, error = %e, "recording delivery results failed"),
        }
    }
}
