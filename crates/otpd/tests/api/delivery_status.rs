//! Delivery status per send, and Twilio's signed status callbacks. A small in-process HTTP
//! server stands in for Twilio's Messages API here (the provider itself is tested against
//! WireMock in otpd-delivery's peer tests); what is under test is otpd's own callback route.

use crate::helpers::*;
use axum::Json;
use axum::routing::post;
use otpd::config::ProviderConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SID: &str = "SM0123456789abcdef0123456789abcdef";
const CALLBACK: &str = "https://otp.example.com/v1/hooks/twilio/status?provider=tw";

async fn fake_twilio() -> std::net::SocketAddr {
    let app = axum::Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        post(|| async {
            (
                axum::http::StatusCode::CREATED,
                Json(json!({"sid": SID, "status": "queued"})),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn app_with_twilio() -> TestApp {
    let twilio = fake_twilio().await;
    spawn_app_with(|c| {
        let settings: BTreeMap<String, toml::Value> = [
            ("base_url", format!("http://{twilio}")),
            ("account_sid", "AC0123456789abcdef0123456789abcdef".into()),
            ("auth_token", "test-token".into()),
            ("from", "+15550001111".into()),
            ("public_url", "https://otp.example.com".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), toml::Value::String(v)))
        .collect();
        c.providers.push(ProviderConfig {
            name: "tw".into(),
            kind: "twilio".into(),
            settings,
        });
        c.routes.sms = vec!["tw".into()];
    })
    .await
}

async fn callback(app: &TestApp, params: &[(&str, &str)], signature: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/hooks/twilio/status?provider=tw"))
        .header("X-Twilio-Signature", signature)
        .form(params)
        .send()
        .await
        .unwrap()
}

fn sign(params: &[(&str, &str)]) -> String {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    otpd_api::hooks::twilio_signature("test-token", CALLBACK, &owned)
}

async fn delivery(app: &TestApp, service: &str, id: &str) -> Value {
    let r = app
        .get(&format!("/v1/services/{service}/verifications/{id}"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["delivery"].clone()
}

#[tokio::test]
async fn delivery_status_moves_from_queued_to_sent_to_delivered_by_signed_callback() {
    let app = app_with_twilio().await;
    let service = app.service(json!({})).await;
    let v = app.start(&service, "+14155552671").await;
    let id = v["id"].as_str().unwrap();
    assert_eq!(delivery(&app, &service, id).await["status"], "queued");
    app.deliver().await;
    let d = delivery(&app, &service, id).await;
    assert_eq!(
        (d["status"].as_str(), d["provider"].as_str()),
        (Some("sent"), Some("tw"))
    );

    let params = [
        ("MessageSid", SID),
        ("MessageStatus", "delivered"),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
    ];
    // A bad signature (here: one signed over other parameters) is refused and changes nothing.
    let forged = sign(&[("MessageSid", SID), ("MessageStatus", "failed")]);
    let r = callback(&app, &params, &forged).await;
    let (status, body) = error_of(r).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");
    let r = callback(&app, &params, "").await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a missing signature is refused"
    );
    assert_eq!(delivery(&app, &service, id).await["status"], "sent");

    // Progress reports are accepted and change nothing; the final one is recorded.
    let sending = [("MessageSid", SID), ("MessageStatus", "sent")];
    assert_eq!(
        callback(&app, &sending, &sign(&sending)).await.status(),
        StatusCode::OK
    );
    assert_eq!(delivery(&app, &service, id).await["status"], "sent");
    assert_eq!(
        callback(&app, &params, &sign(&params)).await.status(),
        StatusCode::OK
    );
    assert_eq!(delivery(&app, &service, id).await["status"], "delivered");

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("otpd_deliveries_total{provider=\"tw\",status=\"delivered\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_undelivered_callback_fails_the_verification() {
    let app = app_with_twilio().await;
    let service = app.service(json!({})).await;
    let v = app.start(&service, "+14155552671").await;
    let id = v["id"].as_str().unwrap();
    app.deliver().await;
    let params = [
        ("MessageSid", SID),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30003"),
    ];
    assert_eq!(
        callback(&app, &params, &sign(&params)).await.status(),
        StatusCode::OK
    );
    let r = app
        .get(&format!("/v1/services/{service}/verifications/{id}"))
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["delivery"]["status"], "undelivered");
    assert_eq!(body["status"], "failed", "nobody holds this code");
}

#[tokio::test]
async fn callbacks_for_unknown_providers_or_without_a_form_are_refused() {
    let app = app_with_twilio().await;
    let r = app
        .client
        .post(app.url("/v1/hooks/twilio/status?provider=nope"))
        .form(&[("MessageSid", SID)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .client
        .post(app.url("/v1/hooks/twilio/status?provider=tw"))
        .json(&json!({"MessageSid": SID}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn a_waiting_caller_gets_the_providers_answer_or_a_timeout() {
    use otpd_api::delivery::await_delivery;
    use otpd_core::ids::VerificationId;
    use std::time::Duration;
    let app = app_with_twilio().await;
    let service = app.service(json!({})).await;
    let v = app.start(&service, "+14155552671").await;
    let id = VerificationId::parse(v["id"].as_str().unwrap()).unwrap();
    let waited = await_delivery(app.store.as_ref(), &id, Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(waited, None, "still queued: the wait times out");
    let (waited, ()) = tokio::join!(
        await_delivery(app.store.as_ref(), &id, Duration::from_secs(10)),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            app.deliver().await;
        }
    );
    let d = waited.unwrap().expect("the provider answered in time");
    assert_eq!(d.status.as_str(), "sent");
    assert_eq!(d.provider_ref.as_deref(), Some(SID));
}
