//! Store tests through the core engine, on the backend `TEST_DATABASE` names (SQLite by
//! default, or PostgreSQL with a fresh database per test): one suite, both adapters.

use crate::testing::{Backend, TestDatabase};
use crate::{PgOptions, PgStore, SqliteStore};
use otpd_core::clock::{Clock, FakeClock, Timestamp};
use otpd_core::code::Code;
use otpd_core::delivery::AttemptResult;
use otpd_core::destination::{Channel, Destination, PhoneE164};
use otpd_core::engine::{Engine, StartInput};
use otpd_core::ids::{TenantId, VerificationId};
use otpd_core::ports::{NoDispatch, SealedMessage, Store};
use otpd_core::random::SeededRandom;
use otpd_core::secrets::ServerSecrets;
use otpd_core::service::{NewService, Service};
use otpd_core::tenant::{Principal, Scope, Scopes};
use otpd_core::verification::{CheckOutcome, Status, Verification};
use otpd_core::{Error, Result};
use std::path::PathBuf;
use std::sync::Arc;

/// Where a fixture's data lives; dropping it removes the data.
enum Place {
    Sqlite(#[allow(dead_code)] tempfile::TempDir, PathBuf),
    Postgres(TestDatabase),
}

impl Place {
    async fn new() -> Place {
        match Backend::from_env() {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("otpd.db");
                Place::Sqlite(dir, path)
            }
            Backend::Postgres => Place::Postgres(TestDatabase::create().await),
        }
    }

    /// Opens (migrating) a store on this place; call again for a second node or a restart.
    async fn open(&self) -> Arc<dyn Store> {
        match self {
            Place::Sqlite(_, path) => Arc::new(SqliteStore::open(path, secrets()).unwrap()),
            Place::Postgres(db) => Arc::new(
                PgStore::connect(&db.url, PgOptions::default(), secrets())
                    .await
                    .unwrap(),
            ),
        }
    }
}

struct Fixture {
    place: Place,
    engine: Arc<Engine>,
    clock: Arc<FakeClock>,
    store: Arc<dyn Store>,
    admin: Principal,
}

fn secrets() -> Arc<ServerSecrets> {
    Arc::new(ServerSecrets::from_master(&[5u8; 32]).unwrap())
}

async fn fixture() -> Fixture {
    let place = Place::new().await;
    let store = place.open().await;
    let clock = Arc::new(FakeClock::new(Timestamp(1_800_000_000_000)));
    let engine = Arc::new(Engine {
        store: store.clone(),
        clock: clock.clone(),
        rng: Arc::new(SeededRandom::new(11)),
        secrets: secrets(),
        dispatcher: Arc::new(NoDispatch),
    });
    let key = engine.bootstrap().await.unwrap().unwrap();
    let admin = engine
        .authenticate(key.key.id.as_str(), &key.secret)
        .await
        .unwrap();
    Fixture {
        place,
        engine,
        clock,
        store,
        admin,
    }
}

fn phone(s: &str) -> Destination {
    Destination::Phone(PhoneE164::parse(s, "to").unwrap())
}

fn sms(to: &str, code: &str) -> StartInput {
    StartInput {
        custom_code: Some(Code::custom(code, "custom_code").unwrap()),
        ..StartInput::new(phone(to), Channel::Sms)
    }
}

impl Fixture {
    async fn service(&self, f: impl FnOnce(&mut NewService)) -> Service {
        let mut n = NewService::named("Acme");
        n.custom_code_enabled = Some(true);
        f(&mut n);
        self.engine.create_service(&self.admin, n).await.unwrap()
    }

