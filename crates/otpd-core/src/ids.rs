//! Identifiers: a two-letter prefix and 32 lowercase hex digits (Twilio's shape, so the
//! Twilio dialect can use them as they are).

use crate::error::{Error, Result};
use crate::random::{Random, random_hex};

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal, $what:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate(rng: &dyn Random) -> Self {
                $name(format!("{}{}", $prefix, random_hex(rng, 16)))
            }

            pub fn parse(s: &str) -> Result<Self> {
                let ok = s.len() == 34
                    && s.starts_with($prefix)
                    && s[2..]
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if ok {
                    Ok($name(s.to_owned()))
                } else {
                    Err(Error::NotFound($what))
                }
            }

            /// For values read back from our own store, which only ever holds parsed ids.
            pub fn from_trusted(s: String) -> Self {
                $name(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(TenantId, "TN", "tenant");
prefixed_id!(KeyId, "SK", "api key");
prefixed_id!(ServiceId, "VA", "service");
prefixed_id!(VerificationId, "VE", "verification");

impl VerificationId {
    /// A new id whose first 48 bits are the creation time in milliseconds and whose other 80
    /// are random: still unguessable, and new rows land at the end of every index keyed by the
    /// id instead of on a random page (measured in BENCHMARKS.md: fewer pages written per
    /// start, and inserts that stay cheap as the table grows).
    pub fn generate_at(rng: &dyn Random, now: crate::clock::Timestamp) -> Self {
        let ms = (now.0.max(0) as u64) & 0xffff_ffff_ffff;
        VerificationId(format!(
            "{}{:012x}{}",
            Self::PREFIX,
            ms,
            random_hex(rng, 10)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn generated_ids_parse_back() {
        let rng = SeededRandom::new(1);
        let id = VerificationId::generate(&rng);
        assert_eq!(id.as_str().len(), 34);
        assert_eq!(VerificationId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn time_ordered_ids_sort_by_creation_and_parse_back() {
        use crate::clock::Timestamp;
        let rng = SeededRandom::new(2);
        let a = VerificationId::generate_at(&rng, Timestamp(1_700_000_000_000));
        let b = VerificationId::generate_at(&rng, Timestamp(1_700_000_000_001));
        let c = VerificationId::generate_at(&rng, Timestamp(1_700_000_000_001));
        assert!(a.as_str() < b.as_str());
        assert_ne!(
            b, c,
            "80 random bits tell apart ids of the same millisecond"
        );
        for id in [&a, &b, &c] {
            assert_eq!(VerificationId::parse(id.as_str()).as_ref(), Ok(id));
        }
        assert_eq!(&a.as_str()[2..14], format!("{:012x}", 1_700_000_000_000u64));
    }

    #[test]
    fn wrong_prefix_or_shape_is_not_found() {
        assert_eq!(
            ServiceId::parse("VE0123456789abcdef0123456789abcdef"),
            Err(Error::NotFound("service"))
        );
        assert!(ServiceId::parse("VA0123456789ABCDEF0123456789abcdef").is_err());
        assert!(ServiceId::parse("VA0123").is_err());
        assert!(ServiceId::parse("VA0123456789abcdef0123456789abcdef").is_ok());
    }
}
