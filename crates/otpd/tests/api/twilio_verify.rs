//! The Twilio Verify v2 dialect: every parameter, Twilio's resource and error shapes, check
//! semantics (approved once, then 20404; 60202 once exhausted; 60203 over the send limit), and
//! that refused requests write nothing.

use crate::helpers::{TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SERVICES: &str = "/v2/Services";

/// Form parameters, and a refused request: (parameters, status, Twilio code, text the message holds).
type Form<'a> = &'a [(&'a str, &'a str)];
type Case<'a> = (Form<'a>, StatusCode, u64, &'a str);

fn number(n: u32) -> String {
    format!("+141555526{n:02}")
}

async fn form_as(
    app: &TestApp,
    key: &(String, String),
    path: &str,
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(path))
        .basic_auth(&key.0, Some(&key.1))
        .form(params)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

async fn form(app: &TestApp, path: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
    form_as(app, &app.admin, path, params).await
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let r = app.get(path).await;
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// Asserts Twilio's error shape exactly and returns (code, message).
fn twilio_error(status: StatusCode, body: &Value) -> (u64, String) {
    let obj = body.as_object().unwrap();
    assert_eq!(
        obj.keys().collect::<Vec<_>>(),
        ["code", "message", "more_info", "status"],
        "{body}"
    );
    assert_eq!(body["status"].as_u64(), Some(status.as_u16() as u64));
    let code = body["code"].as_u64().unwrap();
    assert_eq!(
        body["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}")
    );
    (code, body["message"].as_str().unwrap().to_owned())
}

async fn twilio_service(app: &TestApp, params: &[(&str, &str)]) -> Value {
    let mut all = vec![("FriendlyName", "Acme")];
    all.extend_from_slice(params);
    let (status, body) = form(app, SERVICES, &all).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn verifications(sid: &str) -> String {
    format!("{SERVICES}/{sid}/Verifications")
}

fn check_path(sid: &str) -> String {
    format!("{SERVICES}/{sid}/VerificationCheck")
}

async fn start(app: &TestApp, sid: &str, to: &str) -> Value {
    let (status, body) = form(app, &verifications(sid), &[("To", to), ("Channel", "sms")]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn is_twilio_date(s: &Value) -> bool {
    let s = s.as_str().unwrap();
    s.len() == 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T'
}

#[tokio::test]
async fn services_are_created_fetched_and_listed() {
    let app = spawn_app().await;
    let s = twilio_service(
        &app,
        &[
            ("CodeLength", "8"),
            ("CustomCodeEnabled", "true"),
            ("LookupEnabled", "false"),
        ],
    )
    .await;
    let sid = s["sid"].as_str().unwrap();
    assert!(sid.starts_with("VA") && sid.len() == 34, "{s}");
    let account = s["account_sid"].as_str().unwrap();
    assert!(account.starts_with("AC") && account.len() == 34, "{s}");
    assert_eq!(s["friendly_name"], "Acme");
    assert_eq!(s["code_length"], 8);
    assert_eq!(s["custom_code_enabled"], true);
    assert_eq!(s["psd2_enabled"], false);
    assert_eq!(s["url"], app.url(&format!("{SERVICES}/{sid}")));
    assert_eq!(
        s["links"]["verifications"],
        app.url(&format!("{SERVICES}/{sid}/Verifications"))
    );
    assert!(is_twilio_date(&s["date_created"]) && is_twilio_date(&s["date_updated"]));

    let (status, fetched) = get(&app, &format!("{SERVICES}/{sid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, s);

    let (status, page) = get(&app, SERVICES).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["services"], json!([s]));
    assert_eq!(page["meta"]["key"], "services");
    assert_eq!(page["meta"]["next_page_url"], Value::Null);

    // The native API sees the same service.
    let r = app.get(&format!("/v1/services/{sid}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let native: Value = r.json().await.unwrap();
    assert_eq!(native["code_length"], 8);
}

#[tokio::test]
async fn bad_service_parameters_are_named_and_write_nothing() {
    let app = spawn_app().await;
    let verify_only = app.new_key("default", "verify").await;
    let before = app.row_counts();
    let cases: &[Case] = &[
        (&[], StatusCode::BAD_REQUEST, 20001, "FriendlyName"),
        (
            &[("FriendlyName", "   ")],
            StatusCode::BAD_REQUEST,
            60200,
            "FriendlyName",
        ),
        (
            &[("FriendlyName", "A name that is longer than thirty")],
            StatusCode::BAD_REQUEST,
            60200,
            "`FriendlyName`",
        ),
        (
            &[("FriendlyName", "A"), ("CodeLength", "11")],
            StatusCode::BAD_REQUEST,
            60200,
            "`CodeLength`",
        ),
        (
            &[("FriendlyName", "A"), ("CodeLength", "3")],
            StatusCode::BAD_REQUEST,
            60200,
            "`CodeLength`",
        ),
        (
            &[("FriendlyName", "A"), ("CodeLength", "six")],
            StatusCode::BAD_REQUEST,
            60200,
            "`CodeLength`",
        ),
        (
            &[("FriendlyName", "A"), ("CustomCodeEnabled", "yes")],
            StatusCode::BAD_REQUEST,
            60200,
            "`CustomCodeEnabled`",
        ),
        (
            &[("FriendlyName", "A"), ("Psd2Enabled", "true")],
            StatusCode::BAD_REQUEST,
            60200,
            "`Psd2Enabled`",
        ),
        (
            &[("FriendlyName", "A"), ("FriendlyName", "B")],
            StatusCode::BAD_REQUEST,
            60200,
            "`FriendlyName`: must appear only once",
        ),
    ];
    for (params, want_status, want_code, names) in cases {
        let (status, body) = form(&app, SERVICES, params).await;
        assert_eq!(status, *want_status, "{params:?}: {body}");
        let (code, message) = twilio_error(status, &body);
        assert_eq!(code, *want_code, "{params:?}: {body}");
        assert!(message.contains(names), "{params:?}: {message}");
    }
    // Creating services needs the admin scope.
    let (status, body) = form_as(&app, &verify_only, SERVICES, &[("FriendlyName", "A")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(twilio_error(status, &body).0, 20403);
    assert_eq!(app.row_counts(), before);
}

#[tokio::test]
async fn wrong_credentials_are_20003() {
    let app = spawn_app().await;
    let s = twilio_service(&app, &[]).await;
    let path = verifications(s["sid"].as_str().unwrap());
    let params = [("To", "+14155552671"), ("Channel", "sms")];
    let wrong = (app.admin.0.clone(), "nope".to_owned());
    let unknown = (
        "SK0123456789abcdef0123456789abcdef".to_owned(),
        app.admin.1.clone(),
    );
    let no_verify = app.new_key("default", "reveal_code").await;
    for key in [&wrong, &unknown, &no_verify] {
        let (status, body) = form_as(&app, key, &path, &params).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(
            twilio_error(status, &body),
            (20003, "Authenticate".to_owned())
        );
    }
    let r = app
        .client
        .post(app.url(&path))
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], 20003);
    // Another tenant's key does not see this tenant's service.
    let other = app.new_key("other", "admin,verify").await;
    let (status, body) = form_as(&app, &other, &path, &params).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(twilio_error(status, &body).0, 20404);
}

#[tokio::test]
async fn start_check_wrong_then_right_then_gone() {
    let app = spawn_app().await;
    let s = twilio_service(&app, &[]).await;
    let sid = s["sid"].as_str().unwrap();
    let to = number(1);
    let v = start(&app, sid, &to).await;
    let vsid = v["sid"].as_str().unwrap();
    assert!(vsid.starts_with("VE") && vsid.len() == 34, "{v}");
    assert_eq!(v["service_sid"], sid);
    assert_eq!(v["account_sid"], s["account_sid"]);
    assert_eq!(v["to"], to.as_str());
    assert_eq!(v["channel"], "sms");
    assert_eq!(v["status"], "pending");
    assert_eq!(v["valid"], false);
    assert_eq!(v["lookup"], json!({"carrier": null}));
    assert_eq!(v["amount"], Value::Null);
    assert_eq!(v["payee"], Value::Null);
    assert_eq!(v["sna"], Value::Null);
    let attempts = v["send_code_attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["channel"], "sms");
    assert_eq!(attempts[0]["time"], v["date_created"]);
    assert!(is_twilio_date(&v["date_created"]) && is_twilio_date(&v["date_updated"]));
    assert_eq!(
        v["url"],
        app.url(&format!("{SERVICES}/{sid}/Verifications/{vsid}"))
    );

    let code = app.last_code(&to).await;
    assert_eq!(code.len(), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let (status, c) = form(&app, &check_path(sid), &[("To", &to), ("Code", wrong)]).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "pending");
    assert_eq!(c["valid"], false);
    assert_eq!(c["sid"], vsid);
    let mut keys: Vec<&String> = c.as_object().unwrap().keys().collect();
    keys.sort();
    let mut want = [
        "sid",
        "service_sid",
        "account_sid",
        "to",
        "channel",
        "status",
        "valid",
        "amount",
        "payee",
        "date_created",
        "date_updated",
        "sna_attempts_error_codes",
    ];
    want.sort();
    assert_eq!(keys, want);

    let (status, c) = form(&app, &check_path(sid), &[("To", &to), ("Code", &code)]).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "approved");
    assert_eq!(c["valid"], true);

    // Twilio deletes an approved verification: checking again is 20404, by To or by sid.
    for params in [
        [("To", to.as_str()), ("Code", &code)],
        [("VerificationSid", vsid), ("Code", &code)],
    ] {
        let (status, body) = form(&app, &check_path(sid), &params).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(twilio_error(status, &body).0, 20404);
    }
    let (status, fetched) = get(&app, &format!("{}/{vsid}", verifications(sid))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["status"], "approved");
    assert_eq!(fetched["valid"], true);
}

#[tokio::test]
async fn check_by_verification_sid_and_its_errors() {
    let app = spawn_app().await;
    let sid = twilio_service(&app, &[]).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let to = number(2);
    let vsid = start(&app, &sid, &to).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.last_code(&to).await;
    let path = check_path(&sid);
    let before = app.row_counts();
    let cases: &[Case] = &[
        (
            &[("VerificationSid", &vsid)],
            StatusCode::BAD_REQUEST,
            20001,
            "Code",
        ),
        (&[("Code", "123456")], StatusCode::BAD_REQUEST, 20001, "To"),
        (
            &[("To", "12345"), ("Code", "123456")],
            StatusCode::BAD_REQUEST,
            60200,
            "`To`",
        ),
        (
            &[("VerificationSid", &vsid), ("Code", "12-34")],
            StatusCode::BAD_REQUEST,
            60200,
            "`Code`",
        ),
        (
            &[
                ("VerificationSid", &vsid),
                ("Code", "1234"),
                ("Amount", "5"),
            ],
            StatusCode::BAD_REQUEST,
            60200,
            "`Amount`",
        ),
        (
            &[("VerificationSid", "VEnope"), ("Code", "123456")],
            StatusCode::NOT_FOUND,
            20404,
            "not found",
        ),
        (
            &[("To", &number(3)), ("Code", "123456")],
            StatusCode::NOT_FOUND,
            20404,
            "not found",
        ),
    ];
    for (params, want_status, want_code, names) in cases {
        let (status, body) = form(&app, &path, params).await;
        assert_eq!(status, *want_status, "{params:?}: {body}");
        let (c, message) = twilio_error(status, &body);
        assert_eq!(c, *want_code, "{params:?}: {body}");
        assert!(message.contains(names), "{params:?}: {message}");
        assert!(
            !message.contains(&to[1..]),
            "no number in errors: {message}"
        );
    }
    assert_eq!(app.row_counts(), before);
    let (status, body) = form(
        &app,
        &check_path("VA0123456789abcdef0123456789abcdef"),
        &[("VerificationSid", &vsid), ("Code", &code)],
    )
    .await;
    assert_eq!(twilio_error(status, &body).0, 20404);
    let (status, c) = form(
        &app,
        &path,
        &[("VerificationSid", &vsid), ("Code", &code.to_lowercase())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "approved");
}

#[tokio::test]
async fn bad_start_parameters_are_named_and_write_nothing() {
    let app = spawn_app().await;
    let sid = twilio_service(&app, &[]).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = verifications(&sid);
    let before = app.row_counts();
    let ok_to = "+13105550199";
    let cases: &[(Form, u64, &str)] = &[
        (&[("Channel", "sms")], 20001, "To"),
        (&[("To", ok_to)], 20001, "Channel"),
        (&[("To", "3105550199"), ("Channel", "sms")], 60200, "`To`"),
        (
            &[("To", "+1310555019900000"), ("Channel", "call")],
            60200,
            "`To`",
        ),
        (
            &[("To", "not-an-email"), ("Channel", "email")],
            60200,
            "`To`",
        ),
        (
            &[("To", ok_to), ("Channel", "whatsapp")],
            60200,
            "`Channel`",
        ),
        (&[("To", ok_to), ("Channel", "SMS")], 60200, "`Channel`"),
        (
            &[("To", ok_to), ("Channel", "sms"), ("Locale", "english!")],
            60200,
            "`Locale`",
        ),
        (
            &[("To", ok_to), ("Channel", "sms"), ("CustomCode", "4711")],
            60200,
            "`CustomCode`",
        ),
        (
            &[
                ("To", ok_to),
                ("Channel", "sms"),
                ("CustomFriendlyName", "Other"),
            ],
            60200,
            "`CustomFriendlyName`",
        ),
        (
            &[("To", ok_to), ("Channel", "sms"), ("CustomMessage", "hi")],
            60200,
            "`CustomMessage`",
        ),
        (
            &[("To", ok_to), ("Channel", "sms"), ("TemplateSid", "HJ1")],
            60200,
            "`TemplateSid`",
        ),
        (
            &[
                ("To", ok_to),
                ("Channel", "sms"),
                ("Amount", "1"),
                ("Payee", "x"),
            ],
            60200,
            "`Amount`",
        ),
        (
            &[("To", ok_to), ("Channel", "sms"), ("RateLimits", "{}")],
            60200,
            "`RateLimits`",
        ),
        (
            &[("To", ok_to), ("To", ok_to), ("Channel", "sms")],
            60200,
            "`To`",
        ),
    ];
    for (params, want_code, names) in cases {
        let (status, body) = form(&app, &path, params).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{params:?}: {body}");
        let (code, message) = twilio_error(status, &body);
        assert_eq!(code, *want_code, "{params:?}: {body}");
        assert!(message.contains(names), "{params:?}: {message}");
        assert!(
            !message.contains("3105550199"),
            "no number in errors: {message}"
        );
    }
    // Unknown service, and a body that is not a form.
    let (status, body) = form(
        &app,
        &verifications("VA0123456789abcdef0123456789abcdef"),
        &[("To", ok_to), ("Channel", "sms")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(twilio_error(status, &body).0, 20404);
    let r = app
        .post(&path, json!({"To": ok_to, "Channel": "sms"}))
        .await;
    let status = r.status();
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(twilio_error(status, &r.json().await.unwrap()).0, 20415);
    assert_eq!(app.row_counts(), before);
}

#[tokio::test]
async fn custom_code_locale_call_and_email() {
    let app = spawn_app().await;
    let sid = twilio_service(&app, &[("CustomCodeEnabled", "true")]).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let to = number(4);
    let (status, v) = form(
        &app,
        &verifications(&sid),
        &[
            ("To", &to),
            ("Channel", "sms"),
            ("CustomCode", "ab47x9"),
            ("Locale", "de"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(app.last_code(&to).await, "AB47X9");
    let (status, c) = form(&app, &check_path(&sid), &[("To", &to), ("Code", "ab47x9")]).await;
    assert_eq!(
        (status, c["status"].clone()),
        (StatusCode::OK, json!("approved"))
    );

    let (status, v) = form(
        &app,
        &verifications(&sid),
        &[("To", &number(5)), ("Channel", "call")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["channel"], "call");
    let (status, v) = form(
        &app,
        &verifications(&sid),
        &[
            ("To", "jo@example.com"),
            ("Channel", "email"),
            ("AppHash", "ignored"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["channel"].clone(), v["to"].clone()),
        (json!("email"), json!("jo@example.com"))
    );
}

#[tokio::test]
async fn resend_keeps_the_sid_and_counts_attempts() {
    let app = spawn_app().await;
    let sid = twilio_service(&app, &[]).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let to = number(6);
    let first = start(&app, &sid, &to).await;
    app.clock.advance_secs(30);
    let second = start(&app, &sid, &to).await;
    assert_eq!(first["sid"], second["sid"]);
    let attempts = second["send_code_attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1]["time"], second["date_updated"]);
    assert_ne!(attempts[0]["time"], attempts[1]["time"]);
}

#[tokio::test]
async fn max_check_attempts_is_60202() {
    let app = spawn_app().await;
    let sid = twilio_service(&app, &[]).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let to = number(7);
    let vsid = start(&app, &sid, &to).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.last_code(&to).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let path = check_path(&sid);
    for i in 1..=5 {
        let (status, c) = form(&app, &path, &[("VerificationSid", &vsid), ("Code", wrong)]).await;
        assert_eq!(status, StatusCode::OK, "{c}");
        let want = if i < 5 {
            "pending"
        } else {
            "max_attempts_reached"
        };
        assert_eq!(c["status"], want, "attempt {i}");
        assert_eq!(c["valid"], false);
    }
    // Even the right code is refused now.
    let (status, body) = form(&app, &path, &[("VerificationSid", &vsid), ("Code", &code)]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(
        twilio_error(status, &body),
        (60202, "Max check attempts reached".to_owned())
    );
    let (_, v) = get(&app, &format!("{}/{vsid}", verifications(&sid))).await;
    assert_eq!(v["status"], "max_attempts_reached");
}

#[tokio::test]
async fn send_limit_is_60203_with_retry_after() {
    let app = spawn_app().await;
    // The per-destination send limit is a service setting of the native API.
    let sid = app
        .service(json!({"send_limit": {"count": 2, "window_seconds": 600}}))
        .await;
    let to = number(8);
    start(&app, &sid, &to).await;
    start(&app, &sid, &to).await;
    let r = app
        .client
        .post(app.url(&verifications(&sid)))
        .basic_auth(&app.admin.0, Some(&app.admin.1))
        .form(&[("To", to.as_str()), ("Channel", "sms")])
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    let body: Value = r.json().await.unwrap();
    let (code, message) = twilio_error(status, &body);
    assert_eq!(code, 60203);
    assert!(
        message.starts_with("Max send attempts reached"),
        "{message}"
    );
}

#[tokio::test]
async fn cancel_and_update_errors() {
    let app = spawn_app().await;
    let sid = twilio_service(&app, &[]).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let to = number(9);
    let vsid = start(&app, &sid, &to).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.last_code(&to).await;
    let path = format!("{}/{vsid}", verifications(&sid));
    for (params, want) in [
        (&[][..], 20001),
        (&[("Status", "approved")][..], 60200),
        (&[("Status", "pending")][..], 60200),
    ] {
        let (status, body) = form(&app, &path, params).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (c, message) = twilio_error(status, &body);
        assert_eq!(c, want);
        assert!(message.contains("Status"), "{message}");
    }
    let (status, v) = form(&app, &path, &[("Status", "canceled")]).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (v["sid"].as_str(), v["status"].as_str()),
        (Some(vsid.as_str()), Some("canceled"))
    );
    // Canceled is gone: checks and a second cancel are 20404; fetch still shows it.
    let (status, body) = form(&app, &check_path(&sid), &[("To", &to), ("Code", &code)]).await;
    assert_eq!(twilio_error(status, &body).0, 20404);
    let (status, body) = form(
        &app,
        &check_path(&sid),
        &[("VerificationSid", &vsid), ("Code", &code)],
    )
    .await;
    assert_eq!(twilio_error(status, &body).0, 20404);
    let (status, body) = form(&app, &path, &[("Status", "canceled")]).await;
    assert_eq!(twilio_error(status, &body).0, 20404);
    let (status, v) = get(&app, &path).await;
    assert_eq!(
        (status, v["status"].clone()),
        (StatusCode::OK, json!("canceled"))
    );
    let (status, body) = get(
        &app,
        &format!("{}/VE0123456789abcdef0123456789abcdef", verifications(&sid)),
    )
    .await;
    assert_eq!(twilio_error(status, &body).0, 20404);
}

#[tokio::test]
async fn expired_verifications_are_gone() {
    let app = spawn_app().await;
    let sid = twilio_service(&app, &[]).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let to = number(10);
    let vsid = start(&app, &sid, &to).await["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.last_code(&to).await;
    app.clock.advance_secs(601);
    let (status, body) = form(
        &app,
        &check_path(&sid),
        &[("VerificationSid", &vsid), ("Code", &code)],
    )
    .await;
    assert_eq!(twilio_error(status, &body).0, 20404);
    let (_, v) = get(&app, &format!("{}/{vsid}", verifications(&sid))).await;
    assert_eq!(v["status"], "expired");
}

#[tokio::test]
async fn other_paths_and_methods_answer_in_twilio_shape() {
    let app = spawn_app().await;
    let (status, body) = get(&app, "/v2/Nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(twilio_error(status, &body).0, 20404);
    let r = app
        .client
        .delete(app.url(SERVICES))
        .basic_auth(&app.admin.0, Some(&app.admin.1))
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(twilio_error(status, &r.json().await.unwrap()).0, 20004);
}

#[tokio::test]
async fn blocked_country_large_body_and_unreadable_path() {
    let app = spawn_app().await;
    let sid = app.service(json!({"allowed_countries": ["GB"]})).await;
    let before = app.row_counts();
    let (status, body) = form(
        &app,
        &verifications(&sid),
        &[("To", "+14155552671"), ("Channel", "sms")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (code, message) = twilio_error(status, &body);
    assert_eq!(code, 60605);
    assert!(!message.contains("4155552671"), "{message}");

    let big = "x".repeat(70 * 1024);
    let (status, body) = form(
        &app,
        &verifications(&sid),
        &[("To", "+447700900123"), ("Channel", "sms"), ("Tags", &big)],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(twilio_error(status, &body).0, 20413);

    let (status, body) = get(&app, "/v2/Services/%FF%FE").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(twilio_error(status, &body).0, 20404);
    assert_eq!(app.row_counts(), before);
}
