//! Serving a WSDL document. The `soap:address` of each port must point at the server the
//! client asked, so stock clients (zeep, suds, svcutil) post back to us: the template's
//! `{{SOAP_ADDRESS}}` becomes `http(s)://<Host header><path>`.

use super::write::escape;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const ADDRESS_PLACEHOLDER: &str = "{{SOAP_ADDRESS}}";

/// True for a query string that asks for the WSDL: `?WSDL`, `?wsdl` (ASP.NET ignores case).
pub fn wants_wsdl(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|p| p.eq_ignore_ascii_case("wsdl")))
}

/// The host the client used, if it is a plain `host[:port]`; otherwise `localhost`.
fn host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        })
        .unwrap_or("localhost")
        .to_owned()
}

/// `https` only when a proxy in front says so; `http` otherwise.
fn scheme(headers: &HeaderMap) -> &'static str {
    match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some(p) if p.trim().eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
}

/// The endpoint address a client should post to, for the request's `Host`.
pub fn address(headers: &HeaderMap, path: &str) -> String {
    format!("{}://{}{}", scheme(headers), host(headers), path)
}

/// The WSDL `template` with its address filled in, as `text/xml; charset=utf-8`.
pub fn wsdl_response(template: &str, headers: &HeaderMap, path: &str) -> Response {
    let doc = template.replace(ADDRESS_PLACEHOLDER, &escape(&address(headers, path)));
    let mut resp = (StatusCode::OK, doc).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_follows_the_host_header() {
        let mut h = HeaderMap::new();
        assert_eq!(address(&h, "/a.asmx"), "http://localhost/a.asmx");
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(address(&h, "/a.asmx"), "http://127.0.0.1:8080/a.asmx");
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(address(&h, "/a.asmx"), "https://127.0.0.1:8080/a.asmx");
        h.insert(header::HOST, "evil\"><x".parse().unwrap());
        assert_eq!(address(&h, "/a.asmx"), "https://localhost/a.asmx");
    }

    #[test]
    fn wsdl_query() {
        assert!(wants_wsdl(Some("WSDL")));
        assert!(wants_wsdl(Some("wsdl")));
        assert!(wants_wsdl(Some("x=1&wsdl")));
        assert!(!wants_wsdl(Some("disco")));
        assert!(!wants_wsdl(None));
    }
}
