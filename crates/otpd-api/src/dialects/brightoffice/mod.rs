//! BrightOffice API (seed 002): `ConfirmCustomerUserMFA` and its companion
//! `RequestCustomerUserMFA` on `POST /Webservices/BrightOfficeAPI.asmx`, SOAP 1.1 (`text/xml` +
//! `SOAPAction`) and SOAP 1.2 (`application/soap+xml; action=...`) on the one endpoint, with the
//! WSDL (both bindings) at `GET ?WSDL`.
//!
//! `UserInfo` = the API user: `Username` = key id, `Password` = key secret. `CustomerInfo` names
//! the customer user by `Id` (GUID) or `Email`. Every outcome is a `SuccessCode` (DESIGN §3);
//! only a message that is not a usable SOAP request at all gets a SOAP fault.

use crate::body::read_body;
use crate::error::{ApiError, log_server_error};
use crate::soap::{self, Element, Fault, FaultCode, SoapVersion, write, wsdl};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use otpd_core::Error;
use otpd_core::engine_persons::{CustomerConfirm, CustomerLogin};
use otpd_core::tenant::{Principal, Scope};
use std::sync::Arc;
use tokio::sync::Semaphore;

pub const PATH: &str = "/Webservices/BrightOfficeAPI.asmx";
pub const NAMESPACE: &str = "http://tempuri.org/";
const WSDL: &str = include_str!("BrightOfficeAPI.wsdl");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Confirm,
    Request,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Confirm => "ConfirmCustomerUserMFA",
            Operation::Request => "RequestCustomerUserMFA",
        }
    }

    fn of(el: &Element) -> Option<Operation> {
        [Operation::Confirm, Operation::Request]
            .into_iter()
            .find(|op| el.is(NAMESPACE, op.name()))
    }
}

/// The seed's `SuccessCode`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuccessCode {
    Success,
    SystemError,
    LoginError,
    Other,
    MissingRecord,
    ParameterError,
}

impl SuccessCode {
    pub fn as_str(self) -> &'static str {
        match self {
            SuccessCode::Success => "SUCCESS",
            SuccessCode::SystemError => "SYSTEMERROR",
            SuccessCode::LoginError => "LOGINERROR",
            SuccessCode::Other => "OTHER",
            SuccessCode::MissingRecord => "MISSINGRECORD",
            SuccessCode::ParameterError => "PARAMETERERROR",
        }
    }
}

/// What an operation answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: SuccessCode,
    pub message: String,
}

impl Outcome {
    fn new(code: SuccessCode, message: impl Into<String>) -> Outcome {
        Outcome {
            code,
            message: message.into(),
        }
    }
}

/// The one sentence every customer-credential miss gets, so none tells more than another.
pub const CUSTOMER_LOGIN_ERROR: &str = "The customer's login details are incorrect.";
pub const API_LOGIN_ERROR: &str = "The API user name or password is incorrect.";

/// A core field in the seed's spelling.
fn wire_field(core: &str) -> &str {
    match core {
        "id" => "Id",
        "email" => "Email",
        "password" => "Password",
        "temporary_password" => "TemporaryPassword",
        "new_password" => "NewPassword",
        "code" => "MFACode",
        other => other,
    }
}

/// Every core error as a `SuccessCode`; the one mapping both operations use.
pub fn outcome_of(e: &Error) -> Outcome {
    log_server_error(e);
    match e {
        Error::Invalid { field, reason } => Outcome::new(
            SuccessCode::ParameterError,
            format!("{}: {reason}", wire_field(field)),
        ),
        Error::Unauthorized => Outcome::new(SuccessCode::LoginError, CUSTOMER_LOGIN_ERROR),
        Error::Forbidden(_) => Outcome::new(SuccessCode::LoginError, API_LOGIN_ERROR),
        Error::NotFound(what) => Outcome::new(
            SuccessCode::MissingRecord,
            format!("The {what} was not found."),
        ),
        Error::RateLimited { reason, .. } => Outcome::new(SuccessCode::Other, *reason),
        Error::Conflict(why) => Outcome::new(SuccessCode::Other, why.to_string()),
        Error::Unavailable(_) | Error::Internal(_) => {
            Outcome::new(SuccessCode::SystemError, "An internal error occurred.")
        }
    }
}

fn result_xml(op: Operation, o: &Outcome) -> String {
    let system = o.code == SuccessCode::SystemError;
    let exception = if system {
        "<ExceptionMessage>The request could not be completed; retry later.</ExceptionMessage>"
    } else {
        ""
    };
    let inner = format!(
        "<{op}Result><SuccessCode>{}</SuccessCode><Message>{}</Message>{exception}<IsSystemError>{system}</IsSystemError></{op}Result>",
        o.code.as_str(),
        write::escape_text(&o.message),
        op = op.name(),
    );
    write::element_ns(&format!("{}Response", op.name()), NAMESPACE, &inner)
}

