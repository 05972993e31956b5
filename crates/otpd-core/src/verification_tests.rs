//! State-machine tests: a fake clock and a seeded RNG, no IO.

use super::*;
use crate::clock::{Clock, FakeClock};
use crate::code::Alphabet;
use crate::destination::PhoneE164;
use crate::random::{Random, SeededRandom};
use crate::service::{NewService, SendLimit};

struct World {
    clock: FakeClock,
    rng: SeededRandom,
    secrets: ServerSecrets,
    service: Service,
}

fn world() -> World {
    let rng = SeededRandom::new(42);
    let mut n = NewService::named("Acme");
    n.max_check_attempts = Some(3);
    n.max_sends = Some(3);
    let service = Service {
        id: ServiceId::generate(&rng),
        tenant_id: TenantId::generate(&rng),
        number: 1,
        config: n.into_config().unwrap(),
        created_at: Timestamp(0),
    };
    World {
        clock: FakeClock::new(Timestamp(1_700_000_000_000)),
        secrets: ServerSecrets::from_master(&[9u8; 32]).unwrap(),
        rng,
        service,
    }
}

impl World {
    fn request(&self, code: &Code) -> StartRequest {
        StartRequest {
            service: self.service.clone(),
            to: Destination::Phone(PhoneE164::parse("+14155552671", "to").unwrap()),
            channel: Channel::Sms,
            locale: Locale::default(),
            code: code.clone(),
            custom_code: false,
            fresh_id: VerificationId::generate(&self.rng),
            reference: Reference::default(),
            sealed_code: vec![1, 2, 3],
            ttl_seconds: self.service.config.ttl_seconds,
            max_attempts: self.service.config.max_check_attempts,
            message: None,
            sender: None,
            subject_limit: None,
        }
    }

    fn code(&self) -> Code {
        Code::generate(6, Alphabet::Digits, &self.rng as &dyn Random)
    }

    fn start(&self, code: &Code, facts: StartFacts) -> Result<StartPlan> {
        plan_start(&self.request(code), facts, &self.secrets, self.clock.now())
    }

    fn wrong(&self, right: &Code) -> Code {
        let w = if right.expose() == "000000" {
            "111111"
        } else {
            "000000"
        };
        Code::custom(w, "code").unwrap()
    }
}

#[test]
fn right_code_approves_once() {
    let w = world();
    let code = w.code();
    let mut v = w.start(&code, StartFacts::default()).unwrap().verification;
    assert_eq!(v.status, Status::Pending);
    let first = apply_check(&mut v, &code, &w.secrets, w.clock.now());
    assert!(first.valid);
    assert_eq!(first.status, Status::Approved);
    let again = apply_check(&mut v, &code, &w.secrets, w.clock.now());
    assert!(!again.valid, "a code is accepted only once");
    assert_eq!(again.status, Status::Approved);
    assert!(!again.changed);
}

#[test]
fn wrong_codes_until_max_attempts_then_right_code_fails() {
    let w = world();
    let code = w.code();
    let mut v = w.start(&code, StartFacts::default()).unwrap().verification;
    let bad = w.wrong(&code);
    let o1 = apply_check(&mut v, &bad, &w.secrets, w.clock.now());
    assert_eq!(
        (o1.valid, o1.status, o1.attempts_remaining),
        (false, Status::Pending, 2)
    );
    apply_check(&mut v, &bad, &w.secrets, w.clock.now());
    let o3 = apply_check(&mut v, &bad, &w.secrets, w.clock.now());
    assert_eq!(
        (o3.status, o3.attempts_remaining),
        (Status::MaxAttemptsReached, 0)
    );
    let right = apply_check(&mut v, &code, &w.secrets, w.clock.now());
    assert!(!right.valid);
    assert_eq!(right.status, Status::MaxAttemptsReached);
    assert_eq!(
        v.attempts, 3,
        "checks after the limit are not counted further"
    );
}

