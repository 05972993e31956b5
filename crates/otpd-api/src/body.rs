//! Request bodies: media type first (415), size (413, via the router's body limit), then
//! parsing with the failing field named (400). Duplicate keys are refused by serde's derive.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use otpd_core::Error;
use serde::de::DeserializeOwned;

/// True when the `Content-Type` header's media type is one of `accepted` (parameters such
/// as `charset` ignored, case-insensitive).
pub fn media_type_is(headers: &HeaderMap, accepted: &[&str]) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| accepted.iter().any(|a| *a == m))
}

/// Reads the whole body within the router's limit.
pub async fn read_body(req: Request) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, &()).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::Core(Error::invalid("body", "could not be read"))
        }
    })
}

/// Parses JSON naming the field that failed: `code: invalid type: integer, expected a string`.
/// The top level must be an object: serde would otherwise take an array as a struct, field by
/// position, and accept `["+14155552671","sms"]`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::invalid("body", "must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(de);
    let value = parsed.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return Error::invalid("body", format!("is not valid JSON: {msg}"));
        }
        let field = if path != "." {
            path
        } else {
            // Root-level errors name the field inside backquotes: "missing field `to`".
            msg.split('`').nth(1).unwrap_or("body").to_owned()
        };
        Error::invalid(field, strip_position(&msg))
    })?;
    Ok(value)
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Query parameters, with the native error shape on failure.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(QueryParams)
            .map_err(|e| {
                let field = e.path().to_string();
                let msg = e.into_inner().to_string();
                let field = if field == "." {
                    "query".to_owned()
                } else {
                    field
                };
                ApiError::Core(Error::invalid(field, msg))
            })
    }
}

/// A JSON body for the native API.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !media_type_is(req.headers(), &["application/json"]) {
            return Err(ApiError::UnsupportedMediaType("application/json"));
        }
        let bytes = read_body(req).await?;
        parse_json(&bytes).map(JsonBody).map_err(ApiError::Core)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        to: String,
        code: Option<String>,
    }

    fn field(r: Result<Body, Error>) -> (String, String) {
        match r {
            Err(Error::Invalid { field, reason }) => (field.into_owned(), reason.into_owned()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field(parse_json(b"{}")).0, "to");
        assert_eq!(field(parse_json(br#"{"to": 5}"#)).0, "to");
        assert_eq!(field(parse_json(br#"{"to": "x", "code": 5}"#)).0, "code");
        assert_eq!(field(parse_json(br#"{"to": "x", "bogus": 1}"#)).0, "bogus");
        assert_eq!(field(parse_json(br#"{"to": "x", "to": "y"}"#)).0, "to");
        assert_eq!(field(parse_json(b"{\"to\": ")).0, "body");
        assert_eq!(field(parse_json(b"not json")).0, "body");
        assert_eq!(field(parse_json(br#"["+14155552671", null]"#)).0, "body");
        let deep = "[".repeat(10_000);
        assert_eq!(field(parse_json(deep.as_bytes())).0, "body");
        let deep_inside = format!("{{\"to\": {}", "[".repeat(10_000));
        assert_eq!(field(parse_json(deep_inside.as_bytes())).0, "to");
    }

    #[test]
    fn media_types() {
        let mut h = HeaderMap::new();
        assert!(!media_type_is(&h, &["application/json"]));
        h.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert!(media_type_is(&h, &["application/json"]));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!media_type_is(&h, &["application/json"]));
    }
}
