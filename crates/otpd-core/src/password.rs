//! Customer users' passwords: argon2id hashes (the parameters travel inside the PHC string, so
//! they can be raised later without breaking stored hashes), the policy for new passwords, and
//! the login throttle that locks an identifier after repeated failures.

use crate::clock::Timestamp;
use crate::destination::Email;
use crate::error::{Error, Result};
use crate::random::Random;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest acceptable new password (NIST SP 800-63B asks for at least 8; we ask 12).
pub const MIN_CHARS: usize = 12;
/// Longest: hashing is costly, so unbounded input would be a lever for denial of service.
pub const MAX_CHARS: usize = 256;

/// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
fn hasher() -> Result<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A stored password: the PHC string and whether it is a temporary one that must be replaced
/// at the next confirmed login.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordRecord {
    pub hash: String,
    pub temporary: bool,
    pub set_at: Timestamp,
}

impl std::fmt::Debug for PasswordRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordRecord")
            .field("hash", &"<redacted>")
            .field("temporary", &self.temporary)
            .finish()
    }
}

pub fn hash(password: &str, rng: &dyn Random) -> Result<String> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| Error::Internal(format!("password salt: {e}")))?;
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
}

/// A hash of nothing anybody knows, to spend the same time on unknown accounts.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$b3RwZC1kdW1teS1zYWx0$TPAG3jlHYdYY8MhT6jxFdd4nl2M5R4Ef3yBJtNFV9aI";

/// True when `password` matches `stored`. With no stored hash it still does the work of a
/// check, so an unknown account takes as long to refuse as a wrong password.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let Ok(argon) = hasher() else { return false };
    let (phc, real) = match stored {
        Some(s) => (s, true),
        None => (DUMMY_HASH, false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // The parameters recorded in the hash are the ones used, so older hashes still verify.
    let ok = argon.verify_password(password.as_bytes(), &parsed).is_ok();
    ok && real
}

/// The policy for a new password: 12 to 256 characters, not the current one, not the e-mail.
pub fn check_new(
    field: &'static str,
    new: &str,
    current_hash: Option<&str>,
    email: Option<&Email>,
) -> Result<()> {
    let n = new.chars().count();
    if n < MIN_CHARS {
        return Err(Error::invalid(field, "must be at least 12 characters long"));
    }
    if n > MAX_CHARS {
        return Err(Error::invalid(field, "must be at most 256 characters long"));
    }
    if let Some(e) = email
        && new.trim().eq_ignore_ascii_case(e.as_str())
    {
        return Err(Error::invalid(field, "must not be the e-mail address"));
    }
    if current_hash.is_some() && verify(new, current_hash) {
        return Err(Error::invalid(
            field,
            "must differ from the current password",
        ));
    }
    Ok(())
}

/// Failed logins of one identifier (an account, or a name nobody has: they are counted alike so
/// that a lockout says nothing about whether an account exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    pub failures: u32,
    pub window_start: Timestamp,
    pub locked_until: Option<Timestamp>,
}

/// The name a throttle row is stored under: a digest, so the table never holds the e-mail
/// addresses people mistyped (or that nobody has).
pub fn throttle_key(name: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(name.as_bytes()))
}

/// Failures allowed inside `WINDOW_SECS` before the identifier is locked for `LOCK_SECS`.
pub const MAX_FAILURES: u32 = 5;
pub const WINDOW_SECS: u64 = 15 * 60;
pub const LOCK_SECS: u64 = 15 * 60;

pub fn is_locked(t: Option<&LoginThrottle>, now: Timestamp) -> bool {
    t.and_then(|t| t.locked_until)
        .is_some_and(|until| now < until)
}

/// The throttle after one more failure at `now`.
pub fn after_failure(prev: Option<LoginThrottle>, now: Timestamp) -> LoginThrottle {
    let fresh = LoginThrottle {
        failures: 1,
        window_start: now,
        locked_until: None,
    };
    let mut t = match prev {
        Some(p) if p.window_start.plus_secs(WINDOW_SECS) > now || is_locked(Some(&p), now) => {
            LoginThrottle {
                failures: p.failures.saturating_add(1),
                ..p
            }
        }
        _ => fresh,
    };
    if t.failures >= MAX_FAILURES {
        t.locked_until = Some(now.plus_secs(LOCK_SECS));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn hashes_are_argon2id_with_their_parameters_and_verify() {
        let rng = SeededRandom::new(9);
        let h = hash("correct horse battery", &rng).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("correct horse batterY", Some(&h)));
        assert!(!verify("", Some(&h)));
        assert!(!verify("anything", None));
        assert!(!verify("anything", Some("not a phc string")));
        // Salted: the same password hashes differently each time.
        assert_ne!(h, hash("correct horse battery", &rng).unwrap());
        // The dummy hash is well formed, so unknown accounts cost a real check.
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn new_password_policy() {
        let rng = SeededRandom::new(1);
        let email = Email::parse("jane.doe@example.com", "email").unwrap();
        let current = hash("old password 123", &rng).unwrap();
        let check = |p: &str| check_new("NewPassword", p, Some(&current), Some(&email));
        assert!(check("a new password!").is_ok());
        assert!(check("short").is_err());
        assert!(check("elevenchars").is_err());
        assert!(check("twelve chars").is_ok());
        assert!(check(&"x".repeat(257)).is_err());
        assert!(check("old password 123").is_err());
        assert!(check("Jane.Doe@Example.com").is_err());
        match check("short") {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, "NewPassword"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn throttle_locks_after_five_failures_in_the_window() {
        let t0 = Timestamp(1_000_000);
        let mut t = None;
        for i in 0..4 {
            t = Some(after_failure(t, t0.plus_secs(i)));
            assert!(!is_locked(t.as_ref(), t0.plus_secs(i)));
        }
        t = Some(after_failure(t, t0.plus_secs(10)));
        assert!(is_locked(t.as_ref(), t0.plus_secs(10)));
        assert!(is_locked(t.as_ref(), t0.plus_secs(10 + LOCK_SECS - 1)));
        assert!(!is_locked(t.as_ref(), t0.plus_secs(10 + LOCK_SECS)));
        // After the window, counting starts again.
        let later = t0.plus_secs(10 + LOCK_SECS + WINDOW_SECS);
        let again = after_failure(t, later);
        assert_eq!(again.failures, 1);
        assert!(!is_locked(Some(&again), later));
        // Failures spread wider than the window never lock.
        let mut t = None;
        for i in 0..20 {
            let now = t0.plus_secs(i * (WINDOW_SECS / 4 + 1));
            t = Some(after_failure(t, now));
            assert!(!is_locked(t.as_ref(), now), "{i}");
        }
    }
}
