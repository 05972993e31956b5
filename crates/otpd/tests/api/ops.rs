//! Health, readiness, metrics and the OpenAPI document.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ready");
}

#[tokio::test]
async fn metrics_use_route_templates_and_never_numbers_or_codes() {
    let app = spawn_app().await;
    let sid = app.service(json!({})).await;
    let id = app.start(&sid, "+14155552671").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.last_code("+14155552671").await;
    app.check(&sid, &id, &code).await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "otpd_verifications_started_total{channel=\"sms\"}",
        "otpd_checks_total{result=\"approved\"}",
        "otpd_deliveries_total{provider=\"outbox\",status=\"sent\"}",
        "otpd_http_request_duration_seconds_bucket",
        "route=\"/v1/services/{service_id}/verifications/{verification_id}/check\"",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
    assert!(!text.contains("4155552671"));
    assert!(!text.contains(&sid));
    assert!(!text.contains(&id));
}

#[tokio::test]
async fn openapi_document_describes_the_native_api() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/services",
        "/v1/services/{service_id}/verifications",
        "/v1/services/{service_id}/verifications/{verification_id}/check",
        "/v1/services/{service_id}/checks",
        "/v1/outbox",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    assert!(doc["components"]["schemas"]["StartVerificationRequest"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["basic"]["scheme"],
        "basic"
    );
}
