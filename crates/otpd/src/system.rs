//! The real clock and the OS-seeded random generator, the production implementations of the ports.

use otpd_core::clock::{Clock, Timestamp};
use otpd_core::random::Random;
use rand::RngCore;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(ms)
    }
}

/// A ChaCha12 generator per thread, seeded from the operating system's CSPRNG and reseeded
/// from it every 64 KiB of output (`rand::thread_rng`). Asking the OS for every id, code and
/// nonce cost four `getrandom` system calls per created verification.
pub struct SystemRandom;

impl Random for SystemRandom {
    fn fill(&self, buf: &mut [u8]) {
        rand::thread_rng().fill_bytes(buf);
    }
}
