//! Persons, customer users' passwords and the login throttle.

use super::pool::{is_unique_violation, pg_err};
use super::rows::get;
use deadpool_postgres::GenericClient;
use otpd_core::clock::Timestamp;
use otpd_core::destination::{Email, PhoneE164};
use otpd_core::ids::{ServiceId, TenantId, VerificationId};
use otpd_core::password::{self, LoginThrottle, PasswordRecord};
use otpd_core::person::{Person, PersonId};
use otpd_core::render::Locale;
use otpd_core::{Error, Result};
use sha2::{Digest, Sha256};
use tokio_postgres::Row;

const COLUMNS: &str = "tenant_id, id, phone, email, language, name, created_at, updated_at";

fn conflict_or(e: tokio_postgres::Error) -> Error {
    if is_unique_violation(&e) {
        Error::Conflict("a person with this id or e-mail address exists".into())
    } else {
        pg_err(e)
    }
}

fn person_row(r: &Row) -> Result<Person> {
    let language = get::<Option<&str>>(r, 4)?
        .map(|l| Locale::parse(l, "language"))
        .transpose()
        .map_err(|_| Error::Internal("a stored language does not parse".into()))?;
    Ok(Person {
        tenant_id: TenantId::from_trusted(get(r, 0)?),
        id: PersonId::from_trusted(get(r, 1)?),
        phone: get::<Option<String>>(r, 2)?.map(PhoneE164::from_trusted),
        email: get::<Option<String>>(r, 3)?.map(Email::from_trusted),
        language,
        name: get(r, 5)?,
        created_at: Timestamp(get(r, 6)?),
        updated_at: Timestamp(get(r, 7)?),
    })
}

