//! Every bad input gets the documented 4xx, names the field, and writes nothing.

use crate::helpers::{TestApp, error_of, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

async fn assert_rejected(
    _app: &TestApp,
    r: reqwest::Response,
    status: StatusCode,
    field: Option<&str>,
) {
    let (got, body) = error_of(r).await;
    assert_eq!(got, status, "{body}");
    if let Some(f) = field {
        assert_eq!(body["error"]["field"], f, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().starts_with(f),
            "{body}"
        );
    }
}

#[tokio::test]
async fn bad_verification_requests() {
    let app = spawn_app().await;
    let sid = app.service(json!({})).await;
    let path = format!("/v1/services/{sid}/verifications");
    let before = app.row_counts();

    let cases = [
        (json!({"to": "4155552671", "channel": "sms"}), "to"),
        (json!({"to": "+1 415 555 2671", "channel": "sms"}), "to"),
        (json!({"to": "+14155552671", "channel": "fax"}), "channel"),
        (json!({"to": "+14155552671"}), "channel"),
        (json!({"channel": "sms"}), "to"),
        (json!({"to": 14155552671u64, "channel": "sms"}), "to"),
        (
            json!({"to": "+14155552671", "channel": "sms", "locale": "english!"}),
            "locale",
        ),
        (
            json!({"to": "+14155552671", "channel": "sms", "colour": "red"}),
            "colour",
        ),
        (json!({"to": "not-an-email", "channel": "email"}), "to"),
        (json!({"to": "jane@example.com", "channel": "sms"}), "to"),
        (
            json!({"to": "+14155552671", "channel": "sms", "custom_code": 1234}),
            "custom_code",
        ),
    ];
    for (body, field) in cases {
        let r = app.post(&path, body.clone()).await;
        assert_rejected(&app, r, StatusCode::BAD_REQUEST, Some(field)).await;
    }

    let raw = |body: &'static str, ct: &'static str| {
        app.client
            .post(app.url(&path))
            .basic_auth(&app.admin.0, Some(&app.admin.1))
            .header("content-type", ct)
            .body(body)
    };
    let r = raw("{\"to\": \"+14155552671\", ", "application/json")
        .send()
        .await
        .unwrap();
    assert_rejected(&app, r, StatusCode::BAD_REQUEST, Some("body")).await;
    let r = raw(
        "{\"to\":\"+14155552671\",\"to\":\"+14155552672\",\"channel\":\"sms\"}",
        "application/json",
    )
    .send()
    .await
    .unwrap();
    assert_rejected(&app, r, StatusCode::BAD_REQUEST, Some("to")).await;
    let r = raw(
        "to=%2B14155552671&channel=sms",
        "application/x-www-form-urlencoded",
    )
    .send()
    .await
    .unwrap();
    assert_rejected(&app, r, StatusCode::UNSUPPORTED_MEDIA_TYPE, None).await;
    let r = raw("{}", "text/plain").send().await.unwrap();
    assert_rejected(&app, r, StatusCode::UNSUPPORTED_MEDIA_TYPE, None).await;

    let big = format!(
        "{{\"to\":\"+14155552671\",\"channel\":\"sms\",\"locale\":\"{}\"}}",
        "a".repeat(70_000)
    );
    let r = app
        .client
        .post(app.url(&path))
        .basic_auth(&app.admin.0, Some(&app.admin.1))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_rejected(&app, r, StatusCode::PAYLOAD_TOO_LARGE, None).await;

    assert_eq!(app.row_counts(), before, "rejected requests wrote nothing");
}

#[tokio::test]
async fn unknown_service_and_verification_are_404() {
    let app = spawn_app().await;
    let sid = app.service(json!({})).await;
    let before = app.row_counts();
    for path in [
        "/v1/services/VA00000000000000000000000000000000/verifications".to_owned(),
        "/v1/services/not-an-id/verifications".to_owned(),
    ] {
        let r = app
            .post(&path, json!({"to": "+14155552671", "channel": "sms"}))
            .await;
        assert_rejected(&app, r, StatusCode::NOT_FOUND, None).await;
    }
    let r = app
        .post(
            &format!("/v1/services/{sid}/verifications/VE00000000000000000000000000000000/check"),
            json!({"code": "123456"}),
        )
        .await;
    assert_rejected(&app, r, StatusCode::NOT_FOUND, None).await;
    let r = app
        .get(&format!("/v1/services/{sid}/verifications/nope"))
        .await;
    assert_rejected(&app, r, StatusCode::NOT_FOUND, None).await;
    assert_eq!(app.row_counts(), before);
}

#[tokio::test]
async fn bad_checks_and_services() {
    let app = spawn_app().await;
    let sid = app.service(json!({})).await;
    let id = app.start(&sid, "+14155552671").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.deliver().await;
    let before = app.row_counts();
    let check = format!("/v1/services/{sid}/verifications/{id}/check");
    for (body, field) in [
        (json!({}), "code"),
        (json!({"code": 123456}), "code"),
        (json!({"code": ""}), "code"),
        (json!({"code": "12;34"}), "code"),
    ] {
        let r = app.post(&check, body).await;
        assert_rejected(&app, r, StatusCode::BAD_REQUEST, Some(field)).await;
    }
    for (body, field) in [
        (json!({"name": "A", "code_length": 3}), "code_length"),
        (json!({"name": "A", "code_length": 21}), "code_length"),
        (json!({"name": "A", "ttl_seconds": 604801}), "ttl_seconds"),
        (json!({"name": "A", "alphabet": "emoji"}), "alphabet"),
        (json!({"name": ""}), "name"),
        (
            json!({"name": "A", "max_check_attempts": "five"}),
            "max_check_attempts",
        ),
        (
            json!({"name": "A", "send_limit": {"count": 0, "window_seconds": 60}}),
            "send_limit",
        ),
        (json!({"nam": "A"}), "nam"),
    ] {
        let r = app.post("/v1/services", body).await;
        assert_rejected(&app, r, StatusCode::BAD_REQUEST, Some(field)).await;
    }
    let got: serde_json::Value = app
        .get(&format!("/v1/services/{sid}/verifications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["failed_attempts"], 0, "malformed codes are not guesses");
    assert_eq!(app.row_counts(), before);
}

#[tokio::test]
async fn authentication_and_scopes() {
    let app = spawn_app().await;
    let sid = app.service(json!({})).await;
    let path = format!("/v1/services/{sid}/verifications");
    let body = json!({"to": "+14155552671", "channel": "sms"});

    let r = app
        .client
        .post(app.url(&path))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"otpd\"");
    assert_rejected(&app, r, StatusCode::UNAUTHORIZED, None).await;
    let r = app
        .post_as(&(app.admin.0.clone(), "wrong".into()), &path, body.clone())
        .await;
    assert_rejected(&app, r, StatusCode::UNAUTHORIZED, None).await;
    let r = app
        .post_as(&("SKnope".into(), "x".into()), &path, body.clone())
        .await;
    assert_rejected(&app, r, StatusCode::UNAUTHORIZED, None).await;
    // Keys are never read from the query string.
    let r = app
        .client
        .post(app.url(&format!(
            "{path}?key_id={}&secret={}",
            app.admin.0, app.admin.1
        )))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_rejected(&app, r, StatusCode::UNAUTHORIZED, None).await;

    let verify_only = app.new_key("default", "verify").await;
    let before = app.row_counts();
    let r = app
        .post_as(&verify_only, "/v1/services", json!({"name": "X"}))
        .await;
    assert_rejected(&app, r, StatusCode::FORBIDDEN, None).await;
    let r = app
        .client
        .get(app.url("/v1/outbox"))
        .basic_auth(&verify_only.0, Some(&verify_only.1))
        .send()
        .await
        .unwrap();
    assert_rejected(&app, r, StatusCode::FORBIDDEN, None).await;
    assert_eq!(app.row_counts(), before);

    // Bearer <key_id>.<secret> works too.
    let r = app
        .client
        .post(app.url(&path))
        .bearer_auth(format!("{}.{}", verify_only.0, verify_only.1))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = spawn_app().await;
    let r = app.get("/v1/nothing-here").await;
    assert_rejected(&app, r, StatusCode::NOT_FOUND, None).await;
    let r = app
        .client
        .delete(app.url("/v1/services"))
        .send()
        .await
        .unwrap();
    assert_rejected(&app, r, StatusCode::METHOD_NOT_ALLOWED, None).await;
    let r = app
        .client
        .get(app.url("/v1/outbox?limit=abc"))
        .basic_auth(&app.admin.0, Some(&app.admin.1))
        .send()
        .await
        .unwrap();
    assert_rejected(&app, r, StatusCode::BAD_REQUEST, Some("limit")).await;
}
