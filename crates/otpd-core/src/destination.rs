//! Where a code goes: an E.164 phone number or an e-mail address, parsed once at the edge.

use crate::error::{Error, Result};
use rlibphonenumber::{PhoneNumber, PhoneNumberFormat};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Call,
    Email,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Sms, Channel::Call, Channel::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Call => "call",
            Channel::Email => "email",
        }
    }

    pub fn parse(s: &str, field: &'static str) -> Result<Channel> {
        match s {
            "sms" => Ok(Channel::Sms),
            "call" => Ok(Channel::Call),
            "email" => Ok(Channel::Email),
            _ => Err(Error::invalid(field, "must be one of sms, call, email")),
        }
    }
}

/// A phone number known to be valid, held in E.164 form (`+14155552671`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneE164 {
    e164: String,
}

impl PhoneE164 {
    /// Accepts only numbers already written in E.164 (a `+` and digits); spaces and dashes are
    /// not guessed at, since a wrong guess sends someone else a code.
    pub fn parse(s: &str, field: impl Into<Cow<'static, str>>) -> Result<PhoneE164> {
        let field = field.into();
        let s = s.trim();
        let shaped = s.len() >= 8
            && s.len() <= 16
            && s.starts_with('+')
            && s[1..].bytes().all(|b| b.is_ascii_digit())
            && !s[1..].starts_with('0');
        if !shaped {
            return Err(Error::invalid(
                field,
                "must be a phone number in E.164 format, e.g. +14155552671",
            ));
        }
        let parsed = PhoneNumber::parse(s, None)
            .map_err(|_| Error::invalid(field.clone(), "is not a valid phone number"))?;
        if !parsed.is_valid() {
            return Err(Error::invalid(field, "is not a valid phone number"));
        }
        let e164 = parsed.format_as(PhoneNumberFormat::E164).into_owned();
        Ok(PhoneE164 { e164 })
    }

