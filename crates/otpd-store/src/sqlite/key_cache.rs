//! API keys read in the last second. Every request authenticates, and under a steady write
//! load each read transaction finds the WAL changed, drops its page cache and reads the key's
//! pages again with system calls (measured: the largest share of a check's kernel time).
//! A key revoked through this store leaves the cache at once; one revoked by another process
//! on the same file (`otpd keys revoke` beside a running server) stops working within `TTL`.

use otpd_core::ids::KeyId;
use otpd_core::tenant::ApiKey;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub(crate) const TTL: Duration = Duration::from_secs(1);
/// Beyond this many keys the cache starts over rather than growing.
const MAX_KEYS: usize = 4096;

#[derive(Default)]
pub(crate) struct KeyCache {
    entries: Mutex<HashMap<KeyId, (ApiKey, Instant)>>,
    /// Moves on every revocation, so that a read which began before one cannot put the key
    /// back as it was.
    revocations: AtomicU64,
}

impl KeyCache {
    pub(crate) fn get(&self, id: &KeyId) -> Option<ApiKey> {
        let entries = self.lock();
        entries
            .get(id)
            .filter(|(_, read_at)| read_at.elapsed() < TTL)
            .map(|(key, _)| key.clone())
    }

    /// Taken before reading a key from the database; hand it back to `put`.
    pub(crate) fn generation(&self) -> u64 {
        self.revocations.load(Ordering::SeqCst)
    }

    pub(crate) fn put(&self, key: &ApiKey, generation: u64) {
        let mut entries = self.lock();
        if self.revocations.load(Ordering::SeqCst) != generation {
            return;
        }
        if entries.len() >= MAX_KEYS {
            entries.clear();
        }
        entries.insert(key.id.clone(), (key.clone(), Instant::now()));
    }

    pub(crate) fn forget(&self, id: &KeyId) {
        let mut entries = self.lock();
        self.revocations.fetch_add(1, Ordering::SeqCst);
        entries.remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<KeyId, (ApiKey, Instant)>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
