//! Services: named verification profiles with their policies.

use crate::clock::Timestamp;
use crate::code::{Alphabet, MAX_LENGTH, MIN_LENGTH};
use crate::destination::{Channel, Destination};
use crate::error::{Error, Result};
use crate::ids::{ServiceId, TenantId};
use crate::render::{Locale, MessageContext, render_sms};
use serde::{Deserialize, Serialize};

pub const MAX_TTL_SECONDS: u64 = 604_800;
/// NIST 800-63B caps consecutive failures at 100.
pub const MAX_CHECK_ATTEMPTS: u32 = 100;
pub const MAX_SENDS: u32 = 20;

/// How many sends one destination may receive from a service in a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendLimit {
    pub count: u32,
    pub window_seconds: u64,
}

impl Default for SendLimit {
    fn default() -> Self {
        SendLimit {
            count: 5,
            window_seconds: 600,
        }
    }
}

/// A service's settings, with every default applied. Stored as JSON, so new fields must
/// carry `#[serde(default)]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceConfig {
    pub name: String,
    pub code_length: u32,
    pub alphabet: Alphabet,
    pub ttl_seconds: u64,
    pub max_check_attempts: u32,
    pub max_sends: u32,
    pub custom_code_enabled: bool,
    /// ISO 3166-1 alpha-2 regions phone destinations may be in; empty means all.
    #[serde(default)]
    pub allowed_countries: Vec<String>,
    #[serde(default)]
    pub send_limit: SendLimit,
    /// Host for the WebOTP / iOS origin-bound last line `@host #code`.
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub default_locale: Locale,
}

/// What a caller asks for; unset fields take the defaults of DESIGN §2.
#[derive(Debug, Clone, Default)]
pub struct NewService {
    pub name: String,
    pub code_length: Option<u32>,
    pub alphabet: Option<Alphabet>,
    pub ttl_seconds: Option<u64>,
    pub max_check_attempts: Option<u32>,
    pub max_sends: Option<u32>,
    pub custom_code_enabled: Option<bool>,
    pub allowed_countries: Option<Vec<String>>,
    pub send_limit: Option<SendLimit>,
    pub domain: Option<String>,
    pub default_locale: Option<Locale>,
}

impl NewService {
    pub fn named(name: &str) -> NewService {
        NewService {
            name: name.to_owned(),
            ..NewService::default()
        }
    }

    pub fn into_config(self) -> Result<ServiceConfig> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 30 {
            return Err(Error::invalid("name", "must be 1 to 30 characters"));
        }
        if name.chars().any(|c| c.is_control()) {
            return Err(Error::invalid(
                "name",
                "must not contain control characters",
            ));
        }
        let code_length = self.code_length.unwrap_or(6);
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&code_length) {
            return Err(Error::invalid("code_length", "must be between 4 and 20"));
        }
        let ttl_seconds = self.ttl_seconds.unwrap_or(600);
        if !(1..=MAX_TTL_SECONDS).contains(&ttl_seconds) {
            return Err(Error::invalid(
                "ttl_seconds",
                "must be between 1 and 604800",
            ));
        }
        let max_check_attempts = self.max_check_attempts.unwrap_or(5);
        if !(1..=MAX_CHECK_ATTEMPTS).contains(&max_check_attempts) {
            return Err(Error::invalid(
                "max_check_attempts",
                "must be between 1 and 100",
            ));
        }
        let max_sends = self.max_sends.unwrap_or(5);
        if !(1..=MAX_SENDS).contains(&max_sends) {
            return Err(Error::invalid("max_sends", "must be between 1 and 20"));
        }
        let send_limit = self.send_limit.unwrap_or_default();
        if !(1..=10_000).contains(&send_limit.count)
            || !(1..=86_400).contains(&send_limit.window_seconds)
        {
            return Err(Error::invalid(
                "send_limit",
                "count must be 1..=10000 and window_seconds 1..=86400",
            ));
        }
        let mut allowed_countries = Vec::new();
        for c in self.allowed_countries.unwrap_or_default() {
            let up = c.trim().to_ascii_uppercase();
            if up.len() != 2 || !up.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(Error::invalid(
                    "allowed_countries",
                    "entries must be ISO 3166-1 alpha-2 codes such as US or DE",
                ));
            }
            allowed_countries.push(up);
        }
        allowed_countries.sort();
        allowed_countries.dedup();
        let domain = match self.domain.map(|d| d.trim().to_ascii_lowercase()) {
            Some(d) if d.is_empty() => None,
            Some(d) => {
                let ok = d.len() <= 253
                    && d.contains('.')
                    && d.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                    && !d.starts_with(['.', '-'])
                    && !d.ends_with(['.', '-']);
                if !ok {
                    return Err(Error::invalid(
                        "domain",
                        "must be a host name such as example.com",
                    ));
                }
                Some(d)
            }
            None => None,
        };
        let config = ServiceConfig {
            name,
            code_length,
            alphabet: self.alphabet.unwrap_or_default(),
            ttl_seconds,
            max_check_attempts,
            max_sends,
            custom_code_enabled: self.custom_code_enabled.unwrap_or(false),
            allowed_countries,
            send_limit,
            domain,
            default_locale: self.default_locale.unwrap_or_default(),
        };
        config.check_sms_fits()?;
        Ok(config)
    }
}

