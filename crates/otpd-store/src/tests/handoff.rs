//! A job written leased to the worker that reserved room for it (`Dispatcher::reserve`).

use super::*;
use otpd_core::delivery::{Job, JobStatus};
use otpd_core::ports::{Dispatcher, Handoff};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A worker with room for everything: keeps what it is handed, counts wake-ups.
#[derive(Default)]
struct Catcher {
    handed: Arc<Mutex<Vec<Job>>>,
    woken: AtomicUsize,
}

struct Place(Arc<Mutex<Vec<Job>>>);

impl Handoff for Place {
    fn lease_ms(&self) -> i64 {
        30_000
    }
    fn hand_over(self: Box<Self>, job: Job) {
        self.0.lock().unwrap().push(job);
    }
}

impl Dispatcher for Catcher {
    fn wake(&self) {
        self.woken.fetch_add(1, Ordering::SeqCst);
    }
    fn reserve(&self) -> Option<Box<dyn Handoff>> {
        Some(Box::new(Place(self.handed.clone())))
    }
}

#[tokio::test]
async fn a_job_handed_over_is_leased_and_claimed_again_only_when_its_lease_runs_out() {
    let f = fixture().await;
    let svc = f.service(|_| {}).await;
    let catcher = Arc::new(Catcher::default());
    let engine = Engine {
        store: f.store.clone(),
        clock: f.clock.clone(),
        rng: Arc::new(SeededRandom::new(21)),
        secrets: f.engine.secrets.clone(),
        dispatcher: catcher.clone(),
    };
    let v = engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "123456"))
        .await
        .unwrap()
        .verification;
    assert_eq!(catcher.woken.load(Ordering::SeqCst), 0, "nothing to claim");
    let handed = catcher.handed.lock().unwrap().clone();
    assert_eq!(handed.len(), 1);
    let job = &handed[0];
    assert_eq!((job.attempts, &job.verification_id), (1, &v.id));
    let opened = engine
        .secrets
        .open(&job.sealed_code, f.admin.tenant_id.as_str().as_bytes())
        .unwrap();
    assert_eq!(opened, b"123456");
    let state = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
    assert_eq!((state.status, state.attempts), (JobStatus::Sending, 1));

    let now = f.clock.now();
    assert!(
        f.store
            .claim_jobs(now.plus_millis(29_999), 10, 30_000)
            .await
            .unwrap()
            .is_empty(),
        "leased to the worker it was handed to"
    );
    // That worker died: the lease runs out and any worker claims it, as a second attempt.
    let again = f
        .store
        .claim_jobs(now.plus_millis(30_000), 10, 30_000)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempts), (job.id, 2));
}