    /// For directory entries typed by people: an international number written with the usual
    /// separators (`+31 (6) 1234-5678`, `0031 6 12345678`) becomes E.164. A national number
    /// without its country code is still refused: guessing the country sends someone else codes.
    pub fn normalize(s: &str, field: impl Into<Cow<'static, str>>) -> Result<PhoneE164> {
        let field = field.into();
        let t = s.trim();
        let rest = if let Some(r) = t.strip_prefix('+') {
            r
        } else if let Some(r) = t.strip_prefix("00") {
            r
        } else {
            return Err(Error::invalid(
                field,
                "must be an international number with its country code, e.g. +14155552671",
            ));
        };
        let mut digits = String::with_capacity(rest.len() + 1);
        digits.push('+');
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' => {}
                _ => {
                    return Err(Error::invalid(
                        field,
                        "must be a phone number: digits and the separators space - . ( ) /",
                    ));
                }
            }
        }
        PhoneE164::parse(&digits, field)
    }

    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// A number read back from our own store, which only ever holds parsed numbers.
    /// Skips the (costly) re-parse; the region is not needed after the send was admitted.
    pub fn from_trusted(e164: String) -> PhoneE164 {
        PhoneE164 { e164 }
    }

    /// ISO 3166-1 alpha-2 region, when the number maps to one. Worked out on demand: only
    /// services with geo permissions ask, and the lookup costs as much as validation.
    pub fn country(&self) -> Option<String> {
        let parsed = PhoneNumber::parse(&self.e164, None).ok()?;
        parsed
            .get_region_code()
            .map(|r| (*r.as_region_str()).to_owned())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str, field: impl Into<Cow<'static, str>>) -> Result<Email> {
        let s = s.trim();
        let bad = || Error::invalid(field, "must be an e-mail address such as user@example.com");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(bad());
        };
        let domain_ok = domain.len() >= 3
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(bad());
        }
        // Domains are case-insensitive; local parts are kept as written.
        Ok(Email(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    /// An address read back from our own store, which only ever holds parsed addresses.
    pub fn from_trusted(s: String) -> Email {
        Email(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    Phone(PhoneE164),
    Email(Email),
}

impl Destination {
    /// Parses `s` as the kind of address `channel` needs.
    pub fn parse_for(
        channel: Channel,
        s: &str,
        field: impl Into<Cow<'static, str>>,
    ) -> Result<Destination> {
        match channel {
            Channel::Sms | Channel::Call => PhoneE164::parse(s, field).map(Destination::Phone),
            Channel::Email => Email::parse(s, field).map(Destination::Email),
        }
    }

    /// A destination read back from our own store.
    pub fn from_trusted(channel: Channel, s: String) -> Destination {
        match channel {
            Channel::Sms | Channel::Call => Destination::Phone(PhoneE164::from_trusted(s)),
            Channel::Email => Destination::Email(Email(s)),
        }
    }

    /// Parses either kind: a leading `+` means a phone number.
    pub fn parse_any(s: &str, field: impl Into<Cow<'static, str>>) -> Result<Destination> {
        if s.trim_start().starts_with('+') {
            PhoneE164::parse(s, field).map(Destination::Phone)
        } else {
            Email::parse(s, field).map(Destination::Email)
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Destination::Phone(p) => p.as_str(),
            Destination::Email(e) => e.as_str(),
        }
    }

    /// What may appear in logs and hints: `+31*******78`, `j***@example.com`.
    pub fn masked(&self) -> String {
        mask(self.as_str())
    }
}

/// Masks a phone number (keeps `+`, the first two digits and the last two) or an e-mail
/// (keeps the first letter and the domain).
pub fn mask(s: &str) -> String {
    if let Some((local, domain)) = s.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let head = if chars[0] == '+' { 3 } else { 2 };
    let tail = 2;
    let hidden = chars.len().saturating_sub(head + tail);
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(hidden));
    out.extend(&chars[chars.len() - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers_parse_and_know_their_country() {
        let p = PhoneE164::parse("+14155552671", "to").unwrap();
        assert_eq!(p.as_str(), "+14155552671");
        assert_eq!(p.country().as_deref(), Some("US"));
        let nl = PhoneE164::parse("+31612345678", "to").unwrap();
        assert_eq!(nl.country().as_deref(), Some("NL"));
    }

    #[test]
    fn non_e164_is_refused_with_the_field_named() {
        for bad in [
            "4155552671",
            "+1 415 555 2671",
            "+1415555267a",
            "+0123456789",
            "",
            "+1",
            "+12",
        ] {
            match PhoneE164::parse(bad, "to") {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, "to"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        // Well-shaped but not a real number plan.
        assert!(PhoneE164::parse("+11234567890", "to").is_err());
    }

    #[test]
    fn validity_follows_each_region_numbering_plan() {
        // (number, valid, region): real plans of several regions, and well-shaped numbers that
        // break them (unassigned country code, wrong length, impossible leading digits).
        let cases = [
            ("+14155552671", true, Some("US")),
            ("+16135550123", true, Some("CA")),
            ("+442071838750", true, Some("GB")),
            ("+4915123456789", true, Some("DE")),
            ("+33612345678", true, Some("FR")),
            ("+919876543210", true, Some("IN")),
            ("+5511987654321", true, Some("BR")),
            ("+819012345678", true, Some("JP")),
            ("+8613812345678", true, Some("CN")),
            ("+61412345678", true, Some("AU")),
            ("+9991234567", false, None),
            ("+4412345", false, None),
            ("+3361234567890", false, None),
            ("+12125550", false, None),
        ];
        for (number, valid, region) in cases {
            let parsed = PhoneE164::parse(number, "to");
            assert_eq!(parsed.is_ok(), valid, "{number}");
            if let Ok(p) = parsed {
                assert_eq!(p.as_str(), number);
                assert_eq!(p.country().as_deref(), region, "{number}");
            }
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("Jane.Doe@Example.COM", "to").unwrap().as_str(),
            "Jane.Doe@example.com"
        );
        for bad in [
            "jane",
            "jane@",
            "@example.com",
            "jane@example",
            "ja ne@example.com",
            "a@b@c.com",
            "jane@exa..mple.com",
        ] {
            assert!(Email::parse(bad, "to").is_err(), "{bad}");
        }
    }

    #[test]
    fn masking_hides_the_middle() {
        assert_eq!(mask("+31612345678"), "+31*******78");
        assert_eq!(mask("jane@example.com"), "j***@example.com");
        assert_eq!(mask("123"), "***");
    }

    #[test]
    fn channel_decides_the_parser() {
        assert!(Destination::parse_for(Channel::Sms, "jane@example.com", "to").is_err());
        assert!(Destination::parse_for(Channel::Email, "+14155552671", "to").is_err());
        assert!(Destination::parse_for(Channel::Call, "+14155552671", "to").is_ok());
        assert!(Channel::parse("fax", "channel").is_err());
    }
}
