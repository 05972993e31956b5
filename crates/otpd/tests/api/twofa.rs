//! 2FA send to person (seed 003): envelope, validation rules, APIM 401s, verify.

use crate::helpers::{TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SEND: &str = "/2fa/2FactorAuthentication/TwoFaCommand/Send2FactorAuthenticationCodeToPerson";
const VERIFY: &str = "/2fa/2FactorAuthentication/TwoFaCommand/Verify2FactorAuthenticationCode";
const PERSON: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

fn token(app: &TestApp) -> String {
    format!("{}.{}", app.admin.0, app.admin.1)
}

async fn call(app: &TestApp, path: &str, key: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut r = app.client.post(app.url(path)).json(&body);
    if let Some(k) = key {
        r = r.header("Ocp-Apim-Subscription-Key", k);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

async fn send(app: &TestApp, body: Value) -> (StatusCode, Value) {
    call(app, SEND, Some(&token(app)), body).await
}

async fn verify(app: &TestApp, body: Value) -> (StatusCode, Value) {
    call(app, VERIFY, Some(&token(app)), body).await
}

async fn person(app: &TestApp, body: Value) {
    let r = app.post("/v1/persons", body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
}

/// The newest message to `to`, delivered.
async fn last_message(app: &TestApp, to: &str) -> String {
    app.deliver().await;
    let msgs: Vec<Value> = app
        .client
        .get(app.url("/v1/outbox"))
        .query(&[("to", to)])
        .basic_auth(&app.admin.0, Some(&app.admin.1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    msgs[0]["body"].as_str().unwrap().to_owned()
}

fn code_in(body: &str) -> String {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned()
}

fn assert_envelope(v: &Value, status: u16) {
    assert_eq!(v["HttpStatusCode"], status, "{v}");
    assert_eq!(v["StatusCode"], status, "{v}");
    for k in [
        "Hint",
        "Errors",
        "ErrorMessages",
        "RequestUri",
        "ExternalError",
    ] {
        assert!(v.get(k).is_some(), "{k} missing: {v}");
    }
    assert_eq!(
        v.as_object().unwrap().len(),
        7,
        "nothing beyond the seed's properties: {v}"
    );
}

#[tokio::test]
async fn sms_to_a_person_in_their_language_then_verify() {
    let app = spawn_app().await;
    person(
        &app,
        json!({"id": PERSON, "phone": "+31612345678", "language": "nl"}),
    )
    .await;
    let (status, v) = send(&app, json!({"PersonId": PERSON, "ContextId": "login-7"})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_envelope(&v, 200);
    assert_eq!(v["Hint"], "+31*******78");
    assert_eq!(v["Errors"]["IsValid"], true);
    assert_eq!(v["RequestUri"], SEND);
    let body = last_message(&app, "+31612345678").await;
    assert!(body.starts_with("Uw otpd verificatiecode is: "), "{body}");
    let code = code_in(&body);
    let wrong = if code == "000000" { "111111" } else { "000000" };

    // Bound to the context: another context knows no code.
    let (status, v) = verify(
        &app,
        json!({"PersonId": PERSON, "ContextId": "other", "Code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&v, 404);
    let (status, v) = verify(
        &app,
        json!({"PersonId": PERSON, "ContextId": "login-7", "Code": wrong}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["Errors"]["Errors"][0]["PropertyName"], "Code");
    assert_eq!(
        v["Errors"]["Errors"][0]["AttemptedValue"],
        Value::Null,
        "never echo codes"
    );
    let (status, v) = verify(
        &app,
        json!({"personId": PERSON, "contextId": "login-7", "code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["Hint"], "+31*******78");
    let (status, v) = verify(
        &app,
        json!({"PersonId": PERSON, "ContextId": "login-7", "Code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["ErrorMessages"][0]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{v}"
    );
}

#[tokio::test]
async fn email_medium_and_the_language_fallback_chain() {
    let app = spawn_app().await;
    person(&app, json!({"id": PERSON, "phone": "+14155552671", "email": "jane@example.com", "language": "de"})).await;
    let (status, v) = send(
        &app,
        json!({"PersonId": PERSON, "Medium": "EMAIL", "Language": "fr"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["Hint"], "j***@example.com");
    let mail = last_message(&app, "jane@example.com").await;
    assert!(
        mail.starts_with("Subject: Votre code de vérification otpd\n\nVotre code"),
        "{mail}"
    );
    // A language without templates falls back to the person's.
    send(&app, json!({"PersonId": PERSON, "Language": "xx"})).await;
    assert!(
        last_message(&app, "+14155552671")
            .await
            .starts_with("Ihr otpd Bestätigungscode")
    );
    // No language anywhere: the service's default.
    let other = "9a0c0305-4f89-11d3-9a0c-0305e82c3301";
    person(&app, json!({"id": other, "phone": "+14155552672"})).await;
    send(&app, json!({"PersonId": other})).await;
    assert!(
        last_message(&app, "+14155552672")
            .await
            .starts_with("Your otpd verification code")
    );
}

#[tokio::test]
async fn two_factor_id_selects_the_service_by_number() {
    let app = spawn_app().await;
    app.service(json!({"name": "First"})).await;
    app.service(json!({"name": "Second"})).await;
    person(&app, json!({"id": PERSON, "phone": "+31612345678"})).await;
    let (status, _) = send(&app, json!({"PersonId": PERSON, "TwoFactorId": "2"})).await;
    assert_eq!(status, StatusCode::OK);
    let body = last_message(&app, "+31612345678").await;
    assert!(body.contains("Second"), "{body}");
    let code = code_in(&body);
    // The code lives in service 2: verifying against service 1 finds nothing.
    let (status, _) = verify(
        &app,
        json!({"PersonId": PERSON, "TwoFactorId": "1", "Code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = verify(
        &app,
        json!({"PersonId": PERSON, "TwoFactorId": "2", "Code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = send(&app, json!({"PersonId": PERSON, "TwoFactorId": "9"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["Errors"]["Errors"][0]["PropertyName"], "TwoFactorId");
}

#[tokio::test]
async fn every_validation_rule_answers_400_in_fluentvalidation_shape_and_writes_nothing() {
    let app = spawn_app().await;
    person(&app, json!({"id": PERSON, "email": "jane@example.com"})).await;
    let before = app.row_counts();
    let long = "x".repeat(129);
    for (body, property, error_code) in [
        (json!({}), "PersonId", "NotEmptyValidator"),
        (json!({"PersonId": ""}), "PersonId", "NotEmptyValidator"),
        (json!({"PersonId": "   "}), "PersonId", "NotEmptyValidator"),
        (json!({"PersonId": "42"}), "PersonId", "PredicateValidator"),
        (
            json!({"PersonId": PERSON, "Medium": "fax"}),
            "Medium",
            "PredicateValidator",
        ),
        (
            json!({"PersonId": PERSON, "Language": "english!"}),
            "Language",
            "PredicateValidator",
        ),
        (
            json!({"PersonId": PERSON, "ContextId": long}),
            "ContextId",
            "MaximumLengthValidator",
        ),
        (
            json!({"PersonId": PERSON, "TwoFactorId": "abc"}),
            "TwoFactorId",
            "PredicateValidator",
        ),
        (
            json!({"PersonId": PERSON, "TwoFactorId": "0"}),
            "TwoFactorId",
            "PredicateValidator",
        ),
        (
            json!({"PersonId": PERSON, "Extra": "1"}),
            "Extra",
            "AdditionalPropertiesValidator",
        ),
        (json!({"PersonId": 42}), "PersonId", "PredicateValidator"),
        (
            json!({"PersonId": PERSON, "Medium": ["sms"]}),
            "Medium",
            "PredicateValidator",
        ),
        // Sms to a person with no phone number.
        (json!({"PersonId": PERSON}), "Medium", "PredicateValidator"),
    ] {
        let (status, v) = send(&app, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_envelope(&v, 400);
        assert_eq!(v["Errors"]["IsValid"], false);
        let f = &v["Errors"]["Errors"][0];
        assert_eq!(f["PropertyName"], property, "{body}: {v}");
        assert_eq!(f["ErrorCode"], error_code, "{body}: {v}");
        assert_eq!(f["Severity"], 0);
        assert_eq!(v["ErrorMessages"][0], f["ErrorMessage"]);
        assert_eq!(v["Hint"], Value::Null);
    }
    // Every failure at once, as FluentValidation reports them.
    let (_, v) = send(
        &app,
        json!({"Medium": "fax", "Language": "!", "TwoFactorId": "x"}),
    )
    .await;
    let props: Vec<&str> = v["Errors"]["Errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["PropertyName"].as_str().unwrap())
        .collect();
    assert_eq!(props, ["PersonId", "TwoFactorId", "Language", "Medium"]);
    // A duplicate property (in any case) and a body that is not an object.
    let raw = |b: &'static str| {
        app.client
            .post(app.url(SEND))
            .header("Ocp-Apim-Subscription-Key", token(&app))
            .header("Content-Type", "application/json")
            .body(b)
            .send()
    };
    for b in [
        r#"{"PersonId":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","personid":"x"}"#,
        "[]",
        "{",
        "",
    ] {
        let r = raw(b).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{b}");
        let v: Value = r.json().await.unwrap();
        assert_envelope(&v, 400);
    }
    // Not JSON at all: 415 in the envelope.
    let r = app
        .client
        .post(app.url(SEND))
        .header("Ocp-Apim-Subscription-Key", token(&app))
        .header("Content-Type", "text/plain")
        .body("PersonId=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_envelope(&r.json().await.unwrap(), 415);
    // Verify's own rules.
    for (body, property) in [
        (json!({"PersonId": PERSON}), "Code"),
        (json!({"PersonId": PERSON, "Code": "12 34"}), "Code"),
        (
            json!({"PersonId": PERSON, "Code": "1234", "Medium": "sms"}),
            "Medium",
        ),
        (json!({"Code": "1234"}), "PersonId"),
    ] {
        let (status, v) = verify(&app, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            v["Errors"]["Errors"][0]["PropertyName"], property,
            "{body}: {v}"
        );
    }
    assert_eq!(app.row_counts(), before);
}

#[tokio::test]
async fn unknown_persons_are_404_in_the_envelope() {
    let app = spawn_app().await;
    let (status, v) = send(&app, json!({"PersonId": PERSON})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&v, 404);
    assert_eq!(v["ErrorMessages"][0], "No person has this PersonId.");
    let (status, v) = verify(&app, json!({"PersonId": PERSON, "Code": "123456"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&v, 404);
}

#[tokio::test]
async fn missing_or_wrong_subscription_keys_get_apim_bodies() {
    let app = spawn_app().await;
    let missing = json!({"statusCode": 401, "message": "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."});
    let invalid = json!({"statusCode": 401, "message": "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."});
    for path in [SEND, VERIFY] {
        assert_eq!(
            call(&app, path, None, json!({})).await,
            (StatusCode::UNAUTHORIZED, missing.clone())
        );
        assert_eq!(
            call(&app, path, Some(""), json!({})).await,
            (StatusCode::UNAUTHORIZED, missing.clone())
        );
        let wrong = format!("{}.{}x", app.admin.0, app.admin.1);
        for k in [
            wrong.as_str(),
            "nonsense",
            "SK00000000000000000000000000000000.abc",
        ] {
            assert_eq!(
                call(&app, path, Some(k), json!({})).await,
                (StatusCode::UNAUTHORIZED, invalid.clone())
            );
        }
        // Basic credentials are not a subscription key.
        let r = app
            .client
            .post(app.url(path))
            .basic_auth(&app.admin.0, Some(&app.admin.1))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // A key without the verify scope is no subscription to this API.
    let no_verify = app.new_key("default", "reveal_code").await;
    let (status, v) = call(
        &app,
        SEND,
        Some(&format!("{}.{}", no_verify.0, no_verify.1)),
        json!({}),
    )
    .await;
    assert_eq!((status, v), (StatusCode::UNAUTHORIZED, invalid));
}
