//! SOAP face: `POST /3.0/ExigoApi.asmx` (SOAP 1.1 `text/xml` + `SOAPAction`, or SOAP 1.2
//! `application/soap+xml; action=...`), header `ApiAuthentication` {LoginName, Password,
//! Company}, body `SendAuthorizationMFACodeRequest` {ToNumber, Message, Code} ->
//! `<SendAuthorizationMFACodeResult xmlns="http://api.exigo.com/" />`. Errors are SOAP faults:
//! `Client` (Sender) for the caller's, `Server` (Receiver) for ours, HTTP 500.
//! `GET ?WSDL` serves the service description with our own address in it.

use super::{
    FieldNames, NAMESPACE, SOAP_ACTION, SOAP_PATH, SendRequest, authenticate, describe, send,
};
use crate::body::read_body;
use crate::error::{ApiError, log_server_error};
use crate::soap::{self, Fault, FaultCode, SoapVersion, write, wsdl};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use otpd_core::Error;

const NAMES: FieldNames = FieldNames {
    to_number: "ToNumber",
    message: "Message",
    code: "Code",
};

const WSDL: &str = include_str!("ExigoApi.wsdl");
const OPERATION: &str = "SendAuthorizationMFACodeRequest";
const RESULT: &str = "SendAuthorizationMFACodeResult";

fn fault_of(version: SoapVersion, e: &Error) -> Fault {
    log_server_error(e);
    let code = match e {
        Error::Internal(_) | Error::Unavailable(_) => FaultCode::Server,
        _ => FaultCode::Client,
    };
    Fault::new(version, code, describe(e, &NAMES))
}

/// `GET /3.0/ExigoApi.asmx?WSDL`: the WSDL; without `?WSDL`, a short pointer to it.
pub async fn get_exigo_api(headers: HeaderMap, uri: Uri) -> Response {
    if wsdl::wants_wsdl(uri.query()) {
        return wsdl::wsdl_response(WSDL, &headers, SOAP_PATH);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "ExigoApi: post SOAP 1.1 or 1.2 requests here; the WSDL is at ?WSDL\n",
    )
        .into_response()
}

/// `POST /3.0/ExigoApi.asmx`.
pub async fn post_exigo_api(State(state): State<AppState>, req: Request) -> Response {
    match handle(&state, req).await {
        Ok(resp) => resp,
        Err(fault) => fault.into_response(),
    }
}

async fn handle(state: &AppState, req: Request) -> Result<Response, Fault> {
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
    if let Some(action) = soap::requested_action(version, &headers)
        && action != SOAP_ACTION
    {
        return Err(Fault::client(
            version,
            format!("Server did not recognize the value of HTTP Header SOAPAction: {action}."),
        ));
    }
    if let Some(h) = envelope
        .headers
        .iter()
        .find(|h| h.must_understand && !h.is(NAMESPACE, "ApiAuthentication"))
    {
        return Err(Fault::new(
            version,
            FaultCode::MustUnderstand,
            format!("SOAP header {} was not understood.", h.name),
        ));
    }
    let operation = envelope
        .operation()
        .filter(|op| op.is(NAMESPACE, OPERATION))
        .ok_or_else(|| {
            let name = envelope.operation().map(|op| op.name.as_str()).unwrap_or("");
            Fault::client(
                version,
                format!("Server did not recognize the request element '{name}'; expected {OPERATION} in {NAMESPACE}."),
            )
        })?;

    let auth = envelope.header(NAMESPACE, "ApiAuthentication");
    let field = |name: &str| {
        auth.and_then(|a| a.child_text(NAMESPACE, name))
            .map(str::trim)
            .unwrap_or("")
            .to_owned()
    };
    let login = format!("{}@{}", field("LoginName"), field("Company"));
    let who = authenticate(&state.engine, &login, &field("Password"))
        .await
        .map_err(|e| fault_of(version, &e))?;

    let text = |name: &str| operation.child_text(NAMESPACE, name).map(str::to_owned);
    let request = SendRequest {
        to_number: text("ToNumber"),
        message: text("Message"),
        code: text("Code"),
    };
    send(&state.engine, &who, request, &NAMES)
        .await
        .map_err(|e| fault_of(version, &e))?;
    Ok(write::response(
        version,
        StatusCode::OK,
        &write::element_ns(RESULT, NAMESPACE, ""),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_client_or_server_faults() {
        let f = fault_of(SoapVersion::V11, &Error::Internal("disk on fire".into()));
        assert_eq!(f.code, FaultCode::Server);
        assert_eq!(f.reason, "An internal error occurred.");
        let f = fault_of(SoapVersion::V11, &Error::Unavailable("db down".into()));
        assert_eq!(f.code, FaultCode::Server);
        assert!(!f.reason.contains("db down"));
        let f = fault_of(SoapVersion::V12, &Error::invalid("message", "too long"));
        assert_eq!(f.code, FaultCode::Client);
        assert_eq!(f.reason, "Message: too long");
        let f = fault_of(SoapVersion::V11, &Error::Unauthorized);
        assert_eq!(f.code, FaultCode::Client);
        assert_eq!(f.reason, "Invalid login, password or company.");
    }
}