#[test]
fn expiry_follows_the_fake_clock() {
    let w = world();
    let code = w.code();
    let mut v = w.start(&code, StartFacts::default()).unwrap().verification;
    assert_eq!(v.expires_at, w.clock.now().plus_secs(600));
    w.clock.advance_secs(599);
    assert_eq!(v.status_at(w.clock.now()), Status::Pending);
    w.clock.advance_secs(1);
    assert_eq!(v.status_at(w.clock.now()), Status::Expired);
    let o = apply_check(&mut v, &code, &w.secrets, w.clock.now());
    assert!(!o.valid);
    assert_eq!(o.status, Status::Expired);
    assert!(o.changed, "the store writes the expiry down");
    assert_eq!(v.attempts, 0, "a check on an expired code is not a guess");
}

#[test]
fn resend_replaces_the_code_and_keeps_the_failed_count() {
    let w = world();
    let old = w.code();
    let mut v = w.start(&old, StartFacts::default()).unwrap().verification;
    apply_check(&mut v, &w.wrong(&old), &w.secrets, w.clock.now());
    apply_check(&mut v, &w.wrong(&old), &w.secrets, w.clock.now());
    assert_eq!(v.attempts, 2);

    w.clock.advance_secs(30);
    let new = loop {
        let c = w.code();
        if c != old {
            break c;
        }
    };
    let plan = w
        .start(
            &new,
            StartFacts {
                pending: Some(v.clone()),
                recent_sends: vec![v.created_at],
                ..StartFacts::default()
            },
        )
        .unwrap();
    assert!(!plan.created);
    let mut v2 = plan.verification;
    assert_eq!(v2.id, v.id, "a re-send keeps the verification id");
    assert_eq!(
        v2.attempts, 2,
        "NIST 800-63B-4: a new code does not reset failures"
    );
    assert_eq!(v2.send_count, 2);
    assert_eq!(v2.expires_at, w.clock.now().plus_secs(600));

    let mut stale = v2.clone();
    let o = apply_check(&mut stale, &old, &w.secrets, w.clock.now());
    assert!(!o.valid, "the old code died with the re-send");
    let o = apply_check(&mut v2, &new, &w.secrets, w.clock.now());
    assert!(o.valid);
}

#[test]
fn max_sends_per_verification() {
    let w = world();
    let code = w.code();
    let mut v = w.start(&code, StartFacts::default()).unwrap().verification;
    v.send_count = 3;
    let err = w
        .start(
            &code,
            StartFacts {
                pending: Some(v.clone()),
                recent_sends: vec![],
                ..StartFacts::default()
            },
        )
        .unwrap_err();
    match err {
        Error::RateLimited {
            retry_after_secs, ..
        } => assert_eq!(retry_after_secs, 600),
        other => panic!("{other:?}"),
    }
}

#[test]
fn per_destination_send_limit_with_retry_after() {
    let mut w = world();
    w.service.config.send_limit = SendLimit {
        count: 2,
        window_seconds: 600,
    };
    let now = w.clock.now();
    let sends = vec![now.minus_secs(500), now.minus_secs(100)];
    let err = w
        .start(
            &w.code(),
            StartFacts {
                pending: None,
                recent_sends: sends.clone(),
                ..StartFacts::default()
            },
        )
        .unwrap_err();
    match err {
        // The older send leaves the window in 100 s.
        Error::RateLimited {
            retry_after_secs, ..
        } => assert_eq!(retry_after_secs, 100),
        other => panic!("{other:?}"),
    }
    // Sends that already left the window do not count.
    let old = vec![now.minus_secs(700), now.minus_secs(100)];
    assert!(
        w.start(
            &w.code(),
            StartFacts {
                pending: None,
                recent_sends: old,
                ..StartFacts::default()
            }
        )
        .is_ok()
    );
}

