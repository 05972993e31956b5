//! 2FA send to person (seed 003), behind Azure API Management:
//! `POST /2fa/2FactorAuthentication/TwoFaCommand/Send2FactorAuthenticationCodeToPerson`
//! `{PersonId, Language?, ContextId?, TwoFactorId?, Medium?}` and the companion
//! `.../TwoFaCommand/Verify2FactorAuthenticationCode` `{PersonId, ContextId?, TwoFactorId?, Code}`.
//!
//! `Ocp-Apim-Subscription-Key` carries an otpd key's token (`<key_id>.<secret>`). Every answer
//! past the gateway is the seed's envelope; `Hint` is the masked destination. The code is bound
//! to the person and the `ContextId`; `TwoFactorId` selects the service by its `number`.

pub mod envelope;

use crate::body::{media_type_is, read_body};
use crate::error::{ApiError, log_server_error};
use crate::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use envelope::{Envelope, Failure, apim_unauthorized, read_properties};
use otpd_core::Error;
use otpd_core::code::Code;
use otpd_core::destination::Channel;
use otpd_core::engine_persons::PersonSend;
use otpd_core::person::PersonId;
use otpd_core::render::Locale;
use otpd_core::tenant::{Principal, Scope};
use otpd_core::verification::Status;
use serde_json::Value;

pub const SEND_PATH: &str =
    "/2fa/2FactorAuthentication/TwoFaCommand/Send2FactorAuthenticationCodeToPerson";
pub const VERIFY_PATH: &str =
    "/2fa/2FactorAuthentication/TwoFaCommand/Verify2FactorAuthenticationCode";
pub const MAX_CONTEXT_ID: usize = 128;

const SEND_PROPERTIES: &[&str] = &["PersonId", "Language", "ContextId", "TwoFactorId", "Medium"];
const VERIFY_PROPERTIES: &[&str] = &["PersonId", "ContextId", "TwoFactorId", "Code"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(SEND_PATH, post(send_code_to_person))
        .route(VERIFY_PATH, post(verify_code))
}

/// The gateway: the subscription key, then the scope. Both failures are APIM's 401.
async fn subscriber(
    state: &AppState,
    headers: &HeaderMap,
    uri: &str,
) -> Result<Principal, Response> {
    let Some(value) = headers.get("ocp-apim-subscription-key") else {
        return Err(apim_unauthorized(true));
    };
    let token = value.to_str().map(str::trim).unwrap_or_default();
    if token.is_empty() {
        return Err(apim_unauthorized(true));
    }
    match state.engine.authenticate_token(token).await {
        Ok(who) if who.require(Scope::Verify).is_ok() => Ok(who),
        Ok(_) | Err(Error::Unauthorized) => Err(apim_unauthorized(false)),
        Err(e) => Err(core_error(&e, uri)),
    }
}

fn request_uri(req: &Request) -> String {
    req.uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned())
}

/// Reads and checks the body; the properties by canonical name, or the envelope to answer.
async fn command(
    req: Request,
    known: &[&'static str],
    uri: &str,
) -> Result<Vec<(&'static str, String)>, Response> {
    if !media_type_is(req.headers(), &["application/json", "text/json"]) {
        return Err(Envelope::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            uri,
            "Content-Type must be application/json.",
        )
        .into_response());
    }
    let bytes = read_body(req).await.map_err(|e| match e {
        ApiError::PayloadTooLarge => Envelope::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            uri,
            "The request body is larger than 64 KiB.",
        )
        .into_response(),
        _ => Envelope::error(
            StatusCode::BAD_REQUEST,
            uri,
            "The request body could not be read.",
        )
        .into_response(),
    })?;
    read_properties(&bytes, known).map_err(|f| Envelope::invalid(uri, f).into_response())
}

fn get<'a>(props: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
    props
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
}

/// Trimmed, empty as absent.
fn optional<'a>(props: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
    get(props, name).map(str::trim).filter(|s| !s.is_empty())
}

