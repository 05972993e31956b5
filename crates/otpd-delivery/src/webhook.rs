//! The `webhook` provider: any HTTP API. The body is a template (a TOML table in the config)
//! whose strings may hold `{to}`, `{text}` and `{code_ref}`, sent as JSON or as a form; success
//! is a 2xx answer and, when `success_pointer` is set, that JSON pointer holding
//! `success_value` (or any true-ish value).

use crate::http;
use crate::in_flight::InFlight;
use crate::provider::{OutboundMessage, Provider, ProviderError, Rendered, SendReceipt};
use async_trait::async_trait;
use otpd_core::destination::Channel;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    #[default]
    Json,
    Form,
}

/// `[[providers]]` settings of `kind = "webhook"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    /// Extra headers (e.g. `Authorization`). Values may name env vars as `${VAR}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub format: BodyFormat,
    /// The body template. Default: `{to, text, code_ref}`.
    pub body: Option<Value>,
    pub success_pointer: Option<String>,
    pub success_value: Option<Value>,
    /// JSON pointer to the provider's message id in the answer.
    pub id_pointer: Option<String>,
    /// Channels this endpoint carries; default sms.
    #[serde(default = "default_channels")]
    pub channels: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Most requests open at once to this provider.
    #[serde(default = "crate::in_flight::default_http")]
    pub max_in_flight: usize,
}

fn default_method() -> String {
    "POST".into()
}
fn default_channels() -> Vec<String> {
    vec!["sms".into()]
}
fn default_timeout() -> u64 {
    10
}

pub struct WebhookProvider {
    name: String,
    url: String,
    method: reqwest::Method,
    headers: Vec<(String, String)>,
    format: BodyFormat,
    body: Value,
    success_pointer: Option<String>,
    success_value: Option<Value>,
    id_pointer: Option<String>,
    channels: Vec<Channel>,
    client: reqwest::Client,
    in_flight: InFlight,
}

