//! Time as a port: the core never reads the system clock itself.

use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn plus_secs(self, secs: u64) -> Timestamp {
        Timestamp(self.0.saturating_add((secs as i64).saturating_mul(1000)))
    }
    pub fn plus_millis(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }
    pub fn minus_secs(self, secs: u64) -> Timestamp {
        Timestamp(self.0.saturating_sub((secs as i64).saturating_mul(1000)))
    }
    /// Whole seconds from `self` until `later`, rounded up, at least 1: what a `Retry-After` says.
    pub fn secs_until(self, later: Timestamp) -> u64 {
        let ms = later.0.saturating_sub(self.0).max(0) as u64;
        ms.div_ceil(1000).max(1)
    }
}

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// A clock that only moves when told to; for tests everywhere.
#[derive(Debug)]
pub struct FakeClock(AtomicI64);

impl FakeClock {
    pub fn new(start: Timestamp) -> Self {
        FakeClock(AtomicI64::new(start.0))
    }
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}
