use crate::error::ApiError;
use crate::state::AppState;
use crate::{health, metrics, native, openapi};
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::routing::get;
use tower_http::trace::TraceLayer;

/// Every body, in every dialect, is at most 64 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(native::routes())
        .merge(crate::dialects::signalwire::routes())
        .merge(crate::dialects::exigo::routes())
        .merge(crate::dialects::twofactor::routes())
        .merge(crate::dialects::twofa::routes())
        .merge(crate::dialects::brightoffice::routes())
        .merge(crate::hooks::routes())
        .merge(crate::dialects::twilio_verify::routes())
        .route("/healthz", get(health::get_health))
        .route("/readyz", get(health::get_ready))
        .route("/metrics", get(health::get_metrics))
        .route("/v1/openapi.json", get(openapi::get_openapi))
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(metrics::track))
        // The span names the route template only: URLs can carry phone numbers (`?to=`).
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "unmatched".to_owned());
            tracing::info_span!("http", method = %req.method(), route = %route)
        }))
        .with_state(state)
}
