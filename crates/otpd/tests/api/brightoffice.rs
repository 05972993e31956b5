//! BrightOffice ConfirmCustomerUserMFA / RequestCustomerUserMFA over SOAP 1.1 and 1.2.

use crate::helpers::{TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

const PATH: &str = "/Webservices/BrightOfficeAPI.asmx";
const ID: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
const EMAIL: &str = "jane.doe@example.com";
const PHONE: &str = "+31612345678";
const PASSWORD: &str = "correct horse battery";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum V {
    S11,
    S12,
}

const BOTH: [V; 2] = [V::S11, V::S12];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `fields` of CustomerInfo (name, value), the API user, in the version's envelope.
fn envelope(v: V, op: &str, customer: &[(&str, &str)], user: Option<(&str, &str)>) -> String {
    let c: String = customer
        .iter()
        .map(|(k, val)| format!("<{k}>{}</{k}>", esc(val)))
        .collect();
    let u = user
        .map(|(n, p)| {
            format!(
                "<UserInfo><Username>{}</Username><Password>{}</Password></UserInfo>",
                esc(n),
                esc(p)
            )
        })
        .unwrap_or_default();
    let (prefix, ns) = match v {
        V::S11 => ("soap", "http://schemas.xmlsoap.org/soap/envelope/"),
        V::S12 => ("soap12", "http://www.w3.org/2003/05/soap-envelope"),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><{prefix}:Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:{prefix}=\"{ns}\"><{prefix}:Body><{op} xmlns=\"http://tempuri.org/\"><CustomerInfo>{c}</CustomerInfo>{u}</{op}></{prefix}:Body></{prefix}:Envelope>"
    )
}

async fn post_raw(app: &TestApp, v: V, op: &str, body: String) -> (StatusCode, String, String) {
    let mut req = app.client.post(app.url(PATH)).body(body);
    req = match v {
        V::S11 => req
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"http://tempuri.org/{op}\"")),
        V::S12 => req.header(
            "Content-Type",
            format!("application/soap+xml; charset=utf-8; action=\"http://tempuri.org/{op}\""),
        ),
    };
    let r = req.send().await.unwrap();
    let status = r.status();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    (status, ct, r.text().await.unwrap())
}

struct Result {
    code: String,
    message: String,
    raw: String,
}

fn between<'a>(s: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = s.find(&open).map(|i| i + open.len()).unwrap_or(0);
    let end = s[start..]
        .find(&format!("</{tag}>"))
        .map(|i| start + i)
        .unwrap_or(start);
    &s[start..end]
}

async fn call(app: &TestApp, v: V, op: &str, customer: &[(&str, &str)]) -> Result {
    let user = (app.admin.0.as_str(), app.admin.1.as_str());
    call_as(app, v, op, customer, Some(user)).await
}

async fn call_as(
    app: &TestApp,
    v: V,
    op: &str,
    customer: &[(&str, &str)],
    user: Option<(&str, &str)>,
) -> Result {
    let (status, ct, raw) = post_raw(app, v, op, envelope(v, op, customer, user)).await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    match v {
        V::S11 => assert!(ct.starts_with("text/xml"), "{ct}"),
        V::S12 => assert!(ct.starts_with("application/soap+xml"), "{ct}"),
    }
    assert!(
        raw.contains(&format!(
            "<{op}Response xmlns=\"http://tempuri.org/\"><{op}Result>"
        )),
        "{raw}"
    );
    Result {
        code: between(&raw, "SuccessCode").to_owned(),
        message: between(&raw, "Message").to_owned(),
        raw,
    }
}

