//! Delivery receipts (provider callbacks) on sent jobs.

use super::*;
use otpd_core::delivery::JobStatus;

#[tokio::test]
async fn delivery_receipts_move_sent_jobs_and_an_undelivered_one_fails_the_code() {
    let f = fixture().await;
    let svc = f.service(|_| {}).await;
    let v = f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "123456"))
        .await
        .unwrap()
        .verification;
    let now = f.clock.now();
    let job = f.store.claim_jobs(now, 1, 30_000).await.unwrap().remove(0);
    let sent = AttemptResult::Sent {
        provider: "carrier".into(),
        provider_ref: Some("msg-1".into()),
        kept: None,
    };
    f.store.finish_attempt(job.id, sent, now).await.unwrap();
    assert!(
        !f.store
            .mark_delivery("carrier", "msg-2", JobStatus::Delivered, now)
            .await
            .unwrap(),
        "an unknown message id changes nothing"
    );
    assert!(
        f.store
            .mark_delivery("carrier", "msg-1", JobStatus::Delivered, now)
            .await
            .unwrap()
    );
    let state = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
    assert_eq!(state.status, JobStatus::Delivered);
    assert_eq!(state.provider_ref.as_deref(), Some("msg-1"));
    assert_eq!(state.attempts, 1);
    // A later receipt saying it never arrived: nobody holds the code.
    assert!(
        f.store
            .mark_delivery("carrier", "msg-1", JobStatus::Undelivered, now)
            .await
            .unwrap()
    );
    let stored = f.stored(&svc, &v.id).await.unwrap();
    assert_eq!(stored.status, Status::Failed);
}
