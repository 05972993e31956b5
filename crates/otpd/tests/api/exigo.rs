//! The Exigo dialect (seed 000): REST and SOAP `SendAuthorizationMFACode`, the WSDL, faults,
//! and the XML hardening of the shared SOAP codec, against the real router.

use crate::helpers::{TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TO: &str = "+14155552671";
const REST: &str = "/3.0/sms/authorizationmfa";
const ASMX: &str = "/3.0/ExigoApi.asmx";
const ACTION: &str = "\"https://api.exigo.com/SendAuthorizationMFACode\"";

/// The seed's SOAP request sample, verbatim but for the placeholders.
const SEED_SOAP_REQUEST: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope 
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
xmlns:xsd="http://www.w3.org/2001/XMLSchema"
xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"> <soap:Header> <ApiAuthentication xmlns="http://api.exigo.com/"> <LoginName>LOGIN</LoginName> <Password>PASSWORD</Password> <Company>COMPANY</Company> <Identity>string</Identity> <RequestTimeUtc>dateTime</RequestTimeUtc> <Signature>string</Signature> </ApiAuthentication> </soap:Header> <soap:Body> <SendAuthorizationMFACodeRequest xmlns="http://api.exigo.com/"> <ToNumber>TONUMBER</ToNumber> <Message>MESSAGE</Message> <Code>CODE</Code> </SendAuthorizationMFACodeRequest> </soap:Body> </soap:Envelope>"#;

/// The seed's SOAP response sample, verbatim.
const SEED_SOAP_RESPONSE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope 
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
xmlns:xsd="http://www.w3.org/2001/XMLSchema"
xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"> <soap:Body> <SendAuthorizationMFACodeResult xmlns="http://api.exigo.com/" /> </soap:Body> </soap:Envelope>"#;

/// The seed's REST request and response bodies.
const SEED_REST_REQUEST: &str = r#"{ "toNumber": "1", "message": "1", "code": "1" }"#;
const SEED_REST_RESPONSE: &str = r#"{ "result": null }"#;

/// Whitespace runs collapsed, and dropped between tags: the seed's line breaks are layout.
fn normalize(xml: &str) -> String {
    let collapsed = xml.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.replace("> <", "><")
}

fn exigo_user(app: &TestApp, company: &str) -> String {
    format!("{}@{company}", app.admin.0)
}

async fn rest(app: &TestApp, user: &str, password: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(REST))
        .basic_auth(user, Some(password))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn soap_request(app: &TestApp, company: &str, to: &str, message: &str, code: &str) -> String {
    SEED_SOAP_REQUEST
        .replace("LOGIN", &app.admin.0)
        .replace("PASSWORD", &app.admin.1)
        .replace("COMPANY", company)
        .replace("TONUMBER", to)
        .replace("MESSAGE", message)
        .replace("CODE", code)
}

async fn soap(app: &TestApp, body: String) -> reqwest::Response {
    soap_with(app, "text/xml; charset=utf-8", Some(ACTION), body).await
}

async fn soap_with(
    app: &TestApp,
    content_type: &str,
    action: Option<&str>,
    body: String,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(ASMX))
        .header("Content-Type", content_type)
        .body(body);
    if let Some(a) = action {
        req = req.header("SOAPAction", a);
    }
    req.send().await.unwrap()
}

/// (faultcode, faultstring) of a SOAP 1.1 fault response, after checking status and type.
async fn fault_of(r: reqwest::Response) -> (String, String) {
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.headers()["content-type"], "text/xml; charset=utf-8");
    let text = r.text().await.unwrap();
    let between = |open: &str, close: &str| {
        text.split_once(open)
            .and_then(|(_, rest)| rest.split_once(close))
            .map(|(inner, _)| inner.to_owned())
            .unwrap_or_else(|| panic!("no {open} in {text}"))
    };
    assert!(text.contains("<soap:Fault>"), "{text}");
    (
        between("<faultcode>", "</faultcode>"),
        between("<faultstring>", "</faultstring>"),
    )
}

async fn first_service(app: &TestApp) -> String {
    let list: Value = app.get("/v1/services").await.json().await.unwrap();
    list["services"][0]["id"].as_str().unwrap().to_owned()
}

