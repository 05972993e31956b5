//! BrightOffice ConfirmCustomerUserMFA / RequestCustomerUserMFA over SOAP 1.1 and 1.2: the
//! login flows (`login`) and what guards them (`guards`: enumeration, API users, lockout,
//! faults, WSDL). Shared helpers here.

mod guards;
mod login;

use crate::helpers::TestApp;
use reqwest::StatusCode;
use serde_json::json;

pub(super) const PATH: &str = "/Webservices/BrightOfficeAPI.asmx";
pub(super) const ID: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
pub(super) const EMAIL: &str = "jane.doe@example.com";
pub(super) const PHONE: &str = "+31612345678";
pub(super) const PASSWORD: &str = "correct horse battery";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum V {
    S11,
    S12,
}

pub(super) const BOTH: [V; 2] = [V::S11, V::S12];

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `fields` of CustomerInfo (name, value), the API user, in the version's envelope.
pub(super) fn envelope(
    v: V,
    op: &str,
    customer: &[(&str, &str)],
    user: Option<(&str, &str)>,
) -> String {
    let c: String = customer
        .iter()
        .map(|(k, val)| format!("<{k}>{}</{k}>", esc(val)))
        .collect();
    let u = user
        .map(|(n, p)| {
            format!(
                "<UserInfo><Username>{}</Username><Password>{}</Password></UserInfo>",
                esc(n),
                esc(p)
            )
        })
        .unwrap_or_default();
    let (prefix, ns) = match v {
        V::S11 => ("soap", "http://schemas.xmlsoap.org/soap/envelope/"),
        V::S12 => ("soap12", "http://www.w3.org/2003/05/soap-envelope"),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><{prefix}:Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:{prefix}=\"{ns}\"><{prefix}:Body><{op} xmlns=\"http://tempuri.org/\"><CustomerInfo>{c}</CustomerInfo>{u}</{op}></{prefix}:Body></{prefix}:Envelope>"
    )
}

pub(super) async fn post_raw(
    app: &TestApp,
    v: V,
    op: &str,
    body: String,
) -> (StatusCode, String, String) {
    let mut req = app.client.post(app.url(PATH)).body(body);
    req = match v {
        V::S11 => req
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"http://tempuri.org/{op}\"")),
        V::S12 => req.header(
            "Content-Type",
            format!("application/soap+xml; charset=utf-8; action=\"http://tempuri.org/{op}\""),
        ),
    };
    let r = req.send().await.unwrap();
    let status = r.status();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    (status, ct, r.text().await.unwrap())
}

pub(super) struct Result {
    pub(super) code: String,
    pub(super) message: String,
    pub(super) raw: String,
}

pub(super) fn between<'a>(s: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = s.find(&open).map(|i| i + open.len()).unwrap_or(0);
    let end = s[start..]
        .find(&format!("</{tag}>"))
        .map(|i| start + i)
        .unwrap_or(start);
    &s[start..end]
}

pub(super) async fn call(app: &TestApp, v: V, op: &str, customer: &[(&str, &str)]) -> Result {
    let user = (app.admin.0.as_str(), app.admin.1.as_str());
    call_as(app, v, op, customer, Some(user)).await
}

pub(super) async fn call_as(
    app: &TestApp,
    v: V,
    op: &str,
    customer: &[(&str, &str)],
    user: Option<(&str, &str)>,
) -> Result {
    let (status, ct, raw) = post_raw(app, v, op, envelope(v, op, customer, user)).await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    match v {
        V::S11 => assert!(ct.starts_with("text/xml"), "{ct}"),
        V::S12 => assert!(ct.starts_with("application/soap+xml"), "{ct}"),
    }
    assert!(
        raw.contains(&format!(
            "<{op}Response xmlns=\"http://tempuri.org/\"><{op}Result>"
        )),
        "{raw}"
    );
    Result {
        code: between(&raw, "SuccessCode").to_owned(),
        message: between(&raw, "Message").to_owned(),
        raw,
    }
}

pub(super) async fn customer(app: &TestApp, phone: Option<&str>, password: &str, temporary: bool) {
    let mut body = json!({"id": ID, "email": EMAIL});
    if let Some(p) = phone {
        body["phone"] = json!(p);
    }
    assert_eq!(
        app.post("/v1/persons", body).await.status(),
        StatusCode::CREATED
    );
    let r = app
        .post(
            &format!("/v1/persons/{ID}/password"),
            json!({"password": password, "temporary": temporary}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

pub(super) async fn code_for(app: &TestApp, to: &str) -> String {
    app.deliver().await;
    let msgs: Vec<serde_json::Value> = app
        .client
        .get(app.url("/v1/outbox"))
        .query(&[("to", to)])
        .basic_auth(&app.admin.0, Some(&app.admin.1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = msgs[0]["body"].as_str().unwrap();
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned()
}

pub(super) fn wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}
