//! Per-subject send limits, reference codes on jobs, and delivery status.

use super::*;
use otpd_core::delivery::{AttemptResult, JobStatus};
use otpd_core::verification::SubjectLimit;

fn limited(to: &str, subject: &str) -> StartInput {
    StartInput {
        subject_limit: Some(SubjectLimit {
            subject: subject.to_owned(),
            count: 2,
            window_seconds: 60,
        }),
        issue_reference_code: true,
        ..StartInput::new(phone(to), Channel::Sms)
    }
}

#[tokio::test]
async fn a_subject_limit_counts_across_services_and_numbers() {
    let f = fixture().await;
    let a = f.service(|_| {}).await;
    let b = f.service(|n| n.name = "Other".into()).await;
    async fn start(f: &Fixture, svc: &Service, to: &str, subject: &str) -> Result<()> {
        f.engine
            .start_verification(&f.admin, svc.id.as_str(), limited(to, subject))
            .await
            .map(|_| ())
    }
    start(&f, &a, "+14155550101", "u1").await.unwrap();
    f.clock.advance_secs(10);
    start(&f, &b, "+14155550102", "u1").await.unwrap();
    match start(&f, &a, "+14155550103", "u1").await {
        Err(Error::RateLimited {
            retry_after_secs, ..
        }) => assert_eq!(retry_after_secs, 50),
        other => panic!("{other:?}"),
    }
    start(&f, &a, "+14155550103", "u2").await.unwrap();
    f.clock.advance_secs(51);
    start(&f, &a, "+14155550103", "u1").await.unwrap();
}

#[tokio::test]
async fn jobs_carry_the_reference_and_report_their_status() {
    let f = fixture().await;
    let svc = f.service(|_| {}).await;
    let started = f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), limited("+14155550101", "u1"))
        .await
        .unwrap();
    let v = started.verification;
    let reference = v.reference.reference_code.clone().unwrap();
    assert_eq!(reference.len(), 4);
    assert_eq!(
        f.store.delivery_status(&v.tenant_id, &v.id).await.unwrap(),
        Some(JobStatus::Queued)
    );
    let now = f.clock.now();
    let jobs = f.store.claim_jobs(now, 10, 30_000).await.unwrap();
    assert_eq!(jobs[0].reference_code.as_deref(), Some(reference.as_str()));
    assert_eq!(
        f.engine.delivery_status(&f.admin, &v).await.unwrap(),
        Some(JobStatus::Sending)
    );
    f.store
        .finish_attempt(
            jobs[0].id,
            AttemptResult::Sent {
                provider: "outbox".into(),
                provider_ref: None,
                kept: None,
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        f.store.delivery_status(&v.tenant_id, &v.id).await.unwrap(),
        Some(JobStatus::Sent)
    );
    // Another tenant sees nothing.
    let other = TenantId::generate(&SeededRandom::new(99));
    assert_eq!(f.store.delivery_status(&other, &v.id).await.unwrap(), None);
}
