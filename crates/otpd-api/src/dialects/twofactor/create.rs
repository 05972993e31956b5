//! `CreateTwoFactorSmsOtp`: the request bound to a core start (per-user limit, TTL,
//! service by number, reference code), `IsSync`, and the seed's response.

use super::codes::{Failure, ResponseCode, failure_of};
use super::sync::{SYNC_TIMEOUT, SyncOutcome, await_delivery};
use super::wire::{Fields, Format, Object, Out, body_kind, negotiate};
use super::{
    CREATE_FIELDS, MAX_SOURCE_CHARS, Prologue, outcome_fields, prologue, respond_object,
    wire_number,
};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use otpd_core::Error;
use otpd_core::code::Code;
use otpd_core::destination::{Channel, Destination};
use otpd_core::engine::{PolicyOverrides, StartInput};
use otpd_core::tenant::Principal;
use otpd_core::verification::{Reference, SubjectLimit};

#[derive(Debug, Default)]
struct CreateResponse {
    id: i64,
    otp_id_reference: Option<String>,
    reference_code: Option<String>,
    /// Redacted in `Debug`: only the response body shows it.
    otp_code: Option<Code>,
    remaining_expiration_seconds: i64,
    gsm_number: Option<String>,
    outcome: Option<Failure>,
}

impl CreateResponse {
    fn object(&self) -> Object {
        let mut fields = vec![
            ("Id", Out::Int(self.id)),
            ("OtpIdReference", Out::Str(self.otp_id_reference.clone())),
            ("ReferenceCode", Out::Str(self.reference_code.clone())),
            (
                "OtpCode",
                Out::Str(self.otp_code.as_ref().map(|c| c.expose().to_owned())),
            ),
            (
                "RemainingExpirationSeconds",
                Out::Int(self.remaining_expiration_seconds),
            ),
            ("GsmNumber", Out::Str(self.gsm_number.clone())),
        ];
        fields.extend(outcome_fields(&self.outcome));
        Object {
            name: "CreateTwoFactorSmsOtpResponse",
            fields,
        }
    }

    fn into_response(self, format: Format) -> Response {
        respond_object(format, self.object(), &self.outcome)
    }
}

/// `POST /api/TwoFactor/CreateTwoFactorSmsOtp`.
pub async fn create_two_factor_sms_otp(State(state): State<AppState>, req: Request) -> Response {
    let kind = body_kind(req.headers());
    let format = negotiate(req.headers(), kind);
    let (who, fields) = match prologue(
        &state,
        req,
        format,
        kind,
        "CreateTwoFactorSmsOtpRequest",
        CREATE_FIELDS,
    )
    .await
    {
        Prologue::Ready(who, fields) => (who, fields),
        Prologue::Refused(resp) => return resp,
        Prologue::Invalid(f) => {
            return CreateResponse {
                outcome: Some(f),
                ..CreateResponse::default()
            }
            .into_response(format);
        }
    };
    let mut gsm_number = None;
    let resp = match create(&state, &who, &fields, &mut gsm_number).await {
        Ok(r) => r,
        Err(e) => CreateResponse {
            gsm_number,
            outcome: Some(failure_of(&e)),
            ..CreateResponse::default()
        },
    };
    resp.into_response(format)
}

