//! The SignalWire MFA dialect (seed 004): every field, default and range, the error shapes
//! byte for byte, verify semantics, and that refused requests write nothing.

use crate::helpers::{TestApp, spawn_app};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

const SMS: &str = "/api/relay/rest/mfa/sms";
const CALL: &str = "/api/relay/rest/mfa/call";

fn verify_path(id: &str) -> String {
    format!("/api/relay/rest/mfa/{id}/verify")
}

/// A distinct valid number per successful send, so the per-destination send limit never
/// interferes.
fn number(n: u32) -> String {
    format!("+141555526{n:02}")
}

/// Delivers what is queued, then the newest outbox message for `to`: (channel, body).
async fn sent(app: &TestApp, to: &str) -> (String, String) {
    app.deliver().await;
    let r = app
        .client
        .get(app.url("/v1/outbox"))
        .query(&[("to", to)])
        .basic_auth(&app.admin.0, Some(&app.admin.1))
        .send()
        .await
        .unwrap();
    let msgs: Vec<Value> = r.json().await.unwrap();
    let m = &msgs[0];
    (
        m["channel"].as_str().unwrap().to_owned(),
        m["body"].as_str().unwrap().to_owned(),
    )
}

/// The token at the end of an SMS body.
async fn token_sent(app: &TestApp, to: &str) -> String {
    let (_, body) = sent(app, to).await;
    body.rsplit(' ').next().unwrap().to_owned()
}

async fn raw(r: Response) -> (StatusCode, String) {
    let status = r.status();
    (status, r.text().await.unwrap())
}

/// Asserts the seed's `ValidationError` shape exactly and returns the fields named, in order.
fn validation_fields(status: StatusCode, text: &str) -> Vec<String> {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    let body: Value = serde_json::from_str(text).unwrap();
    let obj = body.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["errors"], "{text}");
    let errors = body["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{text}");
    errors
        .iter()
        .map(|e| {
            let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 4, "{text}");
            for k in ["detail", "status", "title", "code"] {
                assert!(e[k].is_string(), "{k} must be a string: {text}");
            }
            assert_eq!(e["status"], "422", "{text}");
            let detail = e["detail"].as_str().unwrap();
            detail.split(' ').next().unwrap().to_owned()
        })
        .collect()
}

async fn send(app: &TestApp, path: &str, body: Value) -> (StatusCode, String) {
    raw(app.post(path, body).await).await
}

/// A successful send; returns the response as JSON after checking its raw shape.
async fn send_ok(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, text) = send(app, path, body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // Key names, order and JSON types of the seed's MfaResponse.
    assert!(text.starts_with("{\"id\":\""), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["channel", "id", "success", "to"], "{text}");
    let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
    assert!(at("id") < at("success") && at("success") < at("to") && at("to") < at("channel"));
    assert!(v["id"].is_string() && v["to"].is_string() && v["channel"].is_string());
    assert_eq!(v["success"], true);
    let id = v["id"].as_str().unwrap();
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "uuid: {id}");
    assert!(id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
    v
}

async fn verify(app: &TestApp, id: &str, token: &str) -> (StatusCode, String) {
    send(app, &verify_path(id), json!({ "token": token })).await
}

fn wrong(token: &str) -> String {
    if token.starts_with('9') {
        token.replacen('9', "8", 1)
    } else {
        format!("9{}", &token[1..])
    }
}

const NOT_FOUND: &str = r#"{"error":"Not Found"}"#;
const UNAUTHORIZED: &str = r#"{"error":"Unauthorized"}"#;

