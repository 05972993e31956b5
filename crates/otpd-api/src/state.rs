use metrics_exporter_prometheus::PrometheusHandle;
use otpd_core::engine::Engine;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub metrics: PrometheusHandle,
    /// `GET /v1/outbox` answers only while the `outbox` provider is routed.
    pub outbox_enabled: bool,
    /// Accounts whose status callbacks `/v1/hooks/twilio/status` accepts, by provider name.
    pub twilio_hooks: Arc<crate::hooks::TwilioHooks>,
}
