//! Re-sends and the send limit: what a purge or a superseded delivery must not undo.

use super::*;
use otpd_core::service::SendLimit;

/// SQLite keeps a first send only as its verification row (migration 0008): a verification
/// purged while the send window is still open must still count.
#[tokio::test]
async fn a_purged_verification_still_counts_against_the_send_limit() {
    let f = fixture().await;
    let svc = f
        .service(|n| {
            n.ttl_seconds = Some(60);
            n.send_limit = Some(SendLimit {
                count: 1,
                window_seconds: 600,
            });
        })
        .await;
    let first = f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "123456"))
        .await
        .unwrap()
        .verification;
    // Expired after 60 s, purged 60 s later: well inside the 600 s send window.
    f.clock.advance_secs(121);
    while f.store.sweep(f.clock.now(), 60).await.unwrap().more {}
    assert!(f.stored(&svc, &first.id).await.is_none(), "purged");
    match f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "123456"))
        .await
    {
        Err(Error::RateLimited {
            retry_after_secs, ..
        }) => assert_eq!(retry_after_secs, 600 - 121),
        other => panic!("{other:?}"),
    }
    f.clock.advance_secs(600 - 121 + 1);
    f.engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "123456"))
        .await
        .unwrap();
}

/// A re-send while the old code's delivery is in flight: that delivery's retry would send a
/// dead code, so it is dropped and only the new code goes out.
#[tokio::test]
async fn a_retry_of_a_superseded_delivery_is_dropped() {
    let f = fixture().await;
    let svc = f.service(|_| {}).await;
    let start = |code: &'static str| {
        f.engine
            .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", code))
    };
    start("111111").await.unwrap();
    let now = f.clock.now();
    let old = f.store.claim_jobs(now, 10, 30_000).await.unwrap();
    assert_eq!(old.len(), 1);
    start("222222").await.unwrap();
    let retry = AttemptResult::Retry {
        error: "busy".into(),
        retry_at: now,
    };
    f.store.finish_attempt(old[0].id, retry, now).await.unwrap();
    let due = f.store.claim_jobs(now, 10, 30_000).await.unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_ne!(due[0].id, old[0].id);
    let opened = f
        .engine
        .secrets
        .open(&due[0].sealed_code, f.admin.tenant_id.as_str().as_bytes())
        .unwrap();
    assert_eq!(opened, b"222222");
    // Unlike a superseded job, the newest one is retried.
    let retry = AttemptResult::Retry {
        error: "busy".into(),
        retry_at: now,
    };
    f.store.finish_attempt(due[0].id, retry, now).await.unwrap();
    let again = f.store.claim_jobs(now, 10, 30_000).await.unwrap();
    assert_eq!(again.iter().map(|j| j.id).collect::<Vec<_>>(), [due[0].id]);
}
