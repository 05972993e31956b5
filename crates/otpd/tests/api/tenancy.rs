//! Another tenant's key sees nothing of this tenant's.

use crate::helpers::{error_of, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn another_tenants_key_gets_404() {
    let app = spawn_app().await;
    let sid = app.service(json!({})).await;
    let id = app.start(&sid, "+14155552671").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.last_code("+14155552671").await;
    let other = app.new_key("other", "admin,verify").await;

    let get = |path: String| {
        let other = other.clone();
        let app = &app;
        async move {
            app.client
                .get(app.url(&path))
                .basic_auth(&other.0, Some(&other.1))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        error_of(get(format!("/v1/services/{sid}")).await).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        error_of(get(format!("/v1/services/{sid}/verifications/{id}")).await)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let r = app
        .post_as(
            &other,
            &format!("/v1/services/{sid}/verifications/{id}/check"),
            json!({"code": code}),
        )
        .await;
    assert_eq!(error_of(r).await.0, StatusCode::NOT_FOUND);
    let r = app
        .post_as(
            &other,
            &format!("/v1/services/{sid}/verifications"),
            json!({"to": "+14155552671", "channel": "sms"}),
        )
        .await;
    assert_eq!(error_of(r).await.0, StatusCode::NOT_FOUND);
    let listed: Value = get("/v1/services".into()).await.json().await.unwrap();
    assert_eq!(listed["services"].as_array().unwrap().len(), 0);
    let outbox: Vec<Value> = get("/v1/outbox".into()).await.json().await.unwrap();
    assert!(outbox.is_empty());
    // The owner is unaffected.
    assert_eq!(app.check(&sid, &id, &code).await["valid"], true);
}
