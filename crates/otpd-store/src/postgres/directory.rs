//! Tenants, API keys and services.

use super::pool::{is_unique_violation, pg_err};
use super::rows::get;
use deadpool_postgres::GenericClient;
use otpd_core::clock::Timestamp;
use otpd_core::ids::{KeyId, ServiceId, TenantId};
use otpd_core::secrets::Digest32;
use otpd_core::service::{Service, ServiceConfig};
use otpd_core::tenant::{ApiKey, Scopes, Tenant};
use otpd_core::{Error, Result};
use tokio_postgres::Row;

pub(super) async fn create_tenant(c: &impl GenericClient, t: Tenant) -> Result<Tenant> {
    let s = c
        .prepare_cached("INSERT INTO tenants (id, slug, created_at) VALUES ($1, $2, $3)")
        .await
        .map_err(pg_err)?;
    c.execute(&s, &[&t.id.as_str(), &t.slug, &t.created_at.0])
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::Conflict("a tenant with this slug exists".into())
            } else {
                pg_err(e)
            }
        })?;
    Ok(t)
}

/// `column` is one of our own literals, never input.
pub(super) async fn tenant_where(
    c: &impl GenericClient,
    column: &'static str,
    value: &str,
) -> Result<Option<Tenant>> {
    let sql = format!("SELECT id, slug, created_at FROM tenants WHERE {column} = $1");
    let s = c.prepare_cached(&sql).await.map_err(pg_err)?;
    let Some(r) = c.query_opt(&s, &[&value]).await.map_err(pg_err)? else {
        return Ok(None);
    };
    Ok(Some(Tenant {
        id: TenantId::from_trusted(get(&r, 0)?),
        slug: get(&r, 1)?,
        created_at: Timestamp(get(&r, 2)?),
    }))
}

pub(super) async fn count_tenants(c: &impl GenericClient) -> Result<u64> {
    let s = c
        .prepare_cached("SELECT COUNT(*) FROM tenants")
        .await
        .map_err(pg_err)?;
    let r = c.query_one(&s, &[]).await.map_err(pg_err)?;
    Ok(get::<i64>(&r, 0)? as u64)
}

