//! The ports the engine talks through. Adapters (otpd-store, otpd-delivery) implement them.

use crate::clock::Timestamp;
use crate::code::Code;
use crate::delivery::{AttemptResult, DeliveryState, Job, JobStatus};
use crate::destination::Channel;
use crate::destination::Email;
use crate::error::Result;
use crate::ids::{KeyId, ServiceId, TenantId, VerificationId};
use crate::password::{LoginThrottle, PasswordRecord};
use crate::person::{Person, PersonId};
use crate::service::{Service, ServiceConfig};
use crate::tenant::{ApiKey, Tenant};
use crate::verification::{CheckOutcome, StartRequest, Verification};
use async_trait::async_trait;

/// A message kept by the development `outbox` provider, sealed at rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedMessage {
    pub id: i64,
    pub tenant_id: TenantId,
    pub to: String,
    pub channel: Channel,
    pub sealed_body: Vec<u8>,
    pub created_at: Timestamp,
}

/// Rows one sweep statement touches at most. A sweep is one write transaction that every
/// request queued behind it waits for: on a 5 M-row database whose rows were no longer in the
/// page cache, 5 000-row slices held the SQLite writer for seconds (BENCHMARKS.md). The
/// sweeper repeats while slices come back full, resting between them (see `otpd serve`).
pub const SWEEP_SLICE: u64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
/// `expired`: verifications and undelivered jobs whose time ran out; `purged`: rows deleted;
/// `more`: some step filled its slice, so call again (after a rest) rather than wait a round.
pub struct SweepReport {
    pub expired: u64,
    pub purged: u64,
    pub more: bool,
}

impl SweepReport {
    /// Counts one statement's slice of expiries; a full slice means more may be waiting.
    pub fn expired_slice(&mut self, rows: u64) {
        self.expired += rows;
        self.more |= rows >= SWEEP_SLICE;
    }

    /// Counts one statement's slice of deleted rows; a full slice means more may be waiting.
    pub fn purged_slice(&mut self, rows: u64) {
        self.purged += rows;
        self.more |= rows >= SWEEP_SLICE;
    }
}