fn attempted(v: Option<&str>) -> Value {
    v.map_or(Value::Null, |s| Value::String(s.to_owned()))
}

/// The fields both commands share: PersonId (required GUID), ContextId (<= 128), TwoFactorId
/// (a service number).
struct Common {
    person_id: Option<PersonId>,
    context_id: Option<String>,
    service_number: Option<i64>,
}

fn common(props: &[(&'static str, String)], failures: &mut Vec<Failure>) -> Common {
    let raw_person = get(props, "PersonId");
    let person_id = match raw_person.map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            failures.push(Failure::not_empty("PersonId", attempted(raw_person)));
            None
        }
        Some(s) => match PersonId::parse(s, "PersonId") {
            Ok(id) => Some(id),
            Err(_) => {
                failures.push(Failure::predicate(
                    "PersonId",
                    "'{PropertyName}' must be a GUID.",
                    attempted(raw_person),
                ));
                None
            }
        },
    };
    let context_id = optional(props, "ContextId").map(str::to_owned);
    if let Some(c) = &context_id {
        let n = c.chars().count();
        if n > MAX_CONTEXT_ID || c.chars().any(char::is_control) {
            failures.push(Failure::new(
                "ContextId",
                "MaximumLengthValidator",
                &format!(
                    "The length of '{{PropertyName}}' must be {MAX_CONTEXT_ID} characters or fewer, without control characters. You entered {n} characters."
                ),
                attempted(Some(c)),
            ));
        }
    }
    let service_number = optional(props, "TwoFactorId").and_then(|s| match s.parse::<i64>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            failures.push(Failure::predicate(
                "TwoFactorId",
                "'{PropertyName}' must be the number of a service (1, 2, ...).",
                attempted(Some(s)),
            ));
            None
        }
    });
    Common {
        person_id,
        context_id,
        service_number,
    }
}

/// A core error in the envelope, with a truthful status.
fn core_error(e: &Error, uri: &str) -> Response {
    log_server_error(e);
    let field_failure = |property: &str, reason: &str| {
        Envelope::invalid(
            uri,
            vec![Failure::predicate(
                property,
                &format!("'{{PropertyName}}': {reason}."),
                Value::Null,
            )],
        )
    };
    let env = match e {
        Error::Invalid { field, reason } => {
            let property = match field.as_ref() {
                "medium" => "Medium",
                "language" | "locale" => "Language",
                "to" => "PersonId",
                other => other,
            };
            field_failure(property, reason)
        }
        Error::NotFound("service") => field_failure("TwoFactorId", "no service has this number"),
        Error::NotFound("person") => {
            Envelope::error(StatusCode::NOT_FOUND, uri, "No person has this PersonId.")
        }
        Error::NotFound(what) => Envelope::error(
            StatusCode::NOT_FOUND,
            uri,
            format!("The {what} was not found."),
        ),
        Error::Unauthorized => Envelope::error(StatusCode::UNAUTHORIZED, uri, "Access denied."),
        Error::Forbidden(why) => Envelope::error(StatusCode::FORBIDDEN, uri, why.to_string()),
        Error::Conflict(why) => Envelope::error(StatusCode::CONFLICT, uri, why.to_string()),
        Error::RateLimited {
            reason,
            retry_after_secs,
        } => Envelope::error(StatusCode::TOO_MANY_REQUESTS, uri, *reason)
            .with_retry_after(*retry_after_secs),
        Error::Unavailable(_) => Envelope::error(
            StatusCode::SERVICE_UNAVAILABLE,
            uri,
            "The service is temporarily unavailable; retry shortly.",
        )
        .with_retry_after(1),
        Error::Internal(_) => Envelope::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            uri,
            "An internal error occurred.",
        ),
    };
    env.into_response()
}

