//! `/v1/persons`: the directory of persons and customer users (DESIGN §4, admin scope).

use crate::auth::Auth;
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::time::rfc3339;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use otpd_core::person::{Person, PersonInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonRequest {
    /// A GUID; generated when absent. On PUT it must match the path when given.
    pub id: Option<String>,
    /// International number; separators are accepted and removed (`+31 6 1234 5678`).
    pub phone: Option<String>,
    pub email: Option<String>,
    /// BCP 47 language tag for messages (`de`, `pt-BR`).
    pub language: Option<String>,
    pub name: Option<String>,
}

impl From<PersonRequest> for PersonInput {
    fn from(r: PersonRequest) -> PersonInput {
        PersonInput {
            id: r.id,
            phone: r.phone,
            email: r.email,
            language: r.language,
            name: r.name,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonResponse {
    pub id: String,
    /// E.164.
    pub phone: Option<String>,
    pub email: Option<String>,
    pub language: Option<String>,
    pub name: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Person> for PersonResponse {
    fn from(p: &Person) -> Self {
        PersonResponse {
            id: p.id.as_str().to_owned(),
            phone: p.phone.as_ref().map(|x| x.as_str().to_owned()),
            email: p.email.as_ref().map(|x| x.as_str().to_owned()),
            language: p.language.as_ref().map(|x| x.as_str().to_owned()),
            name: p.name.clone(),
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// 12 to 256 characters, not the current password, not the e-mail address.
    pub password: String,
    /// A temporary password must be replaced at the next confirmed MFA login.
    #[serde(default)]
    pub temporary: bool,
}

/// Add a person (201). 409 when the id or the e-mail address is taken.
#[utoipa::path(post, path = "/v1/persons", tag = "persons",
    request_body = PersonRequest,
    responses((status = 201, body = PersonResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn post_person(
    State(state): State<AppState>,
    Auth(who): Auth,
    JsonBody(req): JsonBody<PersonRequest>,
) -> Result<(StatusCode, Json<PersonResponse>), ApiError> {
    let p = state.engine.create_person(&who, req.into()).await?;
    Ok((StatusCode::CREATED, Json(PersonResponse::from(&p))))
}

/// Read a person.
#[utoipa::path(get, path = "/v1/persons/{person_id}", tag = "persons",
    params(("person_id" = String, Path)),
    responses((status = 200, body = PersonResponse), (status = 404, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn get_person(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<PersonResponse>, ApiError> {
    let p = state.engine.person(&who, &id).await?;
    Ok(Json(PersonResponse::from(&p)))
}

/// Replace a person's fields (the password stays).
#[utoipa::path(put, path = "/v1/persons/{person_id}", tag = "persons",
    params(("person_id" = String, Path)), request_body = PersonRequest,
    responses((status = 200, body = PersonResponse), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn put_person(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PersonRequest>,
) -> Result<Json<PersonResponse>, ApiError> {
    let p = state.engine.replace_person(&who, &id, req.into()).await?;
    Ok(Json(PersonResponse::from(&p)))
}

/// Delete a person and their password (204).
#[utoipa::path(delete, path = "/v1/persons/{person_id}", tag = "persons",
    params(("person_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn delete_person(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.delete_person(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a customer user's password (204); `temporary` ones must be replaced at the next login.
#[utoipa::path(post, path = "/v1/persons/{person_id}/password", tag = "persons",
    params(("person_id" = String, Path)), request_body = PasswordRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn post_password(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .engine
        .set_person_password(&who, &id, &req.password, req.temporary)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
