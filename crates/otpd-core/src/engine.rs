//! The core commands. Every face of otpd (native API, dialects, CLI) calls these; they hold the
//! order of the steps and the policies, and reach the world only through the ports.

use crate::clock::{Clock, Timestamp};
use crate::code::{self, Alphabet, Code};
use crate::delivery::JobStatus;
use crate::destination::{Channel, Destination};
use crate::error::{Error, Result};
use crate::ids::{KeyId, ServiceId, TenantId, VerificationId};
use crate::ports::{Dispatcher, StartOutcome, Store};
use crate::random::Random;
use crate::render::{self, Locale, segments};
use crate::secrets::ServerSecrets;
use crate::service::{MAX_CHECK_ATTEMPTS, MAX_TTL_SECONDS, NewService, Service};
use crate::tenant::{self, ApiKey, IssuedKey, Principal, Scope, Scopes, Tenant};
use crate::verification::{
    self, CheckOutcome, MAX_SUBJECT_COUNT, MAX_SUBJECT_LEN, MAX_SUBJECT_WINDOW_SECONDS, Reference,
    StartRequest, SubjectLimit, Verification,
};
use std::sync::Arc;

pub struct Engine {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Random>,
    pub secrets: Arc<ServerSecrets>,
    pub dispatcher: Arc<dyn Dispatcher>,
}

/// A send request once the edge has parsed it.
#[derive(Debug, Clone, Default)]
pub struct StartInput {
    pub to: Option<Destination>,
    pub channel: Option<Channel>,
    pub locale: Option<Locale>,
    pub custom_code: Option<Code>,
    /// The dialect's contract has the caller choose the code (Exigo), whatever the service's
    /// `custom_code_enabled` says.
    pub custom_code_by_contract: bool,
    pub reference: Reference,
    pub policy: PolicyOverrides,
    /// The caller's wording: the message is `<message> <code>` and must fit one SMS segment.
    pub message: Option<String>,
    /// Sender id or from-number for this send.
    pub sender: Option<String>,
    /// At most this many sends per caller-named subject in a window (001's per-`UserId`
    /// `MaxSMSCount` / `MaxSMSInterval`).
    pub subject_limit: Option<SubjectLimit>,
    /// Draw a short human reference for this send; the SMS carries it on its first line.
    pub issue_reference_code: bool,
}

impl StartInput {
    pub fn new(to: Destination, channel: Channel) -> StartInput {
        StartInput {
            to: Some(to),
            channel: Some(channel),
            ..StartInput::default()
        }
    }
}

/// Per-request policy that a dialect's caller may set (SignalWire's `token_length`,
/// `valid_for`, `max_attempts`, `allow_alphas`). Unset fields take the service's values.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicyOverrides {
    pub code_length: Option<u32>,
    pub alphabet: Option<Alphabet>,
    pub ttl_seconds: Option<u64>,
    pub max_attempts: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Started {
    pub verification: Verification,
    pub created: bool,
    /// The code itself, only for keys with the `reveal_code` scope.
    pub revealed_code: Option<Code>,
}

#[derive(Debug, Clone)]
pub struct Checked {
    pub verification: Verification,
    pub outcome: CheckOutcome,
}

/// An outbox message opened for reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: i64,
    pub to: String,
    pub channel: Channel,
    pub body: String,
    pub created_at: Timestamp,
}

pub const DEFAULT_TENANT: &str = "default";

impl Engine {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    // ---- tenants and keys -------------------------------------------------------------

    pub async fn authenticate(&self, key_id: &str, secret: &str) -> Result<Principal> {
        let Ok(id) = KeyId::parse(key_id) else {
            // Same work as a real lookup miss, so unknown ids answer alike.
            let _ = tenant::authenticate(None, secret, &self.secrets);
            return Err(Error::Unauthorized);
        };
        let key = self.store.key(&id).await?;
        tenant::authenticate(key, secret, &self.secrets)
    }

    /// `Bearer <key_id>.<secret>` / `Ocp-Apim-Subscription-Key` form.
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal> {
        match token.split_once('.') {
            Some((id, secret)) => self.authenticate(id, secret).await,
            None => Err(Error::Unauthorized),
        }
    }

    /// Credentials that also name the key's tenant (Exigo's `login@company:password`): the
    /// key must authenticate and belong to the tenant whose slug is `company` (ASCII case
    /// ignored). Every mismatch is the same `Unauthorized`.
    pub async fn authenticate_in_tenant(
        &self,
        key_id: &str,
        secret: &str,
        company: &str,
    ) -> Result<Principal> {
        let who = self.authenticate(key_id, secret).await?;
        match self.store.tenant(&who.tenant_id).await? {
            Some(t) if t.slug.eq_ignore_ascii_case(company.trim()) => Ok(who),
            _ => Err(Error::Unauthorized),
        }
    }

