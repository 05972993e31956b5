//! The directory of persons (seeds 001, 003) and customer users (seed 002): who a code goes to,
//! parsed once at the edge. A customer user is a person with a password (see [`crate::password`]).

use crate::clock::Timestamp;
use crate::destination::{Email, PhoneE164};
use crate::error::{Error, Result};
use crate::ids::TenantId;
use crate::random::Random;
use crate::render::Locale;

/// A person's id: a GUID, kept in its canonical lowercase hyphenated form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonId(String);

impl PersonId {
    /// Accepts the forms .NET's `Guid.Parse` writes most: hyphenated, with or without braces,
    /// or 32 bare hex digits; any case.
    pub fn parse(s: &str, field: &'static str) -> Result<PersonId> {
        let t = s.trim();
        let t = t
            .strip_prefix('{')
            .and_then(|x| x.strip_suffix('}'))
            .unwrap_or(t);
        let hex: String = if t.len() == 36 {
            let dashes_ok = t
                .char_indices()
                .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'));
            if !dashes_ok {
                return Err(bad_guid(field));
            }
            t.chars().filter(|c| *c != '-').collect()
        } else {
            t.to_owned()
        };
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad_guid(field));
        }
        let h = hex.to_ascii_lowercase();
        Ok(PersonId(format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )))
    }

    /// A random (version 4) GUID.
    pub fn generate(rng: &dyn Random) -> PersonId {
        let mut b = [0u8; 16];
        rng.fill(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        PersonId(format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        ))
    }

    pub fn from_trusted(s: String) -> PersonId {
        PersonId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn bad_guid(field: &'static str) -> Error {
    Error::invalid(
        field,
        "must be a GUID such as 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    )
}

pub const MAX_NAME_CHARS: usize = 200;

/// A person's directory entry (without the password, which only login code reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub tenant_id: TenantId,
    pub phone: Option<PhoneE164>,
    pub email: Option<Email>,
    pub language: Option<Locale>,
    pub name: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A person as any face received it (JSON, CSV, JSON lines), still unchecked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonInput {
    pub id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub language: Option<String>,
    pub name: Option<String>,
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The checked fields of a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonFields {
    pub id: Option<PersonId>,
    pub phone: Option<PhoneE164>,
    pub email: Option<Email>,
    pub language: Option<Locale>,
    pub name: Option<String>,
}

impl PersonInput {
    /// Checks every field; the first bad one is named. Empty strings count as absent. A person
    /// must be reachable: a phone number, an e-mail address or both.
    pub fn parse(&self) -> Result<PersonFields> {
        let id = present(&self.id)
            .map(|s| PersonId::parse(s, "id"))
            .transpose()?;
        let phone = present(&self.phone)
            .map(|s| PhoneE164::normalize(s, "phone"))
            .transpose()?;
        let email = present(&self.email)
            .map(|s| Email::parse(s, "email"))
            .transpose()?;
        let language = present(&self.language)
            .map(|s| Locale::parse(s, "language"))
            .transpose()?;
        let name = present(&self.name).map(str::to_owned);
        if let Some(n) = &name
            && (n.chars().count() > MAX_NAME_CHARS || n.chars().any(char::is_control))
        {
            return Err(Error::invalid(
                "name",
                "must be at most 200 characters without control characters",
            ));
        }
        if phone.is_none() && email.is_none() {
            return Err(Error::invalid(
                "phone",
                "a phone number or an e-mail address is required",
            ));
        }
        Ok(PersonFields {
            id,
            phone,
            email,
            language,
            name,
        })
    }
}

/// One rejected row of a bulk import: its 1-based line (CSV: counting the header) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub error: Error,
}

/// What a bulk import did: either every row went in, or none did and `errors` says why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportReport {
    pub imported: usize,
    pub errors: Vec<RowError>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn guids_normalise() {
        let want = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
        for s in [
            "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
            "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}",
            "3f2504e04f8911d39a0c0305e82c3301",
            " 3f2504e0-4f89-11d3-9a0c-0305e82c3301 ",
        ] {
            assert_eq!(PersonId::parse(s, "id").unwrap().as_str(), want, "{s}");
        }
        for s in [
            "",
            "3f2504e0-4f89-11d3-9a0c-0305e82c330",
            "3f2504e0-4f8911d3-9a0c-0305e82c33011",
            "3f2504e0-4f89-11d3-9a0c-0305e82c330g",
            "not a guid",
        ] {
            assert!(PersonId::parse(s, "id").is_err(), "{s}");
        }
        let g = PersonId::generate(&SeededRandom::new(3));
        assert_eq!(PersonId::parse(g.as_str(), "id").unwrap(), g);
        assert_eq!(&g.as_str()[14..15], "4");
    }

    fn field_of(r: Result<PersonFields>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field.into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn person_fields_are_checked_and_normalised() {
        let p = PersonInput {
            phone: Some("+31 (6) 1234-5678".into()),
            email: Some("Jane@Example.COM".into()),
            language: Some("pt_br".into()),
            name: Some(" Jane ".into()),
            ..PersonInput::default()
        }
        .parse()
        .unwrap();
        assert_eq!(p.phone.unwrap().as_str(), "+31612345678");
        assert_eq!(p.email.unwrap().as_str(), "Jane@example.com");
        assert_eq!(p.language.unwrap().as_str(), "pt-BR");
        assert_eq!(p.name.as_deref(), Some("Jane"));

        let base = PersonInput {
            email: Some("a@example.com".into()),
            ..PersonInput::default()
        };
        let with = |f: fn(&mut PersonInput)| {
            let mut p = base.clone();
            f(&mut p);
            p.parse()
        };
        assert_eq!(field_of(with(|p| p.id = Some("x".into()))), "id");
        assert_eq!(
            field_of(with(|p| p.phone = Some("0612345678".into()))),
            "phone"
        );
        assert_eq!(field_of(with(|p| p.phone = Some("+1 123".into()))), "phone");
        assert_eq!(field_of(with(|p| p.email = Some("nope".into()))), "email");
        assert_eq!(
            field_of(with(|p| p.language = Some("!!".into()))),
            "language"
        );
        assert_eq!(field_of(with(|p| p.name = Some("a\u{7}b".into()))), "name");
        assert_eq!(field_of(with(|p| p.name = Some("x".repeat(201)))), "name");
        assert_eq!(field_of(with(|p| p.email = Some("  ".into()))), "phone");
        assert!(with(|p| p.name = Some("x".repeat(200))).is_ok());
    }
}
