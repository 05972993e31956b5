//! Persons, customer users' passwords and the login throttle.

use super::pool::sql_err;
use otpd_core::clock::Timestamp;
use otpd_core::destination::{Email, PhoneE164};
use otpd_core::ids::{ServiceId, TenantId, VerificationId};
use otpd_core::password::{self, LoginThrottle, PasswordRecord};
use otpd_core::person::{Person, PersonId};
use otpd_core::render::Locale;
use otpd_core::{Error, Result};
use rusqlite::{Connection, OptionalExtension, Row, params};

const COLUMNS: &str = "tenant_id, id, phone, email, language, name, created_at, updated_at";

fn conflict_or(e: rusqlite::Error) -> Error {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            Error::Conflict("a person with this id or e-mail address exists".into())
        }
        _ => sql_err(e),
    }
}

fn person_row(r: &Row<'_>) -> Result<Person> {
    let get_s = |i: usize| r.get::<_, Option<String>>(i).map_err(sql_err);
    let language = get_s(4)?
        .map(|l| Locale::parse(&l, "language"))
        .transpose()
        .map_err(|_| Error::Internal("a stored language does not parse".into()))?;
    Ok(Person {
        tenant_id: TenantId::from_trusted(r.get(0).map_err(sql_err)?),
        id: PersonId::from_trusted(r.get(1).map_err(sql_err)?),
        phone: get_s(2)?.map(PhoneE164::from_trusted),
        email: get_s(3)?.map(Email::from_trusted),
        language,
        name: get_s(5)?,
        created_at: Timestamp(r.get(6).map_err(sql_err)?),
        updated_at: Timestamp(r.get(7).map_err(sql_err)?),
    })
}