async fn outbox_bodies(app: &TestApp, to: &str) -> Vec<String> {
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
    msgs.iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

async fn check_natively(app: &TestApp, to: &str, code: &str) -> Value {
    let sid = first_service(app).await;
    let r = app
        .post(
            &format!("/v1/services/{sid}/checks"),
            json!({"to": to, "code": code}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

// ---- REST ---------------------------------------------------------------------------------

#[tokio::test]
async fn rest_sends_the_callers_code_and_it_checks_natively() {
    let app = spawn_app().await;
    let r = rest(
        &app,
        &exigo_user(&app, "default"),
        &app.admin.1,
        json!({"toNumber": TO, "message": "Your Acme code:", "code": "482913"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    assert_eq!(text, r#"{"result":null}"#);
    let seed: Value = serde_json::from_str(SEED_REST_RESPONSE).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), seed);

    assert_eq!(outbox_bodies(&app, TO).await, ["Your Acme code: 482913"]);
    let wrong = check_natively(&app, TO, "000000").await;
    assert_eq!(wrong["valid"], false);
    let right = check_natively(&app, TO, "482913").await;
    assert_eq!(right["valid"], true);
    assert_eq!(right["status"], "approved");
}

#[tokio::test]
async fn rest_accepts_the_seed_body_keys_and_any_case() {
    let app = spawn_app().await;
    // The seed's own body, with real values in its keys.
    let mut seed: Value = serde_json::from_str(SEED_REST_REQUEST).unwrap();
    seed["toNumber"] = json!(TO);
    seed["message"] = json!("Seed:");
    seed["code"] = json!("1111");
    let user = exigo_user(&app, "default");
    let r = rest(&app, &user, &app.admin.1, seed).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(outbox_bodies(&app, TO).await[0], "Seed: 1111");

    let r = rest(
        &app,
        &user,
        &app.admin.1,
        json!({"TONUMBER": "+14155552672", "Code": "7731", "Unknown": 1}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        outbox_bodies(&app, "+14155552672").await,
        ["Backoffice Authentication code: 7731"]
    );
    // Company names are matched without regard to case.
    let r = rest(
        &app,
        &exigo_user(&app, "Default"),
        &app.admin.1,
        json!({"ToNumber": "+14155552673", "message": "", "CODE": "2468"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        outbox_bodies(&app, "+14155552673").await,
        ["Backoffice Authentication code: 2468"]
    );
}

#[tokio::test]
async fn rest_bad_credentials_answer_alike_and_write_nothing() {
    let app = spawn_app().await;
    let other = app.new_key("acme", "verify").await;
    let before = app.row_counts();
    let body = json!({"toNumber": TO, "code": "1234"});
    let cases = [
        (exigo_user(&app, "acme"), app.admin.1.clone()),
        (exigo_user(&app, "default"), "wrong".to_owned()),
        (app.admin.0.clone(), app.admin.1.clone()),
        (format!("{}@default", other.0), other.1.clone()),
        ("SKnosuchkey@default".to_owned(), app.admin.1.clone()),
    ];
    for (user, password) in cases {
        let r = rest(&app, &user, &password, body.clone()).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{user}");
        assert_eq!(
            r.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"message": "Invalid login, password or company."})
        );
    }
    let r = app
        .client
        .post(app.url(REST))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.row_counts(), before);
    // The other tenant's key works with its own company.
    let r = rest(&app, &format!("{}@acme", other.0), &other.1, body).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn rest_bad_input_names_the_property() {
    let app = spawn_app().await;
    let user = exigo_user(&app, "default");
    let before = app.row_counts();
    let cases = [
        (json!({"toNumber": TO}), "code: is required"),
        (json!({"toNumber": TO, "code": ""}), "code: is required"),
        (
            json!({"toNumber": TO, "code": "12"}),
            "code: must be 4 to 20",
        ),
        (
            json!({"toNumber": TO, "code": "12 34"}),
            "code: must contain only",
        ),
        (json!({"code": "1234"}), "toNumber: is required"),
        (
            json!({"toNumber": "4155552671", "code": "1234"}),
            "toNumber: must be a phone number",
        ),
        (
            json!({"toNumber": "+1999", "code": "1234"}),
            "toNumber: must be a phone number",
        ),
        (
            json!({"toNumber": TO, "code": true}),
            "code: must be a string",
        ),
        (
            json!({"code": "1234", "Code": "5678"}),
            "code: is given more than once",
        ),
        (json!([TO, "1234"]), "body: must be a JSON object"),
    ];
    for (body, start) in cases {
        let r = rest(&app, &user, &app.admin.1, body.clone()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let msg = r.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(msg.starts_with(start), "{body}: {msg}");
    }
    let r = app
        .client
        .post(app.url(REST))
        .basic_auth(&user, Some(&app.admin.1))
        .header("Content-Type", "text/plain")
        .body(r#"{"toNumber":"+14155552671","code":"1234"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.row_counts(), before);

    // The whole SMS must fit one segment.
    let long = "x".repeat(160);
    let r = rest(
        &app,
        &user,
        &app.admin.1,
        json!({"toNumber": TO, "message": long, "code": "1234"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let msg = r.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(msg.starts_with("message: "), "{msg}");
    assert!(outbox_bodies(&app, TO).await.is_empty());
}

// ---- SOAP ---------------------------------------------------------------------------------

#[tokio::test]
async fn soap_seed_request_gets_the_seed_response() {
    let app = spawn_app().await;
    let r = soap(
        &app,
        soap_request(&app, "default", TO, "Your Acme code:", "55AB12"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/xml; charset=utf-8");
    let text = r.text().await.unwrap();
    assert_eq!(normalize(&text), normalize(SEED_SOAP_RESPONSE));
    assert_eq!(outbox_bodies(&app, TO).await, ["Your Acme code: 55AB12"]);
    assert_eq!(check_natively(&app, TO, "55ab12").await["valid"], true);
}

#[tokio::test]
async fn soap_default_message_and_no_soapaction_header() {
    let app = spawn_app().await;
    let body = soap_request(&app, "default", TO, "", "7731").replace("<Message></Message>", "");
    let r = soap_with(&app, "text/xml", None, body).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        outbox_bodies(&app, TO).await,
        ["Backoffice Authentication code: 7731"]
    );
}

#[tokio::test]
async fn soap_faults() {
    let app = spawn_app().await;
    let before = app.row_counts();
    let bad_login = "Invalid login, password or company.";
    let cases = [
        (soap_request(&app, "acme", TO, "m", "1234"), bad_login),
        (
            soap_request(&app, "default", TO, "m", "1234").replace(&app.admin.1, "wrong"),
            bad_login,
        ),
        (
            soap_request(&app, "default", TO, "m", "1234")
                .replace(&format!("<LoginName>{}</LoginName>", app.admin.0), ""),
            bad_login,
        ),
        (
            {
                let full = soap_request(&app, "default", TO, "m", "1234");
                let start = full.find("<soap:Header>").unwrap();
                let end = full.find("</soap:Header>").unwrap() + "</soap:Header>".len();
                format!("{}{}", &full[..start], &full[end..])
            },
            bad_login,
        ),
        (
            soap_request(&app, "default", TO, "m", "").replace("<Code></Code>", ""),
            "Code: is required",
        ),
        (
            soap_request(&app, "default", TO, "m", ""),
            "Code: is required",
        ),
        (
            soap_request(&app, "default", "12", "m", "1234"),
            "ToNumber: must be a phone number",
        ),
        (
            soap_request(&app, "default", TO, "m", "1234")
                .replace("SendAuthorizationMFACodeRequest", "GetCustomers"),
            "Server did not recognize the request element 'GetCustomers'",
        ),
    ];
    for (body, start) in cases {
        let (code, text) = fault_of(soap(&app, body.clone()).await).await;
        assert_eq!(code, "soap:Client", "{body}");
        assert!(text.starts_with(start), "{text}");
    }
    assert_eq!(app.row_counts(), before);

    let r = soap_with(
        &app,
        "text/xml",
        Some("\"https://api.exigo.com/GetCustomers\""),
        soap_request(&app, "default", TO, "m", "1234"),
    )
    .await;
    let (code, text) = fault_of(r).await;
    assert_eq!(code, "soap:Client");
    assert!(text.contains("SOAPAction"), "{text}");

    let mu = soap_request(&app, "default", TO, "m", "1234").replace(
        "<soap:Header>",
        "<soap:Header><Trace xmlns=\"urn:t\" soap:mustUnderstand=\"1\"/>",
    );
    assert_eq!(
        fault_of(soap(&app, mu).await).await.0,
        "soap:MustUnderstand"
    );

    let r = soap_with(
        &app,
        "text/plain",
        Some(ACTION),
        soap_request(&app, "default", TO, "m", "1234"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<faultcode>soap:Client</faultcode>")
    );
    assert_eq!(app.row_counts(), before);

    let long = "x".repeat(160);
    let (code, text) =
        fault_of(soap(&app, soap_request(&app, "default", TO, &long, "1234")).await).await;
    assert_eq!(code, "soap:Client");
    assert!(text.starts_with("Message: "), "{text}");
}

#[tokio::test]
async fn soap_xml_attacks_are_client_faults_and_write_nothing() {
    let app = spawn_app().await;
    let before = app.row_counts();
    let envelope = |inner: &str| {
        format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{inner}</soap:Body></soap:Envelope>"
        )
    };
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        envelope(
            "<SendAuthorizationMFACodeRequest xmlns=\"http://api.exigo.com/\"><ToNumber>&xxe;</ToNumber></SendAuthorizationMFACodeRequest>"
        )
    );
    let mut laughs = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        laughs.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        ));
    }
    laughs.push_str("]>");
    laughs.push_str(&envelope("<a>&lol9;</a>"));
    let entity = soap_request(&app, "default", "&xxe;", "m", "1234");
    let deep = envelope(&format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000)));
    let cases = [
        (xxe, "Document Type Declaration"),
        (laughs, "Document Type Declaration"),
        (entity, "entity references"),
        (deep, "nested deeper"),
        ("<soap:Envelope".to_owned(), "not well-formed"),
        ("not xml at all".to_owned(), "not well-formed"),
    ];
    for (body, needle) in cases {
        let started = std::time::Instant::now();
        let (code, text) = fault_of(soap(&app, body).await).await;
        assert_eq!(code, "soap:Client");
        assert!(text.contains(needle), "{text}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
    let (code, _) = fault_of(soap(&app, "<html><body/></html>".into()).await).await;
    assert_eq!(code, "soap:VersionMismatch");
    let big = envelope(&"<a/>".repeat(20_000));
    let r = soap(&app, big).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().await.unwrap().contains("soap:Client"));
    assert_eq!(app.row_counts(), before);
}

#[tokio::test]
async fn soap12_request_and_fault() {
    let app = spawn_app().await;
    let body = soap_request(&app, "default", TO, "v1.2:", "9182").replace(
        "http://schemas.xmlsoap.org/soap/envelope/",
        "http://www.w3.org/2003/05/soap-envelope",
    );
    let ct = "application/soap+xml; charset=utf-8; action=\"https://api.exigo.com/SendAuthorizationMFACode\"";
    let r = soap_with(&app, ct, None, body.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/soap+xml; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    assert!(text.contains("xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\""));
    assert!(text.contains("<SendAuthorizationMFACodeResult xmlns=\"http://api.exigo.com/\" />"));
    assert_eq!(outbox_bodies(&app, TO).await, ["v1.2: 9182"]);

    let r = soap_with(&app, ct, None, body.replace(&app.admin.1, "wrong")).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("<soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code>"),
        "{text}"
    );
    assert!(
        text.contains("<soap:Text xml:lang=\"en\">Invalid login, password or company.</soap:Text>")
    );
    // A SOAP 1.1 envelope sent as SOAP 1.2.
    let r = soap_with(
        &app,
        ct,
        None,
        soap_request(&app, "default", TO, "m", "1234"),
    )
    .await;
    assert!(r.text().await.unwrap().contains("soap:VersionMismatch"));
}

#[tokio::test]
async fn wsdl_is_served_for_both_spellings() {
    let app = spawn_app().await;
    let mut docs = Vec::new();
    for q in ["WSDL", "wsdl"] {
        let r = app
            .client
            .get(app.url(&format!("{ASMX}?{q}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "text/xml; charset=utf-8");
        docs.push(r.text().await.unwrap());
    }
    assert_eq!(docs[0], docs[1]);
    let wsdl = &docs[0];
    for needle in [
        "targetNamespace=\"http://api.exigo.com/\"",
        "soapAction=\"https://api.exigo.com/SendAuthorizationMFACode\"",
        "name=\"SendAuthorizationMFACodeRequest\"",
        "name=\"SendAuthorizationMFACodeResult\"",
        "name=\"ApiAuthentication\"",
        "name=\"ToNumber\"",
        "name=\"Message\"",
        "name=\"Code\"",
        "name=\"LoginName\"",
        "name=\"Password\"",
        "name=\"Company\"",
    ] {
        assert!(wsdl.contains(needle), "{needle}");
    }
    assert!(wsdl.contains(&format!(
        "location=\"http://{}/3.0/ExigoApi.asmx\"",
        app.addr
    )));
    let r = app
        .client
        .get(app.url(&format!("{ASMX}?WSDL")))
        .header("Host", "otp.example.com:8443")
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("location=\"https://otp.example.com:8443/3.0/ExigoApi.asmx\"")
    );
    let r = app.client.get(app.url(ASMX)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("?WSDL"));
}
