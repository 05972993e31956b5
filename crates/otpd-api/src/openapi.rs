//! The OpenAPI 3.1 document, generated from the handlers and types (utoipa), served as JSON.

use crate::error::{ErrorBody, ErrorDetail};
use crate::native::types::*;
use crate::{health, native};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct BasicAuth;

impl Modify for BasicAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("key_id:secret; Bearer <key_id>.<secret> also works"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "otpd", description = "Self-hosted one-time-passcode service: native API."),
    paths(
        native::services::post_service,
        native::services::list_services,
        native::services::get_service,
        native::verifications::post_verification,
        native::verifications::get_verification,
        native::verifications::check_verification,
        native::verifications::check_destination,
        native::verifications::cancel_verification,
        native::outbox::list_outbox,
        native::persons::post_person,
        native::persons::get_person,
        native::persons::put_person,
        native::persons::delete_person,
        native::persons::post_password,
        health::get_health,
        health::get_ready,
        health::get_metrics,
    ),
    components(schemas(
        CreateServiceRequest, ServiceResponse, ServiceList, SendLimitBody,
        StartVerificationRequest, VerificationResponse, CheckRequest, CheckDestinationRequest,
        CheckResponse, DeliveryView, OutboxMessageResponse, ErrorBody, ErrorDetail,
        native::persons::PersonRequest, native::persons::PersonResponse,
        native::persons::PasswordRequest
    )),
    modifiers(&BasicAuth)
)]
pub struct ApiDoc;

pub async fn get_openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
