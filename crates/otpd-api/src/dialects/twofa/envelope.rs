//! The seed-003 response envelope (`Hint`, FluentValidation's `Errors`, `ErrorMessages`,
//! `StatusCode`, `RequestUri`, `ExternalError`, `HttpStatusCode`), Azure API Management's 401
//! bodies, and the request body reader (ASP.NET binding: names without case, unknown names
//! refused as the seed's `additionalProperties: false` says).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// One FluentValidation `ValidationFailure`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Failure {
    pub property_name: String,
    pub error_message: String,
    pub attempted_value: Value,
    pub custom_state: Value,
    /// 0 = Error.
    pub severity: u8,
    pub error_code: String,
    pub formatted_message_arguments: Vec<Value>,
    pub formatted_message_placeholder_values: Map<String, Value>,
    pub resource_name: Option<String>,
}

/// `PersonId` -> `Person Id`, as FluentValidation names properties in its messages.
pub fn display_name(property: &str) -> String {
    let mut out = String::with_capacity(property.len() + 4);
    for (i, c) in property.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

impl Failure {
    /// `message` may use `{PropertyName}`, filled with the display name.
    pub fn new(property: &str, error_code: &str, message: &str, attempted: Value) -> Failure {
        let name = display_name(property);
        let mut placeholders = Map::new();
        placeholders.insert("PropertyName".into(), Value::String(name.clone()));
        placeholders.insert("PropertyValue".into(), attempted.clone());
        Failure {
            property_name: property.to_owned(),
            error_message: message.replace("{PropertyName}", &name),
            attempted_value: attempted,
            custom_state: Value::Null,
            severity: 0,
            error_code: error_code.to_owned(),
            formatted_message_arguments: Vec::new(),
            formatted_message_placeholder_values: placeholders,
            resource_name: None,
        }
    }

    pub fn not_empty(property: &str, attempted: Value) -> Failure {
        Failure::new(
            property,
            "NotEmptyValidator",
            "'{PropertyName}' must not be empty.",
            attempted,
        )
    }

    pub fn predicate(property: &str, message: &str, attempted: Value) -> Failure {
        Failure::new(property, "PredicateValidator", message, attempted)
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ValidationResult {
    is_valid: bool,
    errors: Vec<Failure>,
    rule_sets_executed: Vec<String>,
}

/// The answer to every request past the gateway, success or not.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Envelope {
    hint: Option<String>,
    errors: ValidationResult,
    error_messages: Vec<String>,
    status_code: u16,
    request_uri: String,
    external_error: Option<String>,
    http_status_code: u16,
    #[serde(skip)]
    retry_after: Option<u64>,
}

impl Envelope {
    pub fn ok(request_uri: &str, hint: String) -> Envelope {
        Envelope::with(
            StatusCode::OK,
            request_uri,
            Some(hint),
            Vec::new(),
            Vec::new(),
        )
    }

    /// 400 with the failures in `Errors` and their messages in `ErrorMessages`.
    pub fn invalid(request_uri: &str, failures: Vec<Failure>) -> Envelope {
        let messages = failures.iter().map(|f| f.error_message.clone()).collect();
        Envelope::with(
            StatusCode::BAD_REQUEST,
            request_uri,
            None,
            failures,
            messages,
        )
    }

    pub fn error(status: StatusCode, request_uri: &str, message: impl Into<String>) -> Envelope {
        Envelope::with(status, request_uri, None, Vec::new(), vec![message.into()])
    }

    pub fn with_retry_after(mut self, secs: u64) -> Envelope {
        self.retry_after = Some(secs);
        self
    }

    fn with(
        status: StatusCode,
        request_uri: &str,
        hint: Option<String>,
        failures: Vec<Failure>,
        messages: Vec<String>,
    ) -> Envelope {
        Envelope {
            hint,
            errors: ValidationResult {
                is_valid: failures.is_empty(),
                errors: failures,
                rule_sets_executed: vec!["default".into()],
            },
            error_messages: messages,
            status_code: status.as_u16(),
            request_uri: request_uri.to_owned(),
            external_error: None,
            http_status_code: status.as_u16(),
            retry_after: None,
        }
    }
}

impl IntoResponse for Envelope {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.http_status_code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.retry_after;
        let mut resp = (status, Json(self)).into_response();
        if let Some(secs) = retry
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// Azure API Management's own 401 bodies, word for word.
pub fn apim_unauthorized(missing: bool) -> Response {
    let message = if missing {
        "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
    } else {
        "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."
    };
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"statusCode": 401, "message": message})),
    )
        .into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("AzureApiManagementKey realm=\"otpd\",name=\"Ocp-Apim-Subscription-Key\",type=\"header\""),
    );
    resp
}

