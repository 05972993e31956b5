//! REST face: `POST /3.0/sms/authorizationmfa` with `Authorization: Basic
//! base64(login@company:password)` and `{ "toNumber", "message", "code" }` (property names bound
//! without regard to case, as ASP.NET does) -> 200 `{"result":null}`.
//!
//! Errors (the seed shows none): `{"message": "..."}` with the HTTP status of the core error
//! (400 naming the property, 401, 403, 413, 415, 429 with `Retry-After`, 500, 503).

use super::{FieldNames, SendRequest, authenticate, describe, send};
use crate::auth::basic_credentials;
use crate::body::{media_type_is, read_body};
use crate::error::{ApiError, log_server_error, status_of};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use otpd_core::Error;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

const NAMES: FieldNames = FieldNames {
    to_number: "toNumber",
    message: "message",
    code: "code",
};

const JSON_UTF8: &str = "application/json; charset=utf-8";

fn json_response(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    resp
}

/// The REST error body.
pub struct RestError(pub StatusCode, pub String, pub Option<u64>);

impl From<Error> for RestError {
    fn from(e: Error) -> Self {
        log_server_error(&e);
        let retry = match &e {
            Error::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            Error::Unavailable(_) => Some(1),
            _ => None,
        };
        RestError(status_of(&e), describe(&e, &NAMES), retry)
    }
}

impl From<ApiError> for RestError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Core(e) => e.into(),
            ApiError::PayloadTooLarge => RestError(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is larger than 64 KiB.".into(),
                None,
            ),
            _ => RestError(StatusCode::BAD_REQUEST, "Bad request.".into(), None),
        }
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.1 }).to_string();
        let mut resp = json_response(self.0, body);
        if let Some(secs) = self.2
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.0 == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"otpd\""),
            );
        }
        resp
    }
}

/// A JSON object's members in order, duplicates kept, so that names can be matched without
/// case and a name given twice (in any case) refused.
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A string property: strings as they are, numbers as written (ASP.NET converts them), null
/// as absent; anything else refused.
fn string_value(name: &'static str, v: Value) -> Result<Option<String>, Error> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(Error::invalid(name, "must be a string")),
    }
}

fn parse_request(bytes: &[u8]) -> Result<SendRequest, Error> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::invalid("body", "must be a JSON object"));
    }
    let Members(members) = serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid("body", format!("is not valid JSON: {e}")))?;
    let mut req = SendRequest::default();
    let mut seen = [false; 3];
    for (key, value) in members {
        let (slot, name, i) = match key.to_ascii_lowercase().as_str() {
            "tonumber" => (&mut req.to_number, NAMES.to_number, 0),
            "message" => (&mut req.message, NAMES.message, 1),
            "code" => (&mut req.code, NAMES.code, 2),
            // Other properties are ignored, as ASP.NET's binder does.
            _ => continue,
        };
        if seen[i] {
            return Err(Error::invalid(name, "is given more than once"));
        }
        seen[i] = true;
        *slot = string_value(name, value)?;
    }
    Ok(req)
}

/// `SendAuthorizationMFACode` over REST.
pub async fn send_authorization_mfa_code(
    State(state): State<AppState>,
    req: Request,
) -> Result<Response, RestError> {
    let (user, password) = basic_credentials(req.headers()).ok_or(Error::Unauthorized)?;
    let who = authenticate(&state.engine, &user, &password).await?;
    if !media_type_is(req.headers(), &["application/json", "text/json"]) {
        return Err(RestError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json.".into(),
            None,
        ));
    }
    let bytes = read_body(req).await?;
    let request = parse_request(&bytes)?;
    send(&state.engine, &who, request, &NAMES).await?;
    Ok(json_response(
        StatusCode::OK,
        r#"{"result":null}"#.to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_field(r: Result<SendRequest, Error>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field.into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_bind_without_case() {
        let r =
            parse_request(br#"{"TONUMBER":"+1","Message":"m","cOdE":1234,"other":[1]}"#).unwrap();
        assert_eq!(r.to_number.as_deref(), Some("+1"));
        assert_eq!(r.message.as_deref(), Some("m"));
        assert_eq!(r.code.as_deref(), Some("1234"));
        let r = parse_request(br#"{"toNumber":"+1","message":null}"#).unwrap();
        assert_eq!(r.message, None);
        assert_eq!(r.code, None);
    }

    #[test]
    fn bad_bodies() {
        assert_eq!(
            invalid_field(parse_request(br#"{"code":"1","Code":"2"}"#)),
            "code"
        );
        assert_eq!(invalid_field(parse_request(br#"{"code":true}"#)), "code");
        assert_eq!(invalid_field(parse_request(b"[1]")), "body");
        assert_eq!(invalid_field(parse_request(b"{")), "body");
        let deep = format!("{{\"x\":{}", "[".repeat(10_000));
        assert_eq!(invalid_field(parse_request(deep.as_bytes())), "body");
    }
}