    pub async fn tenant_by_slug_or_create(&self, slug: &str) -> Result<Tenant> {
        tenant::validate_slug(slug)?;
        if let Some(t) = self.store.tenant_by_slug(slug).await? {
            return Ok(t);
        }
        let t = Tenant {
            id: TenantId::generate(self.rng.as_ref()),
            slug: slug.to_owned(),
            created_at: self.now(),
        };
        match self.store.create_tenant(t).await {
            Ok(t) => Ok(t),
            // Another process created it meanwhile.
            Err(Error::Conflict(_)) => self
                .store
                .tenant_by_slug(slug)
                .await?
                .ok_or(Error::NotFound("tenant")),
            Err(e) => Err(e),
        }
    }

    pub async fn issue_key(
        &self,
        tenant_slug: &str,
        name: &str,
        scopes: Scopes,
    ) -> Result<IssuedKey> {
        let tenant = self.tenant_by_slug_or_create(tenant_slug).await?;
        let issued = tenant::issue_key(
            &tenant.id,
            name,
            scopes,
            &self.secrets,
            self.rng.as_ref(),
            self.now(),
        );
        self.store.insert_key(issued.key.clone()).await?;
        Ok(issued)
    }

    /// On a database with no tenant yet: the `default` tenant and an admin key, to print once.
    pub async fn bootstrap(&self) -> Result<Option<IssuedKey>> {
        if self.store.count_tenants().await? > 0 {
            return Ok(None);
        }
        let scopes = Scopes::new(vec![Scope::Admin, Scope::Verify]);
        self.issue_key(DEFAULT_TENANT, "bootstrap admin", scopes)
            .await
            .map(Some)
    }

