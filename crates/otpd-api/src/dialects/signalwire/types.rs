//! The wire types of seed 004 (`MfaRequest`, `MfaResponse`, verify) and their translation to
//! core inputs. Every request field is first read as raw JSON so that each bad field gets its
//! own entry in `errors[]`, as the seed's `ValidationError` promises.

use super::error::FieldError;
use otpd_core::Error;
use otpd_core::code::{Alphabet, Code};
use otpd_core::destination::{Channel, Destination, PhoneE164};
use otpd_core::engine::{PolicyOverrides, StartInput};
use otpd_core::ids::VerificationId;
use otpd_core::render::{self, segments};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `message` when the caller sends none (seed 004).
pub const DEFAULT_MESSAGE: &str = "Your Personal Authorization Code is:";

/// (min, max, default) of the seed's integer fields.
pub const TOKEN_LENGTH: (u64, u64, u64) = (4, 20, 6);
pub const VALID_FOR: (u64, u64, u64) = (1, 604_800, 3600);
pub const MAX_ATTEMPTS: (u64, u64, u64) = (1, 20, 3);

/// `POST /api/relay/rest/mfa/{sms,call}`. Unknown fields are ignored (DESIGN §3); `null` is
/// taken as absent.
#[derive(Debug, Deserialize)]
pub struct MfaRequest {
    to: Option<Value>,
    from: Option<Value>,
    message: Option<Value>,
    token_length: Option<Value>,
    valid_for: Option<Value>,
    max_attempts: Option<Value>,
    allow_alphas: Option<Value>,
}

/// The seed's `MfaResponse`: `id` (uuid), `success`, `to`, `channel`, in that order.
#[derive(Debug, Serialize)]
pub struct MfaResponse {
    pub id: String,
    pub success: bool,
    pub to: String,
    pub channel: &'static str,
}

/// `POST /api/relay/rest/mfa/{id}/verify` `{"token": "..."}`.
#[derive(Debug, Deserialize)]
pub struct VerifyRequest {
    token: Option<Value>,
}

#[derive(Debug, Serialize)]
pub struct VerifyResponse {
    pub success: bool,
}

/// A core validation error as a field error under SignalWire's field name `field`.
fn from_core(field: &str, e: Error) -> FieldError {
    match e {
        Error::Invalid { reason, .. } => FieldError::invalid(field, reason.into_owned()),
        _ => FieldError::invalid(field, "is invalid"),
    }
}

fn integer(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<Value>,
    (min, max, default): (u64, u64, u64),
) -> u64 {
    let out_of_range = || FieldError::invalid(field, format!("must be between {min} and {max}"));
    match value {
        None => default,
        Some(Value::Number(n)) if n.is_f64() => {
            errors.push(FieldError::invalid(field, "must be an integer"));
            default
        }
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if (min..=max).contains(&v) => v,
            // Negative or too large.
            _ => {
                errors.push(out_of_range());
                default
            }
        },
        Some(_) => {
            errors.push(FieldError::invalid(field, "must be an integer"));
            default
        }
    }
}

fn string(errors: &mut Vec<FieldError>, field: &str, value: Option<Value>) -> Option<String> {
    match value {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            errors.push(FieldError::invalid(field, "must be a string"));
            None
        }
    }
}

