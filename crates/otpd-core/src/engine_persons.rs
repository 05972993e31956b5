//! Engine commands on the directory: persons (native API, bulk import), customer users' logins
//! (BrightOffice, seed 002) and codes bound to a person (2FA-to-person, seed 003).

use crate::clock::Timestamp;
use crate::code::Code;
use crate::destination::{Channel, Destination, Email};
use crate::engine::{Checked, Engine, StartInput, Started};
use crate::error::{Error, Result};
use crate::ids::TenantId;
use crate::password::{self, PasswordRecord};
use crate::person::{ImportReport, Person, PersonFields, PersonId, PersonInput, RowError};
use crate::render::{self, Locale};
use crate::tenant::{Principal, Scope};
use crate::verification::{Reference, Status, Verification};
use std::collections::HashSet;

/// What a customer user typed, as any face received it. Core field names: `id`, `email`,
/// `password`, `temporary_password`, `new_password`, `code`.
#[derive(Debug, Clone, Default)]
pub struct CustomerLogin {
    pub id: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub temporary_password: Option<String>,
    pub new_password: Option<String>,
}

/// The result of a confirmed-or-not customer login with a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerConfirm {
    /// The code was right; the password was replaced when a new one was given.
    Confirmed { password_replaced: bool },
    /// Wrong, expired or exhausted code.
    WrongCode,
    /// Authenticated, but no code is waiting (none sent, or it was used or canceled).
    NoPendingCode,
}

/// A code for a person (seed 003).
#[derive(Debug, Clone)]
pub struct PersonSend {
    pub person_id: PersonId,
    pub channel: Channel,
    pub language: Option<Locale>,
    pub context_id: Option<String>,
    pub service_number: Option<i64>,
}

/// Where a started code went, for a masked hint.
#[derive(Debug, Clone)]
pub struct SentToPerson {
    pub started: Started,
    pub hint: String,
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.trim().is_empty())
}

/// The `source` reference that binds a customer login code to its person.
fn customer_source(id: &PersonId) -> String {
    format!("customer:{}", id.as_str())
}

/// The `source` reference of a seed-003 code.
fn person_source(id: &PersonId) -> String {
    format!("2fa:{}", id.as_str())
}

impl Engine {
    fn person_from(
        &self,
        tenant: &TenantId,
        id: PersonId,
        f: PersonFields,
        now: Timestamp,
    ) -> Person {
        Person {
            id,
            tenant_id: tenant.clone(),
            phone: f.phone,
            email: f.email,
            language: f.language,
            name: f.name,
            created_at: now,
            updated_at: now,
        }
    }

    pub async fn create_person(&self, who: &Principal, input: PersonInput) -> Result<Person> {
        who.require(Scope::Admin)?;
        let fields = input.parse()?;
        let id = fields
            .id
            .clone()
            .unwrap_or_else(|| PersonId::generate(self.rng.as_ref()));
        let person = self.person_from(&who.tenant_id, id, fields, self.now());
        self.store.insert_persons(vec![person.clone()]).await?;
        Ok(person)
    }

    pub async fn person(&self, who: &Principal, id: &str) -> Result<Person> {
        who.require(Scope::Admin)?;
        let id = PersonId::parse(id, "id").map_err(|_| Error::NotFound("person"))?;
        self.store
            .person(&who.tenant_id, &id)
            .await?
            .ok_or(Error::NotFound("person"))
    }

    /// PUT: the directory fields are replaced as given; the password stays.
    pub async fn replace_person(
        &self,
        who: &Principal,
        id: &str,
        input: PersonInput,
    ) -> Result<Person> {
        let old = self.person(who, id).await?;
        let fields = input.parse()?;
        if fields.id.as_ref().is_some_and(|given| *given != old.id) {
            return Err(Error::invalid("id", "must match the id in the path"));
        }
        let mut person = self.person_from(&who.tenant_id, old.id, fields, self.now());
        person.created_at = old.created_at;
        if self.store.update_person(person.clone()).await? {
            Ok(person)
        } else {
            Err(Error::NotFound("person"))
        }
    }