/// Persistence. Every method is one transaction; a method that returns `Ok` has committed
/// durably. Methods that change verifications call the pure functions of
/// [`crate::verification`] inside their transaction, so the rules stay in the core.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip for readiness.
    async fn ping(&self) -> Result<()>;

    async fn create_tenant(&self, tenant: Tenant) -> Result<Tenant>;
    async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>>;
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>>;
    async fn count_tenants(&self) -> Result<u64>;

    async fn insert_key(&self, key: ApiKey) -> Result<()>;
    async fn key(&self, id: &KeyId) -> Result<Option<ApiKey>>;
    async fn list_keys(&self, tenant: Option<&TenantId>) -> Result<Vec<ApiKey>>;
    /// `false` when there was no such unrevoked key.
    async fn revoke_key(&self, id: &KeyId, now: Timestamp) -> Result<bool>;

    /// Assigns the next per-tenant `number`.
    async fn insert_service(
        &self,
        tenant: &TenantId,
        id: ServiceId,
        config: ServiceConfig,
        now: Timestamp,
    ) -> Result<Service>;
    async fn service(&self, tenant: &TenantId, id: &ServiceId) -> Result<Option<Service>>;
    async fn list_services(&self, tenant: &TenantId) -> Result<Vec<Service>>;

    /// Creates a verification or re-sends a pending one (see `plan_start`), records the send
    /// and queues the delivery job, all in one transaction. With `lease_ms` the job is written
    /// already leased (as a claim would leave it) and comes back in `StartOutcome::leased`, for the
    /// worker that reserved room for it (`Dispatcher::reserve`).
    async fn start_verification(
        &self,
        req: StartRequest,
        now: Timestamp,
        lease_ms: Option<i64>,
    ) -> Result<StartOutcome>;
    /// `Err(NotFound)` when the verification is not this tenant's and service's.
    async fn check_verification(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        id: &VerificationId,
        candidate: Code,
        now: Timestamp,
    ) -> Result<(Verification, CheckOutcome)>;
    async fn cancel_verification(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        id: &VerificationId,
        now: Timestamp,
    ) -> Result<Verification>;
    async fn verification(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        id: &VerificationId,
    ) -> Result<Option<Verification>>;
    /// The newest verification still marked pending for `to`, on any channel.
    async fn pending_for(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        to: &str,
    ) -> Result<Option<VerificationId>>;

    /// The status of the newest delivery job of a verification (a re-send makes a new job).
    async fn delivery_status(
        &self,
        tenant: &TenantId,
        verification: &VerificationId,
    ) -> Result<Option<JobStatus>>;
    /// The newest verification, in any status, whose reference `source` is `source`
    /// (dialects that bind codes to a person rather than to an address).
    async fn latest_for_source(
        &self,
        tenant: &TenantId,
        service: &ServiceId,
        source: &str,
    ) -> Result<Option<VerificationId>>;

    // ---- persons and customer users ----------------------------------------------------

    /// Inserts all or none: `Err(Conflict)` when an id or e-mail address is taken.
    async fn insert_persons(&self, persons: Vec<Person>) -> Result<()>;
    async fn person(&self, tenant: &TenantId, id: &PersonId) -> Result<Option<Person>>;
    /// E-mail addresses are unique per tenant, compared without case.
    async fn person_by_email(&self, tenant: &TenantId, email: &Email) -> Result<Option<Person>>;
    /// Replaces the directory fields (not the password); `false` when there is no such person.
    async fn update_person(&self, person: Person) -> Result<bool>;
    /// Deletes the person and their password; `false` when there was none.
    async fn delete_person(&self, tenant: &TenantId, id: &PersonId) -> Result<bool>;
    async fn password(&self, tenant: &TenantId, id: &PersonId) -> Result<Option<PasswordRecord>>;
    /// `false` when there is no such person.
    async fn set_password(
        &self,
        tenant: &TenantId,
        id: &PersonId,
        record: PasswordRecord,
    ) -> Result<bool>;
    /// Failed logins of an identifier (see `password::after_failure`).
    async fn login_throttle(&self, tenant: &TenantId, key: &str) -> Result<Option<LoginThrottle>>;
    /// Counts one failure in one transaction (read, `password::after_failure`, write).
    async fn record_login_failure(
        &self,
        tenant: &TenantId,
        key: &str,
        now: Timestamp,
    ) -> Result<LoginThrottle>;
    async fn clear_login_failures(&self, tenant: &TenantId, key: &str) -> Result<()>;

    /// Leases up to `limit` due jobs for `lease_ms`; a job whose lease ran out (its worker
    /// died) is due again. Jobs whose code expired are dropped instead.
    async fn claim_jobs(&self, now: Timestamp, limit: usize, lease_ms: i64) -> Result<Vec<Job>>;
    /// Records the outcome of each attempt, all in one transaction. A job that no longer
    /// exists is skipped (the others still count); returns how many were recorded.
    async fn finish_attempts(
        &self,
        results: Vec<(i64, AttemptResult)>,
        now: Timestamp,
    ) -> Result<usize>;
    /// `finish_attempts` for one job; `NotFound` if the job is gone.
    async fn finish_attempt(
        &self,
        job_id: i64,
        result: AttemptResult,
        now: Timestamp,
    ) -> Result<()> {
        match self.finish_attempts(vec![(job_id, result)], now).await? {
            0 => Err(crate::Error::NotFound("delivery job")),
            _ => Ok(()),
        }
    }

    /// A provider's report on a message it accepted (a delivery receipt or a status
    /// callback): moves the job `provider` sent as `provider_ref` from `sent` to `status`
    /// (`Delivered`, `Undelivered` or `Failed`). `false` when no such sent job exists.
    async fn mark_delivery(
        &self,
        provider: &str,
        provider_ref: &str,
        status: JobStatus,
        now: Timestamp,
    ) -> Result<bool>;
    /// The newest delivery job of a verification.
    async fn latest_delivery(&self, verification: &VerificationId)
    -> Result<Option<DeliveryState>>;

    /// Kept messages of the `outbox` provider (saved with their job's result), newest first.
    async fn messages(
        &self,
        tenant: &TenantId,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SealedMessage>>;

    /// Marks overdue pending verifications expired and deletes rows that ended more than
    /// `retention_secs` ago.
    async fn sweep(&self, now: Timestamp, retention_secs: u64) -> Result<SweepReport>;
}

/// What `Store::start_verification` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartOutcome {
    pub verification: Verification,
    /// `false` for a re-send of a pending verification.
    pub created: bool,
    /// The new delivery job, when it was written leased to a worker of this process.
    pub leased: Option<Job>,
}

/// Tells delivery workers about new jobs, so they need not poll to find them.
pub trait Dispatcher: Send + Sync + 'static {
    /// New jobs are queued for any worker to claim.
    fn wake(&self);
    /// Room for one new job in a worker of this process, taken before the job is written. The
    /// job is then written leased to that worker and handed over after the commit, so no
    /// claim has to find it. `None` (no worker here, or it is full): queue it and `wake`.
    fn reserve(&self) -> Option<Box<dyn Handoff>> {
        None
    }
}

/// Room reserved in a worker (`Dispatcher::reserve`); dropping it frees the room.
pub trait Handoff: Send {
    /// How long the job is the worker's before any worker may claim it again.
    fn lease_ms(&self) -> i64;
    fn hand_over(self: Box<Self>, job: Job);
}

/// For tests and tools that run without workers.
pub struct NoDispatch;

impl Dispatcher for NoDispatch {
    fn wake(&self) {}
}
