//! Writing SOAP responses: the envelope ASP.NET writes (the XML declaration, then `soap:Envelope`
//! declaring `xsi`, `xsd` and `soap`), with the body's content supplied by the dialect.

use super::{SoapVersion, XSD_NS, XSI_NS};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Escapes attribute values (`<`, `>`, `&`, `'`, `"`).
pub fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// Escapes character data (`<`, `>`, `&`); quotes stay readable.
pub fn escape_text(s: &str) -> String {
    quick_xml::escape::partial_escape(s).into_owned()
}

/// A whole envelope around `body_content` (already-serialised XML).
pub fn envelope(version: SoapVersion, body_content: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:xsi=\"{XSI_NS}\" xmlns:xsd=\"{XSD_NS}\" xmlns:soap=\"{}\"><soap:Body>{body_content}</soap:Body></soap:Envelope>",
        version.namespace()
    )
}

/// An HTTP response carrying an envelope, with the version's media type.
pub fn response(version: SoapVersion, status: StatusCode, body_content: &str) -> Response {
    let mut resp = (status, envelope(version, body_content)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(version.content_type()),
    );
    resp
}

/// An element with text content in a default namespace: `<Name xmlns="ns">text</Name>`, or
/// `<Name xmlns="ns" />` when `children` is empty (ASP.NET's form for an empty result).
pub fn element_ns(name: &str, ns: &str, children: &str) -> String {
    if children.is_empty() {
        format!("<{name} xmlns=\"{}\" />", escape(ns))
    } else {
        format!("<{name} xmlns=\"{}\">{children}</{name}>", escape(ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_matches_aspnet_form() {
        let body = element_ns("Result", "http://api.example.com/", "");
        assert_eq!(
            envelope(SoapVersion::V11, &body),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><Result xmlns=\"http://api.example.com/\" /></soap:Body></soap:Envelope>"
        );
        assert!(envelope(SoapVersion::V12, "").contains("http://www.w3.org/2003/05/soap-envelope"));
        assert_eq!(escape("<a & 'b'>"), "&lt;a &amp; &apos;b&apos;&gt;");
        assert_eq!(escape_text("<a & 'b'>"), "&lt;a &amp; 'b'&gt;");
        // What we write, we can read back.
        let env = super::super::parse(envelope(SoapVersion::V11, &body).as_bytes()).unwrap();
        assert!(
            env.operation()
                .unwrap()
                .is("http://api.example.com/", "Result")
        );
    }
}
