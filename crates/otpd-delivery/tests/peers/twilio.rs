//! The twilio and webhook providers against WireMock's Twilio stubs.

use crate::support::*;
use otpd_core::destination::Channel;
use otpd_core::ports::Store;
use otpd_delivery::twilio::{TwilioProvider, TwilioSettings};
use otpd_delivery::webhook::{WebhookProvider, WebhookSettings};
use otpd_delivery::{Provider, Routes};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

fn twilio(port: u16) -> Arc<dyn Provider> {
    let s: TwilioSettings = serde_json::from_value(json!({
        "base_url": format!("http://127.0.0.1:{port}"),
        "account_sid": TWILIO_SID,
        "auth_token": TWILIO_TOKEN,
        "from": "+15550001111",
        "public_url": "https://otp.example.com",
    }))
    .unwrap();
    Arc::new(TwilioProvider::new("twilio", &s).unwrap())
}

async fn admin(port: u16, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/__admin/{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

/// The requests WireMock received for `url_path`.
async fn received(port: u16, method: &str, url_path_pattern: &str) -> Vec<Value> {
    let found = admin(
        port,
        "requests/find",
        json!({"method": method, "urlPathPattern": url_path_pattern}),
    )
    .await;
    found["requests"].as_array().cloned().unwrap_or_default()
}

fn form(req: &Value) -> HashMap<String, String> {
    let body = req["body"].as_str().unwrap_or_default();
    url_pairs(body)
}

fn url_pairs(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

const MESSAGES: &str = "/2010-04-01/Accounts/.*/Messages\\.json";
const CALLS: &str = "/2010-04-01/Accounts/.*/Calls\\.json";

#[tokio::test]
async fn sms_503_then_201_is_retried_and_delivered_once() {
    let Some((wm, _root)) = wiremock().await else {
        return;
    };
    // The first Messages request answers 503, later ones fall through to the stub's 201.
    admin(wm.port, "mappings", json!({
        "priority": 1,
        "scenarioName": "flaky", "requiredScenarioState": "Started", "newScenarioState": "recovered",
        "request": {"method": "POST", "urlPathPattern": MESSAGES},
        "response": {"status": 503, "jsonBody": {"code": 20500, "message": "busy", "status": 503}}
    })).await;
    let f = fixture().await;
    let w = f.worker(Routes::all_through(twilio(wm.port)));
    let v = f.start("+14155552671", Channel::Sms, "428913").await;
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(received(wm.port, "POST", MESSAGES).await.len(), 1);
    let job = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
    assert_eq!(job.status.as_str(), "queued", "a 503 is retried");
    f.clock.advance_secs(3);
    assert_eq!(w.run_once().await.unwrap(), 1);
    f.clock.advance_secs(120);
    assert_eq!(w.run_once().await.unwrap(), 0);
    let reqs = received(wm.port, "POST", MESSAGES).await;
    assert_eq!(reqs.len(), 2, "one failed try and one delivery");
    let sent = form(&reqs[0]);
    assert_eq!(sent["To"], "+14155552671");
    assert_eq!(sent["From"], "+15550001111");
    assert_eq!(sent["Body"], "Your Acme verification code is: 428913");
    assert_eq!(
        sent["StatusCallback"],
        "https://otp.example.com/v1/hooks/twilio/status?provider=twilio"
    );
    let job = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
    assert_eq!(job.status.as_str(), "sent");
    assert!(
        job.provider_ref
            .as_deref()
            .is_some_and(|r| r.starts_with("SM") && r.len() == 34)
    );
    assert!(
        f.check(&v, "428913").await,
        "the code that reached the peer verifies"
    );
}

#[tokio::test]
async fn sms_400_fails_at_once_and_is_not_retried() {
    let Some((wm, _root)) = wiremock().await else {
        return;
    };
    admin(wm.port, "mappings", json!({
        "priority": 1,
        "request": {"method": "POST", "urlPathPattern": MESSAGES},
        "response": {"status": 400, "jsonBody": {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}}
    })).await;
    let f = fixture().await;
    let w = f.worker(Routes::all_through(twilio(wm.port)));
    let v = f.start("+14155552671", Channel::Sms, "428913").await;
    assert_eq!(w.run_once().await.unwrap(), 1);
    f.clock.advance_secs(600);
    assert_eq!(w.run_once().await.unwrap(), 0);
    assert_eq!(
        received(wm.port, "POST", MESSAGES).await.len(),
        1,
        "not retried"
    );
    let job = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
    assert_eq!(job.status.as_str(), "failed");
}

#[tokio::test]
async fn a_call_carries_twiml_that_says_the_digits_twice() {
    let Some((wm, _root)) = wiremock().await else {
        return;
    };
    let f = fixture().await;
    let w = f.worker(Routes::all_through(twilio(wm.port)));
    let v = f.start("+14155552671", Channel::Call, "4289").await;
    assert_eq!(w.run_once().await.unwrap(), 1);
    let reqs = received(wm.port, "POST", CALLS).await;
    assert_eq!(reqs.len(), 1);
    let sent = form(&reqs[0]);
    let twiml = &sent["Twiml"];
    assert!(
        twiml.starts_with("<Response><Say voice=\"alice\" language=\"en-US\">"),
        "{twiml}"
    );
    assert_eq!(twiml.matches("4, 2, 8, 9").count(), 2, "{twiml}");
    let job = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
    assert!(
        job.provider_ref
            .as_deref()
            .is_some_and(|r| r.starts_with("CA"))
    );
    assert!(f.check(&v, "4289").await);
}

#[tokio::test]
async fn wrong_credentials_are_refused_for_good() {
    let Some((wm, _root)) = wiremock().await else {
        return;
    };
    let s: TwilioSettings = serde_json::from_value(json!({
        "base_url": format!("http://127.0.0.1:{}", wm.port),
        "account_sid": TWILIO_SID, "auth_token": "wrong", "from": "+15550001111",
    }))
    .unwrap();
    let f = fixture().await;
    let w = f.worker(Routes::all_through(Arc::new(
        TwilioProvider::new("twilio", &s).unwrap(),
    )));
    let v = f.start("+14155552671", Channel::Sms, "428913").await;
    w.run_once().await.unwrap();
    let job = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
    assert_eq!(job.status.as_str(), "failed");
}

#[tokio::test]
async fn the_webhook_provider_posts_its_template_and_reads_the_answer() {
    let Some((wm, _root)) = wiremock().await else {
        return;
    };
    admin(
        wm.port,
        "mappings",
        json!({
            "request": {"method": "POST", "urlPath": "/send"},
            "response": {"status": 200, "jsonBody": {"ok": true, "id": "m-77"}}
        }),
    )
    .await;
    let s: WebhookSettings = serde_json::from_value(json!({
        "url": format!("http://127.0.0.1:{}/send", wm.port),
        "headers": {"Authorization": "Bearer t"},
        "body": {"recipient": "{to}", "message": {"text": "{text}"}, "ref": "{code_ref}"},
        "success_pointer": "/ok",
        "id_pointer": "/id",
    }))
    .unwrap();
    let f = fixture().await;
    let w = f.worker(Routes::all_through(Arc::new(
        WebhookProvider::new("hook", &s).unwrap(),
    )));
    let v = f.start("+14155552671", Channel::Sms, "428913").await;
    w.run_once().await.unwrap();
    let reqs = received(wm.port, "POST", "/send").await;
    assert_eq!(reqs.len(), 1);
    let body: Value = serde_json::from_str(reqs[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["recipient"], "+14155552671");
    assert_eq!(
        body["message"]["text"],
        "Your Acme verification code is: 428913"
    );
    assert!(body["ref"].as_str().unwrap().ends_with("-1"));
    assert_eq!(reqs[0]["headers"]["Authorization"], "Bearer t");
    let job = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
    assert_eq!(
        (job.status.as_str(), job.provider_ref.as_deref()),
        ("sent", Some("m-77"))
    );

    // An answer without success is a permanent failure.
    admin(
        wm.port,
        "mappings",
        json!({
            "priority": 1,
            "request": {"method": "POST", "urlPath": "/send"},
            "response": {"status": 200, "jsonBody": {"ok": false}}
        }),
    )
    .await;
    let v2 = f.start("+14155552672", Channel::Sms, "111222").await;
    w.run_once().await.unwrap();
    let job = f.store.latest_delivery(&v2.id).await.unwrap().unwrap();
    assert_eq!(job.status.as_str(), "failed");
}