    /// `n` checks of the same code on the same verification at once, each on its own task.
    async fn concurrent_checks(
        &self,
        svc: &Service,
        id: &VerificationId,
        code: &str,
        n: usize,
    ) -> Vec<CheckOutcome> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (engine, admin, sid, id) = (
                    self.engine.clone(),
                    self.admin.clone(),
                    svc.id.clone(),
                    id.clone(),
                );
                let code = Code::candidate(code, "code").unwrap();
                tokio::spawn(async move {
                    engine
                        .check_verification(&admin, sid.as_str(), id.as_str(), code)
                        .await
                        .unwrap()
                        .outcome
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        outcomes
    }

    /// The verification as stored now, if it still is.
    async fn stored(&self, svc: &Service, id: &VerificationId) -> Option<Verification> {
        self.store
            .verification(&self.admin.tenant_id, &svc.id, id)
            .await
            .unwrap()
    }

    async fn check(&self, svc: &Service, id: &VerificationId, code: &str) -> Result<CheckOutcome> {
        self.engine
            .check_verification(
                &self.admin,
                svc.id.as_str(),
                id.as_str(),
                Code::candidate(code, "code")?,
            )
            .await
            .map(|c| c.outcome)
    }
}

#[tokio::test]
async fn an_acknowledged_start_survives_reopening() {
    let f = fixture().await;
    let svc = f.service(|_| {}).await;
    let started = f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "123456"))
        .await
        .unwrap();
    drop(f.engine);
    let reopened = f.place.open().await;
    let v = reopened
        .verification(&f.admin.tenant_id, &svc.id, &started.verification.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.status, Status::Pending);
    assert_eq!(v.to.as_str(), "+14155552671");
}

#[tokio::test]
async fn fifty_concurrent_right_checks_approve_exactly_once() {
    let f = fixture().await;
    let svc = f.service(|_| {}).await;
    let v = f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "424242"))
        .await
        .unwrap()
        .verification;
    let outcomes = f.concurrent_checks(&svc, &v.id, "424242", 50).await;
    let approvals = outcomes.iter().filter(|o| o.valid).count();
    assert_eq!(approvals, 1);
}

#[tokio::test]
async fn concurrent_wrong_checks_are_all_counted_up_to_the_limit() {
    let f = fixture().await;
    let svc = f.service(|n| n.max_check_attempts = Some(7)).await;
    let v = f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "424242"))
        .await
        .unwrap()
        .verification;
    let mut counted = 0;
    for o in f.concurrent_checks(&svc, &v.id, "000000", 20).await {
        assert!(!o.valid);
        counted += o.changed as usize;
    }
    assert_eq!(
        counted, 7,
        "exactly max_check_attempts guesses were counted"
    );
    let stored = f.stored(&svc, &v.id).await.unwrap();
    assert_eq!(stored.attempts, 7);
    assert_eq!(stored.status, Status::MaxAttemptsReached);
    // The right code no longer helps.
    assert!(!f.check(&svc, &v.id, "424242").await.unwrap().valid);
}

#[tokio::test]
async fn resend_keeps_the_id_and_the_failures_and_drops_the_old_job() {
    let f = fixture().await;
    let svc = f.service(|_| {}).await;
    let first = f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "111111"))
        .await
        .unwrap();
    assert!(first.created);
    assert!(
        !f.check(&svc, &first.verification.id, "999999")
            .await
            .unwrap()
            .valid
    );
    let again = f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "222222"))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.verification.id, first.verification.id);
    assert_eq!(again.verification.attempts, 1);
    assert_eq!(again.verification.send_count, 2);
    let jobs = f.store.claim_jobs(f.clock.now(), 10, 30_000).await.unwrap();
    assert_eq!(jobs.len(), 1, "only the newest code is delivered");
    let opened = f
        .engine
        .secrets
        .open(&jobs[0].sealed_code, f.admin.tenant_id.as_str().as_bytes())
        .unwrap();
    assert_eq!(opened, b"222222");
    assert!(
        !f.check(&svc, &first.verification.id, "111111")
            .await
            .unwrap()
            .valid
    );
    assert!(
        f.check(&svc, &first.verification.id, "222222")
            .await
            .unwrap()
            .valid
    );
}