/// A GUID in any of .NET's `Guid.Parse` forms (`D`, `N`, `B`, `P`), written back in `D` form.
fn parse_guid(s: &str) -> Result<String, Error> {
    let bad = || {
        Error::invalid(
            "UserId",
            "must be a GUID such as 3698b76f-a5c0-4b04-b579-bc084019fb95",
        )
    };
    let t = s.trim();
    let inner = t
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .or_else(|| t.strip_prefix('(').and_then(|r| r.strip_suffix(')')))
        .unwrap_or(t);
    let hex: String = match inner.len() {
        36 => {
            let dashes_ok = inner
                .char_indices()
                .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'));
            if !dashes_ok {
                return Err(bad());
            }
            inner.chars().filter(|c| *c != '-').collect()
        }
        32 if inner.len() == t.len() => inner.to_owned(),
        _ => return Err(bad()),
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    if hex.bytes().all(|b| b == b'0') {
        // Guid.Empty is what .NET binds when the property is missing.
        return Err(Error::invalid("UserId", "is required"));
    }
    let h = hex.to_ascii_lowercase();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// A non-negative integer property; 0 or absent is "not given" (.NET's default for `int`).
fn optional_positive(fields: &Fields, name: &'static str) -> Result<Option<u32>, Error> {
    match fields.int(name)? {
        None | Some(0) => Ok(None),
        Some(n) if n < 0 => Err(Error::invalid(name, "must not be negative")),
        Some(n) => Ok(u32::try_from(n).ok()),
    }
}

async fn create(
    state: &AppState,
    who: &Principal,
    fields: &Fields,
    gsm_out: &mut Option<String>,
) -> Result<CreateResponse, Error> {
    let user_id = fields
        .string("UserId")?
        .ok_or_else(|| Error::invalid("UserId", "is required"))?;
    let user_id = parse_guid(&user_id)?;
    let gsm = fields
        .string("GsmNumber")?
        .ok_or_else(|| Error::invalid("GsmNumber", "is required"))?;
    let to = Destination::parse_for(Channel::Sms, gsm.trim(), "GsmNumber")?;
    *gsm_out = Some(to.as_str().to_owned());
    let configuration = optional_positive(fields, "TwoFactorConfigurationId")?;
    let subject_limit = match (
        optional_positive(fields, "MaxSMSCount")?,
        optional_positive(fields, "MaxSMSInterval")?,
    ) {
        (None, None) => None,
        (Some(count), Some(window)) => Some(SubjectLimit {
            subject: user_id.clone(),
            count,
            window_seconds: u64::from(window),
        }),
        (Some(_), None) => {
            return Err(Error::invalid(
                "MaxSMSInterval",
                "is required when MaxSMSCount is given",
            ));
        }
        (None, Some(_)) => {
            return Err(Error::invalid(
                "MaxSMSCount",
                "is required when MaxSMSInterval is given",
            ));
        }
    };
    let ttl_seconds = optional_positive(fields, "OtpExpirationPeriod")?.map(u64::from);
    let is_sync = fields.bool("IsSync")?.unwrap_or(false);
    let source = fields.string("Source")?;
    if let Some(s) = &source
        && (s.chars().count() > MAX_SOURCE_CHARS || s.chars().any(char::is_control))
    {
        return Err(Error::invalid(
            "Source",
            "must be at most 256 characters without control characters",
        ));
    }

    let engine = &state.engine;
    let service = engine
        .service_by_number(who, configuration.map(i64::from))
        .await?;
    let input = StartInput {
        policy: PolicyOverrides {
            ttl_seconds,
            ..PolicyOverrides::default()
        },
        reference: Reference {
            context_id: Some(user_id),
            source,
            reference_code: None,
        },
        subject_limit,
        issue_reference_code: true,
        ..StartInput::new(to, Channel::Sms)
    };
    let started = engine.start_with_service(who, service, input).await?;
    let v = &started.verification;
    let outcome = if is_sync {
        match await_delivery(engine, who, v, SYNC_TIMEOUT).await? {
            SyncOutcome::Accepted => None,
            SyncOutcome::Refused => Some(Failure::new(
                ResponseCode::SmsSendFailed,
                StatusCode::OK,
                "The SMS could not be sent.",
            )),
            SyncOutcome::TimedOut => Some(Failure::new(
                ResponseCode::SmsSendFailed,
                StatusCode::OK,
                format!(
                    "The SMS provider did not answer within {} s; the SMS stays queued and may still arrive.",
                    SYNC_TIMEOUT.as_secs()
                ),
            )),
        }
    } else {
        None
    };
    let now = engine.now();
    Ok(CreateResponse {
        id: wire_number(&v.id),
        otp_id_reference: Some(v.id.to_string()),
        reference_code: v.reference.reference_code.clone(),
        otp_code: started.revealed_code,
        remaining_expiration_seconds: i64::try_from(now.secs_until(v.expires_at))
            .unwrap_or(i64::MAX),
        gsm_number: Some(v.to.as_str().to_owned()),
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_in_every_dotnet_form() {
        let d = "3698b76f-a5c0-4b04-b579-bc084019fb95";
        for form in [
            d.to_owned(),
            d.to_ascii_uppercase(),
            d.replace('-', ""),
            format!("{{{d}}}"),
            format!("({d})"),
            format!("  {d} "),
        ] {
            assert_eq!(parse_guid(&form).unwrap(), d, "{form}");
        }
        for bad in [
            "",
            "3698b76f-a5c0-4b04-b579-bc084019fb9",
            "3698b76fa5c0-4b04-b579-bc084019fb95-",
            "3698b76g-a5c0-4b04-b579-bc084019fb95",
            "{3698b76fa5c04b04b579bc084019fb95}",
            "{3698b76f-a5c0-4b04-b579-bc084019fb95",
            "00000000-0000-0000-0000-000000000000",
        ] {
            assert!(parse_guid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_xml_response_has_the_seeds_member_order() {
        let xml = CreateResponse::default().object().to_xml();
        let order: Vec<&str> = xml
            .split('<')
            .skip(2)
            .filter(|t| !t.starts_with('/'))
            .map(|t| t.split([' ', '>', '/']).next().unwrap_or(""))
            .collect();
        assert_eq!(
            order,
            [
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
    }
}