/// The body's properties by their canonical names (`known`), matched without case. Every
/// problem becomes a failure: not an object, an unknown or repeated property, a value that is
/// not a string (null counts as absent). Empty strings are kept for the validators to judge.
pub fn read_properties(
    bytes: &[u8],
    known: &[&'static str],
) -> Result<Vec<(&'static str, String)>, Vec<Failure>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(vec![Failure::not_empty("command", Value::Null)]);
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        vec![Failure::predicate(
            "command",
            &format!(
                "The request body is not valid JSON: {}.",
                strip_position(&e.to_string())
            ),
            Value::Null,
        )]
    })?;
    let Value::Object(map) = value else {
        return Err(vec![Failure::predicate(
            "command",
            "The request body must be a JSON object.",
            Value::Null,
        )]);
    };
    let mut failures = Vec::new();
    let mut out: Vec<(&'static str, String)> = Vec::new();
    // serde_json keeps the last of two equal keys; the raw text tells whether there were two.
    let mut seen = std::collections::HashSet::new();
    for name in raw_keys(bytes) {
        if !seen.insert(name.to_ascii_lowercase()) {
            failures.push(Failure::predicate(
                &name,
                "'{PropertyName}' is given more than once.",
                Value::Null,
            ));
        }
    }
    for (name, v) in map {
        let Some(canonical) = known.iter().find(|k| k.eq_ignore_ascii_case(&name)) else {
            failures.push(Failure::new(
                &name,
                "AdditionalPropertiesValidator",
                &format!(
                    "'{name}' is not a property of this command; the properties are {}.",
                    known.join(", ")
                ),
                v,
            ));
            continue;
        };
        match v {
            Value::Null => {}
            Value::String(s) => out.push((canonical, s)),
            other => failures.push(Failure::predicate(
                canonical,
                "'{PropertyName}' must be a string.",
                other,
            )),
        }
    }
    if failures.is_empty() {
        Ok(out)
    } else {
        Err(failures)
    }
}

fn strip_position(msg: &str) -> &str {
    msg.find(" at line ").map_or(msg, |i| &msg[..i])
}

/// The keys of the top-level object, in order, with repeats.
fn raw_keys(bytes: &[u8]) -> Vec<String> {
    #[derive(Default)]
    struct Keys(Vec<String>);
    impl<'de> serde::de::Visitor<'de> for &mut Keys {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            while let Some(k) = m.next_key::<String>()? {
                self.0.push(k);
                m.next_value::<serde::de::IgnoredAny>()?;
            }
            Ok(())
        }
    }
    let mut keys = Keys::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let _ = serde::Deserializer::deserialize_map(&mut de, &mut keys);
    keys.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const KNOWN: &[&str] = &["PersonId", "Medium"];

    fn props(b: &str) -> Result<Vec<(&'static str, String)>, Vec<Failure>> {
        read_properties(b.as_bytes(), KNOWN)
    }

    #[test]
    fn properties_bind_without_case_and_unknown_ones_fail() {
        let p = props(r#"{"personid":"x","MEDIUM":null}"#).unwrap();
        assert_eq!(p, vec![("PersonId", "x".to_owned())]);
        let f = props(r#"{"PersonId":"x","Extra":1}"#).unwrap_err();
        assert_eq!(f[0].property_name, "Extra");
        assert_eq!(f[0].error_code, "AdditionalPropertiesValidator");
        let f = props(r#"{"PersonId":5}"#).unwrap_err();
        assert_eq!(f[0].error_message, "'Person Id' must be a string.");
        assert_eq!(f[0].attempted_value, json!(5));
        let f = props(r#"{"PersonId":"a","personId":"b"}"#).unwrap_err();
        assert_eq!(f.len(), 1);
        assert!(f[0].error_message.contains("more than once"));
        assert!(props("[1]").is_err());
        assert!(props("{").is_err());
        assert!(props("").is_err());
    }

    #[test]
    fn names_split_as_fluentvalidation_does() {
        assert_eq!(display_name("PersonId"), "Person Id");
        assert_eq!(display_name("TwoFactorId"), "Two Factor Id");
        assert_eq!(display_name("Medium"), "Medium");
    }

    #[test]
    fn envelope_shape() {
        let v = serde_json::to_value(Envelope::ok("/x", "+31*******78".into())).unwrap();
        assert_eq!(
            v,
            json!({"Hint": "+31*******78", "Errors": {"IsValid": true, "Errors": [], "RuleSetsExecuted": ["default"]},
                   "ErrorMessages": [], "StatusCode": 200, "RequestUri": "/x", "ExternalError": null, "HttpStatusCode": 200})
        );
        let f = Failure::not_empty("PersonId", json!(""));
        let v = serde_json::to_value(Envelope::invalid("/x", vec![f])).unwrap();
        assert_eq!(v["Errors"]["IsValid"], false);
        assert_eq!(v["HttpStatusCode"], 400);
        assert_eq!(
            v["ErrorMessages"],
            json!(["'Person Id' must not be empty."])
        );
        assert_eq!(
            v["Errors"]["Errors"][0],
            json!({"PropertyName": "PersonId", "ErrorMessage": "'Person Id' must not be empty.", "AttemptedValue": "",
                   "CustomState": null, "Severity": 0, "ErrorCode": "NotEmptyValidator", "FormattedMessageArguments": [],
                   "FormattedMessagePlaceholderValues": {"PropertyName": "Person Id", "PropertyValue": ""}, "ResourceName": null})
        );
    }
}
