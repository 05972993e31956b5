//! Randomness as a port, and the one place that turns random bytes into unbiased choices.

use std::sync::Mutex;

pub trait Random: Send + Sync + 'static {
    /// Fill `buf` with bytes from a cryptographically secure generator.
    fn fill(&self, buf: &mut [u8]);
}

/// An index in `0..n` without modulo bias: bytes at or above the largest multiple of `n`
/// that fits in 256 are rejected and drawn again.
pub fn uniform_index(rng: &dyn Random, n: usize) -> usize {
    debug_assert!(n > 0 && n <= 256);
    let limit = 256 - (256 % n);
    let mut buf = [0u8; 16];
    loop {
        rng.fill(&mut buf);
        if let Some(b) = buf.iter().map(|&b| b as usize).find(|&b| b < limit) {
            return b % n;
        }
    }
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(rng: &dyn Random, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rng.fill(&mut buf);
    hex::encode(buf)
}

/// A deterministic generator for tests: a simple counter run through SHA-256.
/// Not for production: its output is predictable from the seed.
pub struct SeededRandom {
    state: Mutex<(u64, u64)>,
}

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        SeededRandom {
            state: Mutex::new((seed, 0)),
        }
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        use sha2::{Digest, Sha256};
        let mut st = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for chunk in buf.chunks_mut(32) {
            let mut h = Sha256::new();
            h.update(st.0.to_le_bytes());
            h.update(st.1.to_le_bytes());
            st.1 += 1;
            let out = h.finalize();
            chunk.copy_from_slice(&out[..chunk.len()]);
        }
    }
}
