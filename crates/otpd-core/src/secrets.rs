//! The server's keys and what they are used for: the code MAC, the API-secret MAC, and the
//! short-lived sealing of codes and rendered messages in the outbox (so no stored column ever
//! holds a code in the clear).

use crate::code::Code;
use crate::error::{Error, Result};
use crate::ids::VerificationId;
use crate::random::Random;
use hmac::{Hmac, Mac};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA-256 output; compared only in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct Digest32(pub [u8; 32]);

impl std::fmt::Debug for Digest32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Digest32(..)")
    }
}

impl Digest32 {
    pub fn ct_eq(&self, other: &Digest32) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    pub fn from_slice(b: &[u8]) -> Result<Digest32> {
        <[u8; 32]>::try_from(b)
            .map(Digest32)
            .map_err(|_| Error::Internal("stored digest has the wrong length".into()))
    }
}

pub struct ServerSecrets {
    /// Keyed HMAC states, cloned per use: keying hashes two blocks, and every request needs
    /// one or two MACs.
    code_mac: HmacSha256,
    api_mac: HmacSha256,
    /// ChaCha20-Poly1305 (RFC 8439) through ring: its assembly seals a six-digit code in
    /// ~0.2 µs, where the RustCrypto crate's runtime-selected AVX2 Poly1305 took ~1.6 µs for
    /// such short inputs (three seals or opens per send). Same algorithm, same bytes.
    seal: LessSafeKey,
}

impl std::fmt::Debug for ServerSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecrets(..)")
    }
}

fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes any key length"),
    }
}

fn finish(mut mac: HmacSha256, parts: &[&[u8]]) -> [u8; 32] {
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    finish(keyed(key), parts)
}

impl ServerSecrets {
    /// Derives one independent key per purpose from the master key.
    pub fn from_master(master: &[u8]) -> Result<ServerSecrets> {
        if master.len() < 32 {
            return Err(Error::invalid(
                "server_key",
                "must be at least 32 bytes (64 hex digits)",
            ));
        }
        let code_key = hmac(master, &[b"otpd/code-mac/v1"]);
        let api_key = hmac(master, &[b"otpd/api-secret-mac/v1"]);
        let seal_key = hmac(master, &[b"otpd/seal/v1"]);
        Ok(ServerSecrets {
            code_mac: keyed(&code_key),
            api_mac: keyed(&api_key),
            seal: LessSafeKey::new(
                UnboundKey::new(&CHACHA20_POLY1305, &seal_key)
                    .map_err(|_| Error::Internal("the sealing key was refused".into()))?,
            ),
        })
    }

    /// HMAC(server key, verification id || code): binds a code to its verification.
    pub fn code_mac(&self, id: &VerificationId, code: &Code) -> Digest32 {
        Digest32(finish(
            self.code_mac.clone(),
            &[id.as_str().as_bytes(), code.expose().as_bytes()],
        ))
    }

    /// Lookup hash of a random API secret. Secrets carry >= 128 bits, so a slow hash buys nothing.
    pub fn api_secret_mac(&self, secret: &str) -> Digest32 {
        Digest32(finish(self.api_mac.clone(), &[secret.as_bytes()]))
    }

    /// Encrypts `plain` for the outbox. `context` (e.g. a tenant id) is authenticated, so a
    /// sealed value cannot be moved to another row of another meaning.
    pub fn seal(&self, rng: &dyn Random, plain: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce);
        // Stored as nonce || ciphertext || tag.
        let mut out = Vec::with_capacity(NONCE_LEN + plain.len() + CHACHA20_POLY1305.tag_len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = self
            .seal
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut out[NONCE_LEN..],
            )
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        let refused = || Error::Internal("sealed value does not open with this server key".into());
        if sealed.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            return Err(Error::Internal("sealed value too short".into()));
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
        let mut buf = ct.to_vec();
        let plain_len = self
            .seal
            .open_in_place(nonce, Aad::from(context), &mut buf)
            .map_err(|_| refused())?
            .len();
        buf.truncate(plain_len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn secrets() -> ServerSecrets {
        ServerSecrets::from_master(&[7u8; 32]).unwrap()
    }

    #[test]
    fn short_master_key_is_refused() {
        assert!(ServerSecrets::from_master(&[1u8; 31]).is_err());
    }

    #[test]
    fn code_mac_binds_id_and_code() {
        let s = secrets();
        let rng = SeededRandom::new(1);
        let a = VerificationId::generate(&rng);
        let b = VerificationId::generate(&rng);
        let c = Code::custom("123456", "code").unwrap();
        let d = Code::custom("123457", "code").unwrap();
        assert!(s.code_mac(&a, &c).ct_eq(&s.code_mac(&a, &c)));
        assert!(!s.code_mac(&a, &c).ct_eq(&s.code_mac(&b, &c)));
        assert!(!s.code_mac(&a, &c).ct_eq(&s.code_mac(&a, &d)));
        // Not a bare SHA-256 of the code.
        use sha2::Digest;
        let bare: [u8; 32] = sha2::Sha256::digest(b"123456").into();
        assert_ne!(s.code_mac(&a, &c).0, bare);
    }

    #[test]
    fn sealed_values_open_only_in_their_context() {
        let s = secrets();
        let rng = SeededRandom::new(2);
        let sealed = s.seal(&rng, b"482913", b"TNa").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"482913"));
        assert_eq!(s.open(&sealed, b"TNa").unwrap(), b"482913");
        assert!(s.open(&sealed, b"TNb").is_err());
        let other = ServerSecrets::from_master(&[8u8; 32]).unwrap();
        assert!(other.open(&sealed, b"TNa").is_err());
    }

    #[test]
    fn values_sealed_by_the_earlier_rustcrypto_implementation_still_open() {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let master = [7u8; 32];
        let key = hmac(&master, &[b"otpd/seal/v1"]);
        let old = chacha20poly1305::ChaCha20Poly1305::new(&key.into());
        let nonce = [9u8; 12];
        let ct = old
            .encrypt(
                chacha20poly1305::Nonce::from_slice(&nonce),
                Payload {
                    msg: b"Your code is 482913",
                    aad: b"TNa",
                },
            )
            .unwrap();
        let sealed = [&nonce[..], &ct].concat();
        let s = ServerSecrets::from_master(&master).unwrap();
        assert_eq!(s.open(&sealed, b"TNa").unwrap(), b"Your code is 482913");
        // And the other way round: what we seal now, the old implementation opened.
        let rng = SeededRandom::new(3);
        let now = s.seal(&rng, b"482913", b"TNa").unwrap();
        let (n, c) = now.split_at(12);
        let opened = old
            .decrypt(
                chacha20poly1305::Nonce::from_slice(n),
                Payload {
                    msg: c,
                    aad: b"TNa",
                },
            )
            .unwrap();
        assert_eq!(opened, b"482913");
    }

    #[test]
    fn a_truncated_or_tampered_value_does_not_open() {
        let s = secrets();
        let sealed = s.seal(&SeededRandom::new(4), b"482913", b"TNa").unwrap();
        assert!(s.open(&sealed[..27], b"TNa").is_err());
        let mut flipped = sealed.clone();
        flipped[13] ^= 1;
        assert!(s.open(&flipped, b"TNa").is_err());
        assert!(s.open(&[], b"TNa").is_err());
    }
}
