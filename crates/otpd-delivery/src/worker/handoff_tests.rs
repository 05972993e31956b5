//! New jobs handed straight to the running worker (handoff.rs), and the claim behind it.

use super::tests::{Gated, fixture};
use super::*;
use otpd_core::delivery::JobStatus;
use otpd_core::engine::Engine;
use otpd_core::ports::{Dispatcher, Handoff};
use otpd_core::random::SeededRandom;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// The worker's own `Wakeup`, counting the wake-ups (each one means a job was queued for a
/// claim instead of handed over).
struct Watching {
    wakeup: Wakeup,
    woken: AtomicUsize,
}

impl Dispatcher for Watching {
    fn wake(&self) {
        self.woken.fetch_add(1, SeqCst);
        self.wakeup.wake();
    }
    fn reserve(&self) -> Option<Box<dyn Handoff>> {
        self.wakeup.reserve()
    }
}

/// A running worker that never polls (a queued job could only go out after a wake-up), its
/// inbox open; starts go through an engine whose dispatcher watches its wake-ups.
struct Running {
    worker: Arc<Worker>,
    watching: Arc<Watching>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

async fn run_watched(
    f: &mut super::tests::Fixture,
    provider: Arc<Gated>,
    config: WorkerConfig,
) -> Running {
    let worker = f.worker_with(
        Routes::all_through(provider),
        WorkerConfig {
            poll: Duration::from_secs(3600),
            ..config
        },
    );
    let watching = Arc::new(Watching {
        wakeup: worker.wakeup.clone(),
        woken: AtomicUsize::new(0),
    });
    f.engine = Arc::new(Engine {
        store: f.store.clone(),
        clock: f.clock.clone(),
        rng: Arc::new(SeededRandom::new(8)),
        secrets: f.secrets.clone(),
        dispatcher: watching.clone(),
    });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(worker.clone().run(stopped));
    let deadline = Instant::now() + Duration::from_secs(10);
    while worker.wakeup.reserve().is_none() {
        assert!(
            Instant::now() < deadline,
            "the worker never opened its inbox"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Running {
        worker,
        watching,
        stop,
        task,
    }
}

impl Running {
    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_job_goes_straight_to_the_running_worker_without_a_claim() {
    let mut f = fixture().await;
    let provider = Arc::new(Gated::default());
    let r = run_watched(&mut f, provider.clone(), WorkerConfig::default()).await;
    let vs = f.start_many(5, 4000).await;
    f.until_delivered(&vs).await;
    assert_eq!(
        r.watching.woken.load(SeqCst),
        0,
        "every job was handed over"
    );
    assert_eq!(provider.calls.load(SeqCst), 5);
    for v in &vs {
        let d = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
        assert_eq!((d.status, d.attempts), (JobStatus::Sent, 1));
    }
    let worker = r.worker.clone();
    r.stop().await;
    assert!(
        worker.wakeup.reserve().is_none(),
        "a stopped worker takes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_worker_has_the_job_queued_and_claims_it_when_there_is_room() {
    let mut f = fixture().await;
    let provider = Arc::new(Gated {
        gate: Some(tokio::sync::Semaphore::new(0)),
        ..Gated::default()
    });
    // One in flight, one waiting in the inbox: the third start finds no room.
    let config = WorkerConfig {
        batch: 1,
        concurrency: 1,
        ..WorkerConfig::default()
    };
    let r = run_watched(&mut f, provider.clone(), config).await;
    let first = f.start_many(1, 5000).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while provider.in_flight.load(SeqCst) < 1 {
        assert!(Instant::now() < deadline, "the first job never went out");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rest = f.start_many(2, 5001).await;
    assert_eq!(r.watching.woken.load(SeqCst), 1, "the third was queued");
    let queued = f.store.latest_delivery(&rest[1].id).await.unwrap().unwrap();
    assert_eq!(queued.status, JobStatus::Queued);
    provider.gate.as_ref().unwrap().add_permits(3);
    f.until_delivered(&first).await;
    f.until_delivered(&rest).await;
    assert_eq!(provider.calls.load(SeqCst), 3, "each delivered once");
    assert_eq!(provider.most_in_flight.load(SeqCst), 1);
    r.stop().await;
}
