//! SOAP faults in both versions' shapes. SOAP 1.1: `faultcode` (`soap:Client`, `soap:Server`,
//! `soap:VersionMismatch`, `soap:MustUnderstand`), `faultstring`, `detail`. SOAP 1.2:
//! `Code/Value` (`soap:Sender`, `soap:Receiver`, ...), `Reason/Text`, `Detail`.
//! HTTP status 500, as SOAP 1.1 §6.2 requires and as ASP.NET answers for every fault in both
//! versions (stock clients read the fault from a 500).

use super::SoapVersion;
use super::envelope::ParseError;
use super::write::{escape_text, response};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    /// The caller's message was wrong (SOAP 1.2: `Sender`).
    Client,
    /// We failed (SOAP 1.2: `Receiver`).
    Server,
    /// The envelope is not one of the versions we speak.
    VersionMismatch,
    /// A header marked `mustUnderstand` that we do not understand.
    MustUnderstand,
}

impl FaultCode {
    pub fn qname(self, version: SoapVersion) -> &'static str {
        match (self, version) {
            (FaultCode::Client, SoapVersion::V11) => "soap:Client",
            (FaultCode::Client, SoapVersion::V12) => "soap:Sender",
            (FaultCode::Server, SoapVersion::V11) => "soap:Server",
            (FaultCode::Server, SoapVersion::V12) => "soap:Receiver",
            (FaultCode::VersionMismatch, _) => "soap:VersionMismatch",
            (FaultCode::MustUnderstand, _) => "soap:MustUnderstand",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub version: SoapVersion,
    pub code: FaultCode,
    /// Readable, for the caller: never a code, a secret or a stack trace.
    pub reason: String,
    /// HTTP status; 500 unless a transport-level problem says otherwise (413, 415).
    pub status: StatusCode,
}

impl Fault {
    pub fn new(version: SoapVersion, code: FaultCode, reason: impl Into<String>) -> Fault {
        Fault {
            version,
            code,
            reason: reason.into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn client(version: SoapVersion, reason: impl Into<String>) -> Fault {
        Fault::new(version, FaultCode::Client, reason)
    }

    pub fn server(version: SoapVersion, reason: impl Into<String>) -> Fault {
        Fault::new(version, FaultCode::Server, reason)
    }

    pub fn with_status(mut self, status: StatusCode) -> Fault {
        self.status = status;
        self
    }

    /// The fault for a message the parser refused.
    pub fn from_parse(version: SoapVersion, e: &ParseError) -> Fault {
        let code = match e {
            ParseError::NotAnEnvelope => FaultCode::VersionMismatch,
            _ => FaultCode::Client,
        };
        Fault::new(version, code, e.to_string())
    }

    /// The `soap:Fault` element.
    pub fn to_xml(&self) -> String {
        let code = self.code.qname(self.version);
        let reason = escape_text(&self.reason);
        match self.version {
            SoapVersion::V11 => format!(
                "<soap:Fault><faultcode>{code}</faultcode><faultstring>{reason}</faultstring><detail /></soap:Fault>"
            ),
            SoapVersion::V12 => format!(
                "<soap:Fault><soap:Code><soap:Value>{code}</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang=\"en\">{reason}</soap:Text></soap:Reason><soap:Detail /></soap:Fault>"
            ),
        }
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        response(self.version, self.status, &self.to_xml())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::{SOAP11_NS, SOAP12_NS, parse};

    #[test]
    fn soap11_fault_shape() {
        let f = Fault::client(SoapVersion::V11, "bad <input> & more");
        assert_eq!(
            f.to_xml(),
            "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>bad &lt;input&gt; &amp; more</faultstring><detail /></soap:Fault>"
        );
        let xml = crate::soap::write::envelope(SoapVersion::V11, &f.to_xml());
        let env = parse(xml.as_bytes()).unwrap();
        let fault = env.operation().unwrap();
        assert!(fault.is(SOAP11_NS, "Fault"));
        assert_eq!(
            fault.child_text_unqualified("faultcode"),
            Some("soap:Client")
        );
        assert_eq!(
            fault.child_text_unqualified("faultstring"),
            Some("bad <input> & more")
        );
        assert_eq!(
            Fault::server(SoapVersion::V11, "x").to_xml(),
            "<soap:Fault><faultcode>soap:Server</faultcode><faultstring>x</faultstring><detail /></soap:Fault>"
        );
    }

    #[test]
    fn soap12_fault_shape() {
        let f = Fault::client(SoapVersion::V12, "missing Code");
        let xml = crate::soap::write::envelope(SoapVersion::V12, &f.to_xml());
        let env = parse(xml.as_bytes()).unwrap();
        let fault = env.operation().unwrap();
        assert!(fault.is(SOAP12_NS, "Fault"));
        let value = fault
            .child(SOAP12_NS, "Code")
            .and_then(|c| c.child_text(SOAP12_NS, "Value"));
        assert_eq!(value, Some("soap:Sender"));
        let text = fault
            .child(SOAP12_NS, "Reason")
            .and_then(|c| c.child_text(SOAP12_NS, "Text"));
        assert_eq!(text, Some("missing Code"));
        assert_eq!(FaultCode::Server.qname(SoapVersion::V12), "soap:Receiver");
    }

    #[test]
    fn parse_errors_map_to_client_or_version_mismatch() {
        let f = Fault::from_parse(SoapVersion::V11, &ParseError::DoctypeRefused);
        assert_eq!(f.code, FaultCode::Client);
        assert_eq!(f.status, StatusCode::INTERNAL_SERVER_ERROR);
        let f = Fault::from_parse(SoapVersion::V11, &ParseError::NotAnEnvelope);
        assert_eq!(f.code, FaultCode::VersionMismatch);
    }
}
