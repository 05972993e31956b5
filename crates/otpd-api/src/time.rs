//! Timestamps on the wire: RFC 3339 in UTC, as Twilio and most clients expect.

use chrono::{DateTime, SecondsFormat};
use otpd_core::clock::Timestamp;

pub fn rfc3339(t: Timestamp) -> String {
    DateTime::from_timestamp_millis(t.0)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}
