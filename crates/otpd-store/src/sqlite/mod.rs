//! The SQLite store: one file, WAL, `synchronous=FULL`, group commit.

mod busy;
mod checkpoint;
mod directory;
mod key_cache;
mod maintenance;
mod outbox;
pub mod page_cache;
mod persons;
mod pool;
mod rows;
mod sched;
mod verifications;

use async_trait::async_trait;
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
use pool::{Pool, sql_err};
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Migrations, applied in order; the database's `user_version` records how many ran.
/// An applied migration is never edited: add a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_custom_message.sql"),
    include_str!("../../migrations/sqlite/0003_subject_limits.sql"),
    include_str!("../../migrations/sqlite/0004_persons.sql"),
    include_str!("../../migrations/sqlite/0005_delivery_receipts.sql"),
    include_str!("../../migrations/sqlite/0006_status_free_indexes.sql"),
    include_str!("../../migrations/sqlite/0007_fewer_send_indexes.sql"),
    include_str!("../../migrations/sqlite/0008_first_send_is_the_verification.sql"),
    include_str!("../../migrations/sqlite/0009_outbox_index_in_id_order.sql"),
];

const READERS: usize = 2;
/// Services cached beyond this many are dropped and read again on demand.
const MAX_CACHED_SERVICES: usize = 10_000;

#[derive(Clone)]
pub struct SqliteStore {
    pool: Pool,
    secrets: Arc<ServerSecrets>,
    path: PathBuf,
    /// Services never change once created (there is no update operation), and every send and
    /// every delivery reads one: keep them parsed in memory.
    services: Arc<RwLock<HashMap<ServiceId, Service>>>,
    keys: Arc<key_cache::KeyCache>,
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)
        .map_err(|e| Error::Unavailable(format!("opening the database {}: {e}", path.display())))?;
    // WAL: readers never block the writer. FULL: a commit is on disk before we answer.
    // busy_timeout: the CLI may write while a server runs.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA busy_timeout = 5000;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -16000;
         PRAGMA journal_size_limit = 67108864;",
    )
    .map_err(sql_err)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Brings the schema up to date; returns how many migrations ran.
