//! The PostgreSQL store: many otpd nodes on one database.
//!
//! Every `Store` method is one transaction on a pooled connection. Exactness across nodes
//! comes from the database, never from a node's memory: a check locks its verification row
//! (`FOR UPDATE`) and writes with a conditional UPDATE; every start to one destination takes a
//! transaction-scoped advisory lock, so the send limit counts every node's sends; workers
//! claim jobs with `FOR UPDATE SKIP LOCKED`. `synchronous_commit=on` is set on every session:
//! a method that returns `Ok` has been flushed to the WAL.

mod directory;
mod maintenance;
mod outbox;
mod persons;
mod pool;
mod rows;
mod verifications;

pub use pool::PgOptions;

use async_trait::async_trait;
use deadpool_postgres::{Object, Pool};
use otpd_core::clock::Timestamp;
use otpd_core::code::Code;
use otpd_core::delivery::{AttemptResult, DeliveryState, Job, JobStatus};
use otpd_core::destination::Email;
use otpd_core::ids::{KeyId, ServiceId, TenantId, VerificationId};
use otpd_core::password::{LoginThrottle, PasswordRecord};
use otpd_core::person::{Person, PersonId};
use otpd_core::ports::{SealedMessage, StartOutcome, Store, SweepReport};
use otpd_core::secrets::ServerSecrets;
use otpd_core::service::{Service, ServiceConfig};
use otpd_core::tenant::{ApiKey, Tenant};
use otpd_core::verification::{CheckOutcome, StartRequest, Verification};
use otpd_core::{Error, Result};
use pool::{pg_err, pool_err, timed};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Migrations, applied in order, numbered as the SQLite ones are; `otpd_schema_migrations`
/// records which ran. An applied migration is never edited: add a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_init.sql"),
    include_str!("../../migrations/postgres/0002_custom_message.sql"),
    include_str!("../../migrations/postgres/0003_subject_limits.sql"),
    include_str!("../../migrations/postgres/0004_persons.sql"),
    include_str!("../../migrations/postgres/0005_delivery_receipts.sql"),
];

/// `pg_advisory_xact_lock` key that serialises migrations of nodes starting together.
const MIGRATION_LOCK: i64 = 0x6f74_7064_6d69_6772;
/// Services cached beyond this many are dropped and read again on demand.
const MAX_CACHED_SERVICES: usize = 10_000;

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    secrets: Arc<ServerSecrets>,
    /// Pool wait plus statement time: past it an operation answers `Unavailable`.
    deadline: Duration,
    /// `host:port/database`, for messages; never the password.
    target: String,
    /// Services never change once created (there is no update operation): every node may
    /// keep them parsed in memory.
    services: Arc<RwLock<HashMap<ServiceId, Service>>>,
}

impl PgStore {
    /// Connects, checks the database answers, and migrates it.
    pub async fn connect(
        url: &str,
        opts: PgOptions,
        secrets: Arc<ServerSecrets>,
    ) -> Result<PgStore> {
        let (config, target) = pool::parse_url(url)?;
        let pool = pool::build_pool(config, &opts)?;
        let store = PgStore {
            pool,
            secrets,
            deadline: opts.connect_timeout + opts.statement_timeout,
            target,
            services: Arc::default(),
        };
        store.migrate().await.map_err(|e| store.at_start(e))?;
        Ok(store)
    }

    /// Applies pending migrations without keeping a store; returns how many ran.
    pub async fn migrate_url(url: &str, opts: PgOptions) -> Result<usize> {
        let (config, target) = pool::parse_url(url)?;
        let store = PgStore {
            pool: pool::build_pool(config, &opts)?,
            secrets: Arc::new(ServerSecrets::from_master(&[0u8; 32])?),
            deadline: opts.connect_timeout + opts.statement_timeout,
            target,
            services: Arc::default(),
        };
        store.migrate().await.map_err(|e| store.at_start(e))
    }