pub(super) async fn insert_key(c: &impl GenericClient, k: &ApiKey) -> Result<()> {
    let s = c
        .prepare_cached(
            "INSERT INTO api_keys (id, tenant_id, name, secret_mac, scopes, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await
        .map_err(pg_err)?;
    c.execute(
        &s,
        &[
            &k.id.as_str(),
            &k.tenant_id.as_str(),
            &k.name,
            &&k.secret_mac.0[..],
            &k.scopes.to_list(),
            &k.created_at.0,
            &k.revoked_at.map(|t| t.0),
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

const KEY_COLUMNS: &str = "id, tenant_id, name, secret_mac, scopes, created_at, revoked_at";

fn key_row(r: &Row) -> Result<ApiKey> {
    let mac: &[u8] = get(r, 3)?;
    let scopes: &str = get(r, 4)?;
    Ok(ApiKey {
        id: KeyId::from_trusted(get(r, 0)?),
        tenant_id: TenantId::from_trusted(get(r, 1)?),
        name: get(r, 2)?,
        secret_mac: Digest32::from_slice(mac)?,
        scopes: Scopes::parse_list(scopes)
            .map_err(|_| Error::Internal("stored scopes do not parse".into()))?,
        created_at: Timestamp(get(r, 5)?),
        revoked_at: get::<Option<i64>>(r, 6)?.map(Timestamp),
    })
}

pub(super) async fn key(c: &impl GenericClient, id: &KeyId) -> Result<Option<ApiKey>> {
    let s = c
        .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
        .await
        .map_err(pg_err)?;
    c.query_opt(&s, &[&id.as_str()])
        .await
        .map_err(pg_err)?
        .map(|r| key_row(&r))
        .transpose()
}

pub(super) async fn list_keys(
    c: &impl GenericClient,
    tenant: Option<&TenantId>,
) -> Result<Vec<ApiKey>> {
    let s = c
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE $1::text IS NULL OR tenant_id = $1
             ORDER BY created_at, id"
        ))
        .await
        .map_err(pg_err)?;
    c.query(&s, &[&tenant.map(|t| t.as_str())])
        .await
        .map_err(pg_err)?
        .iter()
        .map(key_row)
        .collect()
}

pub(super) async fn revoke_key(c: &impl GenericClient, id: &KeyId, now: Timestamp) -> Result<bool> {
    let s = c
        .prepare_cached("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .await
        .map_err(pg_err)?;
    let n = c
        .execute(&s, &[&id.as_str(), &now.0])
        .await
        .map_err(pg_err)?;
    Ok(n == 1)
}

/// Runs inside a transaction: the tenant row is locked so two nodes creating services for
/// one tenant at once take turns for the next `number`.
pub(super) async fn insert_service(
    c: &impl GenericClient,
    tenant: TenantId,
    id: ServiceId,
    config: ServiceConfig,
    now: Timestamp,
) -> Result<Service> {
    let lock = c
        .prepare_cached("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE")
        .await
        .map_err(pg_err)?;
    if c.query_opt(&lock, &[&tenant.as_str()])
        .await
        .map_err(pg_err)?
        .is_none()
    {
        return Err(Error::NotFound("tenant"));
    }
    let next = c
        .prepare_cached("SELECT COALESCE(MAX(number), 0) + 1 FROM services WHERE tenant_id = $1")
        .await
        .map_err(pg_err)?;
    let number: i64 = get(
        &c.query_one(&next, &[&tenant.as_str()])
            .await
            .map_err(pg_err)?,
        0,
    )?;
    let json = serde_json::to_string(&config)
        .map_err(|e| Error::Internal(format!("encoding a service: {e}")))?;
    let s = c
        .prepare_cached(
            "INSERT INTO services (id, tenant_id, number, config, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .await
        .map_err(pg_err)?;
    c.execute(
        &s,
        &[&id.as_str(), &tenant.as_str(), &number, &json, &now.0],
    )
    .await
    .map_err(pg_err)?;
    Ok(Service {
        id,
        tenant_id: tenant,
        number,
        config,
        created_at: now,
    })
}

fn service_row(r: &Row) -> Result<Service> {
    let json: &str = get(r, 3)?;
    Ok(Service {
        id: ServiceId::from_trusted(get(r, 0)?),
        tenant_id: TenantId::from_trusted(get(r, 1)?),
        number: get(r, 2)?,
        config: serde_json::from_str(json)
            .map_err(|e| Error::Internal(format!("decoding a stored service: {e}")))?,
        created_at: Timestamp(get(r, 4)?),
    })
}

pub(super) async fn service(
    c: &impl GenericClient,
    tenant: &TenantId,
    id: &ServiceId,
) -> Result<Option<Service>> {
    let s = c
        .prepare_cached(
            "SELECT id, tenant_id, number, config, created_at FROM services
             WHERE id = $1 AND tenant_id = $2",
        )
        .await
        .map_err(pg_err)?;
    c.query_opt(&s, &[&id.as_str(), &tenant.as_str()])
        .await
        .map_err(pg_err)?
        .map(|r| service_row(&r))
        .transpose()
}

pub(super) async fn list_services(
    c: &impl GenericClient,
    tenant: &TenantId,
) -> Result<Vec<Service>> {
    let s = c
        .prepare_cached(
            "SELECT id, tenant_id, number, config, created_at FROM services
             WHERE tenant_id = $1 ORDER BY number",
        )
        .await
        .map_err(pg_err)?;
    c.query(&s, &[&tenant.as_str()])
        .await
        .map_err(pg_err)?
        .iter()
        .map(service_row)
        .collect()
}