/// Customer logins hash passwords with argon2id (tens of milliseconds and 19 MiB each). They
/// run on the blocking pool, at most this many at a time, so request workers never stall on
/// them and a flood of logins queues instead of taking all memory.
#[derive(Clone)]
struct LoginSlots(Arc<Semaphore>);

pub fn routes() -> Router<AppState> {
    let slots = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    Router::new()
        .route(PATH, post(post_brightoffice_api).get(get_brightoffice_api))
        .layer(Extension(LoginSlots(Arc::new(Semaphore::new(slots)))))
}

/// `GET ?WSDL`: the WSDL; without it, a pointer.
pub async fn get_brightoffice_api(headers: HeaderMap, uri: Uri) -> Response {
    if wsdl::wants_wsdl(uri.query()) {
        return wsdl::wsdl_response(WSDL, &headers, PATH);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "BrightOfficeAPI: post SOAP 1.1 or 1.2 requests here; the WSDL is at ?WSDL\n",
    )
        .into_response()
}

async fn post_brightoffice_api(
    State(state): State<AppState>,
    Extension(slots): Extension<LoginSlots>,
    req: Request,
) -> Response {
    match handle(&state, &slots, req).await {
        Ok(resp) => resp,
        Err(fault) => fault.into_response(),
    }
}

