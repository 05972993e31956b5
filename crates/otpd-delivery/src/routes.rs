//! Which providers carry which channel, in failover order, and each provider's breaker.

use crate::breaker::{Breaker, BreakerConfig};
use crate::provider::Provider;
use otpd_core::destination::Channel;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Routes {
    by_channel: HashMap<Channel, Vec<Arc<dyn Provider>>>,
    /// Overrides for numbers of one country (ISO 3166-1 alpha-2), phone channels only.
    by_country: HashMap<(String, Channel), Vec<Arc<dyn Provider>>>,
    breaker_config: BreakerConfig,
    breakers: HashMap<String, Arc<Breaker>>,
}

impl Routes {
    /// `order` lists providers by channel; each must support its channel.
    pub fn new(order: HashMap<Channel, Vec<Arc<dyn Provider>>>) -> Result<Routes, String> {
        for (channel, providers) in &order {
            if let Some(p) = providers.iter().find(|p| !p.supports(*channel)) {
                return Err(format!(
                    "routes.{}: provider {:?} cannot deliver this channel",
                    channel.as_str(),
                    p.name()
                ));
            }
        }
        Ok(Routes::from_map(order))
    }

    fn from_map(by_channel: HashMap<Channel, Vec<Arc<dyn Provider>>>) -> Routes {
        let mut r = Routes {
            by_channel,
            ..Routes::default()
        };
        r.make_breakers();
        r
    }

    fn make_breakers(&mut self) {
        self.breakers = self
            .by_channel
            .values()
            .chain(self.by_country.values())
            .flatten()
            .map(|p| {
                (
                    p.name().to_owned(),
                    Arc::new(Breaker::new(self.breaker_config)),
                )
            })
            .collect();
    }

    /// Sets how many transient failures in a row open a provider's circuit, and for how long.
    pub fn with_breaker(mut self, config: BreakerConfig) -> Routes {
        self.breaker_config = config;
        self.make_breakers();
        self
    }

    /// Numbers of `country` (ISO 3166-1 alpha-2) on `channel` go through `providers` instead.
    pub fn with_country(
        mut self,
        country: &str,
        channel: Channel,
        providers: Vec<Arc<dyn Provider>>,
    ) -> Result<Routes, String> {
        if channel == Channel::Email {
            return Err(format!("routes.countries.{country}: e-mail has no country"));
        }
        if let Some(p) = providers.iter().find(|p| !p.supports(channel)) {
            return Err(format!(
                "routes.countries.{country}.{}: provider {:?} cannot deliver this channel",
                channel.as_str(),
                p.name()
            ));
        }
        self.by_country
            .insert((country.to_ascii_uppercase(), channel), providers);
        self.make_breakers();
        Ok(self)
    }

    /// The providers for one destination: its country's route when there is one.
    pub fn for_destination(&self, channel: Channel, to: &str) -> &[Arc<dyn Provider>] {
        if !self.by_country.is_empty() && channel != Channel::Email {
            // Only paid for when country routes are configured.
            let country = otpd_core::destination::PhoneE164::from_trusted(to.to_owned()).country();
            if let Some(list) = country.and_then(|c| self.by_country.get(&(c, channel))) {
                return list;
            }
        }
        self.for_channel(channel)
    }

    /// Every channel through one provider (the development default).
    pub fn all_through(p: Arc<dyn Provider>) -> Routes {
        Routes::from_map(Channel::ALL.iter().map(|c| (*c, vec![p.clone()])).collect())
    }

    pub fn for_channel(&self, channel: Channel) -> &[Arc<dyn Provider>] {
        self.by_channel
            .get(&channel)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn breaker(&self, provider: &str) -> Option<&Arc<Breaker>> {
        self.breakers.get(provider)
    }

    /// Closes every routed provider once (at shutdown).
    pub async fn close(&self) {
        let mut seen = std::collections::HashSet::new();
        for p in self
            .by_channel
            .values()
            .chain(self.by_country.values())
            .flatten()
        {
            if seen.insert(p.name().to_owned()) {
                p.close().await;
            }
        }
    }

    pub fn uses(&self, name: &str) -> bool {
        self.by_channel
            .values()
            .chain(self.by_country.values())
            .flatten()
            .any(|p| p.name() == name)
    }
}