    pub async fn delete_person(&self, who: &Principal, id: &str) -> Result<()> {
        let p = self.person(who, id).await?;
        if self.store.delete_person(&who.tenant_id, &p.id).await? {
            Ok(())
        } else {
            Err(Error::NotFound("person"))
        }
    }

    /// Makes the person a customer user, or changes their password, under the policy.
    pub async fn set_person_password(
        &self,
        who: &Principal,
        id: &str,
        new: &str,
        temporary: bool,
    ) -> Result<()> {
        let p = self.person(who, id).await?;
        let current = self.store.password(&who.tenant_id, &p.id).await?;
        password::check_new(
            "password",
            new,
            current.as_ref().map(|r| r.hash.as_str()),
            p.email.as_ref(),
        )?;
        self.store_password(&who.tenant_id, &p.id, new, temporary)
            .await
    }

    async fn store_password(
        &self,
        tenant: &TenantId,
        id: &PersonId,
        new: &str,
        temporary: bool,
    ) -> Result<()> {
        let record = PasswordRecord {
            hash: password::hash(new, self.rng.as_ref())?,
            temporary,
            set_at: self.now(),
        };
        if self.store.set_password(tenant, id, record).await? {
            Ok(())
        } else {
            Err(Error::NotFound("person"))
        }
    }

    /// Bulk import into `tenant`: every row is checked (fields, duplicates inside the file and
    /// against the directory) before anything is written; one bad row and nothing goes in.
    /// Rows are `(line, input)`; rows the reader could not even read come as `Err`.
    pub async fn import_persons(
        &self,
        tenant: &TenantId,
        rows: Vec<(usize, Result<PersonInput>)>,
    ) -> Result<ImportReport> {
        let now = self.now();
        let mut errors = Vec::new();
        let mut persons = Vec::with_capacity(rows.len());
        let mut ids = HashSet::new();
        let mut emails = HashSet::new();
        for (line, row) in rows {
            let checked = match row.and_then(|r| r.parse()) {
                Ok(f) => f,
                Err(error) => {
                    errors.push(RowError { line, error });
                    continue;
                }
            };
            let id = checked
                .id
                .clone()
                .unwrap_or_else(|| PersonId::generate(self.rng.as_ref()));
            let person = self.person_from(tenant, id, checked, now);
            let mut problem = None;
            if !ids.insert(person.id.clone()) {
                problem = Some(Error::invalid("id", "appears twice in the file"));
            } else if let Some(e) = &person.email
                && !emails.insert(e.as_str().to_lowercase())
            {
                problem = Some(Error::invalid("email", "appears twice in the file"));
            } else if self.store.person(tenant, &person.id).await?.is_some() {
                problem = Some(Error::invalid("id", "a person with this id exists"));
            } else if let Some(e) = &person.email
                && self.store.person_by_email(tenant, e).await?.is_some()
            {
                problem = Some(Error::invalid(
                    "email",
                    "a person with this e-mail address exists",
                ));
            }
            match problem {
                Some(error) => errors.push(RowError { line, error }),
                None => persons.push(person),
            }
        }
        if !errors.is_empty() {
            return Ok(ImportReport {
                imported: 0,
                errors,
            });
        }
        let imported = persons.len();
        self.store.insert_persons(persons).await?;
        Ok(ImportReport {
            imported,
            errors: Vec::new(),
        })
    }

    // ---- customer users --------------------------------------------------------------