pub(super) fn insert(c: &Connection, persons: &[Person]) -> Result<()> {
    let mut s = c
        .prepare_cached(&format!(
            "INSERT INTO persons ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ))
        .map_err(sql_err)?;
    for p in persons {
        s.execute(params![
            p.tenant_id.as_str(),
            p.id.as_str(),
            p.phone.as_ref().map(|x| x.as_str()),
            p.email.as_ref().map(|x| x.as_str()),
            p.language.as_ref().map(|x| x.as_str()),
            p.name,
            p.created_at.0,
            p.updated_at.0,
        ])
        .map_err(conflict_or)?;
    }
    Ok(())
}

fn one(c: &Connection, sql: &str, a: &str, b: &str) -> Result<Option<Person>> {
    let mut s = c.prepare_cached(sql).map_err(sql_err)?;
    let mut rows = s.query([a, b]).map_err(sql_err)?;
    match rows.next().map_err(sql_err)? {
        Some(r) => person_row(r).map(Some),
        None => Ok(None),
    }
}

pub(super) fn get(c: &Connection, tenant: &TenantId, id: &PersonId) -> Result<Option<Person>> {
    one(
        c,
        &format!("SELECT {COLUMNS} FROM persons WHERE tenant_id = ?1 AND id = ?2"),
        tenant.as_str(),
        id.as_str(),
    )
}

pub(super) fn by_email(c: &Connection, tenant: &TenantId, email: &Email) -> Result<Option<Person>> {
    one(
        c,
        &format!(
            "SELECT {COLUMNS} FROM persons WHERE tenant_id = ?1 AND email = ?2 COLLATE NOCASE"
        ),
        tenant.as_str(),
        email.as_str(),
    )
}

pub(super) fn update(c: &Connection, p: &Person) -> Result<bool> {
    c.prepare_cached(
        "UPDATE persons SET phone = ?3, email = ?4, language = ?5, name = ?6, updated_at = ?7
         WHERE tenant_id = ?1 AND id = ?2",
    )
    .and_then(|mut s| {
        s.execute(params![
            p.tenant_id.as_str(),
            p.id.as_str(),
            p.phone.as_ref().map(|x| x.as_str()),
            p.email.as_ref().map(|x| x.as_str()),
            p.language.as_ref().map(|x| x.as_str()),
            p.name,
            p.updated_at.0,
        ])
    })
    .map(|n| n == 1)
    .map_err(conflict_or)
}

pub(super) fn delete(c: &Connection, tenant: &TenantId, id: &PersonId) -> Result<bool> {
    let n = c
        .prepare_cached("DELETE FROM persons WHERE tenant_id = ?1 AND id = ?2")
        .and_then(|mut s| s.execute([tenant.as_str(), id.as_str()]))
        .map_err(sql_err)?;
    Ok(n == 1)
}

pub(super) fn password(
    c: &Connection,
    tenant: &TenantId,
    id: &PersonId,
) -> Result<Option<PasswordRecord>> {
    let row = c
        .prepare_cached(
            "SELECT password_hash, password_temporary, password_set_at FROM persons
             WHERE tenant_id = ?1 AND id = ?2 AND password_hash IS NOT NULL",
        )
        .and_then(|mut s| {
            s.query_row([tenant.as_str(), id.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })
            .optional()
        })
        .map_err(sql_err)?;
    Ok(row.map(|(hash, temporary, set_at)| PasswordRecord {
        hash,
        temporary,
        set_at: Timestamp(set_at.unwrap_or_default()),
    }))
}

pub(super) fn set_password(
    c: &Connection,
    tenant: &TenantId,
    id: &PersonId,
    r: &PasswordRecord,
) -> Result<bool> {
    c.prepare_cached(
        "UPDATE persons SET password_hash = ?3, password_temporary = ?4, password_set_at = ?5,
             updated_at = ?5
         WHERE tenant_id = ?1 AND id = ?2",
    )
    .and_then(|mut s| {
        s.execute(params![
            tenant.as_str(),
            id.as_str(),
            r.hash,
            r.temporary,
            r.set_at.0
        ])
    })
    .map(|n| n == 1)
    .map_err(sql_err)
}

pub(super) fn throttle(
    c: &Connection,
    tenant: &TenantId,
    key: &str,
) -> Result<Option<LoginThrottle>> {
    c.prepare_cached(
        "SELECT failures, window_start, locked_until FROM login_failures
         WHERE tenant_id = ?1 AND key = ?2",
    )
    .and_then(|mut s| {
        s.query_row([tenant.as_str(), key], |r| {
            Ok(LoginThrottle {
                failures: r.get(0)?,
                window_start: Timestamp(r.get(1)?),
                locked_until: r.get::<_, Option<i64>>(2)?.map(Timestamp),
            })
        })
        .optional()
    })
    .map_err(sql_err)
}

pub(super) fn record_failure(
    c: &Connection,
    tenant: &TenantId,
    key: &str,
    now: Timestamp,
) -> Result<LoginThrottle> {
    let t = password::after_failure(throttle(c, tenant, key)?, now);
    c.prepare_cached(
        "INSERT INTO login_failures (tenant_id, key, failures, window_start, locked_until)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant_id, key) DO UPDATE SET failures = ?3, window_start = ?4,
             locked_until = ?5",
    )
    .and_then(|mut s| {
        s.execute(params![
            tenant.as_str(),
            key,
            t.failures,
            t.window_start.0,
            t.locked_until.map(|x| x.0)
        ])
    })
    .map_err(sql_err)?;
    Ok(t)
}

pub(super) fn clear_failures(c: &Connection, tenant: &TenantId, key: &str) -> Result<()> {
    c.prepare_cached("DELETE FROM login_failures WHERE tenant_id = ?1 AND key = ?2")
        .and_then(|mut s| s.execute([tenant.as_str(), key]))
        .map_err(sql_err)?;
    Ok(())
}

pub(super) fn latest_for_source(
    c: &Connection,
    tenant: &TenantId,
    service: &ServiceId,
    source: &str,
) -> Result<Option<VerificationId>> {
    c.prepare_cached(
        "SELECT id FROM verifications
         WHERE service_id = ?1 AND source = ?2 AND tenant_id = ?3
         ORDER BY created_at DESC, rowid DESC LIMIT 1",
    )
    .and_then(|mut s| {
        s.query_row([service.as_str(), source, tenant.as_str()], |r| {
            r.get::<_, String>(0)
        })
        .optional()
    })
    .map(|id| id.map(VerificationId::from_trusted))
    .map_err(sql_err)
}

/// Throttle rows whose window and lock are long over (the sweeper calls this).
pub(super) fn purge_failures(c: &Connection, now: Timestamp, batch: i64) -> Result<usize> {
    let cutoff = now
        .minus_secs(password::WINDOW_SECS.max(password::LOCK_SECS))
        .0;
    c.prepare_cached(
        "DELETE FROM login_failures WHERE rowid IN (SELECT rowid FROM login_failures
             WHERE window_start < ?1 AND (locked_until IS NULL OR locked_until < ?1) LIMIT ?2)",
    )
    .and_then(|mut s| s.execute(params![cutoff, batch]))
    .map_err(sql_err)
}
