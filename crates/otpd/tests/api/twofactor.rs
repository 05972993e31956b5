//! The CreateTwoFactorSmsOtp dialect (seed 001) and its companion VerifyTwoFactorSmsOtp: the
//! seed's JSON and XML samples, content negotiation, every validation rule, the per-UserId
//! limit, OtpExpirationPeriod, IsSync, reveal_code and the reference code in the SMS.

mod policy;
mod validation;

use crate::helpers::{TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

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
