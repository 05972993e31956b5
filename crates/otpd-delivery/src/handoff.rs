//! How new jobs reach this process's worker: handed over, or woken for.
//!
//! While a worker runs, a start reserves a place in its inbox before the job is written; the
//! store writes the job already leased (as a claim would leave it) and the engine hands it
//! over after the commit. The worker never has to claim it: a claim is a write of its own
//! (read the due jobs, rewrite each row and move it in the due index), ~6 % of a send's CPU
//! under load (BENCHMARKS.md). When the inbox is full or no worker runs, the job is queued
//! and the worker is woken to claim it, as before. A job handed over but never attempted
//! (the process died) is claimed again when its lease runs out: at least once, as for a
//! claimed job. With several workers on one `Wakeup` the last one started holds the inbox and
//! the others claim.

use otpd_core::delivery::Job;
use otpd_core::ports::{Dispatcher, Handoff};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc};

/// The core's `Dispatcher`.
#[derive(Clone, Default)]
pub struct Wakeup {
    pub(crate) notify: Arc<Notify>,
    inbox: Arc<Mutex<Option<Inbox>>>,
}

#[derive(Clone)]
struct Inbox {
    jobs: mpsc::Sender<Job>,
    lease_ms: i64,
}

/// A running worker's end of its inbox.
pub(crate) struct OpenInbox {
    pub(crate) received: mpsc::Receiver<Job>,
    /// Tells this inbox apart from a later worker's on the same `Wakeup`.
    ours: mpsc::Sender<Job>,
}

impl Wakeup {
    /// Opens the inbox of a worker that is starting; it holds at most `capacity` jobs not yet
    /// taken in flight, and jobs handed over are leased for `lease_ms`.
    pub(crate) fn open_inbox(&self, capacity: usize, lease_ms: i64) -> OpenInbox {
        let (jobs, received) = mpsc::channel(capacity.max(1));
        *self.slot() = Some(Inbox {
            jobs: jobs.clone(),
            lease_ms,
        });
        OpenInbox {
            received,
            ours: jobs,
        }
    }

    /// Closes a stopping worker's inbox: starts queue their jobs again. Jobs already in it
    /// stay there for the worker to take.
    pub(crate) fn close_inbox(&self, inbox: &mut OpenInbox) {
        let mut slot = self.slot();
        if slot
            .as_ref()
            .is_some_and(|i| i.jobs.same_channel(&inbox.ours))
        {
            *slot = None;
        }
        drop(slot);
        inbox.received.close();
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Inbox>> {
        // The slot holds a plain value: a panic while holding it cannot leave it half-written.
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Dispatcher for Wakeup {
    fn wake(&self) {
        self.notify.notify_one();
    }

    fn reserve(&self) -> Option<Box<dyn Handoff>> {
        let inbox = self.slot().clone()?;
        let place = inbox.jobs.try_reserve_owned().ok()?;
        Some(Box::new(Reserved {
            place,
            lease_ms: inbox.lease_ms,
        }))
    }
}

struct Reserved {
    place: mpsc::OwnedPermit<Job>,
    lease_ms: i64,
}

impl Handoff for Reserved {
    fn lease_ms(&self) -> i64 {
        self.lease_ms
    }

    fn hand_over(self: Box<Self>, job: Job) {
        self.place.send(job);
    }
}
