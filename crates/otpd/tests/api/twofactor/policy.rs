//! The 001 dialect's policies: MaxSMSCount per UserId, reveal_code, re-sends,
//! OtpExpirationPeriod, verify outcomes and IsSync.

use super::*;
use otpd::config::Config;
use otpd::wiring::build_with_clock;
use otpd_delivery::{Routes, Worker, WorkerConfig};
use std::sync::Arc;

#[tokio::test]
async fn max_sms_count_is_enforced_per_user_id_in_the_interval() {
    let app = spawn_app().await;
    for to in ["+14155550101", "+14155550102"] {
        let b = body(json!({"GsmNumber": to, "MaxSMSCount": 2, "MaxSMSInterval": 60}));
        let (s, v) = create(&app, b).await;
        assert_eq!((s, v["Code"].clone()), (StatusCode::OK, json!(1000)), "{v}");
    }
    let third = body(json!({"GsmNumber": "+14155550103", "MaxSMSCount": 2, "MaxSMSInterval": 60}));
    let before = app.row_counts();
    let r = app
        .client
        .post(app.url(CREATE))
        .basic_auth(&app.admin.0, Some(&app.admin.1))
        .json(&third)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["retry-after"], "60");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["Success"], false);
    assert_eq!(v["Code"], 4000);
    assert_eq!(v["OtpIdReference"], Value::Null);
    assert_eq!(v["GsmNumber"], "+14155550103");
    assert!(v["ExceptionMessage"].as_str().unwrap().contains("too many"));
    assert_eq!(app.row_counts(), before, "a refused send writes nothing");
    // Another user is not held back; the first user is again once the window moved on.
    let other = body(
        json!({"UserId": "11111111-2222-3333-4444-555555555555", "GsmNumber": "+14155550103", "MaxSMSCount": 2, "MaxSMSInterval": 60}),
    );
    assert_eq!(create(&app, other).await.1["Code"], 1000);
    app.clock.advance_secs(61);
    assert_eq!(
        create(
            &app,
            body(json!({"GsmNumber": "+14155550104", "MaxSMSCount": 2, "MaxSMSInterval": 60}))
        )
        .await
        .1["Code"],
        1000
    );
    // Without MaxSMSCount the user is only held to the service's own limits.
    for _ in 0..3 {
        assert_eq!(
            create(&app, body(json!({"GsmNumber": "+14155550105"})))
                .await
                .1["Code"],
            1000
        );
    }
}

#[tokio::test]
async fn otp_code_is_revealed_only_to_reveal_code_keys() {
    let app = spawn_app().await;
    let revealing = app.new_key("default", "verify,reveal_code").await;
    let (_, v) = create_as(&app, &revealing, body(json!({}))).await;
    let code = v["OtpCode"].as_str().unwrap().to_owned();
    assert_eq!(code_of(&last_sms(&app, TO).await), code);
    let plain = app.new_key("default", "verify").await;
    let (_, v) = create_as(&app, &plain, body(json!({"GsmNumber": "+14155550100"}))).await;
    assert_eq!(v["Code"], 1000);
    assert_eq!(v["OtpCode"], Value::Null);
}

#[tokio::test]
async fn a_resend_keeps_the_reference_id_with_a_new_code_and_reference() {
    let app = spawn_app().await;
    let (_, first) = create(&app, body(json!({}))).await;
    let sms1 = last_sms(&app, TO).await;
    let (_, second) = create(&app, body(json!({}))).await;
    let sms2 = last_sms(&app, TO).await;
    assert_eq!(first["OtpIdReference"], second["OtpIdReference"]);
    assert_eq!(first["Id"], second["Id"]);
    assert!(sms2.starts_with(&format!(
        "Ref: {}\n",
        second["ReferenceCode"].as_str().unwrap()
    )));
    let reference = second["OtpIdReference"].as_str().unwrap();
    let old = code_of(&sms1);
    let new = code_of(&sms2);
    if old != new {
        assert_eq!(
            verify(&app, reference, &old).await["Code"],
            4100,
            "the old code died"
        );
    }
    assert_eq!(verify(&app, reference, &new).await["Code"], 1000);
}

#[tokio::test]
async fn otp_expiration_period_is_seconds() {
    let app = spawn_app().await;
    let (_, v) = create(&app, body(json!({"OtpExpirationPeriod": 90}))).await;
    assert_eq!(v["RemainingExpirationSeconds"], 90);
    let reference = v["OtpIdReference"].as_str().unwrap().to_owned();
    let code = code_of(&last_sms(&app, TO).await);
    app.clock.advance_secs(90);
    let r = verify(&app, &reference, &code).await;
    assert_eq!(
        (r["Success"].clone(), r["Code"].clone()),
        (json!(false), json!(4200))
    );
    // Absent or 0: the service's TTL (600 s by default).
    let (_, v) = create(
        &app,
        body(json!({"GsmNumber": "+14155550100", "OtpExpirationPeriod": 0})),
    )
    .await;
    assert_eq!(v["RemainingExpirationSeconds"], 600);
}