    pub async fn list_keys(&self, tenant_slug: Option<&str>) -> Result<Vec<(ApiKey, String)>> {
        let tenant = match tenant_slug {
            Some(slug) => Some(
                self.store
                    .tenant_by_slug(slug)
                    .await?
                    .ok_or(Error::NotFound("tenant"))?,
            ),
            None => None,
        };
        let keys = self.store.list_keys(tenant.as_ref().map(|t| &t.id)).await?;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let slug = match &tenant {
                Some(t) => t.slug.clone(),
                None => self
                    .store
                    .tenant(&k.tenant_id)
                    .await?
                    .map(|t| t.slug)
                    .unwrap_or_default(),
            };
            out.push((k, slug));
        }
        Ok(out)
    }

    pub async fn revoke_key(&self, key_id: &str) -> Result<()> {
        let id = KeyId::parse(key_id)?;
        if self.store.revoke_key(&id, self.now()).await? {
            Ok(())
        } else {
            Err(Error::NotFound("api key"))
        }
    }

    // ---- services ---------------------------------------------------------------------

    pub async fn create_service(&self, who: &Principal, new: NewService) -> Result<Service> {
        who.require(Scope::Admin)?;
        self.create_service_for(&who.tenant_id, new).await
    }

    pub async fn create_service_for(&self, tenant: &TenantId, new: NewService) -> Result<Service> {
        let config = new.into_config()?;
        let id = ServiceId::generate(self.rng.as_ref());
        self.store
            .insert_service(tenant, id, config, self.now())
            .await
    }

    pub async fn service(&self, who: &Principal, id: &str) -> Result<Service> {
        who.require(Scope::Verify)?;
        let id = ServiceId::parse(id)?;
        self.store
            .service(&who.tenant_id, &id)
            .await?
            .ok_or(Error::NotFound("service"))
    }

    pub async fn list_services(&self, who: &Principal) -> Result<Vec<Service>> {
        who.require(Scope::Verify)?;
        self.store.list_services(&who.tenant_id).await
    }

    /// Dialects whose configuration id is a small integer: that service, or with none given
    /// the tenant's first service, created with defaults on first use.
    pub async fn service_by_number(&self, who: &Principal, number: Option<i64>) -> Result<Service> {
        who.require(Scope::Verify)?;
        let services = self.store.list_services(&who.tenant_id).await?;
        match number {
            Some(n) => services
                .into_iter()
                .find(|s| s.number == n)
                .ok_or(Error::NotFound("service")),
            None => match services.into_iter().min_by_key(|s| s.number) {
                Some(s) => Ok(s),
                None => {
                    self.create_service_for(&who.tenant_id, NewService::named("otpd"))
                        .await
                }
            },
        }
    }

    // ---- verifications ----------------------------------------------------------------

    pub async fn start_verification(
        &self,
        who: &Principal,
        service_id: &str,
        input: StartInput,
    ) -> Result<Started> {
        let service = self.service(who, service_id).await?;
        self.start_with_service(who, service, input).await
    }

    pub async fn start_with_service(
        &self,
        who: &Principal,
        service: Service,
        input: StartInput,
    ) -> Result<Started> {
        who.require(Scope::Verify)?;
        let cfg = &service.config;
        let (Some(to), Some(channel)) = (input.to, input.channel) else {
            return Err(Error::Internal(
                "a start without destination or channel".into(),
            ));
        };
        cfg.allows(&to)?;
        let p = input.policy;
        let code_length = p.code_length.unwrap_or(cfg.code_length);
        if !(code::MIN_LENGTH..=code::MAX_LENGTH).contains(&code_length) {
            return Err(Error::invalid("code_length", "must be between 4 and 20"));
        }
        let ttl_seconds = p.ttl_seconds.unwrap_or(cfg.ttl_seconds);
        if !(1..=MAX_TTL_SECONDS).contains(&ttl_seconds) {
            return Err(Error::invalid(
                "ttl_seconds",
                "must be between 1 and 604800",
            ));
        }
        let max_attempts = p.max_attempts.unwrap_or(cfg.max_check_attempts);
        if !(1..=MAX_CHECK_ATTEMPTS).contains(&max_attempts) {
            return Err(Error::invalid("max_attempts", "must be between 1 and 100"));
        }
        if let Some(limit) = &input.subject_limit {
            check_subject_limit(limit)?;
        }
        let (code, custom) = match input.custom_code {
            Some(c) if input.custom_code_by_contract => (c, true),
            Some(_) if !cfg.custom_code_enabled => {
                return Err(Error::invalid(
                    "custom_code",
                    "is not enabled for this service",
                ));
            }
            Some(c) => (c, true),
            None => (
                Code::generate(
                    code_length,
                    p.alphabet.unwrap_or(cfg.alphabet),
                    self.rng.as_ref(),
                ),
                false,
            ),
        };
        if let Some(message) = &input.message {
            // What the caller wrote plus the code must be one SMS segment: one billed part,
            // no reassembly loss. Other channels carry the same text.
            if !segments::fits_one_segment(&render::custom_text(message, code.expose())) {
                return Err(Error::invalid(
                    "message",
                    "with the code it does not fit one SMS (160 GSM-7 or 70 UCS-2 characters)",
                ));
            }
        }
        let mut reference = input.reference;
        if input.issue_reference_code {
            let r = verification::new_reference_code(self.rng.as_ref());
            if channel == Channel::Sms {
                // The reference line must not push the SMS past one segment.
                let text = render::with_reference(
                    &r,
                    &render::render_sms(&render::MessageContext {
                        brand: &cfg.name,
                        code: code.expose(),
                        locale: input.locale.as_ref().unwrap_or(&cfg.default_locale),
                        domain: cfg.domain.as_deref(),
                        custom: input.message.as_deref(),
                    }),
                );
                if !segments::fits_one_segment(&text) {
                    return Err(Error::invalid(
                        "reference_code",
                        "the service's SMS has no room for a reference line; shorten its name or domain",
                    ));
                }
            }
            reference.reference_code = Some(r);
        }
        let revealed_code = who.scopes.has(Scope::RevealCode).then(|| code.clone());
        let sealed_code = self.secrets.seal(
            self.rng.as_ref(),
            code.expose().as_bytes(),
            service.tenant_id.as_str().as_bytes(),
        )?;
        // One instant for the id's time prefix and the row's `created_at`.
        let now = self.now();
        let req = StartRequest {
            locale: input.locale.unwrap_or_else(|| cfg.default_locale.clone()),
            service,
            to,
            channel,
            code,
            custom_code: custom,
            fresh_id: VerificationId::generate_at(self.rng.as_ref(), now),
            reference,
            sealed_code,
            ttl_seconds,
            max_attempts,
            message: input.message,
            sender: input.sender,
            subject_limit: input.subject_limit,
        };
        let handoff = self.dispatcher.reserve();
        let lease_ms = handoff.as_ref().map(|h| h.lease_ms());
        let StartOutcome {
            verification,
            created,
            leased,
        } = self.store.start_verification(req, now, lease_ms).await?;
        match (handoff, leased) {
            (Some(handoff), Some(job)) => handoff.hand_over(job),
            _ => self.dispatcher.wake(),
        }
        metrics::counter!("otpd_verifications_started_total", "channel" => channel.as_str())
            .increment(1);
        Ok(Started {
            verification,
            created,
            revealed_code,
        })
    }

    pub async fn check_verification(
        &self,
        who: &Principal,
        service_id: &str,
        id: &str,
        code: Code,
    ) -> Result<Checked> {
        who.require(Scope::Verify)?;
        let service = ServiceId::parse(service_id)?;
        let id = VerificationId::parse(id)?;
        self.check_parsed(who, &service, &id, code).await
    }

    pub(crate) async fn check_parsed(
        &self,
        who: &Principal,
        service: &ServiceId,
        id: &VerificationId,
        code: Code,
    ) -> Result<Checked> {
        let (verification, outcome) = self
            .store
            .check_verification(&who.tenant_id, service, id, code, self.now())
            .await?;
        let result = if outcome.valid {
            "approved"
        } else if outcome.changed {
            "wrong_code"
        } else {
            "not_pending"
        };
        metrics::counter!("otpd_checks_total", "result" => result).increment(1);
        Ok(Checked {
            verification,
            outcome,
        })
    }

    /// Checks the pending verification for `to` (any channel).
    pub async fn check_destination(
        &self,
        who: &Principal,
        service_id: &str,
        to: &Destination,
        code: Code,
    ) -> Result<Checked> {
        who.require(Scope::Verify)?;
        let service = ServiceId::parse(service_id)?;
        let id = self
            .store
            .pending_for(&who.tenant_id, &service, to.as_str())
            .await?
            .ok_or(Error::NotFound("pending verification"))?;
        self.check_parsed(who, &service, &id, code).await
    }

    /// Checks a verification known only by its id, in whichever of the caller's services it
    /// is (dialects whose verify call carries no service, such as 001's `OtpIdReference`).
    pub async fn check_in_tenant(&self, who: &Principal, id: &str, code: Code) -> Result<Checked> {
        who.require(Scope::Verify)?;
        let id = VerificationId::parse(id)?;
        let service = self.service_of(who, &id).await?;
        self.check_parsed(who, &service, &id, code).await
    }

    async fn service_of(&self, who: &Principal, id: &VerificationId) -> Result<ServiceId> {
        for s in self.store.list_services(&who.tenant_id).await? {
            if self
                .store
                .verification(&who.tenant_id, &s.id, id)
                .await?
                .is_some()
            {
                return Ok(s.id);
            }
        }
        Err(Error::NotFound("verification"))
    }

    /// Where the newest delivery of a verification stands; `None` when it has none.
    pub async fn delivery_status(
        &self,
        who: &Principal,
        v: &Verification,
    ) -> Result<Option<JobStatus>> {
        who.require(Scope::Verify)?;
        if v.tenant_id != who.tenant_id {
            return Err(Error::NotFound("verification"));
        }
        self.store.delivery_status(&v.tenant_id, &v.id).await
    }

    pub async fn cancel_verification(
        &self,
        who: &Principal,
        service_id: &str,
        id: &str,
    ) -> Result<Verification> {
        who.require(Scope::Verify)?;
        let service = ServiceId::parse(service_id)?;
        let id = VerificationId::parse(id)?;
        self.store
            .cancel_verification(&who.tenant_id, &service, &id, self.now())
            .await
    }

    pub async fn verification(
        &self,
        who: &Principal,
        service_id: &str,
        id: &str,
    ) -> Result<Verification> {
        who.require(Scope::Verify)?;
        let service = ServiceId::parse(service_id)?;
        let id = VerificationId::parse(id)?;
        self.store
            .verification(&who.tenant_id, &service, &id)
            .await?
            .ok_or(Error::NotFound("verification"))
    }

    // ---- development outbox -----------------------------------------------------------

    pub async fn outbox(
        &self,
        who: &Principal,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>> {
        who.require(Scope::Admin)?;
        let sealed = self.store.messages(&who.tenant_id, to, limit).await?;
        sealed
            .into_iter()
            .map(|m| {
                let body = self
                    .secrets
                    .open(&m.sealed_body, m.tenant_id.as_str().as_bytes())?;
                Ok(OutboxMessage {
                    id: m.id,
                    to: m.to,
                    channel: m.channel,
                    body: String::from_utf8_lossy(&body).into_owned(),
                    created_at: m.created_at,
                })
            })
            .collect()
    }
}

fn check_subject_limit(limit: &SubjectLimit) -> Result<()> {
    let subject = limit.subject.trim();
    if subject.is_empty()
        || subject.len() > MAX_SUBJECT_LEN
        || subject.chars().any(char::is_control)
    {
        return Err(Error::invalid(
            "subject_limit.subject",
            "must be 1 to 128 characters without control characters",
        ));
    }
    if !(1..=MAX_SUBJECT_COUNT).contains(&limit.count) {
        return Err(Error::invalid(
            "subject_limit.count",
            "must be between 1 and 10000",
        ));
    }
    if !(1..=MAX_SUBJECT_WINDOW_SECONDS).contains(&limit.window_seconds) {
        return Err(Error::invalid(
            "subject_limit.window_seconds",
            "must be between 1 and 86400",
        ));
    }
    Ok(())
}