    /// Finds the customer and checks their password. Every miss (unknown id or e-mail, no
    /// password, wrong password, locked) is the same `Unauthorized` after the same work, and
    /// every miss is counted against the identifier, so a lockout tells nothing either.
    pub async fn authenticate_customer(
        &self,
        who: &Principal,
        login: &CustomerLogin,
    ) -> Result<(Person, PasswordRecord)> {
        who.require(Scope::Verify)?;
        let tenant = &who.tenant_id;
        let by_id = nonempty(&login.id)
            .map(|s| PersonId::parse(s, "id"))
            .transpose()?;
        let by_email = nonempty(&login.email)
            .map(|s| Email::parse(s, "email"))
            .transpose()?;
        let candidate_given = nonempty(&login.password).or(nonempty(&login.temporary_password));
        if by_id.is_none() && by_email.is_none() {
            return Err(Error::invalid(
                "id",
                "an id or an e-mail address is required",
            ));
        }
        let Some(_) = candidate_given else {
            return Err(Error::invalid("password", "is required"));
        };
        let person = match (&by_id, &by_email) {
            (Some(id), email) => self
                .store
                .person(tenant, id)
                .await?
                .filter(|p| match email {
                    Some(e) => p
                        .email
                        .as_ref()
                        .is_some_and(|pe| pe.as_str().eq_ignore_ascii_case(e.as_str())),
                    None => true,
                }),
            (None, Some(e)) => self.store.person_by_email(tenant, e).await?,
            (None, None) => None,
        };
        let key = password::throttle_key(&match (&person, &by_id, &by_email) {
            (Some(p), _, _) => format!("person:{}", p.id.as_str()),
            (None, Some(id), _) => format!("id:{}", id.as_str()),
            (None, None, Some(e)) => format!("email:{}", e.as_str().to_lowercase()),
            (None, None, None) => return Err(Error::Unauthorized),
        });
        let record = match &person {
            Some(p) => self.store.password(tenant, &p.id).await?,
            None => None,
        };
        // A temporary password is typed into TemporaryPassword (or Password); a normal one
        // into Password.
        let candidate = match &record {
            Some(r) if r.temporary => {
                nonempty(&login.temporary_password).or(nonempty(&login.password))
            }
            _ => nonempty(&login.password).or(nonempty(&login.temporary_password)),
        }
        .unwrap_or_default();
        let throttle = self.store.login_throttle(tenant, &key).await?;
        let locked = password::is_locked(throttle.as_ref(), self.now());
        let matches = password::verify(candidate, record.as_ref().map(|r| r.hash.as_str()));
        match (person, record) {
            (Some(p), Some(r)) if matches && !locked => {
                if throttle.is_some() {
                    self.store.clear_login_failures(tenant, &key).await?;
                }
                Ok((p, r))
            }
            _ => {
                if !locked {
                    self.store
                        .record_login_failure(tenant, &key, self.now())
                        .await?;
                }
                metrics::counter!("otpd_customer_login_failures_total").increment(1);
                Err(Error::Unauthorized)
            }
        }
    }

    /// Authenticates the customer, then sends a code to their phone (or e-mail when they have
    /// no phone). Returns the masked destination.
    pub async fn request_customer_mfa(
        &self,
        who: &Principal,
        login: &CustomerLogin,
    ) -> Result<String> {
        let (person, _) = self.authenticate_customer(who, login).await?;
        let (to, channel) = match (&person.phone, &person.email) {
            (Some(p), _) => (Destination::Phone(p.clone()), Channel::Sms),
            (None, Some(e)) => (Destination::Email(e.clone()), Channel::Email),
            (None, None) => {
                return Err(Error::invalid(
                    "id",
                    "the customer has no phone number or e-mail address",
                ));
            }
        };
        let service = self.service_by_number(who, None).await?;
        let hint = to.masked();
        let input = StartInput {
            locale: self.pick_locale(std::slice::from_ref(&person.language)),
            reference: Reference {
                source: Some(customer_source(&person.id)),
                ..Reference::default()
            },
            ..StartInput::new(to, channel)
        };
        self.start_with_service(who, service, input).await?;
        Ok(hint)
    }

