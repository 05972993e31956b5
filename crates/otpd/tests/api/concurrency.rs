//! Concurrent checks over HTTP: one approval, every wrong guess counted.

use crate::helpers::spawn_app;
use futures::future::join_all;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_right_checks_approve_exactly_once() {
    let app = spawn_app().await;
    let sid = app.service(json!({})).await;
    let id = app.start(&sid, "+14155552671").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.last_code("+14155552671").await;
    let results = join_all((0..50).map(|_| app.check(&sid, &id, &code))).await;
    let approvals = results.iter().filter(|r| r["valid"] == true).count();
    assert_eq!(approvals, 1);
    assert!(results.iter().all(|r| r["status"] == "approved"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_checks_are_counted_exactly() {
    let app = spawn_app().await;
    let sid = app.service(json!({"max_check_attempts": 20})).await;
    let id = app.start(&sid, "+14155552671").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.last_code("+14155552671").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let results = join_all((0..12).map(|_| app.check(&sid, &id, wrong))).await;
    let mut remaining: Vec<u64> = results
        .iter()
        .map(|r| r["attempts_remaining"].as_u64().unwrap())
        .collect();
    remaining.sort();
    // Each guess saw a distinct count: 19, 18, ... 8.
    assert_eq!(remaining, (8..=19).collect::<Vec<u64>>());
    let got: Value = app
        .get(&format!("/v1/services/{sid}/verifications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["failed_attempts"], 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_checks_never_exceed_the_limit() {
    let app = spawn_app().await;
    let sid = app.service(json!({"max_check_attempts": 5})).await;
    let id = app.start(&sid, "+14155552671").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.last_code("+14155552671").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    join_all((0..30).map(|_| app.check(&sid, &id, wrong))).await;
    let got: Value = app
        .get(&format!("/v1/services/{sid}/verifications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["failed_attempts"], 5);
    assert_eq!(got["status"], "max_attempts_reached");
    assert_eq!(app.check(&sid, &id, &code).await["valid"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_starts_for_one_destination_make_one_verification() {
    let app = spawn_app().await;
    let sid = app
        .service(json!({"max_sends": 20, "send_limit": {"count": 100, "window_seconds": 600}}))
        .await;
    let results = join_all((0..10).map(|_| app.start(&sid, "+14155552671"))).await;
    let first = &results[0]["id"];
    assert!(results.iter().all(|r| &r["id"] == first));
    let mut counts: Vec<u64> = results
        .iter()
        .map(|r| r["send_count"].as_u64().unwrap())
        .collect();
    counts.sort();
    assert_eq!(counts, (1..=10).collect::<Vec<u64>>());
}
