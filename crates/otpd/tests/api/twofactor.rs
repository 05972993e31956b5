//! The CreateTwoFactorSmsOtp dialect (seed 001) and its companion VerifyTwoFactorSmsOtp: the
//! seed's JSON and XML samples, content negotiation, every validation rule, the per-UserId
//! limit, OtpExpirationPeriod, IsSync, reveal_code and the reference code in the SMS.

use crate::helpers::{TestApp, spawn_app};
use otpd::config::Config;
use otpd::wiring::build_with_clock;
use otpd_delivery::{Routes, Worker, WorkerConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

const CREATE: &str = "/api/TwoFactor/CreateTwoFactorSmsOtp";
const VERIFY: &str = "/api/TwoFactor/VerifyTwoFactorSmsOtp";
const TO: &str = "+14155552671";
const USER: &str = "3698b76f-a5c0-4b04-b579-bc084019fb95";
const REQ_NS: &str = "http://schemas.datacontract.org/2004/07/BusinessLayer.Dto.Request";
const RESP_NS: &str = "http://schemas.datacontract.org/2004/07/BusinessLayer.Dto.Response";

/// The seed's XML request sample, verbatim but for the number.
const SEED_XML: &str = r#"<CreateTwoFactorSmsOtpRequest xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.datacontract.org/2004/07/BusinessLayer.Dto.Request"> <GsmNumber>sample string 2</GsmNumber> <IsSync>true</IsSync> <MaxSMSCount>4</MaxSMSCount> <MaxSMSInterval>5</MaxSMSInterval> <OtpExpirationPeriod>6</OtpExpirationPeriod> <Source>sample string 7</Source> <TwoFactorConfigurationId>3</TwoFactorConfigurationId> <UserId>3698b76f-a5c0-4b04-b579-bc084019fb95</UserId> </CreateTwoFactorSmsOtpRequest>"#;

/// The seed's JSON response member order.
const RESPONSE_ORDER: [&str; 9] = [
    "Id",
    "OtpIdReference",
    "ReferenceCode",
    "OtpCode",
    "RemainingExpirationSeconds",
    "GsmNumber",
    "ExceptionMessage",
    "Success",
    "Code",
];

fn body(extra: Value) -> Value {
    let mut b = json!({"UserId": USER, "GsmNumber": TO});
    if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    b
}

async fn post_raw(
    app: &TestApp,
    key: Option<&(String, String)>,
    path: &str,
    content_type: &str,
    accept: Option<&str>,
    payload: impl Into<reqwest::Body>,
) -> (StatusCode, String, String) {
    let mut req = app
        .client
        .post(app.url(path))
        .header("Content-Type", content_type)
        .body(payload);
    if let Some(k) = key {
        req = req.basic_auth(&k.0, Some(&k.1));
    }
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

async fn create_as(app: &TestApp, key: &(String, String), b: Value) -> (StatusCode, Value) {
    let (s, ct, text) = post_raw(
        app,
        Some(key),
        CREATE,
        "application/json",
        None,
        b.to_string(),
    )
    .await;
    assert!(ct.starts_with("application/json"), "{ct}");
    (s, serde_json::from_str(&text).unwrap())
}

async fn create(app: &TestApp, b: Value) -> (StatusCode, Value) {
    create_as(app, &app.admin, b).await
}

async fn verify(app: &TestApp, reference: &str, code: &str) -> Value {
    let (s, _, text) = post_raw(
        app,
        Some(&app.admin),
        VERIFY,
        "application/json",
        None,
        json!({"OtpIdReference": reference, "OtpCode": code}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// The newest SMS to `to` (delivering what is queued first).
async fn last_sms(app: &TestApp, to: &str) -> String {
    app.deliver().await;
    let r = app
        .client
        .get(app.url("/v1/outbox"))
        .query(&[("to", to)])
        .basic_auth(&app.admin.0, Some(&app.admin.1))
        .send()
        .await
        .unwrap();
    let msgs: Vec<Value> = r.json().await.unwrap();
    msgs[0]["body"].as_str().unwrap().to_owned()
}

fn code_of(sms: &str) -> String {
    sms.rsplit(' ').next().unwrap().to_owned()
}

/// Asserts a 400 `ValidationErrorCode` answer naming `field`, with nothing written.
async fn assert_invalid(app: &TestApp, b: Value, field: &str) {
    let before = app.row_counts();
    let (s, v) = create(app, b.clone()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b} -> {v}");
    assert_eq!(v["Success"], false);
    assert_eq!(v["Code"], 2000);
    let msg = v["ExceptionMessage"].as_str().unwrap();
    assert!(msg.starts_with(&format!("{field}:")), "{b} -> {msg}");
    assert_eq!(app.row_counts(), before, "{b} wrote something");
}

/// Runs `fut` while a worker delivers, for `IsSync` requests.
async fn with_delivery<T>(app: &TestApp, fut: impl std::future::Future<Output = T>) -> T {
    let mut fut = std::pin::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => return out,
            _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => app.deliver().await,
        }
    }
}

fn element_names(xml: &str) -> Vec<String> {
    xml.split('<')
        .skip(1)
        .filter(|t| !t.starts_with('/'))
        .map(|t| t.split([' ', '>', '/']).next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_seed_json_sample_sends_and_answers_in_the_seed_order() {
    let app = spawn_app().await;
    let mut services = Vec::new();
    for name in ["One", "Two", "Three"] {
        services.push(app.service(json!({"name": name})).await);
    }
    let seed = json!({
        "UserId": USER, "GsmNumber": TO, "TwoFactorConfigurationId": 3, "MaxSMSCount": 4,
        "MaxSMSInterval": 5, "OtpExpirationPeriod": 6, "IsSync": true, "Source": "sample string 7"
    });
    let (s, ct, text) = with_delivery(
        &app,
        post_raw(
            &app,
            Some(&app.admin),
            CREATE,
            "application/json",
            None,
            seed.to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert_eq!(ct, "application/json; charset=utf-8");
    let positions: Vec<usize> = RESPONSE_ORDER
        .iter()
        .map(|k| text.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["Success"], true);
    assert_eq!(v["Code"], 1000);
    assert_eq!(v["ExceptionMessage"], Value::Null);
    assert_eq!(v["OtpCode"], Value::Null, "admin keys lack reveal_code");
    assert_eq!(v["RemainingExpirationSeconds"], 6);
    assert_eq!(v["GsmNumber"], TO);
    assert!(v["Id"].as_i64().unwrap() > 0);
    let reference = v["ReferenceCode"].as_str().unwrap();
    assert_eq!(reference.len(), 4);
    assert!(reference.bytes().all(|b| b.is_ascii_uppercase()));
    let id = v["OtpIdReference"].as_str().unwrap();
    // TwoFactorConfigurationId 3 is the third service; the code checks there natively.
    let sms = last_sms(&app, TO).await;
    assert!(sms.starts_with(&format!("Ref: {reference}\n")), "{sms}");
    assert!(sms.contains("Three"), "{sms}");
    let checked = app.check(&services[2], id, &code_of(&sms)).await;
    assert_eq!(checked["valid"], true);
}

#[tokio::test]
async fn the_seed_xml_sample_answers_in_datacontract_xml() {
    let app = spawn_app().await;
    for name in ["One", "Two", "Three"] {
        app.service(json!({"name": name})).await;
    }
    let xml = SEED_XML.replace("sample string 2", TO);
    let (s, ct, text) = with_delivery(
        &app,
        post_raw(&app, Some(&app.admin), CREATE, "application/xml", None, xml),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert_eq!(ct, "application/xml; charset=utf-8");
    assert!(text.starts_with(&format!(
        "<CreateTwoFactorSmsOtpResponse xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns=\"{RESP_NS}\"><Code>SuccessCode</Code><ExceptionMessage i:nil=\"true\"/>"
    )), "{text}");
    assert_eq!(
        element_names(&text),
        [
            "CreateTwoFactorSmsOtpResponse",
            "Code",
            "ExceptionMessage",
            "GsmNumber",
            "Id",
            "OtpCode",
            "OtpIdReference",
            "ReferenceCode",
            "RemainingExpirationSeconds",
            "Success"
        ]
    );
    assert!(text.contains(&format!("<GsmNumber>{TO}</GsmNumber>")));
    assert!(text.contains("<RemainingExpirationSeconds>6</RemainingExpirationSeconds>"));
    assert!(text.contains("<Success>true</Success>"));
    assert!(text.contains("<OtpCode i:nil=\"true\"/>"));
}

#[tokio::test]
async fn accept_chooses_the_answer_format_else_the_request_does() {
    let app = spawn_app().await;
    let json_body = body(json!({})).to_string();
    let (_, ct, text) = post_raw(
        &app,
        Some(&app.admin),
        CREATE,
        "application/json",
        Some("application/xml"),
        json_body.clone(),
    )
    .await;
    assert!(ct.starts_with("application/xml"), "{ct}");
    assert!(text.contains("<Code>SuccessCode</Code>"), "{text}");
    let (_, ct, _) = post_raw(
        &app,
        Some(&app.admin),
        CREATE,
        "text/json",
        None,
        json_body.clone(),
    )
    .await;
    assert!(ct.starts_with("text/json"), "{ct}");
    let (_, ct, _) = post_raw(
        &app,
        Some(&app.admin),
        CREATE,
        "application/json",
        Some("text/xml;q=0.4, text/json;q=0.8"),
        json_body,
    )
    .await;
    assert!(ct.starts_with("text/json"), "{ct}");
    let xml = SEED_XML
        .replace("sample string 2", "+14155550100")
        .replace("<TwoFactorConfigurationId>3</TwoFactorConfigurationId>", "")
        .replace("<IsSync>true</IsSync>", "");
    let (s, ct, text) = post_raw(
        &app,
        Some(&app.admin),
        CREATE,
        "text/xml",
        Some("application/json"),
        xml.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(ct.starts_with("application/json"), "{ct}");
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["Code"], 1000);
    let (_, ct, _) = post_raw(&app, Some(&app.admin), CREATE, "text/xml", Some("*/*"), xml).await;
    assert!(ct.starts_with("text/xml"), "{ct}");
}

#[tokio::test]
async fn form_bodies_and_any_property_case_bind() {
    let app = spawn_app().await;
    let form = format!("userid={USER}&GSMNUMBER=%2B14155552671&issync=false");
    let (s, ct, text) = post_raw(
        &app,
        Some(&app.admin),
        CREATE,
        "application/x-www-form-urlencoded",
        None,
        form,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(ct.starts_with("application/json"));
    let (s, v) = create(&app, json!({"userID": USER, "gsmnumber": "+14155550100", "IsSync": "false", "maxsmscount": "3", "MaxSmsInterval": 60, "Unknown": [1]})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["Code"], 1000);
}

#[tokio::test]
async fn credentials_media_type_and_size_answer_like_aspnet() {
    let app = spawn_app().await;
    let b = body(json!({})).to_string();
    let (s, _, text) = post_raw(&app, None, CREATE, "application/json", None, b.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        text,
        r#"{"Message":"Authorization has been denied for this request."}"#
    );
    let wrong = (app.admin.0.clone(), "0".repeat(48));
    let (s, _, text) = post_raw(
        &app,
        Some(&wrong),
        CREATE,
        "application/xml",
        None,
        SEED_XML.to_owned(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        text,
        "<Error><Message>Authorization has been denied for this request.</Message></Error>"
    );
    let (s, _, text) = post_raw(&app, Some(&app.admin), CREATE, "text/plain", None, b).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        serde_json::from_str::<Value>(&text).unwrap()["Message"]
            .as_str()
            .unwrap()
            .contains("text/plain")
    );
    let big = format!("{{\"Source\":\"{}\"}}", "x".repeat(70 * 1024));
    let (s, _, _) = post_raw(
        &app,
        Some(&app.admin),
        CREATE,
        "application/json",
        None,
        big,
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // A key without the verify scope may not send.
    let reveal_only = app.new_key("default", "reveal_code").await;
    let (s, v) = create_as(&app, &reveal_only, body(json!({}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["Code"], 2000);
    assert_eq!(
        app.row_counts()
            .iter()
            .find(|(t, _)| t == "verifications")
            .unwrap()
            .1,
        0
    );
}

#[tokio::test]
async fn every_validation_rule_names_its_property_and_writes_nothing() {
    let app = spawn_app().await;
    // The first service exists, so refusals write nothing at all.
    app.service(json!({})).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"GsmNumber": TO}), "UserId"),
        (body(json!({"UserId": "not-a-guid"})), "UserId"),
        (
            body(json!({"UserId": "00000000-0000-0000-0000-000000000000"})),
            "UserId",
        ),
        (body(json!({"UserId": 5})), "UserId"),
        (json!({"UserId": USER}), "GsmNumber"),
        (body(json!({"GsmNumber": "04155552671"})), "GsmNumber"),
        (body(json!({"GsmNumber": "+1 415 CALL ME"})), "GsmNumber"),
        (body(json!({"GsmNumber": true})), "GsmNumber"),
        (
            body(json!({"TwoFactorConfigurationId": -1})),
            "TwoFactorConfigurationId",
        ),
        (
            body(json!({"TwoFactorConfigurationId": 9})),
            "TwoFactorConfigurationId",
        ),
        (
            body(json!({"TwoFactorConfigurationId": "three"})),
            "TwoFactorConfigurationId",
        ),
        (
            body(json!({"TwoFactorConfigurationId": 2147483648i64})),
            "TwoFactorConfigurationId",
        ),
        (
            body(json!({"MaxSMSCount": -1, "MaxSMSInterval": 60})),
            "MaxSMSCount",
        ),
        (
            body(json!({"MaxSMSCount": 1.5, "MaxSMSInterval": 60})),
            "MaxSMSCount",
        ),
        (
            body(json!({"MaxSMSCount": 10001, "MaxSMSInterval": 60})),
            "MaxSMSCount",
        ),
        (body(json!({"MaxSMSCount": 3})), "MaxSMSInterval"),
        (body(json!({"MaxSMSInterval": 60})), "MaxSMSCount"),
        (
            body(json!({"MaxSMSCount": 3, "MaxSMSInterval": -5})),
            "MaxSMSInterval",
        ),
        (
            body(json!({"MaxSMSCount": 3, "MaxSMSInterval": 86401})),
            "MaxSMSInterval",
        ),
        (
            body(json!({"OtpExpirationPeriod": -6})),
            "OtpExpirationPeriod",
        ),
        (
            body(json!({"OtpExpirationPeriod": 604801})),
            "OtpExpirationPeriod",
        ),
        (body(json!({"IsSync": "maybe"})), "IsSync"),
        (body(json!({"IsSync": 1})), "IsSync"),
        (body(json!({"Source": "x".repeat(257)})), "Source"),
        (body(json!({"Source": "a\u{0007}b"})), "Source"),
        (body(json!({"Source": {"nested": 1}})), "Source"),
    ];
    for (b, field) in cases {
        assert_invalid(&app, b, field).await;
    }
    // A property given twice, in any case, and bodies that are not one JSON object.
    for raw in [
        format!(r#"{{"UserId":"{USER}","userid":"{USER}","GsmNumber":"{TO}"}}"#),
        "[1,2]".to_owned(),
        "{\"UserId\": ".to_owned(),
        "not json".to_owned(),
    ] {
        let before = app.row_counts();
        let (s, _, text) = post_raw(
            &app,
            Some(&app.admin),
            CREATE,
            "application/json",
            None,
            raw.clone(),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{raw}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Code"], 2000, "{raw}");
        assert_eq!(app.row_counts(), before);
    }
}

#[tokio::test]
async fn xml_is_hardened_and_bound_to_the_contract() {
    let app = spawn_app().await;
    app.service(json!({})).await;
    let good = SEED_XML.replace("sample string 2", TO);
    let cases = [
        // Wrong root element, wrong or missing namespace.
        good.replace("<CreateTwoFactorSmsOtpRequest ", "<CreateRequest ")
            .replace("</CreateTwoFactorSmsOtpRequest>", "</CreateRequest>"),
        good.replace(REQ_NS, "http://example.com/other"),
        good.replace(&format!(" xmlns=\"{REQ_NS}\""), ""),
        // DTDs, external and internal entities, parameter entities.
        format!("<!DOCTYPE x SYSTEM \"file:///etc/passwd\">{good}"),
        format!(
            "<!DOCTYPE x [<!ENTITY xxe SYSTEM \"http://127.0.0.1:1/canary\">]>{}",
            good.replace("sample string 7", "&xxe;")
        ),
        format!("<!DOCTYPE x [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/x.dtd\"> %p;]>{good}"),
        good.replace("sample string 7", "&undefined;"),
        // Billion laughs, malformed, too deep, processing instructions, not UTF-8.
        format!(
            "<!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>{}",
            good.replace("sample string 7", "&b;")
        ),
        good.replace("</UserId>", ""),
        good.replace(
            "<Source>sample string 7</Source>",
            &format!(
                "<Source>{}x{}</Source>",
                "<a>".repeat(100),
                "</a>".repeat(100)
            ),
        ),
        good.replace("<GsmNumber>", "<?evil x?><GsmNumber>"),
        // A property given twice.
        good.replace(
            "<IsSync>true</IsSync>",
            "<IsSync>true</IsSync><IsSync>false</IsSync>",
        ),
    ];
    for xml in cases {
        let before = app.row_counts();
        let (s, ct, text) = post_raw(
            &app,
            Some(&app.admin),
            CREATE,
            "application/xml",
            None,
            xml.clone(),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{xml} -> {text}");
        assert!(ct.starts_with("application/xml"));
        assert!(text.contains("<Code>ValidationErrorCode</Code>"), "{text}");
        assert!(!text.contains("root:"), "no file content leaks");
        assert_eq!(app.row_counts(), before, "{xml}");
    }
    let (s, _, text) = post_raw(
        &app,
        Some(&app.admin),
        CREATE,
        "application/xml",
        None,
        vec![0xffu8, 0xfe, b'<'],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{text}");
    // Values the contract types refuse name their element.
    let bad_int = good.replace(
        "<MaxSMSCount>4</MaxSMSCount>",
        "<MaxSMSCount>four</MaxSMSCount>",
    );
    let (_, _, text) = post_raw(
        &app,
        Some(&app.admin),
        CREATE,
        "application/xml",
        None,
        bad_int,
    )
    .await;
    assert!(
        text.contains("<ExceptionMessage>MaxSMSCount: must be an integer</ExceptionMessage>"),
        "{text}"
    );
}

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
async fn the_reference_line_never_pushes_the_sms_past_one_segment() {
    let app = spawn_app().await;
    // The longest domain a service with a 30-character name and 20-symbol codes accepts: its
    // SMS fills one segment without a reference line.
    let mut found = false;
    for len in (10..=120).rev() {
        let domain = format!("{}.com", "d".repeat(len - 4));
        let r = app
            .post(
                "/v1/services",
                json!({"name": "N".repeat(30), "code_length": 20, "domain": domain}),
            )
            .await;
        if r.status() == StatusCode::CREATED {
            found = true;
            break;
        }
    }
    assert!(found);
    let before = app.row_counts();
    let (s, v) = create(&app, body(json!({"TwoFactorConfigurationId": 1}))).await;
    if v["Code"] == 2000 {
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let msg = v["ExceptionMessage"].as_str().unwrap();
        assert!(msg.starts_with("TwoFactorConfigurationId:"), "{msg}");
        assert_eq!(app.row_counts(), before);
    } else {
        // Templates in other languages may leave room in English: then it must fit.
        assert_eq!(v["Code"], 1000, "{v}");
        assert!(last_sms(&app, TO).await.chars().count() <= 160);
    }
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
