//! The persons adapter on a real SQLite file.

use super::super::SqliteStore;
use otpd_core::Error;
use otpd_core::clock::Timestamp;
use otpd_core::destination::Email;
use otpd_core::ids::TenantId;
use otpd_core::password::{self, PasswordRecord};
use otpd_core::person::{Person, PersonId};
use otpd_core::ports::Store;
use otpd_core::secrets::ServerSecrets;
use otpd_core::tenant::Tenant;
use std::sync::Arc;

const T0: Timestamp = Timestamp(1_800_000_000_000);

async fn store() -> (tempfile::TempDir, SqliteStore, TenantId) {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(ServerSecrets::from_master(&[7u8; 32]).unwrap());
    let s = SqliteStore::open(&dir.path().join("otpd.db"), secrets).unwrap();
    let t = TenantId::from_trusted("TN0123456789abcdef0123456789abcdef".into());
    s.create_tenant(Tenant {
        id: t.clone(),
        slug: "default".into(),
        created_at: T0,
    })
    .await
    .unwrap();
    (dir, s, t)
}

fn person(t: &TenantId, id: &str, email: &str) -> Person {
    Person {
        id: PersonId::parse(id, "id").unwrap(),
        tenant_id: t.clone(),
        phone: None,
        email: Some(Email::parse(email, "email").unwrap()),
        language: None,
        name: None,
        created_at: T0,
        updated_at: T0,
    }
}

const A: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
const B: &str = "9a0c0305-4f89-11d3-9a0c-0305e82c3301";
const C: &str = "00000000-4f89-11d3-9a0c-0305e82c3301";

#[tokio::test]
async fn inserts_are_all_or_nothing_and_emails_unique_without_case() {
    let (_d, s, t) = store().await;
    s.insert_persons(vec![person(&t, A, "a@example.com")])
        .await
        .unwrap();
    let r = s
        .insert_persons(vec![
            person(&t, B, "b@example.com"),
            person(&t, C, "A@EXAMPLE.com"),
        ])
        .await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    let b = PersonId::parse(B, "id").unwrap();
    assert_eq!(
        s.person(&t, &b).await.unwrap(),
        None,
        "nothing half-inserted"
    );
    let found = s
        .person_by_email(&t, &Email::parse("A@example.COM", "e").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id.as_str(), A);
}

#[tokio::test]
async fn passwords_round_trip_and_leave_with_the_person() {
    let (_d, s, t) = store().await;
    let a = PersonId::parse(A, "id").unwrap();
    let rec = PasswordRecord {
        hash:
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
                .into(),
        temporary: true,
        set_at: T0,
    };
    assert!(
        !s.set_password(&t, &a, rec.clone()).await.unwrap(),
        "no such person yet"
    );
    s.insert_persons(vec![person(&t, A, "a@example.com")])
        .await
        .unwrap();
    assert_eq!(s.password(&t, &a).await.unwrap(), None);
    assert!(s.set_password(&t, &a, rec.clone()).await.unwrap());
    assert_eq!(s.password(&t, &a).await.unwrap(), Some(rec));
    assert!(s.delete_person(&t, &a).await.unwrap());
    assert!(!s.delete_person(&t, &a).await.unwrap());
    assert_eq!(s.password(&t, &a).await.unwrap(), None);
}

#[tokio::test]
async fn failures_count_lock_clear_and_are_purged() {
    let (_d, s, t) = store().await;
    for i in 0..password::MAX_FAILURES {
        let th = s
            .record_login_failure(&t, "email:x@example.com", T0.plus_secs(i as u64))
            .await
            .unwrap();
        assert_eq!(th.failures, i + 1);
    }
    let th = s.login_throttle(&t, "email:x@example.com").await.unwrap();
    assert!(password::is_locked(th.as_ref(), T0.plus_secs(10)));
    s.record_login_failure(&t, "person:a", T0).await.unwrap();
    s.clear_login_failures(&t, "person:a").await.unwrap();
    assert_eq!(s.login_throttle(&t, "person:a").await.unwrap(), None);
    // Long after the lock, the sweeper forgets the name.
    s.sweep(T0.plus_secs(3 * 3600), 86_400).await.unwrap();
    assert_eq!(
        s.login_throttle(&t, "email:x@example.com").await.unwrap(),
        None
    );
}
