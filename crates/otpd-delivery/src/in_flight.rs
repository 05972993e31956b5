//! How many sends a provider has open at once. A worker keeps hundreds of deliveries in flight
//! to hide network latency; a provider caps what its peer sees, and the rest wait here rather
//! than at the peer: an HTTP API answers a burst past its concurrency limit with 429s (which
//! would open the provider's circuit), an SMTP server refuses connections past its per-client
//! limit, and an SMPP submit queued behind a full window would spend its timeout waiting.

use tokio::sync::{Semaphore, SemaphorePermit};

/// The default `max_in_flight` of the HTTP providers.
pub fn default_http() -> usize {
    64
}

/// The default `max_in_flight` of the SMTP provider (Postfix, for one, allows a client 50
/// connections at once).
pub fn default_smtp() -> usize {
    16
}

pub struct InFlight(Semaphore);

impl InFlight {
    pub fn new(max: usize) -> Result<InFlight, String> {
        if max == 0 || max > 1000 {
            return Err("max_in_flight must be 1..=1000".into());
        }
        Ok(InFlight(Semaphore::new(max)))
    }

    /// Waits for a free place; the send counts until the permit is dropped.
    pub async fn enter(&self) -> SemaphorePermit<'_> {
        loop {
            // The semaphore is never closed, so acquiring cannot fail.
            if let Ok(permit) = self.0.acquire().await {
                return permit;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_limit_is_one_to_a_thousand() {
        assert!(InFlight::new(0).is_err());
        assert!(InFlight::new(1001).is_err());
        assert!(InFlight::new(1).is_ok() && InFlight::new(1000).is_ok());
    }

    #[tokio::test]
    async fn a_send_past_the_limit_waits_for_a_place() {
        let limit = InFlight::new(1).unwrap();
        let first = limit.enter().await;
        let second = tokio::time::timeout(Duration::from_millis(50), limit.enter()).await;
        assert!(second.is_err(), "no place while the first is open");
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(5), limit.enter()).await;
        assert!(third.is_ok(), "the place is free again");
    }
}
