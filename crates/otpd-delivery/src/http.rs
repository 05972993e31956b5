//! What the HTTP providers share: one client per provider, and how an answer is classified.

use crate::provider::ProviderError;
use std::time::Duration;

/// A client with timeouts, so a hung provider becomes a transient error, not a stuck worker.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("otpd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}

/// Timeouts and refused connections are worth retrying; a malformed request is not.
pub fn transport_error(e: &reqwest::Error) -> ProviderError {
    if e.is_builder() {
        return ProviderError::Permanent(format!("request: {}", without_url(e)));
    }
    ProviderError::Transient(format!("request: {}", without_url(e)))
}

/// 429 and 5xx are the provider's trouble (retry); other 4xx refuse this message for good.
pub fn status_error(status: reqwest::StatusCode, detail: &str) -> ProviderError {
    let detail: String = detail.chars().take(200).collect();
    let msg = format!(
        "HTTP {}{}{detail}",
        status.as_u16(),
        if detail.is_empty() { "" } else { ": " }
    );
    if status.as_u16() == 429 || status.is_server_error() {
        ProviderError::Transient(msg)
    } else {
        ProviderError::Permanent(msg)
    }
}

/// reqwest's messages name the URL, which for some providers carries credentials or a number.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "<url>");
    }
    if let Some(src) = std::error::Error::source(e) {
        s.push_str(&format!(" ({src})"));
    }
    s
}
