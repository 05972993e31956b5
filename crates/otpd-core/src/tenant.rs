//! Tenants, API keys and scopes. A key is `key_id` + a random secret; only an HMAC of the
//! secret is stored.

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::ids::{KeyId, TenantId};
use crate::random::{Random, random_hex};
use crate::secrets::{Digest32, ServerSecrets};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub created_at: Timestamp,
}

pub fn validate_slug(slug: &str) -> Result<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 63
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !slug.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "tenant",
            "must be 1-63 characters of a-z, 0-9, '-' and '_'",
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Manage services, keys and persons; read the development outbox. Implies `verify`.
    Admin,
    /// Start, check and cancel verifications.
    Verify,
    /// Receive generated codes in responses of dialects that return them (001 `OtpCode`).
    RevealCode,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Verify => "verify",
            Scope::RevealCode => "reveal_code",
        }
    }

    pub fn parse(s: &str) -> Result<Scope> {
        match s.trim() {
            "admin" => Ok(Scope::Admin),
            "verify" => Ok(Scope::Verify),
            "reveal_code" => Ok(Scope::RevealCode),
            other => Err(Error::invalid(
                "scopes",
                format!("unknown scope {other:?}; use admin, verify, reveal_code"),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn new(mut v: Vec<Scope>) -> Scopes {
        v.sort_by_key(|s| s.as_str());
        v.dedup();
        Scopes(v)
    }

    /// A comma-separated list such as `admin,verify`.
    pub fn parse_list(s: &str) -> Result<Scopes> {
        let v = s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(Scope::parse)
            .collect::<Result<Vec<_>>>()?;
        if v.is_empty() {
            return Err(Error::invalid("scopes", "at least one scope is required"));
        }
        Ok(Scopes::new(v))
    }

    pub fn has(&self, s: Scope) -> bool {
        self.0.contains(&s) || (s == Scope::Verify && self.0.contains(&Scope::Admin))
    }

    pub fn to_list(&self) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: KeyId,
    pub tenant_id: TenantId,
    pub name: String,
    pub secret_mac: Digest32,
    pub scopes: Scopes,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A key as handed to its owner, once. The secret is never stored.
pub struct IssuedKey {
    pub key: ApiKey,
    pub secret: String,
}

impl IssuedKey {
    pub fn token(&self) -> String {
        format!("{}.{}", self.key.id, self.secret)
    }
}

pub fn issue_key(
    tenant_id: &TenantId,
    name: &str,
    scopes: Scopes,
    secrets: &ServerSecrets,
    rng: &dyn Random,
    now: Timestamp,
) -> IssuedKey {
    // 24 random bytes: 192 bits, hex so it survives Basic auth, URLs and SOAP headers unescaped.
    let secret = random_hex(rng, 24);
    IssuedKey {
        key: ApiKey {
            id: KeyId::generate(rng),
            tenant_id: tenant_id.clone(),
            name: name.to_owned(),
            secret_mac: secrets.api_secret_mac(&secret),
            scopes,
            created_at: now,
            revoked_at: None,
        },
        secret,
    }
}

/// Who is calling, once their key has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: TenantId,
    pub key_id: KeyId,
    pub scopes: Scopes,
}

impl Principal {
    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.scopes.has(scope) {
            Ok(())
        } else {
            Err(Error::Forbidden(
                format!("this key lacks the {} scope", scope.as_str()).into(),
            ))
        }
    }
}

/// Checks a presented secret against a stored key in constant time.
pub fn authenticate(
    key: Option<ApiKey>,
    secret: &str,
    secrets: &ServerSecrets,
) -> Result<Principal> {
    let presented = secrets.api_secret_mac(secret);
    match key {
        Some(k) if k.revoked_at.is_none() && k.secret_mac.ct_eq(&presented) => Ok(Principal {
            tenant_id: k.tenant_id,
            key_id: k.id,
            scopes: k.scopes,
        }),
        _ => Err(Error::Unauthorized),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn issued_key_authenticates_until_revoked() {
        let secrets = ServerSecrets::from_master(&[3u8; 32]).unwrap();
        let rng = SeededRandom::new(5);
        let tenant = TenantId::generate(&rng);
        let issued = issue_key(
            &tenant,
            "ci",
            Scopes::parse_list("verify").unwrap(),
            &secrets,
            &rng,
            Timestamp(0),
        );
        assert_eq!(issued.secret.len(), 48);
        assert!(issued.token().starts_with("SK"));
        let p = authenticate(Some(issued.key.clone()), &issued.secret, &secrets).unwrap();
        assert_eq!(p.tenant_id, tenant);
        assert!(p.require(Scope::Verify).is_ok());
        assert!(p.require(Scope::Admin).is_err());
        assert_eq!(
            authenticate(Some(issued.key.clone()), "wrong", &secrets),
            Err(Error::Unauthorized)
        );
        assert_eq!(
            authenticate(None, &issued.secret, &secrets),
            Err(Error::Unauthorized)
        );
        let mut revoked = issued.key;
        revoked.revoked_at = Some(Timestamp(1));
        assert_eq!(
            authenticate(Some(revoked), &issued.secret, &secrets),
            Err(Error::Unauthorized)
        );
    }

    #[test]
    fn admin_implies_verify_and_lists_round_trip() {
        let s = Scopes::parse_list("verify,admin,admin").unwrap();
        assert_eq!(s.to_list(), "admin,verify");
        assert!(Scopes::parse_list("admin").unwrap().has(Scope::Verify));
        assert!(Scopes::parse_list("root").is_err());
        assert!(Scopes::parse_list("").is_err());
    }

    #[test]
    fn slugs() {
        assert!(validate_slug("default").is_ok());
        assert!(validate_slug("acme-01").is_ok());
        assert!(validate_slug("Acme").is_err());
        assert!(validate_slug("").is_err());
    }
}