/// Runs inside a transaction: a conflict rolls back every insert of the call.
pub(super) async fn insert(c: &impl GenericClient, persons: &[Person]) -> Result<()> {
    let s = c
        .prepare_cached(&format!(
            "INSERT INTO persons ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .await
        .map_err(pg_err)?;
    for p in persons {
        c.execute(
            &s,
            &[
                &p.tenant_id.as_str(),
                &p.id.as_str(),
                &p.phone.as_ref().map(|x| x.as_str()),
                &p.email.as_ref().map(|x| x.as_str()),
                &p.language.as_ref().map(|x| x.as_str()),
                &p.name,
                &p.created_at.0,
                &p.updated_at.0,
            ],
        )
        .await
        .map_err(conflict_or)?;
    }
    Ok(())
}

async fn one(c: &impl GenericClient, sql: &str, a: &str, b: &str) -> Result<Option<Person>> {
    let s = c.prepare_cached(sql).await.map_err(pg_err)?;
    c.query_opt(&s, &[&a, &b])
        .await
        .map_err(pg_err)?
        .map(|r| person_row(&r))
        .transpose()
}

pub(super) async fn get_one(
    c: &impl GenericClient,
    tenant: &TenantId,
    id: &PersonId,
) -> Result<Option<Person>> {
    one(
        c,
        &format!("SELECT {COLUMNS} FROM persons WHERE tenant_id = $1 AND id = $2"),
        tenant.as_str(),
        id.as_str(),
    )
    .await
}

pub(super) async fn by_email(
    c: &impl GenericClient,
    tenant: &TenantId,
    email: &Email,
) -> Result<Option<Person>> {
    one(
        c,
        &format!(
            "SELECT {COLUMNS} FROM persons
             WHERE tenant_id = $1 AND lower(email) = lower($2) AND email IS NOT NULL"
        ),
        tenant.as_str(),
        email.as_str(),
    )
    .await
}

pub(super) async fn update(c: &impl GenericClient, p: &Person) -> Result<bool> {
    let s = c
        .prepare_cached(
            "UPDATE persons SET phone = $3, email = $4, language = $5, name = $6, updated_at = $7
             WHERE tenant_id = $1 AND id = $2",
        )
        .await
        .map_err(pg_err)?;
    let n = c
        .execute(
            &s,
            &[
                &p.tenant_id.as_str(),
                &p.id.as_str(),
                &p.phone.as_ref().map(|x| x.as_str()),
                &p.email.as_ref().map(|x| x.as_str()),
                &p.language.as_ref().map(|x| x.as_str()),
                &p.name,
                &p.updated_at.0,
            ],
        )
        .await
        .map_err(conflict_or)?;
    Ok(n == 1)
}

/// Runs inside a transaction.
pub(super) async fn delete(
    c: &impl GenericClient,
    tenant: &TenantId,
    id: &PersonId,
) -> Result<bool> {
    let s = c
        .prepare_cached("DELETE FROM persons WHERE tenant_id = $1 AND id = $2")
        .await
        .map_err(pg_err)?;
    let n = c
        .execute(&s, &[&tenant.as_str(), &id.as_str()])
        .await
        .map_err(pg_err)?;
    clear_failures(c, tenant, &format!("person:{}", id.as_str())).await?;
    Ok(n == 1)
}

pub(super) async fn password(
    c: &impl GenericClient,
    tenant: &TenantId,
    id: &PersonId,
) -> Result<Option<PasswordRecord>> {
    let s = c
        .prepare_cached(
            "SELECT password_hash, password_temporary, password_set_at FROM persons
             WHERE tenant_id = $1 AND id = $2 AND password_hash IS NOT NULL",
        )
        .await
        .map_err(pg_err)?;
    let Some(r) = c
        .query_opt(&s, &[&tenant.as_str(), &id.as_str()])
        .await
        .map_err(pg_err)?
    else {
        return Ok(None);
    };
    Ok(Some(PasswordRecord {
        hash: get(&r, 0)?,
        temporary: get(&r, 1)?,
        set_at: Timestamp(get::<Option<i64>>(&r, 2)?.unwrap_or_default()),
    }))
}

pub(super) async fn set_password(
    c: &impl GenericClient,
    tenant: &TenantId,
    id: &PersonId,
    r: &PasswordRecord,
) -> Result<bool> {
    let s = c
        .prepare_cached(
            "UPDATE persons SET password_hash = $3, password_temporary = $4, password_set_at = $5,
                 updated_at = $5
             WHERE tenant_id = $1 AND id = $2",
        )
        .await
        .map_err(pg_err)?;
    let n = c
        .execute(
            &s,
            &[
                &tenant.as_str(),
                &id.as_str(),
                &r.hash,
                &r.temporary,
                &r.set_at.0,
            ],
        )
        .await
        .map_err(pg_err)?;
    Ok(n == 1)
}

pub(super) async fn throttle(
    c: &impl GenericClient,
    tenant: &TenantId,
    key: &str,
) -> Result<Option<LoginThrottle>> {
    let s = c
        .prepare_cached(
            "SELECT failures, window_start, locked_until FROM login_failures
             WHERE tenant_id = $1 AND key = $2",
        )
        .await
        .map_err(pg_err)?;
    let Some(r) = c
        .query_opt(&s, &[&tenant.as_str(), &key])
        .await
        .map_err(pg_err)?
    else {
        return Ok(None);
    };
    Ok(Some(LoginThrottle {
        failures: u32::try_from(get::<i64>(&r, 0)?)
            .map_err(|_| Error::Internal("stored failures out of range".into()))?,
        window_start: Timestamp(get(&r, 1)?),
        locked_until: get::<Option<i64>>(&r, 2)?.map(Timestamp),
    }))
}

/// Runs inside a transaction. An advisory lock on the identifier makes concurrent failures on
/// any node count one after another (the row may not exist yet, so a row lock cannot).
pub(super) async fn record_failure(
    c: &impl GenericClient,
    tenant: &TenantId,
    key: &str,
    now: Timestamp,
) -> Result<LoginThrottle> {
    let mut h = Sha256::new();
    h.update(b"otpd-login\0");
    h.update(tenant.as_str().as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    let lock = c
        .prepare_cached("SELECT pg_advisory_xact_lock($1)")
        .await
        .map_err(pg_err)?;
    c.execute(&lock, &[&i64::from_be_bytes(first)])
        .await
        .map_err(pg_err)?;
    let t = password::after_failure(throttle(c, tenant, key).await?, now);
    let s = c
        .prepare_cached(
            "INSERT INTO login_failures (tenant_id, key, failures, window_start, locked_until)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, key) DO UPDATE SET failures = $3, window_start = $4,
                 locked_until = $5",
        )
        .await
        .map_err(pg_err)?;
    c.execute(
        &s,
        &[
            &tenant.as_str(),
            &key,
            &i64::from(t.failures),
            &t.window_start.0,
            &t.locked_until.map(|x| x.0),
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(t)
}

pub(super) async fn clear_failures(
    c: &impl GenericClient,
    tenant: &TenantId,
    key: &str,
) -> Result<()> {
    let s = c
        .prepare_cached("DELETE FROM login_failures WHERE tenant_id = $1 AND key = $2")
        .await
        .map_err(pg_err)?;
    c.execute(&s, &[&tenant.as_str(), &key])
        .await
        .map_err(pg_err)?;
    Ok(())
}

pub(super) async fn latest_for_source(
    c: &impl GenericClient,
    tenant: &TenantId,
    service: &ServiceId,
    source: &str,
) -> Result<Option<VerificationId>> {
    let s = c
        .prepare_cached(
            "SELECT id FROM verifications
             WHERE service_id = $1 AND source = $2 AND tenant_id = $3
             ORDER BY created_at DESC, seq DESC LIMIT 1",
        )
        .await
        .map_err(pg_err)?;
    c.query_opt(&s, &[&service.as_str(), &source, &tenant.as_str()])
        .await
        .map_err(pg_err)?
        .map(|r| get::<String>(&r, 0).map(VerificationId::from_trusted))
        .transpose()
}

/// Throttle rows whose window and lock are long over (the sweeper calls this).
pub(super) async fn purge_failures(
    c: &impl GenericClient,
    now: Timestamp,
    batch: i64,
) -> Result<u64> {
    let cutoff = now
        .minus_secs(password::WINDOW_SECS.max(password::LOCK_SECS))
        .0;
    let s = c
        .prepare_cached(
            "DELETE FROM login_failures WHERE ctid IN (SELECT ctid FROM login_failures
                 WHERE window_start < $1 AND (locked_until IS NULL OR locked_until < $1)
                 LIMIT $2)",
        )
        .await
        .map_err(pg_err)?;
    c.execute(&s, &[&cutoff, &batch]).await.map_err(pg_err)
}
