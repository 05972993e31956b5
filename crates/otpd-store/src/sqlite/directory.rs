//! Tenants, API keys and services.

use super::pool::sql_err;
use otpd_core::clock::Timestamp;
use otpd_core::ids::{KeyId, ServiceId, TenantId};
use otpd_core::secrets::Digest32;
use otpd_core::service::{Service, ServiceConfig};
use otpd_core::tenant::{ApiKey, Scopes, Tenant};
use otpd_core::{Error, Result};
use rusqlite::{Connection, OptionalExtension, Row, params};

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

pub(super) fn create_tenant(c: &Connection, t: Tenant) -> Result<Tenant> {
    c.prepare_cached("INSERT INTO tenants (id, slug, created_at) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![t.id.as_str(), t.slug, t.created_at.0]))
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::Conflict("a tenant with this slug exists".into())
            } else {
                sql_err(e)
            }
        })?;
    Ok(t)
}

/// `column` is one of our own literals, never input.
pub(super) fn tenant_where(
    c: &Connection,
    column: &'static str,
    value: &str,
) -> Result<Option<Tenant>> {
    let sql = format!("SELECT id, slug, created_at FROM tenants WHERE {column} = ?1");
    c.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row([value], |r| {
                Ok(Tenant {
                    id: TenantId::from_trusted(r.get(0)?),
                    slug: r.get(1)?,
                    created_at: Timestamp(r.get(2)?),
                })
            })
            .optional()
        })
        .map_err(sql_err)
}

pub(super) fn count_tenants(c: &Connection) -> Result<u64> {
    c.query_row("SELECT COUNT(*) FROM tenants", [], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
        .map_err(sql_err)
}

pub(super) fn insert_key(c: &Connection, k: &ApiKey) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO api_keys (id, tenant_id, name, secret_mac, scopes, created_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            k.id.as_str(),
            k.tenant_id.as_str(),
            k.name,
            &k.secret_mac.0[..],
            k.scopes.to_list(),
            k.created_at.0,
            k.revoked_at.map(|t| t.0),
        ])
    })
    .map_err(sql_err)?;
    Ok(())
}

const KEY_COLUMNS: &str = "id, tenant_id, name, secret_mac, scopes, created_at, revoked_at";

fn key_row(r: &Row<'_>) -> Result<ApiKey> {
    let mac: Vec<u8> = r.get(3).map_err(sql_err)?;
    let scopes: String = r.get(4).map_err(sql_err)?;
    Ok(ApiKey {
        id: KeyId::from_trusted(r.get(0).map_err(sql_err)?),
        tenant_id: TenantId::from_trusted(r.get(1).map_err(sql_err)?),
        name: r.get(2).map_err(sql_err)?,
        secret_mac: Digest32::from_slice(&mac)?,
        scopes: Scopes::parse_list(&scopes)
            .map_err(|_| Error::Internal("stored scopes do not parse".into()))?,
        created_at: Timestamp(r.get(5).map_err(sql_err)?),
        revoked_at: r.get::<_, Option<i64>>(6).map_err(sql_err)?.map(Timestamp),
    })
}

pub(super) fn key(c: &Connection, id: &KeyId) -> Result<Option<ApiKey>> {
    let mut s = c
        .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"))
        .map_err(sql_err)?;
    let mut rows = s.query([id.as_str()]).map_err(sql_err)?;
    match rows.next().map_err(sql_err)? {
        Some(r) => key_row(r).map(Some),
        None => Ok(None),
    }
}

pub(super) fn list_keys(c: &Connection, tenant: Option<&TenantId>) -> Result<Vec<ApiKey>> {
    let mut s = c
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE ?1 IS NULL OR tenant_id = ?1 ORDER BY created_at, id"
        ))
        .map_err(sql_err)?;
    let mut rows = s.query([tenant.map(|t| t.as_str())]).map_err(sql_err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(sql_err)? {
        out.push(key_row(r)?);
    }
    Ok(out)
}

pub(super) fn revoke_key(c: &Connection, id: &KeyId, now: Timestamp) -> Result<bool> {
    c.prepare_cached("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
        .and_then(|mut s| s.execute(params![id.as_str(), now.0]))
        .map(|n| n == 1)
        .map_err(sql_err)
}

pub(super) fn insert_service(
    c: &Connection,
    tenant: TenantId,
    id: ServiceId,
    config: ServiceConfig,
    now: Timestamp,
) -> Result<Service> {
    let number: i64 = c
        .prepare_cached("SELECT COALESCE(MAX(number), 0) + 1 FROM services WHERE tenant_id = ?1")
        .and_then(|mut s| s.query_row([tenant.as_str()], |r| r.get(0)))
        .map_err(sql_err)?;
    let json = serde_json::to_string(&config)
        .map_err(|e| Error::Internal(format!("encoding a service: {e}")))?;
    c.prepare_cached(
        "INSERT INTO services (id, tenant_id, number, config, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(params![id.as_str(), tenant.as_str(), number, json, now.0]))
    .map_err(sql_err)?;
    Ok(Service {
        id,
        tenant_id: tenant,
        number,
        config,
        created_at: now,
    })
}

fn service_row(r: &Row<'_>) -> Result<Service> {
    let json: String = r.get(3).map_err(sql_err)?;
    Ok(Service {
        id: ServiceId::from_trusted(r.get(0).map_err(sql_err)?),
        tenant_id: TenantId::from_trusted(r.get(1).map_err(sql_err)?),
        number: r.get(2).map_err(sql_err)?,
        config: serde_json::from_str(&json)
            .map_err(|e| Error::Internal(format!("decoding a stored service: {e}")))?,
        created_at: Timestamp(r.get(4).map_err(sql_err)?),
    })
}

pub(super) fn service(
    c: &Connection,
    tenant: &TenantId,
    id: &ServiceId,
) -> Result<Option<Service>> {
    let mut s = c
        .prepare_cached(
            "SELECT id, tenant_id, number, config, created_at FROM services WHERE id = ?1 AND tenant_id = ?2",
        )
        .map_err(sql_err)?;
    let mut rows = s.query([id.as_str(), tenant.as_str()]).map_err(sql_err)?;
    match rows.next().map_err(sql_err)? {
        Some(r) => service_row(r).map(Some),
        None => Ok(None),
    }
}

pub(super) fn list_services(c: &Connection, tenant: &TenantId) -> Result<Vec<Service>> {
    let mut s = c
        .prepare_cached(
            "SELECT id, tenant_id, number, config, created_at FROM services WHERE tenant_id = ?1 ORDER BY number",
        )
        .map_err(sql_err)?;
    let mut rows = s.query([tenant.as_str()]).map_err(sql_err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(sql_err)? {
        out.push(service_row(r)?);
    }
    Ok(out)
}
