//! Which providers carry which channel, in failover order.

use crate::provider::Provider;
use otpd_core::destination::Channel;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Routes {
    by_channel: HashMap<Channel, Vec<Arc<dyn Provider>>>,
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
        Ok(Routes { by_channel: order })
    }

    /// Every channel through one provider (the development default).
    pub fn all_through(p: Arc<dyn Provider>) -> Routes {
        Routes {
            by_channel: Channel::ALL.iter().map(|c| (*c, vec![p.clone()])).collect(),
        }
    }

    pub fn for_channel(&self, channel: Channel) -> &[Arc<dyn Provider>] {
        self.by_channel
            .get(&channel)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn uses(&self, name: &str) -> bool {
        self.by_channel.values().flatten().any(|p| p.name() == name)
    }
}