    /// `host:port/database` this store talks to.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn at_start(&self, e: Error) -> Error {
        match e {
            Error::Unavailable(m) | Error::Internal(m) => {
                Error::Unavailable(format!("database_url: PostgreSQL at {}: {m}", self.target))
            }
            other => other,
        }
    }

    async fn conn(&self) -> Result<Object> {
        self.pool.get().await.map_err(pool_err)
    }

    async fn migrate(&self) -> Result<usize> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        // Nodes started together take turns; the second finds nothing left to do.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg_err)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS otpd_schema_migrations (
                 version     BIGINT PRIMARY KEY,
                 applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(pg_err)?;
        let row = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM otpd_schema_migrations",
                &[],
            )
            .await
            .map_err(pg_err)?;
        let version: i64 = rows::get(&row, 0)?;
        let version = usize::try_from(version).unwrap_or(0);
        if version > MIGRATIONS.len() {
            return Err(Error::Internal(format!(
                "the database is at schema {version}, newer than this otpd knows ({})",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.batch_execute(sql).await.map_err(pg_err)?;
            tx.execute(
                "INSERT INTO otpd_schema_migrations (version) VALUES ($1)",
                &[&(i as i64 + 1)],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(MIGRATIONS.len() - version)
    }

    fn remember(&self, service: &Service) {
        let mut cache = self
            .services
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_SERVICES {
            cache.clear();
        }
        cache.insert(service.id.clone(), service.clone());
    }
}

/// One read on a pooled connection, within the store's deadline.
macro_rules! read {
    ($self:ident, |$c:ident| $body:expr) => {
        timed($self.deadline, async {
            let $c = $self.conn().await?;
            $body.await
        })
        .await
    };
}

/// One transaction on a pooled connection, committed before it returns, within the store's
/// deadline. An error (or the deadline) drops the transaction, which rolls it back.
macro_rules! write {
    ($self:ident, |$tx:ident| $body:expr) => {
        timed($self.deadline, async {
            let mut c = $self.conn().await?;
            let $tx = c.transaction().await.map_err(pg_err)?;
            let out = $body.await?;
            $tx.commit().await.map_err(pg_err)?;
            Ok(out)
        })
        .await
    };
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<()> {
        read!(self, |c| async {
            c.simple_query("SELECT 1").await.map_err(pg_err)?;
            Ok(())
        })
    }

    async fn create_tenant(&self, tenant: Tenant) -> Result<Tenant> {
        write!(self, |tx| directory::create_tenant(&tx, tenant))
    }

    async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>> {
        read!(self, |c| directory::tenant_where(&c, "slug", slug))
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        read!(self, |c| directory::tenant_where(&c, "id", id.as_str()))
    }

    async fn count_tenants(&self) -> Result<u64> {
        read!(self, |c| directory::count_tenants(&c))
    }

    async fn insert_key(&self, key: ApiKey) -> Result<()> {
        write!(self, |tx| directory::insert_key(&tx, &key))
    }

    async fn key(&self, id: &KeyId) -> Result<Option<ApiKey>> {
        read!(self, |c| directory::key(&c, id))
    }

    async fn list_keys(&self, tenant: Option<&TenantId>) -> Result<Vec<ApiKey>> {
        read!(self, |c| directory::list_keys(&c, tenant))
    }

    async fn revoke_key(&self, id: &KeyId, now: Timestamp) -> Result<bool> {
        write!(self, |tx| directory::revoke_key(&tx, id, now))
    }

    async fn insert_service(
        &self,
        tenant: &TenantId,
        id: ServiceId,
        config: ServiceConfig,
        now: Timestamp,
    ) -> Result<Service> {
        let tenant = tenant.clone();
        let service: Service = write!(self, |tx| directory::insert_service(
            &tx, tenant, id, config, now
        ))?;
        self.remember(&service);
        Ok(service)
    }

    async fn service(&self, tenant: &TenantId, id: &ServiceId) -> Result<Option<Service>> {
        let cached = self
            .services
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned();
        if let Some(s) = cached {
            // Another tenant's service is as good as absent.
            return Ok((s.tenant_id == *tenant).then_some(s));
        }
        let found: Option<Service> = read!(self, |c| directory::service(&c, tenant, id))?;
        if let Some(s) = &found {
            self.remember(s);
        }
        Ok(found)
    }

    async fn list_services(&self, tenant: &TenantId) -> Result<Vec<Service>> {
        read!(self, |c| directory::list_services(&c, tenant))
    }

    async fn start_verification(
        &self,
        req: StartRequest,
        now: Timestamp,
        lease_ms: Option<i64>,
    ) -> Result<StartOutcome> {
        let secrets = self.secrets.clone();
        write!(self, |tx| verifications::start(
            &tx, req, &secrets, now, lease_ms
        ))
    }

    async fn check_verification(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        id: &VerificationId,
        candidate: Code,
        now: Timestamp,
    ) -> Result<(Verification, CheckOutcome)> {
        write!(self, |tx| verifications::check(
            &tx,
            tenant,
            service,
            id,
            &candidate,
            &self.secrets,
            now
        ))
    }

    async fn cancel_verification(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        id: &VerificationId,
        now: Timestamp,
    ) -> Result<Verification> {
        write!(self, |tx| verifications::cancel(
            &tx, tenant, service, id, now
        ))
    }

    async fn verification(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        id: &VerificationId,
    ) -> Result<Option<Verification>> {
        read!(self, |c| verifications::get_one(&c, tenant, service, id))
    }

    async fn pending_for(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        to: &str,
    ) -> Result<Option<VerificationId>> {
        read!(self, |c| verifications::pending_for(
            &c, tenant, service, to
        ))
    }

    async fn delivery_status(
        &self,
        tenant: &TenantId,
        verification: &VerificationId,
    ) -> Result<Option<JobStatus>> {
        read!(self, |c| outbox::delivery_status(&c, tenant, verification))
    }

    async fn latest_for_source(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        source: &str,
    ) -> Result<Option<VerificationId>> {
        read!(self, |c| persons::latest_for_source(
            &c, tenant, service, source
        ))
    }

    async fn insert_persons(&self, list: Vec<Person>) -> Result<()> {
        write!(self, |tx| persons::insert(&tx, &list))
    }

    async fn person(&self, tenant: &TenantId, id: &PersonId) -> Result<Option<Person>> {
        read!(self, |c| persons::get_one(&c, tenant, id))
    }

    async fn person_by_email(&self, tenant: &TenantId, email: &Email) -> Result<Option<Person>> {
        read!(self, |c| persons::by_email(&c, tenant, email))
    }

    async fn update_person(&self, person: Person) -> Result<bool> {
        write!(self, |tx| persons::update(&tx, &person))
    }

    async fn delete_person(&self, tenant: &TenantId, id: &PersonId) -> Result<bool> {
        write!(self, |tx| persons::delete(&tx, tenant, id))
    }

    async fn password(&self, tenant: &TenantId, id: &PersonId) -> Result<Option<PasswordRecord>> {
        read!(self, |c| persons::password(&c, tenant, id))
    }

    async fn set_password(
        &self,
        tenant: &TenantId,
        id: &PersonId,
        record: PasswordRecord,
    ) -> Result<bool> {
        write!(self, |tx| persons::set_password(&tx, tenant, id, &record))
    }

    async fn login_throttle(&self, tenant: &TenantId, key: &str) -> Result<Option<LoginThrottle>> {
        read!(self, |c| persons::throttle(&c, tenant, key))
    }

    async fn record_login_failure(
        &self,
        tenant: &TenantId,
        key: &str,
        now: Timestamp,
    ) -> Result<LoginThrottle> {
        write!(self, |tx| persons::record_failure(&tx, tenant, key, now))
    }

    async fn clear_login_failures(&self, tenant: &TenantId, key: &str) -> Result<()> {
        write!(self, |tx| persons::clear_failures(&tx, tenant, key))
    }

    async fn claim_jobs(&self, now: Timestamp, limit: usize, lease_ms: i64) -> Result<Vec<Job>> {
        write!(self, |tx| outbox::claim(&tx, now, limit, lease_ms))
    }

    async fn finish_attempts(
        &self,
        results: Vec<(i64, AttemptResult)>,
        now: Timestamp,
    ) -> Result<usize> {
        write!(self, |tx| outbox::finish_all(&tx, results, now))
    }

    async fn mark_delivery(
        &self,
        provider: &str,
        provider_ref: &str,
        status: JobStatus,
        now: Timestamp,
    ) -> Result<bool> {
        write!(self, |tx| outbox::mark(
            &tx,
            provider,
            provider_ref,
            status,
            now
        ))
    }

    async fn latest_delivery(
        &self,
        verification: &VerificationId,
    ) -> Result<Option<DeliveryState>> {
        read!(self, |c| outbox::latest(&c, verification.as_str()))
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SealedMessage>> {
        read!(self, |c| outbox::messages(&c, tenant, to, limit))
    }

    async fn sweep(&self, now: Timestamp, retention_secs: u64) -> Result<SweepReport> {
        write!(self, |tx| maintenance::sweep(&tx, now, retention_secs))
    }
}

#[cfg(test)]
mod tests;
