//! The shared SOAP codec every SOAP dialect uses: a hardened envelope parser (no DTD, no
//! entities, depth and size caps), faults, the response writer and WSDL serving. SOAP 1.1 and
//! SOAP 1.2 differ only in the namespace, the media type, where the action travels and the
//! fault's shape; everything else is one code path.

pub mod envelope;
pub mod fault;
pub mod write;
pub mod wsdl;

pub use envelope::{Element, Envelope, ParseError, parse, parse_document};
pub use fault::{Fault, FaultCode};

use axum::http::{HeaderMap, header};

pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
pub const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    V11,
    V12,
}

impl SoapVersion {
    pub fn namespace(self) -> &'static str {
        match self {
            SoapVersion::V11 => SOAP11_NS,
            SoapVersion::V12 => SOAP12_NS,
        }
    }

    pub fn from_namespace(ns: &str) -> Option<SoapVersion> {
        match ns {
            SOAP11_NS => Some(SoapVersion::V11),
            SOAP12_NS => Some(SoapVersion::V12),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            SoapVersion::V11 => "text/xml; charset=utf-8",
            SoapVersion::V12 => "application/soap+xml; charset=utf-8",
        }
    }

    /// The version a request's `Content-Type` announces: `text/xml` is SOAP 1.1,
    /// `application/soap+xml` SOAP 1.2; anything else none.
    pub fn from_content_type(headers: &HeaderMap) -> Option<SoapVersion> {
        let media = media_type(headers)?;
        match media.as_str() {
            "text/xml" => Some(SoapVersion::V11),
            "application/soap+xml" => Some(SoapVersion::V12),
            _ => None,
        }
    }
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}

/// The action a request names: the `SOAPAction` header (SOAP 1.1) or the `action` parameter
/// of the media type (SOAP 1.2), without its quotes. `None` when absent or empty.
pub fn requested_action(version: SoapVersion, headers: &HeaderMap) -> Option<String> {
    let raw = match version {
        SoapVersion::V11 => headers.get("soapaction")?.to_str().ok()?.to_owned(),
        SoapVersion::V12 => {
            let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
            value.split(';').skip(1).find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("action")
                    .then(|| v.trim().to_owned())
            })?
        }
    };
    let action = raw.trim().trim_matches('"').trim();
    (!action.is_empty()).then(|| action.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(SoapVersion::from_content_type(&h), None);
        h.insert(
            header::CONTENT_TYPE,
            "text/xml; charset=utf-8".parse().unwrap(),
        );
        h.insert("SOAPAction", "\"urn:x/Op\"".parse().unwrap());
        assert_eq!(SoapVersion::from_content_type(&h), Some(SoapVersion::V11));
        assert_eq!(
            requested_action(SoapVersion::V11, &h).as_deref(),
            Some("urn:x/Op")
        );
        h.insert(
            header::CONTENT_TYPE,
            "application/soap+xml; charset=utf-8; action=\"urn:x/Op2\""
                .parse()
                .unwrap(),
        );
        assert_eq!(SoapVersion::from_content_type(&h), Some(SoapVersion::V12));
        assert_eq!(
            requested_action(SoapVersion::V12, &h).as_deref(),
            Some("urn:x/Op2")
        );
        h.insert("SOAPAction", "\"\"".parse().unwrap());
        assert_eq!(requested_action(SoapVersion::V11, &h), None);
    }
}
