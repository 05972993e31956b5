//! Exigo Web Services API, `SendAuthorizationMFACode` (seed 000): REST
//! `POST /3.0/sms/authorizationmfa` and SOAP 1.1 / 1.2 `POST /3.0/ExigoApi.asmx`, with the WSDL
//! at `GET /3.0/ExigoApi.asmx?WSDL`. The caller chooses the code; otpd stores it (hashed) as a
//! verification on the tenant's first service and sends `<message> <code>` by SMS, so the code
//! can also be checked through `/v1`.
//!
//! Credentials: login = key id, password = key secret, company = the key's tenant slug.

pub mod rest;
pub mod soap;

use crate::state::AppState;
use axum::Router;
use axum::routing::post;
use otpd_core::Error;
use otpd_core::code::Code;
use otpd_core::destination::{Channel, Destination};
use otpd_core::engine::{Engine, StartInput};
use otpd_core::tenant::Principal;

pub const NAMESPACE: &str = "http://api.exigo.com/";
pub const SOAP_ACTION: &str = "https://api.exigo.com/SendAuthorizationMFACode";
pub const DEFAULT_MESSAGE: &str = "Backoffice Authentication code:";
pub const REST_PATH: &str = "/3.0/sms/authorizationmfa";
pub const SOAP_PATH: &str = "/3.0/ExigoApi.asmx";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(REST_PATH, post(rest::send_authorization_mfa_code))
        .route(
            SOAP_PATH,
            post(soap::post_exigo_api).get(soap::get_exigo_api),
        )
}

/// `SendAuthorizationMFACodeRequest`, as either face read it.
#[derive(Debug, Default)]
pub struct SendRequest {
    pub to_number: Option<String>,
    pub message: Option<String>,
    pub code: Option<String>,
}

/// How a face names the request's fields in its errors (`toNumber` in JSON, `ToNumber` in XML).
pub struct FieldNames {
    pub to_number: &'static str,
    pub message: &'static str,
    pub code: &'static str,
}

impl FieldNames {
    /// The core's field name in this face's spelling.
    pub fn wire<'a>(&self, core_field: &'a str) -> &'a str {
        match core_field {
            "message" => self.message,
            "code" | "custom_code" => self.code,
            "to" => self.to_number,
            other => other,
        }
    }
}

/// `login@company` + password to a principal of the company's tenant; one error for all misses.
pub async fn authenticate(
    engine: &Engine,
    login_at_company: &str,
    password: &str,
) -> Result<Principal, Error> {
    match login_at_company.rsplit_once('@') {
        Some((login, company)) => {
            engine
                .authenticate_in_tenant(login, password, company)
                .await
        }
        None => Err(Error::Unauthorized),
    }
}

/// Validates the request, then starts the verification with the caller's code.
pub async fn send(
    engine: &Engine,
    who: &Principal,
    req: SendRequest,
    names: &FieldNames,
) -> Result<(), Error> {
    let to = req
        .to_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::invalid(names.to_number, "is required"))?;
    let to = Destination::parse_for(Channel::Sms, to, names.to_number)?;
    let code = req
        .code
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::invalid(names.code, "is required"))?;
    let code = Code::custom(code, names.code)?;
    // Optional: absent or blank takes Exigo's default wording.
    let message = req
        .message
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| DEFAULT_MESSAGE.to_owned());
    let service = engine.service_by_number(who, None).await?;
    let input = StartInput {
        custom_code: Some(code),
        custom_code_by_contract: true,
        message: Some(message),
        ..StartInput::new(to, Channel::Sms)
    };
    engine.start_with_service(who, service, input).await?;
    Ok(())
}

/// A readable sentence for the caller, in the face's field names. 500s say nothing.
pub fn describe(e: &Error, names: &FieldNames) -> String {
    match e {
        Error::Invalid { field, reason } => format!("{}: {reason}", names.wire(field)),
        Error::Unauthorized => "Invalid login, password or company.".to_owned(),
        Error::Internal(_) => "An internal error occurred.".to_owned(),
        Error::Unavailable(_) => {
            "The service is temporarily unavailable; retry shortly.".to_owned()
        }
        other => other.to_string(),
    }
}
