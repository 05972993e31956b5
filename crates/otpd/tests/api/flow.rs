//! The whole native flow, as the README walks through it.

use crate::helpers::{error_of, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn key_service_verification_outbox_check() {
    let app = spawn_app().await;
    let sid = app.service(json!({})).await;
    let v = app.start(&sid, "+14155552671").await;
    assert_eq!(v["status"], "pending");
    assert_eq!(v["channel"], "sms");
    assert_eq!(v["to"], "+14155552671");
    assert_eq!(v["send_count"], 1);
    assert_eq!(v["service_id"], sid.as_str());
    assert!(v["expires_at"].as_str().unwrap().ends_with('Z'));
    let id = v["id"].as_str().unwrap();

    let code = app.last_code("+14155552671").await;
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let c = app.check(&sid, id, wrong).await;
    assert_eq!(
        c,
        json!({"id": id, "status": "pending", "valid": false, "attempts_remaining": 4})
    );
    let c = app.check(&sid, id, &code).await;
    assert_eq!(
        c,
        json!({"id": id, "status": "approved", "valid": true, "attempts_remaining": 4})
    );
    let again = app.check(&sid, id, &code).await;
    assert_eq!(again["valid"], false, "approved only once");

    let got: Value = app
        .get(&format!("/v1/services/{sid}/verifications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "approved");
    assert_eq!(got["failed_attempts"], 1);
}

#[tokio::test]
async fn check_by_destination_and_cancel() {
    let app = spawn_app().await;
    let sid = app.service(json!({})).await;
    let v = app.start(&sid, "+14155552671").await;
    let code = app.last_code("+14155552671").await;
    let r = app
        .post(
            &format!("/v1/services/{sid}/checks"),
            json!({"to": "+14155552671", "code": code}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["valid"], true);
    assert_eq!(body["id"], v["id"]);
    // Nothing pending any more for that number.
    let r = app
        .post(
            &format!("/v1/services/{sid}/checks"),
            json!({"to": "+14155552671", "code": code}),
        )
        .await;
    assert_eq!(error_of(r).await.0, StatusCode::NOT_FOUND);

    let v2 = app.start(&sid, "+14155552672").await;
    let id2 = v2["id"].as_str().unwrap();
    let code2 = app.last_code("+14155552672").await;
    let r = app
        .post(
            &format!("/v1/services/{sid}/verifications/{id2}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "canceled");
    assert_eq!(app.check(&sid, id2, &code2).await["valid"], false);
    let r = app
        .post(
            &format!("/v1/services/{sid}/verifications/{id2}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(error_of(r).await.0, StatusCode::CONFLICT);
}

#[tokio::test]
async fn email_and_call_channels_render_their_own_messages() {
    let app = spawn_app().await;
    let sid = app
        .service(json!({"name": "Acme", "domain": "login.example.com"}))
        .await;
    let r = app
        .post(
            &format!("/v1/services/{sid}/verifications"),
            json!({"to": "Jane@Example.com", "channel": "email"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["to"], "Jane@example.com");
    let r = app
        .post(
            &format!("/v1/services/{sid}/verifications"),
            json!({"to": "+14155552671", "channel": "call"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    app.deliver().await;
    let msgs: Vec<Value> = app.get("/v1/outbox").await.json().await.unwrap();
    assert_eq!(msgs.len(), 2);
    let call = msgs.iter().find(|m| m["channel"] == "call").unwrap();
    let body = call["body"].as_str().unwrap();
    assert!(body.contains(", "), "digits spoken one by one: {body}");
    let email = msgs.iter().find(|m| m["channel"] == "email").unwrap();
    assert!(
        email["body"]
            .as_str()
            .unwrap()
            .starts_with("Subject: Your Acme verification code")
    );
}

#[tokio::test]
async fn sms_carries_the_origin_bound_line_when_the_service_has_a_domain() {
    let app = spawn_app().await;
    let sid = app.service(json!({"domain": "login.example.com"})).await;
    app.start(&sid, "+14155552671").await;
    app.deliver().await;
    let msgs: Vec<Value> = app.get("/v1/outbox").await.json().await.unwrap();
    let body = msgs[0]["body"].as_str().unwrap();
    let last = body.lines().last().unwrap();
    let code = body.lines().next().unwrap().rsplit(' ').next().unwrap();
    assert_eq!(last, format!("@login.example.com #{code}"));
}

#[tokio::test]
async fn services_are_listed_and_numbered() {
    let app = spawn_app().await;
    let a = app.service(json!({"name": "A"})).await;
    let b = app
        .service(json!({"name": "B", "alphabet": "alphanumeric", "code_length": 8}))
        .await;
    let list: Value = app.get("/v1/services").await.json().await.unwrap();
    let services = list["services"].as_array().unwrap();
    assert_eq!(services.len(), 2);
    assert_eq!(services[0]["id"], a.as_str());
    assert_eq!(services[0]["number"], 1);
    assert_eq!(services[1]["number"], 2);
    let one: Value = app
        .get(&format!("/v1/services/{b}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["alphabet"], "alphanumeric");
    assert_eq!(one["code_length"], 8);
    app.start(&b, "+14155552671").await;
    let code = app.last_code("+14155552671").await;
    assert_eq!(code.len(), 8);
    assert!(
        code.bytes()
            .all(|c| b"23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(&c))
    );
    // Typed in lower case, it still matches.
    let id = app.start(&b, "+14155552671").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.last_code("+14155552671").await;
    assert_eq!(
        app.check(&b, &id, &code.to_lowercase()).await["valid"],
        true
    );
}