async fn handle(state: &AppState, slots: &LoginSlots, req: Request) -> Result<Response, Fault> {
    let headers = req.headers().clone();
    let Some(version) = SoapVersion::from_content_type(&headers) else {
        return Err(Fault::client(
            SoapVersion::V11,
            "Content-Type must be text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2).",
        )
        .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    };
    let bytes = read_body(req).await.map_err(|e| match e {
        ApiError::PayloadTooLarge => Fault::client(version, "The request is larger than 64 KiB.")
            .with_status(StatusCode::PAYLOAD_TOO_LARGE),
        _ => Fault::client(version, "The request could not be read."),
    })?;
    let envelope = soap::parse(&bytes).map_err(|e| Fault::from_parse(version, &e))?;
    if envelope.version != version {
        return Err(Fault::new(
            version,
            FaultCode::VersionMismatch,
            "The envelope's SOAP version does not match the Content-Type.",
        ));
    }
    if let Some(h) = envelope.headers.iter().find(|h| h.must_understand) {
        return Err(Fault::new(
            version,
            FaultCode::MustUnderstand,
            format!("SOAP header {} was not understood.", h.name),
        ));
    }
    let body = envelope.operation();
    let op = body.and_then(Operation::of).ok_or_else(|| {
        let name = body.map(|b| b.name.as_str()).unwrap_or("");
        Fault::client(
            version,
            format!("Server did not recognize the request element '{name}'; expected ConfirmCustomerUserMFA or RequestCustomerUserMFA in {NAMESPACE}."),
        )
    })?;
    if let Some(action) = soap::requested_action(version, &headers)
        && action != format!("{NAMESPACE}{}", op.name())
    {
        return Err(Fault::client(
            version,
            format!("Server did not recognize the value of HTTP Header SOAPAction: {action}."),
        ));
    }
    let el = body.ok_or_else(|| Fault::client(version, "The SOAP body is empty."))?;
    let outcome = match slots.0.acquire().await {
        Ok(_permit) => {
            let (state, el) = (state.clone(), el.clone());
            tokio::task::spawn_blocking(move || {
                tokio::runtime::Handle::current().block_on(run(&state, op, &el))
            })
            .await
            .unwrap_or_else(|e| outcome_of(&Error::Internal(format!("a login task failed: {e}"))))
        }
        Err(_) => outcome_of(&Error::Internal("the login slots are closed".into())),
    };
    Ok(write::response(
        version,
        StatusCode::OK,
        &result_xml(op, &outcome),
    ))
}

fn text(parent: Option<&Element>, name: &str) -> Option<String> {
    parent
        .and_then(|p| p.child_text(NAMESPACE, name))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `UserInfo` to a principal with the verify scope; every miss is the API's LOGINERROR.
async fn api_user(state: &AppState, el: &Element) -> Result<Principal, Outcome> {
    let user = el.child(NAMESPACE, "UserInfo");
    let login = || Outcome::new(SuccessCode::LoginError, API_LOGIN_ERROR);
    let (Some(name), Some(password)) = (text(user, "Username"), text(user, "Password")) else {
        return Err(login());
    };
    match state.engine.authenticate(&name, &password).await {
        Ok(who) if who.require(Scope::Verify).is_ok() => Ok(who),
        Ok(_) | Err(Error::Unauthorized) => Err(login()),
        Err(e) => Err(outcome_of(&e)),
    }
}

/// .NET clients send `Guid.Empty` for an Id they do not know: that is no Id.
fn guid_given(id: Option<String>) -> Option<String> {
    id.filter(|s| s.chars().any(|c| c.is_ascii_alphanumeric() && c != '0'))
}

async fn run(state: &AppState, op: Operation, el: &Element) -> Outcome {
    let who = match api_user(state, el).await {
        Ok(w) => w,
        Err(o) => return o,
    };
    let c = el.child(NAMESPACE, "CustomerInfo");
    let login = CustomerLogin {
        id: guid_given(text(c, "Id")),
        email: text(c, "Email"),
        password: c
            .and_then(|c| c.child_text(NAMESPACE, "Password"))
            .map(str::to_owned),
        temporary_password: c
            .and_then(|c| c.child_text(NAMESPACE, "TemporaryPassword"))
            .map(str::to_owned),
        new_password: c
            .and_then(|c| c.child_text(NAMESPACE, "NewPassword"))
            .map(str::to_owned),
    };
    let engine = &state.engine;
    match op {
        Operation::Request => match engine.request_customer_mfa(&who, &login).await {
            Ok(hint) => Outcome::new(
                SuccessCode::Success,
                format!("An MFA code was sent to {hint}."),
            ),
            Err(e) => outcome_of(&e),
        },
        Operation::Confirm => {
            let code = text(c, "MFACode");
            match engine
                .confirm_customer_mfa(&who, &login, code.as_deref())
                .await
            {
                Ok(CustomerConfirm::Confirmed { password_replaced }) => Outcome::new(
                    SuccessCode::Success,
                    if password_replaced {
                        "The MFA code is confirmed and the new password is set."
                    } else {
                        "The MFA code is confirmed."
                    },
                ),
                Ok(CustomerConfirm::WrongCode) => Outcome::new(
                    SuccessCode::Other,
                    "The MFA code is wrong, has expired or was tried too often.",
                ),
                Ok(CustomerConfirm::NoPendingCode) => Outcome::new(
                    SuccessCode::MissingRecord,
                    "No MFA code is waiting for this customer; request one first.",
                ),
                Err(e) => outcome_of(&e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_error_has_its_success_code() {
        let code = |e: Error| outcome_of(&e).code;
        assert_eq!(
            code(Error::invalid("new_password", "x")),
            SuccessCode::ParameterError
        );
        assert_eq!(
            outcome_of(&Error::invalid("code", "is required")).message,
            "MFACode: is required"
        );
        assert_eq!(code(Error::Unauthorized), SuccessCode::LoginError);
        assert_eq!(
            code(Error::Forbidden("scope".into())),
            SuccessCode::LoginError
        );
        assert_eq!(code(Error::NotFound("service")), SuccessCode::MissingRecord);
        assert_eq!(
            code(Error::RateLimited {
                reason: "slow down",
                retry_after_secs: 3
            }),
            SuccessCode::Other
        );
        let sys = outcome_of(&Error::Internal("disk on fire".into()));
        assert_eq!(sys.code, SuccessCode::SystemError);
        assert!(!sys.message.contains("disk"));
        assert_eq!(
            code(Error::Unavailable("db".into())),
            SuccessCode::SystemError
        );
    }

    #[test]
    fn results_are_written_as_the_seed_shows() {
        let xml = result_xml(
            Operation::Confirm,
            &Outcome::new(SuccessCode::Other, "a < b"),
        );
        assert_eq!(
            xml,
            "<ConfirmCustomerUserMFAResponse xmlns=\"http://tempuri.org/\"><ConfirmCustomerUserMFAResult><SuccessCode>OTHER</SuccessCode><Message>a &lt; b</Message><IsSystemError>false</IsSystemError></ConfirmCustomerUserMFAResult></ConfirmCustomerUserMFAResponse>"
        );
        let xml = result_xml(
            Operation::Request,
            &outcome_of(&Error::Internal("x".into())),
        );
        assert!(xml.contains("<IsSystemError>true</IsSystemError>"));
        assert!(xml.contains("<ExceptionMessage>"));
    }

    #[test]
    fn empty_guids_are_no_id() {
        assert_eq!(
            guid_given(Some("00000000-0000-0000-0000-000000000000".into())),
            None
        );
        assert!(guid_given(Some("3f2504e0-4f89-11d3-9a0c-0305e82c3301".into())).is_some());
        assert_eq!(guid_given(None), None);
    }
}
