//! No enumeration, API users, lockout, SOAP faults and the WSDL.

use super::*;
use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

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
    let c = rusqlite::Connection::open(&app.db).unwrap();
    let rows: Vec<(String, i64, bool)> = c
        .prepare("SELECT key, failures, locked_until IS NOT NULL FROM login_failures ORDER BY key")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|(_, n, locked)| *n == 5 && *locked),
        "{rows:?}"
    );
    // Stored as digests: no mistyped or unknown address lands in the database.
    assert!(
        rows.iter()
            .all(|(k, _, _)| k.len() == 64 && !k.contains('@')),
        "{rows:?}"
    );
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