fn migrate(conn: &Connection) -> Result<usize> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_err)?;
    let run = (|| {
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql_err)?;
        let version = usize::try_from(version).unwrap_or(0);
        if version > MIGRATIONS.len() {
            return Err(Error::Internal(format!(
                "the database is at schema {version}, newer than this otpd knows ({})",
                MIGRATIONS.len()
            )));
        }
        for sql in &MIGRATIONS[version..] {
            conn.execute_batch(sql).map_err(sql_err)?;
        }
        conn.execute_batch(&format!("PRAGMA user_version = {}", MIGRATIONS.len()))
            .map_err(sql_err)?;
        Ok(MIGRATIONS.len() - version)
    })();
    match run {
        Ok(n) => {
            conn.execute_batch("COMMIT").map_err(sql_err)?;
            Ok(n)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path, secrets: Arc<ServerSecrets>) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Unavailable(format!("creating {}: {e}", dir.display())))?;
        }
        // Before the first connection: SQLite takes its page cache only before it starts.
        page_cache::install();
        let writer = open_connection(path)?;
        migrate(&writer)?;
        // Checkpoints happen on their own thread (see `checkpoint`), not inside a group commit.
        writer
            .execute_batch("PRAGMA wal_autocheckpoint = 0")
            .map_err(sql_err)?;
        busy::wait_in_short_steps(&writer).map_err(sql_err)?;
        let checkpoint_conn = open_connection(path)?;
        busy::wait_in_short_steps(&checkpoint_conn).map_err(sql_err)?;
        let checkpointer = checkpoint::start(checkpoint_conn)
            .map_err(|e| Error::Internal(format!("spawning the checkpointer: {e}")))?;
        let reader_path = path.to_owned();
        let open_reader = move || {
            let c = open_connection(&reader_path)?;
            c.execute_batch("PRAGMA query_only = ON").map_err(sql_err)?;
            Ok(c)
        };
        let readers = (0..READERS)
            .map(|_| open_reader())
            .collect::<Result<Vec<_>>>()?;
        Ok(SqliteStore {
            pool: Pool::start(writer, readers, Box::new(open_reader), checkpointer)?,
            secrets,
            path: path.to_owned(),
            services: Arc::default(),
            keys: Arc::default(),
        })
    }

    /// Applies pending migrations without starting a store; returns how many ran.
    pub fn migrate_file(path: &Path) -> Result<usize> {
        migrate(&open_connection(path)?)
    }

    pub fn path(&self) -> &Path {
        &self.path
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

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        self.pool
            .read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(sql_err))
            .await
    }

    async fn create_tenant(&self, tenant: Tenant) -> Result<Tenant> {
        self.pool
            .write(move |c| directory::create_tenant(c, tenant.clone()))
            .await
    }

    async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>> {
        let slug = slug.to_owned();
        self.pool
            .read(move |c| directory::tenant_where(c, "slug", &slug))
            .await
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        let id = id.as_str().to_owned();
        self.pool
            .read(move |c| directory::tenant_where(c, "id", &id))
            .await
    }

    async fn count_tenants(&self) -> Result<u64> {
        self.pool.read(directory::count_tenants).await
    }

    async fn insert_key(&self, key: ApiKey) -> Result<()> {
        self.pool
            .write(move |c| directory::insert_key(c, &key))
            .await
    }

    async fn key(&self, id: &KeyId) -> Result<Option<ApiKey>> {
        if let Some(key) = self.keys.get(id) {
            return Ok(Some(key));
        }
        let generation = self.keys.generation();
        let wanted = id.clone();
        let found = self.pool.read(move |c| directory::key(c, &wanted)).await?;
        if let Some(key) = &found {
            self.keys.put(key, generation);
        }
        Ok(found)
    }

    async fn list_keys(&self, tenant: Option<&TenantId>) -> Result<Vec<ApiKey>> {
        let tenant = tenant.cloned();
        self.pool
            .read(move |c| directory::list_keys(c, tenant.as_ref()))
            .await
    }

    async fn revoke_key(&self, id: &KeyId, now: Timestamp) -> Result<bool> {
        let wanted = id.clone();
        let revoked = self
            .pool
            .write(move |c| directory::revoke_key(c, &wanted, now))
            .await;
        self.keys.forget(id);
        revoked
    }

    async fn insert_service(
        &self,
        tenant: &TenantId,
        id: ServiceId,
        config: ServiceConfig,
        now: Timestamp,
    ) -> Result<Service> {
        let tenant = tenant.clone();
        let service = self
            .pool
            .write(move |c| {
                directory::insert_service(c, tenant.clone(), id.clone(), config.clone(), now)
            })
            .await?;
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
        let (t, i) = (tenant.clone(), id.clone());
        let found = self
            .pool
            .read(move |c| directory::service(c, &t, &i))
            .await?;
        if let Some(s) = &found {
            self.remember(s);
        }
        Ok(found)
    }

    async fn list_services(&self, tenant: &TenantId) -> Result<Vec<Service>> {
        let tenant = tenant.clone();
        self.pool
            .read(move |c| directory::list_services(c, &tenant))
            .await
    }

    async fn start_verification(
        &self,
        req: StartRequest,
        now: Timestamp,
        lease_ms: Option<i64>,
    ) -> Result<StartOutcome> {
        let secrets = self.secrets.clone();
        self.pool
            .write(move |c| verifications::start(c, &req, &secrets, now, lease_ms))
            .await
    }

    async fn check_verification(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        id: &VerificationId,
        candidate: Code,
        now: Timestamp,
    ) -> Result<(Verification, CheckOutcome)> {
        let secrets = self.secrets.clone();
        let key = (tenant.clone(), service.clone(), id.clone());
        self.pool
            .write(move |c| {
                verifications::check(c, &key.0, &key.1, &key.2, &candidate, &secrets, now)
            })
            .await
    }

    async fn cancel_verification(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        id: &VerificationId,
        now: Timestamp,
    ) -> Result<Verification> {
        let key = (tenant.clone(), service.clone(), id.clone());
        self.pool
            .write(move |c| verifications::cancel(c, &key.0, &key.1, &key.2, now))
            .await
    }

    async fn verification(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        id: &VerificationId,
    ) -> Result<Option<Verification>> {
        let key = (tenant.clone(), service.clone(), id.clone());
        self.pool
            .read(move |c| verifications::get(c, &key.0, &key.1, &key.2))
            .await
    }

    async fn pending_for(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        to: &str,
    ) -> Result<Option<VerificationId>> {
        let key = (tenant.clone(), service.clone(), to.to_owned());
        self.pool
            .read(move |c| verifications::pending_for(c, &key.0, &key.1, &key.2))
            .await
    }

    async fn delivery_status(
        &self,
        tenant: &TenantId,
        verification: &VerificationId,
    ) -> Result<Option<JobStatus>> {
        let key = (tenant.clone(), verification.clone());
        self.pool
            .read(move |c| outbox::delivery_status(c, &key.0, &key.1))
            .await
    }

    async fn latest_for_source(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        source: &str,
    ) -> Result<Option<VerificationId>> {
        let key = (tenant.clone(), service.clone(), source.to_owned());
        self.pool
            .read(move |c| persons::latest_for_source(c, &key.0, &key.1, &key.2))
            .await
    }

    async fn insert_persons(&self, list: Vec<Person>) -> Result<()> {
        self.pool.write(move |c| persons::insert(c, &list)).await
    }

    async fn person(&self, tenant: &TenantId, id: &PersonId) -> Result<Option<Person>> {
        let (t, i) = (tenant.clone(), id.clone());
        self.pool.read(move |c| persons::get(c, &t, &i)).await
    }

    async fn person_by_email(&self, tenant: &TenantId, email: &Email) -> Result<Option<Person>> {
        let (t, e) = (tenant.clone(), email.clone());
        self.pool.read(move |c| persons::by_email(c, &t, &e)).await
    }

    async fn update_person(&self, person: Person) -> Result<bool> {
        self.pool.write(move |c| persons::update(c, &person)).await
    }

    async fn delete_person(&self, tenant: &TenantId, id: &PersonId) -> Result<bool> {
        let (t, i) = (tenant.clone(), id.clone());
        self.pool.write(move |c| persons::delete(c, &t, &i)).await
    }

    async fn password(&self, tenant: &TenantId, id: &PersonId) -> Result<Option<PasswordRecord>> {
        let (t, i) = (tenant.clone(), id.clone());
        self.pool.read(move |c| persons::password(c, &t, &i)).await
    }

    async fn set_password(
        &self,
        tenant: &TenantId,
        id: &PersonId,
        record: PasswordRecord,
    ) -> Result<bool> {
        let (t, i) = (tenant.clone(), id.clone());
        self.pool
            .write(move |c| persons::set_password(c, &t, &i, &record))
            .await
    }

    async fn login_throttle(&self, tenant: &TenantId, key: &str) -> Result<Option<LoginThrottle>> {
        let (t, k) = (tenant.clone(), key.to_owned());
        self.pool.read(move |c| persons::throttle(c, &t, &k)).await
    }

    async fn record_login_failure(
        &self,
        tenant: &TenantId,
        key: &str,
        now: Timestamp,
    ) -> Result<LoginThrottle> {
        let (t, k) = (tenant.clone(), key.to_owned());
        self.pool
            .write(move |c| persons::record_failure(c, &t, &k, now))
            .await
    }

    async fn clear_login_failures(&self, tenant: &TenantId, key: &str) -> Result<()> {
        let (t, k) = (tenant.clone(), key.to_owned());
        self.pool
            .write(move |c| persons::clear_failures(c, &t, &k))
            .await
    }

    async fn claim_jobs(&self, now: Timestamp, limit: usize, lease_ms: i64) -> Result<Vec<Job>> {
        self.pool
            .write(move |c| outbox::claim(c, now, limit, lease_ms))
            .await
    }

    async fn finish_attempts(
        &self,
        results: Vec<(i64, AttemptResult)>,
        now: Timestamp,
    ) -> Result<usize> {
        self.pool
            .write(move |c| outbox::finish_all(c, &results, now))
            .await
    }

    async fn mark_delivery(
        &self,
        provider: &str,
        provider_ref: &str,
        status: JobStatus,
        now: Timestamp,
    ) -> Result<bool> {
        let (provider, provider_ref) = (provider.to_owned(), provider_ref.to_owned());
        self.pool
            .write(move |c| outbox::mark(c, &provider, &provider_ref, status, now))
            .await
    }

    async fn latest_delivery(
        &self,
        verification: &VerificationId,
    ) -> Result<Option<DeliveryState>> {
        let id = verification.as_str().to_owned();
        self.pool.read(move |c| outbox::latest(c, &id)).await
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SealedMessage>> {
        let (tenant, to) = (tenant.clone(), to.map(str::to_owned));
        self.pool
            .read(move |c| outbox::messages(c, &tenant, to.as_deref(), limit))
            .await
    }

    async fn sweep(&self, now: Timestamp, retention_secs: u64) -> Result<SweepReport> {
        self.pool
            .write(move |c| maintenance::sweep(c, now, retention_secs))
            .await
    }
}

#[cfg(test)]
mod tests;
