//! Attempts, expiry, re-sends and send limits over HTTP, with the fake clock.

use crate::helpers::{error_of, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn wrong_codes_until_max_attempts_then_the_right_code_fails() {
    let app = spawn_app().await;
    let sid = app.service(json!({"max_check_attempts": 3})).await;
    let v = app.start(&sid, "+14155552671").await;
    let id = v["id"].as_str().unwrap();
    let code = app.last_code("+14155552671").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(app.check(&sid, id, wrong).await["attempts_remaining"], 2);
    assert_eq!(app.check(&sid, id, wrong).await["attempts_remaining"], 1);
    let last = app.check(&sid, id, wrong).await;
    assert_eq!(last["status"], "max_attempts_reached");
    assert_eq!(last["attempts_remaining"], 0);
    let right = app.check(&sid, id, &code).await;
    assert_eq!(right["valid"], false);
    assert_eq!(right["status"], "max_attempts_reached");
}

#[tokio::test]
async fn codes_expire_with_the_clock() {
    let app = spawn_app().await;
    let sid = app.service(json!({"ttl_seconds": 60})).await;
    let v = app.start(&sid, "+14155552671").await;
    let id = v["id"].as_str().unwrap();
    let code = app.last_code("+14155552671").await;
    app.clock.advance_secs(60);
    let c = app.check(&sid, id, &code).await;
    assert_eq!(c["valid"], false);
    assert_eq!(c["status"], "expired");
    let got: Value = app
        .get(&format!("/v1/services/{sid}/verifications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "expired");
}

#[tokio::test]
async fn a_code_checked_just_before_expiry_passes() {
    let app = spawn_app().await;
    let sid = app.service(json!({})).await;
    let id = app.start(&sid, "+14155552671").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.last_code("+14155552671").await;
    app.clock.advance_secs(599);
    assert_eq!(app.check(&sid, &id, &code).await["valid"], true);
}

#[tokio::test]
async fn resend_gives_a_new_code_keeps_id_and_failures() {
    let app = spawn_app().await;
    let sid = app.service(json!({})).await;
    let first = app.start(&sid, "+14155552671").await;
    let id = first["id"].as_str().unwrap();
    let old = app.last_code("+14155552671").await;
    let wrong = if old == "000000" { "111111" } else { "000000" };
    app.check(&sid, id, wrong).await;
    app.check(&sid, id, wrong).await;

    let second = app.start(&sid, "+14155552671").await;
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["send_count"], 2);
    assert_eq!(second["failed_attempts"], 2);
    assert_eq!(second["attempts_remaining"], 3);
    let new = app.last_code("+14155552671").await;
    if new != old {
        let c = app.check(&sid, id, &old).await;
        assert_eq!(c["valid"], false, "the old code died");
        assert_eq!(c["attempts_remaining"], 2, "and the guess counted");
    }
    assert_eq!(app.check(&sid, id, &new).await["valid"], true);
}

#[tokio::test]
async fn per_destination_send_limit_answers_429_with_retry_after() {
    let app = spawn_app().await;
    let sid = app
        .service(json!({"send_limit": {"count": 2, "window_seconds": 300}, "max_sends": 10}))
        .await;
    app.start(&sid, "+14155552671").await;
    app.clock.advance_secs(100);
    app.start(&sid, "+14155552671").await;
    let before = app.row_counts();
    let r = app
        .post(
            &format!("/v1/services/{sid}/verifications"),
            json!({"to": "+14155552671", "channel": "sms"}),
        )
        .await;
    assert_eq!(r.headers()["retry-after"], "200");
    let (status, body) = error_of(r).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(app.row_counts(), before, "a refused send writes nothing");
    app.clock.advance_secs(200);
    app.start(&sid, "+14155552671").await;
}

#[tokio::test]
async fn max_sends_per_verification() {
    let app = spawn_app().await;
    let sid = app.service(json!({"max_sends": 2})).await;
    app.start(&sid, "+14155552671").await;
    app.start(&sid, "+14155552671").await;
    let r = app
        .post(
            &format!("/v1/services/{sid}/verifications"),
            json!({"to": "+14155552671", "channel": "sms"}),
        )
        .await;
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(error_of(r).await.0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn custom_codes_only_where_enabled() {
    let app = spawn_app().await;
    let plain = app.service(json!({})).await;
    let r = app
        .post(
            &format!("/v1/services/{plain}/verifications"),
            json!({"to": "+14155552671", "channel": "sms", "custom_code": "482913"}),
        )
        .await;
    let (status, body) = error_of(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "custom_code");

    let custom = app.service(json!({"custom_code_enabled": true})).await;
    let r = app
        .post(
            &format!("/v1/services/{custom}/verifications"),
            json!({"to": "+14155552671", "channel": "sms", "custom_code": "482913"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.last_code("+14155552671").await, "482913");
    assert_eq!(app.check(&custom, &id, "482913").await["valid"], true);
}

#[tokio::test]
async fn geo_permissions_refuse_other_countries() {
    let app = spawn_app().await;
    let sid = app.service(json!({"allowed_countries": ["US"]})).await;
    let r = app
        .post(
            &format!("/v1/services/{sid}/verifications"),
            json!({"to": "+31612345678", "channel": "sms"}),
        )
        .await;
    assert_eq!(error_of(r).await.0, StatusCode::FORBIDDEN);
    app.start(&sid, "+14155552671").await;
}