#[tokio::test]
async fn verify_outcomes_have_their_codes() {
    let app = spawn_app().await;
    let (_, v) = create(&app, body(json!({}))).await;
    let reference = v["OtpIdReference"].as_str().unwrap().to_owned();
    let code = code_of(&last_sms(&app, TO).await);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = verify(&app, &reference, wrong).await;
    assert_eq!(
        (
            r["Code"].clone(),
            r["RemainingAttempts"].clone(),
            r["Success"].clone()
        ),
        (json!(4100), json!(4), json!(false))
    );
    let r = verify(&app, &reference, &code).await;
    assert_eq!(
        (r["Code"].clone(), r["Success"].clone()),
        (json!(1000), json!(true))
    );
    assert_eq!(r["Id"], v["Id"]);
    assert_eq!(
        verify(&app, &reference, &code).await["Code"],
        4100,
        "single use"
    );
    assert_eq!(
        verify(&app, "VE00000000000000000000000000000000", &code).await["Code"],
        4100
    );
    assert_eq!(verify(&app, "nonsense", &code).await["Code"], 4100);

    // Exhausting the attempts.
    let (_, v) = create(&app, body(json!({"GsmNumber": "+14155550100"}))).await;
    let reference = v["OtpIdReference"].as_str().unwrap().to_owned();
    let code = code_of(&last_sms(&app, "+14155550100").await);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        assert_eq!(verify(&app, &reference, wrong).await["Code"], 4100);
    }
    assert_eq!(verify(&app, &reference, wrong).await["Code"], 4300);
    assert_eq!(verify(&app, &reference, &code).await["Code"], 4300);

    // Missing or malformed properties, in JSON and XML.
    for b in [
        json!({"OtpCode": "123456"}),
        json!({"OtpIdReference": reference}),
        json!({"OtpIdReference": reference, "OtpCode": "12 34"}),
    ] {
        let (s, _, text) = post_raw(
            &app,
            Some(&app.admin),
            VERIFY,
            "application/json",
            None,
            b.to_string(),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["Code"], 2000);
    }
    let xml = format!(
        "<VerifyTwoFactorSmsOtpRequest xmlns=\"{REQ_NS}\"><OtpCode>{code}</OtpCode><OtpIdReference>{reference}</OtpIdReference></VerifyTwoFactorSmsOtpRequest>"
    );
    let (s, _, text) = post_raw(&app, Some(&app.admin), VERIFY, "application/xml", None, xml).await;
    assert_eq!(s, StatusCode::OK);
    assert!(text.starts_with(&format!("<VerifyTwoFactorSmsOtpResponse xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns=\"{RESP_NS}\"><Code>MaxAttemptsExceededCode</Code>")), "{text}");
    assert_eq!(
        element_names(&text),
        [
            "VerifyTwoFactorSmsOtpResponse",
            "Code",
            "ExceptionMessage",
            "Id",
            "OtpIdReference",
            "RemainingAttempts",
            "Success"
        ]
    );
}

#[tokio::test]
async fn is_sync_false_answers_at_once_with_the_sms_queued() {
    let app = spawn_app().await;
    let (_, v) = create(&app, body(json!({"IsSync": false}))).await;
    assert_eq!(v["Code"], 1000);
    let queued: i64 = rusqlite::Connection::open(&app.db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM outbox_jobs WHERE status = 'queued'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(queued, 1);
}

#[tokio::test]
async fn is_sync_reports_a_refused_sms_and_a_provider_that_never_answers() {
    let app = spawn_app().await;
    // A second worker on the same database with no provider routed: every SMS fails.
    let config = Config {
        data_dir: app.db.parent().unwrap().to_owned(),
        ..Config::default()
    };
    let other = build_with_clock(&config, app.clock.clone()).unwrap();
    let failing = Arc::new(Worker {
        store: other.engine.store.clone(),
        clock: app.clock.clone(),
        secrets: other.engine.secrets.clone(),
        routes: Routes::default(),
        wakeup: other.wakeup,
        config: WorkerConfig::default(),
    });
    let request = create(&app, body(json!({"IsSync": true})));
    let mut request = std::pin::pin!(request);
    let (s, v) = loop {
        tokio::select! {
            out = &mut request => break out,
            _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => { failing.run_once().await.unwrap(); }
        }
    };
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["Success"].clone(), v["Code"].clone()),
        (json!(false), json!(5000)),
        "{v}"
    );
    assert!(v["OtpIdReference"].is_string());

    // Nobody delivers: the answer comes after the timeout, the SMS still queued.
    let started = std::time::Instant::now();
    let (_, v) = create(
        &app,
        body(json!({"GsmNumber": "+14155550100", "IsSync": "true"})),
    )
    .await;
    assert!(started.elapsed() >= std::time::Duration::from_secs(9));
    assert_eq!(v["Code"], 5000);
    assert!(
        v["ExceptionMessage"]
            .as_str()
            .unwrap()
            .contains("stays queued")
    );
    let code = code_of(&last_sms(&app, "+14155550100").await);
    assert_eq!(
        verify(&app, v["OtpIdReference"].as_str().unwrap(), &code).await["Code"],
        1000
    );
}

#[tokio::test]
async fn concurrent_requests_never_overshoot_max_sms_count() {
    let app = spawn_app().await;
    app.service(json!({})).await;
    let app = &app;
    let requests = (0..10).map(|i| async move {
        let to = format!("+1415555{:04}", 200 + i);
        let b = body(json!({"GsmNumber": to, "MaxSMSCount": 3, "MaxSMSInterval": 600}));
        create(app, b).await.1["Code"].as_i64().unwrap()
    });
    let codes = futures::future::join_all(requests).await;
    assert_eq!(codes.iter().filter(|c| **c == 1000).count(), 3, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 4000).count(), 7, "{codes:?}");
}