#[test]
fn an_expired_pending_row_is_replaced_by_a_new_verification() {
    let w = world();
    let code = w.code();
    let v = w.start(&code, StartFacts::default()).unwrap().verification;
    w.clock.advance_secs(601);
    let plan = w
        .start(
            &code,
            StartFacts {
                pending: Some(v.clone()),
                recent_sends: vec![],
                ..StartFacts::default()
            },
        )
        .unwrap();
    assert!(plan.created);
    assert_ne!(plan.verification.id, v.id);
    assert_eq!(plan.expire, Some(v.id));
    assert_eq!(plan.verification.attempts, 0);
}

#[test]
fn cancel_only_from_pending() {
    let w = world();
    let code = w.code();
    let mut v = w.start(&code, StartFacts::default()).unwrap().verification;
    apply_cancel(&mut v, w.clock.now()).unwrap();
    assert_eq!(v.status, Status::Canceled);
    assert!(matches!(
        apply_cancel(&mut v, w.clock.now()),
        Err(Error::Conflict(_))
    ));
    let o = apply_check(&mut v, &code, &w.secrets, w.clock.now());
    assert!(!o.valid);
}

#[test]
fn delivery_failure_fails_a_pending_verification_only() {
    let w = world();
    let code = w.code();
    let mut v = w.start(&code, StartFacts::default()).unwrap().verification;
    assert!(apply_delivery_failed(&mut v, w.clock.now()));
    assert_eq!(v.status, Status::Failed);
    assert!(!apply_delivery_failed(&mut v, w.clock.now()));
}

#[test]
fn the_job_carries_a_sealed_code_only() {
    let w = world();
    let code = w.code();
    let plan = w.start(&code, StartFacts::default()).unwrap();
    assert_eq!(plan.job.sealed_code, vec![1, 2, 3]);
    assert_eq!(plan.job.verification_id, plan.verification.id);
    assert_eq!(plan.job.to, "+14155552671");
}

#[test]
fn caller_overrides_set_lifetime_and_attempts_and_travel_with_the_job() {
    let w = world();
    let code = w.code();
    let mut req = w.request(&code);
    req.ttl_seconds = 30;
    req.max_attempts = 1;
    req.message = Some("Your login code:".into());
    req.sender = Some("ACME".into());
    let plan = plan_start(&req, StartFacts::default(), &w.secrets, w.clock.now()).unwrap();
    assert_eq!(plan.verification.expires_at, w.clock.now().plus_secs(30));
    assert_eq!(plan.verification.max_attempts, 1);
    assert_eq!(plan.job.message.as_deref(), Some("Your login code:"));
    assert_eq!(plan.job.sender.as_deref(), Some("ACME"));
    let mut v = plan.verification;
    let o = apply_check(&mut v, &w.wrong(&code), &w.secrets, w.clock.now());
    assert_eq!(o.status, Status::MaxAttemptsReached);
}

#[test]
fn subject_limit_counts_sends_per_subject() {
    let w = world();
    let now = w.clock.now();
    let limited = |subject_sends: Vec<Timestamp>| {
        let mut req = w.request(&w.code());
        req.subject_limit = Some(SubjectLimit {
            subject: "user-1".into(),
            count: 2,
            window_seconds: 60,
        });
        plan_start(
            &req,
            StartFacts {
                subject_sends,
                ..StartFacts::default()
            },
            &w.secrets,
            now,
        )
    };
    let plan = limited(vec![now.minus_secs(30)]).unwrap();
    assert_eq!(plan.subject.as_deref(), Some("user-1"));
    match limited(vec![now.minus_secs(50), now.minus_secs(10)]) {
        // The older send leaves the 60 s window in 10 s.
        Err(Error::RateLimited {
            retry_after_secs, ..
        }) => assert_eq!(retry_after_secs, 10),
        other => panic!("{other:?}"),
    }
    // Sends older than the window do not count.
    assert!(limited(vec![now.minus_secs(61), now.minus_secs(10)]).is_ok());
    // Without a subject limit nothing is recorded under a subject.
    let plan = w.start(&w.code(), StartFacts::default()).unwrap();
    assert_eq!(plan.subject, None);
}
