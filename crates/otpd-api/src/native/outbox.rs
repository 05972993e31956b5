//! `GET /v1/outbox`: what the development `outbox` provider kept (admin scope).

use super::types::OutboxMessageResponse;
use crate::auth::Auth;
use crate::body::QueryParams;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::time::rfc3339;
use axum::Json;
use axum::extract::State;
use otpd_core::Error;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
pub struct OutboxQuery {
    /// Only messages to this destination.
    pub to: Option<String>,
    /// At most this many (1..=1000, default 100).
    pub limit: Option<usize>,
}

/// Messages kept by the `outbox` provider, newest first. 404 when that provider is not routed.
#[utoipa::path(get, path = "/v1/outbox", tag = "development",
    params(OutboxQuery),
    responses((status = 200, body = [OutboxMessageResponse]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn list_outbox(
    State(state): State<AppState>,
    Auth(who): Auth,
    QueryParams(q): QueryParams<OutboxQuery>,
) -> Result<Json<Vec<OutboxMessageResponse>>, ApiError> {
    if !state.outbox_enabled {
        return Err(Error::NotFound("outbox (the outbox provider is not in use)").into());
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "must be between 1 and 1000").into());
    }
    let msgs = state.engine.outbox(&who, q.to.as_deref(), limit).await?;
    Ok(Json(
        msgs.into_iter()
            .map(|m| OutboxMessageResponse {
                id: m.id,
                to: m.to,
                channel: m.channel.as_str().to_owned(),
                body: m.body,
                created_at: rfc3339(m.created_at),
            })
            .collect(),
    ))
}
