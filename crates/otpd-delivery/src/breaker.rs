//! A circuit breaker per provider: after `threshold` transient failures in a row the provider
//! is skipped for `cooldown`, so jobs go straight to the next route instead of waiting on a
//! dead one; then one probe is let through, and a success closes the circuit again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    pub threshold: u32,
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            threshold: 5,
            cooldown: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
}

#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another sender panicked mid-update: the counts are
        // still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May a send go to this provider now? While open, no; once the cooldown is over, one
    /// caller gets through as the probe (the others keep skipping for another cooldown).
    pub fn allow(&self) -> bool {
        let mut s = self.state();
        match s.open_until {
            None => true,
            Some(t) if Instant::now() < t => false,
            Some(_) => {
                s.open_until = Some(Instant::now() + self.config.cooldown);
                true
            }
        }
    }

    pub fn success(&self) {
        let mut s = self.state();
        s.failures = 0;
        s.open_until = None;
    }

    /// Returns true when this failure opened the circuit.
    pub fn failure(&self) -> bool {
        let mut s = self.state();
        s.failures = s.failures.saturating_add(1);
        if s.failures >= self.config.threshold {
            let was_closed = s.open_until.is_none();
            s.open_until = Some(Instant::now() + self.config.cooldown);
            return was_closed;
        }
        false
    }

    pub fn is_open(&self) -> bool {
        self.state().open_until.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_probes_after_the_cooldown_and_closes_on_success() {
        let b = Breaker::new(BreakerConfig {
            threshold: 2,
            cooldown: Duration::from_millis(50),
        });
        assert!(b.allow());
        assert!(!b.failure());
        assert!(b.allow(), "one failure is not enough");
        assert!(b.failure(), "the second opens it");
        assert!(!b.allow());
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.allow(), "the probe");
        assert!(!b.allow(), "only one probe at a time");
        b.failure();
        assert!(!b.allow(), "a failed probe keeps it open");
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.allow());
        b.success();
        assert!(b.allow() && b.allow() && !b.is_open());
    }
}