#[tokio::test]
async fn send_limit_spans_verifications_and_channels() {
    let f = fixture().await;
    let svc = f.service(|n| n.max_sends = Some(20)).await;
    for _ in 0..5 {
        f.engine
            .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "123456"))
            .await
            .unwrap();
    }
    let mut call = sms("+14155552671", "123456");
    call.channel = Some(Channel::Call);
    match f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), call)
        .await
    {
        Err(Error::RateLimited {
            retry_after_secs, ..
        }) => assert_eq!(retry_after_secs, 600),
        other => panic!("{other:?}"),
    }
    // Another destination is unaffected; the window reopens with time.
    f.engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552672", "123456"))
        .await
        .unwrap();
    f.clock.advance_secs(601);
    f.engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "123456"))
        .await
        .unwrap();
}

#[tokio::test]
async fn tenants_are_isolated() {
    let f = fixture().await;
    let svc = f.service(|_| {}).await;
    let v = f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "123456"))
        .await
        .unwrap()
        .verification;
    let other = f
        .engine
        .issue_key("other", "k", Scopes::new(vec![Scope::Admin]))
        .await
        .unwrap();
    let intruder = f
        .engine
        .authenticate(other.key.id.as_str(), &other.secret)
        .await
        .unwrap();
    let r = f
        .engine
        .check_verification(
            &intruder,
            svc.id.as_str(),
            v.id.as_str(),
            Code::candidate("123456", "code").unwrap(),
        )
        .await;
    assert_eq!(r.unwrap_err(), Error::NotFound("verification"));
    assert_eq!(
        f.engine
            .verification(&intruder, svc.id.as_str(), v.id.as_str())
            .await
            .unwrap_err(),
        Error::NotFound("verification")
    );
    assert!(f.engine.service(&intruder, svc.id.as_str()).await.is_err());
}

#[tokio::test]
async fn leases_expire_so_a_dead_worker_loses_no_job() {
    let f = fixture().await;
    let svc = f.service(|_| {}).await;
    f.engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "123456"))
        .await
        .unwrap();
    let now = f.clock.now();
    let first = f.store.claim_jobs(now, 10, 30_000).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        f.store
            .claim_jobs(now, 10, 30_000)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    let later = f
        .store
        .claim_jobs(now.plus_millis(30_001), 10, 30_000)
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].attempts, 2);
    f.store
        .finish_attempt(
            later[0].id,
            AttemptResult::Sent {
                provider: "outbox".into(),
                provider_ref: None,
                kept: None,
            },
            now,
        )
        .await
        .unwrap();
    assert!(
        f.store
            .claim_jobs(now.plus_millis(90_000), 10, 30_000)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn results_recorded_together_each_take_effect_and_a_vanished_job_is_skipped() {
    let f = fixture().await;
    let svc = f.service(|_| {}).await;
    let mut vs = Vec::new();
    for to in ["+14155552671", "+14155552672", "+14155552673"] {
        let started = f
            .engine
            .start_verification(&f.admin, svc.id.as_str(), sms(to, "123456"))
            .await
            .unwrap();
        vs.push(started.verification);
    }
    let now = f.clock.now();
    let jobs = f.store.claim_jobs(now, 10, 30_000).await.unwrap();
    assert_eq!(jobs.len(), 3);
    let job_of = |v: &Verification| jobs.iter().find(|j| j.verification_id == v.id).unwrap().id;
    // The kept message is stored with the result, and not for a job that is gone.
    let sent = AttemptResult::Sent {
        provider: "outbox".into(),
        provider_ref: Some("r-1".into()),
        kept: Some(SealedMessage {
            id: 0,
            tenant_id: svc.tenant_id.clone(),
            to: "+14155552671".into(),
            channel: Channel::Sms,
            sealed_body: vec![7; 40],
            created_at: now,
        }),
    };
    let later = now.plus_millis(1_000);
    let results = vec![
        (
            job_of(&vs[2]),
            AttemptResult::Failed {
                error: "bad number".into(),
            },
        ),
        (i64::MAX, sent.clone()),
        (job_of(&vs[0]), sent),
        (
            job_of(&vs[1]),
            AttemptResult::Retry {
                error: "busy".into(),
                retry_at: later,
            },
        ),
    ];
    assert_eq!(f.store.finish_attempts(results, now).await.unwrap(), 3);

    let delivery = |i: usize| {
        let id = vs[i].id.clone();
        let store = f.store.clone();
        async move { store.latest_delivery(&id).await.unwrap().unwrap() }
    };
    let first = delivery(0).await;
    assert_eq!(first.status, otpd_core::delivery::JobStatus::Sent);
    assert_eq!(first.provider_ref.as_deref(), Some("r-1"));
    let kept = f.store.messages(&svc.tenant_id, None, 10).await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        (kept[0].to.as_str(), kept[0].sealed_body.len()),
        ("+14155552671", 40)
    );
    assert_eq!(
        delivery(1).await.status,
        otpd_core::delivery::JobStatus::Queued
    );
    assert_eq!(
        delivery(2).await.status,
        otpd_core::delivery::JobStatus::Failed
    );
    assert_eq!(
        f.stored(&svc, &vs[2].id).await.unwrap().status,
        Status::Failed
    );
    assert_eq!(
        f.stored(&svc, &vs[0].id).await.unwrap().status,
        Status::Pending
    );
    // Only the retry comes back, once it is due.
    assert!(
        f.store
            .claim_jobs(now, 10, 30_000)
            .await
            .unwrap()
            .is_empty()
    );
    let again = f.store.claim_jobs(later, 10, 30_000).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].verification_id, vs[1].id);
    // One job alone that vanished is still an error for the single-job form.
    let gone = AttemptResult::Failed { error: "x".into() };
    assert_eq!(
        f.store
            .finish_attempt(i64::MAX, gone, now)
            .await
            .unwrap_err(),
        Error::NotFound("delivery job")
    );
}