impl ServiceConfig {
    /// Every SMS this service can send must fit one segment in every locale; the name is the
    /// part a caller controls, so it is the field blamed. The WebOTP line (`domain`) must fit
    /// too wherever the text is GSM-7; in UCS-2 languages (70 characters a segment) it may add
    /// a second segment, or no UCS-2 template could carry a domain and a long code at all.
    fn check_sms_fits(&self) -> Result<()> {
        let code = "W".repeat(self.code_length as usize);
        for locale in Locale::supported() {
            let render = |domain: Option<&str>| {
                render_sms(&MessageContext {
                    brand: &self.name,
                    code: &code,
                    locale: &locale,
                    domain,
                    custom: None,
                })
            };
            let plain = render(None);
            let with_domain = self.domain.as_deref().map(|d| render(Some(d)));
            let fits = crate::render::segments::fits_one_segment(&plain)
                && with_domain.as_deref().is_none_or(|t| {
                    !crate::render::segments::is_gsm7(t)
                        || crate::render::segments::fits_one_segment(t)
                });
            if !fits {
                return Err(Error::invalid(
                    "name",
                    format!(
                        "is too long: the {} SMS would not fit one segment",
                        locale.as_str()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Geo permissions: phone destinations only go to allowed regions.
    pub fn allows(&self, destination: &Destination) -> Result<()> {
        match destination {
            Destination::Phone(p) if !self.allowed_countries.is_empty() => {
                let ok = p
                    .country()
                    .is_some_and(|c| self.allowed_countries.contains(&c));
                if ok {
                    Ok(())
                } else {
                    Err(Error::Forbidden(
                        "the destination's country is not allowed for this service".into(),
                    ))
                }
            }
            _ => Ok(()),
        }
    }

    pub fn supports(&self, channel: Channel) -> bool {
        // Every channel is offered; routes decide how it is delivered.
        Channel::ALL.contains(&channel)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: ServiceId,
    pub tenant_id: TenantId,
    /// Small per-tenant number for dialects whose configuration id is an integer.
    pub number: i64,
    pub config: ServiceConfig,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination::PhoneE164;

    #[test]
    fn defaults_follow_the_design() {
        let c = NewService::named("Acme").into_config().unwrap();
        assert_eq!(c.code_length, 6);
        assert_eq!(c.alphabet, Alphabet::Digits);
        assert_eq!(c.ttl_seconds, 600);
        assert_eq!(c.max_check_attempts, 5);
        assert_eq!(c.max_sends, 5);
        assert_eq!(
            c.send_limit,
            SendLimit {
                count: 5,
                window_seconds: 600
            }
        );
        assert!(!c.custom_code_enabled);
    }

    fn field_of(r: Result<ServiceConfig>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field.into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ranges_are_enforced_at_their_bounds() {
        let with = |f: &dyn Fn(&mut NewService)| {
            let mut n = NewService::named("Acme");
            f(&mut n);
            n.into_config()
        };
        assert!(with(&|n| n.code_length = Some(4)).is_ok());
        assert!(with(&|n| n.code_length = Some(20)).is_ok());
        assert_eq!(field_of(with(&|n| n.code_length = Some(3))), "code_length");
        assert_eq!(field_of(with(&|n| n.code_length = Some(21))), "code_length");
        assert!(with(&|n| n.ttl_seconds = Some(604_800)).is_ok());
        assert_eq!(field_of(with(&|n| n.ttl_seconds = Some(0))), "ttl_seconds");
        assert_eq!(
            field_of(with(&|n| n.ttl_seconds = Some(604_801))),
            "ttl_seconds"
        );
        assert_eq!(
            field_of(with(&|n| n.max_check_attempts = Some(0))),
            "max_check_attempts"
        );
        assert_eq!(
            field_of(with(&|n| n.max_check_attempts = Some(101))),
            "max_check_attempts"
        );
        assert_eq!(field_of(with(&|n| n.max_sends = Some(0))), "max_sends");
        assert_eq!(field_of(with(&|n| n.name = "  ".into())), "name");
        assert_eq!(
            field_of(with(&|n| n.allowed_countries = Some(vec!["USA".into()]))),
            "allowed_countries"
        );
        assert_eq!(
            field_of(with(&|n| n.domain = Some("not a host".into()))),
            "domain"
        );
    }

    #[test]
    fn a_name_that_breaks_the_one_segment_rule_is_refused() {
        let mut n = NewService::named("Ü-Brand €€€€€€€€€€€€€€€€");
        n.code_length = Some(20);
        n.domain = Some("login.example.com".into());
        // 30 characters with a UCS-2 forcing letter: the message cannot fit 70 units.
        n.name = "Ünïcödé brand with a long name".into();
        assert_eq!(field_of(n.into_config()), "name");
    }

    #[test]
    fn the_webotp_line_must_fit_where_the_text_is_gsm7() {
        // A long code and a domain: fine in GSM-7 languages; UCS-2 ones may take two segments.
        let mut n = NewService::named("Acme");
        n.code_length = Some(20);
        n.domain = Some("login.example.com".into());
        assert!(n.into_config().is_ok());
        // A domain so long that even the English SMS needs two segments is refused.
        let mut n = NewService::named("Acme");
        n.code_length = Some(20);
        n.domain = Some(format!("{}.example.com", "a".repeat(90)));
        assert_eq!(field_of(n.into_config()), "name");
    }

    #[test]
    fn geo_permissions() {
        let mut n = NewService::named("Acme");
        n.allowed_countries = Some(vec!["us".into()]);
        let c = n.into_config().unwrap();
        let us = Destination::Phone(PhoneE164::parse("+14155552671", "to").unwrap());
        let nl = Destination::Phone(PhoneE164::parse("+31612345678", "to").unwrap());
        assert!(c.allows(&us).is_ok());
        assert!(matches!(c.allows(&nl), Err(Error::Forbidden(_))));
    }
}