async fn customer(app: &TestApp, phone: Option<&str>, password: &str, temporary: bool) {
    let mut body = json!({"id": ID, "email": EMAIL});
    if let Some(p) = phone {
        body["phone"] = json!(p);
    }
    assert_eq!(
        app.post("/v1/persons", body).await.status(),
        StatusCode::CREATED
    );
    let r = app
        .post(
            &format!("/v1/persons/{ID}/password"),
            json!({"password": password, "temporary": temporary}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

async fn code_for(app: &TestApp, to: &str) -> String {
    app.deliver().await;
    let msgs: Vec<serde_json::Value> = app
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
    let body = msgs[0]["body"].as_str().unwrap();
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned()
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

#[tokio::test]
async fn request_then_confirm_over_both_versions() {
    for v in BOTH {
        let app = spawn_app().await;
        customer(&app, Some(PHONE), PASSWORD, false).await;
        let r = call(
            &app,
            v,
            "RequestCustomerUserMFA",
            &[("Email", EMAIL), ("Password", PASSWORD)],
        )
        .await;
        assert_eq!(r.code, "SUCCESS", "{}", r.raw);
        assert!(r.message.contains("+31*******78"), "{}", r.message);
        assert!(r.raw.contains("<IsSystemError>false</IsSystemError>"));
        let code = code_for(&app, PHONE).await;
        let confirm = |c: &'static str| [("Email", EMAIL), ("Password", PASSWORD), ("MFACode", c)];
        let r = call(&app, v, "ConfirmCustomerUserMFA", &confirm(wrong(&code))).await;
        assert_eq!(r.code, "OTHER", "{}", r.raw);
        let code: &'static str = Box::leak(code.into_boxed_str());
        // By Id this time; either names the customer.
        let r = call(
            &app,
            v,
            "ConfirmCustomerUserMFA",
            &[("Id", ID), ("Password", PASSWORD), ("MFACode", code)],
        )
        .await;
        assert_eq!(r.code, "SUCCESS", "{}", r.raw);
        // Used: nothing is waiting any more.
        let r = call(&app, v, "ConfirmCustomerUserMFA", &confirm(code)).await;
        assert_eq!(r.code, "MISSINGRECORD", "{}", r.raw);
    }
}

#[tokio::test]
async fn customers_without_a_phone_get_the_code_by_email_and_exhausted_codes_are_other() {
    let app = spawn_app().await;
    customer(&app, None, PASSWORD, false).await;
    let r = call(
        &app,
        V::S12,
        "RequestCustomerUserMFA",
        &[("Id", ID), ("Password", PASSWORD)],
    )
    .await;
    assert_eq!(r.code, "SUCCESS");
    assert!(r.message.contains("j***@example.com"), "{}", r.message);
    let code = code_for(&app, EMAIL).await;
    for _ in 0..5 {
        let r = call(
            &app,
            V::S12,
            "ConfirmCustomerUserMFA",
            &[
                ("Id", ID),
                ("Password", PASSWORD),
                ("MFACode", wrong(&code)),
            ],
        )
        .await;
        assert_eq!(r.code, "OTHER");
    }
    // Attempts used up: even the right code is OTHER now.
    let r = call(
        &app,
        V::S12,
        "ConfirmCustomerUserMFA",
        &[("Id", ID), ("Password", PASSWORD), ("MFACode", &code)],
    )
    .await;
    assert_eq!(r.code, "OTHER", "{}", r.raw);
    // Expired is OTHER too.
    call(
        &app,
        V::S12,
        "RequestCustomerUserMFA",
        &[("Id", ID), ("Password", PASSWORD)],
    )
    .await;
    let code = code_for(&app, EMAIL).await;
    app.clock.advance_secs(601);
    let r = call(
        &app,
        V::S12,
        "ConfirmCustomerUserMFA",
        &[("Id", ID), ("Password", PASSWORD), ("MFACode", &code)],
    )
    .await;
    assert_eq!(r.code, "OTHER", "{}", r.raw);
}

#[tokio::test]
async fn wrong_password_and_unknown_customers_are_the_same_loginerror() {
    let app = spawn_app().await;
    customer(&app, Some(PHONE), PASSWORD, false).await;
    // A person who is no customer user (no password).
    app.post("/v1/persons", json!({"email": "nopass@example.com"}))
        .await;
    for v in BOTH {
        for op in ["RequestCustomerUserMFA", "ConfirmCustomerUserMFA"] {
            let bodies: Vec<String> = futures::future::join_all(
                [
                    vec![
                        ("Email", EMAIL),
                        ("Password", "wrong password!"),
                        ("MFACode", "123456"),
                    ],
                    vec![
                        ("Email", "nobody@example.com"),
                        ("Password", PASSWORD),
                        ("MFACode", "123456"),
                    ],
                    vec![
                        ("Id", "9a0c0305-4f89-11d3-9a0c-0305e82c3301"),
                        ("Password", PASSWORD),
                        ("MFACode", "123456"),
                    ],
                    vec![
                        ("Email", "nopass@example.com"),
                        ("Password", PASSWORD),
                        ("MFACode", "123456"),
                    ],
                    // Id and e-mail of two different people.
                    vec![
                        ("Id", ID),
                        ("Email", "nopass@example.com"),
                        ("Password", PASSWORD),
                        ("MFACode", "123456"),
                    ],
                ]
                .iter()
                .map(|c| async { call(&app, v, op, c).await.raw }),
            )
            .await;
            assert!(
                bodies[0].contains("<SuccessCode>LOGINERROR</SuccessCode>"),
                "{}",
                bodies[0]
            );
            for b in &bodies {
                assert_eq!(b, &bodies[0], "every miss must read the same");
            }
        }
    }
}

#[tokio::test]
async fn bad_api_users_are_loginerror() {
    let app = spawn_app().await;
    customer(&app, Some(PHONE), PASSWORD, false).await;
    let c = [
        ("Email", EMAIL),
        ("Password", PASSWORD),
        ("MFACode", "123456"),
    ];
    let wrong_secret = format!("{}x", app.admin.1);
    let no_verify = app.new_key("default", "reveal_code").await;
    for v in BOTH {
        for user in [
            None,
            Some((app.admin.0.as_str(), wrong_secret.as_str())),
            Some(("nobody", "nothing")),
            Some((app.admin.0.as_str(), "")),
            Some((no_verify.0.as_str(), no_verify.1.as_str())),
        ] {
            let r = call_as(&app, v, "ConfirmCustomerUserMFA", &c, user).await;
            assert_eq!(r.code, "LOGINERROR", "{user:?}");
            assert_eq!(r.message, "The API user name or password is incorrect.");
        }
    }
    // Another tenant's key does not see this tenant's customers.
    let other = app.new_key("other", "admin,verify").await;
    let r = call_as(
        &app,
        V::S11,
        "RequestCustomerUserMFA",
        &c,
        Some((&other.0, &other.1)),
    )
    .await;
    assert_eq!(r.code, "LOGINERROR");
}

#[tokio::test]
async fn missing_or_invalid_fields_are_parametererror_and_send_nothing() {
    let app = spawn_app().await;
    customer(&app, Some(PHONE), PASSWORD, false).await;
    let before = app.row_counts();
    for (op, c, field) in [
        ("RequestCustomerUserMFA", vec![("Password", PASSWORD)], "Id"),
        (
            "RequestCustomerUserMFA",
            vec![("Id", "not-a-guid"), ("Password", PASSWORD)],
            "Id",
        ),
        (
            "RequestCustomerUserMFA",
            vec![("Email", "jane"), ("Password", PASSWORD)],
            "Email",
        ),
        ("RequestCustomerUserMFA", vec![("Email", EMAIL)], "Password"),
        (
            "ConfirmCustomerUserMFA",
            vec![("Email", EMAIL), ("Password", PASSWORD)],
            "MFACode",
        ),
        (
            "ConfirmCustomerUserMFA",
            vec![
                ("Email", EMAIL),
                ("Password", PASSWORD),
                ("MFACode", "12 34"),
            ],
            "MFACode",
        ),
        (
            "ConfirmCustomerUserMFA",
            vec![
                ("Id", "00000000-0000-0000-0000-000000000000"),
                ("Password", PASSWORD),
                ("MFACode", "1234"),
            ],
            "Id",
        ),
    ] {
        for v in BOTH {
            let r = call(&app, v, op, &c).await;
            assert_eq!(r.code, "PARAMETERERROR", "{c:?}: {}", r.raw);
            assert!(
                r.message.starts_with(&format!("{field}: ")),
                "{c:?}: {}",
                r.message
            );
        }
    }
    assert_eq!(app.row_counts(), before);
    // Authenticated, no code requested: MISSINGRECORD.
    let r = call(
        &app,
        V::S11,
        "ConfirmCustomerUserMFA",
        &[
            ("Email", EMAIL),
            ("Password", PASSWORD),
            ("MFACode", "123456"),
        ],
    )
    .await;
    assert_eq!(r.code, "MISSINGRECORD", "{}", r.raw);
}

#[tokio::test]
async fn a_temporary_password_is_replaced_at_the_confirmed_login() {
    let app = spawn_app().await;
    let temp = "temporary pass 1";
    customer(&app, Some(PHONE), temp, true).await;
    let r = call(
        &app,
        V::S11,
        "RequestCustomerUserMFA",
        &[("Email", EMAIL), ("TemporaryPassword", temp)],
    )
    .await;
    assert_eq!(r.code, "SUCCESS", "{}", r.raw);
    let code = code_for(&app, PHONE).await;
    let with_new = |new: &'static str, c: &str| {
        let c: &'static str = Box::leak(c.to_owned().into_boxed_str());
        vec![
            ("Email", EMAIL),
            ("TemporaryPassword", temp),
            ("MFACode", c),
            ("NewPassword", new),
        ]
    };
    for (new, why) in [
        ("", "required"),
        ("too short", "12"),
        ("temporary pass 1", "current"),
        ("JANE.DOE@example.com", "e-mail"),
    ] {
        let mut c = with_new(new, &code);
        if new.is_empty() {
            c.pop();
        }
        let r = call(&app, V::S11, "ConfirmCustomerUserMFA", &c).await;
        assert_eq!(r.code, "PARAMETERERROR", "{new}: {}", r.raw);
        assert!(
            r.message.starts_with("NewPassword: ") && r.message.contains(why),
            "{}",
            r.message
        );
    }
    // A wrong code changes nothing.
    let r = call(
        &app,
        V::S12,
        "ConfirmCustomerUserMFA",
        &with_new("my new password", wrong(&code)),
    )
    .await;
    assert_eq!(r.code, "OTHER");
    let r = call(
        &app,
        V::S12,
        "ConfirmCustomerUserMFA",
        &with_new("my new password", &code),
    )
    .await;
    assert_eq!(r.code, "SUCCESS", "{}", r.raw);
    assert!(r.message.contains("new password"));
    // The temporary one is gone; the new one works and needs no replacing.
    let r = call(
        &app,
        V::S11,
        "RequestCustomerUserMFA",
        &[("Email", EMAIL), ("Password", temp)],
    )
    .await;
    assert_eq!(r.code, "LOGINERROR");
    let r = call(
        &app,
        V::S11,
        "RequestCustomerUserMFA",
        &[("Email", EMAIL), ("Password", "my new password")],
    )
    .await;
    assert_eq!(r.code, "SUCCESS");
    let code = code_for(&app, PHONE).await;
    let r = call(
        &app,
        V::S11,
        "ConfirmCustomerUserMFA",
        &[
            ("Email", EMAIL),
            ("Password", "my new password"),
            ("MFACode", &code),
        ],
    )
    .await;
    assert_eq!(r.code, "SUCCESS", "{}", r.raw);
}

#[tokio::test]
async fn repeated_failures_lock_known_and_unknown_names_alike() {
    let app = spawn_app().await;
    customer(&app, Some(PHONE), PASSWORD, false).await;
    for _ in 0..5 {
        let r = call(
            &app,
            V::S11,
            "RequestCustomerUserMFA",
            &[("Email", EMAIL), ("Password", "not the password")],
        )
        .await;
        assert_eq!(r.code, "LOGINERROR");
        let r = call(
            &app,
            V::S11,
            "RequestCustomerUserMFA",
            &[
                ("Email", "ghost@example.com"),
                ("Password", "not the password"),
            ],
        )
        .await;
        assert_eq!(r.code, "LOGINERROR");
    }
    // Locked: even the right password is refused, with the very same answer.
    let locked = call(
        &app,
        V::S11,
        "RequestCustomerUserMFA",
        &[("Email", EMAIL), ("Password", PASSWORD)],
    )
    .await;
    let ghost = call(
        &app,
        V::S11,
        "RequestCustomerUserMFA",
        &[("Email", "ghost@example.com"), ("Password", PASSWORD)],
    )
    .await;
    assert_eq!(locked.raw, ghost.raw);
    assert_eq!(locked.code, "LOGINERROR");
    // Both names were counted the same way.
    let rows = app.query_text(
        "SELECT key, failures, CASE WHEN locked_until IS NULL THEN 0 ELSE 1 END
         FROM login_failures ORDER BY key",
    );
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r[1] == "5" && r[2] == "1"), "{rows:?}");
    app.clock.advance_secs(15 * 60);
    let r = call(
        &app,
        V::S11,
        "RequestCustomerUserMFA",
        &[("Email", EMAIL), ("Password", PASSWORD)],
    )
    .await;
    assert_eq!(r.code, "SUCCESS", "{}", r.raw);
}

#[tokio::test]
async fn unusable_messages_are_soap_faults_and_the_wsdl_has_both_bindings() {
    let app = spawn_app().await;
    let user = Some((app.admin.0.as_str(), app.admin.1.as_str()));
    let body = envelope(V::S11, "ConfirmCustomerUserMFA", &[], user);
    // The action must name the operation in the body.
    let (status, _, raw) = post_raw(&app, V::S11, "RequestCustomerUserMFA", body.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        raw.contains("soap:Client") && raw.contains("SOAPAction"),
        "{raw}"
    );
    // An unknown operation.
    let (status, _, raw) =
        post_raw(&app, V::S12, "Nope", envelope(V::S12, "Nope", &[], user)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(raw.contains("Sender") && raw.contains("Nope"), "{raw}");
    // A 1.2 envelope announced as 1.1.
    let (status, _, raw) = post_raw(
        &app,
        V::S11,
        "ConfirmCustomerUserMFA",
        envelope(V::S12, "ConfirmCustomerUserMFA", &[], user),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(raw.contains("VersionMismatch"), "{raw}");
    // DOCTYPE is refused before anything else.
    let evil = format!(
        "<!DOCTYPE x [<!ENTITY a \"b\">]>{}",
        &body[body.find("<soap:").unwrap()..]
    );
    let (status, _, raw) = post_raw(&app, V::S11, "ConfirmCustomerUserMFA", evil).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(raw.contains("soap:Client"), "{raw}");
    let r = app
        .client
        .post(app.url(PATH))
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let wsdl = app
        .client
        .get(app.url(&format!("{PATH}?WSDL")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "<wsdl:binding name=\"BrightOfficeAPISoap\" ",
        "<wsdl:binding name=\"BrightOfficeAPISoap12\" ",
        "soapAction=\"http://tempuri.org/ConfirmCustomerUserMFA\"",
        "soapAction=\"http://tempuri.org/RequestCustomerUserMFA\"",
    ] {
        assert!(wsdl.contains(needle), "{needle}");
    }
    let address = format!("location=\"http://{}{PATH}\"", app.addr);
    assert_eq!(wsdl.matches(&address).count(), 2, "{wsdl}");
}

#[tokio::test]
async fn a_successful_login_clears_the_failure_count() {
    let app = spawn_app().await;
    customer(&app, Some(PHONE), PASSWORD, false).await;
    async fn attempt(app: &TestApp, p: &str) -> String {
        call(
            app,
            V::S11,
            "RequestCustomerUserMFA",
            &[("Id", ID), ("Password", p)],
        )
        .await
        .code
    }
    for _ in 0..4 {
        assert_eq!(attempt(&app, "not the password").await, "LOGINERROR");
    }
    assert_eq!(attempt(&app, PASSWORD).await, "SUCCESS");
    for _ in 0..4 {
        assert_eq!(attempt(&app, "not the password").await, "LOGINERROR");
    }
    assert_eq!(
        attempt(&app, PASSWORD).await,
        "SUCCESS",
        "four more failures do not lock"
    );
}