#[tokio::test]
async fn a_permanent_failure_of_the_newest_job_fails_the_verification() {
    let f = fixture().await;
    let svc = f.service(|_| {}).await;
    let v = f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "123456"))
        .await
        .unwrap()
        .verification;
    let job = f
        .store
        .claim_jobs(f.clock.now(), 1, 30_000)
        .await
        .unwrap()
        .remove(0);
    f.store
        .finish_attempt(
            job.id,
            AttemptResult::Failed {
                error: "invalid number".into(),
            },
            f.clock.now(),
        )
        .await
        .unwrap();
    let stored = f.stored(&svc, &v.id).await.unwrap();
    assert_eq!(stored.status, Status::Failed);
}

#[tokio::test]
async fn sweeper_expires_then_purges() {
    let f = fixture().await;
    let svc = f.service(|_| {}).await;
    let v = f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155552671", "123456"))
        .await
        .unwrap()
        .verification;
    f.clock.advance_secs(601);
    let r = f.store.sweep(f.clock.now(), 3600).await.unwrap();
    assert_eq!(r.expired, 2, "the verification and its queued job");
    let stored = f.stored(&svc, &v.id).await.unwrap();
    assert_eq!(stored.status, Status::Expired);
    f.clock.advance_secs(3600);
    let r = f.store.sweep(f.clock.now(), 3600).await.unwrap();
    assert!(r.purged >= 2, "{r:?}");
    assert!(f.stored(&svc, &v.id).await.is_none());
}