#[tokio::test]
async fn sms_with_defaults_then_verify() {
    let app = spawn_app().await;
    let to = number(1);
    let v = send_ok(&app, SMS, json!({ "to": to })).await;
    assert_eq!(v["to"], to.as_str());
    assert_eq!(v["channel"], "sms");
    let id = v["id"].as_str().unwrap();

    let (channel, body) = sent(&app, &to).await;
    assert_eq!(channel, "sms");
    let token = body
        .strip_prefix("Your Personal Authorization Code is: ")
        .unwrap();
    assert_eq!(token.len(), 6);
    assert!(token.bytes().all(|b| b.is_ascii_digit()));

    // The id is otpd's verification id, readable natively too.
    let native_id = format!("VE{}", id.replace('-', ""));
    let services: Value = app.get("/v1/services").await.json().await.unwrap();
    let sid = services["services"][0]["id"].as_str().unwrap().to_owned();
    let native: Value = app
        .get(&format!("/v1/services/{sid}/verifications/{native_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(native["status"], "pending", "{native}");

    assert_eq!(
        verify(&app, id, token).await,
        (StatusCode::OK, r#"{"success":true}"#.to_owned())
    );
    // Already verified: gone.
    assert_eq!(
        verify(&app, id, token).await,
        (StatusCode::NOT_FOUND, NOT_FOUND.to_owned())
    );
}

#[tokio::test]
async fn sms_with_every_field() {
    let app = spawn_app().await;
    let to = number(2);
    let v = send_ok(
        &app,
        SMS,
        json!({
            "to": to, "from": "+14155550100", "message": "Acme code:",
            "token_length": 8, "valid_for": 120, "max_attempts": 5, "allow_alphas": true,
            "unknown_field": "ignored"
        }),
    )
    .await;
    let (_, body) = sent(&app, &to).await;
    let token = body.strip_prefix("Acme code: ").unwrap();
    assert_eq!(token.len(), 8);
    assert!(
        token
            .bytes()
            .all(|b| b"23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(&b)),
        "{token}"
    );
    let id = v["id"].as_str().unwrap();
    // Letters are compared without case.
    assert_eq!(
        verify(&app, id, &token.to_ascii_lowercase()).await,
        (StatusCode::OK, r#"{"success":true}"#.to_owned())
    );
}

#[tokio::test]
async fn call_speaks_the_message_and_token_twice() {
    let app = spawn_app().await;
    let to = number(3);
    let v = send_ok(
        &app,
        CALL,
        json!({ "to": to, "message": "Your Acme code is", "token_length": 4 }),
    )
    .await;
    assert_eq!(v["channel"], "call");
    let (channel, body) = sent(&app, &to).await;
    assert_eq!(channel, "call");
    let once = body.split(". ").next().unwrap();
    assert_eq!(body, format!("{once}. {once}."));
    let spoken = once.strip_prefix("Your Acme code is ").unwrap();
    let token: String = spoken.split(", ").collect();
    assert_eq!(token.len(), 4, "{body}");
    assert_eq!(
        verify(&app, v["id"].as_str().unwrap(), &token).await,
        (StatusCode::OK, r#"{"success":true}"#.to_owned())
    );

    // The default message on a call.
    let to = number(4);
    send_ok(&app, CALL, json!({ "to": to })).await;
    let (_, body) = sent(&app, &to).await;
    assert!(
        body.starts_with("Your Personal Authorization Code is: "),
        "{body}"
    );
}

#[tokio::test]
async fn range_boundaries_accepted() {
    let app = spawn_app().await;
    let cases = [
        (json!({"token_length": 4}), Some(4)),
        (json!({"token_length": 20}), Some(20)),
        (json!({"valid_for": 1}), None),
        (json!({"valid_for": 604800}), None),
        (json!({"max_attempts": 1}), None),
        (json!({"max_attempts": 20}), None),
        (json!({"allow_alphas": false}), Some(6)),
    ];
    for (i, (mut body, len)) in cases.into_iter().enumerate() {
        let to = number(10 + i as u32);
        body["to"] = json!(to);
        send_ok(&app, SMS, body.clone()).await;
        let token = token_sent(&app, &to).await;
        if let Some(len) = len {
            assert_eq!(token.len(), len, "{body}");
        }
        assert!(token.bytes().all(|b| b.is_ascii_digit()), "{body}");
    }
}

#[tokio::test]
async fn range_boundaries_refused_and_nothing_written() {
    let app = spawn_app().await;
    let before = app.row_counts();
    let to = number(20);
    let cases = [
        (json!({"to": to, "token_length": 3}), "token_length"),
        (json!({"to": to, "token_length": 21}), "token_length"),
        (json!({"to": to, "token_length": -6}), "token_length"),
        (json!({"to": to, "valid_for": 0}), "valid_for"),
        (json!({"to": to, "valid_for": 604801}), "valid_for"),
        (json!({"to": to, "max_attempts": 0}), "max_attempts"),
        (json!({"to": to, "max_attempts": 21}), "max_attempts"),
        (
            json!({"to": to, "max_attempts": 18446744073709551615u64}),
            "max_attempts",
        ),
    ];
    for (body, field) in cases {
        for path in [SMS, CALL] {
            let (status, text) = send(&app, path, body.clone()).await;
            assert_eq!(validation_fields(status, &text), [field], "{body}");
            let e: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(e["errors"][0]["code"], "invalid_parameter");
            assert_eq!(e["errors"][0]["title"], "Invalid Parameter");
        }
    }
    assert_eq!(app.row_counts(), before, "refused requests wrote nothing");
}

#[tokio::test]
async fn message_must_fit_one_segment() {
    let app = spawn_app().await;
    let before = app.row_counts();
    // GSM-7: message + " " + 6-digit token = 160 septets just fits.
    let gsm_fits = "a".repeat(153);
    let gsm_over = "a".repeat(154);
    // `€` is a GSM-7 extension character: 2 septets.
    let euro_fits = format!("€{}", "a".repeat(151));
    let euro_over = format!("€{}", "a".repeat(152));
    // `ł` is not GSM-7: UCS-2, 70 units.
    let ucs2_fits = format!("ł{}", "a".repeat(62));
    let ucs2_over = format!("ł{}", "a".repeat(63));
    // With a 20-symbol token the room shrinks by 14.
    let long_token_over = "a".repeat(140);

    for (message, extra) in [
        (&gsm_over, json!({})),
        (&euro_over, json!({})),
        (&ucs2_over, json!({})),
        (&long_token_over, json!({"token_length": 20})),
        (&"a".repeat(70_000), json!({})),
    ] {
        let mut body = json!({"to": number(30), "message": message});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        for path in [SMS, CALL] {
            let (status, text) = send(&app, path, body.clone()).await;
            if message.len() > 64 * 1024 {
                assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
                let e: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(e["errors"][0]["status"], "413");
                continue;
            }
            assert_eq!(validation_fields(status, &text), ["message"], "{message}");
        }
    }
    let (status, text) = send(&app, SMS, json!({"to": number(30), "message": ""})).await;
    assert_eq!(validation_fields(status, &text), ["message"]);
    assert_eq!(app.row_counts(), before, "refused requests wrote nothing");

    for (i, message) in [&gsm_fits, &euro_fits, &ucs2_fits].into_iter().enumerate() {
        let to = number(31 + i as u32);
        send_ok(&app, SMS, json!({"to": to, "message": message})).await;
        let (_, body) = sent(&app, &to).await;
        let token = body.strip_prefix(&format!("{message} ")).unwrap();
        assert_eq!(token.len(), 6);
    }
    let to = number(34);
    send_ok(
        &app,
        SMS,
        json!({"to": to, "message": "a".repeat(139), "token_length": 20}),
    )
    .await;
    assert_eq!(token_sent(&app, &to).await.len(), 20);
}

#[tokio::test]
async fn bad_fields_and_types_each_named() {
    let app = spawn_app().await;
    let before = app.row_counts();
    let ok = number(40);
    let cases = [
        (json!({}), vec!["to"]),
        (json!({"to": null}), vec!["to"]),
        (json!({"to": "4155552671"}), vec!["to"]),
        (json!({"to": "+1 415 555 2671"}), vec!["to"]),
        (json!({"to": "+1415555267a"}), vec!["to"]),
        (json!({"to": "jane@example.com"}), vec!["to"]),
        (json!({"to": 14155552671u64}), vec!["to"]),
        (json!({"to": ok, "from": "not-a-number"}), vec!["from"]),
        (json!({"to": ok, "from": 14155550100u64}), vec!["from"]),
        (json!({"to": ok, "message": 5}), vec!["message"]),
        (json!({"to": ok, "token_length": "6"}), vec!["token_length"]),
        (json!({"to": ok, "token_length": 6.0}), vec!["token_length"]),
        (json!({"to": ok, "valid_for": 1.5}), vec!["valid_for"]),
        (
            json!({"to": ok, "max_attempts": true}),
            vec!["max_attempts"],
        ),
        (
            json!({"to": ok, "allow_alphas": "true"}),
            vec!["allow_alphas"],
        ),
        (json!({"to": ok, "allow_alphas": 1}), vec!["allow_alphas"]),
        (
            json!({"token_length": 3, "valid_for": 0, "max_attempts": 21, "allow_alphas": "x"}),
            vec![
                "to",
                "token_length",
                "valid_for",
                "max_attempts",
                "allow_alphas",
            ],
        ),
    ];
    for (body, fields) in cases {
        let (status, text) = send(&app, SMS, body.clone()).await;
        assert_eq!(validation_fields(status, &text), fields, "{body}");
    }
    let (status, text) = send(&app, SMS, json!({})).await;
    let e: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(validation_fields(status, &text), ["to"]);
    assert_eq!(
        e,
        json!({"errors": [{"detail": "to is required", "status": "422",
            "title": "Missing Required Parameter", "code": "missing_required_parameter"}]})
    );

    // Raw bodies: not JSON, not an object, a duplicate key, another content type.
    let post_raw = |body: &'static str, ct: Option<&'static str>| {
        let mut rb = app
            .client
            .post(app.url(SMS))
            .basic_auth(&app.admin.0, Some(&app.admin.1))
            .body(body);
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        rb.send()
    };
    let json_ct = Some("application/json");
    for body in ["{\"to\": ", "not json", "[\"+14155552640\"]", "", "null"] {
        let (status, text) = raw(post_raw(body, json_ct).await.unwrap()).await;
        assert_eq!(validation_fields(status, &text), ["body"], "{body}");
    }
    let (status, text) = raw(post_raw(
        "{\"to\":\"+14155552640\",\"to\":\"+14155552641\"}",
        json_ct,
    )
    .await
    .unwrap())
    .await;
    assert_eq!(validation_fields(status, &text), ["to"]);
    for ct in [
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        None,
    ] {
        let (status, text) = raw(post_raw("to=%2B14155552640", ct).await.unwrap()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{text}");
        let e: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(e["errors"][0]["status"], "415", "{text}");
        assert_eq!(e["errors"][0]["code"], "unsupported_media_type", "{text}");
    }
    assert_eq!(app.row_counts(), before, "refused requests wrote nothing");
    // A charset parameter is fine.
    let (status, text) = raw(post_raw(
        "{\"to\":\"+14155552640\"}",
        Some("application/json; charset=utf-8"),
    )
    .await
    .unwrap())
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
}

#[tokio::test]
async fn geo_permission_refuses_to() {
    let app = spawn_app().await;
    // The tenant's first service is the one SignalWire requests go through.
    app.service(json!({"allowed_countries": ["DE"]})).await;
    let before = app.row_counts();
    let (status, text) = send(&app, SMS, json!({"to": number(95)})).await;
    assert_eq!(validation_fields(status, &text), ["to"]);
    assert_eq!(app.row_counts(), before);
}

#[tokio::test]
async fn unauthorized_shapes() {
    let app = spawn_app().await;
    let before = app.row_counts();
    let body = json!({"to": number(50)});
    let unauthorized = |text: &str, status: StatusCode| {
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(text, UNAUTHORIZED);
    };
    for path in [
        SMS,
        CALL,
        &verify_path("01234567-89ab-cdef-0123-456789abcdef"),
    ] {
        // No credentials.
        let r = app
            .client
            .post(app.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.headers().contains_key("www-authenticate"));
        let (s, t) = raw(r).await;
        unauthorized(&t, s);
        // Wrong secret, unknown project id, garbage header, Bearer (not SignalWire's).
        let (s, t) = raw(app
            .post_as(&(app.admin.0.clone(), "wrong".into()), path, body.clone())
            .await)
        .await;
        unauthorized(&t, s);
        let (s, t) = raw(app
            .post_as(&("project".into(), "token".into()), path, body.clone())
            .await)
        .await;
        unauthorized(&t, s);
        for header in ["Basic !!!", "Basic", "Bearer x.y"] {
            let r = app
                .client
                .post(app.url(path))
                .header("authorization", header)
                .json(&body)
                .send()
                .await
                .unwrap();
            let (s, t) = raw(r).await;
            unauthorized(&t, s);
        }
        // A wrong body is not looked at before the credentials.
        let r = app
            .client
            .post(app.url(path))
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        let (s, t) = raw(r).await;
        unauthorized(&t, s);
    }
    // A key without the verify scope.
    let reveal_only = app.new_key("default", "reveal_code").await;
    let before_key = app.row_counts();
    let (s, t) = raw(app.post_as(&reveal_only, SMS, body.clone()).await).await;
    unauthorized(&t, s);
    assert_eq!(app.row_counts(), before_key);
    assert_ne!(before, before_key);
}

#[tokio::test]
async fn verify_wrong_then_right_and_exhaustion() {
    let app = spawn_app().await;
    let to = number(60);
    let v = send_ok(&app, SMS, json!({"to": to, "max_attempts": 3})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let token = token_sent(&app, &to).await;
    let bad = wrong(&token);
    let fail = (StatusCode::OK, r#"{"success":false}"#.to_owned());
    assert_eq!(verify(&app, &id, &bad).await, fail);
    assert_eq!(verify(&app, &id, &bad).await, fail);
    assert_eq!(
        verify(&app, &id, &token).await,
        (StatusCode::OK, r#"{"success":true}"#.to_owned())
    );

    // Exhausted: every attempt used; even the right token is then 404.
    let to = number(61);
    let v = send_ok(&app, SMS, json!({"to": to, "max_attempts": 2})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let token = token_sent(&app, &to).await;
    let bad = wrong(&token);
    assert_eq!(verify(&app, &id, &bad).await, fail);
    assert_eq!(
        verify(&app, &id, &bad).await,
        fail,
        "the last attempt counts"
    );
    assert_eq!(
        verify(&app, &id, &token).await,
        (StatusCode::NOT_FOUND, NOT_FOUND.to_owned())
    );
    assert_eq!(
        verify(&app, &id, &bad).await,
        (StatusCode::NOT_FOUND, NOT_FOUND.to_owned())
    );

    // max_attempts 1: one wrong try ends it.
    let to = number(62);
    let v = send_ok(&app, SMS, json!({"to": to, "max_attempts": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let token = token_sent(&app, &to).await;
    assert_eq!(verify(&app, &id, &wrong(&token)).await, fail);
    assert_eq!(verify(&app, &id, &token).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn verify_expired() {
    let app = spawn_app().await;
    let to = number(70);
    let v = send_ok(&app, SMS, json!({"to": to, "valid_for": 60})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let token = token_sent(&app, &to).await;
    app.clock.advance_secs(59);
    assert_eq!(
        verify(&app, &id, &wrong(&token)).await,
        (StatusCode::OK, r#"{"success":false}"#.to_owned())
    );
    app.clock.advance_secs(1);
    assert_eq!(
        verify(&app, &id, &token).await,
        (StatusCode::NOT_FOUND, NOT_FOUND.to_owned())
    );

    // Default validity: 3600 s.
    let to = number(71);
    let v = send_ok(&app, SMS, json!({"to": to})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let token = token_sent(&app, &to).await;
    app.clock.advance_secs(3600);
    assert_eq!(verify(&app, &id, &token).await.0, StatusCode::NOT_FOUND);

    // valid_for 1.
    let to = number(72);
    let v = send_ok(&app, SMS, json!({"to": to, "valid_for": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let token = token_sent(&app, &to).await;
    app.clock.advance_secs(1);
    assert_eq!(verify(&app, &id, &token).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn verify_unknown_ids_and_bad_tokens() {
    let app = spawn_app().await;
    let before = app.row_counts();
    // No service exists yet: unknown ids are 404 and nothing gets created.
    for id in [
        "01234567-89ab-cdef-0123-456789abcdef",
        "VE0123456789abcdef0123456789abcdef",
        "not-a-uuid",
        "01234567-89ab-cdef-0123-456789abcdeZ",
    ] {
        assert_eq!(
            verify(&app, id, "123456").await,
            (StatusCode::NOT_FOUND, NOT_FOUND.to_owned()),
            "{id}"
        );
    }
    assert_eq!(app.row_counts(), before);

    let to = number(80);
    let v = send_ok(&app, SMS, json!({"to": to})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let token = token_sent(&app, &to).await;
    assert_eq!(
        verify(&app, "01234567-89ab-cdef-0123-456789abcdef", &token).await,
        (StatusCode::NOT_FOUND, NOT_FOUND.to_owned())
    );

    // Bad token bodies are 422 and use no attempt.
    let before = app.row_counts();
    for (body, field) in [
        (json!({}), "token"),
        (json!({"token": null}), "token"),
        (json!({"token": 123456}), "token"),
        (json!({"token": ""}), "token"),
        (json!({"token": "12 34-56"}), "token"),
        (json!({"token": "1".repeat(65)}), "token"),
    ] {
        let (status, text) = send(&app, &verify_path(&id), body.clone()).await;
        assert_eq!(validation_fields(status, &text), [field], "{body}");
    }
    assert_eq!(app.row_counts(), before);

    // Another tenant cannot see it.
    let other = app.new_key("other", "verify").await;
    let (s, t) = raw(app
        .post_as(&other, &verify_path(&id), json!({"token": token}))
        .await)
    .await;
    assert_eq!((s, t.as_str()), (StatusCode::NOT_FOUND, NOT_FOUND));

    // Upper-case uuid and the native id both address it.
    assert_eq!(
        verify(&app, &id.to_uppercase(), &token).await,
        (StatusCode::OK, r#"{"success":true}"#.to_owned())
    );
}

#[tokio::test]
async fn other_methods_get_the_dialect_shape() {
    let app = spawn_app().await;
    let r = app.get(SMS).await;
    assert_eq!(
        raw(r).await,
        (
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"error":"Method Not Allowed"}"#.to_owned()
        )
    );
}

#[tokio::test]
async fn resend_to_a_pending_number_keeps_the_id() {
    let app = spawn_app().await;
    let to = number(90);
    let first = send_ok(&app, SMS, json!({"to": to})).await;
    let old = token_sent(&app, &to).await;
    let second = send_ok(&app, SMS, json!({"to": to})).await;
    assert_eq!(first["id"], second["id"]);
    let new = token_sent(&app, &to).await;
    let id = second["id"].as_str().unwrap();
    if old != new {
        assert_eq!(
            verify(&app, id, &old).await,
            (StatusCode::OK, r#"{"success":false}"#.to_owned()),
            "the old token died"
        );
    }
    assert_eq!(
        verify(&app, id, &new).await,
        (StatusCode::OK, r#"{"success":true}"#.to_owned())
    );
}

#[tokio::test]
async fn unknown_paths_under_the_prefix_are_the_dialects_404() {
    let app = spawn_app().await;
    for path in [
        "/api/relay/rest/mfa/email",
        "/api/relay/rest/mfa/01234567-89ab-cdef-0123-456789abcdef",
        "/api/relay/rest/mfa/01234567-89ab-cdef-0123-456789abcdef/check",
    ] {
        assert_eq!(
            send(&app, path, json!({"to": number(96)})).await,
            (StatusCode::NOT_FOUND, NOT_FOUND.to_owned()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn send_limits_answer_429_in_the_errors_shape() {
    let app = spawn_app().await;
    let to = number(97);
    // The service's defaults: 5 sends per destination in 600 s.
    for _ in 0..5 {
        send_ok(&app, SMS, json!({"to": to})).await;
    }
    let before = app.row_counts();
    let r = app.post(SMS, json!({"to": to})).await;
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 600);
    let (status, text) = raw(r).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{text}");
    let e: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(e["errors"][0]["status"], "429", "{text}");
    assert_eq!(e["errors"][0]["code"], "rate_limited", "{text}");
    assert_eq!(app.row_counts(), before);
}