impl WebhookProvider {
    pub fn new(name: &str, s: &WebhookSettings) -> Result<WebhookProvider, String> {
        if !s.url.starts_with("http://") && !s.url.starts_with("https://") {
            return Err("url must start with http:// or https://".into());
        }
        let method = match s.method.to_ascii_uppercase().as_str() {
            "POST" => reqwest::Method::POST,
            "PUT" => reqwest::Method::PUT,
            "PATCH" => reqwest::Method::PATCH,
            other => return Err(format!("method: {other:?} is not one of POST, PUT, PATCH")),
        };
        let body = s.body.clone().unwrap_or_else(
            || serde_json::json!({"to": "{to}", "text": "{text}", "code_ref": "{code_ref}"}),
        );
        if s.format == BodyFormat::Form
            && !body
                .as_object()
                .is_some_and(|o| o.values().all(|v| !v.is_object() && !v.is_array()))
        {
            return Err("body: a form body must be a flat table".into());
        }
        for p in [&s.success_pointer, &s.id_pointer].into_iter().flatten() {
            if !p.is_empty() && !p.starts_with('/') {
                return Err(format!(
                    "{p:?} is not a JSON pointer (it must start with /)"
                ));
            }
        }
        let mut headers = Vec::new();
        for (k, v) in &s.headers {
            headers.push((
                k.clone(),
                expand_env(v).map_err(|e| format!("headers.{k}: {e}"))?,
            ));
        }
        let channels = s
            .channels
            .iter()
            .map(|c| match c.as_str() {
                "sms" => Ok(Channel::Sms),
                "call" => Ok(Channel::Call),
                "email" => Ok(Channel::Email),
                other => Err(format!("channels: {other:?} is not sms, call or email")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if s.timeout_seconds == 0 {
            return Err("timeout_seconds must be at least 1".into());
        }
        Ok(WebhookProvider {
            name: name.to_owned(),
            url: s.url.clone(),
            method,
            headers,
            format: s.format,
            body,
            success_pointer: s.success_pointer.clone(),
            success_value: s.success_value.clone(),
            id_pointer: s.id_pointer.clone(),
            channels,
            client: http::client(Duration::from_secs(s.timeout_seconds))?,
            in_flight: InFlight::new(s.max_in_flight)?,
        })
    }
}

/// `${VAR}` in a header value is replaced by the variable, so tokens can stay out of the file.
fn expand_env(v: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = v;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or("an unclosed ${")?;
        let var = &after[..end];
        out.push_str(
            &std::env::var(var)
                .map_err(|_| format!("the environment variable {var} is not set"))?,
        );
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Fills `{to}`, `{text}` and `{code_ref}` into every string of the template.
pub fn fill(template: &Value, to: &str, text: &str, code_ref: &str) -> Value {
    match template {
        Value::String(s) => Value::String(
            s.replace("{to}", to)
                .replace("{text}", text)
                .replace("{code_ref}", code_ref),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| fill(v, to, text, code_ref)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), fill(v, to, text, code_ref)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty() && s != "false" && s != "0",
        _ => true,
    }
}

#[async_trait]
impl Provider for WebhookProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, channel: Channel) -> bool {
        self.channels.contains(&channel)
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, ProviderError> {
        let text = match &msg.body {
            Rendered::Text(t) | Rendered::Speech(t) => t.clone(),
            Rendered::Email { .. } => msg.body.plain(),
        };
        let body = fill(&self.body, &msg.to, &text, &msg.idempotency_key);
        let mut req = self
            .client
            .request(self.method.clone(), &self.url)
            .header("Idempotency-Key", &msg.idempotency_key);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        req = match self.format {
            BodyFormat::Json => req.json(&body),
            BodyFormat::Form => {
                let pairs: Vec<(String, String)> = body
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| {
                                let v = match v {
                                    Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                };
                                (k.clone(), v)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                req.form(&pairs)
            }
        };
        let _open = self.in_flight.enter().await;
        let resp = req.send().await.map_err(|e| http::transport_error(&e))?;
        let status = resp.status();
        let answer = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            // The answer may echo the message (and so the code): keep it out of errors.
            return Err(http::status_error(status, ""));
        }
        let json = serde_json::from_str::<Value>(&answer).ok();
        if let Some(ptr) = &self.success_pointer {
            let found = json.as_ref().and_then(|j| j.pointer(ptr));
            let ok = match (&self.success_value, found) {
                (Some(want), Some(got)) => want == got,
                (None, Some(got)) => truthy(got),
                (_, None) => false,
            };
            if !ok {
                return Err(ProviderError::Permanent(format!(
                    "the answer's {ptr} does not say success"
                )));
            }
        }
        let provider_ref = self.id_pointer.as_ref().and_then(|p| {
            json.as_ref().and_then(|j| j.pointer(p)).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        });
        Ok(SendReceipt {
            provider_ref,
            kept: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_every_string() {
        let t =
            serde_json::json!({"a": "{to}", "b": ["x {text}"], "c": {"d": "{code_ref}"}, "n": 3});
        assert_eq!(
            fill(&t, "+1555", "hi", "7-1"),
            serde_json::json!({"a": "+1555", "b": ["x hi"], "c": {"d": "7-1"}, "n": 3})
        );
    }

    #[test]
    fn form_bodies_must_be_flat_and_pointers_valid() {
        let mut s: WebhookSettings = serde_json::from_value(serde_json::json!({
            "url": "http://127.0.0.1:1/x", "format": "form", "body": {"a": {"b": "c"}}
        }))
        .unwrap();
        assert!(WebhookProvider::new("w", &s).is_err());
        s.body = None;
        s.format = BodyFormat::Json;
        s.success_pointer = Some("status".into());
        assert!(WebhookProvider::new("w", &s).is_err());
        s.success_pointer = None;
        s.max_in_flight = 0;
        assert!(WebhookProvider::new("w", &s).is_err());
    }

    /// An HTTP server that holds every request 30 ms and notes how many were open at once.
    async fn counting_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (open, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let seen = most.clone();
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                let (open, most) = (open.clone(), most.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut got = Vec::new();
                    // Headers, then the body its Content-Length announces.
                    while let Ok(n) = sock.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        got.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&got).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let len = text[..end]
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap())
                                })
                                .unwrap_or(0);
                            if got.len() >= end + 4 + len {
                                break;
                            }
                        }
                    }
                    let now = open.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(now, SeqCst);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    open.fetch_sub(1, SeqCst);
                    let _ = sock
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                        )
                        .await;
                });
            }
        });
        (port, seen)
    }

    #[tokio::test]
    async fn no_more_requests_are_open_than_max_in_flight() {
        let (port, most) = counting_server().await;
        let s: WebhookSettings = serde_json::from_value(serde_json::json!({
            "url": format!("http://127.0.0.1:{port}/sms"), "max_in_flight": 2
        }))
        .unwrap();
        let p = std::sync::Arc::new(WebhookProvider::new("w", &s).unwrap());
        let sends = (0..8).map(|i| {
            let p = p.clone();
            tokio::spawn(async move {
                let msg = OutboundMessage {
                    tenant_id: "t".into(),
                    channel: Channel::Sms,
                    to: "+14155552671".into(),
                    body: Rendered::Text("Your code is 123456".into()),
                    sender: None,
                    idempotency_key: format!("{i}-1"),
                    locale: "en".into(),
                };
                p.send(&msg).await
            })
        });
        for send in sends.collect::<Vec<_>>() {
            assert!(send.await.unwrap().is_ok());
        }
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