/// More rows than a sweep slice, every one with the same expiry (the cursor must not skip rows
/// that tie at a slice boundary), a third of them approved first: sweeps report `more` until
/// the backlog is through, each pending row ends expired and no approved one is touched; a row
/// that expires later is found by a later sweep.
#[tokio::test]
async fn a_backlog_of_expiries_drains_in_slices_and_touches_only_pending_rows() {
    let f = fixture().await;
    let svc = f.service(|_| {}).await;
    let n = otpd_core::ports::SWEEP_SLICE as usize * 2 + 200;
    // Started 50 at a time: all 1 200 at once outwait the PostgreSQL pool's slot timeout.
    let mut ids = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|&i| {
                let (engine, admin, sid) = (f.engine.clone(), f.admin.clone(), svc.id.clone());
                tokio::spawn(async move {
                    let to = format!("+1415555{:04}", 2000 + i);
                    engine
                        .start_verification(&admin, sid.as_str(), sms(&to, "123456"))
                        .await
                        .unwrap()
                        .verification
                        .id
                })
            })
            .collect();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
    }
    for id in ids.iter().step_by(3) {
        assert!(f.check(&svc, id, "123456").await.unwrap().valid);
    }
    f.clock.advance_secs(601);
    let mut sweeps = 0;
    loop {
        sweeps += 1;
        assert!(sweeps <= 10, "the backlog never drained");
        if !f.store.sweep(f.clock.now(), 3600).await.unwrap().more {
            break;
        }
    }
    assert!(
        sweeps >= 3,
        "{n} rows cannot fit in fewer than three slices"
    );
    for (i, id) in ids.iter().enumerate() {
        let v = f.stored(&svc, id).await.unwrap();
        let want = if i % 3 == 0 {
            Status::Approved
        } else {
            Status::Expired
        };
        assert_eq!(v.status, want, "verification {i}");
    }
    let later = f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), sms("+14155551999", "123456"))
        .await
        .unwrap()
        .verification;
    f.clock.advance_secs(601);
    let r = f.store.sweep(f.clock.now(), 3600).await.unwrap();
    assert_eq!(
        r.expired, 2,
        "the new verification and its queued job: {r:?}"
    );
    let stored = f.stored(&svc, &later.id).await.unwrap();
    assert_eq!(stored.status, Status::Expired);
}

#[tokio::test]
async fn a_callers_message_must_fit_one_segment_with_the_code() {
    let f = fixture().await;
    let svc = f.service(|n| n.custom_code_enabled = Some(false)).await;
    let start = |message: String| {
        let mut input = StartInput::new(phone("+14155552671"), Channel::Sms);
        input.message = Some(message);
        input
    };
    // GSM-7: message + " " + 6 digits = 160 septets fits, 161 does not.
    for (message, fits) in [
        ("a".repeat(153), true),
        ("a".repeat(154), false),
        (format!("{}€", "a".repeat(151)), true),
        (format!("{}€", "a".repeat(152)), false),
        // UCS-2: 70 units fit, 71 do not.
        ("ж".repeat(63), true),
        ("ж".repeat(64), false),
    ] {
        let r = f
            .engine
            .start_verification(&f.admin, svc.id.as_str(), start(message.clone()))
            .await;
        match (fits, r) {
            (true, Ok(_)) => {}
            (false, Err(Error::Invalid { field, .. })) => assert_eq!(field, "message"),
            (fits, other) => panic!("{} chars, fits={fits}: {other:?}", message.chars().count()),
        }
        f.clock.advance_secs(700); // past the send-limit window
    }
}

#[tokio::test]
async fn overrides_and_contract_codes() {
    let f = fixture().await;
    let svc = f.service(|n| n.custom_code_enabled = Some(false)).await;
    let mut input = StartInput::new(phone("+14155552671"), Channel::Sms);
    input.custom_code = Some(Code::custom("5150", "code").unwrap());
    assert!(matches!(
        f.engine
            .start_verification(&f.admin, svc.id.as_str(), input.clone())
            .await,
        Err(Error::Invalid { .. })
    ));
    input.custom_code_by_contract = true;
    input.policy.ttl_seconds = Some(30);
    input.policy.max_attempts = Some(2);
    let v = f
        .engine
        .start_verification(&f.admin, svc.id.as_str(), input)
        .await
        .unwrap()
        .verification;
    assert_eq!(v.expires_at, f.clock.now().plus_secs(30));
    assert_eq!(v.max_attempts, 2);
    assert!(f.check(&svc, &v.id, "5150").await.unwrap().valid);

    let mut bad = StartInput::new(phone("+14155552672"), Channel::Sms);
    bad.policy.code_length = Some(21);
    assert!(matches!(
        f.engine.start_verification(&f.admin, svc.id.as_str(), bad).await,
        Err(Error::Invalid { field, .. }) if field == "code_length"
    ));
}

mod handoff;
mod persons;
mod receipts;
mod resends;
mod subject;