/// `Send2FactorAuthenticationCodeToPerson`.
pub async fn send_code_to_person(State(state): State<AppState>, req: Request) -> Response {
    let uri = request_uri(&req);
    let headers = req.headers().clone();
    let who = match subscriber(&state, &headers, &uri).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let props = match command(req, SEND_PROPERTIES, &uri).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut failures = Vec::new();
    let c = common(&props, &mut failures);
    let language = optional(&props, "Language").and_then(|s| match Locale::parse(s, "Language") {
        Ok(l) => Some(l),
        Err(_) => {
            failures.push(Failure::predicate(
                "Language",
                "'{PropertyName}' must be a language tag such as en, nl or pt-BR.",
                attempted(Some(s)),
            ));
            None
        }
    });
    let channel = match optional(&props, "Medium") {
        None => Some(Channel::Sms),
        Some(m) if m.eq_ignore_ascii_case("sms") => Some(Channel::Sms),
        Some(m) if m.eq_ignore_ascii_case("email") => Some(Channel::Email),
        Some(m) => {
            failures.push(Failure::predicate(
                "Medium",
                "'{PropertyName}' must be sms or email.",
                attempted(Some(m)),
            ));
            None
        }
    };
    let (Some(person_id), Some(channel), true) = (c.person_id, channel, failures.is_empty()) else {
        return Envelope::invalid(&uri, failures).into_response();
    };
    let send = PersonSend {
        person_id,
        channel,
        language,
        context_id: c.context_id,
        service_number: c.service_number,
    };
    match state.engine.send_to_person(&who, send).await {
        Ok(sent) => Envelope::ok(&uri, sent.hint).into_response(),
        Err(e) => core_error(&e, &uri),
    }
}

/// `Verify2FactorAuthenticationCode`: the code last sent to the person for this context.
pub async fn verify_code(State(state): State<AppState>, req: Request) -> Response {
    let uri = request_uri(&req);
    let headers = req.headers().clone();
    let who = match subscriber(&state, &headers, &uri).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let props = match command(req, VERIFY_PROPERTIES, &uri).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut failures = Vec::new();
    let c = common(&props, &mut failures);
    let raw_code = get(&props, "Code");
    let code = match raw_code.map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            failures.push(Failure::not_empty("Code", attempted(raw_code)));
            None
        }
        Some(s) => match Code::candidate(s, "Code") {
            Ok(code) => Some(code),
            Err(_) => {
                // Never echo what might be a code.
                failures.push(Failure::predicate(
                    "Code",
                    "'{PropertyName}' must be letters and digits only.",
                    Value::Null,
                ));
                None
            }
        },
    };
    let (Some(person_id), Some(code), true) = (c.person_id, code, failures.is_empty()) else {
        return Envelope::invalid(&uri, failures).into_response();
    };
    let checked = state
        .engine
        .verify_person_code(
            &who,
            &person_id,
            c.context_id.as_deref(),
            c.service_number,
            code,
        )
        .await;
    match checked {
        Ok(Some(ch)) if ch.outcome.valid => {
            Envelope::ok(&uri, ch.verification.to.masked()).into_response()
        }
        Ok(Some(ch)) => {
            let now = state.engine.now();
            let reason = match ch.verification.status_at(now) {
                Status::Pending => "'{PropertyName}' is not valid.",
                Status::Expired => "'{PropertyName}' has expired; request a new one.",
                Status::MaxAttemptsReached => "Too many wrong codes were tried; request a new one.",
                Status::Approved => "'{PropertyName}' was already used.",
                Status::Canceled | Status::Failed => {
                    "'{PropertyName}' is no longer valid; request a new one."
                }
            };
            Envelope::invalid(&uri, vec![Failure::predicate("Code", reason, Value::Null)])
                .into_response()
        }
        Ok(None) => Envelope::error(
            StatusCode::NOT_FOUND,
            &uri,
            "No code was sent to this person for this context.",
        )
        .into_response(),
        Err(e) => core_error(&e, &uri),
    }
}
