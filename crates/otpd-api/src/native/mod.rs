//! The native `/v1` API (DESIGN §4).

pub mod outbox;
pub mod persons;
pub mod services;
pub mod types;
pub mod verifications;

use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/services",
            post(services::post_service).get(services::list_services),
        )
        .route("/v1/services/{service_id}", get(services::get_service))
        .route(
            "/v1/services/{service_id}/verifications",
            post(verifications::post_verification),
        )
        .route(
            "/v1/services/{service_id}/verifications/{verification_id}",
            get(verifications::get_verification),
        )
        .route(
            "/v1/services/{service_id}/verifications/{verification_id}/check",
            post(verifications::check_verification),
        )
        .route(
            "/v1/services/{service_id}/verifications/{verification_id}/cancel",
            post(verifications::cancel_verification),
        )
        .route(
            "/v1/services/{service_id}/checks",
            post(verifications::check_destination),
        )
        .route("/v1/outbox", get(outbox::list_outbox))
        .route("/v1/persons", post(persons::post_person))
        .route(
            "/v1/persons/{person_id}",
            get(persons::get_person)
                .put(persons::put_person)
                .delete(persons::delete_person),
        )
        .route(
            "/v1/persons/{person_id}/password",
            post(persons::post_password),
        )
}