    /// The customer's password and the code last sent to them; a temporary password must be
    /// replaced (`new_password`) in the same call, and is replaced only when the code is right.
    pub async fn confirm_customer_mfa(
        &self,
        who: &Principal,
        login: &CustomerLogin,
        code: Option<&str>,
    ) -> Result<CustomerConfirm> {
        who.require(Scope::Verify)?;
        let code = Code::candidate(code.unwrap_or_default(), "code")?;
        let (person, record) = self.authenticate_customer(who, login).await?;
        let new = nonempty(&login.new_password);
        if record.temporary && new.is_none() {
            return Err(Error::invalid(
                "new_password",
                "is required: the account holds a temporary password",
            ));
        }
        if let Some(n) = new {
            password::check_new("new_password", n, Some(&record.hash), person.email.as_ref())?;
        }
        let service = self.service_by_number(who, None).await?;
        let Some(id) = self
            .store
            .latest_for_source(&who.tenant_id, &service.id, &customer_source(&person.id))
            .await?
        else {
            return Ok(CustomerConfirm::NoPendingCode);
        };
        let checked = self.check_parsed(who, &service.id, &id, code).await?;
        if checked.outcome.valid {
            if let Some(n) = new {
                self.store_password(&who.tenant_id, &person.id, n, false)
                    .await?;
            }
            return Ok(CustomerConfirm::Confirmed {
                password_replaced: new.is_some(),
            });
        }
        Ok(match checked.verification.status {
            Status::Pending | Status::Expired | Status::MaxAttemptsReached => {
                CustomerConfirm::WrongCode
            }
            Status::Approved | Status::Canceled | Status::Failed => CustomerConfirm::NoPendingCode,
        })
    }

    // ---- codes bound to a person (seed 003) --------------------------------------------

    /// The first locale with templates of its own among `choices`; none: the service default.
    pub fn pick_locale(&self, choices: &[Option<Locale>]) -> Option<Locale> {
        choices
            .iter()
            .flatten()
            .find(|l| render::has_templates(l))
            .cloned()
    }

    pub async fn send_to_person(&self, who: &Principal, req: PersonSend) -> Result<SentToPerson> {
        who.require(Scope::Verify)?;
        let person = self
            .store
            .person(&who.tenant_id, &req.person_id)
            .await?
            .ok_or(Error::NotFound("person"))?;
        let to = match req.channel {
            Channel::Email => person
                .email
                .clone()
                .map(Destination::Email)
                .ok_or_else(|| Error::invalid("medium", "the person has no e-mail address"))?,
            Channel::Sms | Channel::Call => person
                .phone
                .clone()
                .map(Destination::Phone)
                .ok_or_else(|| Error::invalid("medium", "the person has no phone number"))?,
        };
        let service = self.service_by_number(who, req.service_number).await?;
        let hint = to.masked();
        let input = StartInput {
            locale: self.pick_locale(&[req.language, person.language.clone()]),
            reference: Reference {
                context_id: req.context_id,
                source: Some(person_source(&person.id)),
                ..Reference::default()
            },
            ..StartInput::new(to, req.channel)
        };
        let started = self.start_with_service(who, service, input).await?;
        Ok(SentToPerson { started, hint })
    }

    /// Checks the code last sent to the person for this context. `Ok(None)`: nothing was sent
    /// (or it was sent for another context).
    pub async fn verify_person_code(
        &self,
        who: &Principal,
        person_id: &PersonId,
        context_id: Option<&str>,
        service_number: Option<i64>,
        code: Code,
    ) -> Result<Option<Checked>> {
        who.require(Scope::Verify)?;
        let service = self.service_by_number(who, service_number).await?;
        let Some(id) = self
            .store
            .latest_for_source(&who.tenant_id, &service.id, &person_source(person_id))
            .await?
        else {
            return Ok(None);
        };
        let v: Verification = self
            .store
            .verification(&who.tenant_id, &service.id, &id)
            .await?
            .ok_or(Error::NotFound("verification"))?;
        if v.reference.context_id.as_deref() != context_id {
            return Ok(None);
        }
        self.check_parsed(who, &service.id, &id, code)
            .await
            .map(Some)
    }
}