impl MfaRequest {
    /// The core input for a send on `channel`, or every bad field at once.
    pub fn into_input(self, channel: Channel) -> Result<StartInput, Vec<FieldError>> {
        let mut errors = Vec::new();

        let to = match self.to {
            None => {
                errors.push(FieldError::missing("to"));
                None
            }
            value => string(&mut errors, "to", value).and_then(|s| {
                Destination::parse_for(channel, &s, "to")
                    .map_err(|e| errors.push(from_core("to", e)))
                    .ok()
            }),
        };
        let sender = string(&mut errors, "from", self.from).and_then(|s| {
            PhoneE164::parse(&s, "from")
                .map(|p| p.as_str().to_owned())
                .map_err(|e| errors.push(from_core("from", e)))
                .ok()
        });
        let message = match string(&mut errors, "message", self.message) {
            Some(m) if m.trim().is_empty() => {
                errors.push(FieldError::invalid("message", "must not be empty"));
                None
            }
            Some(m) => Some(m),
            None => Some(DEFAULT_MESSAGE.to_owned()),
        };
        let token_length = integer(&mut errors, "token_length", self.token_length, TOKEN_LENGTH);
        let valid_for = integer(&mut errors, "valid_for", self.valid_for, VALID_FOR);
        let max_attempts = integer(&mut errors, "max_attempts", self.max_attempts, MAX_ATTEMPTS);
        let alphabet = match self.allow_alphas {
            None | Some(Value::Bool(false)) => Alphabet::Digits,
            Some(Value::Bool(true)) => Alphabet::Alphanumeric,
            Some(_) => {
                errors.push(FieldError::invalid("allow_alphas", "must be a boolean"));
                Alphabet::Digits
            }
        };
        // The core refuses a message that does not fit one segment with the code; asking it
        // here too lets this error stand beside the others and keeps a refused request from
        // writing anything (not even the tenant's default service). Every symbol of either
        // alphabet is one GSM-7 septet, so a placeholder of the same length decides alike.
        if let Some(m) = &message {
            let placeholder = "0".repeat(token_length as usize);
            if !segments::fits_one_segment(&render::custom_text(m, &placeholder)) {
                errors.push(FieldError::invalid(
                    "message",
                    "must fit one SMS segment together with the token: 160 GSM-7 characters, \
                     or 70 when it uses other symbols",
                ));
            }
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(StartInput {
            to,
            channel: Some(channel),
            policy: PolicyOverrides {
                code_length: Some(token_length as u32),
                alphabet: Some(alphabet),
                ttl_seconds: Some(valid_for),
                max_attempts: Some(max_attempts as u32),
            },
            message,
            sender,
            ..StartInput::default()
        })
    }
}

impl VerifyRequest {
    pub fn into_code(self) -> Result<Code, Vec<FieldError>> {
        match self.token {
            None => Err(vec![FieldError::missing("token")]),
            Some(Value::String(s)) => {
                Code::candidate(&s, "token").map_err(|e| vec![from_core("token", e)])
            }
            Some(_) => Err(vec![FieldError::invalid("token", "must be a string")]),
        }
    }
}

/// otpd's verification id `VE` + 32 hex digits, written as the uuid SignalWire's `id` is.
pub fn wire_id(id: &VerificationId) -> String {
    let hex = id
        .as_str()
        .get(VerificationId::PREFIX.len()..)
        .unwrap_or("");
    match (
        hex.get(0..8),
        hex.get(8..12),
        hex.get(12..16),
        hex.get(16..20),
        hex.get(20..32),
    ) {
        (Some(a), Some(b), Some(c), Some(d), Some(e)) if hex.len() == 32 => {
            format!("{a}-{b}-{c}-{d}-{e}")
        }
        _ => id.as_str().to_owned(),
    }
}

/// The id in a verify path: the uuid form (any case) or otpd's own `VE…` id.
pub fn parse_wire_id(s: &str) -> Option<VerificationId> {
    let b = s.as_bytes();
    let uuid_shaped = b.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-');
    if uuid_shaped {
        let hex: String = s
            .chars()
            .filter(|c| *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        VerificationId::parse(&format!("{}{hex}", VerificationId::PREFIX)).ok()
    } else {
        VerificationId::parse(s).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::parse_json;

    fn req(json: &str) -> MfaRequest {
        parse_json(json.as_bytes()).unwrap()
    }

    fn fields(r: Result<StartInput, Vec<FieldError>>) -> Vec<String> {
        r.err().unwrap().into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn defaults_follow_the_seed() {
        let input = req(r#"{"to":"+14155552671"}"#)
            .into_input(Channel::Sms)
            .unwrap();
        assert_eq!(input.message.as_deref(), Some(DEFAULT_MESSAGE));
        assert_eq!(input.policy.code_length, Some(6));
        assert_eq!(input.policy.ttl_seconds, Some(3600));
        assert_eq!(input.policy.max_attempts, Some(3));
        assert_eq!(input.policy.alphabet, Some(Alphabet::Digits));
        assert_eq!(input.sender, None);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let r = req(r#"{"from":"x","message":5,"token_length":"6","valid_for":0,
                "max_attempts":2.0,"allow_alphas":"yes"}"#)
        .into_input(Channel::Call);
        assert_eq!(
            fields(r),
            [
                "to",
                "from",
                "message",
                "token_length",
                "valid_for",
                "max_attempts",
                "allow_alphas"
            ]
        );
        let r = req(r#"{"to":"+14155552671","token_length":-1,"valid_for":1e3}"#)
            .into_input(Channel::Sms);
        assert_eq!(fields(r), ["token_length", "valid_for"]);
    }

    #[test]
    fn ids_round_trip_as_uuids() {
        let id = VerificationId::parse("VE0123456789abcdef0123456789abcdef").unwrap();
        let wire = wire_id(&id);
        assert_eq!(wire, "01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(parse_wire_id(&wire), Some(id.clone()));
        assert_eq!(parse_wire_id(&wire.to_uppercase()), Some(id.clone()));
        assert_eq!(parse_wire_id(id.as_str()), Some(id));
        assert_eq!(parse_wire_id("01234567-89ab-cdef-0123-456789abcdeg"), None);
        assert_eq!(parse_wire_id("0123456789ab-cdef-0123-456789abcdef"), None);
        assert_eq!(parse_wire_id("nope"), None);
    }
}
